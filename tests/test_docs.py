"""The docs' commands are copy-pasteable: every `rib ...` line in the guide parses, every suite it names exists."""

import re
import shlex

import pytest

from rib_core.cli import build_parser
from rib_core.config import load_suites
from tests.helpers import REPO

DOCS = ["docs/guide.md", "docs/cluster.md", "README.md", "docs/demo.md"]


def rib_commands(path):
    text = (REPO / path).read_text()
    blocks = re.findall(r"```(?:console|bash|sh)?\n(.*?)```", text, flags=re.S)
    for block in blocks:
        for line in block.splitlines():
            line = line.strip().removeprefix("$ ")
            match = re.search(r"(?:^|&& |; )(?:\.venv/bin/)?(rib (?:[^&;|>]*))", line)
            if match:
                yield match.group(1).strip()


@pytest.mark.parametrize("doc", DOCS)
def test_every_rib_command_in_the_docs_parses(doc):
    if not (REPO / doc).exists():
        pytest.skip(f"{doc} not written yet")
    commands = list(rib_commands(doc))
    assert commands, f"no rib command found in {doc}"
    _, suites = load_suites(REPO / "benchmarks.toml")
    parser = build_parser()
    for command in commands:
        argv = shlex.split(command, comments=True)[1:]
        args = parser.parse_args(argv)  # raises (exit 2) on anything argparse rejects
        if getattr(args, "suite", None):
            assert args.suite in suites, f"{doc}: '{command}' names an unknown suite"


def test_suites_md_holds_the_generated_reference_of_every_suite_key():
    """docs/suites.md documents exactly what the core validates: regenerate it when a declaration changes."""
    from rib_core import suite_docs
    from rib_core.suite import DATASET_KEYS, MODEL_KEYS, STRATEGY_KEYS, SUITE_KEYS
    from rib_core.training import TRAINING_KEYS

    text = (REPO / "docs" / "suites.md").read_text(encoding="utf-8")
    assert suite_docs.replaced(text) == text, "docs/suites.md is stale: run python -m rib_core.suite_docs --write"
    for keys in (SUITE_KEYS, TRAINING_KEYS, MODEL_KEYS, DATASET_KEYS, STRATEGY_KEYS):
        for key, option in keys.items():
            assert f"| `{key}` |" in text
            assert option.help, f"{key} has no help text for docs/suites.md"
