"""EWC: the Fisher against independent computations, the penalty and its gradient, the cache, the fallback."""

import dataclasses

import numpy as np
import pytest
import torch

from rib_core.api import ClassMap, ConfigError
from rib_core.testing import TensorTrainData, fine_tune, tiny_vit, train_context
from rib_ewc.fisher import diagonal_fisher
from rib_ewc.strategy import EWC

torch.set_num_threads(1)
SUBSET = ClassMap("imagenet-1k", ("a", "b", "c", "d"), ((1,), (4,), (6,), (8,)))  # 4 of the model's 10 classes
ALL = ClassMap("imagenet-1k", tuple(f"c{i}" for i in range(10)), tuple((i,) for i in range(10)))


def Data(images, labels, batch_size=4, identity="data", class_map=None):
    return TensorTrainData(images, labels, batch_size, class_map, identity, shuffle=False)


def linear_model(seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 4 * 4, 10))


def make_ctx(model, size, anchor=None, cache_dir=None, identity="model@1", train_labels=10):
    g = torch.Generator().manual_seed(2)
    train = Data(torch.randn(8, 3, size, size, generator=g), torch.randint(0, train_labels, (8,), generator=g),
                 identity="train")
    return train_context(model, train, class_map=ALL, image_size=size, anchor_data=anchor, cache_dir=cache_dir,
                         identity=identity, lr=0.1, epochs=2)


def anchor_set(n=12, size=4, identity="anchor"):
    g = torch.Generator().manual_seed(3)
    return Data(torch.randn(n, 3, size, size, generator=g), torch.randint(0, 4, (n,), generator=g),
                identity=identity, class_map=SUBSET)


def analytic_linear_fisher(model, images, labels_of_image):
    """Softmax regression on the subset's logits: d log p_y / dW_k = (1[k=y] - p_k) x for subset rows k."""
    W = model[1].weight.detach().double().numpy()
    b = model[1].bias.detach().double().numpy()
    rows = [g[0] for g in SUBSET.groups]
    fw, fb = np.zeros_like(W), np.zeros_like(b)
    for x, y in zip(images.double().numpy().reshape(len(images), -1), labels_of_image):
        z = W[rows] @ x + b[rows]
        p = np.exp(z - z.max())
        p /= p.sum()
        g = -p
        g[y] += 1
        fw[rows] += np.outer(g, x) ** 2
        fb[rows] += g ** 2
    return fw / len(images), fb / len(images)


def test_the_plugin_registers_ewc_through_its_entry_point(rib_registry):
    registration = rib_registry.get("strategies", "ewc")
    assert registration.plugin == "rib-ewc" and registration.load() is EWC


def test_empirical_fisher_equals_the_analytic_per_sample_computation():
    model, anchor = linear_model(), anchor_set(n=10)
    fisher, used = diagonal_fisher(model, anchor.epoch(0), SUBSET.project, n_samples=7, labels="empirical")
    assert used == 7  # stops after n_samples, mid-batch
    fw, fb = analytic_linear_fisher(model, anchor.images[:7], anchor.labels[:7].tolist())
    assert np.allclose(fisher["1.weight"].numpy(), fw, rtol=1e-5, atol=1e-9)
    assert np.allclose(fisher["1.bias"].numpy(), fb, rtol=1e-5, atol=1e-9)
    assert fisher["1.weight"][0].abs().max() == 0  # a class outside the subset gets no gradient


def test_fisher_of_a_vit_equals_brute_force_per_sample_gradients():
    import copy

    model, anchor = tiny_vit(depth=1), anchor_set(n=6, size=16)
    model.train()  # diagonal_fisher must evaluate in eval mode and restore this
    fisher, _ = diagonal_fisher(model, anchor.epoch(0), SUBSET.project, n_samples=6, labels="empirical")
    assert model.training

    # Brute force on a separate copy: one cross-entropy backward per image, .grad squared, averaged.
    reference = copy.deepcopy(model).eval()
    squares = {n: torch.zeros_like(p) for n, p in reference.named_parameters()}
    for x, y in zip(anchor.images, anchor.labels):
        reference.zero_grad()
        logits = reference(x[None])[:, [1, 4, 6, 8]]
        torch.nn.functional.cross_entropy(logits, y[None]).backward()
        for n, p in reference.named_parameters():
            squares[n] += p.grad ** 2
    for name, total in squares.items():
        assert torch.allclose(fisher[name], total / 6, rtol=1e-4, atol=1e-10), name


def test_sampled_fisher_converges_to_the_expectation_over_the_model_labels():
    """With labels drawn from p(.|x), the estimate tends to sum_y p_y g_y^2 (the true Fisher)."""
    model = linear_model(seed=1)
    x = torch.randn(1, 3, 4, 4, generator=torch.Generator().manual_seed(9))
    n = 3000
    repeated = Data(x.expand(n, -1, -1, -1), torch.zeros(n, dtype=torch.long), batch_size=500)
    fisher, _ = diagonal_fisher(model, repeated.epoch(0), SUBSET.project, n_samples=n, labels="sampled")
    with torch.no_grad():
        p = torch.softmax(SUBSET.project(model(x)), dim=1)[0].double().numpy()
    exact_w = sum(p[y] * analytic_linear_fisher(model, x, [y])[0] for y in range(4))
    rows = [g[0] for g in SUBSET.groups]
    estimate = fisher["1.weight"].double().numpy()[rows]
    assert np.allclose(estimate, exact_w[rows], rtol=0.15, atol=1e-6)
    # ...and differs from the empirical Fisher of a fixed label
    empirical = analytic_linear_fisher(model, x, [0])[0][rows]
    assert not np.allclose(estimate, empirical, rtol=0.15)


