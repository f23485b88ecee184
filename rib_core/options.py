"""Declared options: what a dataset adapter, model loader or strategy accepts in a suite entry.

The owner of an option declares it once, next to the code that uses it, as `name: Option(type, ...)`; the core
checks every suite entry against those declarations before any work (unknown keys get "did you mean", wrong
types and out-of-range values name the key), so a typo never becomes a silently ignored setting.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass

from rib_core.errors import ConfigError

_TYPE_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "true/false", list: "a list",
               dict: "a table"}


@dataclass(frozen=True)
class Option:
    """One accepted option. `kind` is the TOML type (float accepts integers); `items` the type of a list's
    elements; `minimum`/`maximum` bound numbers inclusively (and every number in a list), `greater_than`/
    `less_than` exclusively; `choices` lists allowed values; `help` says what it means (docs/suites.md)."""

    kind: type | tuple = object
    minimum: float | None = None
    maximum: float | None = None
    greater_than: float | None = None
    less_than: float | None = None
    choices: tuple | None = None
    items: type | None = None
    help: str = ""


def did_you_mean(name: str, known, *, n: int = 1, cutoff: float = 0.5, shown=lambda c: f"'{c}'") -> str:
    """" Did you mean 'x'?" (n = 1) or " Did you mean: 'x', 'y'?" (up to n), or "" when nothing is close.

    The one spelling-suggestion helper of rib: suite keys, names of plugins, suites, strategies' settings, timm models.
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


def _toml(value) -> str:
    """A value as it is written in a suite file (true, "auto", 3)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return f'"{value}"' if isinstance(value, str) else repr(value)


def _is_choice(value, choices) -> bool:
    return any(value == c and type(value) is type(c) for c in choices)  # 1 is not true, "1" is not 1


def _choices_error(where: str, value, choices) -> ConfigError:
    written = [_toml(c) for c in choices]
    expected = written[0] if len(written) == 1 else ", ".join(written[:-1]) + " or " + written[-1]
    hint = did_you_mean(value, [c for c in choices if isinstance(c, str)], shown=_toml) if isinstance(value, str) else ""
    return ConfigError(f"{where}: expected {expected}, got {_toml(value)}.{hint}")


def check_value(where: str, value, option: Option) -> None:
    """Refuse a value of the wrong type, a non-finite number, or one outside the declared range."""
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


def check_options(where: str, owner: str, given: dict, declared: dict[str, Option], generic=()) -> None:
    """Every key of `given` must be declared by `owner`, with a value its declaration accepts. `generic`: the
    keys every entry of this kind takes (already checked), offered as suggestions too."""
    for key, value in given.items():
        if key not in declared:
            known = ", ".join(sorted(declared)) or "none"
            also = f" (besides {', '.join(generic)})" if generic else ""
            raise ConfigError(f"{where}: {owner} does not take the option '{key}'."
                              f"{did_you_mean(key, [*declared, *generic])} Options it takes: {known}{also}.")
        check_value(f"{where}.{key}", value, declared[key])


def from_defaults(defaults: dict) -> dict[str, Option]:
    """Options declared by their defaults (a strategy's `defaults`): the type is the default's type."""
    declared = {}
    for key, default in defaults.items():
        if isinstance(default, bool):
            kind = bool
        elif default is None:
            kind = object
        else:
            kind = type(default)
        declared[key] = Option(kind)
    return declared
