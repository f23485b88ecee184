"""One run, one truth: every output reads one run model (issue 29).

A 3-seed run's matrix shows the seed means and says so; CSV tells seeds apart; a failed fine-tune is in the text
report and in JSON `failures`, and "run again" is advised only where it helps; superseded plans are named.
"""

import csv
import io
import json
import re

import pytest

from rib_core.testing import toy

SUITE = """
[suites.toy]
models = ["tiny/a"]
datasets = ["toy-b", "toy-c"]
reference = "toy-ref"
strategies = ["ft"]
eval_batch_size = 16
{extra}

[suites.toy.training]
lr = {lr}
epochs = 1
warmup_steps = 1
batch_size = 8
"""


@pytest.fixture
def toy_env(tmp_path, monkeypatch, register_plugin):
    # Noisier than the toy's own domains: fine-tunes of different seeds then differ in accuracy.
    monkeypatch.setitem(toy.DOMAINS, "toy-b", 1.0)
    monkeypatch.setitem(toy.DOMAINS, "toy-c", 1.4)
    return toy.install(tmp_path, monkeypatch, register_plugin, domains=("toy-b", "toy-c", "toy-ref"), per_class=10)


def write_suite(tmp_path, extra="", lr=0.3):
    path = tmp_path / "suite.toml"
    path.write_text(SUITE.format(extra=extra, lr=lr))
    return path


def bench(run_rib, suite, out, *more):
    return run_rib("bench", "-c", str(suite), "--out", str(out), "--device", "cpu", *more)


