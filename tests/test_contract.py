"""The plugin contract as a plugin author meets it: a misspelled register keyword, a target of the wrong kind, a
model whose results would outlive its weights, a plugin written for 0.1, and a plugin that exits at import each
get a message that names the plugin and the fix, and only that plugin is refused."""

import inspect
import json
import warnings

import pytest

from rib_core.testing import toy
from rib_core import __version__, contract, deprecated
from rib_core.api import ConfigError, DatasetAdapter, Option, Strategy, hookimpl
from rib_core.errors import PluginContractError, PluginError
from rib_core.options import declared_options
from rib_core.plugins import isolated, reset_registry
from tests.helpers import fake_distribution

SUITE = """
[suites.toy]
models = ["{model}"]
datasets = ["toy-a", "toy-b"]
strategies = ["{strategy}"]
eval_batch_size = 16
[suites.toy.training]
epochs = 1
warmup_steps = 1
batch_size = 8
"""


@pytest.fixture
def toy_world(tmp_path, monkeypatch, register_plugin):
    return toy.install(tmp_path, monkeypatch, register_plugin, ("toy-a", "toy-b"), per_class=4)


def bench(run_rib, folder, model="tiny/a", strategy="lp", *extra):
    suite = folder / "suite.toml"
    suite.write_text(SUITE.format(model=model, strategy=strategy))
    return run_rib("bench", "-c", str(suite), "--out", str(folder / "out"), "--device", "cpu", "--workers", "0",
                   "--no-report", *extra)


# -- register --------------------------------------------------------------------------------------------------
class Misspelled:
    @hookimpl
    def register_models(self, register):
        register("typo/ok", "rib_core.testing.toy:load", "registered first, dropped with the rest")
        register("typo/m", "rib_core.testing.toy:load", "a model", lable_space="toy")


def test_a_misspelled_keyword_refuses_that_plugin_naming_the_keyword_and_the_nearest_valid_one(
        register_plugin, rib_registry, run_rib):
    info = register_plugin(Misspelled(), "rib-typo")
    assert info.error.startswith("registration refused: register() of model 'typo/m' got the unknown keyword "
                                 "'lable_space='. Did you mean label_space=?")
    assert "weights_status=, identity=, label_space=, check_name=, architecture=" in info.error
    assert not any(r.plugin == "rib-typo" for r in rib_registry.names("models"))  # none of its names
    plugins = {p["name"]: p for p in json.loads(run_rib("plugins", "--json").stdout)}
    assert plugins["rib-typo"]["status"] == info.error and plugins["rib_core.builtins"]["status"] == "ok"


@pytest.mark.parametrize("call, message", [
    (lambda r: r("x/a", "no-colon"), "the target must be a string 'package.module:attribute'"),
    (lambda r: r("x/b", "m:a", label_space=""), "label_space= must be a non-empty str"),
    (lambda r: r("x/c", "m:a", identity=len), "identity= must be a string 'package.module:attribute' naming "
                                              "identity(name, *, weights, options) -> str"),
    (lambda r: r("x/d", "m:a", arguments="m:f"), "unknown keyword 'arguments='"),  # a launcher's, not a model's
])
def test_registration_values_are_checked_too(register_plugin, call, message):
    class Plugin:
        @hookimpl
        def register_models(self, register):
            call(register)

    assert message in register_plugin(Plugin(), "rib-bad").error


# -- targets ---------------------------------------------------------------------------------------------------
class NotAStrategy:
    def __init__(self, params=None):
        self.params = params


def load_without_options(name, *, weights):
    raise AssertionError("never called")


def write_without_stream(report):
    raise AssertionError("never called")


class WrongKinds:
    @hookimpl
    def register_strategies(self, register):
        register("wrong-kind", "tests.test_contract:NotAStrategy", "a class that is no Strategy")

    @hookimpl
    def register_models(self, register):
        register("wrong/*", "tests.test_contract:load_without_options", "a loader without options",
                 label_space="toy", check_name="tests.test_contract:SUITE")  # a string, not a function

    @hookimpl
    def register_formats(self, register):
        register("wrong-format", "tests.test_contract:write_without_stream", "one argument only")


