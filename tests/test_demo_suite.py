"""The README's first command: `rib bench` with no config runs the offline demo end to end, with meaningful numbers.

The slowest tests (the one a new user meets first): the demo's data and both backbones come from the session's
demo cache (tests/conftest.py: drawn and pretrained once, about 35 s, shared with tests/test_demo.py), then the
whole demo grid runs, in this process, as `rib bench` would from a folder with no benchmarks.toml.
"""

import json
import re
from statistics import mean, pstdev

import pytest

from rib_core.testing.process_state import run_cli
from tests.helpers import REPO, linked_cache

# With the other tests that use the session's demo (tests/conftest.py), on one pytest-xdist worker: the others
# go on with the rest instead of waiting for the demo to be built.
pytestmark = pytest.mark.xdist_group("demo")

DOMAINS = ["demo-photo", "demo-sketch", "demo-cartoon", "demo-drawing", "demo-noise"]


@pytest.mark.slow
def test_demo_runs_offline_and_prints_the_report(demo_run):
    (code, stdout, stderr), report, _ = demo_run
    assert code == 0, stderr[-3000:]
    assert "demo/broad · ft" in stdout and "mRI" in stdout
    strategies = {m["strategy"] for m in report["mri"]}
    assert {"ft", "lp", "wise-ft[alpha=0.5]"} <= strategies


@pytest.mark.slow
def test_demo_numbers_are_meaningful(demo_run):
    _, report, _ = demo_run
    pre = {(a["model"], a["eval_dataset"]): a["accuracy"] for a in report["accuracies"] if a["strategy"] is None}
    # Every pretrained backbone is well above chance (10 classes) on every domain and the source domain.
    assert len(pre) == 2 * 6 and min(pre.values()) >= 20.0
    # Fine-tuning raises in-distribution accuracy (the held-out part of the fine-tuning set).
    gains = {}
    for m in report["metrics"]:
        if m["metric"] == "id-gain":
            gains.setdefault((m["model"], m["strategy"]), []).append(m["value"])
    for model in ("demo/narrow", "demo/broad"):
        assert mean(gains[(model, "ft")]) > 5.0
    # RI differs between backbones and strategies, and the paper's finding shows in miniature: full fine-tuning
    # costs the broadly pretrained backbone more robustness than the narrow one.
    mri = {(m["model"], m["strategy"]): m["mri"] for m in report["mri"]}
    assert pstdev(mri.values()) > 1.0
    assert mri[("demo/broad", "ft")] < mri[("demo/narrow", "ft")] - 3.0
    assert mri[("demo/broad", "ft")] < 2 * mri[("demo/narrow", "ft")]  # "more than twice", README.md says


# -- the documented numbers --------------------------------------------------------------------------------------
# The demo is deterministic on one machine (two cold runs agree byte for byte), but not across CPUs: its
# pretraining and fine-tuning amplify a last-bit difference of the float kernels. Measured with unchanged code
# (main at 8984501, 2026-12-02): a 2-core AMD EPYC machine printed numbers that differ from the excerpt's machine
# by up to 6.6 points on one accuracy or RI cell, 2.4 on a pretrained accuracy and 1.0 on an mRI (README.md).
# So the docs' numbers are checked within that variation, with a margin: this catches a stale excerpt after a
# change that moves results (refresh it with scripts/demo-excerpt), not a CPU's rounding; the claims the docs
# make from these numbers are asserted exactly by test_demo_numbers_are_meaningful on every machine.
ACCURACY_TOLERANCE = 10.0  # any accuracy, or change of accuracy (RI_i, its interval, delta ref, ID gain)
MRI_TOLERANCE = 2.0
NUMBER = re.compile(r"[-+]?\d+\.\d")


def _marked(path, name: str) -> str:
    text = (REPO / path).read_text()
    return text.split(f"<!-- demo:{name} -->\n", 1)[1].split(f"<!-- /demo:{name} -->", 1)[0]


def _rows(block: str) -> dict[str, list[float]]:
    """Table rows of a report block, keyed by their label cells, as their numbers."""
    rows = {}
    title = ""
    for line in block.splitlines():
        if "│" not in line:
            title = line.strip() if line.strip() and "━" not in line and "┃" not in line else title
            continue
        cells = [c.strip() for c in line.split("│")]
        labels = tuple(c for c in cells if re.search(r"[a-z]", c) or not c)  # "wise-ft[alpha=0.5]" is a label
        rows[(title,) + labels] = [float(x) for c in cells if c not in labels for x in NUMBER.findall(c)]
    return rows


def _compare(documented: dict, printed: dict, where: str) -> None:
    for label, numbers in documented.items():
        assert label in printed, f"{where}: row {label} is documented but not printed any more"
        now = printed[label]
        assert len(now) == len(numbers), f"{where}: row {label}: {numbers} documented, {now} printed"
        summary = label[0].startswith("Summary")
        for k, (doc, new) in enumerate(zip(numbers, now)):
            tolerance = MRI_TOLERANCE if summary and k == 0 else ACCURACY_TOLERANCE
            assert abs(doc - new) <= tolerance, (f"{where}: row {label}: documented {numbers}, printed now {now}. "
                                                 "Refresh the docs with scripts/demo-excerpt (see its docstring).")


@pytest.fixture(scope="module")
def printed_report(demo_run):
    *_, out = demo_run
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COLUMNS", "100")
        mp.setenv("NO_COLOR", "1")
        _, text, _ = run_cli(["report", out])
    return _rows(text)


@pytest.mark.slow
def test_the_readme_excerpt_is_what_the_demo_prints_within_the_stated_tolerance(printed_report):
    documented = _rows(_marked("README.md", "excerpt"))
    assert len(documented) == 6 + 10  # the broad/ft matrix (pretrained + 5 domains) and the summary
    _compare(documented, printed_report, "README.md")


@pytest.mark.slow
def test_docs_demo_numbers_are_what_the_demo_prints_within_the_stated_tolerance(demo_run, printed_report):
    _, report, _ = demo_run
    pre = {(a["model"], a["eval_dataset"]): a["accuracy"] for a in report["accuracies"] if a["strategy"] is None}
    table = [line for line in _marked("docs/demo.md", "pretrained").splitlines() if line.startswith("| `demo/")]
    assert len(table) == 2
    for line in table:
        model = line.split("`")[1]
        numbers = [float(x) for x in NUMBER.findall(line)]
        values = [pre[(model, d)] for d in ["demo-source"] + DOMAINS]
        for doc, new in zip(numbers, values + [mean(values[1:])]):
            assert abs(doc - new) <= ACCURACY_TOLERANCE, f"docs/demo.md: {line} against {values}"
    # The every-strategy summary (another suite, not run here) is marked as not yet refreshed until it is.
    strategies = _rows(_marked("docs/demo.md", "strategies"))
    shared = {k: v for k, v in strategies.items() if k in printed_report}
    if any(shared[k] != printed_report[k] for k in shared):
        assert "not yet refreshed" in (REPO / "docs" / "demo.md").read_text()
