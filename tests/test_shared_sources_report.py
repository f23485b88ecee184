"""Contamination is flagged where a reviewer reads the numbers: under eval_images = "all" (or "held-out"), a
column whose images render the fine-tuning set's source images carries a footnote with the measured fraction, in
the text report, the JSON and the CSV; under "held-out-sources" there is none (issue 31, item 1)."""

import csv
import io
import json

import pytest

from rib_core.testing import make_dataset_tree

TINY = {"embed_dim": 32, "depth": 1, "num_heads": 2, "img_size": 32}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    timm = pytest.importorskip("timm")
    from safetensors.torch import save_file

    root = tmp_path_factory.mktemp("shared")
    weights = root / "tiny.safetensors"
    save_file(timm.create_model("vit_tiny_patch16_224", pretrained=False, **TINY).state_dict(), str(weights))
    for name in ("imagenet-val", "imagenet-cartoon", "imagenet-drawing", "imagenet-r"):
        make_dataset_tree(name, root / "data", n_classes=3, per_class=4, size=32)
    return root, weights


def run(world, tmp_path, run_rib, monkeypatch, mode: str):
    root, weights = world
    tmp_path.mkdir(parents=True, exist_ok=True)
    monkeypatch.setenv("RIB_CACHE_DIR", str(tmp_path / "cache"))
    suite = tmp_path / "suite.toml"
    suite.write_text(f"""
[suites.s]
models = [{{name = "timm:vit_tiny_patch16_224", weights = "{weights}", model_kwargs = {{embed_dim = 32, depth = 1, num_heads = 2, img_size = 32}}}}]
datasets = ["imagenet-cartoon", "imagenet-drawing", "imagenet-r"]
reference = "imagenet-val"
strategies = ["ft"]
data_root = "{root / 'data'}"
allow_partial = true
eval_images = "{mode}"
eval_batch_size = 16

[suites.s.training]
epochs = 1
max_steps = 1
batch_size = 4
warmup_steps = 0
""")
    out = tmp_path / "out"
    result = run_rib("bench", "-c", str(suite), "--out", str(out), "--device", "cpu", "--no-report")
    assert result.exit_code == 0, result.stderr[-3000:]
    return out


def test_all_flags_every_sharing_column_with_its_fraction_and_held_out_sources_flags_none(world, tmp_path, run_rib,
                                                                                          monkeypatch):
    out = run(world, tmp_path / "all", run_rib, monkeypatch, "all")
    report = json.loads(run_rib("report", str(out), "--format", "json").stdout)
    assert report["eval_images"] == "all"
    pairs = {(p["ft_dataset"], p["eval_dataset"]): p for p in report["shared_sources"]}
    # cartoon and drawing render the same val images: fine-tuning on one trains on the sources of the other
    assert ("imagenet-cartoon", "imagenet-drawing") in pairs and ("imagenet-drawing", "imagenet-cartoon") in pairs
    assert ("imagenet-cartoon", "imagenet-val") in pairs
    assert not any("imagenet-r" in key for key in pairs)  # ImageNet-R has images of its own
    for p in pairs.values():
        assert 0 < p["fraction"] <= 1 and p["fraction"] == pytest.approx(p["shared"] / p["evaluated"])
    assert set(report["footnotes"]) == {"imagenet-cartoon", "imagenet-drawing", "imagenet-val"}
    text = " ".join(run_rib("report", str(out)).stdout.split())
    assert 'Evaluated images: eval_images = "all"' in text
    assert "§ drawing: shares source images with the fine-tuning set" in text
    assert 'use eval_images = "held-out-sources" for a clean claim' in text
    rows = list(csv.DictReader(io.StringIO(run_rib("report", str(out), "--format", "csv").stdout)))
    flagged = {(r["ft_dataset"], r["eval_dataset"]): r["shared_source_fraction"] for r in rows}
    assert float(flagged[("imagenet-cartoon", "imagenet-drawing")]) == pytest.approx(
        pairs[("imagenet-cartoon", "imagenet-drawing")]["fraction"])
    assert flagged[("imagenet-cartoon", "imagenet-r")] == ""

    clean = run(world, tmp_path / "clean", run_rib, monkeypatch, "held-out-sources")
    report = json.loads(run_rib("report", str(clean), "--format", "json").stdout)
    assert report["eval_images"] == "held-out-sources"
    assert report["shared_sources"] == [] and report["footnotes"] == {}
    text = " ".join(run_rib("report", str(clean)).stdout.split())
    assert "shares source images" not in text and 'eval_images = "held-out-sources"' in text
