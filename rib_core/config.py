"""Suite files: reading benchmarks.toml into a `Suite` (rib_core/suite.py), once, and writing one back.

A file holds several named suites under [suites.NAME]. Everything is checked up front (syntax, keys, types,
values, then names and options against the installed plugins) so that a typo costs seconds, not a night of GPU
time. `load_suite` applies the command line (`--weights`, `--data-root`) and the installed plugins while it builds
the suite: the value it returns is final, and nothing downstream replaces or edits it. `suite_table` writes a
suite back as the table a suite file would hold; the run manifest stores it, and launcher jobs rebuild the
launched suite from it with `parse_suite`.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Mapping

from rib_core.errors import ConfigError, UnknownNameError, UsageError
from rib_core.options import check_value, did_you_mean
from rib_core.paths import check_file_name, default_data_root
from rib_core.suite import (DATASET_KEYS, ENTRY_KINDS, MODEL_KEYS, STRATEGY_KEYS, SUITE_KEYS, DatasetSpec, FrozenDict,
                            ModelSpec, StrategySpec, Suite)
from rib_core.training import TrainSettings

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

PACKAGED_SUITES = Path(__file__).parent / "suites" / "benchmarks.toml"
DEFAULT_SUITE = "demo"

__all__ = ["DatasetSpec", "ModelSpec", "StrategySpec", "Suite", "load_suite", "load_suites", "parse_suite",
           "read_toml", "suite_table"]


def read_toml(path: Path) -> dict:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"suite file '{path}' does not exist. Pass an existing file with -c.") from None
    except IsADirectoryError:
        raise ConfigError(f"suite file '{path}' is a directory. Pass the suite file itself with -c.") from None
    except OSError as exc:
        raise ConfigError(f"cannot read suite file '{path}': {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise ConfigError(f"{path}:{line}: the file is not UTF-8 (byte 0x{data[exc.start]:02x}); TOML files are "
                          "UTF-8. Save it as UTF-8 (e.g. `iconv -f latin1 -t utf-8`) and run the command again.") from None
    try:
        return tomllib.loads(text)
    except RecursionError:
        raise ConfigError(f"{path}: tables or arrays nested too deeply to be a suite. A suite is a few levels "
                          "deep: [suites.NAME] with lists of names or inline tables.") from None
    except tomllib.TOMLDecodeError as exc:
        # tomllib's message ends with "(at line L, column C)"; lead with the file so editors can jump there.
        msg = str(exc)
        found = re.search(r"at line (\d+), column (\d+)", msg)
        where = f"{path}:{found.group(1)}:{found.group(2)}" if found else str(path)
        raise ConfigError(f"{where}: TOML syntax error: {msg}\nFix the file and run the command again.") from None


def default_suite_file() -> Path:
    """./benchmarks.toml when present, else the suites packaged with rib_core."""
    local = Path("benchmarks.toml")
    return local if local.is_file() else PACKAGED_SUITES


def load_suites(path: Path | None = None) -> tuple[Path, dict[str, dict]]:
    """(the file, its [suites.NAME] tables)."""
    path, suites, _ = _read_suite_file(path)
    return path, suites


def _read_suite_file(path: Path | None) -> tuple[Path, dict[str, dict], str | None]:
    """(the file, its suites, its `default` suite name): the file is read once."""
    path = Path(path) if path is not None else default_suite_file()
    data = read_toml(path)
    unknown = set(data) - {"suites", "default"}
    if unknown:
        key = sorted(unknown)[0]
        raise ConfigError(f"{path}: unknown top-level key '{key}'.{did_you_mean(key, ['suites', 'default'])} "
                          "Suites go in [suites.NAME] tables.")
    suites = data.get("suites")
    if not isinstance(suites, dict) or not suites:
        raise ConfigError(f"{path}: no suites found. Define at least one [suites.NAME] table.")
    return path, suites, data.get("default")


def choose_suite_name(path: Path, suites: dict, requested: str | None, default: str | None = None) -> str:
    if requested is None:
        if default in suites:
            requested = default
        elif DEFAULT_SUITE in suites:
            requested = DEFAULT_SUITE
        elif len(suites) == 1:
            requested = next(iter(suites))
        else:
            raise ConfigError(f"{path} holds several suites ({', '.join(suites)}); choose one with --suite NAME.")
    if requested not in suites:
        hint = did_you_mean(requested, suites, n=3).lstrip()
        hint = hint + "\n" if hint else ""
        raise UnknownNameError(f"unknown suite '{requested}' in {path}.\n{hint}Suites there: {', '.join(suites)}.")
    return requested


def load_suite(path: Path | None, name: str | None, *, weights: tuple[str, ...] | list[str] = (),
               data_root: str | None = None, registry=None) -> Suite:
    """The suite `name` of the file at `path` (default: ./benchmarks.toml, else the packaged suites), built once.

    `weights`: `--weights [MODEL=]FILE` values, overriding a model's `weights`; `data_root`: `--data-root`,
    overriding the suite's `data_root` and $RIB_DATA_ROOT; `registry`: the installed plugins, against which every
    name and option is checked (optional strategies that are not installed are left out, named in `skipped`).
    """
    path, suites, default = _read_suite_file(path)
    name = choose_suite_name(path, suites, name, default)
    return parse_suite(name, suites[name], str(path), weights=weights, data_root=data_root, registry=registry)


def _entry(kind: str, where: str, raw, allowed: dict) -> tuple[str, str, dict]:
    """A list entry is a name string or an inline table with `name` (+ label, + kind-specific keys).

    The keys in `allowed` (those every entry of this kind may carry) are type-checked here; the rest are the
    named adapter's, loader's or strategy's own options, checked against its declarations by rib_core.resolve.
    """
    if isinstance(raw, str):
        return raw, raw, {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a name (string) or a table with 'name', got {raw!r}.")
    if "name" not in raw or not isinstance(raw["name"], str):
        raise ConfigError(f"{where}: a {kind} table needs a 'name' string, got {raw!r}.")
    for key, value in raw.items():
        if key in allowed:
            check_value(f"{where}.{key}", value, allowed[key])
    rest = {k: v for k, v in raw.items() if k not in ("name", "label")}
    label = raw.get("label", raw["name"])
    return raw["name"], label, rest


def parse_suite(name: str, raw: Mapping, source: str, *, weights: tuple[str, ...] | list[str] = (),
                data_root: str | None = None, registry=None) -> Suite:
    """One [suites.NAME] table -> the Suite (see `load_suite` for the keyword arguments). `raw` is not changed."""
    where = f"{source}: suites.{name}"
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: expected a table.")
    check_file_name("suite name", name)  # it becomes runs/<name>.json
    values: dict = {}
    for key, value in raw.items():
        if key not in SUITE_KEYS:
            raise ConfigError(f"{where}: unknown key '{key}'.{did_you_mean(key, SUITE_KEYS)} "
                              f"Known keys: {', '.join(SUITE_KEYS)}.")
        option = SUITE_KEYS[key]
        check_value(f"{where}.{key}", value, option)
        if key in ENTRY_KINDS:
            continue
        if option.kind is float and isinstance(value, int):
            value = float(value)  # TOML writes 1 for a fraction: store the float it means
        values[key] = tuple(value) if isinstance(value, list) else value
    values["training"] = TrainSettings.from_dict(raw.get("training", {}), where=f"{where}.training")
    values["models"] = _with_weights(name, tuple(_model_spec(f"{where}.models[{i}]", entry)
                                                 for i, entry in enumerate(raw.get("models", []))), weights)
    values["datasets"] = tuple(_dataset_spec(f"{where}.datasets[{i}]", entry)
                               for i, entry in enumerate(raw.get("datasets", [])))
    if raw.get("reference") not in ("", None):
        values["reference"] = _dataset_spec(f"{where}.reference", raw["reference"])
    values["strategies"] = tuple(_strategy_spec(f"{where}.strategies[{i}]", entry)
                                 for i, entry in enumerate(raw.get("strategies", [])))
    # Decided here, once: everything downstream reads suite.data_root.
    values["data_root"] = default_data_root(data_root, values.get("data_root"))
    _validate_values(values, where)
    if registry is not None:
        from rib_core.resolve import check_against_plugins

        values["strategies"], values["skipped"] = check_against_plugins(values, registry, where)
    return Suite(name=name, source=source, source_digest=table_digest(raw), **values)


def table_digest(raw: Mapping) -> str:
    """A digest of a suite's table as written (key order and formatting aside)."""
    import hashlib
    import json

    return hashlib.sha256(json.dumps(raw, sort_keys=True, default=str).encode()).hexdigest()[:24]


