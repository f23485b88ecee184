"""docs/guide.md's `--compare` example is a demo run's output, written by scripts/demo-excerpt (never typed): it is
there, it is the current output's shape (the correction named, mRI the primary claim), and the script writes it."""

from __future__ import annotations

import importlib.machinery
import importlib.util

from tests.helpers import REPO


def block(name: str) -> str:
    text = (REPO / "docs" / "guide.md").read_text(encoding="utf-8")
    return text.split(f"<!-- demo:{name} -->\n", 1)[1].split(f"<!-- /demo:{name} -->", 1)[0]


def test_the_guide_shows_a_generated_comparison_of_the_current_shape():
    shown = block("compare")
    assert shown.startswith("```\nlora minus ft (points; paired over images")
    assert "Holm p" in shown and "Holm-Bonferroni" in shown
    assert shown.count("mRI (primary)") == 2  # one row per demo backbone


def test_demo_excerpt_writes_the_comparison_from_rib_report(tmp_path, monkeypatch):
    loader = importlib.machinery.SourceFileLoader("demo_excerpt", str(REPO / "scripts" / "demo-excerpt"))
    script = importlib.util.module_from_spec(importlib.util.spec_from_loader("demo_excerpt", loader))
    loader.exec_module(script)
    printed = "report tables\n\nlora minus ft (points; paired over images)\nrow   \nverdict\n"
    monkeypatch.setattr(script, "rib_report", lambda results, *extra: printed)
    assert script.comparison(tmp_path, "lora", "ft") == "lora minus ft (points; paired over images)\nrow\nverdict"
    text = "a\n<!-- demo:compare -->\nold\n<!-- /demo:compare -->\nb"
    assert script.replace(text, "compare", "new") == "a\n<!-- demo:compare -->\nnew\n<!-- /demo:compare -->\nb"
