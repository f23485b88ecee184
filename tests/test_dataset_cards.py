"""The dataset cards (rib_core/data/cards.py) are the one place the built-in datasets' facts live: the
registrations, the adapters, `rib datasets`, `rib datasets get` and sources, and the generated dataset table of
docs/guide.md all read them."""

import ast
import importlib
import re
import subprocess
import sys

import pytest

from rib_core.data.cards import CARDS, DatasetCard
from tests.helpers import REPO

BUILTIN_DATASETS = CARDS
SPECS = list(CARDS.values())


def adapter_class(spec: DatasetCard):
    module, name = spec.target.split(":")
    return getattr(importlib.import_module(module), name)


def markdown_rows(text: str, header: str) -> list[list[str]]:
    """The body rows of the markdown table whose header row starts with `header`, as lists of cells."""
    rows, inside = [], False
    for line in text.splitlines():
        line = line.strip()
        if line.startswith(header):
            inside = True
        elif inside and line.startswith("|"):
            if not line.startswith("| ---"):
                rows.append([c.strip() for c in line.strip("|").split("|")])
        elif inside:
            break
    assert rows, f"no table under {header!r}"
    return rows


def test_the_table_has_one_row_per_built_in_dataset():
    assert list(BUILTIN_DATASETS) == ["imagenet-v2", "imagenet-a", "imagenet-r", "imagenet-sketch", "imagenet-cartoon",
                                   "imagenet-drawing", "imagenet-c", "objectnet", "imagenet-val"]
    for name, spec in BUILTIN_DATASETS.items():
        assert spec.name == name and ":" in spec.target and spec.description and spec.source_hint
        assert spec.folder_names and len(set(spec.folder_names)) == len(spec.folder_names)


def test_register_datasets_registers_every_row_in_order():
    from rib_core import builtins

    registered = []
    builtins.register_datasets(lambda name, target, description="", **kw:
                               registered.append((name, target, description)))
    rows = [(s.name, s.target, s.description) for s in SPECS]
    assert registered[:len(rows)] == rows
    assert [r[0] for r in registered[len(rows):]] == ["hub:*", "imagefolder", "demo-*"]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_each_adapter_takes_its_facts_from_its_row(spec):
    cls = adapter_class(spec)
    assert cls.card == spec
    for name, value in spec.adapter_facts().items():
        assert getattr(cls, name) == value, name


def test_no_adapter_restates_a_fact_of_its_row():
    restated = []
    for module in {s.target.split(":")[0] for s in SPECS}:
        path = REPO / (module.replace(".", "/") + ".py")
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef):
                for statement in node.body:
                    targets = (statement.targets if isinstance(statement, ast.Assign)
                               else [statement.target] if isinstance(statement, ast.AnnAssign) else [])
                    restated += [f"{module}.{node.name}.{t.id}" for t in targets
                                 if isinstance(t, ast.Name) and t.id in DatasetCard.ADAPTER_FACTS]
    assert restated == []


def test_the_guide_holds_the_table_generated_from_the_cards():
    from rib_core.data import card_docs

    text = (REPO / "docs" / "guide.md").read_text(encoding="utf-8")
    assert card_docs.replaced(text) == text, "docs/guide.md is stale: run python -m rib_core.data.card_docs --write"
    rows = markdown_rows(text, "| dataset | folders tried")
    assert [row[0].strip("`") for row in rows] == list(CARDS) + ["imagefolder"]
    for row in rows[:-1]:
        card = CARDS[row[0].strip("`")]
        assert re.findall(r"`([^`]+)`", row[1]) == list(card.folder_names)
        assert all(a.name in row[4] for a in card.archives)


def test_the_generator_follows_a_changed_card(monkeypatch):
    from dataclasses import replace

    from rib_core.data import card_docs

    monkeypatch.setitem(CARDS, "imagenet-a", replace(CARDS["imagenet-a"], expected_images=7_501))
    assert "| `imagenet-a` | `imagenet-a`, `imagenet_a`, `ImageNet-A` | 7,501 |" in card_docs.markdown()


def test_rib_datasets_prints_every_card(run_rib):
    import json

    result = run_rib("datasets", "--json")
    assert result.exit_code == 0, result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert set(CARDS) <= set(rows)
    assert rows["imagenet-val"]["needs_account"] is True and rows["objectnet"]["password_env"]
    assert rows["imagenet-a"]["archives"][0]["checksum"].startswith("sha256:")
    table = run_rib("datasets").stdout
    assert "imagenet-sketch" in table and "rib datasets get" in table


def test_the_other_dataset_tables_name_folders_of_the_rows():
    from rib_core.data.fixtures import TREE_FOLDERS

    assert set(TREE_FOLDERS) == set(BUILTIN_DATASETS)
    for name, folder in TREE_FOLDERS.items():
        assert folder in BUILTIN_DATASETS[name].folder_names
    for name, card in CARDS.items():
        assert card.source is not None and card.source.folder == card.folder_names[0]
        assert card.source.needs_account == (name == "imagenet-val")


def test_the_rows_share_source_images_with_source_split():
    assert {s.name for s in SPECS if s.source_images} == {"imagenet-cartoon", "imagenet-drawing", "imagenet-c",
                                                           "imagenet-val"}


def test_the_table_and_the_registrations_import_neither_torch_nor_numpy():
    code = ("import sys, rib_core.builtins, rib_core.data.cards; "
            "heavy = [m for m in ('torch', 'timm', 'numpy') if m in sys.modules]; assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)
