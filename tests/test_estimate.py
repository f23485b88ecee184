"""`rib bench --dry-run` sizes the run from the suite's own models and data, and times those models here."""

import re

import pytest

from rib_core.demo.backbones import build_model


@pytest.fixture
def demo_dry_run(run_rib, tmp_path, monkeypatch, demo_data_cache):
    monkeypatch.chdir(tmp_path)  # no benchmarks.toml here: the packaged demo suite

    def run(*extra):
        result = run_rib("bench", "--dry-run", "--out", str(tmp_path / "out"), *extra)
        assert result.exit_code == 0, result.stderr
        return " ".join(result.stdout.replace("│", " ").split())  # rich wraps long cells
    return run


def test_weights_and_cache_come_from_the_models_parameters_and_the_datasets_images(demo_dry_run, demo_data_cache):
    out = demo_dry_run("--no-calibrate")
    parameters = sum(p.numel() for p in build_model().parameters())
    assert f"demo/narrow {parameters / 1e3:.1f}k" in out and f"demo/broad {parameters / 1e3:.1f}k" in out
    # 6 domains x 600 images, cached as uint8 at the demo ViT's 32 px (not a ViT-B/16's 224 px), per dataset too.
    assert f"decoded-image cache ~{6 * 600 * 32 * 32 * 3 / 1e6:.0f} MB" in out
    assert "cache demo-photo ~2 MB (600 images at 32 px)" in out  # 1.8 MB, as _bytes rounds it
    # 2 models x 5 domains x one file each (wise-ft stores only its alpha=0.5 blend: finalize returns that).
    strategies = ["ft", "lp", "wise-ft", "lora", "ewc"]
    from rib_core.plugins import get_registry

    installed = [s for s in strategies if s in {r.name for r in get_registry().names("strategies")}]
    files = 2 * 5 * len(installed)
    assert f"~{files * parameters * 4 / 1e6:.0f} MB (fp32" in out
    assert "ViT-B/16 table" in out  # --no-calibrate: the documented table
    assert not list(demo_data_cache.glob("demo-models/*/*.safetensors"))  # sizing a model never pretrains it


def test_the_time_estimate_is_measured_on_each_model_here(demo_dry_run):
    out = demo_dry_run()
    rates = re.findall(r"demo/(narrow|broad) ([\d,]+) img/s inference, ([\d,]+) training", out)
    assert {name for name, *_ in rates} == {"narrow", "broad"}
    assert all(float(i.replace(",", "")) > 0 and float(t.replace(",", "")) > 0 for _, i, t in rates)
    assert re.search(r"estimated time on cpu ~\d+ (s|min|h)", out)
