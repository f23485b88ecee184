"""The fine-tuning loop. rib owns it; a strategy only changes what rib_core/strategies/base.py lets it change.

One call, `fine_tune(ctx, strategy, work_dir=..., seed=...)`:

1. seeds torch / numpy / random from `seed`, puts the model in train mode and calls `strategy.setup(ctx)`;
2. builds the optimizer over the parameters left with `requires_grad` (SGD with momentum, or AdamW);
3. resumes from the last valid epoch checkpoint in `work_dir`, if there is one;
4. trains: each optimizer step takes `grad_accum` batches of cross-entropy on the dataset's projected logits
   plus `strategy.extra_loss`, under bf16 autocast on CUDA, with optional gradient clipping, a learning rate
   that is a pure function of the step (`lr_at`, so a resumed run follows the same schedule), and a check
   that the loss and the gradients' norm are finite before the weights are touched (`TrainingDiverged`:
   "training diverged at step N/T: the loss is nan ... Lower [training] lr, set clip_grad, ...", which the
   runner records as the cell's failure);
5. writes an epoch checkpoint after every epoch and `train_log.json` (loss and lr per step);
6. returns `strategy.finalize(ctx)`: {variant: state dict}.

Checkpoints (rib_core.engine.checkpoint) hold no pickles, and a pair torn by a crash is detected. The final checkpoint is kept, so a run killed after training
but before its weights were stored finalizes again without retraining. Resuming reproduces an uninterrupted run
bit for bit on CPU.
"""

from __future__ import annotations

import functools
import logging
import math
import random
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from rib_core.engine import distributed, evaluate
from rib_core.engine.checkpoint import CHECKPOINT_FORMAT, Run, load_checkpoint, restore, save_checkpoint
from rib_core.engine.store import atomic_write_json
from rib_core.errors import RibError

log = logging.getLogger(__name__)

TRAIN_LOG = "train_log.json"


class TrainingDiverged(RibError):
    """The loss became NaN or infinite."""


# -- schedule ----------------------------------------------------------------------------------------------
def count_steps(settings, batches_per_epoch: int) -> int:
    """Optimizer steps of a run: epochs * ceil(batches / grad_accum), capped by max_steps."""
    steps = settings.epochs * math.ceil(batches_per_epoch / settings.grad_accum)
    if settings.max_steps is not None:
        steps = min(steps, settings.max_steps)
    return steps


def lr_at(step: int, total_steps: int, settings) -> float:
    """Learning rate of optimizer step `step` (0-based) out of `total_steps`.

    Linear warm-up, lr * (step + 1) / W over the first W = min(warmup_steps, total_steps) steps (so the first
    step already moves), then a cosine from lr down to 0: lr * (1 + cos(pi * (step - W) / (total - W))) / 2.
    The cosine reaches 0 just after the last step, so no step is spent at lr 0.
    """
    warmup = min(settings.warmup_steps, total_steps)
    if step < warmup:
        return settings.lr * (step + 1) / warmup
    progress = (step - warmup) / max(1, total_steps - warmup)
    return settings.lr * 0.5 * (1.0 + math.cos(math.pi * progress))


# -- the loop ----------------------------------------------------------------------------------------------
def fine_tune(ctx, strategy, *, work_dir: Path, seed: int, on_step=None) -> dict[str, dict]:
    """Fine-tune `ctx.model` with `strategy`; returns {variant: state dict} from `strategy.finalize(ctx)`.

    `on_step(step, total_steps, loss)` is called after every optimizer step (`step` counts from 1).
    """
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    if not strategy.trains:
        atomic_write_json(work_dir / TRAIN_LOG, {"trained": False, "strategy": strategy.name})
        return strategy.finalize(ctx)

    settings, model, data = ctx.settings, ctx.model, ctx.train_data
    _seed_everything(seed)
    model.train()  # before setup, so that a strategy may put parts of the model back in eval mode
    strategy.setup(ctx)
    trainable = [(name, p) for name, p in model.named_parameters() if p.requires_grad]
    if not trainable:
        raise RibError(f"strategy '{strategy.name}' left no parameter trainable: nothing to fine-tune. "
                       "Check the strategy's setup() (for 'lp': the backbone's head_prefixes).")
    params = [p for _, p in trainable]
    optimizer = _make_optimizer(params, settings, ctx.device)
    network = distributed.wrap_for_training(model)  # DDP under torchrun, else the model itself
    project = ctx.class_map.projector(ctx.device)  # logits on the dataset's classes (200-class mask, ObjectNet)

    def forward(images):
        return project(network(images))

    n_batches = data.batches_per_epoch
    total = count_steps(settings, n_batches)
    if settings.warmup_steps >= total:
        log.warning("warmup_steps (%d) >= total steps (%d): the learning rate never reaches lr=%g.",
                    settings.warmup_steps, total, settings.lr)
    # What a checkpoint must match to be resumed from (the work_dir is per cell, this guards against the rest).
    signature = {"format": CHECKPOINT_FORMAT, "strategy": strategy.name, "total_steps": total,
                 "batches_per_epoch": n_batches, "grad_accum": settings.grad_accum,
                 "trainable": [[name, list(p.shape)] for name, p in trainable]}

    run = Run(total=total)
    start_epoch = 0
    checkpoint = load_checkpoint(work_dir, signature)
    if checkpoint is not None:
        start_epoch = restore(checkpoint, model, optimizer, run)
        run.resumed_from = run.step
        log.info("resuming '%s' from its checkpoint at step %d/%d", strategy.name, run.step, total)

    precision = "bf16" if settings.amp and ctx.device.type == "cuda" else None
    autocast = functools.partial(evaluate.autocast, ctx.device, precision)

    def write_log():
        atomic_write_json(work_dir / TRAIN_LOG, {
            "trained": True, "strategy": strategy.name, "params": strategy.params, "total_steps": total,
            "steps_done": run.step, "batches_per_epoch": n_batches, "resumed_from_step": run.resumed_from,
            "loss": run.losses, "lr": run.lrs})

    for epoch in range(start_epoch, settings.epochs):
        if run.step >= total:
            break
        for group in _step_groups(data.epoch(epoch), n_batches, settings.grad_accum):
            if run.step >= total:
                break
            _optimizer_step(ctx, strategy, forward, optimizer, params, group, run, autocast)
            if on_step is not None:
                on_step(run.step, total, run.losses[-1])
        if settings.checkpoint_every_epoch and distributed.is_main():
            save_checkpoint(work_dir, signature, model, optimizer, epoch=epoch + 1, run=run)
        if distributed.is_main():
            write_log()
        distributed.barrier()
    if distributed.is_main():
        write_log()
    return strategy.finalize(ctx)


