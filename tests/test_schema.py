"""The report dict and record.json are what rib_core/report/schema.py (and so docs/plugins.md) says they are, on a
real run: every key declared, nothing undeclared, for the report's tables' rows and for both kinds of record."""

import io
import json
from contextlib import redirect_stderr, redirect_stdout

import pytest

from rib_core.report.schema import RECORD_KEYS, REPORT_KEYS, names


def rib(*args: str) -> tuple[int, str, str]:
    from rib_core.cli import main

    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One toy bench (lp and wise-ft, two datasets and a reference): its --out folder and its JSON report."""
    from rib_core.plugins import reset_registry
    from rib_core.testing.toy import make_world, write_suite

    folder = tmp_path_factory.mktemp("schema")
    suite = write_suite(folder / "suite.toml", make_world(folder / "world"), ["lp", "wise-ft"])
    out = folder / "out"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("RIB_CACHE_DIR", str(folder / "cache"))
        env.setenv("HF_HUB_OFFLINE", "1")
        env.delenv("RIB_DATA_ROOT", raising=False)
        reset_registry()
        code, _, err = rib("bench", "-c", str(suite), "--out", str(out), "--no-report")
        assert code == 0, err
        code, report, err = rib("report", str(out), "--format", "json")
        assert code == 0, err
        reset_registry()
    return out, json.loads(report)


def test_the_report_has_exactly_the_declared_keys(run):
    _, report = run
    assert names(REPORT_KEYS, optional=False) <= set(report) <= names(REPORT_KEYS)
    for key in REPORT_KEYS:
        if key.keys and report[key.name]:
            assert all(set(row) == names(key.keys) for row in report[key.name]), key.name


@pytest.mark.parametrize("kind", ["eval", "finetune"])
def test_every_record_has_exactly_the_declared_keys(run, kind):
    out, _ = run
    records = [r for r in (json.loads(p.read_text()) for p in out.glob("cells/*/record.json")) if r["kind"] == kind]
    assert records
    declared = RECORD_KEYS[kind]
    for record in records:
        assert names(declared, optional=False) <= set(record) <= names(declared)
        cell = next(k for k in declared if k.name == "cell")
        assert set(record["cell"]) == names(cell.keys)
