"""Declared options: what a model loader, dataset adapter or strategy accepts in a suite entry.

The owner of an option declares it once, next to the code that uses it, as `name: Option(type, default=...,
help=..., check=...)` in its `accepted_options` (a loader function: `load.accepted_options`). The core checks
every suite entry against those declarations before any work (unknown keys get "did you mean", wrong types and
out-of-range values name the key), so a typo never becomes a silently ignored setting; `option_values` is the
same check for code that is called directly, and fills in the defaults. `rib list KIND NAME` and the docs show
the declarations.
"""

from __future__ import annotations

import copy
import difflib
import math
from dataclasses import dataclass
from typing import Callable

from rib_core.errors import ConfigError

_TYPE_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "true/false", list: "a list",
               dict: "a table"}


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET = _Unset()  # an option without a default: absent unless the suite sets it


@dataclass(frozen=True)
class Option:
    """One accepted option. `kind` is the TOML type (float accepts integers); `default` its value when the suite
    does not set it (UNSET: none); `help` what it means (`rib list`, docs/suites.md); `check(value)` an extra
    test that returns the value to use (e.g. normalised) or raises ValueError with what is wrong ("must ..."),
    run after the declared type and range. `items` is the type of a list's elements; `minimum`/`maximum` bound
    numbers inclusively (and every number in a list), `greater_than`/`less_than` exclusively; `choices` lists
    allowed values (of a list's elements too)."""

    kind: type | tuple = object
    minimum: float | None = None
    maximum: float | None = None
    greater_than: float | None = None
    less_than: float | None = None
    choices: tuple | None = None
    items: type | None = None
    help: str = ""
    default: object = UNSET
    check: Callable | None = None


def did_you_mean(name: str, known, *, n: int = 1, cutoff: float = 0.5, shown=lambda c: f"'{c}'") -> str:
    """" Did you mean 'x'?" (n = 1) or " Did you mean: 'x', 'y'?" (up to n), or "" when nothing is close.

    The one spelling-suggestion helper of rib: suite keys, names of plugins, suites, strategies' settings, timm models,
    registration keywords.
    """
    close = difflib.get_close_matches(name, list(known), n=n, cutoff=cutoff)
    if not close:
        return ""
    if n == 1:
        return f" Did you mean {shown(close[0])}?"
    return " Did you mean: " + ", ".join(shown(c) for c in close) + "?"


def type_name(kind) -> str:
    if isinstance(kind, tuple):
        return " or ".join(type_name(k) for k in kind)
    return _TYPE_NAMES.get(kind, getattr(kind, "__name__", str(kind)))


def _is(value, kind) -> bool:
    if kind is object:
        return True
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, bool):
        return bool in kinds
    if float in kinds and isinstance(value, int):
        return True
    return isinstance(value, kinds)