def test_a_target_of_the_wrong_kind_stops_the_run_before_any_work_naming_plugin_and_target(
        toy_world, register_plugin, run_rib):
    register_plugin(WrongKinds(), "rib-wrong")
    result = bench(run_rib, toy_world, strategy="wrong-kind")
    assert result.exit_code == 2
    assert ("plugin 'rib-wrong' registered strategy 'wrong-kind' as 'tests.test_contract:NotAStrategy', which is "
            "the class tests.test_contract.NotAStrategy, not a subclass of rib_core.api.Strategy") in result.stderr
    assert "Traceback" not in result.stderr and not (toy_world / "out").exists()


def test_functions_are_checked_against_how_rib_calls_them(register_plugin, rib_registry):
    register_plugin(WrongKinds(), "rib-wrong")
    with pytest.raises(PluginContractError, match=r"a function `load\(name, \*, weights, options\) -> Backbone`"):
        rib_registry.load("models", "wrong/x")
    with pytest.raises(PluginContractError, match=r"rib calls check_name= as check_name\(name\) -> None") as err:
        rib_registry.get("models", "wrong/x").load_extra("check_name")
    assert err.value.exit_code == 2
    with pytest.raises(PluginContractError, match=r"called as target\(report, stream\) -> None"):
        rib_registry.load("formats", "wrong-format")


def test_every_api_base_class_is_the_one_the_contract_names():
    import rib_core.api as api

    for kind in contract.KINDS.values():
        if kind.base:
            cls = getattr(api, kind.base_name.rpartition(".")[2])
            assert f"{cls.__module__}.{cls.__qualname__}" == kind.base


def test_the_register_protocols_are_the_contract_declaration():
    for name, kind in contract.KINDS.items():
        parameters = inspect.signature(contract.REGISTER_PROTOCOLS[name].__call__).parameters
        keyword_only = {p.name: p.default for p in parameters.values() if p.kind is p.KEYWORD_ONLY}
        assert keyword_only == {k.name: k.default for k in kind.keywords}, name
        assert [p for p in parameters if p not in keyword_only] == ["self", "name", "target", "description"]
        assert all(k.help for k in kind.keywords)


def test_every_registered_class_learns_its_name_before_init(register_plugin, rib_registry):
    seen = {}

    class Named(Strategy):
        def __init__(self, params=None):
            seen["name"] = self.name
            super().__init__(params)

    instance = contract.instantiate(Named, "mine/strategy", {})
    assert seen["name"] == instance.name == "mine/strategy"
    adapter = rib_registry.get("datasets", "demo-*").create("my label", None, {"adapter": "demo-photo"},
                                                            name="demo-photo")
    assert (adapter.name, adapter.label) == ("demo-photo", "my label")


# -- identity --------------------------------------------------------------------------------------------------
class Identified:
    @hookimpl
    def register_models(self, register):
        register("kept/*", "rib_core.testing.toy:load", "identity from its own file", label_space="toy",
                 identity="tests.test_contract:an_identity")


class Unidentified:
    @hookimpl
    def register_models(self, register):
        register("plain/*", "rib_core.testing.toy:load", "weights it builds itself, no identity=", label_space="toy")


def an_identity(name, *, weights, options):
    return "kept@1"


