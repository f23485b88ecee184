"""A real browser for the results page's tests: the system's headless Chromium, driven by Playwright.

Playwright (requirements/ci.txt) brings its own driver but no browser here: it starts the Chromium the system
installed (Debian: `apt-get install chromium`; scripts/setup does it where it runs as root), through
`executable_path`, with the network and everything that would reach it switched off. Playwright gives every
launch a new, empty profile (user data dir). `load` opens a page and records what a reader would see go wrong:
console messages, script errors and any request for something other than the file itself.

    python -m tests.browser screenshot PAGE.html OUT.png [--width 1200] [--height 900] [--full-page]

docs/figures/demo-report.png: `rib bench` (the demo), `rib report rib-results --format html -o demo-report.html`,
then `python -m tests.browser screenshot demo-report.html docs/figures/demo-report.png --height 1300`.
"""

from __future__ import annotations

import os
import shutil
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
HOW_TO_GET = ("install Chromium and Playwright: `apt-get install chromium` (Debian/Ubuntu; scripts/setup does it "
              "when run as root) and `pip install -r requirements/ci.txt` (playwright); or point RIB_CHROMIUM at "
              "a Chromium binary")


def chromium() -> str | None:
    """The browser binary: $RIB_CHROMIUM, else the first of NAMES on PATH; None when there is none."""
    wanted = os.environ.get("RIB_CHROMIUM")
    if wanted:
        return wanted if Path(wanted).is_file() else None
    for name in NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def missing() -> str | None:
    """Why no browser test can run here (with how to fix it), or None when one can."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return f"the Python package playwright is not installed: {HOW_TO_GET}"
    if chromium() is None:
        return f"no Chromium found (looked for $RIB_CHROMIUM, {', '.join(NAMES)}): {HOW_TO_GET}"
    return None


@dataclass
class Loaded:
    page: object  # playwright.sync_api.Page
    console: list[str] = field(default_factory=list)  # "type: text" of every console message
    errors: list[str] = field(default_factory=list)  # uncaught script errors
    requests: list[str] = field(default_factory=list)  # every URL asked for, the page itself included
    outside: list[str] = field(default_factory=list)  # those that are not the file itself (blocked)


@contextmanager
def browser():
    """A launched headless Chromium (playwright.sync_api.Browser)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=chromium(), args=FLAGS, headless=True)
        try:
            yield launched
        finally:
            launched.close()


@contextmanager
def load(launched, path: Path, *, javascript: bool = True, width: int = 1200, height: int = 900,
         color_scheme: str = "light"):
    """Open the file `path` in a new context (a fresh profile's worth of state) and yield a Loaded."""
    url = Path(path).resolve().as_uri()
    context = launched.new_context(java_script_enabled=javascript, viewport={"width": width, "height": height},
                                   color_scheme=color_scheme, offline=True)
    try:
        page = context.new_page()
        loaded = Loaded(page)
        page.on("console", lambda m: loaded.console.append(f"{m.type}: {m.text}"))
        page.on("pageerror", lambda e: loaded.errors.append(str(e)))

        def route(r):
            loaded.requests.append(r.request.url)
            if r.request.url == url or r.request.url.startswith("data:"):
                r.continue_()
            else:
                loaded.outside.append(r.request.url)
                r.abort()

        context.route("**/*", route)
        page.goto(url, wait_until="load")
        yield loaded
    finally:
        context.close()


def screenshot(page_file: Path, out: Path, width: int = 1200, height: int = 900, full_page: bool = False,
               launched=None) -> bytes:
    """The PNG of `page_file` as a reader first sees it (the top `height` px of the page, `width` px wide), written
    to `out`; in `launched` (a browser) or one started for it."""
    if launched is None:
        with browser() as started:
            return screenshot(page_file, out, width, height, full_page, started)
    with load(launched, page_file, width=width, height=height) as loaded:
        png = loaded.page.screenshot(full_page=full_page, type="png")
    Path(out).write_bytes(png)
    return png


def main(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m tests.browser")
    sub = parser.add_subparsers(dest="command", required=True)
    shot = sub.add_parser("screenshot", help="a PNG of a page, as the browser tests take it")
    shot.add_argument("page", type=Path)
    shot.add_argument("out", type=Path)
    shot.add_argument("--width", type=int, default=1200)
    shot.add_argument("--height", type=int, default=900)
    shot.add_argument("--full-page", action="store_true")
    args = parser.parse_args(argv)
    why = missing()
    if why:
        print(f"python -m tests.browser: {why}", file=sys.stderr)
        return 2
    screenshot(args.page, args.out, args.width, args.height, args.full_page)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
