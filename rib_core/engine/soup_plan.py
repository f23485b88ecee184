"""Where a strategy that combines other strategies' results (the soup) gets its dependencies in the plan.

A soup has no training of its own: its "fine-tune" cell averages stored weights, so it must run after the
fine-tunes of every strategy it names, for the same model and dataset, and its key must change when any of
them changes.
"""

from __future__ import annotations

from rib_core.errors import ConfigError


def split_label(name: str) -> tuple[str, str]:
    """"wise-ft[alpha=0.5]" -> ("wise-ft", "alpha=0.5"); "ft" -> ("ft", "")."""
    if name.endswith("]") and "[" in name:
        label, variant = name[:-1].split("[", 1)
        return label, variant
    return name, ""


def ingredient_deps(strategy, label: str, prepared, add_finetune, ds) -> tuple[list, tuple[str, ...]]:
    """([(name, finetune key, variant)], dependency keys) of a combining strategy on dataset `ds`.

    `add_finetune(prepared_strategy, ds)` adds (or finds) the fine-tune cell of another suite strategy.
    """
    by_label = {ps.label: ps for ps in prepared.strategies}
    used, deps = [], []
    for name in strategy.ingredients():
        base, variant = split_label(name)
        other = by_label.get(base)
        if other is None or other.label == label:
            known = ", ".join(sorted(set(by_label) - {label})) or "none"
            raise ConfigError(f"strategy '{label}': '{name}' is not another strategy of this suite (its strategies: "
                              f"{known}; \"pre\" is the pretrained model). Add it to strategies or fix the name.")
        variants = other.strategy.variant_labels()
        if variant not in variants:
            options = ", ".join(f"'{base}[{v}]'" if v else f"'{base}'" for v in variants)
            raise ConfigError(f"strategy '{label}': '{name}' names no result of '{base}'; use one of {options}.")
        if getattr(other.strategy, "ingredients", None):
            raise ConfigError(f"strategy '{label}': '{name}' is itself a soup; list its ingredients instead.")
        cell = add_finetune(other, ds)
        used.append((name, cell.key, variant))
        deps.append(cell.key)
    return used, tuple(deps)
