"""The built-in metrics: top-1 accuracy, RI, mRI, reference-set forgetting and in-distribution gain."""

from __future__ import annotations

from rib_core.metrics.base import Metric
from rib_core.metrics.replicates import seed_table
from rib_core.metrics.robustness import PreCache, robustness_table, _weighted_acc


def row(metric, model, strategy, ft_dataset, eval_dataset, value, **extra) -> dict:
    return {"metric": metric, "model": model, "strategy": strategy, "ft_dataset": ft_dataset,
            "eval_dataset": eval_dataset, "value": value, **extra}


class Top1(Metric):
    def compute(self, results):
        return [row("top1", e.model, e.strategy, e.ft_dataset, e.eval_dataset, e.accuracy, n_images=e.n_images,
                    subset=e.subset, seed=e.seed) for e in results.evaluations]


def _robustness(results) -> list:
    """RI/mRI rows' source. One training seed: the bounded-memory table over every (model, strategy) at once
    (each pre-evaluation read once, one cluster bootstrap per dataset). Several seeds: the image bootstrap plus a
    Student-t seed component (rib_core/metrics/replicates.py), on the same image resamples."""
    seeds = {e.seed for e in results.evaluations if e.strategy is not None}
    if len(seeds) > 1:
        return seed_table(results)
    tables = robustness_table(results)
    for r in tables:  # the same fields as seed_table's rows
        r.seeds, r.ri_sd, r.mri_sd = sorted(seeds, key=lambda s: (s is None, s)), {i: None for i in r.datasets}, None
    return tables


class RobustnessImprovement(Metric):
    def compute(self, results):
        return [row("ri", r.model, r.strategy, i, None, r.ri[i], ci=list(r.ri_ci[i]), seed_sd=r.ri_sd[i],
                    seeds=r.seeds) for r in _robustness(results) for i in r.datasets]


class MeanRobustnessImprovement(Metric):
    def compute(self, results):
        return [row("mri", r.model, r.strategy, None, None, r.mri, ci=list(r.mri_ci), seed_sd=r.mri_sd,
                    seeds=r.seeds) for r in _robustness(results) if r.mri is not None]


class _PairedDelta(Metric):
    """Accuracy change of a fine-tuned model vs the pretrained one on the same images of one dataset.

    Rows carry `before`, `after` and `value` = sign * (after - before). The pairs are computed once per Results
    and kind of set (the reference set for forgetting, the held-out fine-tuning set for the ID gain), so a metric
    and its deprecated alias read each prediction file once between them."""

    kind: str = ""  # "reference" or "own"
    sign: int = 1

    def eval_set(self, results, ft_dataset) -> str | None:
        return results.reference if self.kind == "reference" else ft_dataset

    def extra(self) -> dict:
        return {}

    def compute(self, results):
        return [row(self.name, e.model, e.strategy, e.ft_dataset, e.eval_dataset, self.sign * (after - before),
                    before=before, after=after, **self.extra()) for e, before, after in self._pairs(results)]

    def _pairs(self, results) -> list[tuple]:
        cached = getattr(results, "_paired_deltas", None)
        if cached is None:
            cached = results._paired_deltas = {}
        if self.kind not in cached:
            todo = [(n, e, results.pre_for(e)) for n, e in enumerate(results.evaluations)
                    if e.strategy is not None and e.eval_dataset == self.eval_set(results, e.ft_dataset)]
            todo.sort(key=lambda t: (t[2] is None, t[2].key if t[2] is not None else "", t[0]))  # each pre read once
            found, cache = [], PreCache()
            for n, e, pre in todo:
                if pre is None:
                    continue
                _, c_pre, c_post, w, _ = cache.get(pre).pair(e)
                found.append((n, e, _weighted_acc(c_pre, w), _weighted_acc(c_post, w)))
            cached[self.kind] = [(e, before, after) for _, e, before, after in sorted(found, key=lambda t: t[0])]
        return cached[self.kind]


class ReferenceForgetting(_PairedDelta):
    """`ref-forgetting`: accuracy before minus after fine-tuning on the reference set (ImageNet-1k val), in points:
    positive when the fine-tuned model forgets the pretraining distribution, negative when it gains."""

    kind, sign = "reference", -1


FORGETTING_DEPRECATION = ("'forgetting' is deprecated: it holds after - before (negative when the model forgets); "
                          "use 'ref-forgetting' (before - after, positive when the model forgets). 'forgetting' "
                          "will be removed in rib 0.3.")


class ReferenceChange(_PairedDelta):
    """`forgetting`, deprecated: the reference set's accuracy change after - before (its meaning before 0.2, kept
    unchanged so that no stored analysis silently flips sign); every row says so in `deprecated`."""

    kind, sign = "reference", 1

    def extra(self) -> dict:
        return {"deprecated": FORGETTING_DEPRECATION}


class InDistributionGain(_PairedDelta):
    """`id-gain`: after - before on the held-out part of the fine-tuning set (what fine-tuning was for)."""

    kind, sign = "own", 1
