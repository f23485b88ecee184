"""Procedural drawing of the demo's objects: ten shape classes, rendered in several visual styles.

Every image comes from its own numpy RNG, seeded by (seed, stream, class, index), so an image does not depend on
how many others are drawn: a reduced set is a prefix of the full one, and the bytes are the same on every run.

An object is a silhouette (a high-resolution mask drawn with PIL, supersampled for anti-aliasing). A style turns
the silhouette into a 32-px RGB picture: filled on a plain background (the source domain), outlined only
(sketch), flat colours with thick outlines (cartoon), and so on. Styles only use the silhouette and the RNG, so the
same object is recognisable across domains for the same reason it is in ImageNet's variants: its shape.
"""

from __future__ import annotations

import colorsys
import io
import math

import numpy as np
from PIL import Image, ImageDraw, ImageFilter
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
def _hsv(h: float, s: float, v: float) -> np.ndarray:
    return np.array(colorsys.hsv_to_rgb(h % 1.0, s, v), dtype=np.float32)


def _luminance(rgb: np.ndarray) -> float:
    return float(rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32))


def contrasting_pair(rng: np.random.Generator, saturation=(0.2, 0.9), min_contrast: float = 0.3):
    """Background and object colours whose luminances differ by at least `min_contrast`."""
    while True:
        bg = _hsv(rng.uniform(), rng.uniform(*saturation) * 0.6, rng.uniform(0.2, 0.95))
        fg = _hsv(rng.uniform(), rng.uniform(*saturation), rng.uniform(0.1, 1.0))
        if abs(_luminance(bg) - _luminance(fg)) >= min_contrast:
            return bg, fg


def smooth_noise(rng: np.random.Generator, cells: int, channels: int = 1) -> np.ndarray:
    """Low-frequency noise in [0, 1]: a random `cells` x `cells` grid, bilinearly upsampled to SIZE."""
    grid = rng.uniform(0, 255, size=(cells, cells, channels)).astype(np.uint8)
    planes = [np.asarray(Image.fromarray(grid[:, :, c]).resize((SIZE, SIZE), Image.BILINEAR), dtype=np.float32)
              for c in range(channels)]
    return np.stack(planes, axis=-1) / 255.0


def _coords():
    y, x = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32) / (SIZE - 1) - 0.5
    return x, y


def lighting(rng: np.random.Generator, strength=(0.3, 0.7)) -> np.ndarray:
    """A linear brightness ramp in a random direction, (SIZE, SIZE, 1)."""
    x, y = _coords()
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


def _blank(colour) -> np.ndarray:
    return np.broadcast_to(np.asarray(colour, dtype=np.float32), (SIZE, SIZE, 3)).copy()


# -- the evaluation domains' styles -------------------------------------------------------------------------------
def style_source(rng, mask):
    """Clean reference: a plain background and the object in one colour, its rim shaded like a real object's.

    Some objects are pale, nearly the background's colour, so that their rim carries the shape (white cups on
    white tables are in ImageNet too): without them a model of the source domain is blind to line drawings.
    """
    bg, fg = contrasting_pair(rng)
    rim_strength = rng.uniform(0.5, 1.0)
    if rng.uniform() < 0.15:
        fg = np.clip(bg + rng.uniform(-0.12, 0.12, size=3), 0, 1).astype(np.float32)
        rim_strength = 1.0
    image = composite(_blank(bg), fg, coverage(mask))
    rim = fg * rng.uniform(0.2, 0.6) if _luminance(fg) > 0.4 else np.minimum(1, fg + rng.uniform(0.4, 0.6))
    return composite(image, rim, outline(mask, rng.uniform(0.6, 1.2)) * coverage(mask) * rim_strength)