def matrix_rows(text: str, title: str) -> dict[str, list[str]]:
    """The rows of the terminal matrix under `title`: {row label: cells}."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(title))
    rows = {}
    for line in lines[start + 3:]:
        if not line.strip() or "│" not in line:
            break
        cells = [c.strip() for c in line.split("│")]
        rows[cells[0]] = cells[1:]
    return rows


def test_a_three_seed_matrix_shows_the_seed_means_and_says_so_and_csv_has_the_seed(toy_env, run_rib):
    out = toy_env / "out"
    assert bench(run_rib, write_suite(toy_env, "seeds = [0, 1, 2]"), out, "--no-report").exit_code == 0
    report = json.loads(run_rib("report", str(out), "--format", "json").stdout)
    assert report["seeds"] == [0, 1, 2] and report["status"] == "complete"
    per_seed = {}
    for row in report["accuracies"]:
        if row["strategy"] == "ft":
            per_seed.setdefault((row["ft_dataset"], row["eval_dataset"]), {})[row["seed"]] = row["accuracy"]
    assert all(set(seeds) == {0, 1, 2} for seeds in per_seed.values())
    assert any(len(set(seeds.values())) > 1 for seeds in per_seed.values()), per_seed  # the seeds differ somewhere

    text = run_rib("report", str(out)).stdout
    assert "tiny/a · ft · mean of 3 seeds" in text
    rows = matrix_rows(text, "tiny/a · ft")
    columns = ["toy-b", "toy-c", "toy-ref"]
    for (ft, ev), seeds in per_seed.items():
        mean = sum(seeds.values()) / 3  # the independent mean of the three stored accuracies
        shown = rows[ft][columns.index(ev)].strip("()")
        assert shown == f"{mean:.1f}", (ft, ev, seeds)

    rows = list(csv.DictReader(io.StringIO(run_rib("report", str(out), "--format", "csv").stdout)))
    assert {r["seed"] for r in rows if r["strategy"] == "ft"} == {"0", "1", "2"}
    assert {r["seed"] for r in rows if r["strategy"] == ""} == {""}  # the pretrained model has no training seed
    assert {r["eval_images"] for r in rows} == {"all"}
    keys = [(r["model"], r["strategy"], r["ft_dataset"], r["eval_dataset"], r["seed"]) for r in rows]
    assert len(keys) == len(set(keys))  # every row can be told apart


def test_a_failed_fine_tune_is_in_the_text_report_and_the_json_failures(toy_env, run_rib, monkeypatch):
    from rib_core.engine.runner import Runner

    def fails(self, cell):
        raise RuntimeError(f"cannot train on {cell.ft_dataset}\nsecond line of the message")

    monkeypatch.setattr(Runner, "run_finetune", fails)
    out = toy_env / "out"
    assert bench(run_rib, write_suite(toy_env), out).exit_code == 1
    report = json.loads(run_rib("report", str(out), "--format", "json").stdout)
    assert [(f["kind"], f["what"], f["error"]) for f in report["failures"]] == [
        ("finetune", f"fine-tune tiny/a / ft on {d}", f"RuntimeError: cannot train on {d}") for d in ("toy-b", "toy-c")]
    assert report["cell_counts"] == {"done": 3, "failed": 2, "not run": 6, "in progress": 0, "pending": 0}
    assert report["pending_cells"] == 0 and len(report["not_run"]) == 6
    assert report["status"] == "2 cell(s) failed; 6 not run (a cell they need failed)"
    text = run_rib("report", str(out)).stdout
    assert "2 cell(s) failed" in text and "fine-tune tiny/a / ft on toy-b: RuntimeError: cannot train on" in text
    assert f"rib status {out}" in text
    assert "6 evaluation cell(s) were not run because a cell they need failed" in text
    assert "no result yet" not in text  # running the same command again would not change anything
    status = json.loads(run_rib("status", str(out), "--json").stdout)
    assert status["counts"]["not run"] == 6 and status["counts"]["failed"] == 2


def test_a_diverged_fine_tune_is_in_the_text_report_and_the_json_failures(toy_env, run_rib):
    out = toy_env / "out"
    result = bench(run_rib, write_suite(toy_env, lr=1e20), out)  # the toy's loss overflows at once
    assert result.exit_code == 1
    report = json.loads(run_rib("report", str(out), "--format", "json").stdout)
    finetunes = [f for f in report["failures"] if f["kind"] == "finetune"]
    assert len(finetunes) == 2 and all("toy-" in f["what"] for f in finetunes), report["failures"]
    assert all(f["error"].startswith("training diverged at step") for f in finetunes), finetunes
    assert report["cell_counts"]["failed"] == 2 and report["cell_counts"]["not run"] == 6
    assert report["pending_cells"] == 0 and len(report["not_run"]) == 6
    text = run_rib("report", str(out)).stdout
    assert "2 cell(s) failed" in text and "fine-tune tiny/a / ft on toy-b" in text
    assert f"rib status {out}" in text
    assert "6 evaluation cell(s) were not run because a cell they need failed" in text
    assert "no result yet" not in text  # running the same command again would not change anything


def test_a_pending_cell_is_the_only_one_that_says_run_again(toy_env, run_rib):
    out = toy_env / "out"
    assert bench(run_rib, write_suite(toy_env), out, "--no-report").exit_code == 0
    manifest = json.loads((out / "runs" / "toy.json").read_text())
    victim = next(c["key"] for c in manifest["cells"] if c["kind"] == "eval" and c["strategy"] == "ft")
    (out / "cells" / victim / "record.json").unlink()
    text = run_rib("report", str(out)).stdout
    assert "1 evaluation cell(s) have no result yet" in text and "run the same 'rib bench' command again" in text
    report = json.loads(run_rib("report", str(out), "--format", "json").stdout)
    assert report["status"] == "1 pending" and report["failures"] == []


def test_an_edited_suite_keeps_the_earlier_plans_cells_visible_by_name(toy_env, run_rib):
    out = toy_env / "out"
    assert bench(run_rib, write_suite(toy_env), out, "--no-report").exit_code == 0
    assert bench(run_rib, write_suite(toy_env, lr=0.02), out, "--no-report").exit_code == 0
    text = run_rib("report", str(out)).stdout
    found = re.search(r"(\d+) finished cell\(s\) of an earlier plan of this suite are kept but not shown .*"
                      r"--plan (\S+)", text.replace("\n", " "))
    assert found, text
    assert int(found.group(1)) == 2 + 2 * 3  # the two fine-tunes and their six evaluations changed with lr
    older = json.loads(run_rib("report", str(out), "--suite", "toy", "--plan", found.group(2), "--format",
                               "json").stdout)
    assert older["status"] == "complete" and older["superseded"] == []
    status = run_rib("status", str(out)).stdout
    assert "of an earlier plan of suite 'toy' are kept" in status


def test_datasets_check_finds_a_named_dataset_as_bench_would(tmp_path, run_rib, rib_registry):
    from rib_core.testing import make_dataset_tree

    tree = make_dataset_tree("imagenet-r", tmp_path / "elsewhere" / "my-r-copy")
    suite = tmp_path / "suite.toml"
    suite.write_text(f'[suites.x]\nmodels = ["timm:vit_tiny_patch16_224"]\ndata_root = "{tmp_path / "root"}"\n'
                     f'datasets = [{{name = "imagenet-r", path = "{tree}"}}, "imagenet-a"]\nstrategies = ["ft"]\n')
    (tmp_path / "root").mkdir()
    named = run_rib("datasets", "check", "-c", str(suite), "--suite", "x", "imagenet-r", "--json")
    row = json.loads(named.stdout)[0]
    assert row["root"] == str(tree) and row["images"] > 0, named.stdout + named.stderr
    # the same dataset kept in a folder of any name, without a suite
    alone = run_rib("datasets", "check", "imagenet-r", "--path", str(tree), "--json")
    assert json.loads(alone.stdout)[0]["root"] == str(tree)
    two = run_rib("datasets", "check", "imagenet-r", "imagenet-a", "--path", str(tree))
    assert two.exit_code == 2 and "--path is the folder of one dataset" in two.stderr


def test_a_dry_run_with_a_missing_data_root_lists_it_and_exits_0_while_a_run_refuses(tmp_path, run_rib,
                                                                                    rib_registry, offline_hub):
    missing = tmp_path / "no-such-root"
    dry = run_rib("bench", "--suite", "paper-quick", "--data-root", str(missing), "--dry-run", "--no-calibrate")
    assert dry.exit_code == 0, dry.stderr
    printed = " ".join(dry.stdout.split())  # the console wraps long lines
    assert f"the data root '{missing}' does not exist" in printed and "Missing or failing" in printed
    real = run_rib("bench", "--suite", "paper-quick", "--data-root", str(missing), "--out", str(tmp_path / "out"))
    assert real.exit_code == 2 and f"the data root '{missing}' does not exist" in real.stderr
    assert not (tmp_path / "out").exists()  # refused before any work


def test_datasets_get_takes_the_old_root_flag_with_a_deprecation(tmp_path, run_rib, rib_registry):
    result = run_rib("datasets", "get", "imagenet-a", "--root", str(tmp_path / "data"), "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert "--root is deprecated since 0.2" in result.stderr and str(tmp_path / "data") in result.stdout


def test_the_suite_is_one_immutable_value_and_parsing_leaves_the_callers_table_alone():
    from rib_core.config import parse_suite, suite_table

    raw = {"models": ["m"], "datasets": ["a", {"name": "b", "max_images": 4, "corruptions": ["fog"]}],
           "strategies": [{"name": "wise-ft", "alphas": [0.5]}], "training": {"lr": 1}, "seeds": [0, 1]}
    before = json.dumps(raw, sort_keys=True)
    suite = parse_suite("s", raw, "here")
    assert json.dumps(raw, sort_keys=True) == before  # `lr = 1` was not rewritten in the caller's dict
    assert suite.training.lr == 1.0 and isinstance(suite.training.lr, float)
    with pytest.raises(Exception):
        suite.datasets[1].options["corruptions"] = ["snow"]
    with pytest.raises(Exception):
        suite.seed = 3
    again = parse_suite("s", json.loads(json.dumps(suite_table(suite))), "manifest")
    assert again.datasets == suite.datasets and again.strategies == suite.strategies
    assert again.training == suite.training and again.seeds == suite.seeds and again.split == suite.split


def test_a_launcher_job_runs_the_suite_as_launched_and_refuses_once_the_file_or_the_plan_changed(toy_env, run_rib):
    from rib_core.engine.jobs import Worker, run_job
    from rib_core.errors import RibError

    out, suite = toy_env / "out", write_suite(toy_env)
    assert bench(run_rib, suite, out, "--no-report").exit_code == 0
    manifest = json.loads((out / "runs" / "toy.json").read_text())
    worker = Worker.for_run(out, manifest, device="cpu", workers=0)
    keys = [c["key"] for c in manifest["cells"]]
    assert run_job(worker, keys)["cells_reused"] == len(keys)  # rebuilt from the manifest: the same cells

    suite.write_text(suite.read_text().replace("lr = 0.3", "lr = 0.01"))
    with pytest.raises(RibError, match="was edited after this run was launched"):
        run_job(worker, keys)
    assert bench(run_rib, suite, out, "--no-report").exit_code == 0  # planned anew: a new manifest
    with pytest.raises(RibError, match="changed after this job was launched"):
        run_job(worker, keys)
