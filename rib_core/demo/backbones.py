"""The demo's backbones, "demo/narrow" and "demo/broad": tiny timm ViTs, pretrained on first use and cached.

The architecture is timm's VisionTransformer (so every strategy meets the same module names as on a real ViT:
`blocks.N.attn.qkv`, `head`, ...) with an early-convolution stem in place of the plain patch projection: two
3x3 stride-2 convolutions, then 2x2 patches, 16 tokens. A plain 4-px patch ViT of this size learns far too
slowly for the CPU budget (26% on the source domain after 12 epochs, against about 80% with the stem), as
Xiao et al. (2021, "Early convolutions help transformers see better") would predict.

Weights are cached as <cache>/demo-models/v1/<name>.safetensors; the identity is "demo/<name>@<file digest>",
and `identity` gives it before loading, for the cell keys: a backbone pretrained again (on another CPU) or whose
file changed gets new keys, so its results are computed again instead of being mixed with the old ones.
"""

from __future__ import annotations

import contextlib
import functools
from pathlib import Path

import torch
from timm.layers import HybridEmbed
from timm.models.vision_transformer import VisionTransformer

from rib_core.demo import BACKBONES, LABEL_SPACE, MODEL_VERSION, demo_part, models_dir, terminal_progress
from rib_core.demo import pretrain
from rib_core.disk import atomic_write
from rib_core.errors import RibError, UnknownNameError
from rib_core.models.base import Backbone, load_state_dict_file
from rib_core.models.digests import digest_of, may_fetch
from rib_core.preprocess import Preprocess

NAME_PREFIX = "demo/"
PREPROCESS = Preprocess(input_size=32, resize_size=32, interpolation="bilinear",
                        mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))
ARCHITECTURE = dict(img_size=32, patch_size=2, embed_dim=48, depth=2, num_heads=3, mlp_ratio=2.0,
                    num_classes=pretrain.NUM_CLASSES)
STEM_CHANNELS = 16


class ConvStem(torch.nn.Sequential):
    """32x32x3 -> 8x8x(2 * channels): the early convolutions that make a tiny ViT trainable in seconds."""

    def __init__(self, channels: int = STEM_CHANNELS):
        super().__init__(torch.nn.Conv2d(3, channels, 3, stride=2, padding=1), torch.nn.GELU(),
                         torch.nn.Conv2d(channels, 2 * channels, 3, stride=2, padding=1), torch.nn.GELU())


def build_model(seed: int = 0) -> VisionTransformer:
    """The untrained architecture, initialised from `seed` without touching torch's global RNG."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = VisionTransformer(**ARCHITECTURE, embed_layer=functools.partial(HybridEmbed, backbone=ConvStem()))
    return model.eval()


def architecture(name: str, *, options: dict | None = None):
    """(untrained model, input size) for `rib bench --dry-run` to time: no pretraining, no file."""
    variant_of(name)
    return build_model(), PREPROCESS.input_size


def variant_of(name: str) -> str:
    """ "demo/narrow" -> "narrow", or an error listing the demo backbones."""
    return demo_part(name, NAME_PREFIX, BACKBONES, UnknownNameError, "model")


def check_name(name: str) -> None:
    variant_of(name)


def weights_path(variant: str, cache: Path | None = None) -> Path:
    return models_dir(cache) / f"{variant}.safetensors"


@contextlib.contextmanager
def _exclusive(lock_path: Path):
    """Hold an exclusive lock on `lock_path` (POSIX), so that concurrent runs pretrain a backbone only once."""
    try:
        import fcntl
    except ImportError:  # Windows: concurrent first runs both pretrain; the atomic rename keeps the file whole
        yield
        return
    with open(lock_path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_pretrained(variant: str, cache: Path | None = None, progress=None) -> Path:
    """The cached weights of a demo backbone, pretraining it first if they are not there yet (once).

    `progress(epoch, epochs, loss)` is called after each pretraining epoch; by default a terminal bar shows.
    """
    from safetensors.torch import save_file

    path = weights_path(variant, cache)
    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    with _exclusive(path.with_suffix(".lock")):
        if path.is_file():  # another process pretrained it while we waited
            return path
        model = build_model(pretrain.RECIPES[variant].seed)
        with terminal_progress(f"pretraining demo/{variant} (first run only)") as default_progress:
            pretrain.train(model, pretrain.RECIPES[variant], progress=progress or default_progress)
        state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
        # Written beside its final name, then renamed: a killed run never leaves half a file that looks cached.
        atomic_write(path, lambda tmp: save_file(state, tmp, metadata={"rib_demo_model": variant,
                                                                        "version": MODEL_VERSION}))
    return path


def load(name: str, *, weights: str | None = None, options: dict | None = None) -> Backbone:
    """The backbone loader registered for "demo/*"."""
    variant = variant_of(name)
    if options:
        raise RibError(f"model '{name}' takes no options, got: {', '.join(sorted(options))}. "
                       "Remove them from the suite's model entry.")
    path = Path(weights).expanduser() if weights else ensure_pretrained(variant)
    model = build_model()
    try:
        model.load_state_dict(load_state_dict_file(path))
    except RuntimeError as exc:
        raise RibError(f"weights '{path}' do not fit the demo ViT ({exc.__class__.__name__}: "
                       f"{str(exc).splitlines()[0]}). Give a file saved from a '{NAME_PREFIX}{variant}' model.") from exc
    model.eval()
    return Backbone(
        model=model,
        preprocess=PREPROCESS,
        head_prefixes=("head.",),
        identity=f"{NAME_PREFIX}{variant}@{digest_of(path)}",
        num_classes=pretrain.NUM_CLASSES,
        info={"source": "rib demo, pretrained on the spot", "weights": str(path),
              "pretraining": pretrain.describe(variant)},
    )


load.accepted_options = {}  # the demo backbones take no options


def identity(name: str, *, weights: str | None = None, options: dict | None = None) -> str:
    """The identity `load` will give (registered as the `identity` hook): the digest of the weights file, the
    cached backbone pretrained first if it is not there yet (as `load` would), except while planning only."""
    variant = variant_of(name)
    path = Path(weights).expanduser() if weights else weights_path(variant)
    if not weights and not path.is_file():
        if not may_fetch():
            return f"{NAME_PREFIX}{variant}@not-pretrained-yet"  # a dry run: no cell of it can be done yet
        path = ensure_pretrained(variant)
    try:
        return f"{NAME_PREFIX}{variant}@{digest_of(path)}"
    except OSError:
        return f"{NAME_PREFIX}{variant}@missing"  # rib refuses the run: the weights file does not exist
