"""docs/plugins.md holds exactly the generated reference (register keywords, report dict, record.json,
deprecations, unreadable-image exceptions, the docs/examples files) and answers what plugin authors asked."""

import re

from rib_core import plugin_docs
from tests.helpers import REPO

DOC = REPO / "docs" / "plugins.md"


def test_plugins_md_holds_the_generated_sections():
    text = DOC.read_text(encoding="utf-8")
    assert plugin_docs.replaced(text) == text, "docs/plugins.md is stale: run python -m rib_core.plugin_docs --write"
    for name in plugin_docs.sections():
        assert plugin_docs.BEGIN.format(name) in text


def test_a_stale_section_is_caught():
    text = DOC.read_text(encoding="utf-8").replace("| `reference` | string or null |", "| `reference` | string |")
    assert plugin_docs.replaced(text) != text


def test_the_demo_label_space_is_documented_in_its_logit_order():
    from rib_core.demo.render import CLASS_NAMES

    line = re.search(r"are 0 circle, (.*?)\(docs/demo.md", " ".join(DOC.read_text().split())).group(0)
    assert re.findall(r"(\d) ([a-z]+)", line) == [(str(i), name) for i, name in enumerate(CLASS_NAMES)]


def test_each_question_plugin_authors_asked_has_its_answer():
    text = " ".join(DOC.read_text().split())
    for answer in ("stat_sample(path)", "whose order is the logit order", "**text** stream",
                   "`positions` (the image's index", "returns the **whole** pre-evaluation", "`seed` (the training seed",
                   "any other key (`ci`, `before`, `n_images`) is kept", "calls `ctx.model.train()` once, before",
                   "What rib adds to your messages", "say \"not found\" by raising `DataError` from `samples()`",
                   "When `open_image` raises one of", "rib datasets check NAME --path DIR",
                   "What a cell's `record.json` holds", "What happens to results when weights change"):
        assert answer in text, answer
