"""The built-in `timm:*` backbones: any timm model with an ImageNet-1k head.

`timm:<timm model name>` loads exactly what `timm.create_model(name, pretrained=True)` loads (the Hugging Face
cache is respected). A local `weights` file goes through the same path: safetensors files through timm's own
`pretrained_cfg_overlay=dict(file=...)` (so timm's checkpoint filters still apply), other files through
`load_state_dict_file`, which never unpickles.

The backbone plugins (rib-augreg, rib-openai-clip, rib-laion) reuse `load_timm_model` and `backbone_from_timm`.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from pathlib import Path

import timm
import timm.data

from rib_core.errors import ConfigError, RibError, UnknownNameError
from rib_core.options import Option, did_you_mean, option_values
from rib_core.models.base import Backbone, load_state_dict_file, state_dict_digest
from rib_core.models.digests import digest_of, may_fetch
from rib_core.preprocess import Preprocess

PREFIX = "timm:"
INTERPOLATIONS = ("bicubic", "bilinear", "nearest")
# timm tries these files in a hub repo when the pretrained config names none (safetensors first).
HUB_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


def load(name: str, *, weights: str | None = None, options: dict | None = None) -> Backbone:
    """Target of "timm:*": `name` is "timm:<timm model name>", e.g. "timm:vit_base_patch16_224.sam_in1k"."""
    model_name = name[len(PREFIX):] if name.startswith(PREFIX) else name
    if not model_name:
        raise ConfigError(f"model '{name}' names no timm model: write e.g. 'timm:vit_base_patch16_224.augreg_in1k'.")
    return load_timm_model(model_name, weights=weights, options=options)


load.accepted_options = {"model_kwargs": Option(dict, default={}, help="timm.create_model keyword arguments")}


def check_name(name: str) -> None:
    """Refuse a timm name that timm does not know, offline, before any work: 'arch' must be one of
    timm.list_models(), 'arch.tag' one of timm.list_pretrained()."""
    model_name = name[len(PREFIX):] if name.startswith(PREFIX) else name
    if not model_name:
        raise ConfigError(f"model '{name}' names no timm model: write e.g. 'timm:vit_base_patch16_224.augreg_in1k'.")
    known = timm.list_pretrained() if "." in model_name else timm.list_models()
    if model_name in known:
        return
    hint = did_you_mean(model_name, known, n=3, cutoff=0.6, shown=lambda c: f"'{PREFIX}{c}'").lstrip()
    hint = hint + "\n" if hint else ""
    what = "pretrained tag" if "." in model_name else "model"
    raise UnknownNameError(f"timm has no {what} '{model_name}' (model '{name}').\n{hint}"
                           "List them with: python -c \"import timm; print(timm.list_pretrained('*vit*'))\"")


def load_timm_model(model_name: str, *, weights: str | None = None, options: dict | None = None,
                    label: str | None = None) -> Backbone:
    """Create the timm model `model_name` with its pretrained (or `weights`) weights, as a Backbone.

    `label` is the name the user wrote (a plugin's friendly name), used in messages and recorded in `info`.
    The identity is "timm:<model_name>@<weights digest>" whatever the label: two names for the same timm
    weights (a plugin's friendly name and the timm name) share cached results.
    """
    label = label or f"{PREFIX}{model_name}"
    model_kwargs = _check_options(label, options)
    pretrained_cfg = _pretrained_cfg(model_name)
    _check_imagenet_head(label, model_name, pretrained_cfg, model_kwargs, weights)

    if weights is not None:
        model = _create_from_file(label, model_name, weights, model_kwargs)
        digest = digest_of(weights)
        source = str(weights)
    else:
        model = _create_from_hub(label, model_name, pretrained_cfg, model_kwargs)
        hub_file = _cached_hub_file(model.pretrained_cfg)
        digest = hub_file_digest(hub_file) if hub_file else state_dict_digest(model.state_dict())
        source = hub_file or f"hf-hub:{model.pretrained_cfg.get('hf_hub_id')}"

    identity = f"{PREFIX}{model_name}{model_kwargs_suffix(model_kwargs)}@{digest}"
    facts = {"name": label, "timm_model": model_name, "pretrained_tag": model.pretrained_cfg.get("tag"),
             "hf_hub_id": model.pretrained_cfg.get("hf_hub_id"), "weights": source}
    if model_kwargs:
        facts["model_kwargs"] = model_kwargs
    return backbone_from_timm(model, name=label, identity=identity, info=facts)


def backbone_from_timm(model, name: str, identity: str, info: dict | None = None) -> Backbone:
    """Wrap a created timm model: preprocessing from its pretrained config, its classifier as the head."""
    num_classes = getattr(model, "num_classes", None)
    if num_classes != 1000:
        raise RibError(f"'{name}' has a {num_classes}-way classifier; rib needs an ImageNet-1k (1000-way) head. "
                       f"Pick a weights tag fine-tuned on ImageNet-1k (e.g. one ending in _in1k or _ft_in1k).")
    classifier = model.pretrained_cfg.get("classifier") or "head"
    classifiers = (classifier,) if isinstance(classifier, str) else tuple(classifier)
    model.eval()
    return Backbone(model=model, preprocess=preprocess_from_timm(model, name),
                    head_prefixes=tuple(f"{c}." for c in classifiers), identity=identity, info=dict(info or {}))


def preprocess_from_timm(model, name: str) -> Preprocess:
    """timm's eval transform as a Preprocess: resize the shorter side to floor(size / crop_pct), centre crop."""
    config = timm.data.resolve_data_config(model=model)
    _, height, width = config["input_size"]
    # The pretrained config keeps the checkpoint's size when the model was built for another (img_size=...);
    # a fixed-size patch embedding knows the size the model really takes.
    built_size = getattr(getattr(model, "patch_embed", None), "img_size", None)
    if built_size is not None:
        height, width = built_size
    if height != width:
        raise RibError(f"'{name}' expects {height}x{width} inputs; rib only supports square inputs.")
    if config.get("crop_mode", "center") != "center":
        raise RibError(f"'{name}' uses timm crop_mode '{config['crop_mode']}'; rib only supports centre crops.")
    interpolation = config["interpolation"]
    if interpolation not in INTERPOLATIONS:
        raise RibError(f"'{name}' uses interpolation '{interpolation}'; rib supports {', '.join(INTERPOLATIONS)}.")
    return Preprocess(input_size=height, resize_size=math.floor(height / config["crop_pct"]),
                      interpolation=interpolation, mean=tuple(config["mean"]), std=tuple(config["std"]))


def hub_file_digest(path: str | Path) -> str:
    """Digest of a weights file, equal to `models.base.file_digest(path)`.

    A file in the Hugging Face cache is a link to a blob named by its SHA-256 (large files are stored that
    way), so the digest can be read off the name instead of hashing gigabytes on every load.
    """
    blob = Path(path).resolve().name
    if re.fullmatch(r"[0-9a-f]{64}", blob):
        return blob[:16]
    return digest_of(path)  # hashed once per (path, size, mtime) when big (rib_core/models/digests.py)


def model_kwargs_suffix(model_kwargs: dict) -> str:
    """Architecture changes (img_size, depth...) change results, so they are part of the identity."""
    if not model_kwargs:
        return ""
    text = json.dumps(model_kwargs, sort_keys=True, default=str)
    return "+kwargs-" + hashlib.sha256(text.encode()).hexdigest()[:8]


# -- internals --------------------------------------------------------------------------------------------

def _check_options(label: str, options: dict | None) -> dict:
    """The timm.create_model keyword arguments of a model entry (its options, checked as the suite's are)."""
    return dict(option_values(load.accepted_options, options, where=f"model '{label}'")["model_kwargs"])


def _pretrained_cfg(model_name: str):
    if not timm.is_model(model_name):
        architecture = model_name.partition(".")[0]
        hint = did_you_mean(architecture, timm.list_models(), n=3, cutoff=0.6, shown=str)
        raise ConfigError(f"timm has no model '{model_name}'.{hint} "
                          f"List candidates with: python -c \"import timm; "
                          f"print(timm.list_pretrained('*{architecture.split('_')[0]}*'))\"")
    try:
        return timm.models.get_pretrained_cfg(model_name, allow_unregistered=False)
    except RuntimeError as exc:  # an unknown tag, e.g. vit_base_patch16_224.nonexistent
        architecture = model_name.partition(".")[0]
        tags = timm.list_pretrained(f"{architecture}.*")
        raise ConfigError(f"timm has no weights '{model_name}' ({exc}). Known: {', '.join(tags) or 'none'}.") from exc


def _check_imagenet_head(label: str, model_name: str, pretrained_cfg, model_kwargs: dict, weights: str | None) -> None:
    """Refuse before downloading anything when the weights cannot give ImageNet-1k logits."""
    cfg_classes = pretrained_cfg.num_classes if pretrained_cfg is not None else 1000
    num_classes = model_kwargs.get("num_classes", cfg_classes)
    # From the hub, a head of another size than the checkpoint's is re-initialised at random by timm.
    if num_classes != 1000 or (weights is None and cfg_classes != 1000):
        architecture = model_name.partition(".")[0]
        in1k = [n for n in timm.list_pretrained(f"{architecture}.*") if n.endswith("in1k")]
        suggestion = f" ImageNet-1k tags of this model: {', '.join(in1k)}." if in1k else \
            " Pick a model tag fine-tuned on ImageNet-1k (ending in _in1k or _ft_in1k)."
        raise RibError(f"'{label}' (timm {model_name}) has a {cfg_classes if num_classes == 1000 else num_classes}-way "
                       f"classifier; rib needs an ImageNet-1k (1000-way) head.{suggestion}")


def _create_from_file(label: str, model_name: str, weights: str, model_kwargs: dict):
    path = Path(weights)
    if not path.is_file():
        raise RibError(f"weights file '{path}' for '{label}' does not exist. "
                       "Check the 'weights' entry of your suite or --weights.")
    if path.suffix == ".safetensors":
        # timm's own path, so its checkpoint filters (position-embedding resampling, CLIP conversions) apply.
        # custom_load would hand the file to a model-specific .npz reader. num_classes=1000 (checked above) keeps
        # the file's head even when the tag's own checkpoint has another head size (timm would drop it).
        overlay = {"file": str(path), "custom_load": False, "num_classes": 1000}
        try:
            return timm.create_model(model_name, pretrained=True, pretrained_cfg_overlay=overlay, **model_kwargs)
        except RuntimeError as exc:
            raise RibError(f"weights '{path}' do not fit '{label}' (timm {model_name}): {exc}") from exc
    model = timm.create_model(model_name, pretrained=False, **model_kwargs)
    state_dict = load_state_dict_file(path)
    try:
        model.load_state_dict(state_dict)
    except RuntimeError as exc:
        raise RibError(f"weights '{path}' do not fit '{label}' (timm {model_name}): {exc}") from exc
    return model


def _create_from_hub(label: str, model_name: str, pretrained_cfg, model_kwargs: dict):
    try:
        return timm.create_model(model_name, pretrained=True, **model_kwargs)
    except OSError as exc:
        # huggingface_hub's LocalEntryNotFoundError (offline, or no network and not cached) and urllib's
        # URLError are OSErrors.
        raise RibError(_offline_message(label, model_name, pretrained_cfg, exc)) from exc


def _offline_message(label: str, model_name: str, pretrained_cfg, exc: Exception) -> str:
    hub_id = getattr(pretrained_cfg, "hf_hub_id", None)
    filename = getattr(pretrained_cfg, "hf_hub_filename", None)
    where = (f"the Hugging Face repo '{hub_id}' (file {filename or ' or '.join(HUB_WEIGHT_FILES)})" if hub_id
             else f"{getattr(pretrained_cfg, 'url', None) or 'its download location'}")
    return (f"could not get the weights of '{label}' (timm {model_name}): they come from {where} and are neither in the "
            f"Hugging Face cache nor downloadable here ({type(exc).__name__}: {exc}).\n"
            f"Provide them locally, one of:\n"
            f"  - in the suite's model entry: weights = \"path/to/file.safetensors\" (or run with --weights);\n"
            f"  - pre-populate the Hugging Face cache on a machine with network access, e.g. "
            f"python -c \"import timm; timm.create_model('{model_name}', pretrained=True)\", "
            f"and copy the cache (HF_HOME) here.")


def _cached_hub_file(pretrained_cfg: dict) -> str | None:
    """The Hugging Face cache file timm loaded for this config, if it can be found without a download."""
    hub_id = pretrained_cfg.get("hf_hub_id")
    if not hub_id:
        return None
    from huggingface_hub import try_to_load_from_cache

    repo_id, _, revision = hub_id.partition("@")
    filenames = (pretrained_cfg["hf_hub_filename"],) if pretrained_cfg.get("hf_hub_filename") else HUB_WEIGHT_FILES
    for filename in filenames:
        found = try_to_load_from_cache(repo_id, filename, revision=revision or None)
        if isinstance(found, str):
            return found
    return None



def identity(name: str, *, weights: str | None = None, options: dict | None = None) -> str:
    """The identity `load` will give (registered as the `identity` hook, so it enters the cell keys)."""
    return timm_identity(name.removeprefix(PREFIX), weights=weights, options=options, label=name)


def timm_identity(model_name: str, *, weights: str | None = None, options: dict | None = None,
                  label: str | None = None) -> str:
    """"timm:<model_name>[+kwargs-...]@<digest of the weights file>", as `load_timm_model` names the backbone.

    Hub weights: the file timm loads from the Hugging Face cache (its blob name is its SHA-256; otherwise it is
    hashed, once per file). Not cached yet: they are downloaded first, as loading would, except while planning
    only (a dry run); then, and for weights that come from a URL instead of the Hub, the identity names where
    they come from.
    """
    label = label or f"{PREFIX}{model_name}"
    model_kwargs = _check_options(label, options)
    stem = f"{PREFIX}{model_name}{model_kwargs_suffix(model_kwargs)}"
    if weights:
        try:
            return f"{stem}@{digest_of(weights)}"
        except OSError:
            return f"{stem}@missing"  # rib refuses the run: the weights file does not exist
    pretrained_cfg = _pretrained_cfg(model_name)
    cfg = pretrained_cfg.to_dict() if hasattr(pretrained_cfg, "to_dict") else dict(pretrained_cfg or {})
    hub_file = _cached_hub_file(cfg)
    if hub_file is None and cfg.get("hf_hub_id") and may_fetch():
        try:
            timm.create_model(model_name, pretrained=True, **model_kwargs)  # downloads the file timm loads
        except Exception:  # offline, unreachable: loading will say so, with what to do
            pass
        hub_file = _cached_hub_file(cfg)
    if hub_file is not None:
        return f"{stem}@{hub_file_digest(hub_file)}"
    source = f"hf-hub:{cfg['hf_hub_id']}" if cfg.get("hf_hub_id") else cfg.get("url") or "unknown-source"
    return f"{stem}@{source}"


def architecture(name: str, *, options: dict | None = None):
    """(model with random weights, input size) for `rib bench --dry-run` to time: never downloads."""
    return timm_architecture(name.removeprefix("timm:"), options=options, label=name)


def timm_architecture(model_name: str, *, options: dict | None = None, label: str | None = None):
    model = timm.create_model(model_name, pretrained=False, **_check_options(label or model_name, options))
    return model, preprocess_from_timm(model, label or model_name).input_size


def weights_status(name: str, *, weights: str | None = None, options: dict | None = None) -> str | None:
    """None when `load` would find the weights without a download, else what is missing and how to get it.

    Used by `rib bench --dry-run`, which must work offline and before any weights are fetched.
    """
    return timm_weights_status(name.removeprefix("timm:"), weights=weights, label=name)


def timm_weights_status(model_name: str, *, weights: str | None = None, label: str | None = None) -> str | None:
    if weights:
        return None if Path(weights).is_file() else f"'{label or model_name}': weights file '{weights}' does not exist."
    try:
        pretrained_cfg = _pretrained_cfg(model_name)
    except Exception as exc:
        return f"'{label or model_name}': {exc}"
    cfg = pretrained_cfg.to_dict() if hasattr(pretrained_cfg, "to_dict") else dict(pretrained_cfg or {})
    if _cached_hub_file(cfg) is not None:
        return None
    hub_id = cfg.get("hf_hub_id")
    where = f"Hugging Face repo '{hub_id}'" if hub_id else (cfg.get("url") or "its download location")
    return (f"'{label or model_name}': weights not in the local Hugging Face cache (timm {model_name}, from {where}). "
            f"With network access they download on first use; offline, run python -c \"import timm; "
            f"timm.create_model('{model_name}', pretrained=True)\" where there is network and copy HF_HOME, "
            f"or set weights = \"path/to/file.safetensors\" in the suite.")
