"""Conformance checks: call one from your plugin's tests and it fails (AssertionError, saying what is wrong)
where your model loader, adapter, strategy, metric, report format or launcher breaks what rib relies on.

    from rib_core.testing import check_dataset_adapter, check_strategy

    def test_my_adapter_is_what_rib_expects(tmp_path):
        check_dataset_adapter(MyAdapter("mine", make_my_data(tmp_path), {}))

    def test_my_strategy_trains_and_finalizes():
        variants = check_strategy(MyStrategy, {"weight": 0.1})

Each runs the parts of rib that use the plugin (its registration's contract, the option declarations, rib's own
training loop, report building, `rib bench --launcher`), on tiny data, offline, in seconds.
"""

from __future__ import annotations

import copy
import io
import json
import math
import re
import tempfile
from pathlib import Path

from rib_core import contract
from rib_core.options import UNSET, check_value, declared_options

REQUIRED_ROW_KEYS = ("metric", "model", "strategy", "ft_dataset", "eval_dataset", "value")


def _fail(what: str, message: str):
    raise AssertionError(f"{what}: {message}")


def check_declared_options(owner) -> dict:
    """`owner`'s option declarations (its `accepted_options`) are Options whose defaults pass their own checks.
    Returns them."""
    from rib_core.options import Option

    declared = declared_options(owner)
    for key, option in declared.items():
        if not isinstance(option, Option):
            _fail(f"option '{key}'", f"is declared as {option!r}; declare it as rib_core.api.Option(type, ...)")
        if option.default is not UNSET and option.default is not None:
            check_value(f"the default of option '{key}'", option.default, option)
    return declared


def _check_kind(kind: str, target, what: str) -> None:
    try:
        contract.check_target(contract.KINDS[kind], target, what)
    except Exception as exc:
        raise AssertionError(str(exc)) from None


# -- datasets ----------------------------------------------------------------------------------------------
def check_dataset_adapter(adapter, *, images: int = 3) -> list:
    """An adapter instance keeps the dataset contract: a consistent class map, samples sorted by path with
    labels in range, the first `images` samples opened as RGB images and stat'ed (the image cache keys on
    `stat_sample`, which must work for samples that are not files too), a CheckResult from `check()`, an accuracy
    in [0, 100]. Returns the samples."""
    from rib_core.data.base import CheckResult, ClassMap, Sample

    what = f"dataset adapter {type(adapter).__name__}"
    _check_kind("datasets", type(adapter), what)
    check_declared_options(type(adapter))
    class_map = adapter.class_map()
    if not isinstance(class_map, ClassMap):
        _fail(what, f"class_map() returned {class_map!r}, not a rib_core.api.ClassMap")
    if len(class_map.names) != len(class_map.groups) or not class_map.groups:
        _fail(what, f"its ClassMap has {len(class_map.names)} names but {len(class_map.groups)} groups")
    if not all(group and all(isinstance(i, int) and i >= 0 for i in group) for group in class_map.groups):
        _fail(what, "each ClassMap group must list one or more class indices of the model's label space")
    samples = adapter.samples()
    if not samples:
        _fail(what, "samples() returned no sample; check() should say why")
    if not all(isinstance(s, Sample) for s in samples):
        _fail(what, "samples() must return rib_core.api.Sample objects")
    paths = [s.path for s in samples]
    if paths != sorted(paths) or len(set(paths)) != len(paths):
        _fail(what, "samples() must be sorted by path, each path once (results are keyed by the order)")
    for s in samples:
        if s.path.startswith("/") or ".." in s.path.split("/") or "\\" in s.path:
            _fail(what, f"sample path {s.path!r} must be relative to the root, '/'-separated, without '..'")
        if not 0 <= s.label < class_map.num_classes:
            _fail(what, f"sample {s.path!r} has label {s.label}, outside its {class_map.num_classes} classes")
    for s in samples[:images]:
        image = adapter.open_image(s.path)
        if getattr(image, "mode", None) != "RGB":
            _fail(what, f"open_image({s.path!r}) returned {image!r}, not an RGB PIL image")
        stat = adapter.stat_sample(s.path)
        if not isinstance(getattr(stat, "st_size", None), int) or not isinstance(getattr(stat, "st_mtime_ns", None), int):
            _fail(what, f"stat_sample({s.path!r}) must return an os.stat_result (st_size, st_mtime_ns)")
    result = adapter.check(deep=False)
    if not isinstance(result, CheckResult) or result.verdict not in ("ok", "partial", "missing"):
        _fail(what, f"check() returned {result!r}: a CheckResult with verdict 'ok', 'partial' or 'missing'")
    import numpy as np

    accuracy, details = adapter.accuracy(np.ones(len(samples), dtype=bool), [s.group for s in samples])
    if not (isinstance(details, dict) and math.isclose(accuracy, 100.0)):
        _fail(what, f"accuracy() of all-correct images gave {accuracy!r}, {details!r}: expected 100.0 and a dict")
    if not isinstance(adapter.identity(), str):
        _fail(what, "identity() must return a string")
    return samples


