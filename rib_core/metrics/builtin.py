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
    (each pre-evaluation read once, one cluster bootstrap per dataset). Several seeds: the two-stage bootstrap
    over images and seeds (rib_core/metrics/replicates.py), on the same image resamples."""
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
    """Accuracy change of a fine-tuned model vs the pretrained one on the same images of one dataset."""

    def eval_set(self, results, ft_dataset) -> str | None:
        raise NotImplementedError

    def compute(self, results):
        todo = [(n, e, results.pre_for(e)) for n, e in enumerate(results.evaluations)
                if e.strategy is not None and e.eval_dataset == self.eval_set(results, e.ft_dataset)]
        todo.sort(key=lambda t: (t[2] is None, t[2].key if t[2] is not None else "", t[0]))  # each pre read once
        rows, cache = [], PreCache()
        for n, e, pre in todo:
            if pre is None:
                continue
            _, c_pre, c_post, w, _ = cache.get(pre).pair(e)
            before, after = _weighted_acc(c_pre, w), _weighted_acc(c_post, w)
            rows.append((n, row(self.name, e.model, e.strategy, e.ft_dataset, e.eval_dataset, after - before,
                                before=before, after=after)))
        return [r for _, r in sorted(rows, key=lambda t: t[0])]


class ReferenceForgetting(_PairedDelta):
    def eval_set(self, results, ft_dataset):
        return results.reference


class InDistributionGain(_PairedDelta):
    def eval_set(self, results, ft_dataset):
        return ft_dataset