def test_penalty_is_zero_at_theta0_and_its_gradient_is_2_lambda_F_delta():
    ctx = make_ctx(linear_model(), 4, anchor=anchor_set())
    strategy = EWC({"lambda": 3.0, "fisher_samples": 12, "labels": "empirical"})
    strategy.setup(ctx)
    assert float(strategy.extra_loss(ctx, None, None, None).detach()) == 0.0
    with torch.no_grad():
        for p in ctx.model.parameters():
            p.add_(torch.randn_like(p))
    penalty = strategy.extra_loss(ctx, None, None, None)
    penalty.backward()
    fisher, _ = diagonal_fisher(linear_model(), anchor_set().epoch(0), SUBSET.project, 12, "empirical")
    total = 0.0
    for name, p in ctx.model.named_parameters():
        delta = p.detach() - ctx.pretrained_state[name]
        assert torch.allclose(p.grad, 2 * 3.0 * fisher[name] * delta, rtol=1e-5, atol=1e-8), name
        total += float((fisher[name] * delta ** 2).sum())
    assert float(penalty.detach()) == pytest.approx(3.0 * total, rel=1e-5)


def test_fisher_is_cached_per_model_anchor_samples_and_labels(tmp_path, monkeypatch):
    ctx = make_ctx(linear_model(), 4, anchor=anchor_set(), cache_dir=tmp_path)
    first = EWC({"fisher_samples": 8}).fisher(ctx)
    assert len(list((tmp_path / "ewc-fisher").glob("*.safetensors"))) == 1

    def no_compute(*args, **kwargs):
        raise AssertionError("the cached Fisher should have been used")

    monkeypatch.setattr("rib_ewc.strategy.diagonal_fisher", no_compute)
    again = EWC({"fisher_samples": 8}).fisher(make_ctx(linear_model(), 4, anchor=anchor_set(), cache_dir=tmp_path))
    assert all(torch.equal(first[k], again[k]) for k in first)
    # anything in the key changing means a new computation
    for params, kwargs in [({"fisher_samples": 9}, {}), ({"labels": "empirical", "fisher_samples": 8}, {}),
                           ({"fisher_samples": 8}, {"identity": "model@2"})]:
        with pytest.raises(AssertionError, match="cached"):
            EWC(params).fisher(make_ctx(linear_model(), 4, anchor=anchor_set(), cache_dir=tmp_path, **kwargs))
    with pytest.raises(AssertionError, match="cached"):
        EWC({"fisher_samples": 8}).fisher(make_ctx(linear_model(), 4, anchor=anchor_set(identity="other"),
                                                   cache_dir=tmp_path))


def test_a_torn_cache_file_is_recomputed(tmp_path):
    ctx = make_ctx(linear_model(), 4, anchor=anchor_set(), cache_dir=tmp_path)
    first = EWC().fisher(ctx)
    path = next((tmp_path / "ewc-fisher").glob("*.safetensors"))
    path.write_bytes(path.read_bytes()[:50])
    again = EWC().fisher(make_ctx(linear_model(), 4, anchor=anchor_set(), cache_dir=tmp_path))
    assert all(torch.equal(first[k], again[k]) for k in first)


def test_without_a_reference_set_the_fine_tuning_set_is_used_with_a_warning():
    ctx = make_ctx(linear_model(), 4, anchor=None)
    with pytest.warns(UserWarning, match="no reference set"):
        fisher = EWC({"labels": "empirical"}).fisher(ctx)
    expected, _ = diagonal_fisher(linear_model(), ctx.train_data.epoch(0), ALL.project, 1024, "empirical")
    assert all(torch.allclose(fisher[k], expected[k]) for k in expected)


def test_a_larger_lambda_keeps_the_weights_closer_to_theta0_in_the_fisher_metric(tmp_path):
    def distance(lam):
        ctx = make_ctx(tiny_vit(depth=1), 16, anchor=anchor_set(size=16))
        ctx.settings = dataclasses.replace(ctx.settings, lr=0.01)  # lr * 2 * lambda * max F stays < 2: plain SGD on the penalty is stable
        out = fine_tune(ctx, EWC({"lambda": lam, "fisher_samples": 12}), work_dir=tmp_path / str(lam), seed=0)[""]
        names = [n for n, _ in ctx.model.named_parameters()]
        return sum(float((f * (out[n] - ctx.pretrained_state[n]) ** 2).sum())
                   for n, (_, f, _) in zip(names, ctx.state["ewc_terms"]))

    free, some, strong = distance(0.0), distance(5.0), distance(10.0)
    assert strong < some < free and strong < 0.5 * free


@pytest.mark.parametrize("params, word", [({"lambda": -1}, "lambda"), ({"fisher_samples": 0}, "fisher_samples"),
                                          ({"labels": "true"}, "labels"), ({"online": True}, "does not take the option")])
def test_bad_parameters_are_config_errors(params, word):
    with pytest.raises(ConfigError, match=word):
        EWC(params)
