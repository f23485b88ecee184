"""The "visual-prompt" strategy: learn a frame of pixels added around every (normalised) input image.

As the ImageNet-RIB released code ran it (`--regularization Prompter`, `--prompt_size 30`): a pad prompt, four
learnable strips of `width` pixels (top and bottom full width, left and right between them) over a zero centre,
added to the image after normalisation, right before the patch embedding; only the prompt is trained (the
backbone in eval mode), initialised from a standard normal. Here `train_head = true` also trains the head.

Stored like any fine-tuned model: the patch embedding is a convolution with zero padding, so
patch_embed(x + p) = patch_embed(x) + conv_without_bias(p), and `finalize` folds that fixed per-token term into
`pos_embed`. The stored weights have the backbone's own keys and evaluate at full speed; they equal the
prompted model up to float rounding (tests/test_visual_prompt.py bounds it). A zero prompt folds to the
pretrained weights exactly.
"""

from __future__ import annotations


import torch
import torch.nn.functional as F
from torch import nn

from rib_core.api import ConfigError, Option, RibError, Strategy, TrainContext

PROMPT = "visual_prompt"  # the attribute the prompt lives under while training (so the optimizer sees it)


class PadPrompt(nn.Module):
    """A frame of `width` learnable pixels around a `size` x `size` image; the centre stays zero."""

    def __init__(self, size: int, width: int, init: str = "randn"):
        super().__init__()
        self.size, self.width = size, width
        make = torch.randn if init == "randn" else torch.zeros
        self.top = nn.Parameter(make(1, 3, width, size))
        self.bottom = nn.Parameter(make(1, 3, width, size))
        self.left = nn.Parameter(make(1, 3, size - 2 * width, width))
        self.right = nn.Parameter(make(1, 3, size - 2 * width, width))

    def image(self) -> torch.Tensor:
        """The prompt as a (1, 3, size, size) image."""
        inner = self.size - 2 * self.width
        centre = torch.zeros(1, 3, inner, inner, dtype=self.top.dtype, device=self.top.device)
        middle = torch.cat([self.left, centre, self.right], dim=3)
        return torch.cat([self.top, middle, self.bottom], dim=2)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return images + self.image().to(images.dtype)


class VisualPrompt(Strategy):
    accepted_options = {
        "width": Option(int, default=30, minimum=1, help="pixels of the prompt frame on each side"),
        "train_head": Option(bool, default=False, help="train the classifier head too"),
        "init": Option(str, default="randn", choices=("randn", "zeros"),
                       help="the prompt's start: \"randn\" (the released code) or \"zeros\""),
    }

    def check(self, model) -> str | None:
        """A timm ViT whose patch embedding the prompt can be folded into, with room for the frame."""
        if model.module is not None and not foldable(model.module):
            return f"it {NOT_FOLDABLE}"
        size, width = model.input_size, self.params["width"]
        if size is not None and 2 * width >= size:
            return f"width {width} leaves no image inside its {size}-px input; use width < {(size + 1) // 2}"
        return None

    def setup(self, ctx: TrainContext) -> None:
        model, backbone = ctx.model, ctx.backbone
        if not foldable(model):
            raise RibError(f"strategy 'visual-prompt': backbone '{backbone.identity}' {NOT_FOLDABLE}.")
        size = backbone.preprocess.input_size
        width = self.params["width"]
        if 2 * width >= size:
            raise ConfigError(f"strategy 'visual-prompt': width {width} leaves no image inside a {size}-px input; "
                              f"use width < {(size + 1) // 2}.")
        model.requires_grad_(False)
        if self.params["train_head"]:
            for name, p in model.named_parameters():
                if backbone.is_head(name):
                    p.requires_grad_(True)
        if not hasattr(model, PROMPT):
            prompt = PadPrompt(size, width, self.params["init"]).to(ctx.device)
            setattr(model, PROMPT, prompt)
            ctx.state["hook"] = model.register_forward_pre_hook(lambda m, args: (prompt(args[0]), *args[1:]))
        model.eval()  # the released code trained the prompt with the backbone in eval mode

    def finalize(self, ctx: TrainContext) -> dict:
        model = ctx.model
        prompt = getattr(model, PROMPT)
        state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items() if not k.startswith(PROMPT + ".")}
        state["pos_embed"] = fold_into_pos_embed(model, prompt.image().detach()).cpu()
        return {"": state}


def fold_into_pos_embed(model, prompt_image: torch.Tensor) -> torch.Tensor:
    """pos_embed plus the patch embedding's (bias-free) response to the prompt image, on the patch tokens."""
    proj = model.patch_embed.proj
    with torch.no_grad():
        response = F.conv2d(prompt_image.to(proj.weight), proj.weight, None, proj.stride, proj.padding,
                            proj.dilation, proj.groups)
        tokens = response.flatten(2).transpose(1, 2)  # (1, patches, dim), the order PatchEmbed flattens in
        pos = model.pos_embed.detach().clone()
        start = 0 if getattr(model, "no_embed_class", False) else model.num_prefix_tokens
        pos[:, start:] += tokens.to(pos.dtype)
    return pos


NOT_FOLDABLE = ("is not a timm VisionTransformer with a plain convolutional patch embedding and a fixed "
                "pos_embed, so the prompt cannot be stored in its weights; visual-prompt needs a timm ViT (the "
                "paper's backbones)")


def foldable(model) -> bool:
    """Whether patch_embed(x + p) = patch_embed(x) + conv_without_bias(p) holds, so the prompt folds into pos_embed."""
    patch = getattr(model, "patch_embed", None)
    proj = getattr(patch, "proj", None)
    return (isinstance(proj, nn.Conv2d) and proj.padding_mode == "zeros"
            and isinstance(getattr(patch, "norm", None), nn.Identity)
            and isinstance(getattr(model, "pos_embed", None), torch.Tensor)
            and not getattr(model, "dynamic_img_size", False) and getattr(patch, "flatten", True))
