"""How much of what rib evaluates after a fine-tune is a rendition of what that fine-tune trained on.

ImageNet-C, -Cartoon, -Drawing and the reference set ImageNet-1k val are renditions of the same 50,000 val images
(rib_core/data/source_split.py). Under `eval_images = "all"` (the paper's protocol) or `"held-out"`, fine-tuning
on one of them trains on renditions of source images whose other renditions are then evaluated: those A_i^(j),
the reference column and EWC's anchor are optimistic. `source_overlap(prepared)` measures it at planning time,
from the prepared datasets alone (their samples, the source id in each file name, the fine-tuning positions and
the evaluated subsets), for every (D_i fine-tuned on, D_j evaluated) pair of datasets that share source images,
and for EWC's anchor against the evaluated reference images. Under `"held-out-sources"` every fraction is 0 by
construction; this module checks that rather than assuming it.

The result is plain data (JSON-serialisable); `footnote`, `column_footnotes` and `anchor_footnote` turn it into
the words a report prints under a contaminated column. No torch, no model, no pixel is read.
"""

from __future__ import annotations

import numpy as np

from rib_core.data.source_split import shared_sources, source_numbers

CLEAN_MODE = "held-out-sources"
ADVICE = f'use eval_images = "{CLEAN_MODE}" for a clean claim'


def _entry(evaluated_ids: np.ndarray, trained: np.ndarray) -> dict:
    known = evaluated_ids >= 0
    shared = int((np.isin(evaluated_ids, trained) & known).sum())
    n = int(len(evaluated_ids))
    return {"evaluated": n, "shared": shared, "unknown": int(n - known.sum()),
            "fraction": shared / n if n else 0.0}


def source_overlap(prepared) -> dict:
    """For every fine-tuning set D_i and every evaluated set D_j (the reference included, and D_i's own held-out
    part) that share source images: the fraction of D_j's images evaluated after fine-tuning on D_i that are
    renditions of a source image D_i's fine-tuning part holds; and the same for EWC's anchor (the reference
    images it is computed on) against the reference images evaluated after fine-tuning.

    Returns {"eval_images": mode, "source_images": {dataset: family}, "pairs": [{"ft_dataset", "eval_dataset",
    "subset", "evaluated", "shared", "unknown", "fraction"}], "anchor": {...} or None}. Pairs are listed for
    every sharing combination, 0 included, in suite order; datasets of their own images share nothing and are
    not listed.
    """
    reference = prepared.reference
    eval_sets = list(prepared.datasets) + ([reference] if reference is not None else [])
    family = {ds.label: shared_sources(ds.adapter) for ds in eval_sets if ds.samples}
    family = {label: f for label, f in family.items() if f is not None}
    by_label = {ds.label: ds for ds in eval_sets}
    # -1: a file name without a val id (allowed outside "held-out-sources"): it shares nothing, counted as unknown.
    ids = {label: source_numbers(by_label[label].samples) for label in family}

    pairs = []
    for ds_i in prepared.datasets:
        if ds_i.label not in family:
            continue
        trained = np.unique(ids[ds_i.label][ds_i.positions(ds_i.ft_subset)])
        trained = trained[trained >= 0]
        for ds_j in eval_sets:
            if family.get(ds_j.label) != family[ds_i.label]:
                continue
            subset = ds_j.own_subset if ds_j is ds_i else ds_j.eval_subset
            pairs.append({"ft_dataset": ds_i.label, "eval_dataset": ds_j.label, "subset": subset}
                         | _entry(ids[ds_j.label][ds_j.positions(subset)], trained))

    anchor = None
    if reference is not None and reference.samples:
        # By source image when the reference shares sources; otherwise the same image is the only overlap.
        numbers = ids.get(reference.label, np.arange(len(reference.samples), dtype=np.int64))
        anchored = np.unique(numbers[reference.positions(reference.anchor_subset)])
        anchor = {"dataset": reference.label, "anchor_subset": reference.anchor_subset,
                  "anchor_images": int(len(reference.positions(reference.anchor_subset))),
                  "subset": reference.eval_subset,
                  "by": "source image" if reference.label in family else "image"}
        anchor |= _entry(numbers[reference.positions(reference.eval_subset)], anchored[anchored >= 0])
    return {"eval_images": prepared.suite.eval_images, "source_images": family, "pairs": pairs, "anchor": anchor}


def _number(fraction: float) -> str:
    return f"{100 * fraction:.0f}" if fraction >= 0.01 or fraction == 0 else f"{100 * fraction:.2f}"


def _percent(fraction: float) -> str:
    return f"{_number(fraction)} %"


def footnote(pair: dict) -> str | None:
    """The footnote of one (D_i, D_j) cell, or None when none of its evaluated images shares a source."""
    if not pair["shared"]:
        return None
    own = pair["ft_dataset"] == pair["eval_dataset"]
    what = ("its held-out images" if own else f"its images evaluated after fine-tuning on {pair['ft_dataset']}")
    return (f"shares source images with the fine-tuning set: {_percent(pair['fraction'])} of {what} are "
            f"renditions of the fine-tuning set's source images; {ADVICE}")


def column_footnotes(overlap: dict) -> dict[str, str]:
    """{eval_dataset: footnote} for every column that shares source images with some other row's fine-tuning
    set, with the range of overlap fractions over those rows (a column's own held-out cell: see `footnote`)."""
    found: dict[str, list[dict]] = {}
    for pair in overlap["pairs"]:
        if pair["ft_dataset"] != pair["eval_dataset"] and pair["shared"]:
            found.setdefault(pair["eval_dataset"], []).append(pair)
    notes = {}
    for column, pairs in found.items():
        low, high = min(p["fraction"] for p in pairs), max(p["fraction"] for p in pairs)
        share = _percent(low) if _number(low) == _number(high) else f"{_number(low)}–{_percent(high)}"
        rows = ", ".join(p["ft_dataset"] for p in pairs)
        notes[column] = (f"shares source images with the fine-tuning set: {share} of its evaluated images are "
                         f"renditions of the source images fine-tuned on in rows {rows}; {ADVICE}")
    return notes


def anchor_footnote(overlap: dict) -> str | None:
    """The footnote for EWC's Fisher anchor, or None when it is disjoint from the evaluated reference images."""
    anchor = overlap.get("anchor")
    if not anchor or not anchor["shared"]:
        return None
    return (f"EWC's anchor shares {'source images' if anchor['by'] == 'source image' else 'images'} with the "
            f"reference images evaluated after fine-tuning: {_percent(anchor['fraction'])} of the "
            f"{anchor['evaluated']} evaluated {anchor['dataset']} images; {ADVICE}")
