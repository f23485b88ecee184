"""The demo's visual styles: each turns a silhouette into a 32-px RGB picture of one domain."""

from __future__ import annotations

import io
import math

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from rib_core.demo.drawing import (SIZE, blank, composite, contrasting_pair, coords, coverage, hsv, lighting, luminance,
                                   outline, smooth_noise, to_image)


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
    image = composite(blank(bg), fg, coverage(mask))
    rim = fg * rng.uniform(0.2, 0.6) if luminance(fg) > 0.4 else np.minimum(1, fg + rng.uniform(0.4, 0.6))
    return composite(image, rim, outline(mask, rng.uniform(0.6, 1.2)) * coverage(mask) * rim_strength)


def style_photo(rng, mask):
    """Photo-like: textured backgrounds, a shaded object with a soft shadow, uneven lighting."""
    bg_a, fg = contrasting_pair(rng, min_contrast=0.25)
    bg_b = hsv(rng.uniform(), rng.uniform(0.1, 0.6), rng.uniform(0.2, 0.95))
    mix = smooth_noise(rng, int(rng.integers(3, 7)))
    background = bg_a * mix + bg_b * (1 - mix) + rng.normal(0, 0.04, size=(SIZE, SIZE, 3)).astype(np.float32)
    alpha = coverage(mask)
    dx, dy = rng.integers(1, 3, size=2)
    shadow = np.roll(np.roll(alpha, dy, axis=0), dx, axis=1)
    background = background * (1 - 0.45 * shadow[..., None])
    x, y = coords()
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
    bg = hsv(hue, rng.uniform(0.6, 1.0), rng.uniform(0.75, 1.0))
    fg = hsv(hue + rng.uniform(0.3, 0.7), rng.uniform(0.8, 1.0), rng.uniform(0.8, 1.0))
    image = composite(blank(bg), fg, coverage(mask))
    return composite(image, (0.05, 0.05, 0.05), outline(mask, rng.uniform(1.0, 2.0)))


def style_drawing(rng, mask):
    """Coloured-pencil drawing: paper texture, a thin coloured stroke and hatched shading inside."""
    paper = np.array([rng.uniform(0.9, 1.0), rng.uniform(0.86, 0.97), rng.uniform(0.75, 0.92)], dtype=np.float32)
    grain = rng.normal(0, 0.03, size=(SIZE, SIZE, 1)).astype(np.float32)
    fibres = 0.04 * (smooth_noise(rng, 16) - 0.5)
    canvas = paper * (1 + grain + fibres)
    pencil = hsv(rng.uniform(), rng.uniform(0.5, 1.0), rng.uniform(0.3, 0.8))
    x, y = coords()
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
        background = blank(bg)
    elif kind == 1:
        background = blank(bg) * lighting(rng, (0.2, 0.6))
    elif kind == 2:  # stripes or checks
        x, y = coords()
        period = rng.uniform(4, 10) / SIZE
        pattern = (np.floor(x / period) + (np.floor(y / period) if rng.uniform() < 0.5 else 0)) % 2
        other = hsv(rng.uniform(), rng.uniform(0, 0.5), rng.uniform(0.2, 0.95))
        background = composite(blank(bg), other, pattern.astype(np.float32) * rng.uniform(0.2, 0.6))
    else:  # mottled colour
        background = blank(bg) * (0.7 + 0.6 * smooth_noise(rng, int(rng.integers(2, 9)), 3))
    alpha = coverage(mask)
    fill = int(rng.integers(3))  # 0 filled, 1 outline only, 2 filled and outlined
    image = background if fill == 1 else composite(background, fg, alpha)
    if fill:
        line_colour = fg if fill == 1 else hsv(rng.uniform(), rng.uniform(), rng.uniform(0, 0.4))
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
