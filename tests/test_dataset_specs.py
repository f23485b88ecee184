"""The table of built-in datasets (rib_core/data/specs.py) is the one place their facts live: the registrations,
the adapters, the folder table in locate.py's docstring and the dataset table of docs/guide.md agree with it."""

import ast
import importlib
import re
import subprocess
import sys

import pytest

from rib_core.data import locate
from rib_core.data.specs import BUILTIN_DATASETS, BuiltinDataset
from tests.helpers import REPO

SPECS = list(BUILTIN_DATASETS.values())


def adapter_class(spec: BuiltinDataset):
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
    assert cls.facts is spec
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
                                 if isinstance(t, ast.Name) and t.id in BuiltinDataset.ADAPTER_FACTS]
    assert restated == []


def test_the_folder_table_in_locate_lists_each_rows_folder_names_in_order():
    rows = markdown_rows(locate.__doc__, "| dataset | folders tried")
    expected = [[s.name, ", ".join(s.folder_names)] for s in SPECS] + [["imagefolder", "(none: give `path`)"]]
    assert rows == expected


def test_the_dataset_table_of_the_guide_agrees_with_the_rows():
    from rib_core.data.imagenet_c import CORRUPTIONS, IMAGES_PER_SEVERITY, SEVERITIES

    rows = markdown_rows((REPO / "docs" / "guide.md").read_text(), "| dataset | folder under the data root")
    assert sorted(row[0].strip("`") for row in rows) == sorted(BUILTIN_DATASETS)  # the guide orders them its own way
    for name, folder, published, _layout, images in rows:
        spec = BUILTIN_DATASETS[name.strip("`")]
        names = re.findall(r"`([^`]+)`", folder)
        assert names[0] == spec.folder_names[0] and set(names) <= set(spec.folder_names), name
        assert published.split()[0] in spec.source_hint, name
        count = spec.expected_images or IMAGES_PER_SEVERITY * len(CORRUPTIONS) * len(SEVERITIES)
        assert images.split()[0] == f"{count:,}", name


def test_the_other_dataset_tables_name_folders_of_the_rows():
    from rib_core.data.fixtures import TREE_FOLDERS
    from rib_core.data.sources import BUILTIN_SOURCES

    assert set(TREE_FOLDERS) == set(BUILTIN_DATASETS)
    for name, folder in TREE_FOLDERS.items():
        assert folder in BUILTIN_DATASETS[name].folder_names
    for name, source in BUILTIN_SOURCES.items():
        assert source.folder in BUILTIN_DATASETS[name].folder_names


def test_the_rows_share_source_images_with_source_split():
    from rib_core.data import specs
    from rib_core.data.source_split import IMAGENET_VAL_SOURCES

    assert specs.IMAGENET_VAL_SOURCES == IMAGENET_VAL_SOURCES
    assert {s.name for s in SPECS if s.source_images} == {"imagenet-cartoon", "imagenet-drawing", "imagenet-c",
                                                           "imagenet-val"}


def test_the_table_and_the_registrations_import_neither_torch_nor_numpy():
    code = ("import sys, rib_core.builtins, rib_core.data.specs; "
            "heavy = [m for m in ('torch', 'timm', 'numpy') if m in sys.modules]; assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)