def test_a_model_keyed_by_name_only_is_noted_in_rib_plugins_and_warned_about_in_the_dry_run(
        toy_world, register_plugin, run_rib):
    register_plugin(Identified(), "rib-kept")
    register_plugin(Unidentified(), "rib-plain")
    plugins = {p["name"]: p for p in json.loads(run_rib("plugins", "--json").stdout)}
    assert plugins["rib-plain"]["warnings"] == [
        "model(s) plain/* register neither identity= nor weights_status=: unless a suite gives weights = FILE, "
        "their results are keyed by name and options only, and are reused after the weights the loader loads "
        "change (docs/plugins.md: identity=)"]
    assert plugins["rib-plain"]["status"] == "ok" and plugins["rib-kept"]["warnings"] == []
    assert "warning:" in run_rib("plugins").stdout  # in the table too, under the plugin's status

    dry = bench(run_rib, toy_world, "plain/a", "lp", "--dry-run", "--no-calibrate")
    assert dry.exit_code == 0, dry.stderr
    assert ("model 'plain/a': results are keyed by its name and options only (plugin 'rib-plain' registers no "
            "identity= and the suite gives no weights = FILE)") in " ".join(dry.stderr.split())
    kept = bench(run_rib, toy_world, "kept/a", "lp", "--dry-run", "--no-calibrate")
    assert kept.exit_code == 0 and "keyed by its name" not in kept.stderr


# -- a plugin written for 0.1 ----------------------------------------------------------------------------------
def load_0_1(name, *, weights, options):
    """A 0.1 loader: it sets the Backbone's label space and identity itself."""
    backbone = toy.load("tiny/a", weights=None, options={})
    backbone.label_space, backbone.identity = "toy", "old@checkpoint-7"
    return backbone


class Written01:
    @hookimpl
    def register_backbones(self, register):  # the 0.1 hook name
        register("old/*", "tests.test_contract:load_0_1", "a 0.1 model: label space and identity on its Backbone")


class Fixed01:
    @hookimpl
    def register_models(self, register):
        register("old/*", "tests.test_contract:load_0_1", "the fix", label_space="toy")


def test_a_0_1_plugin_is_refused_with_the_fix_then_runs_with_its_warnings(toy_world, register_plugin, rib_registry,
                                                                           run_rib):
    with pytest.warns(DeprecationWarning, match="hook register_backbones is deprecated: rename it register_models"):
        info = register_plugin(Written01(), "rib-old")
    assert "hook register_backbones is deprecated: rename it register_models (deprecated since 0.2.0, removed in " \
           "0.3.0)" in info.status
    refused = bench(run_rib, toy_world, model="old/a")
    assert refused.exit_code == 2 and not (toy_world / "out").exists()
    assert ("model 'old/a' predicts the label space 'imagenet-1k', but dataset(s) toy-a, toy-b are labelled in "
            "'toy'") in refused.stderr
    assert ("if its loader sets Backbone.label_space = \"toy\" (rib 0.1 plugins did), declare it in the "
            "registration instead: register(\"old/*\", ..., label_space=\"toy\")") in refused.stderr

    rib_registry.remove_plugin("rib-old")
    register_plugin(Fixed01(), "rib-old-fixed")  # the author applies the fix
    ran = bench(run_rib, toy_world, model="old/a")
    assert ran.exit_code == 0, ran.stderr
    assert "model 'old/a': results are keyed by its name and options only" in " ".join(ran.stderr.split())
    records = [json.loads(p.read_text()) for p in (toy_world / "out").glob("cells/*/record.json")]
    assert records and {r["backbone"] for r in records} == {"old@checkpoint-7"}  # recorded, as in 0.1


def test_0_1_option_declarations_still_work_with_a_warning():
    class OldStrategy(Strategy):
        defaults = {"weight": 1.0, "mode": "a"}
        option_checks = {"weight": Option(float, minimum=0.0)}

    class OldAdapter(DatasetAdapter):
        option_names = ("colour",)

    with pytest.warns(deprecated.RibDeprecationWarning, match=r"Strategy.defaults .* removed in 0.3.0"):
        assert OldStrategy({"mode": "b"}).params == {"weight": 1.0, "mode": "b"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ConfigError, match="weight: must be >= 0.0"):
            OldStrategy({"weight": -1})
    with pytest.warns(deprecated.RibDeprecationWarning, match="DatasetAdapter.option_names"):
        assert list(declared_options(OldAdapter)) == ["colour"]


