"""Suite validation: every mistake is caught before anything runs, in one screen, with exit code 2."""

import filecmp
from pathlib import Path

import pytest

from rib_core.config import PACKAGED_SUITES, load_suite
from rib_core.errors import ConfigError, UnknownNameError
from tests.helpers import REPO

VALID = """
[suites.s]
models = ["timm:vit_tiny_patch16_224"]
datasets = ["imagenet-r", "imagenet-a"]
strategies = ["ft"]
"""


def write(tmp_path, text) -> Path:
    path = tmp_path / "benchmarks.toml"
    path.write_text(text)
    return path


def error_of(tmp_path, text, suite=None) -> str:
    with pytest.raises(ConfigError) as err:
        load_suite(write(tmp_path, text), suite)
    return str(err.value)


def test_valid_suite_parses(tmp_path):
    suite = load_suite(write(tmp_path, VALID), None)
    assert [m.name for m in suite.models] == ["timm:vit_tiny_patch16_224"]
    assert [d.adapter for d in suite.datasets] == ["imagenet-r", "imagenet-a"]
    assert suite.split == 0.8 and suite.eval_images == "all"


def test_syntax_error_names_file_line_and_column(tmp_path):
    message = error_of(tmp_path, "[suites.s]\nmodels = = 1\n")
    assert "benchmarks.toml:2:" in message and "line 2, column" in message


def test_unknown_key_suggests_the_closest(tmp_path):
    message = error_of(tmp_path, VALID + "strategys = ['lp']\n")
    assert "unknown key 'strategys'" in message and "Did you mean 'strategies'" in message


def test_unknown_training_key_suggests_the_closest(tmp_path):
    message = error_of(tmp_path, VALID + "[suites.s.training]\nlearning_rat = 1\n")
    assert "training" in message and "learning_rat" in message


def test_wrong_type_names_the_key_path(tmp_path):
    message = error_of(tmp_path, VALID.replace('strategies = ["ft"]', 'strategies = "ft"'))
    assert "suites.s.strategies: expected a list" in message


@pytest.mark.parametrize("change, expected", [
    (('datasets = ["imagenet-r", "imagenet-a"]', 'datasets = ["imagenet-r"]'), "RI needs at least 2"),
    (('datasets = ["imagenet-r", "imagenet-a"]', 'datasets = ["imagenet-r", "imagenet-r"]'), "listed twice"),
    (('models = ["timm:vit_tiny_patch16_224"]', 'models = []'), "'models' is empty"),
    (('strategies = ["ft"]', 'strategies = ["ft"]\nsplit = 1.5'), "between 0 and 1"),
    (('strategies = ["ft"]', 'strategies = ["ft"]\nreference = "imagenet-r"'), "both a downstream dataset and the reference"),
    (('strategies = ["ft"]', 'strategies = ["ft"]\neval_images = "some"'), "eval_images"),
])
def test_bad_values_are_rejected(tmp_path, change, expected):
    assert expected in error_of(tmp_path, VALID.replace(*change))


def test_unknown_suite_lists_the_suites(tmp_path):
    with pytest.raises(UnknownNameError) as err:
        load_suite(write(tmp_path, VALID), "ss")
    assert "unknown suite 'ss'" in str(err.value) and "Did you mean: 's'" in str(err.value)


def test_packaged_suites_equal_the_projects_file():
    assert filecmp.cmp(REPO / "benchmarks.toml", PACKAGED_SUITES, shallow=False)


@pytest.mark.parametrize("text, expected", [
    ("[suites.s\n", "TOML syntax error"),
    (VALID + "colour = 1\n", "unknown key 'colour'"),
    (VALID.replace("timm:vit_tiny_patch16_224", "timm-vit"), "unknown model 'timm-vit'"),
    (VALID.replace('["ft"]', '["wise_ft"]'), "Did you mean: 'wise-ft'"),
])
def test_cli_reports_config_errors_in_one_screen_with_exit_2(tmp_path, run_rib, rib_registry, text, expected):
    path = write(tmp_path, text)
    result = run_rib("bench", "-c", str(path), "--dry-run")
    assert result.exit_code == 2
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.splitlines()) <= 12


def test_debug_shows_the_traceback(tmp_path, run_rib, rib_registry):
    result = run_rib("--debug", "bench", "-c", str(write(tmp_path, "[suites.s\n")), "--dry-run")
    assert result.exit_code == 2 and "Traceback" in result.stderr
