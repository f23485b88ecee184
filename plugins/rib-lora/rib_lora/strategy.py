"""The "lora" strategy: train low-rank adapters on attention q and v; merge them into the weights at the end."""

from __future__ import annotations

import numbers

from rib_core.api import ConfigError, Option, RibError, Strategy, TrainContext, trainable_extra

from rib_lora.adapter import BLOCKS, add_adapters, find_fused_qkv, merged_state_dict


NO_FUSED_QKV = ("has no fused attention projection (a Linear named 'qkv' or an nn.MultiheadAttention "
                "in_proj_weight); LoRA needs a timm ViT or an open_clip image tower")


class LoRA(Strategy):
    """LoRA (Hu et al., 2021) on each attention block's fused q/k/v projection.

    Parameters: `rank` (8), `alpha` (1: the update is scaled by alpha / rank, the loralib and peft convention;
    the ImageNet-RIB reference code used rank 8, alpha 1, i.e. a scale of 1/8), `targets` ("qv": which row
    blocks of the fused projection get an adapter; any of "q", "k", "v"), `train_head` (false: the classifier
    head stays frozen, as in the reference code), `trainable_extra` ("released": the base parameters the released
    code left trainable, i.e. cls_token, pos_embed, norm_pre and the final norm where present, because it froze
    only the blocks, patch_embed and head; `[]` freezes every base weight). `finalize` merges W + scale*B@A into
    plain weights so evaluation runs at full speed.
    """

    defaults = {"rank": 8, "alpha": 1.0, "targets": "qv", "train_head": False, "trainable_extra": "released"}
    option_checks = {"rank": Option(int, minimum=1), "alpha": Option(float, minimum=0.0),
                     "trainable_extra": Option((str, list), items=str)}

    def __init__(self, params: dict | None = None):
        super().__init__(params)
        p = self.params
        if not isinstance(p["rank"], int) or isinstance(p["rank"], bool) or p["rank"] < 1:
            raise ConfigError(f"strategy 'lora': rank must be a positive integer, got {p['rank']!r}.")
        if not isinstance(p["alpha"], numbers.Real) or isinstance(p["alpha"], bool) or p["alpha"] <= 0:
            raise ConfigError(f"strategy 'lora': alpha must be a number > 0, got {p['alpha']!r}.")
        targets = p["targets"]
        if (not isinstance(targets, str) or not targets or set(targets) - set(BLOCKS)
                or len(set(targets)) != len(targets)):
            raise ConfigError(f"strategy 'lora': targets must name attention projections from 'q', 'k', 'v' "
                              f"(e.g. 'qv' or 'qkv'), got {targets!r}.")
        if not isinstance(p["train_head"], bool):
            raise ConfigError(f"strategy 'lora': train_head must be true or false, got {p['train_head']!r}.")
        p["trainable_extra"] = trainable_extra.check_option(self.name, p["trainable_extra"])
        p["targets"] = "".join(b for b in BLOCKS if b in targets)  # canonical order
        p["alpha"] = float(p["alpha"])

    def check(self, model) -> str | None:
        """Fused attention projections to adapt (and the base parameters trainable_extra names)."""
        if model.module is None:
            return None
        if not find_fused_qkv(model.module, skip=model.is_head):
            return f"it {NO_FUSED_QKV}"
        return trainable_extra.missing_problem(model.module, self.params["trainable_extra"])

    def setup(self, ctx: TrainContext) -> None:
        model, backbone = ctx.model, ctx.backbone
        targets = find_fused_qkv(model, skip=backbone.is_head)
        if not targets:
            raise RibError(f"strategy 'lora': backbone '{backbone.identity}' {NO_FUSED_QKV}.")
        model.requires_grad_(False)
        rank = self.params["rank"]
        add_adapters(targets, self.params["targets"], rank, self.params["alpha"] / rank)
        trainable_extra.mark_trainable(model, self.name, self.params["trainable_extra"])
        if self.params["train_head"]:
            for name, p in model.named_parameters():
                if backbone.is_head(name):
                    p.requires_grad_(True)
        ctx.state["lora_targets"] = targets

    def finalize(self, ctx: TrainContext) -> dict:
        state = merged_state_dict(ctx.model, ctx.state["lora_targets"])
        order = [k for k in ctx.pretrained_state if k in state]  # the original key order, for tidy files
        return {"": {k: state[k] for k in order + [k for k in state if k not in ctx.pretrained_state]}}
