"""Bad input never becomes a wrong number (issue 14): every setting is checked before any work, every entry's
keys against what its adapter, loader or strategy declares, names that become files cannot leave their folder,
and a refused run leaves the results directory exactly as it was.
"""

from __future__ import annotations

import pytest

from tests.helpers import VALID_SUITE as VALID
from tests.helpers import refused_with

TRAINING = VALID + "[suites.s.training]\n"

REFUSED = {  # case: (suite text, fragments the message must contain)
    # item 2: accepted before, then every number was wrong with exit 0
    "clip_grad-negative": (TRAINING + "clip_grad = -1.0\n", ["training.clip_grad: must be > 0", "-1.0"]),
    "max_steps-zero": (TRAINING + "max_steps = 0\n", ["training.max_steps: must be > 0"]),
    "warmup_steps-negative": (TRAINING + "warmup_steps = -10\n", ["training.warmup_steps: must be >= 0"]),
    # item 4: ranges that used to fail inside every cell
    "lr-inf": (TRAINING + "lr = inf\n", ["training.lr: must be a finite number"]),
    "lr-nan": (TRAINING + "lr = nan\n", ["training.lr: must be a finite number"]),
    "momentum-negative": (TRAINING + "momentum = -5\n", ["training.momentum: must be >= 0"]),
    "momentum-one": (TRAINING + "momentum = 1.0\n", ["training.momentum: must be below 1"]),
    "weight_decay-negative": (TRAINING + "weight_decay = -1\n", ["training.weight_decay: must be >= 0"]),
    "seed-negative": (VALID + "seed = -1\n", ["suites.s.seed: must be >= 0"]),
    "strategy-param-inf": (VALID.replace('["ft"]', '[{name = "l2-sp", weight = inf}]'), ["weight", "finite"]),
    # item 3: unknown keys of an entry are refused with the closest known one
    "dataset-option-typo": (VALID.replace('"imagenet-a"]', '{name = "imagenet-c", corruption = ["fog"]}]'),
                            ["datasets[1]", "'corruption'", "Did you mean 'corruptions'"]),
    "dataset-generic-typo": (VALID.replace('"imagenet-a"]', '{name = "imagenet-a", max_imags = 50}]'),
                             ["datasets[1]", "'max_imags'", "Did you mean 'max_images'"]),
    "model-key-typo": (VALID.replace('"timm:vit_tiny_patch16_224"', '{name = "timm:vit_tiny_patch16_224", '
                                     'wieghts = "w.safetensors"}'), ["models[0]", "'wieghts'", "Did you mean 'weights'"]),
    "strategy-param-typo": (VALID.replace('["ft"]', '[{name = "lwf", temprature = 3.0}]'),
                            ["strategies[0]", "'temprature'", "Did you mean 'temperature'"]),
    "dataset-option-type": (VALID.replace('"imagenet-a"]', '{name = "imagenet-c", severities = ["high"]}]'),
                            ["severities", "expected a list of integers"]),
    "max_images-zero": (VALID.replace('"imagenet-a"]', '{name = "imagenet-a", max_images = 0}]'),
                        ["max_images: must be >= 1"]),
    # item 4: names checked offline before any work
    "demo-model-typo": (VALID.replace("timm:vit_tiny_patch16_224", "demo/narow"), ["unknown demo model 'demo/narow'"]),
    "timm-model-typo": (VALID.replace("timm:vit_tiny_patch16_224", "timm:vit_tiny_patch16_244"),
                        ["timm has no model 'vit_tiny_patch16_244'", "timm:vit_tiny_patch16_224"]),
    "timm-tag-typo": (VALID.replace("timm:vit_tiny_patch16_224", "timm:vit_tiny_patch16_224.augreg_in21k_ft_in1kk"),
                      ["timm has no pretrained tag", "timm:vit_tiny_patch16_224.augreg_in21k_ft_in1k'"]),
    # item 5: names that become file names
    "suite-name-traversal": (VALID.replace("[suites.s]", '[suites."../../../../victim"]').replace(
        "suites.s.", 'suites."../../../../victim".'), ["suite name '../../../../victim' cannot be used as a file name"]),
    "dataset-label-traversal": (VALID.replace('"imagenet-a"]', '{name = "imagenet-a", label = "../../escaped"}]'),
                                ["dataset label '../../escaped' cannot be used as a file name"]),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_bad_input_is_refused_before_any_work(run_rib, rib_registry, tmp_path, case):
    refused_with(run_rib, tmp_path, *REFUSED[case])


def test_a_refused_run_leaves_an_existing_results_directory_untouched(run_rib, rib_registry, tmp_path):
    out = tmp_path / "out"
    (out / "runs").mkdir(parents=True)
    manifest = out / "runs" / "s.json"
    manifest.write_text('{"suite": "s", "complete": true}\n')
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    suite = tmp_path / "suite.toml"
    suite.write_text(VALID.replace("timm:vit_tiny_patch16_224", "demo/narow"))
    result = run_rib("bench", "-c", str(suite), "--out", str(out), "--device", "cpu")
    assert result.exit_code == 2, result.stderr
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


def test_declared_options_still_reach_the_adapter(run_rib, rib_registry, tmp_path):
    """The check must not refuse what the adapter takes: imagenet-c's corruptions narrows its plan."""
    suite = tmp_path / "suite.toml"
    suite.write_text(VALID.replace('"imagenet-a"]', '{name = "imagenet-c", corruptions = ["fog"], severities = [1]}]'))
    from rib_core.config import load_suite

    loaded = load_suite(suite, "s", registry=rib_registry)
    assert loaded.datasets[1].options == {"corruptions": ["fog"], "severities": [1]}
