"""Two datasets of a suite (or a dataset and the reference set) that hold the same images are refused before any
work, unless the suite sets allow_overlap = true: RI would measure memorised images."""

from __future__ import annotations

import shutil

import pytest

from rib_core.testing import toy

SUITE = """
[suites.toy]
models = ["tiny/a"]
datasets = {datasets}
{reference}
strategies = ["ft"]
{extra}

[suites.toy.training]
epochs = 1
"""


@pytest.fixture
def world(tmp_path, monkeypatch, register_plugin):
    toy.install(tmp_path, monkeypatch, register_plugin, ("toy-a", "toy-b", "toy-ref"), per_class=6)
    return tmp_path


def bench(run_rib, world, datasets: str, reference: str = "", extra: str = "", *args: str):
    suite = world / "suite.toml"
    suite.write_text(SUITE.format(datasets=datasets, reference=reference, extra=extra))
    return run_rib("bench", "-c", str(suite), "--out", str(world / "out"), "--device", "cpu", "--workers", "0",
                   "--no-report", *args)


CASES = {
    "same-folder-twice": ('["toy-a", "toy-b", { name = "toy-a", label = "again" }]', "",
                          "datasets 'toy-a' and 'again' hold the same images (24 of the 24 files of 'again' are "
                          "files of 'toy-a': the folder "),
    "reference-among-datasets": ('["toy-a", { name = "toy-x", adapter = "toy-ref" }]', 'reference = "toy-ref"',
                                 "datasets 'toy-x' and 'toy-ref' hold the same images (24 of the 24 files"),
    "a-copy": ('["toy-a", "toy-copy"]', "", "datasets 'toy-a' and 'toy-copy' hold the same images ("),
    "a-symlink": ('["toy-a", "toy-link"]', "", "datasets 'toy-a' and 'toy-link' hold the same images (24 of the 24"),
}


@pytest.mark.parametrize("case", CASES)
def test_datasets_holding_the_same_images_are_refused_before_any_work(world, run_rib, case):
    datasets, reference, expected = CASES[case]
    shutil.copytree(world / "data" / "toy-a", world / "data" / "toy-copy")
    (world / "data" / "toy-link").symlink_to(world / "data" / "toy-a")
    result = bench(run_rib, world, datasets, reference)
    assert result.exit_code == 2, result.stderr
    assert "rib: error: cannot start suite 'toy':" in result.stderr and expected in result.stderr
    assert "would measure memorised images, not robustness" in result.stderr
    assert "set allow_overlap = true in the suite if you mean it" in result.stderr
    assert "Traceback" not in result.stderr and not (world / "out").exists()

    dry = bench(run_rib, world, datasets, reference, "", "--dry-run")  # the dry run lists it too
    assert dry.exit_code == 0 and "hold the same images" in dry.stdout + dry.stderr


def test_a_suite_that_means_it_runs_with_a_warning(world, run_rib):
    result = bench(run_rib, world, '["toy-a", "toy-b", { name = "toy-a", label = "again" }]', "",
                   "allow_overlap = true")
    assert result.exit_code == 0, result.stderr
    assert "warning: datasets 'toy-a' and 'again' hold the same images" in result.stderr
    assert "(allowed: allow_overlap = true)" in result.stderr
    assert len(list((world / "out").glob("cells/*/record.json"))) == 3 + 3 * (1 + 3)


def test_different_images_in_the_same_layout_are_no_overlap(world, run_rib):
    # toy-a and toy-b have the same relative paths (red/000.png, ...) but different pixels; toy-ref likewise
    result = bench(run_rib, world, '["toy-a", "toy-b"]', 'reference = "toy-ref"')
    assert result.exit_code == 0, result.stderr
    assert "same images" not in result.stderr