# -- models ------------------------------------------------------------------------------------------------
def check_model_loader(load, name: str, *, weights: str | None = None, options: dict | None = None,
                       batch: int = 2):
    """A loader keeps the model contract: called as rib calls it, it returns a Backbone whose model maps a batch
    of normalised images at its input size to (batch, num_classes) logits, whose head_prefixes name parameters,
    with a non-empty identity and label_space left for rib to set. Returns the Backbone."""
    import torch

    from rib_core.models.base import Backbone
    from rib_core.preprocess import Preprocess

    what = f"model loader {getattr(load, '__qualname__', load)!r} for '{name}'"
    _check_kind("models", load, what)
    check_declared_options(load)
    backbone = load(name, weights=weights, options=dict(options or {}))
    if not isinstance(backbone, Backbone):
        _fail(what, f"returned {type(backbone).__name__}, not a rib_core.api.Backbone")
    if not isinstance(backbone.preprocess, Preprocess):
        _fail(what, "Backbone.preprocess must be a rib_core.api.Preprocess")
    if not isinstance(backbone.identity, str) or not backbone.identity:
        _fail(what, "Backbone.identity must be a non-empty string that changes with the weights")
    if backbone.label_space is not None:
        _fail(what, f"Backbone.label_space is {backbone.label_space!r}: leave it unset and declare it with "
                    f"register(..., label_space={backbone.label_space!r})")
    if not any(backbone.is_head(n) for n, _ in backbone.model.named_parameters()):
        _fail(what, f"no parameter name starts with its head_prefixes {backbone.head_prefixes}")
    size = backbone.preprocess.input_size
    backbone.model.eval()
    with torch.no_grad():
        logits = backbone.model(torch.zeros(batch, 3, size, size))
    if tuple(logits.shape) != (batch, backbone.num_classes):
        _fail(what, f"images (B, 3, {size}, {size}) gave logits {tuple(logits.shape)}, not (B, {backbone.num_classes})")
    return backbone


# -- strategies --------------------------------------------------------------------------------------------
def check_strategy(strategy_cls, params: dict | None = None, *, name: str = "under-test", model=None,
                   work_dir=None, seed: int = 0) -> dict:
    """A strategy keeps the contract: its options are declared (an undeclared one is refused), it fine-tunes a
    tiny timm ViT through rib's own training loop (or `model`), and `finalize` returns exactly its
    `variant_labels()`, each a state dict the model loads strictly. Returns {variant: state dict}."""
    import torch

    from rib_core.errors import ConfigError
    from rib_core.testing.training import fine_tune, tiny_vit, train_context

    what = f"strategy {strategy_cls.__name__}"
    _check_kind("strategies", strategy_cls, what)
    check_declared_options(strategy_cls)
    try:
        contract.instantiate(strategy_cls, name, {"no-such-option": 1})
    except ConfigError:
        pass
    else:
        _fail(what, "accepted an undeclared option; declare its options in accepted_options")
    strategy = contract.instantiate(strategy_cls, name, dict(params or {}))
    labels = strategy.variant_labels()
    if not labels or not all(isinstance(v, str) for v in labels) or len(set(labels)) != len(labels):
        _fail(what, f"variant_labels() returned {labels!r}: distinct strings ('' for the plain result)")
    model = model if model is not None else tiny_vit()
    pristine = copy.deepcopy(model)  # setup() may wrap the model; results must load into the original format
    ctx = train_context(model)
    with tempfile.TemporaryDirectory() as tmp:
        variants = fine_tune(ctx, strategy, Path(work_dir) if work_dir is not None else Path(tmp), seed=seed)
    if sorted(variants) != sorted(labels):
        _fail(what, f"finalize() returned variants {sorted(variants)}, but variant_labels() said {sorted(labels)}")
    for variant, state in variants.items():  # each in the backbone's own format: the model loads it strictly
        try:
            pristine.load_state_dict({k: torch.as_tensor(v) for k, v in state.items()}, strict=True)
        except RuntimeError as exc:
            _fail(what, f"variant {variant!r} is not a state dict of the model: {exc}")
    return variants


