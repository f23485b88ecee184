"""Which images of a dataset each part of the protocol uses, decided once per dataset from the suite's
`eval_images` (docs/protocol.md).

The names are those of `PreparedDataset.positions`: "all", "ft" / "held-out" (split by class), "ft-sources" /
"held-out-sources" (split by source image, for datasets that share source images under
eval_images = "held-out-sources").
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Subsets:
    ft: str  # what fine-tunes on this dataset train on
    own: str  # what fine-tunes on this dataset are evaluated on: its held-out part
    eval: str  # what fine-tunes on the other datasets are evaluated on
    anchor: str  # for the reference set: what EWC's Fisher anchor uses


def subsets_for(eval_images: str, by_source: bool, is_reference: bool) -> Subsets:
    """`by_source`: the dataset is split by source image (it shares sources, under "held-out-sources")."""
    ft, own = ("ft-sources", "held-out-sources") if by_source else ("ft", "held-out")
    if is_reference:
        # Evaluated after every fine-tune on all its images, except under "held-out-sources": then on its held-out
        # part, and EWC's anchor uses the other part, so that the anchor and the evaluated images are disjoint.
        if eval_images == "held-out-sources":
            return Subsets(ft, own, eval=own, anchor=ft)
        return Subsets(ft, own, eval="all", anchor="all")
    if by_source:
        return Subsets(ft, own, eval="held-out-sources", anchor="all")
    return Subsets(ft, own, eval="held-out" if eval_images == "held-out" else "all", anchor="all")