def toml_text(value) -> str:
    """A value as it is written in a suite file (true, "auto", 3, ["a", 1])."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_text(v) for v in value) + "]"
    return f'"{value}"' if isinstance(value, str) else repr(value)


def kind_text(option: Option, shown=None) -> str:
    """What values an option takes, in words: "integer (>= 1)", "list of strings or string (one of ...)";
    `shown(value)` writes each choice (default: as in a suite file)."""
    def bare(name: str) -> str:  # "an integer" -> "integer": table cells name types without articles
        return name.split(" ", 1)[1] if name.split(" ", 1)[0] in ("a", "an") else name

    kinds = option.kind if isinstance(option.kind, tuple) else (option.kind,)
    kind = " or ".join(f"list of {bare(type_name(option.items))}s" if k is list and option.items is not None
                       else bare(type_name(k)) for k in kinds)
    bounds = [f"{symbol} {bound}" for symbol, bound in ((">=", option.minimum), ("<=", option.maximum),
                                                         (">", option.greater_than), ("<", option.less_than))
              if bound is not None]
    if option.choices is not None:
        bounds.append("one of " + ", ".join((shown or toml_text)(c) for c in option.choices))
    return kind + (f" ({'; '.join(bounds)})" if bounds else "")


def _is_choice(value, choices) -> bool:
    return any(value == c and type(value) is type(c) for c in choices)  # 1 is not true, "1" is not 1


def _choices_error(where: str, value, choices) -> ConfigError:
    written = [toml_text(c) for c in choices]
    expected = written[0] if len(written) == 1 else ", ".join(written[:-1]) + " or " + written[-1]
    hint = did_you_mean(value, [c for c in choices if isinstance(c, str)], shown=toml_text) if isinstance(value, str) else ""
    return ConfigError(f"{where}: expected {expected}, got {toml_text(value)}.{hint}")


def check_value(where: str, value, option: Option):
    """Refuse a value of the wrong type, a non-finite number, or one outside the declared range; then run the
    option's own `check`. Returns the value to use (what `check` returned, else `value`)."""
    if option.choices is not None and not isinstance(value, list) and not _is_choice(value, option.choices):
        raise _choices_error(where, value, option.choices)
    if not _is(value, option.kind):
        raise ConfigError(f"{where}: expected {type_name(option.kind)}, got {value!r}.")
    values = value if isinstance(value, list) else [value]
    if isinstance(value, list) and option.items is not None:
        for v in value:
            if not _is(v, option.items):
                raise ConfigError(f"{where}: expected a list of {type_name(option.items).split(' ', 1)[-1]}s, "
                                  f"got {value!r}.")
    for v in values:
        if isinstance(v, float) and not math.isfinite(v):
            raise ConfigError(f"{where}: must be a finite number, got {v!r}.")
        number = isinstance(v, (int, float)) and not isinstance(v, bool)
        if number and option.minimum is not None and v < option.minimum:
            raise ConfigError(f"{where}: must be >= {option.minimum}, got {v!r}.")
        if number and option.maximum is not None and v > option.maximum:
            raise ConfigError(f"{where}: must be <= {option.maximum}, got {v!r}.")
        if number and option.greater_than is not None and not v > option.greater_than:
            raise ConfigError(f"{where}: must be > {option.greater_than}, got {v!r}.")
        if number and option.less_than is not None and not v < option.less_than:
            raise ConfigError(f"{where}: must be below {option.less_than}, got {v!r}.")
        if option.choices is not None and not _is_choice(v, option.choices):
            raise _choices_error(where, v, option.choices)
    if option.check is None:
        return value
    try:
        return option.check(value)
    except ValueError as exc:  # the check says what is wrong; the key and the value are said here
        raise ConfigError(f"{where}: {exc}, got {toml_text(value)}.") from None


def check_options(where: str, owner: str, given: dict, declared: dict[str, Option], generic=()) -> dict:
    """Every key of `given` must be declared by `owner`, with a value its declaration accepts. `generic`: the
    keys every entry of this kind takes (already checked), offered as suggestions too. Returns the given values
    as their checks normalised them."""
    checked = {}
    for key, value in given.items():
        if key not in declared:
            known = ", ".join(sorted(declared)) or "none"
            also = f" (besides {', '.join(generic)})" if generic else ""
            raise ConfigError(f"{where}: {owner} does not take the option '{key}'."
                              f"{did_you_mean(key, [*declared, *generic])} Options it accepts: {known}{also}.")
        checked[key] = check_value(f"{where}.{key}", value, declared[key])
    return checked


def option_values(declared: dict[str, Option], given: dict | None, where: str = "these options") -> dict:
    """The values an owner works with: every declared default, overridden by the `given` values after checking
    them (an undeclared key, a wrong type or range is a ConfigError naming `where` and the key). What a strategy
    gets as `self.params` and an adapter as `self.params`; a loader called directly can call it on `options`."""
    values = {key: copy.deepcopy(option.default) for key, option in declared.items() if option.default is not UNSET}
    return values | check_options(where, "it", dict(given or {}), declared)


def declared_options(owner) -> dict[str, Option]:
    """What `owner` (an adapter or strategy class, or a loader function) declares it accepts: its
    `accepted_options`, or what a rib 0.1 owner declared the old way (rib_core/deprecated.py). {} when none."""
    declared = getattr(owner, "accepted_options", None)
    if declared:
        return dict(declared)
    return _declared_the_0_1_way(owner) or {}


def _declared_the_0_1_way(owner) -> dict | None:
    """The options of an adapter that lists `option_names` (any value) or of a strategy declared by `defaults`
    (each option's type is its default's) plus `option_checks`, as `accepted_options` would declare them, with the
    deprecation warning of rib_core/deprecated.py; None when `owner` declares neither."""
    from dataclasses import replace

    from rib_core.deprecated import ADAPTER_OPTION_NAMES, STRATEGY_DEFAULTS

    names = getattr(owner, "option_names", ())
    defaults = getattr(owner, "defaults", None)
    if not names and not defaults:
        return None
    (ADAPTER_OPTION_NAMES if names else STRATEGY_DEFAULTS).warn(stacklevel=4)
    declared = {name: Option() for name in names}
    for key, default in (defaults or {}).items():
        kind = bool if isinstance(default, bool) else object if default is None else type(default)
        declared[key] = Option(kind, default=default)
    for key, option in (getattr(owner, "option_checks", None) or {}).items():
        default = declared[key].default if key in declared else UNSET
        declared[key] = replace(option, default=default)
    return declared
