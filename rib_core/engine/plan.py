"""From a validated suite to the grid of cells, each with a key that names everything that determines it.

Cells:
- pre-evaluation  Eval(model, D_j) on every image of D_j, once per (model, D_j); every strategy reuses it.
- fine-tune       FineTune(model, strategy, D_i) on D_i's fine-tuning part.
- post-evaluation Eval(fine-tuned variant, D_j) for every D_j (j != i: all images, or held-out with
                  eval_images = "held-out"), D_i's held-out part, and the reference set.
With eval_images = "held-out-sources", datasets made from the same source images (rib_core/data/source_split.py)
are split by source image, one split for all of them: their fine-tuning part is "ft-sources", their held-out part
"held-out-sources", and every post-evaluation of them (and of the reference set) uses only the held-out sources;
EWC's anchor is the reference's "ft-sources" part, disjoint from its evaluated images.
Same key => same result => reused. A changed hyper-parameter changes only the keys it flows into.
"""

from __future__ import annotations

from rib_core.engine.order import order_cells
from rib_core.engine.prepared import RESULTS_VERSION, Cell, Prepared, PreparedDataset, PreparedModel, digest, variant_label
from rib_core.engine.soup_plan import ingredient_deps


def finetune_key(prepared: Prepared, model: PreparedModel, strategy_name: str, strategy, ds: PreparedDataset,
                 init_key: str | None, seed: int) -> str:
    from dataclasses import asdict

    return digest({
        "kind": "finetune", "v": RESULTS_VERSION, "model": model.fingerprint, "strategy": strategy_name,
        "strategy_version": getattr(strategy, "version", 1), "params": strategy.params,
        "settings": asdict(prepared.settings), "dataset": ds.fingerprint,
        "split": [prepared.suite.split, prepared.suite.seed], "seed": seed, "init": init_key,
        # Strategies may use the reference set (EWC's Fisher anchor), so it is part of every fine-tune's key.
        "reference": prepared.reference.fingerprint if prepared.reference is not None else None,
    } | _split_keys(prepared, ds))


def _split_keys(prepared: Prepared, ds: PreparedDataset) -> dict:
    """What eval_images = "held-out-sources" changes in a fine-tune: its images, the anchor's. Only present when
    they differ from the other modes', so those modes' keys stay what they were."""
    extra = {}
    if ds.ft_subset != "ft":
        extra["ft_subset"] = ds.ft_subset
    if prepared.reference is not None and prepared.reference.anchor_subset != "all":
        extra["anchor_subset"] = prepared.reference.anchor_subset
    return extra


def eval_key(source: str, ds: PreparedDataset, subset: str, split: list, precision: str = "fp32") -> str:
    return digest({"kind": "eval", "v": RESULTS_VERSION, "source": source, "dataset": ds.fingerprint,
                   "subset": subset, "split": split if subset != "all" else None, "precision": precision})


def build_plan(prepared: Prepared) -> list[Cell]:
    """Every cell of the suite in a valid execution order (dependencies first), without duplicates."""
    from rib_core.engine.train import count_steps

    suite, settings = prepared.suite, prepared.settings
    split = [suite.split, suite.seed]
    cells: dict[str, Cell] = {}

    def add(cell: Cell) -> Cell:
        if cell.key in cells:
            existing = cells[cell.key]
            existing.reported = existing.reported or cell.reported
            return existing
        cells[cell.key] = cell
        return cell

    eval_sets = prepared.datasets + ([prepared.reference] if prepared.reference else [])
    for model in prepared.models:
        pre_source = digest({"pretrained": model.fingerprint})
        pre_keys = {ds.label: eval_key(pre_source, ds, "all", split, suite.eval_precision) for ds in eval_sets}
        for ds in eval_sets:
            add(Cell("eval", pre_keys[ds.label], model.label, eval_dataset=ds.label, subset="all",
                     work=ds.size("all")))

        def add_finetune(name: str, strategy, label: str, ds: PreparedDataset, reported: bool, seed: int) -> Cell:
            init_key, deps = None, ()
            if getattr(strategy, "ingredients", None):  # a soup: after the fine-tunes it averages
                used, deps = ingredient_deps(strategy, label, prepared, lambda o, d: add_finetune(
                    o.spec.name, o.strategy, o.label, d, reported=True, seed=seed), ds)
                init_key = digest(used)
            elif strategy.init_from:
                first_name, first = strategy.first_stage(prepared.registry)  # lp-ft: its `first` option
                stage = add_finetune(first_name, first, first_name, ds, reported=False, seed=seed)
                init_key, deps = stage.key, (stage.key,)
            # The seed is in the key: adding a seed to `seeds` runs only that seed's cells.
            key = finetune_key(prepared, model, name, strategy, ds, init_key, seed)
            batches = -(-ds.size("ft") // settings.batch_size)
            steps = count_steps(settings, batches) if strategy.trains else 0
            return add(Cell("finetune", key, model.label, strategy=label, ft_dataset=ds.label, deps=deps,
                            work=steps, strategy_name=name, reported=reported, seed=seed))

        for ps, ds_i, seed in ((ps, d, s) for ps in prepared.strategies for d in prepared.datasets
                               for s in suite.training_seeds):
            ft = add_finetune(ps.spec.name, ps.strategy, ps.label, ds_i, reported=True, seed=seed)
            for variant in ps.strategy.variant_labels():
                source = digest({"finetune": ft.key, "variant": variant})
                for ds_j in eval_sets:
                    subset = ds_j.own_subset if ds_j is ds_i else ds_j.eval_subset
                    add(Cell("eval", eval_key(source, ds_j, subset, split, suite.eval_precision), model.label,
                             strategy=variant_label(ps.label, variant), ft_dataset=ds_i.label,
                             eval_dataset=ds_j.label, variant=variant, subset=subset, deps=(ft.key,),
                             work=ds_j.size(subset), strategy_name=ps.spec.name,
                             finetune_key=ft.key, pre_key=pre_keys[ds_j.label], seed=seed))
    return order_cells(list(cells.values()))
