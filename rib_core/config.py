"""Suites: reading benchmarks.toml and validating it before anything runs.

A file holds several named suites under [suites.NAME]. Everything is checked up front (syntax, keys, types,
values, then names against the installed plugins) so that a typo costs seconds, not a night of GPU time.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from rib_core.data.locate import default_data_root
from rib_core.errors import ConfigError, UnknownNameError
from rib_core.options import Option, check_value, did_you_mean
from rib_core.paths import check_file_name
from rib_core.suite_keys import DATASET_KEYS, MODEL_KEYS, STRATEGY_KEYS, SUITE_KEYS
from rib_core.training import TrainSettings

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

PACKAGED_SUITES = Path(__file__).parent / "suites" / "benchmarks.toml"
DEFAULT_SUITE = "demo"


@dataclass(frozen=True)
class ModelSpec:
    label: str  # how the report names it
    name: str  # registered backbone name, e.g. "timm:vit_base_patch16_224.augreg_in1k"
    weights: str | None = None
    options: dict = field(default_factory=dict)


@dataclass(frozen=True)
class DatasetSpec:
    label: str  # how the suite and report name it
    adapter: str  # registered dataset name
    path: str | None = None
    max_images: int | None = None
    options: dict = field(default_factory=dict)
    cache: bool | str | None = None  # decoded-image cache: True | False | "auto"; None: the suite's `cache`


@dataclass(frozen=True)
class StrategySpec:
    label: str
    name: str
    params: dict = field(default_factory=dict)
    optional: bool = False


@dataclass(frozen=True)
class Suite:
    name: str
    source: str  # the file it came from
    description: str = ""
    models: list[ModelSpec] = field(default_factory=list)
    datasets: list[DatasetSpec] = field(default_factory=list)
    reference: DatasetSpec | None = None
    strategies: list[StrategySpec] = field(default_factory=list)
    training: TrainSettings = field(default_factory=TrainSettings)  # the [training] table, validated
    seed: int = 0  # the split, image caps and (unless `seeds` is set) training
    seeds: list[int] | None = None  # training seeds: every fine-tune runs once per seed; None: [seed]
    split: float = 0.8
    # "all": every image of D_j (j != i); "held-out": only held-out parts; "held-out-sources": datasets that
    # share source images (ImageNet-C, -Cartoon, -Drawing, val) only on sources held out from every fine-tune
    eval_images: str = "all"
    eval_precision: str = "fp32"  # "fp32" | "bf16" | "fp16": evaluation only; [training] amp is separate
    data_root: str | None = None
    cache: bool | str = "auto"  # per dataset unless it says otherwise; "auto": see rib_core.data.base.use_cache
    allow_partial: bool = False
    allow_overlap: bool = False  # datasets holding the same image files: refused unless the suite says so
    strict_images: bool = False
    eval_batch_size: int = 256
    metrics: list[str] | None = None  # None: every registered metric
    cpu_threads: int | None = None  # torch threads on a CPU device; None: torch's default (one per core)
    skipped: list[str] = field(default_factory=list)  # optional strategies not installed

    @property
    def training_seeds(self) -> list[int]:
        return list(self.seeds) if self.seeds is not None else [self.seed]


def _as_option(declared) -> Option:
    return declared if isinstance(declared, Option) else Option(declared)


def _closest(key: str, known) -> str:
    return did_you_mean(key, known)


def read_toml(path: Path) -> dict:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"suite file '{path}' does not exist. Pass an existing file with -c.") from None
    except OSError as exc:
        raise ConfigError(f"cannot read suite file '{path}': {exc}") from None
    try:
        return tomllib.loads(text)
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
        raise ConfigError(f"{path}: unknown top-level key '{key}'.{_closest(key, ['suites', 'default'])} "
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


def load_suite(path: Path | None, name: str | None) -> Suite:
    path, suites, default = _read_suite_file(path)
    name = choose_suite_name(path, suites, name, default)
    return parse_suite(name, suites[name], str(path))


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
            check_value(f"{where}.{key}", value, _as_option(allowed[key]))
    rest = {k: v for k, v in raw.items() if k not in ("name", "label")}
    label = raw.get("label", raw["name"])
    return raw["name"], label, rest


def parse_suite(name: str, raw: dict, source: str) -> Suite:
    where = f"{source}: suites.{name}"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a table.")
    check_file_name("suite name", name)  # it becomes runs/<name>.json
    for key, value in raw.items():
        if key not in SUITE_KEYS:
            raise ConfigError(f"{where}: unknown key '{key}'.{_closest(key, SUITE_KEYS)} "
                              f"Known keys: {', '.join(SUITE_KEYS)}.")
        option = _as_option(SUITE_KEYS[key])
        check_value(f"{where}.{key}", value, option)
        if option.kind is float and isinstance(value, int):
            raw[key] = float(value)
    values = {key: raw[key] for key in ("description", "seed", "seeds", "split", "eval_images", "eval_precision",
                                        "data_root", "cache", "allow_partial", "allow_overlap", "strict_images",
                                        "eval_batch_size", "metrics", "cpu_threads") if key in raw}
    values["training"] = TrainSettings.from_dict(raw.get("training", {}), where=f"{where}.training")
    values["models"] = []
    for i, entry in enumerate(raw.get("models", [])):
        model, label, rest = _entry("model", f"{where}.models[{i}]", entry, MODEL_KEYS)
        weights = rest.pop("weights", None)
        values["models"].append(ModelSpec(label=label, name=model, weights=weights, options=rest))
    values["datasets"] = [_dataset_spec(f"{where}.datasets[{i}]", entry)
                          for i, entry in enumerate(raw.get("datasets", []))]
    if "reference" in raw and raw["reference"] not in ("", None):
        values["reference"] = _dataset_spec(f"{where}.reference", raw["reference"])
    values["strategies"] = []
    for i, entry in enumerate(raw.get("strategies", [])):
        strategy, label, rest = _entry("strategy", f"{where}.strategies[{i}]", entry, STRATEGY_KEYS)
        optional = rest.pop("optional", False)
        values["strategies"].append(StrategySpec(label=label, name=strategy, params=rest, optional=optional))
    # Resolved here, once: everything downstream reads suite.data_root.
    values["data_root"] = default_data_root(values.get("data_root"))
    suite = Suite(name=name, source=source, **values)
    _validate_values(suite, where)
    return suite


def _dataset_spec(where: str, entry) -> DatasetSpec:
    name, label, rest = _entry("dataset", where, entry, DATASET_KEYS)
    adapter = rest.pop("adapter", name)
    path = rest.pop("path", None)
    max_images = rest.pop("max_images", None)
    cache = rest.pop("cache", None)
    check_file_name(f"{where}: dataset label", label)  # it names manifests: rib datasets check --digest DIR
    if adapter == "imagefolder" and path is not None:
        rest["path"] = path
    return DatasetSpec(label=label, adapter=adapter, path=path, max_images=max_images, options=rest, cache=cache)


def _validate_values(suite: Suite, where: str) -> None:
    if not suite.models:
        raise ConfigError(f"{where}: 'models' is empty. List at least one backbone, e.g. models = [\"timm:vit_base_patch16_224.augreg_in1k\"].")
    if len(suite.datasets) < 2:
        raise ConfigError(f"{where}: 'datasets' lists {len(suite.datasets)} dataset(s); RI needs at least 2 "
                          "(fine-tune on one, evaluate on the others).")
    if not suite.strategies:
        raise ConfigError(f"{where}: 'strategies' is empty. List at least one, e.g. strategies = [\"ft\"].")
    for kind, items in (("model", suite.models), ("dataset", suite.datasets), ("strategy", suite.strategies)):
        labels = [item.label for item in items]
        dupes = sorted({x for x in labels if labels.count(x) > 1})
        if dupes:
            raise ConfigError(f"{where}: {kind} '{dupes[0]}' is listed twice. Give one of them another "
                              f"label: {{name = \"{dupes[0]}\", label = \"...\"}}.")
    if suite.reference is not None and suite.reference.label in {d.label for d in suite.datasets}:
        raise ConfigError(f"{where}: '{suite.reference.label}' is both a downstream dataset and the reference set; "
                          "the reference set must not be in 'datasets'.")
    if not 0.0 < suite.split < 1.0:
        raise ConfigError(f"{where}.split: the fine-tuning fraction must be between 0 and 1 (exclusive), got {suite.split}.")
    if suite.seeds is not None and (not suite.seeds or len(set(suite.seeds)) != len(suite.seeds)):
        raise ConfigError(f"{where}.seeds: expected a list of distinct integers, e.g. seeds = [0, 1, 2]; "
                          f"got {suite.seeds!r}.")
