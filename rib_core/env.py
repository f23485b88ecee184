"""Numbers rib reads from environment variables, checked where they are read: a bad value is a usage error that
names the variable and what it takes (not a ValueError traceback, nor a value silently ignored)."""

from __future__ import annotations

import math
import os

from rib_core.errors import UsageError


def env_number(name: str, default, *, whole: bool = False, minimum: float | None = None, what: str = ""):
    """The value of the environment variable `name` as a number (`whole`: an integer), or `default` when it is
    unset or empty. `what` says what it sets, for the message."""
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    kind = "a whole number" if whole else "a number"
    bound = f" >= {minimum:g}" if minimum is not None else ""
    try:
        value = int(text) if whole else float(text)
    except ValueError:
        value = None
    if value is None or not math.isfinite(value) or (minimum is not None and value < minimum):
        about = f" ({what})" if what else ""
        raise UsageError(f"the environment variable {name}={text!r} is not {kind}{bound}{about}. Set it to "
                         f"such a number (default {default:g}), or unset it.")
    return value
