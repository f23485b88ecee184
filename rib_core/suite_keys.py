"""What a suite file may say: every key the core reads, with its type, range and meaning (rib_core/options.py).

rib_core/config.py validates suites against these declarations, and docs/suites.md is generated from them
(rib_core/suite_docs.py), so the two cannot drift. [training] is declared in rib_core/training.py.
"""

from rib_core.options import Option

# What the core itself reads from a suite; each value declares the key's type and range (rib_core/options.py).
# Adding a suite key is one line here (plus the Suite field it fills). Options of one dataset adapter, model loader
# or strategy are declared by that adapter, loader or strategy, not here.
CACHE_VALUES = (True, False, "auto")  # decoded-image cache; "auto": rib_core.data.base.use_cache
EVAL_IMAGES = ("all", "held-out", "held-out-sources")  # rib_core.engine.plan; docs/protocol.md
SUITE_KEYS = {
    "description": Option(str, help="one line shown by `rib list suites` and in reports"),
    "models": Option(list, help="backbones: names (\"timm:vit_base_patch16_224.augreg_in1k\") or tables "
                     "{ name, label, weights, <loader options> }"),
    "datasets": Option(list, help="the downstream datasets D_i (at least 2): names or tables "
                       "{ name, label, adapter, path, max_images, cache, <adapter options> }"),
    "reference": Option((str, dict), help="the in-distribution reference set (ImageNet-1k val), evaluated "
                        "before and after every fine-tune; also EWC's Fisher anchor"),
    "strategies": Option(list, help="fine-tuning strategies: names or tables { name, label, optional, <parameters> }"),
    "training": Option(dict, help="the [training] table (below)"),
    "seed": Option(int, minimum=0, help="seed of the split, image caps and (unless `seeds` is set) training"),
    "seeds": Option(list, items=int, minimum=0, help="training seeds: every fine-tune runs once per seed, and "
                    "reports give intervals over them"),
    "split": Option(float, help="fraction (between 0 and 1) of each D_i fine-tuned on; the rest is "
                    "its held-out part"),
    "eval_images": Option(str, choices=EVAL_IMAGES, help="which images of D_j (j != i) the fine-tuned model is "
                          "evaluated on: \"all\", only the \"held-out\" parts, or \"held-out-sources\": datasets "
                          "that share source images (ImageNet-C, -Cartoon, -Drawing, val) only on sources held out "
                          "from every fine-tune (docs/protocol.md)"),
    "eval_precision": Option(str, choices=("fp32", "bf16", "fp16"), help="evaluation precision (training: "
                             "[training] amp)"),
    "data_root": Option(str, help="folder holding the datasets (default: $RIB_DATA_ROOT)"),
    "cache": Option((bool, str), choices=CACHE_VALUES, help="decoded-image cache for every dataset that does not "
                    "say otherwise; \"auto\": when its images are larger than the model's input"),
    "allow_partial": Option(bool, help="run on datasets that fail their completeness check"),
    "allow_overlap": Option(bool, help="run although two datasets (or a dataset and the reference) hold the same "
                            "image files (RI would measure memorised images); by default that is refused before "
                            "any work"),
    "strict_images": Option(bool, help="stop at the first unreadable image instead of skipping and counting it"),
    "eval_batch_size": Option(int, minimum=1, help="images per evaluation batch (halved on out-of-memory)"),
    "metrics": Option(list, items=str, help="metrics to report; unset: every registered metric. top1, ri and mri are "
                      "always computed; the summary's Δ ref and ID gain columns need \"forgetting\" and "
                      "\"id-gain\" in the list"),
    "cpu_threads": Option(int, minimum=1, help="torch threads on a CPU device; unset: one per core"),
}
# The keys every entry of a kind may carry, whatever adapter, loader or strategy it names.
MODEL_KEYS = {
    "name": Option(str, help="the backbone's registered name"),
    "label": Option(str, help="its name in reports and cache keys (default: the name)"),
    "weights": Option(str, help="a local weights file (safetensors or a state dict) instead of the hub's"),
}
DATASET_KEYS = {
    "name": Option(str, help="the dataset's registered name"),
    "label": Option(str, help="its name in reports (default: the name); two entries of one dataset need two labels"),
    "adapter": Option(str, help="the registered adapter to read it with (default: the name)"),
    "path": Option(str, help="its folder, when not found under data_root"),
    "max_images": Option(int, minimum=1, help="a class-balanced cap on its images (quick runs)"),
    "cache": Option((bool, str), choices=CACHE_VALUES, help="this dataset's decoded-image cache (default: the "
                    "suite's `cache`)"),
}
STRATEGY_KEYS = {
    "name": Option(str, help="the strategy's registered name"),
    "label": Option(str, help="its name in reports (default: the name); two entries of one strategy need two labels"),
    "optional": Option(bool, help="skip it with a warning when its plugin is not installed"),
}
