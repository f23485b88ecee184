"""LP-FT's first stage is configurable: `first = { name = "lp", trainable_extra = "released" }` is the released code's
LP-FT, whose first stage is its HeadOnly. Checked in the plan (which stage each lp-ft starts from, and that it is
the suite's own HeadOnly cell when that is the same fine-tune) and on trained weights (what stage 1 changed)."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from rib_core.data.fixtures import make_dataset_tree
from rib_core.errors import ConfigError

HEAD_ONLY = '{ name = "lp", trainable_extra = "released" }'
TINY = {"embed_dim": 32, "depth": 1, "num_heads": 2, "img_size": 32}


def write_suite(root, strategies: str) -> str:
    import timm
    from safetensors.torch import save_file

    weights = root / "tiny.safetensors"
    if not weights.exists():
        torch.manual_seed(0)
        save_file(timm.create_model("vit_tiny_patch16_224", pretrained=False, **TINY).state_dict(), str(weights))
        for name in ("imagenet-r", "imagenet-a"):
            make_dataset_tree(name, root / "data", n_classes=3, per_class=4, size=32)
    path = root / "suite.toml"
    path.write_text(f"""
[suites.s]
models = [{{name = "timm:vit_tiny_patch16_224", weights = "{weights}", model_kwargs = {{embed_dim = 32, depth = 1, num_heads = 2, img_size = 32}}}}]
datasets = ["imagenet-r", "imagenet-a"]
strategies = [{strategies}]
data_root = "{root / 'data'}"
allow_partial = true
eval_batch_size = 16

[suites.s.training]
lr = 0.05
epochs = 1
batch_size = 4
warmup_steps = 0
amp = false
""")
    return str(path)


def plan_of(root, strategies: str, registry):
    from rib_core.config import load_suite
    from rib_core.engine.plan import build_plan
    from rib_core.engine.prepare import prepare

    return build_plan(prepare(load_suite(write_suite(root, strategies), "s"), registry))


def finetunes(plan) -> dict:
    """The reported fine-tunes by (label, dataset); stages that only feed another are left out."""
    return {(c.strategy, c.ft_dataset): c for c in plan if c.kind == "finetune" and c.reported}


def test_the_released_lpft_starts_from_the_suites_own_headonly_cell(tmp_path, rib_registry):
    pytest.importorskip("timm")
    plan = plan_of(tmp_path, f'{HEAD_ONLY}, {{ name = "lp-ft", label = "released", first = {HEAD_ONLY} }}, "lp-ft"',
                   rib_registry)
    cells = finetunes(plan)
    by_key = {c.key: c for c in plan}
    for ds in ("imagenet-r", "imagenet-a"):
        (first,) = [by_key[k] for k in cells[("released", ds)].deps]
        assert first.key == cells[("lp", ds)].key and first.reported  # one HeadOnly fine-tune, reported once
        (plain,) = [by_key[k] for k in cells[("lp-ft", ds)].deps]
        assert plain.strategy_name == "lp" and not plain.reported and plain.key != first.key
    assert cells[("released", "imagenet-r")].key != cells[("lp-ft", "imagenet-r")].key


def test_first_names_a_stage_or_is_refused(tmp_path, rib_registry):
    pytest.importorskip("timm")
    with pytest.raises(ConfigError, match="lp-ft.*first.*trainable_extra"):
        plan_of(tmp_path, '{ name = "lp-ft", first = { name = "lp", trainable_extra = 3 } }', rib_registry)
    with pytest.raises(ConfigError, match="lp-ft.*first.*unknown strategy 'lpp'"):
        plan_of(tmp_path, '{ name = "lp-ft", first = { name = "lpp" } }', rib_registry)
    with pytest.raises(ConfigError, match="must be a strategy that trains"):
        plan_of(tmp_path, '{ name = "lp-ft", first = { name = "freeze" } }', rib_registry)
    with pytest.raises(ConfigError, match="first"):
        plan_of(tmp_path, '{ name = "lp-ft", first = "lp" }', rib_registry)


def changed(before: dict, after: dict) -> set[str]:
    return {name for name, t in after.items() if not torch.equal(t, before[name])}


def test_stage_one_trains_exactly_the_released_set(tmp_path, run_rib, monkeypatch):
    pytest.importorskip("timm")
    monkeypatch.setenv("RIB_CACHE_DIR", str(tmp_path / "cache"))
    suite = write_suite(tmp_path, f'{{ name = "lp-ft", label = "released", first = {HEAD_ONLY} }}, "lp-ft"')
    out = tmp_path / "out"
    result = run_rib("bench", "-c", suite, "--out", str(out), "--device", "cpu", "--no-report")
    assert result.exit_code == 0, result.stderr[-3000:]
    manifest = json.loads((out / "runs" / "s.json").read_text())
    pretrained = load_file(str(tmp_path / "tiny.safetensors"))
    cells = {c["key"]: c for c in manifest["cells"]}

    def stage_one(label: str) -> set[str]:
        lpft = next(c for c in cells.values() if c["kind"] == "finetune" and c["strategy"] == label
                    and c["ft_dataset"] == "imagenet-r")
        (dep,) = lpft["deps"]
        assert cells[dep]["strategy_name"] == "lp" and not cells[dep]["reported"]
        return changed(pretrained, load_file(str(out / "cells" / dep / "weights.safetensors")))

    # The released code's HeadOnly: everything but patch_embed and blocks (norm_pre and fc_norm are identities
    # in this ViT and hold no parameter).
    assert stage_one("released") == {"head.weight", "head.bias", "cls_token", "pos_embed", "norm.weight",
                                     "norm.bias"}
    assert stage_one("lp-ft") == {"head.weight", "head.bias"}  # rib's default: a true linear probe
