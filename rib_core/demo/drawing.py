"""Drawing primitives of the demo's images: shape silhouettes, colours, noise, lighting, compositing.

rib_core.demo.render explains the design; rib_core.demo.styles uses these to draw each domain's style.
"""

from __future__ import annotations

import colorsys
import math

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage

SIZE = 32  # side of the rendered images, in pixels
SUPERSAMPLE = 4  # silhouettes are drawn at SIZE * SUPERSAMPLE, then averaged down

# Unit-square polygons (x right, y down, radius about 1), drawn in order: fill 255 adds, fill 0 cuts a hole.
# No hollow outlines among them: an outlined object (sketch, cartoon) must not look like one class in particular.
CLASS_NAMES = ("circle", "square", "triangle", "star", "cross", "heart", "arrow", "crescent", "house", "hourglass")


def _regular(n: int, radius: float = 1.0, cx: float = 0.0, cy: float = 0.0, start: float = -math.pi / 2):
    return [(cx + radius * math.cos(start + 2 * math.pi * k / n), cy + radius * math.sin(start + 2 * math.pi * k / n))
            for k in range(n)]


def _star(points: int = 5, outer: float = 1.0, inner: float = 0.42):
    return [(r * math.cos(-math.pi / 2 + math.pi * k / points), r * math.sin(-math.pi / 2 + math.pi * k / points))
            for k, r in ((k, outer if k % 2 == 0 else inner) for k in range(2 * points))]


def _heart(n: int = 48):
    # The classic parametric heart, scaled to radius about 1 and centred.
    points = [(16 * math.sin(t) ** 3, -(13 * math.cos(t) - 5 * math.cos(2 * t) - 2 * math.cos(3 * t) - math.cos(4 * t)))
              for t in (2 * math.pi * k / n for k in range(n))]
    return [(x / 17, (y + 2) / 17) for x, y in points]


_SHAPES = {
    "circle": [(_regular(48), 255)],
    "square": [([(-0.8, -0.8), (0.8, -0.8), (0.8, 0.8), (-0.8, 0.8)], 255)],
    "triangle": [([(0.0, -1.0), (0.95, 0.7), (-0.95, 0.7)], 255)],
    "star": [(_star(), 255)],
    "cross": [([(-0.3, -1), (0.3, -1), (0.3, -0.3), (1, -0.3), (1, 0.3), (0.3, 0.3), (0.3, 1), (-0.3, 1),
                (-0.3, 0.3), (-1, 0.3), (-1, -0.3), (-0.3, -0.3)], 255)],
    "heart": [(_heart(), 255)],
    "arrow": [([(-1, -0.22), (0.1, -0.22), (0.1, -0.65), (1, 0), (0.1, 0.65), (0.1, 0.22), (-1, 0.22)], 255)],
    "crescent": [(_regular(48), 255), (_regular(48, 0.85, 0.45, -0.2), 0)],
    "house": [([(-0.75, 0.9), (-0.75, -0.1), (0.0, -0.95), (0.75, -0.1), (0.75, 0.9)], 255),
              ([(-0.2, 0.35), (0.2, 0.35), (0.2, 0.95), (-0.2, 0.95)], 0)],
    "hourglass": [([(-0.8, -1), (0.8, -1), (0.12, 0), (0.8, 1), (-0.8, 1), (-0.12, 0)], 255)],
}
assert tuple(_SHAPES) == CLASS_NAMES


def image_rng(seed: int, stream: int, label: int, index: int) -> np.random.Generator:
    """The RNG of one image: independent of every other image."""
    return np.random.default_rng([seed, stream, label, index])


