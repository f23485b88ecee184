"""`Results` built in memory, for a metric's tests: the object `Metric.compute` receives, without running a bench.

    from rib_core.testing import make_evaluation, make_results

    results = make_results(datasets=("a", "b"), strategies=("ft",))          # random predictions, every cell
    pre = make_evaluation("m", "a", labels=[0, 1, 2], top_idx=[0, 1, 0])      # or exactly the ones you choose
    post = make_evaluation("m", "a", labels=[0, 1, 2], top_idx=[0, 1, 2], strategy="ft", ft_dataset="b")
    results = make_results(evaluations=[pre, post])

Each evaluation is what a stored one is (rib_core.api.Evaluation): `accuracy` is computed from its predictions as
rib computes it (groups averaged level by level), a post-evaluation is paired with the pre-evaluation of the same
model and dataset (`results.pre_for(post)`), and `predictions` holds the same arrays, dtypes and keys.
"""

from __future__ import annotations

from itertools import count

_keys = count()


def make_evaluation(model: str, eval_dataset: str, labels, top_idx, *, strategy: str | None = None,
                    ft_dataset: str | None = None, top_prob=None, groups=None, clusters=None, seed: int | None = None,
                    subset: str = "all"):
    """One evaluation of `model` on `eval_dataset` (pretrained when `strategy` is None). `labels`: each image's
    class; `top_idx`: the predicted classes, (N,) or (N, k) with the top-1 first; `top_prob` (default: 1 for the
    top-1, 0 after); `groups`: each image's group name ("fog/3"), `clusters`: each image's bootstrap unit."""
    import numpy as np

    from rib_core.data.accuracy import weighted_accuracy
    from rib_core.engine.results import Evaluation

    labels = np.asarray(labels, dtype=np.int64)
    top_idx = np.asarray(top_idx, dtype=np.int64).reshape(len(labels), -1)
    if top_prob is None:
        top_prob = np.zeros(top_idx.shape, dtype=np.float32)
        top_prob[:, 0] = 1.0
    group_of = list(groups) if groups is not None else [""] * len(labels)
    names = sorted(set(group_of))
    predictions = {
        "positions": np.arange(len(labels), dtype=np.int64), "labels": labels, "top_idx": top_idx,
        "top_prob": np.asarray(top_prob, dtype=np.float32).reshape(top_idx.shape),
        "group_index": np.array([names.index(g) for g in group_of], dtype=np.int64),
        "cluster_index": np.asarray(clusters if clusters is not None else np.arange(len(labels)), dtype=np.int64),
    }
    accuracy = weighted_accuracy(top_idx[:, 0] == labels, group_of)
    record = {"kind": "eval", "accuracy": accuracy, "n_images": len(labels), "groups": names}
    return Evaluation(model=model, strategy=strategy, ft_dataset=ft_dataset, eval_dataset=eval_dataset,
                      subset=subset, accuracy=accuracy, n_images=len(labels), record=record, store=None,
                      key=f"test-{next(_keys)}", seed=seed, _pred=predictions)


def make_results(datasets=None, *, models=None, strategies=("ft",), reference: str | None = None, evaluations=None,
                 images: int = 40, classes: int = 5, seed: int = 0):
    """A `rib_core.api.Results`. With `evaluations`: those, each post-evaluation paired with the pre-evaluation of
    the same model and dataset. Without: the whole grid of a finished run, every model pre-evaluated on every
    dataset (and the reference) and fine-tuned with every strategy on every dataset, then evaluated on all of them,
    with random predictions from `seed` (`images` per dataset, `classes` classes; fine-tuning on a dataset makes
    its own images likelier right). `datasets` (default "d1", "d2", "d3") and `models` (default "m") are, with
    `evaluations`, those named by the evaluations unless given."""
    import numpy as np

    from rib_core.engine.results import Results

    if evaluations is None:
        datasets, models = tuple(datasets or ("d1", "d2", "d3")), tuple(models or ("m",))
        everything = [*datasets, *([reference] if reference else [])]
        rng = np.random.default_rng(seed)
        evaluations = []
        labels = {d: rng.integers(0, classes, images) for d in everything}

        def guess(d, p_right):
            right = rng.random(images) < p_right
            return np.where(right, labels[d], (labels[d] + rng.integers(1, classes, images)) % classes)

        for model in models:
            evaluations += [make_evaluation(model, d, labels[d], guess(d, 0.5)) for d in everything]
            for strategy in strategies:
                for ft in datasets:
                    evaluations += [make_evaluation(model, d, labels[d], guess(d, 0.8 if d == ft else 0.45),
                                                    strategy=strategy, ft_dataset=ft) for d in everything]
    evaluations = list(evaluations)
    pre = {(e.model, e.eval_dataset): e for e in evaluations if e.strategy is None}
    for e in evaluations:
        if e.strategy is not None and (e.model, e.eval_dataset) in pre:
            e.pre_key = pre[e.model, e.eval_dataset].key
    ordered = lambda values: list(dict.fromkeys(values))  # noqa: E731 - first-seen order, no repeats
    return Results(datasets=ordered([*(datasets or ()), *(e.eval_dataset for e in evaluations
                                                          if e.eval_dataset != reference)]),
                   reference=reference, models=ordered([*(models or ()), *(e.model for e in evaluations)]),
                   strategies=ordered(e.strategy for e in evaluations if e.strategy is not None),
                   evaluations=evaluations, suite="test")