def source_digest(path: Path, name: str) -> str:
    """The digest of suite `name`'s table in the file at `path` now (launcher jobs: was it edited since?)."""
    _, suites, _ = _read_suite_file(path)
    if name not in suites:
        raise ConfigError(f"{path} no longer holds suite '{name}'.")
    return table_digest(suites[name])


def _model_spec(where: str, entry) -> ModelSpec:
    model, label, rest = _entry("model", where, entry, MODEL_KEYS)
    weights = rest.pop("weights", None)
    return ModelSpec(label=label, name=model, weights=_absolute(weights), options=FrozenDict(rest))


def _absolute(path: str | None) -> str | None:
    """A local file as an absolute path: launcher jobs may run in another directory."""
    return None if path is None else str(Path(path).expanduser().absolute())


def _dataset_spec(where: str, entry) -> DatasetSpec:
    name, label, rest = _entry("dataset", where, entry, DATASET_KEYS)
    adapter = rest.pop("adapter", name)
    path = rest.pop("path", None)
    max_images = rest.pop("max_images", None)
    cache = rest.pop("cache", None)
    check_file_name(f"{where}: dataset label", label)  # it names manifests: rib datasets check --digest DIR
    return DatasetSpec(label=label, adapter=adapter, path=path, max_images=max_images, options=FrozenDict(rest),
                       cache=cache)


