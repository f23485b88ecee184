"""`rib datasets`: the dataset cards (rib_core/data/cards.py), and the registered datasets that have none."""

from __future__ import annotations

import json
from dataclasses import asdict

from rich.markup import escape
from rich.table import Table

from rib_core.data.cards import CARDS
from rib_core.data.progress import human


def card_rows(registry) -> list[dict]:
    """Every card as plain data, then every other registered dataset (a plugin's, a pattern) by name."""
    rows = [dict(asdict(card), registered=True) for card in CARDS.values()]
    for registration in registry.names("datasets"):
        if registration.name not in CARDS:
            rows.append({"name": registration.name, "description": registration.description,
                         "plugin": registration.plugin, "registered": True})
    return rows


def print_cards(registry, console, as_json: bool = False) -> int:
    rows = card_rows(registry)
    if as_json:
        print(json.dumps(rows, indent=1))
        return 0
    table = Table(show_edge=False, pad_edge=False, show_lines=True)
    for col in ("dataset", "images / classes", "folders tried under the data root", "published as", "licence"):
        table.add_column(col, overflow="fold")
    for row in rows:
        if "folder_names" not in row:  # no card: a plugin's dataset or a pattern
            table.add_row(escape(row["name"]), "", "", escape(row["description"]), f"(plugin {escape(row['plugin'])})")
            continue
        images = f"{row['expected_images']:,}" if row["expected_images"] else "by its options"
        archives = [a for a in row["archives"]]
        size = sum(a["size"] or 0 for a in archives)
        how = "your own copy (ImageNet account)" if row["needs_account"] else "rib datasets get"
        if row["password_env"]:
            how += f"; password: {row['password_env']}"
        published = "\n".join(a["name"] for a in archives) + (f"\n{human(size)}" if size else "") + f"\n{how}"
        table.add_row(f"{escape(row['name'])}\n{escape(row['description'])}",
                      f"{images} / {row['expected_classes']}\n{escape(row['class_map'])}",
                      escape("\n".join(row["folder_names"])), escape(published), escape(row["licence"]))
    console.print(table)
    console.print("Where each archive comes from and its checksum: rib datasets sources. Whether a copy on disk is "
                  "complete: rib datasets check NAME.", highlight=False)
    return 0
