"""Procedural drawing of the demo's objects: ten shape classes, rendered in several visual styles.

Every image comes from its own numpy RNG, seeded by (seed, stream, class, index), so an image does not depend on
how many others are drawn: a reduced set is a prefix of the full one, and the bytes are the same on every run.

An object is a silhouette (a high-resolution mask drawn with PIL, supersampled for anti-aliasing). A style turns
the silhouette into a 32-px RGB picture: filled on a plain background (the source domain), outlined only
(sketch), flat colours with thick outlines (cartoon), and so on. Styles only use the silhouette and the RNG, so the
same object is recognisable across domains for the same reason it is in ImageNet's variants: its shape.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from rib_core.demo.drawing import CLASS_NAMES, image_rng, silhouette, to_image
from rib_core.demo.styles import STYLES

__all__ = ["CLASS_NAMES", "STYLES", "STREAMS", "PRETRAIN_STREAM_OFFSET", "render", "render_array"]

# Each style draws from its own RNG stream: evaluation images and pretraining images never coincide.
STREAMS = {name: k for k, name in enumerate(STYLES)}
PRETRAIN_STREAM_OFFSET = 100


def render(style: str, label: int, index: int, seed: int = 0, stream: int | None = None) -> Image.Image:
    """One 32-px RGB image of class `label` in `style`."""
    rng = image_rng(seed, STREAMS[style] if stream is None else stream, label, index)
    return to_image(STYLES[style](rng, silhouette(rng, label)))


def render_array(style: str, labels, indices, seed: int = 0, stream: int | None = None) -> np.ndarray:
    """Many images as one uint8 array (N, SIZE, SIZE, 3), e.g. pretraining data kept in memory."""
    return np.stack([np.asarray(render(style, int(c), int(i), seed, stream)) for c, i in zip(labels, indices)])
