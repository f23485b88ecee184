"""The offline demo: its synthetic domains, its adapter and its two pretrained backbones.

Everything but the last test runs in a few seconds, on the demo images drawn once per session (tests/conftest.py:
`demo_data_cache`). `test_pretrained_backbones_beat_twice_chance_on_every_domain` scores both real backbones,
pretrained once per session (`demo_cache`, about 35 s on 2 CPU cores, shared with tests/test_demo_suite.py):
it is marked `slow`.
"""

import hashlib

import numpy as np
import pytest
import torch

from rib_core.demo import DOMAINS, LABEL_SPACE, SHIFTED_DOMAINS, data_dir, models_dir
from rib_core.demo import backbones, datasets, pretrain, render
from rib_core.errors import ConfigError, RibError, UnknownNameError
from rib_core.models.base import file_digest
from rib_core.plugins import get_registry

torch.set_num_threads(1)


def _pixels(domain: str, count: int = 40) -> np.ndarray:
    """float images in [0, 1], (count, 32, 32, 3), over all classes."""
    return np.stack([np.asarray(render.render(domain, i % 10, i), dtype=np.float32) / 255 for i in range(count)])


def _tree_bytes(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*.png"))}


# -- rendering ----------------------------------------------------------------------------------------------------
def test_generation_is_deterministic_and_seeded(tmp_path):
    first = datasets.generate_domain("photo", tmp_path / "a", images_per_class=3)
    second = datasets.generate_domain("photo", tmp_path / "b", images_per_class=3)
    other_seed = datasets.generate_domain("photo", tmp_path / "c", images_per_class=3, seed=1)
    a, b, c = _tree_bytes(first), _tree_bytes(second), _tree_bytes(other_seed)
    assert len(a) == 30 and sorted(a) == sorted(c)
    assert a == b
    assert all(a[name] != c[name] for name in a)


def test_an_image_does_not_depend_on_how_many_are_drawn(tmp_path):
    small = _tree_bytes(datasets.generate_domain("sketch", tmp_path / "small", images_per_class=2))
    large = _tree_bytes(datasets.generate_domain("sketch", tmp_path / "large", images_per_class=4))
    assert small == {name: large[name] for name in small}


def test_domains_differ_the_way_their_names_say():
    px = {d: _pixels(d) for d in DOMAINS}

    def saturation(x):
        return (x.max(axis=3) - x.min(axis=3)).mean()

    def high_frequency(x):  # mean absolute difference between horizontal neighbours
        return np.abs(np.diff(x, axis=2)).mean()

    def corner_spread(x):  # how textured the background is: spread of the 6x6 top-left corner
        return x[:, :6, :6, :].std(axis=(1, 2)).mean()

    sketch = px["sketch"]
    assert np.array_equal(sketch[..., 0], sketch[..., 1]) and np.array_equal(sketch[..., 1], sketch[..., 2])
    assert np.median(sketch) > 0.8  # mostly white paper
    assert saturation(px["cartoon"]) > 1.5 * saturation(px["source"])
    assert high_frequency(px["noise"]) > 2 * high_frequency(px["source"])
    assert corner_spread(px["photo"]) > 3 * corner_spread(px["source"])
    drawing = px["drawing"]
    assert np.median(drawing) > 0.75 and saturation(drawing) > 0.05  # light paper, coloured pencil
    assert corner_spread(drawing) > 2 * corner_spread(px["source"])  # paper grain
    means = {d: px[d].mean(axis=(0, 1, 2)) for d in DOMAINS}
    for i, d in enumerate(DOMAINS):
        for e in DOMAINS[i + 1:]:
            assert np.abs(means[d] - means[e]).max() > 0.01 or abs(saturation(px[d]) - saturation(px[e])) > 0.02, (d, e)


def test_pretraining_images_never_repeat_evaluation_images():
    images, labels = pretrain.pretraining_images(pretrain.RECIPES["narrow"].scaled(images_per_class=5, epochs=1))
    evaluation = {np.asarray(render.render("source", c, i)).tobytes() for c in range(10) for i in range(5)}
    assert images.shape == (50, 32, 32, 3) and np.bincount(labels).tolist() == [5] * 10
    assert not evaluation & {image.tobytes() for image in images}


# -- generation on disk --------------------------------------------------------------------------------------------
def test_generation_is_atomic_and_reports_progress(tmp_path, monkeypatch):
    calls = []
    datasets.generate_domain("cartoon", tmp_path / "cartoon", images_per_class=2, progress=lambda *a: calls.append(a))
    assert calls[-1] == (20, 20) and [done for done, _ in calls] == sorted(done for done, _ in calls)

    drawn = []

    def failing_render(style, label, index, seed=0, stream=None):
        drawn.append(label)
        if len(drawn) >= 5:
            raise KeyboardInterrupt  # a user's Ctrl-C half-way through
        return real_render(style, label, index, seed, stream)

    real_render = render.render
    monkeypatch.setattr(render, "render", failing_render)
    with pytest.raises(KeyboardInterrupt):
        datasets.generate_domain("noise", tmp_path / "noise", images_per_class=3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cartoon"]  # no half domain, no temporary folder

    before = {p: p.stat().st_mtime_ns for p in (tmp_path / "cartoon").rglob("*")}
    datasets.generate_domain("cartoon", tmp_path / "cartoon", images_per_class=2)  # would raise if it drew
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "cartoon").rglob("*")} == before


