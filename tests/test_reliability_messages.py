"""Issue 14, item 9: messages name real commands and folders, say things once, and use exit code 2 for
usage errors (see docs/reliability.md)."""

from __future__ import annotations

import json
import shutil

import pytest

from rib_core.data.fixtures import make_dataset_tree
from tests.helpers import small_grid_suite


def test_an_unknown_report_format_points_to_rib_list_formats(small_toy_env, run_rib):
    result = run_rib("report", str(small_toy_env), "--format", "xml")
    assert result.exit_code == 2
    assert "rib list formats" in result.stderr and "rib list sinks" not in result.stderr
    assert run_rib("list", "formats").exit_code == 0  # the command it names exists


def test_a_missing_dataset_is_reported_once_and_a_missing_data_root_in_one_line(tmp_path, run_rib, rib_registry):
    (tmp_path / "data").mkdir()
    result = run_rib("datasets", "check", "imagenet-r", "--data-root", str(tmp_path / "data"))
    assert result.exit_code != 0
    assert result.stdout.count("not found") == 1, result.stdout
    gone = run_rib("datasets", "check", "imagenet-r", "imagenet-a", "objectnet", "--data-root", str(tmp_path / "nope"))
    assert gone.exit_code == 2
    assert gone.stderr.count("\n") == 1 and f"the data root '{tmp_path / 'nope'}' does not exist" in gone.stderr


def test_usage_errors_exit_2(small_toy_env, bench):
    suite = small_grid_suite(small_toy_env)
    a_file = small_toy_env / "a-file"
    a_file.write_text("x")
    out_is_file = bench(suite, a_file)
    assert out_is_file.exit_code == 2 and "is a file, not a directory" in out_is_file.stderr


def test_an_unknown_device_exits_2_and_so_does_a_report_without_results(small_toy_env, run_rib):
    suite = small_grid_suite(small_toy_env)
    device = run_rib("bench", "-c", str(suite), "--out", str(small_toy_env / "out"), "--device", "gpu7")
    assert device.exit_code == 2 and "unknown device 'gpu7'" in device.stderr
    assert not (small_toy_env / "out").exists()
    (small_toy_env / "empty").mkdir()
    empty = run_rib("report", str(small_toy_env / "empty"))
    assert empty.exit_code == 2 and "no results in" in empty.stderr


def test_a_bad_plot_format_is_refused_before_the_report_is_printed(small_toy_env, bench, run_rib):
    out = small_toy_env / "out"
    assert bench(small_grid_suite(small_toy_env), out).exit_code == 0
    plot = run_rib("report", str(out), "--plot", str(small_toy_env / "ri.jpeg"))
    assert plot.exit_code == 2 and "--plot writes .png, .svg or .pdf files, got 'ri.jpeg'" in plot.stderr
    assert plot.stdout == "", "the report was printed before the bad --plot was refused"


def test_status_shows_brackets_in_errors_as_written(small_toy_env, bench, run_rib):
    out = small_toy_env / "out"
    assert bench(small_grid_suite(small_toy_env), out).exit_code == 0
    record_path = sorted(out.glob("cells/*/record.json"))[0]
    record_path.unlink()
    (record_path.parent / "failed.json").write_text(json.dumps({"error": "[training] lr = 5 made the loss nan"}))
    status = run_rib("status", str(out))
    assert "[training] lr = 5" in status.stdout, status.stdout


def test_max_images_that_leaves_no_held_out_image_is_warned_at_plan_time(small_toy_env, run_rib):
    suite = small_grid_suite(small_toy_env)
    suite.write_text(suite.read_text().replace('"toy-b"]', '{name = "toy-b", max_images = 4}]'))
    result = run_rib("bench", "-c", str(suite), "--out", str(small_toy_env / "out"), "--dry-run", "--no-calibrate")
    assert "dataset 'toy-b': max_images = 4 leaves no held-out image" in result.stderr, result.stderr


@pytest.mark.parametrize("where", ["nested", "at-root"])
def test_another_imagenet_v2_variant_is_named_as_such(tmp_path, run_rib, rib_registry, where):
    data = tmp_path / "data"
    tree = make_dataset_tree("imagenet-v2", tmp_path / "made", n_classes=2, per_class=1)
    parent = data / "imagenet-v2" if where == "nested" else data
    parent.mkdir(parents=True)
    variant = parent / "imagenetv2-threshold0.7-format-val"
    shutil.move(str(tree), str(variant))
    result = run_rib("datasets", "check", "imagenet-v2", "--data-root", str(data), "--json")
    problems = " ".join(json.loads(result.stdout)[0]["problems"])
    assert f"found {variant}: a different ImageNet-V2 variant" in problems, problems
