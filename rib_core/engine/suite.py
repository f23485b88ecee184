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
    apply_weights_options(suite, getattr(args, "weights", []))
    registry = get_registry()
    resolve_names(suite, registry)
    return suite, registry, prepare(suite, registry, check_weights=getattr(args, "dry_run", False))


def apply_weights_options(suite, options: list[str]) -> None:
    """--weights [MODEL=]FILE: a local weights file for one model, overriding the suite's `weights`."""
    labels = [m.label for m in suite.models]
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
        next(m for m in suite.models if m.label == label).weights = path
