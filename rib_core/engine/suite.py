"""From a suite file to a prepared grid: the one path `rib bench`, `--dry-run` and every launcher job take.

Reads the suite, applies `--weights`, checks every name and option against the installed plugins, and prepares
datasets, models and strategies (no model is loaded).
"""

from __future__ import annotations

from rib_core.errors import UsageError


def load_and_prepare(args):
    """`args`: anything with `config`, `suite`, and optionally `weights` (--weights values) and `dry_run`.
    Returns (suite, registry, prepared)."""
    from rib_core.config import load_suite
    from rib_core.engine.prepare import prepare
    from rib_core.plugins import get_registry
    from rib_core.resolve import resolve_names

    suite = load_suite(args.config, args.suite)
    suite = apply_weights_options(suite, getattr(args, "weights", []))
    registry = get_registry()
    suite = resolve_names(suite, registry)  # the suite is frozen: each step returns the next, nothing mutates it
    return suite, registry, prepare(suite, registry, check_weights=getattr(args, "dry_run", False))


def apply_weights_options(suite, options: list[str]):
    """--weights [MODEL=]FILE: a local weights file for one model, overriding the suite's `weights`. Returns the
    suite with the overrides."""
    from dataclasses import replace

    labels = [m.label for m in suite.models]
    overrides = {}
    for option in options:
        label, sep, path = option.rpartition("=")
        if not sep:
            if len(labels) != 1:
                raise UsageError(f"--weights {option}: suite '{suite.name}' has {len(labels)} models; say which one "
                                 f"with --weights MODEL=FILE (models: {', '.join(labels)}).")
            label = labels[0]
        if label not in labels:
            raise UsageError(f"--weights {option}: suite '{suite.name}' has no model '{label}' "
                             f"(models: {', '.join(labels)}).")
        overrides[label] = path
    if not overrides:
        return suite
    return replace(suite, models=[replace(m, weights=overrides[m.label]) if m.label in overrides else m
                                  for m in suite.models])