def test_every_shim_says_the_release_that_removes_it_and_none_outlives_it():
    version = tuple(int(p) for p in __version__.split(".")[:3])
    for shim in deprecated.ALL:
        removed = tuple(int(p) for p in shim.removed_in.split("."))
        assert removed > version, f"{shim.old}: remove this shim (rib_core/deprecated.py), it was due in {removed}"
        assert f"removed in {shim.removed_in}" in shim.message()


# -- plugins that exit at import -------------------------------------------------------------------------------
GOOD = '''
from rib_core.api import hookimpl

@hookimpl
def register_metrics(register):
    register("good-count", "rib_good:Count", "still here")
'''


@pytest.fixture
def site(tmp_path, monkeypatch):
    """Installed fake distributions: one calls sys.exit() at import, one parses the command line with argparse,
    one exits in its hook, one prints at import, one is fine. Discovered like any installed plugin."""
    folder = tmp_path / "site"
    fake_distribution(folder, "rib-exits", "rib_exits", "import sys\nsys.exit(3)\n")
    fake_distribution(folder, "rib-argparse", "rib_argparse",
                      "import argparse\nargparse.ArgumentParser(prog='rib-argparse').parse_args(['--no-such'])\n")
    fake_distribution(folder, "rib-hook-exits", "rib_hook_exits", "from rib_core.api import hookimpl\n\n@hookimpl\n"
                      "def register_metrics(register):\n    raise SystemExit('bye')\n")
    fake_distribution(folder, "rib-chatty", "rib_chatty", "print('hello from rib-chatty')\n")
    fake_distribution(folder, "rib-good", "rib_good", GOOD)
    monkeypatch.syspath_prepend(str(folder))
    reset_registry()
    yield folder
    reset_registry()


def test_a_plugin_exiting_at_import_or_in_a_hook_is_reported_and_everything_else_works(site, run_rib, toy_suite,
                                                                                       tmp_path):
    listing = run_rib("plugins", "--json")
    assert listing.exit_code == 0
    status = {p["name"]: p["status"] for p in json.loads(listing.stdout)}  # stdout stays JSON: the print went to stderr
    assert status["rib-exits"].startswith("import failed: SystemExit(3): it exited while rib loaded it")
    assert status["rib-argparse"].startswith("import failed: SystemExit(2)")
    assert status["rib-hook-exits"].startswith("registration failed: SystemExit('bye')")
    assert status["rib-good"] == status["rib-chatty"] == "ok"
    assert "plugin 'rib-exits' disabled" in listing.stderr and "hello from rib-chatty" in listing.stderr

    assert "good-count" in run_rib("list", "metrics").stdout
    reset_registry()  # a fresh process: rib bench discovers the plugins again, and says which it disabled
    run = run_rib("bench", "-c", str(toy_suite()), "--out", str(tmp_path / "out"), "--no-report")
    assert run.exit_code == 0, run.stderr
    assert "11 cell(s) run" in run.stderr
    assert "plugin 'rib-exits' disabled: import failed: SystemExit(3)" in run.stderr


def test_only_an_interrupt_escapes_plugin_isolation():
    assert isolated(SystemExit(2)) and isolated(ValueError()) and isolated(PluginError("x"))
    assert not isolated(KeyboardInterrupt()) and not isolated(GeneratorExit())


# -- rib list KIND NAME ----------------------------------------------------------------------------------------
def test_rib_list_kind_name_shows_the_declared_options(run_rib, rib_registry):
    result = run_rib("list", "strategies", "wise-ft")
    assert result.exit_code == 0
    assert "alphas" in result.stdout and "[0.5]" in result.stdout and "one variant each" in result.stdout
    info = json.loads(run_rib("list", "datasets", "imagefolder", "--json").stdout)
    assert {o["name"]: o["default"] for o in info["options"]} == {"labels": "wnid", "classes": "all"}
    assert info["entry_keys"][:2] == ["name", "label"]
    assert "options: none" in run_rib("list", "metrics", "mri").stdout
    unknown = run_rib("list", "strategies", "wise_ft")
    assert unknown.exit_code == 2 and "'wise-ft'" in unknown.stderr
