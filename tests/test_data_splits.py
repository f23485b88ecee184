"""Fine-tuning / held-out splits and class-balanced caps."""

from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rib_core.data.base import Sample
from rib_core.data.splits import cap_samples, split_indices
from rib_core.errors import ConfigError


def make_samples(sizes, group=""):
    """sizes[c] images of class c, sorted by path as adapters return them."""
    samples = [Sample(f"{group + '/' if group else ''}c{c:03d}/img_{i:04d}.jpg", c, group)
               for c, n in enumerate(sizes) for i in range(n)]
    return sorted(samples, key=lambda s: s.path)


def parts_by_path(samples, fraction=0.8, seed=0):
    fine_tune, held_out = split_indices(samples, fraction, seed)
    return {samples[i].path for i in fine_tune}, {samples[i].path for i in held_out}


def test_disjoint_complete_sorted_and_stratified():
    sizes = [10, 7, 2, 1, 50, 3]
    samples = make_samples(sizes)
    fine_tune, held_out = split_indices(samples, 0.8, seed=0)
    assert fine_tune.dtype == held_out.dtype == np.int64
    assert np.all(np.diff(fine_tune) > 0) and np.all(np.diff(held_out) > 0)
    assert not set(fine_tune) & set(held_out)
    assert sorted(set(fine_tune) | set(held_out)) == list(range(len(samples)))
    per_class_ft = Counter(samples[i].label for i in fine_tune)
    per_class_ho = Counter(samples[i].label for i in held_out)
    # round(0.8 n), but at least one on each side for classes with two or more images
    assert [per_class_ft[c] for c in range(6)] == [8, 6, 1, 1, 40, 2]
    assert [per_class_ho[c] for c in range(6)] == [2, 1, 1, 0, 10, 1]


def test_deterministic_and_seeded():
    samples = make_samples([20] * 5)
    first = split_indices(samples, 0.8, seed=3)
    again = split_indices(list(samples), 0.8, seed=3)
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    other = split_indices(samples, 0.8, seed=4)
    assert not np.array_equal(first[1], other[1])


def test_membership_does_not_depend_on_list_order():
    samples = make_samples([15, 15])
    shuffled = [samples[i] for i in np.random.default_rng(0).permutation(len(samples))]
    assert parts_by_path(samples) == parts_by_path(shuffled)


def test_adding_a_file_to_one_class_never_moves_another_class():
    samples = make_samples([30, 30, 30])
    before_ft, before_ho = parts_by_path(samples)
    grown = sorted(samples + [Sample("c001/new_image.jpg", 1)], key=lambda s: s.path)
    after_ft, after_ho = parts_by_path(grown)
    for prefix in ("c000/", "c002/"):
        assert {p for p in before_ft if p.startswith(prefix)} == {p for p in after_ft if p.startswith(prefix)}
        assert {p for p in before_ho if p.startswith(prefix)} == {p for p in after_ho if p.startswith(prefix)}
    # Within the grown class at most one old image changes side.
    moved = {p for p in before_ft if p.startswith("c001/")} ^ {p for p in after_ft if p.startswith("c001/")}
    assert len(moved - {"c001/new_image.jpg"}) <= 1


def test_versions_of_one_source_image_stay_on_one_side():
    # ImageNet-C: the same val image under every corruption/severity must not leak into the held-out part.
    samples = sorted(make_samples([10, 10], "fog/1") + make_samples([10, 10], "fog/3")
                     + make_samples([10, 10], "snow/1"), key=lambda s: s.path)
    fine_tune, held_out = split_indices(samples, 0.7, seed=1)
    source = lambda s: s.path.split("/", 2)[2]
    ft_sources = {source(samples[i]) for i in fine_tune}
    ho_sources = {source(samples[i]) for i in held_out}
    assert not ft_sources & ho_sources
    assert len(ft_sources) == 14 and len(ho_sources) == 6


@pytest.mark.parametrize("fraction", [0, 1, 1.5, -0.1])
def test_fraction_outside_zero_one_is_refused(fraction):
    with pytest.raises(ConfigError, match="strictly between 0 and 1"):
        split_indices(make_samples([4]), fraction)


@settings(max_examples=40, deadline=None)
@given(sizes=st.lists(st.integers(1, 12), min_size=1, max_size=6), fraction=st.floats(0.05, 0.95),
       seed=st.integers(0, 5))
def test_split_properties_hold_for_any_class_sizes(sizes, fraction, seed):
    samples = make_samples(sizes)
    fine_tune, held_out = split_indices(samples, fraction, seed)
    assert len(fine_tune) + len(held_out) == len(samples)
    assert not set(fine_tune.tolist()) & set(held_out.tolist())
    ft = Counter(samples[i].label for i in fine_tune)
    ho = Counter(samples[i].label for i in held_out)
    for label, n in enumerate(sizes):
        if n >= 2:
            assert ft[label] >= 1 and ho[label] >= 1
        assert ft[label] + ho[label] == n


def test_cap_is_class_balanced_deterministic_and_ordered():
    samples = make_samples([40, 5, 30, 2])
    capped = cap_samples(samples, 10, seed=0)
    assert len(capped) == 10
    counts = Counter(s.label for s in capped)
    # Round-robin: classes 0 and 2 get 3 or 4, the small ones all they can (up to 2-3).
    assert counts[3] == 2 and counts[1] >= 2 and max(counts.values()) - min(counts[c] for c in (0, 1, 2)) <= 1
    assert capped == cap_samples(list(samples), 10, seed=0)
    assert [s.path for s in capped] == sorted(s.path for s in capped)
    assert set(capped) <= set(samples)
    assert cap_samples(samples, None) == samples and cap_samples(samples, 1000) == samples
    assert cap_samples(samples, 10, seed=1) != capped


def test_cap_keeps_one_per_class_when_the_cap_equals_the_class_count():
    samples = make_samples([7] * 12)
    assert sorted(s.label for s in cap_samples(samples, 12)) == list(range(12))


def test_cap_is_stable_when_another_class_grows():
    samples = make_samples([10, 10])
    grown = sorted(samples + [Sample("c001/zz_new.jpg", 1)], key=lambda s: s.path)
    before = {s.path for s in cap_samples(samples, 8) if s.label == 0}
    after = {s.path for s in cap_samples(grown, 8) if s.label == 0}
    assert before == after
