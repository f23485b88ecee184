"""The results page in a real browser: headless Chromium (the system's), driven by Playwright (tests/browser.py).

Two pages: a synthetic run with 3 seeds and a failed fine-tune (seconds to write), and the demo's (the session's
demo run, tests/conftest.py: marked slow; RIB_DEMO_RESULTS=DIR reuses a finished demo run). Each is
loaded with JavaScript on and off; every mRI, RI and matrix value in the browser's DOM must be the JSON
report's, with no console message, no script error and no request for anything but the file itself.

Without Chromium or Playwright these skip, saying how to get them (scripts/setup installs both where it can).
"""

from __future__ import annotations

import io
import json
import os
import warnings
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from tests import browser
from tests.report_pages import expected_values, read_page, write_world

# With the other tests that use the session's demo (tests/conftest.py), on one pytest-xdist worker: the others
# go on with the rest instead of waiting for the demo to be built.
pytestmark = pytest.mark.xdist_group("demo")


def rib(*args: str) -> str:
    """`rib ARGS` in this process (module fixtures cannot use run_rib); its stdout."""
    from rib_core.cli import main

    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(args))
    assert code == 0, err.getvalue()
    return out.getvalue()


@pytest.fixture(scope="module")
def launched():
    why = browser.missing()
    if why:
        warnings.warn(f"browser tests skipped: {why}", stacklevel=1)  # in the summary, not only under -rs
        pytest.skip(f"browser tests need Chromium and Playwright: {why}")
    with browser.browser() as b:
        yield b


@pytest.fixture(scope="module")
def synthetic_page(tmp_path_factory):
    where = tmp_path_factory.mktemp("synthetic-page")
    out = write_world(where / "out", seeds=(0, 1, 2), fail=("m/b", "lp", "d-noise", 2))
    rib("report", str(out), "--format", "html", "-o", str(where / "results.html"))
    return where / "results.html", json.loads(rib("report", str(out), "--format", "json"))


@pytest.fixture(scope="module")
def demo_page(request, tmp_path_factory):
    """The page of the session's demo run (tests/conftest.py: demo_run), or of RIB_DEMO_RESULTS=DIR."""
    where = tmp_path_factory.mktemp("demo-page")
    if os.environ.get("RIB_DEMO_RESULTS"):
        out = Path(os.environ["RIB_DEMO_RESULTS"])
    else:
        (code, _, stderr), _, out = request.getfixturevalue("demo_run")
        assert code == 0, stderr[-3000:]
    rib("report", str(out), "--format", "html", "-o", str(where / "results.html"))
    return where / "results.html", json.loads(rib("report", str(out), "--format", "json"))


PAGES = ["synthetic", pytest.param("demo", marks=pytest.mark.slow)]


@pytest.fixture(params=PAGES)
def page(request):
    return request.getfixturevalue(f"{request.param}_page")


def quiet(loaded: browser.Loaded, path: Path) -> None:
    """Nothing went wrong: no console message, no script error, no request but the file itself."""
    assert loaded.console == [] and loaded.errors == []
    assert loaded.outside == [] and loaded.requests == [path.resolve().as_uri()]


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_every_mri_ri_and_matrix_value_in_the_dom_is_the_json_reports(launched, page, javascript):
    path, report = page
    with browser.load(launched, path, javascript=javascript) as loaded:
        dom = loaded.page.content()  # the browser's DOM, after its parser (and the script, when on)
        sort_buttons = loaded.page.locator("th button.sort").count()
        filters = loaded.page.locator(".filter input").count()
        quiet(loaded, path)
    shown = read_page(dom)
    mri, matrix, ri = expected_values(report)
    assert mri and shown.mri == mri
    assert ri and shown.ri == ri
    assert matrix and {k: v for k, v in shown.matrix.items() if v != "—"} == matrix
    if javascript:
        assert sort_buttons >= len(read_page(path.read_text()).root.first("table", class_="summary")
                                   .first("thead").find_all("th")) and filters == 1
    else:
        assert sort_buttons == 0 and filters == 0  # nothing that needs the script is on the page without it


