"""Suite fuzz (issue 14): random keys (real ones, typos of real ones, made-up ones) with random values (within and
outside valid ranges, of the right and the wrong type), anywhere in a suite. Each suite must either be refused
before any work (exit 2, one screen, no traceback, no results directory) or be accepted with exactly the values
it named; never a silently ignored key or value.
"""

from __future__ import annotations

import dataclasses
import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rib_core.config import load_suite
from rib_core.suite import DATASET_KEYS, MODEL_KEYS, STRATEGY_KEYS, SUITE_KEYS
from rib_core.plugins import get_registry
from rib_core.strategies.base import TrainSettings

STRATEGY_PARAMS = {"ft": [], "lwf": ["temperature", "weight"], "l2-sp": ["weight"], "wise-ft": ["alphas"]}
PLACES = {
    "suite": [k for k in SUITE_KEYS if k not in ("models", "datasets", "strategies", "training")],
    "training": [f.name for f in dataclasses.fields(TrainSettings)],
    "dataset": [k for k in DATASET_KEYS if k not in ("name", "path")],  # the toy adapter finds its own folder
    "model": [k for k in MODEL_KEYS if k != "name"],
    "strategy": [k for k in STRATEGY_KEYS if k != "name"],
}

scalars = st.one_of(
    st.integers(-10, 10), st.integers(-10**9, 10**9),
    st.floats(allow_nan=True, allow_infinity=True), st.floats(-2, 2),
    st.booleans(), st.text("abcdefghijklmnopqrstuvwxyz-_./ 0123456789", max_size=10),
    st.sampled_from(["all", "held-out", "sgd", "adamw", "top1", "toy-c", "../../x", "a/b"]),
)
values = st.one_of(scalars, st.lists(scalars, max_size=3), st.lists(st.floats(0, 1), min_size=1, max_size=3))


def typo(key: str, data) -> str:
    i = data.draw(st.integers(0, len(key) - 1))
    kind = data.draw(st.sampled_from(["drop", "double", "swap", "case"]))
    if kind == "drop":
        return key[:i] + key[i + 1:] or key + "x"
    if kind == "double":
        return key[:i] + key[i] + key[i:]
    if kind == "swap" and i + 1 < len(key):
        return key[:i] + key[i + 1] + key[i] + key[i + 2:]
    return key[:i] + key[i].upper() + key[i + 1:]


def toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf") if math.isinf(v) else repr(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return "[" + ", ".join(toml_value(x) for x in v) + "]"


def inline(table: dict) -> str:
    return "{" + ", ".join(f"{k} = {toml_value(v)}" if k.isidentifier() else f'"{k}" = {toml_value(v)}'
                           for k, v in table.items()) + "}"


def suite_text(place: str, key: str, value, strategy: str) -> str:
    model, dataset, strat, top, training = {"name": "tiny/a"}, {"name": "toy-b"}, {"name": strategy}, {}, {}
    target = {"suite": top, "training": training, "dataset": dataset, "model": model, "strategy": strat}[place]
    target[key] = value
    lines = ["[suites.toy]", f"models = [{inline(model)}]", f'datasets = ["toy-a", {inline(dataset)}]',
             f"strategies = [{inline(strat)}]"]
    lines += [f'"{k}" = {toml_value(v)}' for k, v in top.items()]
    lines += ["[suites.toy.training]", "epochs = 1", "batch_size = 8"]
    lines += [f'"{k}" = {toml_value(v)}' for k, v in training.items() if k not in ("epochs", "batch_size")]
    if "epochs" in training or "batch_size" in training:
        lines = [ln for ln in lines if not ln.startswith(("epochs", "batch_size"))]
        lines += [f'"{k}" = {toml_value(v)}' for k, v in training.items() if k in ("epochs", "batch_size")]
    return "\n".join(lines) + "\n"


def same(a, b) -> bool:
    if isinstance(b, list):
        return isinstance(a, (list, tuple)) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b and type(a) is not bool or a is b


def assert_named_values_reached(path, place, key, value, strategy):
    suite = load_suite(path, "toy")
    if place == "suite":
        got = suite.reference.label if key == "reference" else getattr(suite, key)
    elif place == "training":
        got = getattr(suite.training, key)
    elif place == "dataset":
        got = getattr(suite.datasets[1], key) if key in ("label", "adapter", "max_images", "cache") else \
            suite.datasets[1].options[key]
    elif place == "model":
        got = getattr(suite.models[0], key)
    else:
        spec = suite.strategies[0]
        if key in STRATEGY_KEYS:
            got = getattr(spec, key)
        else:
            got = get_registry().load("strategies", strategy)(spec.params).params[key]
            value = [value] if key == "alphas" and not isinstance(value, list) else value
    assert same(got, value), (place, key, value, got)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_every_suite_is_refused_up_front_or_runs_with_what_it_named(small_toy_env, run_rib, data):
    place = data.draw(st.sampled_from(sorted(PLACES)))
    strategy = data.draw(st.sampled_from(sorted(STRATEGY_PARAMS)))
    real = PLACES[place] + (STRATEGY_PARAMS[strategy] if place == "strategy" else [])
    key = data.draw(st.one_of(st.sampled_from(real), st.sampled_from(real).map(lambda k: typo(k, data)),
                              st.text("abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12)))
    value = data.draw(values)
    path = small_toy_env / "suite.toml"
    path.write_text(suite_text(place, key, value, strategy))
    out = small_toy_env / "out"
    result = run_rib("bench", "-c", str(path), "--out", str(out), "--dry-run", "--no-calibrate")
    if result.exit_code == 2:
        assert result.stderr.startswith("rib: error: ") and "Traceback" not in result.stderr, result.stderr
        assert len(result.stderr.splitlines()) <= 12, result.stderr
        assert not out.exists()
        return
    assert result.exit_code == 0, (key, value, result.stderr)
    assert key in real, f"unknown key {key!r} = {value!r} in {place} was accepted"
    assert_named_values_reached(path, place, key, value, strategy)