# -- silhouettes -------------------------------------------------------------------------------------------------
def silhouette(rng: np.random.Generator, label: int) -> Image.Image:
    """The object's mask at high resolution ("L", 0 or 255), randomly rotated, scaled and placed."""
    big = SIZE * SUPERSAMPLE
    angle = math.radians(rng.uniform(-25, 25))
    radius = rng.uniform(0.27, 0.38) * big
    cx, cy = (0.5 + rng.uniform(-0.1, 0.1, size=2)) * big
    cos, sin = math.cos(angle), math.sin(angle)
    mask = Image.new("L", (big, big), 0)
    draw = ImageDraw.Draw(mask)
    for polygon, fill in _SHAPES[CLASS_NAMES[label]]:
        draw.polygon([(cx + radius * (x * cos - y * sin), cy + radius * (x * sin + y * cos)) for x, y in polygon],
                     fill=fill)
    return mask


def coverage(mask: Image.Image) -> np.ndarray:
    """High-resolution mask -> (SIZE, SIZE) float alpha in [0, 1] (anti-aliased)."""
    return np.asarray(mask.resize((SIZE, SIZE), Image.BOX), dtype=np.float32) / 255.0


def outline(mask: Image.Image, width: float) -> np.ndarray:
    """The silhouette's boundary as a band about `width` output pixels wide, as a (SIZE, SIZE) alpha."""
    radius = max(1, round(width * SUPERSAMPLE / 2))
    size = 2 * radius + 1
    pixels = np.asarray(mask)
    band = ndimage.maximum_filter(pixels, size) - ndimage.minimum_filter(pixels, size)  # dilated minus eroded
    return coverage(Image.fromarray(band))


# -- colours and textures --------------------------------------------------------------------------------------------
def hsv(h: float, s: float, v: float) -> np.ndarray:
    return np.array(colorsys.hsv_to_rgb(h % 1.0, s, v), dtype=np.float32)


def luminance(rgb: np.ndarray) -> float:
    return float(rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32))


def contrasting_pair(rng: np.random.Generator, saturation=(0.2, 0.9), min_contrast: float = 0.3):
    """Background and object colours whose luminances differ by at least `min_contrast`."""
    while True:
        bg = hsv(rng.uniform(), rng.uniform(*saturation) * 0.6, rng.uniform(0.2, 0.95))
        fg = hsv(rng.uniform(), rng.uniform(*saturation), rng.uniform(0.1, 1.0))
        if abs(luminance(bg) - luminance(fg)) >= min_contrast:
            return bg, fg


def smooth_noise(rng: np.random.Generator, cells: int, channels: int = 1) -> np.ndarray:
    """Low-frequency noise in [0, 1]: a random `cells` x `cells` grid, bilinearly upsampled to SIZE."""
    grid = rng.uniform(0, 255, size=(cells, cells, channels)).astype(np.uint8)
    planes = [np.asarray(Image.fromarray(grid[:, :, c]).resize((SIZE, SIZE), Image.BILINEAR), dtype=np.float32)
              for c in range(channels)]
    return np.stack(planes, axis=-1) / 255.0


def coords():
    y, x = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32) / (SIZE - 1) - 0.5
    return x, y


def lighting(rng: np.random.Generator, strength=(0.3, 0.7)) -> np.ndarray:
    """A linear brightness ramp in a random direction, (SIZE, SIZE, 1)."""
    x, y = coords()
    phi = rng.uniform(0, 2 * math.pi)
    ramp = 1.0 + rng.uniform(*strength) * (x * math.cos(phi) + y * math.sin(phi)) * 2
    return ramp[..., None]


def composite(background: np.ndarray, colour, alpha: np.ndarray) -> np.ndarray:
    a = alpha[..., None]
    return background * (1 - a) + np.asarray(colour, dtype=np.float32) * a


def to_image(pixels: np.ndarray) -> Image.Image:
    """Float image in [0, 1] (H, W, 3) or (H, W) -> RGB PIL image."""
    array = (np.clip(pixels, 0, 1) * 255 + 0.5).astype(np.uint8)
    if array.ndim == 2:
        array = np.repeat(array[..., None], 3, axis=2)
    return Image.fromarray(array, "RGB")


def blank(colour) -> np.ndarray:
    return np.broadcast_to(np.asarray(colour, dtype=np.float32), (SIZE, SIZE, 3)).copy()
