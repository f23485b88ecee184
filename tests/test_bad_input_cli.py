"""Bad input at the command line gets a message and an exit code, never a traceback (issue 35, item 9 and 14)."""

import os
import subprocess
import sys

import pytest

from rib_core.testing import toy
from tests.helpers import REPO

SUITE = """
[suites.toy]
models = ["tiny/a"]
datasets = ["toy-a", "toy-b"]
reference = "toy-ref"
strategies = ["ft"]
eval_batch_size = 16

[suites.toy.training]
lr = 0.05
epochs = 1
warmup_steps = 1
batch_size = 8
"""


@pytest.fixture
def toy_run(tmp_path, monkeypatch, register_plugin, run_rib):
    """A finished toy run: (its results directory, the suite file)."""
    toy.install(tmp_path, monkeypatch, register_plugin, domains=("toy-a", "toy-b", "toy-ref"), per_class=4)
    suite = tmp_path / "suite.toml"
    suite.write_text(SUITE)
    out = tmp_path / "out"
    assert run_rib("bench", "-c", str(suite), "--out", str(out), "--device", "cpu", "--no-report").exit_code == 0
    return out, suite


def test_a_latin_1_suite_file_is_refused_naming_its_line(tmp_path, run_rib):
    suite = tmp_path / "suite.toml"
    suite.write_bytes('[suites.s]\n# caf\xe9\nmodels = ["m"]\n'.encode("latin-1"))
    result = run_rib("bench", "-c", str(suite))
    assert result.exit_code == 2 and "Traceback" not in result.stderr
    assert f"{suite}:2: the file is not UTF-8 (byte 0xe9)" in result.stderr and "Save it as UTF-8" in result.stderr


def test_a_deeply_nested_suite_file_is_refused(tmp_path, run_rib):
    suite = tmp_path / "suite.toml"
    suite.write_text("[suites.s]\nmodels = " + "[" * 5000 + "]" * 5000 + "\n")
    result = run_rib("bench", "-c", str(suite))
    assert result.exit_code == 2 and "nested too deeply" in result.stderr


@pytest.mark.parametrize("content", ["[1, 2]", '{"suite": "toy"}', '{"suite": "toy", "datasets": [], "models": [], '
                                     '"strategies": [], "cells": [{"kind": "eval"}]}', "not json"])
def test_a_run_manifest_of_the_wrong_shape_is_named_by_report_and_status(toy_run, run_rib, content):
    out, _ = toy_run
    (out / "runs" / "toy.json").write_text(content)
    for command in (("report", str(out)), ("status", str(out))):
        result = run_rib(*command)
        assert result.exit_code == 2 and "Traceback" not in result.stderr, result.stderr
        assert str(out / "runs" / "toy.json") in result.stderr
        assert "Run the same 'rib bench' command again to write it anew" in result.stderr


def test_runs_being_a_file_is_named(toy_run, run_rib):
    out, _ = toy_run
    import shutil

    shutil.rmtree(out / "runs")
    (out / "runs").write_text("")
    result = run_rib("report", str(out))
    assert result.exit_code == 1 and f"'{out / 'runs'}' is a file" in result.stderr


def test_plot_into_a_missing_folder_is_refused_before_the_report_prints(toy_run, run_rib, tmp_path):
    pytest.importorskip("matplotlib")
    out, _ = toy_run
    result = run_rib("report", str(out), "--plot", str(tmp_path / "no" / "such" / "ri.png"))
    assert result.exit_code == 2 and result.stdout == ""
    assert f"the folder '{tmp_path / 'no' / 'such'}' does not exist" in result.stderr


def test_plot_of_a_run_with_no_ri_rows_says_so(tmp_path, monkeypatch, register_plugin, run_rib):
    pytest.importorskip("matplotlib")
    from rib_core.engine.runner import Runner

    def fails(self, cell):
        raise RuntimeError("no training today")

    monkeypatch.setattr(Runner, "run_finetune", fails)
    toy.install(tmp_path, monkeypatch, register_plugin, domains=("toy-a", "toy-b", "toy-ref"), per_class=4)
    (tmp_path / "suite.toml").write_text(SUITE)
    out = tmp_path / "out"
    run_rib("bench", "-c", str(tmp_path / "suite.toml"), "--out", str(out), "--device", "cpu", "--no-report")
    result = run_rib("report", str(out), "--plot", str(tmp_path / "ri.png"))
    assert result.exit_code == 2 and "no fine-tuned results to draw yet" in result.stderr
    assert not (tmp_path / "ri.png").exists()


def test_a_terminal_that_cannot_show_the_report_characters_still_gets_the_numbers(toy_run):
    """`Δ`, `·` and box lines on an ASCII terminal: shown as '?' and ASCII boxes, exit 0, no traceback."""
    out, _ = toy_run
    env = dict(os.environ, PYTHONIOENCODING="ascii")
    result = subprocess.run([sys.executable, "-m", "rib_core", "report", str(out)], capture_output=True, env=env,
                            cwd=REPO, timeout=120)
    assert result.returncode == 0 and b"Traceback" not in result.stderr, result.stderr
    text = result.stdout.decode("ascii")
    assert "tiny/a ? ft" in text and "? ref" in text and "mRI [95% CI]" in text
    utf8 = subprocess.run([sys.executable, "-m", "rib_core", "report", str(out)], capture_output=True,
                          env=dict(os.environ, PYTHONIOENCODING="utf-8"), cwd=REPO, timeout=120).stdout.decode()
    numbers = [line.split("|")[1:] for line in text.splitlines() if line.startswith("toy-a ")]
    assert numbers and all(n.strip() in utf8 for n in numbers[0])  # the same numbers


def test_the_data_root_error_of_rib_bench_names_a_flag_it_has(tmp_path, run_rib, rib_registry):
    suite = tmp_path / "suite.toml"
    root = tmp_path / "a-file"
    root.write_text("")
    suite.write_text(f'[suites.s]\nmodels = ["timm:vit_tiny_patch16_224"]\ndata_root = "{root}"\n'
                     'datasets = ["imagenet-r", "imagenet-a"]\nstrategies = ["ft"]\n')
    result = run_rib("bench", "-c", str(suite), "--out", str(tmp_path / "out"))
    assert result.exit_code == 2 and f"the data root '{root}' is a file, not a folder" in result.stderr
    assert "--data-root" in result.stderr
    from rib_core.cli import build_parser

    bench = build_parser()._subparsers._group_actions[0].choices["bench"]
    assert "--data-root" in bench.format_help()
