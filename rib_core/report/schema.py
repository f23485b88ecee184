"""The documented shape of rib's two outputs that code outside rib reads: the report dict (what a report format
receives and `rib report --format json` writes) and a cell's `record.json` (cells/<key>/record.json in --out).

Declarations, not code that builds them: rib_core/report/build.py builds the report and rib_core/engine/cells.py
writes the records; tests/test_schema.py keeps both equal to these declarations on a real run, and docs/plugins.md's
reference tables are generated from them (python -m rib_core.plugin_docs). Change a builder, then this.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Key:
    name: str
    type: str
    meaning: str
    keys: tuple["Key", ...] = ()  # the keys of each row (a list of dicts) or of the table (a dict)
    optional: bool = False  # present only where it applies


MODEL, STRATEGY = Key("model", "string", "the model's label"), Key("strategy", "string or null",
                                                                     "the strategy's label with its variant "
                                                                     "(`wise-ft[alpha=0.5]`); null: pretrained")
FT = Key("ft_dataset", "string or null", "the dataset fine-tuned on (D_i); null: pretrained")
SEED_SD = Key("seed_sd", "number or null", "standard deviation over training seeds (null: one seed)")
SEEDS = Key("seeds", "list", "the training seeds the value is the mean of")

CELL_COUNTS = ("done", "failed", "not run", "in progress", "pending")

REPORT_KEYS: tuple[Key, ...] = (
    Key("suite", "string", "the suite's name"),
    Key("eval_images", "string or null", "the suite's `eval_images`: `all`, `held-out` or `held-out-sources` (null: "
        "a run from before it was recorded)"),
    Key("seeds", "list of integers", "the suite's training seeds"),
    Key("status", "string", "`complete`, or what keeps the run from being complete (`2 cell(s) failed; 6 not run "
        "(a cell they need failed)`, `3 pending`)"),
    Key("cell_counts", "table", "cells of the plan per state: " + ", ".join(f"`{c}`" for c in CELL_COUNTS)),
    Key("datasets", "list of strings", "the suite's datasets D_i, in suite order"),
    Key("reference", "string or null", "the reference set's label (ImageNet-1k val), null when the suite has none"),
    Key("models", "list of strings", "the models' labels"),
    Key("strategies", "list of strings", "the strategies' labels, one per variant (`wise-ft[alpha=0.5]`)"),
    Key("accuracies", "list of rows", "every stored evaluation: top-1 accuracy (%)", (
        MODEL, STRATEGY, FT,
        Key("eval_dataset", "string", "the dataset evaluated on (D_j)"),
        Key("accuracy", "number", "top-1 accuracy in %, groups averaged level by level (ImageNet-C)"),
        Key("n_images", "integer", "images evaluated (unreadable ones excluded)"),
        Key("subset", "string", "which of its images: `all`, `held-out`, `held-out-sources`"),
        Key("seed", "integer or null", "the training seed (null: pretrained)"),
    )),
    Key("matrix", "list of rows", "what a table or figure shows per grid cell: the mean over its training seeds", (
        MODEL, STRATEGY, FT,
        Key("eval_dataset", "string", "the dataset evaluated on (D_j)"),
        Key("accuracy", "number", "mean top-1 accuracy (%) over the seeds that finished"),
        Key("n_seeds", "integer", "how many seeds that is"),
        Key("seeds", "list", "which (null for the pretrained model)"),
        Key("seed_sd", "number or null", "their standard deviation (null: one seed)"),
        Key("n_images", "integer or null", "images evaluated"),
        Key("subset", "string or null", "which of its images"),
    )),
    Key("ri", "list of rows", "RI_i per model, strategy and fine-tuning set", (
        MODEL, STRATEGY, FT,
        Key("ri", "number or null", "RI_i in points: mean over j != i of A_i^(j) - A_pre^(j)"),
        Key("ri_ci", "[low, high]", "its 95% cluster-bootstrap interval"), SEED_SD, SEEDS,
    )),
    Key("mri", "list of rows", "mRI per model and strategy", (
        MODEL, STRATEGY,
        Key("mri", "number", "mean of RI_i over the fine-tuning sets"),
        Key("mri_ci", "[low, high]", "its 95% cluster-bootstrap interval"), SEED_SD, SEEDS,
    )),
    Key("metrics", "list of rows", "the rows of every other metric (forgetting, id-gain, plugins' metrics) as each "
        "returned them: at least `metric`, `model`, `strategy`, `ft_dataset`, `eval_dataset`, `value`; any other "
        "key a metric adds (`ci`, `before`, ...) is kept"),
    Key("incomplete_cells", "integer", "planned evaluations with no stored result (failed, not run or pending)"),
    Key("pending_cells", "integer", "planned evaluations that nothing stops: the same `rib bench` finishes them"),
    Key("failures", "list of rows", "every cell that failed, fine-tunes and evaluations alike", (
        Key("cell", "string", "the cell's key (its folder under cells/; failed.json there has the traceback)"),
        Key("kind", "string", "`finetune` or `eval`"),
        Key("what", "string", "the cell in words (`fine-tune m / ft on imagenet-r`)"),
        Key("error", "string", "the first line of its error"),
        Key("seed", "integer or null", "its training seed"),
    )),
    Key("not_run", "list of rows", "evaluations that could not run because a cell they need failed", (
        Key("cell", "string", "the cell's key"), Key("kind", "string", "`eval` (or `finetune`: a later stage)"),
        Key("what", "string", "the cell in words"), Key("because", "string", "which cell failed"),
        Key("seed", "integer or null", "its training seed"),
    )),
    Key("superseded", "list of rows", "earlier plans of the suite whose finished cells are kept but not in this "
        "report (the suite was edited): `rib report DIR --suite NAME --plan FILE` shows one", (
            Key("file", "string", "the plan's manifest (runs/superseded/<suite>-<time>.json)"),
            Key("cells", "integer", "its finished cells that are not in the current plan"),
        )),
    Key("run", "table", "what the run was: `command` and `planned_at` (from its manifest), `source` (the suite "
        "file), `fingerprints` (per model and dataset label: what exactly it stood for, image counts), `versions` "
        "(rib, torch, timm, plugins that computed the stored cells) and `suite_table` (the suite as run)"),
    Key("results_dir", "string", "the results directory the report was made from"),
    Key("shared_sources", "list of rows", "under eval_images `all` or `held-out`: the (fine-tuning set, evaluated "
        "set) pairs whose evaluated images include renditions of the fine-tuning set's source images (ImageNet-C, "
        "-Cartoon, -Drawing and val share them); empty under `held-out-sources`", (
            FT, Key("eval_dataset", "string", "the dataset evaluated on"),
            Key("subset", "string", "which of its images were evaluated"),
            Key("evaluated", "integer", "images evaluated"), Key("shared", "integer", "of them, renditions of a "
                                                                     "fine-tuning source"),
            Key("unknown", "integer", "images whose source could not be told (no val id in the file name)"),
            Key("fraction", "number", "shared / evaluated"), Key("footnote", "string", "the sentence reports print"),
        )),
    Key("anchor_overlap", "table or null", "EWC's Fisher anchor against the evaluated reference images, when they "
        "overlap: `dataset`, `by` (source image or image), `evaluated`, `shared`, `fraction`, `footnote`"),
    Key("footnotes", "table", "per evaluated dataset (column): the footnote reports print under it"),
    Key("unreadable_images", "table", "per dataset, the images skipped as unreadable in its pre-evaluation"),
    Key("metric_errors", "list of strings", "one line per metric that raised (the others are still reported)"),
    Key("comparisons", "list of rows", "`rib report --compare A B` only: paired differences", optional=True),
    Key("against", "table", "`rib report --against paper` only: the paper's numbers next to rib's", optional=True),
)

_CELL = Key("cell", "table", "the planned cell: what it computes", (
    Key("kind", "string", "`eval` or `finetune`"),
    Key("key", "string", "its content key"),
    Key("model", "string", "the model's label"),
    Key("strategy", "string or null", "the strategy's label with its variant; null: the pretrained model"),
    Key("ft_dataset", "string or null", "the dataset fine-tuned on"),
    Key("eval_dataset", "string or null", "the dataset evaluated on (eval cells)"),
    Key("variant", "string", "the strategy variant evaluated (`alpha=0.5`; empty for the plain result)"),
    Key("subset", "string", "which images: `all`, `ft`, `held-out`, `held-out-sources`"),
    Key("deps", "list of strings", "keys of the cells it needs first"),
    Key("work", "integer", "image forwards (eval) or optimizer steps (finetune) it costs"),
    Key("strategy_name", "string or null", "the registered strategy that trains"),
    Key("finetune_key", "string or null", "post-evaluations: the fine-tune whose weights are evaluated"),
    Key("reported", "boolean", "false for stages that exist only as a dependency (lp of lp-ft)"),
    Key("pre_key", "string or null", "post-evaluations: the pre-evaluation of the same model on the same images"),
    Key("seed", "integer or null", "the training seed; null for pre-evaluations"),
))

_COMMON = (
    Key("kind", "string", "`eval` or `finetune`"),
    _CELL,
    Key("versions", "table", "rib, torch, python, timm and every installed plugin's version when it ran"),
    Key("device", "string", "the torch device it ran on"),
    Key("suite", "string", "the suite's name"),
    Key("backbone", "string", "the loaded Backbone.identity (recorded; the key holds what the plan knew)"),
    Key("files", "table", "file name -> SHA-256 of the cell's files (predictions, weights)"),
    Key("timing", "table", "`seconds` (and `images_per_s` for evaluations)"),
    Key("processes", "integer", "ranks under torchrun, when more than one", optional=True),
    Key("key", "string", "the cell's key (its folder name)"),
    Key("finished_at", "string", "when it was written (ISO 8601)"),
    Key("checksum", "string", "SHA-256 of the rest of the record: a record that does not match is rerun"),
)

RECORD_KEYS: dict[str, tuple[Key, ...]] = {
    "eval": _COMMON + (
        Key("accuracy", "number", "top-1 accuracy in % (the adapter's `accuracy()`)"),
        Key("n_images", "integer", "images evaluated"),
        Key("details", "table", "the adapter's details (ImageNet-C: per corruption and severity)"),
        Key("groups", "list of strings", "group names, indexed by predictions.safetensors' group_index"),
        Key("unreadable", "list of strings", "paths of the images skipped as unreadable"),
        Key("batch_size", "integer", "the evaluation batch size used (halved on out-of-memory)"),
        Key("precision", "string", "`fp32`, `bf16` or `fp16`"),
        Key("source_images", "string", "datasets sharing source images (ImageNet-C, -Cartoon, -Drawing, val): the "
            "family; predictions.safetensors then holds each image's `source_index`", optional=True),
    ),
    "finetune": _COMMON + (
        Key("strategy_params", "table", "the strategy's `params` (declared defaults filled in)"),
        Key("settings", "table", "the [training] settings"),
        Key("variants", "list of strings", "the variants `finalize` returned, one weights file each"),
        Key("train_log", "table or null", "loss and learning rate per step, steps done, resumed-from step"),
        Key("ft_images", "integer", "images fine-tuned on"),
        Key("ft_unreadable", "integer", "images of the fine-tuning part skipped as unreadable"),
    ),
}


def names(keys: tuple[Key, ...], *, optional: bool = True) -> set[str]:
    return {k.name for k in keys if optional or not k.optional}
