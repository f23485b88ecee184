"""The "lora" strategy: train low-rank adapters on attention q and v; merge them into the weights at the end."""

from __future__ import annotations

from rib_core.api import Option, RibError, Strategy, TrainContext, trainable_extra

from rib_lora.adapter import BLOCKS, add_adapters, find_fused_qkv, merged_state_dict


def _targets(targets: str) -> str:
    """Attention projections from "q", "k", "v", each once, in their canonical order."""
    if not targets or set(targets) - set(BLOCKS) or len(set(targets)) != len(targets):
        raise ValueError("must name attention projections from 'q', 'k', 'v' (e.g. 'qv' or 'qkv')")
    return "".join(b for b in BLOCKS if b in targets)


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

    accepted_options = {
        "rank": Option(int, default=8, minimum=1, help="rank of each adapter"),
        "alpha": Option(float, default=1.0, greater_than=0.0, check=float, help="the update is scaled by alpha / rank"),
        "targets": Option(str, default="qv", check=_targets,
                          help="which row blocks of the fused q/k/v projection get an adapter"),
        "train_head": Option(bool, default=False, help="train the classifier head too"),
        "trainable_extra": trainable_extra.option(default="released"),
    }

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

