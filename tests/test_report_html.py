"""`rib report DIR --format html`: one self-contained page with the JSON report's numbers, to the printed digit.

These read the page as written (Python's HTML parser); tests/test_report_browser.py opens it in Chromium.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shlex
import statistics

import pytest

from rib_core.cli import build_parser
from tests.helpers import REPO
from tests.report_pages import expected_values, read_page, write_world


def report_and_page(run_rib, out, tmp_path, *more):
    report = run_rib("report", str(out), "--format", "json", *more)
    assert report.exit_code == 0, report.stderr
    target = tmp_path / "results.html"
    written = run_rib("report", str(out), "--format", "html", "-o", str(target), *more)
    assert written.exit_code == 0, written.stderr
    assert written.stdout == "" and f"wrote {target}" in written.stderr
    return json.loads(report.stdout), target.read_text(encoding="ascii")


def test_every_mri_ri_and_matrix_value_on_the_page_is_the_json_reports(tmp_path, run_rib):
    out = write_world(tmp_path / "out")
    report, html = report_and_page(run_rib, out, tmp_path)
    page = read_page(html)
    mri, matrix, ri = expected_values(report)
    assert len(mri) == 4 and len(matrix) == 2 * 4 + 2 * 2 * 3 * 4 and len(ri) == 2 * 2 * 3
    assert page.mri == mri
    assert page.matrix == matrix
    assert page.ri == ri
    # Without JavaScript the summary is in a sensible order: highest mRI first.
    by_mri = sorted(report["mri"], key=lambda m: -m["mri"])
    assert page.summary_order == [(m["model"], m["strategy"]) for m in by_mri]
    # Same page to stdout, as ASCII (other characters as references), whatever stdout's encoding.
    printed = run_rib("report", str(out), "--format", "html")
    assert printed.exit_code == 0 and read_page(printed.stdout).matrix == matrix
    assert printed.stdout.isascii()


def test_the_header_names_the_suite_status_command_and_the_page_holds_every_section(tmp_path, run_rib):
    out = write_world(tmp_path / "out")
    report, html = report_and_page(run_rib, out, tmp_path)
    root = read_page(html).root
    assert root.first("title").text() == "rib results: suite toy"
    header = root.first("dl", class_="run").text()
    assert "complete" in header and f"rib bench --suite toy --out {out}" in header
    assert "2026-12-03T12:00:00+0000" in header and 'eval_images = "all"' in header
    headings = [h.text() for h in root.find_all("h2")]
    plugins = any(r["metric"] not in ("forgetting", "id-gain") for r in report["metrics"])  # e.g. rib-ece's
    assert headings == ["Summary", "Accuracy matrices", *(["Other metrics"] if plugins else []), "Figures",
                        "The suite as run", "Fingerprints", "How to reproduce"]
    prints = " ".join(t.text() for t in root.find_all("table", class_="fingerprints"))
    assert "model-0001" in prints and "/weights/1.safetensors" in prints and "sha256-0001" in prints
    assert "data-0003" in prints and "120" in prints  # a dataset's fingerprint and its image count
    # Figures: the --plot figures inline as SVG, each with its alternative text.
    figures = root.find_all("figure", class_="figure")
    assert [f.attrs["id"] for f in figures] == ["r1-fig-heatmaps", "r1-fig-mri", "r1-fig-scatter"]
    for figure in figures:
        svg = figure.first("svg")
        assert svg.attrs["role"] == "img" and svg.first("title").text().strip()
    # Accessible tables: captions, and every header cell says what it heads.
    for table in root.find_all("table"):
        assert table.first("caption") is not None
        assert all(th.attrs.get("scope") in ("col", "row") for th in table.find_all("th"))


def test_a_failed_fine_tune_and_a_pending_cell_are_on_the_page(tmp_path, run_rib):
    out = write_world(tmp_path / "out", fail=("m/a", "ft", "d-sketch", 0),
                      pending=("m/b", "lp", "d-photo", "d-noise", 0))
    report, html = report_and_page(run_rib, out, tmp_path)
    assert report["status"] == "1 cell(s) failed; 4 not run (a cell they need failed); 1 pending"
    root = read_page(html).root
    assert report["status"] in root.first("dl", class_="run").text()
    failures = root.find_all("li", class_="failure")
    assert [f.text() for f in failures] == ["fine-tune m/a / ft on d-sketch: RuntimeError: loss is nan on d-sketch"]
    state = root.first("h2", id="r1-state").parent.text()
    assert "1 cell(s) failed" in state and f"rib status {out}" in state
    assert "4 evaluation cell(s) were not run" in state
    assert "1 evaluation cell(s) have no result yet" in state
    page = read_page(html)
    assert all(page.matrix[("m/a", "ft", "d-sketch", j)] == "—" for j in ("d-photo", "d-sketch", "d-noise", "d-ref"))
    _, matrix, _ = expected_values(report)
    assert {k: v for k, v in page.matrix.items() if v != "—"} == matrix


def test_a_three_seed_page_shows_the_seed_means_and_their_sds(tmp_path, run_rib):
    out = write_world(tmp_path / "out", seeds=(0, 1, 2), models=("m/a",))
    report, html = report_and_page(run_rib, out, tmp_path)
    page = read_page(html)
    per_seed = {}
    for row in report["accuracies"]:
        if row["strategy"] is not None:
            per_seed.setdefault((row["model"], row["strategy"], row["ft_dataset"], row["eval_dataset"]), {})[
                row["seed"]] = row["accuracy"]
    assert len(per_seed) == 2 * 3 * 4 and all(set(s) == {0, 1, 2} for s in per_seed.values())
    for key, seeds in per_seed.items():
        mean, sd = statistics.mean(seeds.values()), statistics.stdev(seeds.values())  # computed independently
        shown, shown_sd = page.matrix[key].strip("()"), page.cell_sd[key]
        assert abs(float(shown) - mean) <= 0.05 + 1e-9 and abs(float(shown_sd.removeprefix("SD ")) - sd) <= 0.05 + 1e-9
        row = next(r for r in report["matrix"]
                   if (r["model"], r["strategy"], r["ft_dataset"], r["eval_dataset"]) == key)
        assert (shown, shown_sd) == (f"{row['accuracy']:.1f}", f"SD {row['seed_sd']:.1f}")  # the JSON's, printed
    assert any(page.cell_sd[k] != "SD 0.0" for k in per_seed)
    for m in report["mri"]:
        assert page.seed_sd[(m["model"], m["strategy"])] == f"{m['seed_sd']:.1f} (3)"
    captions = [c.text() for c in page.root.find_all("caption") if c.parent.attrs.get("class") == "matrix"]
    assert captions == ["m/a · ft · mean of 3 seeds", "m/a · lp · mean of 3 seeds"]
    assert page.root.first("h2", id="r1-seeds") is not None


def test_a_seed_missing_from_a_cell_is_marked(tmp_path, run_rib):
    out = write_world(tmp_path / "out", seeds=(0, 1), models=("m/a",), strategies=("ft",),
                      fail=("m/a", "ft", "d-noise", 1))
    _, html = report_and_page(run_rib, out, tmp_path)
    row = next(r for r in read_page(html).root.find_all("tr", data_ft="d-noise"))
    assert all("†" in td.text() for td in row.find_all("td", data_eval=True))  # one seed of two finished
    assert "fewer than all of them finished" in html.replace("&dagger;", "†")


def test_the_page_fetches_nothing_and_its_script_is_the_one_its_policy_allows(tmp_path, run_rib):
    _, html = report_and_page(run_rib, write_world(tmp_path / "out"), tmp_path)
    root = read_page(html).root
    for node in root.find_all():
        for name in ("src", "href", "xlink:href", "action", "data", "poster", "srcset"):
            value = node.attrs.get(name)
            # in the page (#id) or in the attribute itself (data:, e.g. matplotlib's heatmap pixels)
            assert value is None or value.startswith(("#", "data:")), (node.tag, name, value[:80])
    assert not re.search(r"@import|url\((?!#)", html)  # CSS pulls nothing in either
    policy = root.first("meta", http_equiv="Content-Security-Policy").attrs["content"]
    assert "default-src 'none'" in policy
    scripts = root.find_all("script")
    assert len(scripts) == 1 and "src" not in scripts[0].attrs
    digest = base64.b64encode(hashlib.sha256(scripts[0].text().encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in policy  # else the browser refuses to run it
    ids = [n.attrs["id"] for n in root.find_all(id=True)]
    assert len(ids) == len(set(ids))  # three inline SVGs, and no id twice


def test_several_directories_make_one_page_and_other_formats_refuse(tmp_path, run_rib):
    a = write_world(tmp_path / "a", suite="first")
    b = write_world(tmp_path / "b", suite="second", models=("m/c",), rng_seed=1)
    target = tmp_path / "both.html"
    result = run_rib("report", str(a), str(b), "--format", "html", "-o", str(target))
    assert result.exit_code == 0, result.stderr
    html = target.read_text()
    root = read_page(html).root
    assert [s.attrs["aria-label"] for s in root.find_all("section", class_="report")] == ["suite first", "suite second"]
    assert [a.text() for a in root.first("nav").find_all("a")] == ["suite first", "suite second"]
    page = read_page(html)
    assert ("m/c", "ft") in page.mri and ("m/a", "ft") in page.mri
    json_report = run_rib("report", str(a), str(b), "--format", "json")
    assert json_report.exit_code == 2 and "pass one DIR" in json_report.stderr and "--format html" in json_report.stderr
    table = run_rib("report", str(a), str(b))
    assert table.exit_code == 0 and f"{a} · suite first" in table.stdout and f"{b} · suite second" in table.stdout


@pytest.mark.parametrize("target, message", [("missing/results.html", "does not exist"), (".", "that is a folder")])
def test_an_output_that_cannot_be_written_exits_2_before_any_work(tmp_path, run_rib, target, message):
    result = run_rib("report", str(write_world(tmp_path / "out")), "--format", "html", "-o", str(tmp_path / target))
    assert result.exit_code == 2 and message in result.stderr and "Traceback" not in result.stderr


def test_minus_o_writes_any_format_and_the_table_keeps_its_compare_section(tmp_path, run_rib):
    out = write_world(tmp_path / "out")
    result = run_rib("report", str(out), "--compare", "ft", "lp", "-o", str(tmp_path / "report.txt"))
    assert result.exit_code == 0 and result.stdout == ""
    text = (tmp_path / "report.txt").read_text()
    assert "m/a · ft" in text and "ft minus lp" in text


def test_plot_with_the_page_writes_the_figure_files_too(tmp_path, run_rib):
    out = write_world(tmp_path / "out", models=("m/a",), strategies=("ft",))
    result = run_rib("report", str(out), "--format", "html", "-o", str(tmp_path / "page.html"),
                     "--plot", str(tmp_path / "fig.svg"))
    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == ["fig-mri.svg", "fig-scatter.svg", "fig.svg",
                                                                          "page.html"]


def test_compare_rows_on_the_page_are_the_json_comparisons(tmp_path, run_rib):
    out = write_world(tmp_path / "out")
    report, html = report_and_page(run_rib, out, tmp_path, "--compare", "ft", "lp")
    root = read_page(html).root
    shown = [td.text() for td in root.first("table", class_="compare").find_all("td", data_col="difference")]
    assert shown == [f"{r['difference']:+.1f} [{r['ci'][0]:+.1f},{r['ci'][1]:+.1f}]" for r in report["comparisons"]]
    assert len(shown) == 2 * (3 + 1)  # per model: each fine-tuning set and mRI


def test_against_rows_and_the_shared_source_footnote_render_from_the_report_dict(tmp_path, run_rib):
    from rib_core.report.html import page

    report = json.loads(run_rib("report", str(write_world(tmp_path / "out")), "--format", "json").stdout)
    report["against"] = [{"table": "average OOD accuracy", "model": "m/a", "what": "pretrained", "paper": 41.0,
                          "rib": 42.25, "ci": [40.0, 44.5], "difference": 1.25}]
    report["shared_sources"] = [{"ft_dataset": "d-photo", "eval_dataset": "d-ref", "fraction": 0.8},
                                {"ft_dataset": "d-photo", "eval_dataset": "d-noise", "fraction": 0.0}]
    root = read_page(page([report], figures=False)).root
    row = root.first("table", class_="against").first("tbody").first("tr")
    assert [c.text() for c in row.find_all()][-3:] == ["41.0", "42.2 [40.0,44.5]", "+1.2"]
    table = root.first("table", class_="matrix", data_model="m/a", data_strategy="ft")
    heads = {th.attrs.get("data-eval"): th for th in table.find_all("th", data_eval=True)}
    assert heads["d-ref"].first("sup") is not None and heads["d-noise"].first("sup") is None  # 0: no footnote
    note = table.parent.parent.first("ol", class_="footnotes").text()
    assert "d-ref shares source images with the fine-tuning set" in note and "photo: 80%" in note
    assert "held-out-sources" in note
    del report["shared_sources"]  # until issue 31's numbers are in the report: no footnote at all
    assert read_page(page([report], figures=False)).root.first("ol", class_="footnotes") is None


def test_the_suite_as_run_is_a_suite_file_that_gives_the_same_suite_and_the_commands_parse(tmp_path, run_rib):
    from rib_core.config import load_suite, suite_table

    demo = suite_table(load_suite(REPO / "benchmarks.toml", "demo"))
    out = write_world(tmp_path / "out", suite="demo", suite_table=demo)
    _, html = report_and_page(run_rib, out, tmp_path)
    root = read_page(html).root
    suite_file = tmp_path / "suite.toml"
    suite_file.write_text(root.first("pre", class_="toml").text())
    assert suite_table(load_suite(suite_file, "demo")) == demo
    commands = [line for line in root.first("pre", class_="reproduce").text().splitlines() if line.startswith("rib ")]
    assert commands[-1] == "rib report results --format html -o results.html"
    for command in commands:
        build_parser().parse_args(shlex.split(command)[1:])  # exits 2 on anything argparse rejects


def test_html_is_a_listed_format():
    from rib_core.plugins import get_registry

    assert "html" in [r.name for r in get_registry().names("formats")]