def _strategy_spec(where: str, entry) -> StrategySpec:
    strategy, label, rest = _entry("strategy", where, entry, STRATEGY_KEYS)
    optional = rest.pop("optional", False)
    return StrategySpec(label=label, name=strategy, params=FrozenDict(rest), optional=optional)


def _with_weights(suite: str, models: tuple[ModelSpec, ...], options) -> tuple[ModelSpec, ...]:
    """--weights [MODEL=]FILE: a local weights file for one model, overriding the suite's `weights`."""
    from dataclasses import replace

    labels = [m.label for m in models]
    overrides = {}
    for option in options:
        label, sep, path = option.rpartition("=")
        if not sep:
            if len(labels) != 1:
                raise UsageError(f"--weights {option}: suite '{suite}' has {len(labels)} models; say which one "
                                 f"with --weights MODEL=FILE (models: {', '.join(labels)}).")
            label = labels[0]
        if label not in labels:
            raise UsageError(f"--weights {option}: suite '{suite}' has no model '{label}' "
                             f"(models: {', '.join(labels)}).")
        overrides[label] = _absolute(path)
    return tuple(replace(m, weights=overrides[m.label]) if m.label in overrides else m for m in models)


def _validate_values(values: dict, where: str) -> None:
    models, datasets, strategies = values["models"], values["datasets"], values["strategies"]
    reference = values.get("reference")
    if not models:
        raise ConfigError(f"{where}: 'models' is empty. List at least one backbone, e.g. models = [\"timm:vit_base_patch16_224.augreg_in1k\"].")
    if len(datasets) < 2:
        raise ConfigError(f"{where}: 'datasets' lists {len(datasets)} dataset(s); RI needs at least 2 "
                          "(fine-tune on one, evaluate on the others).")
    if not strategies:
        raise ConfigError(f"{where}: 'strategies' is empty. List at least one, e.g. strategies = [\"ft\"].")
    for kind, items in (("model", models), ("dataset", datasets), ("strategy", strategies)):
        labels = [item.label for item in items]
        dupes = sorted({x for x in labels if labels.count(x) > 1})
        if dupes:
            raise ConfigError(f"{where}: {kind} '{dupes[0]}' is listed twice. Give one of them another "
                              f"label: {{name = \"{dupes[0]}\", label = \"...\"}}.")
    if reference is not None and reference.label in {d.label for d in datasets}:
        raise ConfigError(f"{where}: '{reference.label}' is both a downstream dataset and the reference set; "
                          "the reference set must not be in 'datasets'.")
    split = values.get("split", Suite.split)
    if not 0.0 < split < 1.0:
        raise ConfigError(f"{where}.split: the fine-tuning fraction must be between 0 and 1 (exclusive), got {split}.")
    seeds = values.get("seeds")
    if seeds is not None and (not seeds or len(set(seeds)) != len(seeds)):
        raise ConfigError(f"{where}.seeds: expected a list of distinct integers, e.g. seeds = [0, 1, 2]; "
                          f"got {list(seeds)!r}.")


# -- writing a suite back -------------------------------------------------------------------------------------
def suite_table(suite: Suite) -> dict:
    """The suite as the [suites.NAME] table that `parse_suite` turns back into an equal Suite: what the run manifest
    stores (after --weights, --data-root and the installed plugins were applied) and what launcher jobs run."""
    from dataclasses import asdict

    table: dict = {}
    for key in SUITE_KEYS:
        value = getattr(suite, key)
        if key in ENTRY_KINDS or value is None:
            continue
        table[key] = list(value) if isinstance(value, tuple) else value
    table["models"] = [_without_none({"name": m.name, "label": m.label, "weights": m.weights, **m.options})
                       for m in suite.models]
    table["datasets"] = [_dataset_table(d) for d in suite.datasets]
    if suite.reference is not None:
        table["reference"] = _dataset_table(suite.reference)
    table["strategies"] = [{"name": s.name, "label": s.label, **s.params} for s in suite.strategies]
    table["training"] = _without_none(asdict(suite.training))
    return table


def _dataset_table(spec: DatasetSpec) -> dict:
    return _without_none({"name": spec.label, "adapter": spec.adapter, "path": spec.path,
                          "max_images": spec.max_images, "cache": spec.cache, **spec.options})


def _without_none(table: dict) -> dict:
    return {k: v for k, v in table.items() if v is not None}


def toml_value(value) -> str:
    """A Python value as a TOML value (strings, numbers, booleans, paths, lists and inline tables)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a TOML basic string
    if isinstance(value, Path):
        return json.dumps(str(value))
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_key(k)} = {toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {value!r} to a suite file")


def _key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key)


def suite_text(name: str, suite: dict, training: dict) -> str:
    """A suite file holding one suite, `name` (also the default): its top-level keys and its [training]."""
    lines = [f"default = {toml_value(name)}", "", f"[suites.{_key(name)}]"]
    lines += [f"{_key(k)} = {toml_value(v)}" for k, v in suite.items()]
    lines += ["", f"[suites.{_key(name)}.training]"]
    lines += [f"{_key(k)} = {toml_value(v)}" for k, v in training.items()]
    return "\n".join(lines) + "\n"