def style_photo(rng, mask):
    """Photo-like: textured backgrounds, a shaded object with a soft shadow, uneven lighting."""
    bg_a, fg = contrasting_pair(rng, min_contrast=0.25)
    bg_b = _hsv(rng.uniform(), rng.uniform(0.1, 0.6), rng.uniform(0.2, 0.95))
    mix = smooth_noise(rng, int(rng.integers(3, 7)))
    background = bg_a * mix + bg_b * (1 - mix) + rng.normal(0, 0.04, size=(SIZE, SIZE, 3)).astype(np.float32)
    alpha = coverage(mask)
    dx, dy = rng.integers(1, 3, size=2)
    shadow = np.roll(np.roll(alpha, dy, axis=0), dx, axis=1)
    background = background * (1 - 0.45 * shadow[..., None])
    x, y = _coords()
    shade = (1.15 - 0.9 * ((x + 0.15) ** 2 + (y + 0.15) ** 2))[..., None]  # lit from the top left
    texture = 1 + rng.normal(0, 0.06, size=(SIZE, SIZE, 1)).astype(np.float32)
    obj = fg * shade * texture
    a = alpha[..., None]
    return (background * (1 - a) + obj * a) * lighting(rng)


def style_sketch(rng, mask):
    """Pencil sketch: greyscale, mostly edges (a slightly doubled line, stray strokes), sometimes light shading."""
    paper = rng.uniform(0.85, 1.0)
    ink = rng.uniform(0.0, 0.3)
    canvas = np.full((SIZE, SIZE), paper, dtype=np.float32)
    line = outline(mask, rng.uniform(0.8, 1.6))
    shifted = outline(mask.transform(mask.size, Image.AFFINE, (1, 0, rng.uniform(-3, 3), 0, 1, rng.uniform(-3, 3))),
                      0.8)
    strength = np.maximum(line, 0.5 * shifted)
    strokes = Image.new("L", (SIZE, SIZE), 0)
    draw = ImageDraw.Draw(strokes)
    for _ in range(int(rng.integers(0, 4))):
        x0, y0 = rng.uniform(0, SIZE, size=2)
        length, angle = rng.uniform(3, 8), rng.uniform(0, 2 * math.pi)
        draw.line([(x0, y0), (x0 + length * math.cos(angle), y0 + length * math.sin(angle))], fill=110)
    strength = np.maximum(strength, np.asarray(strokes, dtype=np.float32) / 255.0)
    if rng.uniform() < 0.5:  # some sketches are shaded with the side of the pencil
        canvas = canvas - coverage(mask) * rng.uniform(0.2, 0.5) * (0.6 + 0.8 * smooth_noise(rng, 6)[..., 0])
    canvas = canvas * (1 - strength) + ink * strength + rng.normal(0, 0.02, size=(SIZE, SIZE)).astype(np.float32)
    return canvas


def style_cartoon(rng, mask):
    """Cartoon: flat saturated colours of clearly different hues and a thick black outline."""
    hue = rng.uniform()
    bg = _hsv(hue, rng.uniform(0.6, 1.0), rng.uniform(0.75, 1.0))
    fg = _hsv(hue + rng.uniform(0.3, 0.7), rng.uniform(0.8, 1.0), rng.uniform(0.8, 1.0))
    image = composite(_blank(bg), fg, coverage(mask))
    return composite(image, (0.05, 0.05, 0.05), outline(mask, rng.uniform(1.0, 2.0)))


def style_drawing(rng, mask):
    """Coloured-pencil drawing: paper texture, a thin coloured stroke and hatched shading inside."""
    paper = np.array([rng.uniform(0.9, 1.0), rng.uniform(0.86, 0.97), rng.uniform(0.75, 0.92)], dtype=np.float32)
    grain = rng.normal(0, 0.03, size=(SIZE, SIZE, 1)).astype(np.float32)
    fibres = 0.04 * (smooth_noise(rng, 16) - 0.5)
    canvas = paper * (1 + grain + fibres)
    pencil = _hsv(rng.uniform(), rng.uniform(0.5, 1.0), rng.uniform(0.3, 0.8))
    x, y = _coords()
    period, angle = rng.uniform(2.5, 4.0), rng.uniform(0, math.pi)
    hatch = (np.sin((x * math.cos(angle) + y * math.sin(angle)) * SIZE * 2 * math.pi / period) > 0.3)
    canvas = composite(canvas, pencil, coverage(mask) * hatch.astype(np.float32) * rng.uniform(0.3, 0.6))
    return composite(canvas, pencil, outline(mask, rng.uniform(0.6, 1.1)) * rng.uniform(0.7, 1.0))