def test_the_page_shows_the_summary_every_matrix_and_the_figures(launched, page):
    path, report = page
    with browser.load(launched, path) as loaded:
        p = loaded.page
        assert p.locator("table.summary").is_visible()
        pairs = {(r["model"], r["strategy"]) for r in report["accuracies"] if r["strategy"] is not None}
        assert p.locator("table.matrix").count() == len(pairs)
        for name in ("heatmaps", "mri", "scatter"):
            box = p.locator(f"#r1-fig-{name} svg").bounding_box()
            assert box and box["width"] > 200 and box["height"] > 100, (name, box)
        quiet(loaded, path)


def test_sorting_and_filtering_work_and_stay_quiet(launched, synthetic_page):
    path, report = synthetic_page
    with browser.load(launched, path) as loaded:
        p = loaded.page
        rows = p.locator("table.summary tbody tr")

        def mri_column():
            return [float(t.split()[0]) for t in p.locator("table.summary tbody td[data-col=mri]").all_inner_texts()]

        highest_first = sorted((round(m["mri"], 1) for m in report["mri"]), reverse=True)
        assert mri_column() == highest_first  # without a click: highest mRI first
        p.locator("table.summary thead th", has_text="mRI").locator("button").click()
        assert p.locator("table.summary thead th", has_text="mRI").get_attribute("aria-sort") == "descending"
        p.locator("table.summary thead th", has_text="mRI").locator("button").click()
        assert mri_column() == highest_first[::-1]
        p.locator("table.summary thead th", has_text="strategy").locator("button").click()
        strategies = [t.strip() for t in p.locator("table.summary tbody td.text").all_inner_texts()]
        assert strategies == ["ft", "ft", "lp", "lp"]
        p.locator(".filter input").fill("m/b lp")
        visible = [r for r in rows.all() if r.is_visible()]
        assert [(r.get_attribute("data-model"), r.get_attribute("data-strategy")) for r in visible] == [("m/b", "lp")]
        matrices = p.locator("div.matrix-block")
        assert [m.get_attribute("id") for m in matrices.all() if m.is_visible()] == ["r1-m4"]
        p.locator(".filter input").fill("")
        assert rows.count() == 4 and all(r.is_visible() for r in rows.all())
        quiet(loaded, path)


def test_a_screenshot_of_the_page_is_not_blank(launched, page, tmp_path):
    from PIL import Image

    path, _ = page
    png = browser.screenshot(path, tmp_path / "page.png", launched=launched)  # docs/figures/demo-report.png's call
    image = Image.open(io.BytesIO(png)).convert("RGB")
    assert image.size == (1200, 900)
    grey = image.convert("L")
    dark = sum(grey.histogram()[:160]) / (image.size[0] * image.size[1])  # text, rules, coloured cells
    assert 0.01 < dark < 0.6, dark
    assert len(image.getcolors(maxcolors=1 << 16) or range(1 << 16)) > 50  # not one flat colour


def test_the_page_reads_at_360_px_in_dark_and_prints(launched, synthetic_page, tmp_path):
    path, _ = synthetic_page
    with browser.load(launched, path, width=360, height=740) as loaded:
        assert loaded.page.evaluate("document.documentElement.scrollWidth") <= 360  # wide tables scroll inside
        quiet(loaded, path)
    with browser.load(launched, path, color_scheme="dark") as loaded:
        background = loaded.page.evaluate("getComputedStyle(document.body).backgroundColor")
        rgb = [int(x) for x in background.strip("rgba()").split(",")[:3]]
        assert sum(rgb) / 3 < 60, background
    with browser.load(launched, path) as loaded:
        loaded.page.emulate_media(media="print")
        assert loaded.page.locator(".filter").evaluate("e => getComputedStyle(e).display") == "none"
        pdf = loaded.page.pdf()
        assert pdf.startswith(b"%PDF") and len(pdf) > 10_000
        quiet(loaded, path)
