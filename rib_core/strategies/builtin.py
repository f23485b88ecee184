"""The strategies that ship with rib: ft, lp, lp-ft, l2-sp, lwf, wise-ft, freeze.

Each says only what differs from full fine-tuning (see rib_core/strategies/base.py); the loop is
rib_core/engine/train.py.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F

from rib_core.errors import ConfigError, RibError, UsageError
from rib_core.strategies import trainable
from rib_core.options import Option
from rib_core.strategies.base import Strategy, TrainContext


class FullFineTune(Strategy):
    """Every parameter is trained (the base class's defaults are exactly full fine-tuning)."""


class LinearProbe(Strategy):
    """Only the classifier head is trained, plus the parameters `trainable_extra` names.

    `trainable_extra = []` (default): a true linear probe, nothing but the parameters under
    `backbone.head_prefixes` changes. `trainable_extra = "released"`: the released code's "HeadOnly", which also
    trains the class token, position embedding and pre-/final norms (rib_core/strategies/trainable.py).
    """

    accepted_options = {"trainable_extra": trainable.option(default=[])}

    def check(self, model) -> str | None:
        return head_problem(model) or trainable.missing_problem(model.module, self.params["trainable_extra"])

    def setup(self, ctx: TrainContext) -> None:
        found = False
        for name, p in ctx.model.named_parameters():
            is_head = ctx.backbone.is_head(name)
            p.requires_grad_(is_head)
            found = found or is_head
        if not found:
            raise RibError(f"strategy 'lp': backbone '{ctx.backbone.identity}' has no parameter under its "
                           f"head_prefixes {ctx.backbone.head_prefixes}; its loader must name the classifier head.")
        trainable.mark_trainable(ctx.model, self.name, self.params["trainable_extra"])


class LinearProbeThenFineTune(Strategy):
    """LP-FT: start from the finished first stage's weights (reused from the store when present), then train
    everything.

    The first stage is `lp` with its defaults (a true linear probe, head only) unless `first` names it:
    `first = { name = "lp", trainable_extra = "released" }` is the released code's LP-FT, whose first stage is its
    "HeadOnly" (head, class token, position embedding and norms). `name` defaults to "lp"; the other keys are
    that strategy's options, checked as in a suite entry. Unset, `first` is absent from the options, so the keys
    of lp-ft results stored before it existed stay valid (the first stage's key is part of lp-ft's key anyway).
    """

    init_from = "lp"
    accepted_options = {"first": Option(dict, help="the first stage: { name = \"lp\", <its options> }")}

    def __init__(self, params: dict | None = None):
        super().__init__(params)
        first = self.params.get("first")
        if first is not None:
            name = first.get("name", self.init_from)
            if not isinstance(name, str) or not name:
                raise ConfigError(f"strategy '{self.name}': first.name must be a strategy name such as \"lp\", "
                                  f"got {name!r}.")
            self.params["first"] = {"name": name, **{k: v for k, v in first.items() if k != "name"}}

    @property
    def first_name(self) -> str:
        return (self.params.get("first") or {}).get("name", self.init_from)

    def first_stage(self, registry) -> tuple[str, Strategy]:
        options = {k: v for k, v in (self.params.get("first") or {}).items() if k != "name"}
        try:
            stage = registry.get("strategies", self.first_name).create(options)
        except UsageError as exc:  # an unknown name, or options its strategy does not take
            raise ConfigError(f"strategy '{self.name}', option first: {exc}") from None
        if stage.init_from or getattr(stage, "ingredients", None) or not stage.trains:
            raise ConfigError(f"strategy '{self.name}': first = {{ name = \"{self.first_name}\" }} must be a "
                              "strategy that trains from the pretrained weights (such as lp), not one that starts "
                              "from another stage, combines results or does not train.")
        return self.first_name, stage

    def check(self, model) -> str | None:
        return head_problem(model) or super().check(model)  # its first stage is lp: a head to probe

    def setup(self, ctx: TrainContext) -> None:
        ctx.model.load_state_dict(ctx.load_stage(self.first_name), strict=True)
        super().setup(ctx)


class L2SP(Strategy):
    """Full fine-tuning plus weight * sum over parameters of ||theta - theta0||^2.

    L2-SP (Li et al., 2018) pulls the weights towards the pretrained starting point rather than towards 0. The
    default weight 0.01 keeps the penalty of a ViT-B/16 (86M weights moving by ~1e-3 each: ~0.9) on the scale of
    the cross-entropy. The released code's "EWC" (`ewc_penalty`) is this penalty with weight 1 summed over every
    parameter, the head included: `weight = 1` with the default `include_head = true` reproduces it.
    `include_head = false` leaves the head free to fit the new dataset (the original L2-SP's choice).
    """

    accepted_options = {
        "weight": Option(float, default=0.01, minimum=0.0, check=float, help="weight of the penalty"),
        "include_head": Option(bool, default=True, help="pull the classifier head towards its start too"),
    }

    def setup(self, ctx: TrainContext) -> None:
        super().setup(ctx)
        anchors = []
        for name, p in ctx.model.named_parameters():
            if self.params["include_head"] or not ctx.backbone.is_head(name):
                anchors.append((p, ctx.pretrained_state[name].to(device=p.device, dtype=p.dtype)))
        ctx.state["l2sp_anchors"] = anchors

    def extra_loss(self, ctx, images, logits, labels):
        penalty = sum((p - p0).pow(2).sum() for p, p0 in ctx.state["l2sp_anchors"])
        return self.params["weight"] * penalty


class LearningWithoutForgetting(Strategy):
    """Full fine-tuning plus weight * KL(teacher || student) at temperature T, batch-averaged.

    The teacher is a frozen copy of the pretrained model (eval mode) run on the same images; both models'
    logits are projected onto the fine-tuning dataset's classes first (the masked logits), as in the
    reference code. No T^2 factor, as in the LwF paper and the reference code (T=2, weight 1); set
    weight = T^2 for Hinton et al.'s gradient scaling.
    """

    accepted_options = {
        "temperature": Option(float, default=2.0, greater_than=0.0, check=float, help="distillation temperature T"),
        "weight": Option(float, default=1.0, minimum=0.0, check=float, help="weight of the distillation term"),
    }

    def setup(self, ctx: TrainContext) -> None:
        super().setup(ctx)
        teacher = copy.deepcopy(ctx.model)
        teacher.load_state_dict(ctx.pretrained_state, strict=True)
        teacher.eval().requires_grad_(False)
        ctx.state["lwf_teacher"] = teacher

    def extra_loss(self, ctx, images, logits, labels):
        with torch.no_grad():
            teacher_logits = ctx.class_map.project(ctx.state["lwf_teacher"](images))
        return self.params["weight"] * distillation_kl(logits, teacher_logits, self.params["temperature"])


def distillation_kl(student_logits, teacher_logits, temperature: float):
    """KL(softmax(teacher / T) || softmax(student / T)), summed over classes, averaged over the batch."""
    log_p_student = F.log_softmax(student_logits.float() / temperature, dim=1)
    log_p_teacher = F.log_softmax(teacher_logits.float() / temperature, dim=1)
    return F.kl_div(log_p_student, log_p_teacher, reduction="batchmean", log_target=True)


def _alphas(alphas) -> list[float]:
    """A number or a list of them (type and range already checked), as a list of distinct floats."""
    alphas = alphas if isinstance(alphas, list) else [alphas]
    if not alphas:
        raise ValueError("must list at least one weight, e.g. alphas = [0.25, 0.5]")
    if len({_alpha_label(a) for a in alphas}) != len(alphas):
        raise ValueError("must not repeat a value")
    return [float(a) for a in alphas]


class WiseFT(Strategy):
    """Fine-tune every parameter, then evaluate theta = (1 - alpha) * theta0 + alpha * theta_ft per alpha.

    Each alpha is its own evaluated variant ("alpha=0.5"), all from one training run. Every floating-point
    tensor is interpolated (buffers too); integer buffers are taken from the fine-tuned model. alpha=0 gives the
    pretrained weights exactly and alpha=1 the fine-tuned ones. Model soups' Soup(PRE, FT) is alpha=0.5.
    """

    accepted_options = {"alphas": Option((list, float), items=float, default=[0.5], minimum=0.0, maximum=1.0,
                                         check=_alphas,
                                         help="interpolation weights of the fine-tuned model, one variant each")}

    def variant_labels(self) -> list[str]:
        return [_alpha_label(a) for a in self.params["alphas"]]

    def finalize(self, ctx: TrainContext) -> dict:
        finetuned = {k: v.detach().cpu() for k, v in ctx.model.state_dict().items()}
        return {_alpha_label(a): interpolate(ctx.pretrained_state, finetuned, a) for a in self.params["alphas"]}


def interpolate(theta0: dict, theta1: dict, alpha: float) -> dict:
    """(1 - alpha) * theta0 + alpha * theta1 for floating tensors (computed in float32 at least), else theta1."""
    out = {}
    for name, t1 in theta1.items():
        if not t1.is_floating_point():
            out[name] = t1.clone()
            continue
        t0 = theta0[name]
        wide = torch.promote_types(t1.dtype, torch.float32)
        # Written as a weighted sum, not a lerp: alpha = 0 and 1 then reproduce theta0 and theta1 bit for bit.
        mixed = (1.0 - alpha) * t0.to(wide) + alpha * t1.to(wide)
        out[name] = mixed.to(t1.dtype)
    return out


def _alpha_label(alpha: float) -> str:
    return f"alpha={float(alpha):g}"



class Freeze(Strategy):
    """No training at all: the pretrained weights are the "fine-tuned" model, so RI is exactly 0 (a sanity row)."""

    trains = False

    def finalize(self, ctx: TrainContext) -> dict:
        return {"": {k: v.detach().cpu().clone() for k, v in ctx.pretrained_state.items()}}


def head_problem(model) -> str | None:
    """What a linear probe needs: parameters under the model's classifier head (when the head is known)."""
    if model.module is None or model.head_prefixes is None:
        return None
    if any(model.is_head(name) for name, _ in model.module.named_parameters()):
        return None
    return (f"it has no parameter under its classifier head {list(model.head_prefixes)}, and a linear probe trains "
            "only the head; the model's loader must name its head (Backbone.head_prefixes)")