def corrupt(rng, pixels: np.ndarray, severity: float) -> np.ndarray:
    """One ImageNet-C-like corruption: noise, blur, pixelation, low contrast or JPEG, `severity` in [0, 1]."""
    kind = int(rng.integers(5))
    if kind == 0:  # gaussian noise
        return pixels + rng.normal(0, 0.06 + 0.2 * severity, size=pixels.shape).astype(np.float32)
    image = to_image(pixels)
    if kind == 1:  # defocus-like blur
        image = image.filter(ImageFilter.GaussianBlur(0.6 + 0.9 * severity))
    elif kind == 2:  # pixelate
        side = round(16 - 7 * severity)
        image = image.resize((side, side), Image.BOX).resize((SIZE, SIZE), Image.NEAREST)
    elif kind == 3:  # low contrast, plus a little noise
        flat = np.asarray(image, dtype=np.float32) / 255.0
        flat = flat.mean() + (flat - flat.mean()) * (0.5 - 0.35 * severity)
        return flat + rng.normal(0, 0.03, size=flat.shape).astype(np.float32)
    else:  # jpeg
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=round(20 - 16 * severity))
        buffer.seek(0)
        image = Image.open(buffer).convert("RGB")
    return np.asarray(image, dtype=np.float32) / 255.0


def style_noise(rng, mask):
    """ImageNet-C in miniature: the source image, sometimes defocused, washed out (fog-like) and noisy.

    One corruption family rather than ImageNet-C's fifteen: with a few hundred training images, fine-tuning can
    learn one family, not fifteen, and the demo must show fine-tuning raising in-distribution accuracy.
    """
    image = to_image(style_source(rng, mask))
    if rng.uniform() < 0.5:
        image = image.filter(ImageFilter.GaussianBlur(rng.uniform(0.5, 1.0)))
    pixels = np.asarray(image, dtype=np.float32) / 255.0
    pixels = pixels.mean() + (pixels - pixels.mean()) * rng.uniform(0.25, 0.5)
    return pixels + rng.normal(0, rng.uniform(0.06, 0.14), size=pixels.shape).astype(np.float32)


# -- the broad pretraining data's styles (never the evaluation domains' own recipes) -----------------------------------
def style_varied(rng, mask):
    """Random mixtures of backgrounds, fills, outlines and colour effects: what 'more diverse data' means here."""
    bg, fg = contrasting_pair(rng, min_contrast=0.2)
    kind = int(rng.integers(4))
    if kind == 0:
        background = _blank(bg)
    elif kind == 1:
        background = _blank(bg) * lighting(rng, (0.2, 0.6))
    elif kind == 2:  # stripes or checks
        x, y = _coords()
        period = rng.uniform(4, 10) / SIZE
        pattern = (np.floor(x / period) + (np.floor(y / period) if rng.uniform() < 0.5 else 0)) % 2
        other = _hsv(rng.uniform(), rng.uniform(0, 0.5), rng.uniform(0.2, 0.95))
        background = composite(_blank(bg), other, pattern.astype(np.float32) * rng.uniform(0.2, 0.6))
    else:  # mottled colour
        background = _blank(bg) * (0.7 + 0.6 * smooth_noise(rng, int(rng.integers(2, 9)), 3))
    alpha = coverage(mask)
    fill = int(rng.integers(3))  # 0 filled, 1 outline only, 2 filled and outlined
    image = background if fill == 1 else composite(background, fg, alpha)
    if fill:
        line_colour = fg if fill == 1 else _hsv(rng.uniform(), rng.uniform(), rng.uniform(0, 0.4))
        image = composite(image, line_colour, outline(mask, rng.uniform(0.7, 3.0)))
    if rng.uniform() < 0.3:
        image = np.repeat(image @ np.array([0.299, 0.587, 0.114], dtype=np.float32), 3).reshape(SIZE, SIZE, 3)
    if rng.uniform() < 0.15:
        image = 1 - image
    if rng.uniform() < 0.3:  # milder than the noise domain's corruptions
        image = corrupt(rng, image, rng.uniform(0.0, 0.5))
    return image


STYLES = {
    "source": style_source,
    "photo": style_photo,
    "sketch": style_sketch,
    "cartoon": style_cartoon,
    "drawing": style_drawing,
    "noise": style_noise,
    "varied": style_varied,
}
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
