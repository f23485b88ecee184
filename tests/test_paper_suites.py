"""The paper's ready-made suites: dry runs offline, and paper-quick end to end on tiny stand-ins."""

import json

import pytest

from rib_core.config import PACKAGED_SUITES, read_toml
from rib_core.data.fixtures import make_dataset_tree
from rib_core.testing.toy import TINY_OPEN_CLIP as TINY_CLIP
from rib_core.testing.toy import TINY_TIMM_VIT as TINY
from rib_core.testing.toy import suite_text

# The paper's grid is sized from its real models: 7 ViT-B/16 built (and initialised) on the CPU, seconds each.
PAPER_SUITES = (pytest.param("paper", marks=pytest.mark.slow), "paper-quick", "zero-shot")


@pytest.fixture
def offline(tmp_path, monkeypatch, offline_hub):
    """No model hub (an empty offline Hugging Face cache), rib's cache in tmp_path/cache, no RIB_DATA_ROOT, and a
    working directory without benchmarks.toml (the packaged suites are used)."""
    monkeypatch.setenv("RIB_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("RIB_DATA_ROOT", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("suite", PAPER_SUITES)
def test_dry_run_lists_the_grid_and_what_is_missing_offline(offline, run_rib, suite):
    result = run_rib("bench", "--suite", suite, "--dry-run", "--no-calibrate", "--out", str(offline / "out"))
    assert result.exit_code == 0, result.stderr
    out = " ".join(result.stdout.split())  # rich wraps long lines
    assert "cells (eval + fine-tune)" in out
    assert "dataset 'imagenet-r' not found" in out and "github.com/hendrycks/imagenet-r" in out
    assert "weights not in the local Hugging Face cache" in out
    assert "estimated time" in out


def test_running_a_suite_without_its_data_refuses_with_exit_2(offline, run_rib):
    result = run_rib("bench", "--suite", "paper-quick", "--out", str(offline / "out"))
    assert result.exit_code == 2
    assert "cannot start suite 'paper-quick'" in result.stderr and "Traceback" not in result.stderr
    assert not (offline / "out" / "cells").exists()


def write_suite(path, name: str, suite: dict) -> None:
    path.write_text(suite_text(name, {k: v for k, v in suite.items() if k != "training"}, suite["training"]))


def bench_and_report(suite_path, bench, run_rib) -> dict:
    """Run a suite file offline on the CPU, then return `rib report --format json` of its results."""
    run = bench(suite_path, suite_path.parent / "out")
    assert run.exit_code == 0, run.stderr[-3000:]
    return json.loads(run_rib("report", str(run.out), "--format", "json").stdout)


TIMM_NAMES = {"laion/vit-b16-laion2b-ft-in1k": "vit_base_patch16_clip_224",
              "augreg/vit-b16-in21k-ft-in1k": "vit_base_patch16_224"}


@pytest.mark.slow  # the whole paper-quick grid: about 500 cells of tiny ViTs
def test_paper_quick_runs_end_to_end_with_tiny_weights_and_generated_trees(offline, bench, run_rib, tmp_path):
    pytest.importorskip("rib_lora")
    pytest.importorskip("rib_ewc")
    import timm
    from safetensors.torch import save_file

    suite = read_toml(PACKAGED_SUITES)["suites"]["paper-quick"]
    for model in suite["models"]:  # the same backbones and loaders, with tiny random weights from local files
        timm_name = TIMM_NAMES[model["name"]]
        weights = tmp_path / f"{timm_name}.safetensors"
        save_file(timm.create_model(timm_name, pretrained=False, **TINY).state_dict(), str(weights))
        model.update(weights=str(weights), model_kwargs=TINY)
    data_root = tmp_path / "data"
    for entry in suite["datasets"] + [suite["reference"]]:  # the same adapters, on trees in the real layouts
        make_dataset_tree(entry["name"], data_root, n_classes=2, per_class=3, size=40)
    suite.update(data_root=str(data_root), allow_partial=True, eval_batch_size=16)  # fixtures have 2 classes
    suite["training"].update(epochs=1, batch_size=4, warmup_steps=1)
    suite["strategies"][2] = {"name": "ewc", "fisher_samples": 8}
    path = tmp_path / "paper-quick.toml"
    write_suite(path, "paper-quick", suite)

    report = bench_and_report(path, bench, run_rib)
    assert {(m["model"], m["strategy"]) for m in report["mri"]} == {
        (model, strategy) for model in ("LAION-2B", "IN-21K+AugReg") for strategy in ("ft", "lora", "ewc")}
    assert len(report["ri"]) == 2 * 3 * 8
    c = [a for a in report["accuracies"] if a["eval_dataset"] == "imagenet-c" and a["strategy"] is None]
    assert len(c) == 2 and all(a["n_images"] > 0 for a in c)



@pytest.mark.slow  # two CLIP backbones, zero-shot heads, ft and LoRA end to end
def test_zero_shot_clip_backbones_run_end_to_end_from_local_weights(offline, bench, run_rib, tmp_path):
    """The open_clip family through `rib bench`: zero-shot heads built from class names, then ft and LoRA."""
    pytest.importorskip("rib_openai_clip")
    pytest.importorskip("rib_laion")
    pytest.importorskip("rib_lora")
    import open_clip
    from safetensors.torch import save_file

    models = []
    for name, quick_gelu in (("openai-clip/vit-b16-zeroshot", True), ("laion/vit-b16-laion2b-zeroshot", False)):
        clip = open_clip.create_model("ViT-B-16", pretrained=None, force_quick_gelu=quick_gelu, **TINY_CLIP)
        weights = tmp_path / f"{name.replace('/', '_')}.safetensors"
        save_file(clip.state_dict(), str(weights))
        models.append({"name": name, "weights": str(weights), "templates": "simple", "model_kwargs": TINY_CLIP})
    data_root = tmp_path / "data"
    for dataset in ("imagenet-r", "imagenet-sketch", "imagenet-val"):
        make_dataset_tree(dataset, data_root, n_classes=2, per_class=3, size=40)
    suite = {"models": models, "datasets": ["imagenet-r", "imagenet-sketch"], "reference": "imagenet-val",
             "strategies": ["ft", "lora"], "data_root": str(data_root), "allow_partial": True,
             "training": {"epochs": 1, "batch_size": 4, "warmup_steps": 1}}
    path = tmp_path / "zero-shot.toml"
    write_suite(path, "zero-shot", suite)
    report = bench_and_report(path, bench, run_rib)
    assert {(m["model"], m["strategy"]) for m in report["mri"]} == {
        (model["name"], strategy) for model in models for strategy in ("ft", "lora")}
    # The zero-shot heads were built once per model and cached.
    assert len(list((tmp_path / "cache" / "zeroshot-heads").glob("*.safetensors"))) == 2