# -- the adapter ---------------------------------------------------------------------------------------------------
def test_adapter_serves_the_cached_domain(demo_data_cache):
    adapter = datasets.DemoDataset("demo-photo", None, {"adapter": "demo-photo"})
    samples = adapter.samples()
    class_map = adapter.class_map()
    assert adapter.root == data_dir() / "photo" and adapter.root.is_relative_to(demo_data_cache)
    assert class_map.label_space == LABEL_SPACE == "rib-demo"
    assert class_map.names == render.CLASS_NAMES and class_map.groups == tuple((k,) for k in range(10))
    assert len(samples) == 10 * datasets.IMAGES_PER_CLASS
    assert [s.path for s in samples] == sorted(s.path for s in samples)
    assert all(class_map.names[s.label] == s.path.split("/")[0] for s in samples)
    assert np.bincount([s.label for s in samples]).tolist() == [datasets.IMAGES_PER_CLASS] * 10
    image = adapter.open_image(samples[7].path)
    assert image.mode == "RGB" and image.size == (32, 32)
    label, index = samples[7].label, int(samples[7].path.split("/")[1].split(".")[0])
    assert np.array_equal(np.asarray(image), np.asarray(render.render("photo", label, index, datasets.SEED)))
    check = adapter.check()
    assert check.ok and check.images == 600 and check.classes == 10 and not check.problems


def test_adapter_names_its_domain_and_refuses_unknown_ones(demo_data_cache):
    sketch = datasets.DemoDataset("my-label", None, {"adapter": "demo-sketch"})
    assert sketch.domain == "sketch"
    assert sketch.identity() != datasets.DemoDataset("demo-noise", None, {"adapter": "demo-noise"}).identity()
    with pytest.raises(ConfigError, match="demo-source, demo-photo"):
        datasets.DemoDataset("demo-oil", None, {"adapter": "demo-oil"})


def test_check_reports_a_damaged_domain(demo_data_cache, tmp_path):
    root = datasets.generate_domain("source", tmp_path / "source")
    (root / "star" / "3.png").unlink()
    check = datasets.DemoDataset("demo-source", root, {"adapter": "demo-source"}).check()
    assert check.verdict == "partial" and check.images == 599
    assert "star" in check.problems[0] and "Delete" in check.problems[0]


# -- the backbones -------------------------------------------------------------------------------------------------
def _fake_pretraining(monkeypatch):
    """Replace pretraining by a no-op that counts its calls (the architecture and the caching stay real)."""
    calls = []

    def fake_train(model, recipe, progress=None):
        calls.append(recipe)
        return model

    monkeypatch.setattr(pretrain, "train", fake_train)
    return calls


def test_backbone_pretrains_once_then_loads_from_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RIB_CACHE_DIR", str(tmp_path))
    calls = _fake_pretraining(monkeypatch)
    first = backbones.load("demo/narrow", weights=None, options={})
    path = models_dir() / "narrow.safetensors"
    assert len(calls) == 1 and calls[0] == pretrain.RECIPES["narrow"]
    assert sorted(p.name for p in path.parent.iterdir() if not p.name.endswith(".lock")) == ["narrow.safetensors"]
    second = backbones.load("demo/narrow", weights=None, options={})
    assert len(calls) == 1
    assert first.identity == second.identity == f"demo/narrow@{file_digest(path)}"
    assert hashlib.sha256(path.read_bytes()).hexdigest().startswith(first.identity.split("@")[1])
    backbones.load("demo/broad", weights=None, options={})
    assert [r for r in calls] == [pretrain.RECIPES["narrow"], pretrain.RECIPES["broad"]]


