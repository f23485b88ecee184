"""A strategy that cannot work with a model is refused before any cell runs (issue 30): each strategy's
`check(model)` sees the model its registration's `architecture=` builds on the meta device; a model without one
is checked once loaded, before its fine-tune."""

from __future__ import annotations

import json

import pytest

from rib_core.testing import toy
from rib_core.api import hookimpl
from rib_core.engine.compat import head_prefixes, incompatible_pairs, planning_info
from rib_core.strategies.base import ModelInfo, Strategy

# With the other tests that use the session's demo (tests/conftest.py), on one pytest-xdist worker: the others
# go on with the rest instead of waiting for the demo to be built.
pytestmark = pytest.mark.xdist_group("demo")

DEMO = """
[suites.pairs]
models = ["demo/narrow"]
datasets = ["demo-photo", "demo-sketch"]
strategies = [{strategies}]
[suites.pairs.training]
epochs = 1
"""


@pytest.fixture
def demo(tmp_path, monkeypatch, demo_cache, run_rib):
    """`rib bench` of a demo suite on the session's drawn images and pretrained backbones (tests/conftest.py)."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    def bench(strategies, *extra):
        suite = tmp_path / "suite.toml"
        suite.write_text(DEMO.format(strategies=strategies))
        return run_rib("bench", "-c", str(suite), "--out", str(tmp_path / "out"), "--device", "cpu", "--no-report",
                       *extra)
    return bench


@pytest.mark.slow  # the session's demo backbones, pretrained (~50 s on 2 cores)
@pytest.mark.parametrize("name, strategy, needed", [
    ("visual-prompt", '{ name = "visual-prompt", width = 4 }',
     "it is not a timm VisionTransformer with a plain convolutional patch embedding"),
    ("lp", '{ name = "lp", trainable_extra = ["cls_tokn"] }',
     "trainable_extra names cls_tokn, which the model has no parameter under"),
])
def test_an_incompatible_pair_exits_2_before_any_cell_naming_strategy_model_and_need(demo, tmp_path, name, strategy,
                                                                                     needed):
    if name == "visual-prompt":
        pytest.importorskip("rib_visual_prompt")
    result = demo(f'"ft", {strategy}')
    assert result.exit_code == 2, result.stderr
    assert f"strategy '{name}' cannot fine-tune model 'demo/narrow': {needed}" in " ".join(result.stderr.split())
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out" / "cells").exists()  # nothing ran, not even the pre-evaluations


def test_visual_prompt_checks_its_frame_fits_the_input():
    pytest.importorskip("rib_visual_prompt")
    import timm
    import torch

    from rib_visual_prompt.strategy import VisualPrompt

    with torch.device("meta"):
        vit = timm.create_model("vit_tiny_patch16_224", img_size=32, patch_size=4)
    assert VisualPrompt({"width": 15}).check(ModelInfo("vit", vit, 32)) is None
    assert VisualPrompt({"width": 16}).check(ModelInfo("vit", vit, 32)) == (
        "width 16 leaves no image inside its 32-px input; use width < 16")


@pytest.mark.slow  # the session's demo backbones, pretrained (~50 s on 2 cores)
def test_the_dry_run_lists_the_incompatible_pairs(demo):
    pytest.importorskip("rib_visual_prompt")
    result = demo('"ft", "visual-prompt"', "--dry-run", "--no-calibrate")
    assert result.exit_code == 0, result.stderr
    flat = " ".join(result.stdout.split())
    assert "strategy 'visual-prompt' cannot fine-tune model 'demo/narrow': it is not a timm VisionTransformer" in flat


@pytest.mark.slow  # the session's demo backbones, pretrained (~50 s on 2 cores)
def test_lora_and_lp_ft_accept_the_demo_vit_and_the_checks_see_its_head(demo, rib_registry):
    pytest.importorskip("rib_lora")
    from rib_core.config import ModelSpec

    info = planning_info(rib_registry, ModelSpec(name="demo/narrow", label="demo/narrow"))
    assert info.source == "architecture" and info.input_size == 32 and info.head_prefixes == ("head.",)
    assert next(info.module.parameters()).device.type == "meta"  # no memory, no weights
    from rib_core.demo.backbones import build_model

    assert info.parameters == sum(p.numel() for p in build_model().parameters())
    strategies = [_prepared(rib_registry, name) for name in ("lora", "lp-ft", "ewc", "ft", "freeze")]
    assert incompatible_pairs(rib_registry, [ModelSpec(name="demo/narrow", label="demo/narrow")], strategies) == []


def _prepared(registry, name, params=None):
    from types import SimpleNamespace

    reg = registry.get("strategies", name)
    return SimpleNamespace(strategy=reg.create(params or {}), label=name, plugin=reg.plugin)


def test_the_head_of_a_timm_model_comes_from_its_config_or_its_classifier():
    import timm
    import torch

    with torch.device("meta"):
        assert head_prefixes(timm.create_model("resnet18")) == ("fc.",)
        assert head_prefixes(timm.create_model("convnext_atto")) == ("head.fc.",)
    assert head_prefixes(torch.nn.Linear(2, 2)) is None  # says nothing: lp's check then cannot tell, and passes


class NoHead(Strategy):
    def check(self, model):
        raise RuntimeError("bug in check")


class ToyArch:
    """tiny/* with an architecture= (the toy MLP on the meta device), and a strategy whose check raises."""

    @hookimpl
    def register_models(self, register):
        register("arch/*", "rib_core.testing.toy:load", "the toy MLP, with an architecture (tests)", label_space="toy",
                 architecture="tests.test_compat:toy_architecture")

    @hookimpl
    def register_strategies(self, register):
        register("buggy", "tests.test_compat:NoHead", "a strategy whose check raises (tests)")


def toy_architecture(name, *, options=None):
    return toy.load("tiny/a", weights=None, options={}).model, toy.SIZE


TOY = """
[suites.toy]
models = ["{model}"]
datasets = ["toy-a", "toy-b"]
strategies = [{strategies}]
eval_batch_size = 16
[suites.toy.training]
epochs = 1
batch_size = 8
"""


@pytest.fixture
def toy_env(tmp_path, monkeypatch, register_plugin, run_rib):
    toy.install(tmp_path, monkeypatch, register_plugin, ("toy-a", "toy-b"), per_class=4)
    register_plugin(ToyArch(), "rib-test-arch")

    def bench(model, strategies):
        suite = tmp_path / "suite.toml"
        suite.write_text(TOY.format(model=model, strategies=strategies))
        return run_rib("bench", "-c", str(suite), "--out", str(tmp_path / "out"), "--device", "cpu", "--workers", "0",
                       "--no-report")
    return bench


def test_lora_on_a_model_with_an_architecture_but_no_attention_exits_2_before_any_cell(toy_env, tmp_path):
    pytest.importorskip("rib_lora")
    result = toy_env("arch/a", '"ft", "lora"')
    assert result.exit_code == 2, result.stderr
    assert ("strategy 'lora' cannot fine-tune model 'arch/a': it has no fused attention projection" in result.stderr
            and "LoRA needs a timm ViT or an open_clip image tower" in result.stderr)
    assert not (tmp_path / "out" / "cells").exists()


def test_a_model_without_architecture_is_checked_once_loaded_and_fails_only_that_fine_tune(toy_env, tmp_path):
    pytest.importorskip("rib_lora")
    result = toy_env("tiny/a", '"ft", "lora"')
    assert result.exit_code == 1, result.stderr  # nothing is known at planning: the run starts
    failed = [json.loads(p.read_text()) for p in (tmp_path / "out").glob("cells/*/failed.json")]
    assert len(failed) == 2 and {f["cell"]["strategy"] for f in failed} == {"lora"}
    assert all(f["error"].startswith("strategy 'lora' cannot fine-tune model 'tiny/a': it has no fused attention")
               for f in failed)
    assert not (tmp_path / "out" / "cells" / failed[0]["cell"]["key"] / "work").exists()  # refused before training


def test_a_check_that_raises_is_a_problem_naming_its_plugin(toy_env, tmp_path):
    result = toy_env("arch/a", '"buggy"')
    assert result.exit_code == 2
    assert ("strategy 'buggy' cannot fine-tune model 'arch/a': its check() failed (RuntimeError: bug in check); "
            "plugin 'rib-test-arch' needs a fix") in result.stderr


def test_a_strategy_that_trains_needs_parameters_by_default():
    import torch

    assert Strategy().check(ModelInfo("m", torch.nn.ReLU(), 8)) == "the model has no parameters to train"
    assert Strategy().check(ModelInfo("m", torch.nn.Linear(2, 2), 8)) is None
    assert Strategy().check(ModelInfo("m")) is None  # nothing known: nothing refused
