"""The cluster bootstrap (rib_core.metrics.bootstrap) against brute-force bootstraps written out image by image."""

from __future__ import annotations

import numpy as np
import pytest

from rib_core.data.base import Sample, cluster_index
from rib_core.data.accuracy import group_weights, hierarchical_weights
from rib_core.engine.results import Evaluation, Results
from rib_core.metrics.bootstrap import dataset_seed, paired_mean_interval
from rib_core.metrics.robustness import compute


def brute_force_poisson(diff, weights, clusters, replicates, seed) -> tuple[float, float]:
    """Poisson(1) weight per cluster per replicate, drawn as one matrix; each replicate's mean summed per image."""
    ids = {c: k for k, c in enumerate(sorted(set(clusters)))}
    draws = np.random.default_rng(seed).poisson(1.0, (replicates, len(ids)))
    full = sum(w * d for w, d in zip(weights, diff)) / sum(weights)
    means = []
    for b in range(replicates):
        num = den = 0.0
        for d, w, c in zip(diff, weights, clusters):
            num += draws[b, ids[c]] * w * d
            den += draws[b, ids[c]] * w
        means.append(num / den if den > 0 else full)
    return float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975))


def brute_force_cluster_resample(diff, clusters, replicates, seed) -> tuple[float, float]:
    """The textbook cluster bootstrap: draw clusters with replacement, pool their images, take the mean."""
    rng = np.random.default_rng(seed)
    members = {}
    for d, c in zip(diff, clusters):
        members.setdefault(c, []).append(d)
    groups = list(members.values())
    means = []
    for _ in range(replicates):
        drawn = rng.integers(0, len(groups), len(groups))
        pooled = [d for k in drawn for d in groups[k]]
        means.append(np.mean(pooled))
    return float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975))


def test_singleton_clusters_equal_a_brute_force_bootstrap_with_the_same_draws():
    rng = np.random.default_rng(3)
    diff = rng.integers(-1, 2, 60).astype(float)
    weights = rng.uniform(0.5, 2.0, 60)
    got = paired_mean_interval(diff, weights=weights, replicates=300, seed=11)
    want = brute_force_poisson(diff, weights, list(range(60)), 300, 11)
    assert got == pytest.approx(want, abs=1e-12)


def imagenet_c_like(n_sources=150, versions=15, seed=5):
    """Differences correlated within a source image: its versions share most of their outcome."""
    rng = np.random.default_rng(seed)
    per_source = rng.choice([-1.0, 0.0, 1.0], n_sources, p=[0.3, 0.4, 0.3])
    clusters = np.repeat(np.arange(n_sources), versions)
    flip = rng.random(n_sources * versions) < 0.1
    diff = np.where(flip, 0.0, per_source[clusters])
    return diff, clusters


def test_imagenet_c_like_clusters_widen_the_interval_and_match_a_brute_force_cluster_bootstrap():
    diff, clusters = imagenet_c_like()
    per_image = paired_mean_interval(diff, replicates=2000, seed=1)
    per_cluster = paired_mean_interval(diff, clusters=clusters, replicates=2000, seed=1)
    textbook = brute_force_cluster_resample(diff, clusters, 2000, seed=2)
    width = lambda ci: ci[1] - ci[0]  # noqa: E731
    assert width(per_cluster) > 2.5 * width(per_image)  # ~sqrt(15) for perfectly correlated versions
    # Two independent Monte Carlo estimates of the same interval: endpoints within ~10% of its width.
    assert per_cluster == pytest.approx(textbook, abs=0.12 * width(textbook))
    # And the exact Poisson scheme, image by image, with the same seed.
    assert per_cluster == pytest.approx(brute_force_poisson(diff, np.ones(len(diff)), clusters.tolist(), 2000, 1),
                                        abs=1e-12)


def evaluation(strategy, ft, dataset, positions, labels, top1, clusters=None):
    pred = {"positions": np.asarray(positions, np.int64), "labels": np.asarray(labels, np.int64),
            "top_idx": np.asarray(top1, np.int32)[:, None], "group_index": np.zeros(len(labels), np.int64)}
    if clusters is not None:
        pred["cluster_index"] = np.asarray(clusters, np.int64)
    return Evaluation("m", strategy, ft, dataset, "all", 0.0, len(labels), {"groups": []}, None, "", _pred=pred)


def test_ri_interval_resamples_each_datasets_source_images():
    """Two datasets: RI_a is the change on b, so its interval is b's cluster bootstrap of the differences."""
    diff, clusters = imagenet_c_like(n_sources=40, versions=5)
    n = len(diff)
    labels = np.zeros(n, np.int64)
    pre_top1 = np.where(diff > 0, 1, 0)  # -1/0: correct before; +1: wrong before
    post_top1 = np.where(diff < 0, 1, 0)
    results = Results(datasets=["a", "b"], reference=None, models=["m"], strategies=["s"])
    results.evaluations = [
        evaluation(None, None, "b", range(n), labels, pre_top1, clusters),
        evaluation("s", "a", "b", range(n), labels, post_top1, clusters),
        evaluation(None, None, "a", range(3), [0, 0, 0], [0, 0, 0]),
        evaluation("s", "b", "a", range(3), [0, 0, 0], [0, 1, 0]),
    ]
    got = compute(results, "m", "s", replicates=400)
    low, high = brute_force_poisson(diff * 100, np.full(n, 1 / n), clusters.tolist(), 400, dataset_seed(0, "b"))
    assert got.ri["a"] == pytest.approx(100 * diff.mean(), abs=1e-9)
    assert got.ri_ci["a"] == pytest.approx((low, high), abs=1e-9)


def test_group_weights_equal_hierarchical_weights_bit_for_bit():
    rng = np.random.default_rng(0)
    names = ["", "fog/1", "fog/3", "snow", "snow/1", "x/y/z"]
    for _ in range(30):
        picked = rng.integers(0, len(names), int(rng.integers(1, 200)))
        used = sorted(set(picked.tolist()))
        index = np.array([used.index(p) for p in picked])
        got = group_weights([names[u] for u in used], index, len(index))
        assert np.array_equal(got, hierarchical_weights([names[picked[k]] for k in range(len(picked))]))


def test_cluster_index_shares_ids_by_cluster_and_numbers_lone_samples_apart():
    samples = [Sample("fog/1/n1/a.JPEG", 0, "fog/1", "a.JPEG"), Sample("fog/1/n1/b.JPEG", 0, "fog/1", "b.JPEG"),
               Sample("snow/1/n1/a.JPEG", 0, "snow/1", "a.JPEG"), Sample("x.png", 0), Sample("y.png", 0)]
    assert cluster_index(samples).tolist() == [0, 1, 0, 2, 3]


def test_imagenet_c_clusters_are_the_source_file_name():
    from rib_core.data.imagenet_c import ImageNetC

    adapter = ImageNetC("imagenet-c", None, {})
    assert adapter.cluster_of("fog/3/n01440764/ILSVRC2012_val_00000293.JPEG") == "ILSVRC2012_val_00000293.JPEG"