def _step_groups(batches, n_batches: int, grad_accum: int):
    """Yield, per optimizer step, a generator over its `grad_accum` batches (fewer for an epoch's last group).

    The batches stay lazy (a group never holds more than one batch on the device at once); each group is
    yielded as (size, iterator) so the loss can be divided by the group's real size.
    """
    iterator = iter(batches)
    for start in range(0, n_batches, grad_accum):
        size = min(grad_accum, n_batches - start)
        yield size, _take(iterator, size)


def _take(iterator, n: int):
    for _ in range(n):
        try:
            yield next(iterator)
        except StopIteration:
            raise RuntimeError("the training data yielded fewer batches than its batches_per_epoch") from None


def _optimizer_step(ctx, strategy, forward, optimizer, params, group, run: Run, autocast) -> None:
    size, batches = group
    lr = lr_at(run.step, run.total, ctx.settings)
    for param_group in optimizer.param_groups:
        param_group["lr"] = lr
    optimizer.zero_grad(set_to_none=True)
    step_loss = None
    for images, labels in batches:
        with autocast():
            logits = forward(images)
            loss = F.cross_entropy(logits.float(), labels)
            extra = strategy.extra_loss(ctx, images, logits, labels)
            if extra is not None:
                loss = loss + extra.float()
        (loss / size).backward()
        step_loss = loss.detach() / size if step_loss is None else step_loss + loss.detach() / size
    if distributed.active():  # every rank must agree on divergence, or the others would wait forever
        torch.distributed.all_reduce(step_loss)  # SUM: gloo has no AVG
        step_loss = step_loss / distributed.world_size()
    # The gradients' total norm (under DDP already averaged, so equal on every rank); clipping computes it anyway.
    grads = [p.grad for p in params if p.grad is not None]
    if ctx.settings.clip_grad is not None:
        norm = torch.nn.utils.clip_grad_norm_(params, ctx.settings.clip_grad)
    else:
        norm = torch.nn.utils.get_total_norm(grads) if grads else torch.zeros((), device=step_loss.device)
    # One device sync per step, for both checks (the loss is needed for progress anyway).
    value, grad_norm = torch.stack([step_loss.float(), norm.float().to(step_loss.device)]).tolist()
    if not (math.isfinite(value) and math.isfinite(grad_norm)):
        raise TrainingDiverged(divergence_message(run, value, grad_norm, ctx.settings))
    optimizer.step()
    run.step += 1
    run.losses.append(value)
    run.lrs.append(lr)


def divergence_message(run: Run, loss: float, grad_norm: float, settings) -> str:
    """What a fine-tune whose loss or gradients stopped being finite fails with (its cell's failed.json)."""
    if math.isfinite(loss):
        what = f"the loss is {loss:.6g} but the gradients' norm is {grad_norm}"
    else:
        what = f"the loss is {loss}"
    if settings.clip_grad is None:
        fix = "Lower [training] lr, set clip_grad,"
    else:  # clipping scales the gradients by clip_grad / norm: nothing finite comes of an infinite norm
        fix = f"Lower [training] lr (clip_grad = {settings.clip_grad:g} cannot scale a non-finite gradient)"
    return (f"training diverged at step {run.step + 1}/{run.total}: {what} (last finite loss: "
            f"{run.last_finite_loss()}). {fix} or lower the strategy's weights; the weights before this step were "
            "not changed.")


def _make_optimizer(params, settings, device):
    # fused kernels on CUDA (one launch for all parameters); torch's default (foreach) elsewhere.
    fast = {"fused": True} if device.type == "cuda" else {}
    if settings.optimizer == "sgd":
        return torch.optim.SGD(params, lr=settings.lr, momentum=settings.momentum,
                               weight_decay=settings.weight_decay, **fast)
    return torch.optim.AdamW(params, lr=settings.lr, weight_decay=settings.weight_decay, **fast)


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # seeds every CUDA device too
