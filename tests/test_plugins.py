"""Plugin discovery: broken plugins are reported, never fatal; names are unique; listing stays light."""

import json
import subprocess
import sys

import pytest

from rib_core.errors import UnknownNameError
from rib_core.api import hookimpl
from rib_core.testing import toy
from tests.helpers import REPO, fake_distribution, internal_imports, run_cli, toy_process_env

GOOD_PLUGIN = '''
from rib_core.api import hookimpl

@hookimpl
def register_strategies(register):
    register("my-strategy", "my_module:MyStrategy", "a strategy from a third party")
'''


def test_builtins_are_listed_with_their_plugin(run_rib, rib_registry):
    result = run_rib("list", "strategies", "--json")
    assert result.exit_code == 0
    rows = {r["name"]: r for r in json.loads(result.stdout)}
    for name in ("ft", "lp", "lp-ft", "l2-sp", "lwf", "wise-ft", "soup", "freeze"):
        assert rows[name]["plugin"] == "rib_core.builtins"


def test_the_list_table_prints_plugin_text_as_written_not_as_markup(run_rib, rib_registry):
    # rich would read "[hub]" in "(rib-core[hub])" as a style tag and drop it from the description.
    result = run_rib("list", "datasets")
    assert result.exit_code == 0
    assert "rib-core[hub]" in result.stdout.replace("\n", "").replace(" ", "").replace("│", "")


def test_plugin_raising_at_import_is_reported_and_others_keep_working(tmp_path):
    site = tmp_path / "site"
    fake_distribution(site, "rib-broken", "rib_broken", "raise RuntimeError('boom at import')")
    fake_distribution(site, "rib-good", "rib_good", GOOD_PLUGIN)
    listing = run_cli("list", "strategies", "--json", pythonpath=[site])
    assert listing.returncode == 0, listing.stderr
    assert "my-strategy" in {r["name"] for r in json.loads(listing.stdout)}
    assert "plugin 'rib-broken' disabled" in listing.stderr
    assert listing.stderr.count("\n") == 1  # one warning line, no traceback

    plugins = run_cli("plugins", "--json", pythonpath=[site])
    info = {p["name"]: p for p in json.loads(plugins.stdout)}
    assert "boom at import" in info["rib-broken"]["status"]
    assert info["rib-good"]["status"] == "ok"
    assert info["rib-good"]["registered"] == {"strategies": ["my-strategy"]}
    assert info["rib_core.builtins"]["status"] == "ok"


def test_strict_mode_makes_a_broken_plugin_fatal(tmp_path):
    site = tmp_path / "site"
    fake_distribution(site, "rib-broken", "rib_broken", "raise RuntimeError('boom')")
    result = run_cli("list", "models", pythonpath=[site], env={"RIB_STRICT_PLUGINS": "1"})
    assert result.returncode == 1
    assert "rib-broken" in result.stderr and "Traceback" not in result.stderr


def test_load_and_disable_plugin_lists(tmp_path):
    site = tmp_path / "site"
    fake_distribution(site, "rib-good", "rib_good", GOOD_PLUGIN)
    for env, present in (({"RIB_LOAD_PLUGINS": ""}, False), ({"RIB_LOAD_PLUGINS": "rib-good"}, True),
                         ({"RIB_DISABLE_PLUGINS": "rib-good"}, False)):
        result = run_cli("list", "strategies", "--json", pythonpath=[site], env=env)
        names = {r["name"] for r in json.loads(result.stdout)}
        assert ("my-strategy" in names) is present, env
        assert "ft" in names  # built-ins are always there


def test_a_name_clash_refuses_only_that_name_and_says_how_to_fix_it(register_plugin, rib_registry, capsys):
    class First:
        @hookimpl
        def register_strategies(self, register):
            register("shared-name", "x:y")

    class Second:
        @hookimpl
        def register_strategies(self, register):
            register("shared-name", "x:z")
            register("second-own", "x:w")

        @hookimpl
        def register_metrics(self, register):
            register("second-metric", "x:m")

    assert register_plugin(First(), "first").error is None
    info = register_plugin(Second(), "second")
    assert info.error is None  # the plugin stays enabled
    assert rib_registry.get("strategies", "shared-name").plugin == "first"
    assert rib_registry.get("strategies", "second-own").plugin == "second"
    assert rib_registry.get("metrics", "second-metric").plugin == "second"
    assert "strategy 'shared-name' is already registered by 'first'" in info.status
    assert "prefix" in info.status and "RIB_DISABLE_PLUGINS=second" in info.status
    assert "plugin 'second': strategy 'shared-name'" in capsys.readouterr().err


