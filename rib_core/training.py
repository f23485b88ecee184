"""The suite's [training] table: each setting declared once (type, range, default, meaning) and validated once.

`TrainSettings.from_dict` is the only way a suite's table becomes settings: unknown keys get "did you mean",
wrong types and out-of-range values name the key. A zero or negative value that would not fail but silently
train nothing (clip_grad = -1 zeroes every gradient, max_steps = 0 reports the pretrained model as fine-tuned)
is refused by its declared range. docs/suites.md is generated from these declarations (rib_core/suite_docs.py).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from rib_core.errors import ConfigError
from rib_core.options import Option, check_value, did_you_mean

TRAINING_KEYS: dict[str, Option] = {
    "optimizer": Option(str, choices=("sgd", "adamw"), help="SGD with momentum, or AdamW"),
    "lr": Option(float, greater_than=0, help="peak learning rate (after warm-up; cosine decay to 0)"),
    "momentum": Option(float, minimum=0, less_than=1, help="SGD momentum"),
    "weight_decay": Option(float, minimum=0, help="weight decay (SGD: L2; AdamW: decoupled)"),
    "epochs": Option(int, greater_than=0, help="passes over the fine-tuning images"),
    "max_steps": Option(int, greater_than=0, help="stop after this many optimizer steps, when fewer than epochs give"),
    "warmup_steps": Option(int, minimum=0, help="linear learning-rate warm-up steps"),
    "batch_size": Option(int, greater_than=0, help="images per batch"),
    "grad_accum": Option(int, greater_than=0, help="batches per optimizer step (effective batch = batch_size x this)"),
    "clip_grad": Option(float, greater_than=0, help="maximum gradient norm; unset: no clipping"),
    "amp": Option(bool, help="bf16 autocast while training on CUDA (ignored on a CPU); evaluation: eval_precision"),
    "checkpoint_every_epoch": Option(bool, help="write a resumable checkpoint after every epoch"),
}


@dataclass(frozen=True)
class TrainSettings:
    """The suite's [training] table. Defaults follow the ImageNet-RIB reference code."""

    optimizer: str = "sgd"
    lr: float = 1e-3
    momentum: float = 0.9
    weight_decay: float = 0.0
    epochs: int = 10
    max_steps: int | None = None
    warmup_steps: int = 196  # linear warm-up, then cosine to 0
    batch_size: int = 64
    grad_accum: int = 1
    clip_grad: float | None = None
    amp: bool = True
    checkpoint_every_epoch: bool = True

    @classmethod
    def from_dict(cls, data: dict, where: str = "training") -> "TrainSettings":
        for key in data:
            if key not in TRAINING_KEYS:
                raise ConfigError(f"{where}: unknown key '{key}'.{did_you_mean(key, TRAINING_KEYS, cutoff=0.6)} "
                                  f"Known keys: {', '.join(TRAINING_KEYS)}.")
        for key, value in data.items():
            check_value(f"{where}.{key}", value, TRAINING_KEYS[key])
        # TOML writes 1 for a float setting: store it as the float it means.
        values = {k: float(v) if TRAINING_KEYS[k].kind is float else v for k, v in data.items()}
        return cls(**values)


assert [f.name for f in fields(TrainSettings)] == list(TRAINING_KEYS), "declare every setting once, in order"
