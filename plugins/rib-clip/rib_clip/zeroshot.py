"""Zero-shot CLIP classifiers from open_clip, as ordinary ImageNet-1k backbones.

The backbone is CLIP's image tower followed by a linear head with one row per ImageNet class: the class's text
embedding, built by open_clip's own `build_zero_shot_classifier` from `IMAGENET_CLASSNAMES` and a template set
(each prompt's embedding normalised, averaged over templates, renormalised). The head weights are those unit rows
times CLIP's learned temperature `exp(logit_scale)`, and the head is applied to the L2-normalised image features,
so the logits are exactly CLIP's zero-shot logits (as in WiSE-FT). Keeping the temperature in the weights, not in a
separate scalar, means the strategies fine-tune "image tower + head" like any other backbone, and the softmax
they train through is the one CLIP was trained with.

Encoding 1000 classes x 80 templates takes a while, so the unit rows are cached as safetensors under
`$RIB_CACHE_DIR/zeroshot-heads/` (default ~/.cache/rib), keyed by architecture, weights digest and prompts digest.

Shared by rib-openai-clip and rib-laion through this library distribution (rib-clip), so neither plugin
depends on the other.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import open_clip
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn

from rib_core.api import (Backbone, Preprocess, RibError, cache_dir, file_digest, hub_file_digest, option_values,
                          options_suffix)

TEMPLATE_SETS = {
    "openai": open_clip.OPENAI_IMAGENET_TEMPLATES,  # the 80 prompts of the CLIP paper
    "simple": open_clip.SIMPLE_IMAGENET_TEMPLATES,  # the 7-prompt subset CLIP's authors found as good
}
INTERPOLATIONS = ("bicubic", "bilinear", "nearest")


class ZeroShotClassifier(nn.Module):
    """CLIP image tower + linear head on L2-normalised features: logits = exp(logit_scale) * cos(image, class)."""

    def __init__(self, visual: nn.Module, head_weight: torch.Tensor):
        super().__init__()
        self.visual = visual
        self.head = nn.Linear(head_weight.shape[1], head_weight.shape[0], bias=False)
        with torch.no_grad():
            self.head.weight.copy_(head_weight)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(F.normalize(self.visual(images), dim=-1))


def load_zeroshot(name: str, architecture: str, tag: str, *, weights: str | None = None,
                  options: dict | None = None) -> Backbone:
    """The zero-shot classifier of open_clip `architecture` with weights `tag` (or the local file `weights`)."""
    templates, model_kwargs = _check_options(name, options)
    tag_cfg = open_clip.get_pretrained_cfg(architecture, tag)
    if not tag_cfg:
        raise RibError(f"open_clip has no weights '{tag}' for '{architecture}' (needed by '{name}'); "
                       f"upgrade open_clip_torch or the plugin.")
    if weights is not None:
        checkpoint = Path(weights)
        if not checkpoint.is_file():
            raise RibError(f"weights file '{checkpoint}' for '{name}' does not exist. "
                           "Check the 'weights' entry of your suite or --weights.")
        weights_digest = file_digest(checkpoint)
    else:
        checkpoint = Path(_download(name, architecture, tag, tag_cfg))
        weights_digest = hub_file_digest(checkpoint)

    clip = _create(name, architecture, tag_cfg, checkpoint, model_kwargs)
    prompts = prompts_digest(templates)
    suffix = options_suffix(model_kwargs)
    cache_file = cache_dir() / "zeroshot-heads" / f"{architecture}{suffix}-{weights_digest}-{templates}-{prompts}.safetensors"
    class_embeddings = cached_class_embeddings(clip, architecture, templates, cache_file)
    temperature = float(clip.logit_scale.detach().exp())

    info = {"name": name, "open_clip_model": architecture, "pretrained": tag, "weights": str(checkpoint),
            "templates": templates, "temperature": temperature, "zeroshot_head": str(cache_file)}
    if model_kwargs:
        info["model_kwargs"] = model_kwargs
    return Backbone(
        model=ZeroShotClassifier(clip.visual, temperature * class_embeddings).eval(),
        preprocess=preprocess_from_open_clip(clip, name),
        head_prefixes=("head.",),
        identity=f"{name}{suffix}@{weights_digest}-{prompts}",
        info=info,
    )


def cached_class_embeddings(clip, architecture: str, templates: str, cache_file: Path) -> torch.Tensor:
    """(1000, D) unit-norm class embeddings, built with open_clip once and then read from `cache_file`."""
    if cache_file.is_file():  # its name holds everything the embeddings depend on
        return load_file(str(cache_file))["class_embeddings"]
    embeddings = build_class_embeddings(clip, architecture, templates)
    cache_file.parent.mkdir(parents=True, exist_ok=True)
    # Written to a temporary file and renamed: a run killed mid-write never leaves a truncated head behind.
    handle, temporary = tempfile.mkstemp(dir=cache_file.parent, suffix=".tmp")
    os.close(handle)
    save_file({"class_embeddings": embeddings.contiguous()}, temporary,
              metadata={"architecture": architecture, "templates": templates})
    os.replace(temporary, cache_file)
    return embeddings


def build_class_embeddings(clip, architecture: str, templates: str) -> torch.Tensor:
    """open_clip's zero-shot classifier for ImageNet-1k, as (1000, D) unit rows. Uses the GPU when there is one."""
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    tokenizer = open_clip.get_tokenizer(architecture, context_length=getattr(clip, "context_length", None))
    clip.to(device)
    try:
        weights = open_clip.build_zero_shot_classifier(
            clip, tokenizer, open_clip.IMAGENET_CLASSNAMES, TEMPLATE_SETS[templates], device=device)
    finally:
        clip.to("cpu")
    return weights.T.float().cpu()