def test_a_clash_with_a_built_in_advises_a_prefix_not_an_uninstall(register_plugin):
    class Mine:
        @hookimpl
        def register_strategies(self, register):
            register("ft", "x:y")

    info = register_plugin(Mine(), "rib-mine")
    assert "already registered by 'rib_core.builtins'" in info.status
    assert "'rib-mine/ft'" in info.status and "Uninstall" not in info.status


def test_plugin_with_invalid_hook_is_unregistered(register_plugin, rib_registry):
    class Wrong:
        @hookimpl
        def register_strategies(self, register, extra_argument):
            pass

    info = register_plugin(Wrong(), "wrong")
    assert info.error.startswith("invalid hooks")
    assert rib_registry.pm.get_plugin("wrong") is None


def test_unknown_name_suggests_close_names_and_the_plugin_to_install(rib_registry):
    with pytest.raises(UnknownNameError) as err:
        rib_registry.get("strategies", "wise_ft")
    assert "'wise-ft'" in str(err.value)
    with pytest.raises(UnknownNameError) as err:
        rib_registry.get("models", "openai-clip/zeroshot-ViT-B-16")
    if "rib-openai-clip" not in rib_registry.plugins:
        assert "pip install rib-openai-clip" in str(err.value)


def test_pattern_registration_serves_any_name_with_its_prefix(rib_registry):
    reg = rib_registry.get("models", "timm:vit_base_patch16_224.augreg_in1k")
    assert reg.name == "timm:*"


@pytest.mark.parametrize("args", [["--help"], ["list", "models"], ["plugins"], ["list", "datasets", "--json"]])
def test_light_commands_never_import_torch(args):
    code = ("import sys\nfrom rib_core.cli import main\ntry:\n    rc = main(%r)\nexcept SystemExit as e:\n"
            "    rc = e.code\nheavy = [m for m in ('torch', 'timm', 'open_clip') if m in sys.modules]\n"
            "print('HEAVY', heavy)\nsys.exit(rc)" % (args,))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert "HEAVY []" in result.stdout


def test_import_rib_core_is_light():
    code = "import sys, rib_core, rib_core.plugins, rib_core.config; print([m for m in ('torch','timm','open_clip') if m in sys.modules])"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert result.stdout.strip() == "[]"


def test_without_plugins_list_names_what_to_install_and_with_them_the_names_appear():
    bare = run_cli("list", "models", "--json", env={"RIB_LOAD_PLUGINS": ""})
    rows = {r["name"]: r for r in json.loads(bare.stdout)}
    assert "timm:*" in rows and rows["timm:*"]["installed"]
    assert rows["openai-clip/*"]["installed"] is False and "pip install rib-openai-clip" in rows["openai-clip/*"]["description"]
    strategies = {r["name"] for r in json.loads(run_cli("list", "strategies", "--json",
                                                        env={"RIB_LOAD_PLUGINS": ""}).stdout) if r["installed"]}
    assert strategies == {"ft", "lp", "lp-ft", "l2-sp", "lwf", "wise-ft", "soup", "freeze"}

    installed = {r["name"] for r in json.loads(run_cli("list", "models", "--json").stdout) if r["installed"]}
    if "rib-openai-clip" in json.dumps(json.loads(run_cli("plugins", "--json").stdout)):
        assert "openai-clip/vit-b16-ft-in1k" in installed and "openai-clip/*" not in installed
    all_strategies = {r["name"] for r in json.loads(run_cli("list", "strategies", "--json").stdout) if r["installed"]}
    for plugin, name in (("rib_lora", "lora"), ("rib_ewc", "ewc")):
        if __import__("importlib").util.find_spec(plugin):
            assert name in all_strategies


OLD_STYLE_HOOKS = '''
from rib_core.hookspecs import hookimpl

@hookimpl
def register_backbones(register):
    register("old/model", "rib_old_impl:load", "a model registered with the 0.1 hook name")

@hookimpl
def register_metrics(register):
    register("old-count", "rib_old_impl:CountMetric", "images per evaluation, written against the 0.1 docs")

@hookimpl
def register_sinks(register):
    register("old-format", "rib_old_impl:write", "a one-line report, written against the 0.1 docs")
'''

