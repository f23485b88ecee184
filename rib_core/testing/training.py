"""The kit for testing a strategy or backbone plugin without data or downloads: tensors as training data, a tiny
timm ViT, a TrainContext as rib builds it for a cell, and rib's own training loop.

Plain functions and classes (torch is imported when they are called, so loading rib's pytest plugin stays light).
Imported from `rib_core.testing`.
"""

from __future__ import annotations


class TensorTrainData:
    """A `rib_core.api.TrainData` over tensors you give: `epoch(i)` yields (images, labels) batches, in a
    different seeded order each epoch when `shuffle` (the order the real training data uses is also a function
    of the seed and the epoch only)."""

    def __init__(self, images, labels, batch_size: int = 8, class_map=None, identity: str = "test-data",
                 shuffle: bool = True, seed: int = 0):
        self.images, self.labels, self.batch_size = images, labels, batch_size
        self.class_map, self.identity, self.shuffle, self.seed = class_map, identity, shuffle, seed
        self.batches_per_epoch = -(-len(images) // batch_size)

    def epoch(self, index: int):
        import torch

        n = len(self.images)
        order = (torch.randperm(n, generator=torch.Generator().manual_seed(self.seed * 1_000_003 + index)) if self.shuffle
                 else torch.arange(n))
        for start in range(0, n, self.batch_size):
            idx = order[start:start + self.batch_size]
            yield self.images[idx], self.labels[idx]


def random_train_data(n: int = 16, image_size: int = 16, num_classes: int = 10, batch_size: int = 8,
                      seed: int = 1, class_map=None, identity: str = "random") -> TensorTrainData:
    """Random images (n, 3, S, S) with random labels in [0, num_classes)."""
    import torch

    g = torch.Generator().manual_seed(seed)
    return TensorTrainData(torch.randn(n, 3, image_size, image_size, generator=g),
                           torch.randint(0, num_classes, (n,), generator=g), batch_size, class_map, identity)


def tiny_vit(num_classes: int = 10, image_size: int = 16, depth: int = 2, seed: int = 0):
    """A timm ViT small enough for a unit test (patch 8, width 16), with timm's real module names (blocks.N.attn.qkv,
    head, cls_token, pos_embed, norm), randomly initialised from `seed`."""
    import timm
    import torch

    torch.manual_seed(seed)
    return timm.create_model("vit_tiny_patch16_224", pretrained=False, img_size=image_size, patch_size=8,
                             embed_dim=16, depth=depth, num_heads=2, num_classes=num_classes)


def train_context(model, train_data=None, *, class_map=None, head_prefixes=("head.",), image_size: int = 16,
                  anchor_data=None, cache_dir=None, identity: str = "tiny@test", **settings):
    """A `rib_core.api.TrainContext` for `model` on the CPU, as rib builds it for a cell: pretrained state copied,
    training settings from keywords (defaults: lr 0.1, 2 epochs, 1 warm-up step, no autocast)."""
    import torch

    from rib_core.data.base import ClassMap
    from rib_core.models.base import Backbone
    from rib_core.preprocess import Preprocess
    from rib_core.strategies.base import TrainContext, TrainSettings

    num_classes = getattr(model, "num_classes", 10)
    class_map = class_map or ClassMap("imagenet-1k", tuple(f"c{i}" for i in range(num_classes)),
                                      tuple((i,) for i in range(num_classes)))
    backbone = Backbone(model=model, preprocess=Preprocess(input_size=image_size, resize_size=image_size),
                        head_prefixes=tuple(head_prefixes), identity=identity, num_classes=num_classes)
    settings = TrainSettings(**{"lr": 0.1, "epochs": 2, "warmup_steps": 1, "amp": False, **settings})
    return TrainContext(backbone=backbone, class_map=class_map, settings=settings, device=torch.device("cpu"),
                        pretrained_state={k: v.detach().clone() for k, v in model.state_dict().items()},
                        train_data=train_data if train_data is not None else random_train_data(
                            image_size=image_size, num_classes=class_map.num_classes),
                        anchor_data=anchor_data, cache_dir=cache_dir)


def fine_tune(ctx, strategy, work_dir, seed: int = 0, on_step=None) -> dict:
    """Run rib's own training loop (the one every cell uses) with `strategy`; returns {variant: state dict}.
    Epoch checkpoints go to `work_dir`, so calling it again with the same `work_dir` resumes."""
    from rib_core.engine.train import fine_tune as run

    return run(ctx, strategy, work_dir=work_dir, seed=seed, on_step=on_step)