def prompts_digest(templates: str) -> str:
    """Identifies the class names and prompt templates a head is built from."""
    rendered = [template("{}") for template in TEMPLATE_SETS[templates]]
    text = json.dumps([list(open_clip.IMAGENET_CLASSNAMES), rendered])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def preprocess_from_open_clip(clip, name: str) -> Preprocess:
    """open_clip's eval transform: resize the shorter side to the input size, centre crop, its mean/std."""
    cfg = open_clip.get_model_preprocess_cfg(clip)
    size = cfg["size"]
    height, width = (size, size) if isinstance(size, int) else size
    if height != width:
        raise RibError(f"'{name}' expects {height}x{width} inputs; rib only supports square inputs.")
    if cfg.get("resize_mode", "shortest") != "shortest":
        raise RibError(f"'{name}' uses open_clip resize_mode '{cfg['resize_mode']}'; "
                       "rib only supports resizing the shorter side and centre cropping.")
    interpolation = cfg.get("interpolation", "bicubic")
    if interpolation not in INTERPOLATIONS:
        raise RibError(f"'{name}' uses interpolation '{interpolation}'; rib supports {', '.join(INTERPOLATIONS)}.")
    return Preprocess(input_size=height, resize_size=height, interpolation=interpolation,
                      mean=tuple(cfg["mean"]), std=tuple(cfg["std"]))


# -- internals --------------------------------------------------------------------------------------------

def _check_options(name: str, options: dict | None) -> tuple[str, dict]:
    """(templates, model_kwargs) of a zero-shot model entry, checked as the suite's options are."""
    from rib_clip import ClipFamily

    values = option_values(ClipFamily.load.accepted_options, options, where=f"model '{name}'")
    return values["templates"], dict(values["model_kwargs"])


def _download(name: str, architecture: str, tag: str, tag_cfg: dict) -> str:
    """The tag's weights file, from the Hugging Face cache or downloaded there (open_clip's own resolution)."""
    try:
        return open_clip.pretrained.download_pretrained(tag_cfg)
    except (OSError, RuntimeError) as exc:
        hub = tag_cfg.get("hf_hub", "")
        where = (f"the Hugging Face repo '{hub.rstrip('/')}' (open_clip_model.safetensors or "
                 f"open_clip_pytorch_model.bin)" if hub else tag_cfg.get("url", "its download location"))
        raise RibError(
            f"could not get the weights of '{name}' (open_clip {architecture}, pretrained '{tag}'): they come from "
            f"{where} and are neither in the Hugging Face cache nor downloadable here ({type(exc).__name__}: {exc}).\n"
            f"Provide them locally, one of:\n"
            f"  - in the suite's model entry: weights = \"path/to/file.safetensors\" (or run with --weights);\n"
            f"  - pre-populate the Hugging Face cache on a machine with network access, e.g. python -c \"import "
            f"open_clip; open_clip.create_model('{architecture}', pretrained='{tag}')\", and copy the cache "
            f"(HF_HOME) here.") from exc


def _create(name: str, architecture: str, tag_cfg: dict, checkpoint: Path, model_kwargs: dict):
    """open_clip's create_model on the checkpoint file, configured as the tag is (QuickGELU, preprocessing).

    Hub weights and a local copy of them go through this same call, so they give the same model.
    """
    preprocess = {k: tag_cfg[k] for k in ("mean", "std", "interpolation", "resize_mode") if k in tag_cfg}
    try:
        return open_clip.create_model(architecture, pretrained=str(checkpoint),
                                      force_quick_gelu=bool(tag_cfg.get("quick_gelu", False)),
                                      force_preprocess_cfg=preprocess, **model_kwargs)
    except RuntimeError as exc:
        raise RibError(f"weights '{checkpoint}' do not fit '{name}' (open_clip {architecture}): {exc}") from exc


def open_clip_weights_status(name: str, architecture: str, tag: str, *, weights: str | None = None) -> str | None:
    """None when the tag's weights are in the Hugging Face cache (or `weights` exists), else what to do."""
    if weights:
        return None if Path(weights).is_file() else f"'{name}': weights file '{weights}' does not exist."
    from huggingface_hub import try_to_load_from_cache

    tag_cfg = open_clip.pretrained.get_pretrained_cfg(architecture, tag)
    hub = (tag_cfg.get("hf_hub") or "").rstrip("/")
    if hub:
        parts = hub.split("/")  # "org/repo" or "org/repo/file"
        repo_id, filename = "/".join(parts[:2]), "/".join(parts[2:])
        for candidate in ([filename] if filename else []) + ["open_clip_model.safetensors", "open_clip_pytorch_model.bin"]:
            if isinstance(try_to_load_from_cache(repo_id, candidate), str):
                return None
    where = f"Hugging Face repo '{hub}'" if hub else tag_cfg.get("url", "its download location")
    return (f"'{name}': weights not in the local Hugging Face cache (open_clip {architecture} '{tag}', from {where}). "
            f"With network access they download on first use; offline, run python -c \"import open_clip; "
            f"open_clip.create_model('{architecture}', pretrained='{tag}')\" where there is network and copy "
            f"HF_HOME, or set weights = \"path/to/file\" in the suite.")