def test_backbone_contract(tmp_path, monkeypatch):
    monkeypatch.setenv("RIB_CACHE_DIR", str(tmp_path))
    _fake_pretraining(monkeypatch)
    backbone = backbones.load("demo/broad", weights=None, options={})
    assert backbone.num_classes == 10
    assert get_registry().get("models", "demo/broad").extra["label_space"] == LABEL_SPACE == "rib-demo"
    assert backbone.preprocess.input_size == 32 and backbone.preprocess.resize_size == 32
    assert backbone.preprocess.mean == backbone.preprocess.std == (0.5, 0.5, 0.5)
    head = [n for n, _ in backbone.model.named_parameters() if backbone.is_head(n)]
    assert head == ["head.weight", "head.bias"]
    assert any(n.endswith("attn.qkv.weight") for n, _ in backbone.model.named_parameters())  # LoRA's target
    images = torch.randint(0, 256, (5, 3, 32, 32), dtype=torch.uint8)
    with torch.no_grad():
        logits = backbone.model(backbone.preprocess.normalize(images))
    assert logits.shape == (5, 10) and torch.isfinite(logits).all()
    assert all(t.is_floating_point() for t in backbone.model.state_dict().values())  # safe to interpolate


def test_backbone_loads_given_weights_and_rejects_bad_ones(tmp_path, monkeypatch):
    from safetensors.torch import save_file

    monkeypatch.setenv("RIB_CACHE_DIR", str(tmp_path / "cache"))
    calls = _fake_pretraining(monkeypatch)
    state = backbones.build_model(seed=3).state_dict()
    save_file({k: v.contiguous() for k, v in state.items()}, str(tmp_path / "mine.safetensors"))
    backbone = backbones.load("demo/narrow", weights=str(tmp_path / "mine.safetensors"), options={})
    assert not calls and backbone.identity == f"demo/narrow@{file_digest(tmp_path / 'mine.safetensors')}"
    assert torch.equal(backbone.model.state_dict()["head.weight"], state["head.weight"])

    save_file({"head.weight": torch.zeros(3, 3)}, str(tmp_path / "wrong.safetensors"))
    with pytest.raises(RibError, match="do not fit the demo ViT"):
        backbones.load("demo/narrow", weights=str(tmp_path / "wrong.safetensors"), options={})
    with pytest.raises(UnknownNameError, match="demo/narrow, demo/broad"):
        backbones.load("demo/wide", weights=None, options={})


def test_pretraining_is_deterministic_and_learns():
    recipe = pretrain.RECIPES["broad"].scaled(images_per_class=6, epochs=2)
    states = []
    for _ in range(2):
        model = backbones.build_model(recipe.seed)
        losses = []
        pretrain.train(model, recipe, progress=lambda epoch, epochs, loss: losses.append(loss))
        states.append(model.state_dict())
    assert len(losses) == 2
    assert all(torch.equal(states[0][k], states[1][k]) for k in states[0])
    assert not torch.equal(states[0]["head.weight"], backbones.build_model(recipe.seed).state_dict()["head.weight"])


# -- the real pretrained backbones ------------------------------------------------------------------------------
def _accuracy(backbone, adapter) -> float:
    samples = adapter.samples()
    images = torch.stack([backbone.preprocess.to_uint8(adapter.open_image(s.path)) for s in samples])
    labels = torch.tensor([s.label for s in samples])
    with torch.no_grad():
        predictions = backbone.model(backbone.preprocess.normalize(images)).argmax(dim=1)
    return 100.0 * (predictions == labels).float().mean().item()


@pytest.mark.slow
@pytest.mark.xdist_group("demo")  # on the worker that builds the demo (tests/conftest.py)
def test_pretrained_backbones_beat_twice_chance_on_every_domain(demo_cache):
    """Both demo backbones pretrained for real (once per session), scored on every full domain."""
    accuracy = {}
    for variant in ("narrow", "broad"):
        backbone = backbones.load(f"demo/{variant}", weights=None, options={})
        for domain in DOMAINS:
            adapter = datasets.DemoDataset(f"demo-{domain}", None, {"adapter": f"demo-{domain}"})
            accuracy[variant, domain] = _accuracy(backbone, adapter)
    print({k: round(v, 1) for k, v in accuracy.items()})
    assert min(accuracy.values()) >= 20.0, accuracy  # chance is 10%
    # The demo's question needs two different backbones: the narrow one fits its own domain better, the broad
    # one is more robust to the shifts, as IN-1k and IN-21k/CLIP models are on the real benchmark.
    shifted = {v: np.mean([accuracy[v, d] for d in SHIFTED_DOMAINS]) for v in ("narrow", "broad")}
    assert accuracy["narrow", "source"] > accuracy["broad", "source"]
    assert shifted["broad"] > shifted["narrow"] + 10
