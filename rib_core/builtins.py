"""The plugins that ship inside rib-core, registered through the same hooks a third party would use.

Targets are strings: nothing here imports torch, so `rib --help` and `rib list` stay fast.
"""

from rib_core.data.cards import CARDS
from rib_core.hookspecs import HOOKIMPL as hookimpl

D = "rib_core.data"


@hookimpl
def register_datasets(register):
    for card in CARDS.values():  # the ImageNet-RIB datasets: rib_core/data/cards.py
        register(card.name, card.target, card.description)
    register("hub:*", f"{D}.hub:HubDataset", "hub:<dataset>: CLIP_benchmark's webdataset shards on the Hugging Face Hub (rib-core[hub])")
    register("imagefolder", f"{D}.imagefolder:ImageFolder", "any ImageNet-labelled folder tree (wnid or index folders)")
    register("demo-*", "rib_core.demo.datasets:DemoDataset", "the offline demo's synthetic domains (demo-source, demo-photo, ...)")


@hookimpl
def register_models(register):
    register("timm:*", "rib_core.models.timm_loader:load",
             "any timm model with an ImageNet-1k head, e.g. timm:vit_base_patch16_224.augreg_in1k",
             weights_status="rib_core.models.timm_loader:weights_status",
             architecture="rib_core.models.timm_loader:architecture",
             check_name="rib_core.models.timm_loader:check_name", identity="rib_core.models.timm_loader:identity")
    register("demo/*", "rib_core.demo.backbones:load", "the offline demo's tiny ViTs, pretrained on the spot (demo/narrow, demo/broad)",
             architecture="rib_core.demo.backbones:architecture", check_name="rib_core.demo.backbones:check_name",
             identity="rib_core.demo.backbones:identity",
             label_space="rib-demo")  # rib_core.demo.LABEL_SPACE (not imported here: keeps `rib list` light)


@hookimpl
def register_strategies(register):
    S = "rib_core.strategies.builtin"
    register("ft", f"{S}:FullFineTune", "full fine-tuning of every parameter")
    register("lp", f"{S}:LinearProbe", "train only the classifier head (linear probe)")
    register("lp-ft", f"{S}:LinearProbeThenFineTune", "linear probe, then full fine-tuning from it")
    register("l2-sp", f"{S}:L2SP", "full fine-tuning plus weight * ||theta - theta0||^2 on backbone weights (L2-SP)")
    register("lwf", f"{S}:LearningWithoutForgetting", "KL distillation from the frozen pretrained model (LwF)")
    register("wise-ft", f"{S}:WiseFT", "fine-tune, then interpolate weights with the pretrained ones (WiSE-FT)")
    register("soup", "rib_core.strategies.soup:Soup", "average of pretrained and other strategies' fine-tuned weights (model soup)")
    register("freeze", f"{S}:Freeze", "no training: the pretrained model as the 'fine-tuned' one (RI is exactly 0)")


@hookimpl
def register_metrics(register):
    M = "rib_core.metrics.builtin"
    register("top1", f"{M}:Top1", "top-1 accuracy (%) on the dataset's own class set")
    register("ri", f"{M}:RobustnessImprovement", "RI_i: mean over j != i of A_i^(j) - A_pre^(j), with bootstrap CI")
    register("mri", f"{M}:MeanRobustnessImprovement", "mRI: mean of RI_i over fine-tuning sets, with bootstrap CI")
    register("ref-forgetting", f"{M}:ReferenceForgetting",
             "forgetting on the reference set (ImageNet-1k val): accuracy before - after, positive = forgot")
    register("forgetting", f"{M}:ReferenceChange",
             "deprecated (use ref-forgetting): accuracy change after - before on the reference set")
    register("id-gain", f"{M}:InDistributionGain", "accuracy change on the held-out part of the fine-tuning set")


@hookimpl
def register_formats(register):
    register("table", "rib_core.report.terminal:write", "the report as tables in the terminal (the default)")
    register("json", "rib_core.report.export:write_json", "the full report as JSON")
    register("csv", "rib_core.report.export:write_csv", "the accuracies table as CSV")
    register("html", "rib_core.report.html:write", "one self-contained results page (no network; -o FILE)")


@hookimpl
def register_launchers(register):
    register("local", "rib_core.engine.launch:LocalLauncher", "this process runs every cell (default; --shard and torchrun)")
