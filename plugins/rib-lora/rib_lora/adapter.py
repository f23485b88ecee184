"""Low-rank adapters on fused attention projections, as weight parametrizations.

A fused projection stacks q, k and v row blocks in one (3*d, d_in) weight: timm's `Attention.qkv` Linear and
torch's `nn.MultiheadAttention.in_proj_weight` (open_clip's image towers) share that layout. LoRA adds
`scale * B @ A` (B: d x r, zero at start; A: r x d_in) to the chosen row blocks. Registering this as a
`torch.nn.utils.parametrize` parametrization of the weight tensor covers both module types without replacing
any module or its forward: the module keeps reading `self.weight` / `self.in_proj_weight`, which now returns
W + scale * delta. The frozen W lives at `<module>.parametrizations.<tensor>.original`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils import parametrize

BLOCKS = "qkv"  # row-block order of a fused projection


class LowRankDelta(nn.Module):
    """W -> W + scale * B_x @ A_x on row block x, for each x in `blocks` ("q", "k", "v")."""

    def __init__(self, weight: torch.Tensor, blocks: str, rank: int, scale: float):
        super().__init__()
        rows, cols = weight.shape
        self.block_rows = rows // 3
        self.blocks = blocks
        self.scale = scale
        for block in blocks:
            a = torch.empty(rank, cols, device=weight.device, dtype=torch.float32)
            # As loralib / peft: A like a Linear's default init, B zero, so training starts from W exactly.
            nn.init.kaiming_uniform_(a, a=math.sqrt(5))
            self.register_parameter(f"lora_A_{block}", nn.Parameter(a))
            self.register_parameter(f"lora_B_{block}", nn.Parameter(
                torch.zeros(self.block_rows, rank, device=weight.device, dtype=torch.float32)))

    def delta(self, block: str) -> torch.Tensor:
        return self.scale * (getattr(self, f"lora_B_{block}") @ getattr(self, f"lora_A_{block}"))

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        d = self.block_rows
        parts = []
        for i, block in enumerate(BLOCKS):
            rows = weight[i * d:(i + 1) * d]
            if block in self.blocks:
                rows = rows + self.delta(block).to(weight.dtype)
            parts.append(rows)
        return torch.cat(parts, dim=0)


@dataclass
class Target:
    module_name: str  # "" for the root module
    module: nn.Module
    tensor_name: str  # "weight" (timm qkv Linear) or "in_proj_weight" (nn.MultiheadAttention)

    @property
    def key(self) -> str:
        """The weight's name in the model's original state dict."""
        return f"{self.module_name}.{self.tensor_name}" if self.module_name else self.tensor_name


def find_fused_qkv(model: nn.Module, skip=lambda name: False) -> list[Target]:
    """Every fused q/k/v projection weight: Linear layers named "qkv" and `in_proj_weight` parameters."""
    targets = []
    for name, module in model.named_modules():
        if skip(name):
            continue
        if isinstance(module, nn.Linear) and name.rsplit(".", 1)[-1] == "qkv" and module.out_features % 3 == 0:
            targets.append(Target(name, module, "weight"))
            continue
        weight = module._parameters.get("in_proj_weight")  # nn.MultiheadAttention, open_clip's Attention
        if isinstance(weight, torch.Tensor) and weight.dim() == 2 and weight.shape[0] % 3 == 0:
            targets.append(Target(name, module, "in_proj_weight"))
    return targets


def add_adapters(targets: list[Target], blocks: str, rank: int, scale: float) -> list[LowRankDelta]:
    adapters = []
    for target in targets:
        adapter = LowRankDelta(getattr(target.module, target.tensor_name).detach(), blocks, rank, scale)
        parametrize.register_parametrization(target.module, target.tensor_name, adapter)
        adapters.append(adapter)
    return adapters


def merged_state_dict(model: nn.Module, targets: list[Target]) -> dict[str, torch.Tensor]:
    """The model's state dict in its original format: adapters folded into plain weights, no LoRA keys."""
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items() if ".parametrizations." not in f".{k}"}
    with torch.no_grad():
        for target in targets:
            state[target.key] = getattr(target.module, target.tensor_name).detach().cpu().clone()
    return state
