"""Model soups: averages of stored weights, no training, planned after the fine-tunes they average."""

import json
import re
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from rib_core.errors import ConfigError
from rib_core.strategies.builtin import interpolate
from rib_core.strategies.soup import Soup, average
from rib_core.testing import toy


def states(n, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [{"w": torch.randn(5, 3, generator=g), "b": torch.randn(3, generator=g).half(),
             "step": torch.tensor([7 + i])} for i in range(n)]


def test_a_soup_of_one_model_is_that_model_exactly():
    (only,) = states(1)
    out = average([only], [1.0])
    assert all(torch.equal(out[k], only[k]) for k in only) and out["b"].dtype == torch.float16


def test_pre_ft_soup_equals_wise_ft_alpha_half_bit_for_bit():
    pre, ft = states(2)
    soup = average([pre, ft], Soup({"of": ["pre", "ft"]}).soup_weights[0])
    wise = interpolate(pre, ft, 0.5)
    assert all(torch.equal(soup[k], wise[k]) for k in ("w", "b"))


def test_weighted_soup_against_an_independent_float64_sum():
    a, b, c = states(3, seed=1)
    soup = Soup({"of": ["pre", "ft", "lwf"], "weights": [1, 2, 1]})
    assert soup.soup_weights == [[0.25, 0.5, 0.25]]
    assert soup.variant_labels() == ["0.25*pre+0.5*ft+0.25*lwf"]
    out = average([a, b, c], soup.soup_weights[0])
    expected = 0.25 * a["w"].double() + 0.5 * b["w"].double() + 0.25 * c["w"].double()
    assert torch.allclose(out["w"].double(), expected, atol=1e-6)
    assert torch.equal(out["step"], a["step"])  # integer tensors: taken, not averaged


def test_several_soups_are_variants_named_by_their_ingredients():
    soup = Soup({"of": [["pre", "ft"], ["pre", "ft", "lwf", "l2-sp"]]})
    assert soup.variant_labels() == ["pre+ft", "pre+ft+lwf+l2-sp"]
    assert soup.ingredients() == ["ft", "l2-sp", "lwf"] and not soup.trains


@pytest.mark.parametrize("params, word", [({"of": []}, "of must"), ({"of": ["pre", "pre"]}, "twice"),
                                          ({"of": ["pre", "ft"], "weights": [1]}, "weights"),
                                          ({"of": ["pre", "ft"], "weights": [0, 0]}, "weights"),
                                          ({"of": [["pre", "ft"], ["pre", "ft"]]}, "same")])
def test_bad_soups_are_config_errors(params, word):
    with pytest.raises(ConfigError, match=word):
        Soup(params)


def write_suite(folder, of) -> Path:
    """tiny/a on toy-a and toy-b: ft, WiSE-FT at 0.5 and a soup `of` these, one epoch."""
    strategies = ["ft", {"name": "wise-ft", "alphas": [0.5]}, {"name": "soup", "of": of}]
    return toy.grid_suite(folder / "suite.toml", models=["tiny/a"], datasets=["toy-a", "toy-b"], reference=None,
                          strategies=strategies, training={"epochs": 1})


def test_soup_runs_after_the_fine_tunes_it_averages_and_equals_wise_ft(toy_env, bench, run_rib):
    suite = write_suite(toy_env, ["pre", "ft"])
    dry = run_rib("bench", "-c", str(suite), "--dry-run")
    assert dry.exit_code == 0, dry.stderr
    assert "soup[pre+ft]" in re.sub(r"[\s│]", "", dry.stdout)  # the grid lists the soup (rich may wrap it)
    out = toy_env / "out"
    result = bench(suite, out)
    assert result.exit_code == 0, result.stderr
    cells = json.loads((out / "runs" / "toy.json").read_text())["cells"]
    order = [c["key"] for c in cells]
    for ds in ("toy-a", "toy-b"):
        ft = next(c for c in cells if c["kind"] == "finetune" and c["strategy"] == "ft" and c["ft_dataset"] == ds)
        wise = next(c for c in cells if c["kind"] == "finetune" and c["strategy"] == "wise-ft" and c["ft_dataset"] == ds)
        soup = next(c for c in cells if c["kind"] == "finetune" and c["strategy"] == "soup" and c["ft_dataset"] == ds)
        assert soup["deps"] == [ft["key"]] and order.index(ft["key"]) < order.index(soup["key"])
        assert soup["work"] == 0  # no training steps
        souped = load_file(str(out / "cells" / soup["key"] / "weights-pre_ft.safetensors"))
        wised = load_file(str(out / "cells" / wise["key"] / "weights-alpha=0.5.safetensors"))
        assert all(torch.equal(souped[k], wised[k]) for k in wised)
        evals = [c for c in cells if c["kind"] == "eval" and c["strategy"] == "soup[pre+ft]" and c["ft_dataset"] == ds]
        assert len(evals) == 2 and all(c["deps"] == [soup["key"]] for c in evals)


def test_a_soup_naming_a_strategy_not_in_the_suite_is_refused(toy_env, run_rib):
    suite = write_suite(toy_env, ["pre", "lwf"])
    result = run_rib("bench", "-c", str(suite), "--dry-run")
    assert result.exit_code == 2
    assert "'lwf' is not another strategy of this suite" in result.stderr and "ft" in result.stderr
