"""The fine-tuning strategy contract.

rib owns the training loop (optimizer, warm-up + cosine schedule, epochs, batching, gradient accumulation,
autocast, clipping, epoch checkpoints, NaN detection: see rib_core/engine/train.py). A strategy only says
what is different about it:

- `setup(ctx)`: choose trainable parameters (`requires_grad`), wrap modules (LoRA), precompute things (EWC's
  Fisher). Called once before training, also when resuming from a checkpoint.
- `extra_loss(ctx, images, logits, labels)`: a term added to the cross-entropy (L2-SP, EWC, LwF), or None.
- `finalize(ctx)`: after training, the weights to evaluate, in the backbone's original state-dict format
  (merge LoRA, interpolate for WiSE-FT). Several entries make several evaluated variants.
- `check(model)`: what this strategy needs of a model and the model lacks, or None. rib calls it at planning for
  every (model, strategy) pair of the suite on a `ModelInfo`, so a pair that cannot work is refused (exit 2)
  before any cell runs, and again on the loaded model before its fine-tune.

`ctx.model` is the backbone module being trained; `ctx.pretrained_state` the pretrained weights (CPU tensors).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator, Protocol

from rib_core.training import TrainSettings  # noqa: F401 (its home before 0.2; plugins import it here)


class TrainData(Protocol):
    """What `TrainContext.train_data` and `anchor_data` are: one dataset's images, ready for the model.

    `epoch(i)` yields (images, labels) batches on `ctx.device`: images normalised for the backbone, labels indices
    into `class_map`'s classes. The order is a function of the seed and `i` only, so a resumed run sees the same
    batches. `identity` changes whenever the images, their split or the preprocessing change, and `seed` is the
    seed of that order: use both in cache keys of anything computed from the batches (EWC's Fisher is cached by
    them).
    """

    batches_per_epoch: int
    identity: str
    seed: int
    class_map: object  # rib_core.api.ClassMap

    def epoch(self, index: int) -> Iterator[tuple]: ...


@dataclass
class ModelInfo:
    """What `Strategy.check` sees of a model: its architecture, never its weights.

    At planning, `module` is the model built by its registration's `architecture=` function on torch's meta
    device (shapes and module types, no memory, no download); before a fine-tune, the loaded model itself. It
    is None when neither is known (a plugin without `architecture=`): rib then checks the loaded model only, and
    `check` should return None when it cannot tell. `head_prefixes` are the classifier head's parameter-name
    prefixes ("head."), or None when not known at planning.
    """

    label: str  # the model's label in the suite
    module: object = None  # torch.nn.Module (meta device at planning), or None
    input_size: int | None = None  # the side of the square images the model takes
    head_prefixes: tuple[str, ...] | None = None
    source: str = ""  # "architecture" (meta device), "loaded model", or why nothing is known

    def is_head(self, param_name: str) -> bool:
        return any(param_name.startswith(p) for p in self.head_prefixes or ())

    @property
    def parameters(self) -> int | None:
        """The parameter count (shared parameters once), or None without a module."""
        return None if self.module is None else sum(p.numel() for p in self.module.parameters())


@dataclass
class TrainContext:
    """Everything a strategy may look at or change during fine-tuning."""

    backbone: object  # rib_core.models.Backbone
    class_map: object  # rib_core.data.ClassMap of the fine-tuning dataset
    settings: TrainSettings
    device: object  # torch.device
    pretrained_state: dict  # name -> CPU tensor, the weights before fine-tuning
    train_data: TrainData | None = None  # the fine-tuning images
    anchor_data: TrainData | None = None  # the reference set (EWC's Fisher anchor); None if the suite has none
    cache_dir: object = None  # a pathlib.Path a strategy may use to cache things across cells (EWC Fisher)
    load_stage: object = None  # callable(strategy_label) -> state dict of an earlier stage (lp-ft)
    state: dict = field(default_factory=dict)  # a strategy's own scratch space

    @property
    def model(self):
        return self.backbone.model


class Strategy:
    """Base class. Subclasses declare `accepted_options` (and what else below they need) and override the methods
    they need.

    Name and description come from registration only: `register("my-ft", "pkg.mod:MyFineTune", "what it does")`.
    rib sets `self.name` to the registered name before `__init__` runs. The training loop puts the model in train
    mode once, before `setup`, and never again: a strategy may pin modules' modes there (visual-prompt keeps the
    backbone in eval mode).
    """

    #: The name this strategy was registered under (set by rib; "" when the class is instantiated directly).
    name: str = ""
    #: The hyper-parameters it accepts, each with its default: {"rank": Option(int, default=8, minimum=1,
    #: help="...")}. The suite may set any of them and nothing else; `self.params` holds them all after __init__.
    accepted_options: dict = {}
    #: False for strategies that evaluate the pretrained weights unchanged ("freeze").
    trains: bool = True
    #: Another strategy whose finished weights this one starts from (lp-ft starts from "lp").
    init_from: str | None = None
    #: Raise when a code change changes results: it enters the keys of this strategy's cells.
    version: int = 1

    def __init__(self, params: dict | None = None):
        from rib_core.options import option_values

        self.params = option_values(self.declared_options(), params, where=f"strategy '{self.name}'")

    @classmethod
    def declared_options(cls) -> dict:
        from rib_core.options import declared_options

        return declared_options(cls)

    def first_stage(self, registry) -> tuple[str, "Strategy"]:
        """(registered name, instance) of the strategy whose finished weights this one starts from; only called
        when `init_from` is set. Default: `init_from` with its default options (lp-ft overrides it: `first`)."""
        return self.init_from, registry.get("strategies", self.init_from).create()

    def check(self, model: ModelInfo) -> str | None:
        """What this strategy needs that `model` lacks ("has no fused attention projection; LoRA needs a timm ViT
        or an open_clip image tower"), or None. rib names the strategy and the model around it. Default: a
        strategy that trains needs parameters to train."""
        if self.trains and model.module is not None and not any(True for _ in model.module.parameters()):
            return "the model has no parameters to train"
        return None

    def setup(self, ctx: TrainContext) -> None:
        """Default: every parameter is trained."""
        for p in ctx.model.parameters():
            p.requires_grad_(True)

    def extra_loss(self, ctx: TrainContext, images, logits, labels):
        """A loss term added to cross-entropy on the dataset's classes, or None. `logits` are projected."""
        return None

    def finalize(self, ctx: TrainContext) -> dict:
        """{variant: state_dict} to evaluate. "" is the plain result; WiSE-FT returns one per alpha."""
        return {"": {k: v.detach().cpu().clone() for k, v in ctx.model.state_dict().items()}}

    def variant_labels(self) -> list[str]:
        """The variants finalize() will return, known before training (the plan needs them)."""
        return [""]
