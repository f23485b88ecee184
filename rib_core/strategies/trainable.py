"""Which non-head, non-block parameters a strategy also trains: the `trainable_extra` option of lp and lora.

The ImageNet-RIB released code (main.py) never freezes a whole model. Its "HeadOnly" freezes `patch_embed` and
`blocks` only; its LoRA calls `mark_only_lora_as_trainable(model.blocks)` and freezes `patch_embed` and `head`.
In both, every other top-level parameter of a timm ViT stays trainable: the class token, the position
embedding, the pre- and final norms (and, on models that have them, register tokens, fc_norm, attention
pooling). "released" names that set; a list names top-level modules or parameters of the model.
"""

from __future__ import annotations

from rib_core.errors import ConfigError, RibError
from rib_core.options import Option

# Top-level timm VisionTransformer children/parameters outside patch_embed, blocks and head ("where present").
RELEASED = ("cls_token", "reg_token", "pos_embed", "norm_pre", "norm", "fc_norm", "attn_pool")
MUST = (f"must be \"released\" (the released code's set: {', '.join(RELEASED)}, where present) or a list of "
        "top-level parameter names, e.g. [\"cls_token\", \"pos_embed\"]")


def _checked(value) -> list[str] | str:
    if value == "released":
        return value
    if isinstance(value, list) and all(isinstance(v, str) and v for v in value):
        return list(value)
    raise ValueError(MUST)


def option(default) -> Option:
    """The declaration of a strategy's `trainable_extra` option, with that strategy's default."""
    return Option((str, list), items=str, default=default, check=_checked,
                  help="other parameters trained too: \"released\" (the released code's set) or top-level names")


def check_option(strategy_name: str, value) -> list[str] | str:
    """Validate a `trainable_extra` value: "released", or a list of top-level parameter/module names."""
    try:
        return _checked(value)
    except ValueError:
        raise ConfigError(f"strategy '{strategy_name}': trainable_extra {MUST}, got {value!r}.") from None


def missing_problem(model, value) -> str | None:
    """For `check`: the explicit names of `value` that `model` has no parameter under, said as a problem."""
    if value == "released" or model is None:
        return None
    tops = sorted({n.split(".", 1)[0] for n, _ in model.named_parameters()})
    missing = [n for n in value if n not in tops]
    if not missing:
        return None
    return (f"trainable_extra names {', '.join(missing)}, which the model has no parameter under (its top-level "
            f"names: {', '.join(tops)})")


def mark_trainable(model, strategy_name: str, value) -> list[str]:
    """Set requires_grad on every parameter under the named top-level names; returns the parameters marked.

    "released" skips the names a model lacks; an explicit name that matches no parameter is an error (a typo
    would otherwise silently train nothing extra).
    """
    names = RELEASED if value == "released" else tuple(value)
    marked, matched = [], set()
    for param_name, p in model.named_parameters():
        top = param_name.split(".", 1)[0]
        if top in names:
            p.requires_grad_(True)
            marked.append(param_name)
            matched.add(top)
    missing = [n for n in names if n not in matched]
    if value != "released" and missing:
        tops = sorted({n.split(".", 1)[0] for n, _ in model.named_parameters()})
        raise RibError(f"strategy '{strategy_name}': trainable_extra names {', '.join(missing)}, which the model "
                       f"has no parameter under. Its top-level names are: {', '.join(tops)}.")
    return marked