# -- metrics -----------------------------------------------------------------------------------------------
def check_metric(metric_cls, results=None, *, name: str = "under-test") -> list[dict]:
    """A metric keeps the contract: instantiated without arguments (its `name` set first), `compute(results)`
    returns rows with metric, model, strategy, ft_dataset, eval_dataset and value, `metric` being its name, that
    rib can write as JSON. `results` default: `make_results(reference="ref")`. Returns the rows."""
    from rib_core.report.export import write_json
    from rib_core.testing.results import make_results

    what = f"metric {metric_cls.__name__}"
    _check_kind("metrics", metric_cls, what)
    rows = contract.instantiate(metric_cls, name).compute(results if results is not None else make_results(reference="ref"))
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        _fail(what, f"compute() returned {type(rows).__name__}: a list of dict rows")
    for row in rows:
        missing = [k for k in REQUIRED_ROW_KEYS if k not in row]
        if missing:
            _fail(what, f"row {row!r} lacks {', '.join(missing)}")
        if row["metric"] != name:
            _fail(what, f"row's metric is {row['metric']!r}: use self.name ({name!r})")
    try:
        write_json({"metrics": rows}, io.StringIO())
    except (TypeError, ValueError) as exc:
        _fail(what, f"its rows cannot be written as JSON ({exc}): use floats, ints, strings, lists and dicts")
    return rows


# -- report formats ----------------------------------------------------------------------------------------
def sample_report(results=None) -> dict:
    """The report dict a format receives (what `rib report --format json` writes), built by rib from `results`
    (default: `make_results(reference="ref")`) with the built-in metrics."""
    from rib_core import builtins
    from rib_core.plugins import Registry
    from rib_core.report.build import build_report
    from rib_core.testing.results import make_results

    registry = Registry()  # the built-ins only: the report of rib's own metrics
    registry.add_plugin(builtins, "rib_core.builtins", builtin=True)
    return build_report(results if results is not None else make_results(reference="ref"), registry)


def check_report_format(write, report: dict | None = None) -> str:
    """A format keeps the contract: `write(report, stream)` writes text to a text stream (rib passes
    sys.stdout) from the report dict, and returns nothing. Returns what it wrote."""
    what = f"report format {getattr(write, '__qualname__', write)!r}"
    _check_kind("formats", write, what)
    stream = io.StringIO()
    if write(report if report is not None else sample_report(), stream) is not None:
        _fail(what, "returned a value; it must write to the stream and return None")
    text = stream.getvalue()
    if not text:
        _fail(what, "wrote nothing")
    return text


# -- launchers ---------------------------------------------------------------------------------------------
def check_launcher(name: str, suite, out, *extra_args: str) -> dict:
    """A registered launcher runs a whole suite: `rib bench -c SUITE --out OUT --launcher NAME` (the toy suite of
    the `toy_suite` fixture is seconds long) exits 0 with every cell stored, and a second run reuses them all.
    Returns `rib status --json` of OUT."""
    from rib_core.cli import main
    from rib_core.plugins import get_registry

    launcher_cls = get_registry().load("launchers", name)  # refused here if it is no Launcher
    what = f"launcher '{name}' ({launcher_cls.__name__})"
    for method in ("submit", "finished", "result"):
        if getattr(launcher_cls, method) is getattr(_launcher_base(), method):
            _fail(what, f"does not implement {method}()")

    def rib(*args) -> tuple[int, str, str]:
        from contextlib import redirect_stderr, redirect_stdout

        stdout, stderr = io.StringIO(), io.StringIO()
        with redirect_stdout(stdout), redirect_stderr(stderr):
            code = main([str(a) for a in args])
        return code, stdout.getvalue(), stderr.getvalue()

    bench = ["bench", "-c", suite, "--out", out, "--launcher", name, "--device", "cpu", "--no-report", *extra_args]
    code, _, err = rib(*bench)
    if code != 0:
        _fail(what, f"rib bench exited {code}:\n{err}")
    code, _, err = rib(*bench)
    if code != 0 or not re.search(r"(^|\n)0 cell\(s\) run", err):
        _fail(what, f"a second rib bench ran cells again or failed (exit {code}):\n{err}")
    status = json.loads(rib("status", out, "--json")[1])
    if status["counts"]["done"] == 0 or any(status["counts"][s] for s in ("in progress", "failed", "pending")):
        _fail(what, f"left cells undone: {status['counts']}")
    return status


def _launcher_base():
    from rib_core.engine.launch import Launcher

    return Launcher
