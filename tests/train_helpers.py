"""A tiny timm ViT and the engine's training context around it, for the tests of the training loop
(tests/test_train_loop.py, tests/test_divergence.py)."""

import torch

from rib_core.data.base import ClassMap
from rib_core.models.base import Backbone
from rib_core.preprocess import Preprocess
from rib_core.strategies.base import TrainContext, TrainSettings
from rib_core.testing import TensorTrainData

NUM_CLASSES = 10


def tiny_vit(drop_rate=0.0):
    import timm

    torch.manual_seed(0)
    return timm.create_model("vit_tiny_patch16_224", pretrained=False, img_size=16, patch_size=8, embed_dim=16,
                             depth=1, num_heads=2, num_classes=NUM_CLASSES, drop_rate=drop_rate)


def fake_train_data(n=24, batch_size=8):
    """The engine's TrainData interface: the batch order is a function of (seed, epoch) only."""
    g = torch.Generator().manual_seed(123)
    # dataset class indices (6 classes, see CLASS_MAP)
    return TensorTrainData(torch.randn(n, 3, 16, 16, generator=g), torch.randint(0, 6, (n,), generator=g), batch_size,
                           identity="fake")

# A 6-class dataset inside the model's 10 classes: the loss must run on the masked logits.
CLASS_MAP = ClassMap("imagenet-1k", tuple(f"c{i}" for i in range(6)), ((1,), (3,), (4,), (5,), (7,), (9,)))


def make_ctx(settings, model=None, data=None):
    model = model or tiny_vit()
    backbone = Backbone(model=model, preprocess=Preprocess(input_size=16, resize_size=16), head_prefixes=("head.",),
                        identity="tiny@test", num_classes=NUM_CLASSES)
    pretrained = {k: v.detach().clone() for k, v in model.state_dict().items()}
    return TrainContext(backbone=backbone, class_map=CLASS_MAP, settings=settings, device=torch.device("cpu"),
                        pretrained_state=pretrained, train_data=data or fake_train_data())


def settings(**kw):
    base = dict(lr=0.05, epochs=3, warmup_steps=2, batch_size=8, amp=False)
    return TrainSettings(**(base | kw))