OLD_STYLE_IMPL = '''
from rib_core.metrics import Metric          # the 0.1 docs' path; 0.2: rib_core.api
from rib_core.errors import RibError         # the 0.1 docs' path; 0.2: rib_core.api


class CountMetric(Metric):
    name = "old-count"  # 0.1 classes restated their name; it must agree with the registration anyway

    def compute(self, results):
        return [{"metric": self.name, "model": e.model, "strategy": e.strategy, "ft_dataset": e.ft_dataset,
                 "eval_dataset": e.eval_dataset, "value": e.n_images} for e in results.evaluations]


def load(name, *, weights, options):
    raise RibError("old/model is only listed, never loaded, in this test")


def write(report, stream):
    stream.write(f"old format: {len(report['accuracies'])} accuracies\\n")
'''


@pytest.mark.slow  # six `rib` processes: what 0.1 plugins are told comes from entry-point discovery
def test_a_plugin_written_for_0_1_loads_runs_and_is_told_each_new_import_and_hook_name(tmp_path):
    data = tmp_path / "data"
    for name in toy.DOMAINS:
        toy.write_domain(data, name)
    env = toy_process_env(tmp_path, data)
    fake_distribution(tmp_path / "site", "rib-old", "rib_old", OLD_STYLE_HOOKS)
    (tmp_path / "site" / "rib_old_impl.py").write_text(OLD_STYLE_IMPL)
    suite = toy.grid_suite(tmp_path / "suite.toml", models=["tiny/a"], strategies=["freeze"], training={"epochs": 1})

    def rib(*args, **extra):
        return subprocess.run([sys.executable, "-m", "rib_core", *args], env=dict(env, **extra), cwd=tmp_path,
                              capture_output=True, text=True, timeout=300)

    assert rib("bench", "-c", str(suite), "--out", str(tmp_path / "out"), "--no-report").returncode == 0
    report = json.loads(rib("report", str(tmp_path / "out"), "--format", "json").stdout)
    counts = [m for m in report["metrics"] if m["metric"] == "old-count"]
    assert len(counts) == 4 + 3 * 4 and all(m["value"] > 0 for m in counts)  # it ran, on every evaluation
    assert rib("report", str(tmp_path / "out"), "--format", "old-format").stdout.startswith("old format: ")
    plugins = {p["name"]: p for p in json.loads(rib("plugins", "--json").stdout)}
    status = plugins["rib-old"]["status"]
    assert "rib_old_impl imports Metric from rib_core.metrics: use 'from rib_core.api import Metric'" in status
    assert "rib_old_impl imports RibError from rib_core.errors: use 'from rib_core.api import RibError'" in status
    assert "register_sinks is deprecated: rename it register_formats" in status
    assert "register_backbones is deprecated: rename it register_models" in status
    models = rib("list", "models", "--json", PYTHONWARNINGS="always::DeprecationWarning")
    assert models.returncode == 0 and "old/model" in {r["name"] for r in json.loads(models.stdout)}
    warned = models.stderr
    assert "use 'from rib_core.api import hookimpl'" in warned and "use 'from rib_core.api import Metric'" in warned
    assert "hook register_backbones is deprecated: rename it register_models" in warned
    assert plugins["rib-toy"]["status"] == "ok"  # the toy plugin (rib_core.testing.toy) imports nothing internal


def test_the_public_api_exports_what_it_lists_and_stays_light():
    code = ("import sys, rib_core.api as api\n"
            "missing = [n for n in api.__all__ if not hasattr(api, n)]\n"
            "print('MISSING', missing)\n"
            "print('HEAVY', [m for m in ('torch', 'timm', 'open_clip') if m in sys.modules])")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert "MISSING []" in result.stdout and "HEAVY []" in result.stdout, result.stdout + result.stderr


def test_shipped_plugins_import_only_the_public_api():
    """A plugin's code imports rib_core.api only; its tests also rib_core.testing (docs/plugins.md)."""
    offenders = []
    for folder in ("plugins", "examples"):
        for path in (REPO / folder).glob("*/rib_*/**/*.py"):
            offenders += internal_imports(path)
        for path in (REPO / folder).glob("*/tests/**/*.py"):
            offenders += internal_imports(path, allowed=("api", "testing"))
    assert offenders == []


def test_the_public_api_check_catches_an_internal_import_in_a_plugins_tests(tmp_path):
    lines = ["from rib_core.api import RibError", "from rib_core.testing import tiny_vit", "import rib_core.testing",
             "from rib_core.plugins import build_registry", "    from rib_core.errors import RibError",
             "import rib_core", "from rib_core import plugins", "from rib_core.apix import y"]
    (tmp_path / "test_mine.py").write_text("\n".join(lines) + "\n")
    found = internal_imports(tmp_path / "test_mine.py", allowed=("api", "testing"), base=tmp_path)
    assert [line.split(": ", 1)[1] for line in found] == [line.strip() for line in lines[3:]]
    assert found[0].startswith("test_mine.py:4: ")
