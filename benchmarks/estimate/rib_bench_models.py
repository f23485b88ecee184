"""Two models unlike the demo's, for benchmarks/bench_estimate.py: a BatchNorm CNN and a tiny timm ViT, both at the
demo's 32 px and labels (so they run on the demo's data), randomly initialised from a fixed seed (the estimate is
about time and size, not accuracy). Registered through a throwaway distribution the benchmark writes, like any
third-party plugin: `register_models` with `architecture=`."""

from __future__ import annotations

from rib_core.api import Backbone, Preprocess, hookimpl

PREPROCESS = dict(input_size=32, resize_size=32, interpolation="bilinear", mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))


@hookimpl
def register_models(register):
    for name, what in (("bench/bn-cnn", "3 conv-BatchNorm-ReLU blocks, BatchNorm1d before the head (32 px)"),
                       ("bench/tiny-vit", "timm vit_tiny_patch16_224 at 32 px, 8-px patches, 4 blocks")):
        register(name, "rib_bench_models:load", what, architecture="rib_bench_models:architecture",
                 label_space="rib-demo")


def build(name: str):
    import torch
    from torch import nn

    from rib_core.demo.pretrain import NUM_CLASSES  # the demo's classes: its data is what these run on

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        if name == "bench/bn-cnn":
            def block(cin, cout):
                return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]
            return nn.Sequential(*block(3, 32), nn.MaxPool2d(2), *block(32, 64), nn.MaxPool2d(2), *block(64, 128),
                                 nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.BatchNorm1d(128),
                                 nn.Linear(128, NUM_CLASSES))
        import timm

        return timm.create_model("vit_tiny_patch16_224", pretrained=False, img_size=32, patch_size=8, depth=4,
                                 num_classes=NUM_CLASSES)


def architecture(name: str, *, options=None):
    return build(name), PREPROCESS["input_size"]


def load(name: str, *, weights=None, options=None) -> Backbone:
    from rib_core.demo.pretrain import NUM_CLASSES

    head = ("14.",) if name == "bench/bn-cnn" else ("head.",)  # the Sequential's last Linear; the ViT's head
    return Backbone(model=build(name).eval(), preprocess=Preprocess(**PREPROCESS), head_prefixes=head,
                    identity=f"{name}@seed0", num_classes=NUM_CLASSES)
