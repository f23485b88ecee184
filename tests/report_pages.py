"""What the results-page tests share: a synthetic results directory, and reading numbers back out of a page.

`write_world` writes, through the real Store (rib_core.engine.synthetic: the files the runner writes), a run of
M models x S strategies x seeds on a few datasets and a reference set, optionally with a failed fine-tune (its
evaluations then "not run") and a pending evaluation, in a second or two. `read_page` parses an HTML page (as
written, or as a browser serialises its DOM) into the numbers a reader sees, found by the page's data attributes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import numpy as np

from rib_core.engine.store import Store
from rib_core.engine.synthetic import write_eval_cell

N_IMAGES = 120


def write_world(root: Path, *, suite: str = "toy", models=("m/a", "m/b"), strategies=("ft", "lp"),
                datasets=("d-photo", "d-sketch", "d-noise"), reference: str | None = "d-ref", seeds=(0,),
                fail: tuple | None = None, pending: tuple | None = None, suite_table: dict | None = None,
                rng_seed: int = 0) -> Path:
    """A results directory; `fail` = (model, strategy, ft_dataset, seed): that fine-tune failed; `pending` =
    (model, strategy, ft_dataset, eval_dataset, seed): that evaluation has no result yet."""
    rng = np.random.default_rng(rng_seed)
    store = Store(root)
    sets = list(datasets) + ([reference] if reference else [])
    labels = {d: rng.integers(0, 10, N_IMAGES) for d in sets}
    difficulty = {d: rng.random(N_IMAGES) for d in sets}
    held_out = np.arange(N_IMAGES // 5)  # the fine-tuning set's own column: its held-out part

    def evaluate(key, dataset, accuracy, positions):
        noise = rng.random(len(positions)) < 0.2
        u = np.where(noise, rng.random(len(positions)), difficulty[dataset][positions])
        truth = labels[dataset][positions]
        top1 = np.where(u < accuracy / 100, truth, (truth + 1) % 10)
        write_eval_cell(store, key, positions, truth, top1)

    cells = []
    for m, model in enumerate(models):
        pre_keys = {}
        for d in sets:
            key = pre_keys[d] = f"pre-{m}-{d}"
            evaluate(key, d, 40 + 10 * m + 3 * sets.index(d), np.arange(N_IMAGES))
            cells.append({"kind": "eval", "key": key, "model": model, "strategy": None, "ft_dataset": None,
                          "eval_dataset": d, "subset": "all", "seed": None, "reported": True})
        for s, strategy in enumerate(strategies):
            for seed in seeds:
                for i in datasets:
                    ft_key = f"ft-{m}-{s}-{i}-{seed}"
                    failed = fail == (model, strategy, i, seed)
                    if failed:
                        store.write_failure(ft_key, {"error": f"RuntimeError: loss is nan on {i}\nTraceback "
                                                              "(most recent call last): ..."})
                    else:
                        store.write_record(ft_key, {"kind": "finetune", "files": {}})
                    cells.append({"kind": "finetune", "key": ft_key, "model": model, "strategy": strategy,
                                  "ft_dataset": i, "eval_dataset": None, "subset": "all", "seed": seed,
                                  "reported": True})
                    for j in sets:
                        key = f"post-{m}-{s}-{i}-{j}-{seed}"
                        own = i == j
                        if not failed and pending != (model, strategy, i, j, seed):
                            change = 25.0 if own else -4.0 + 3 * s + rng.normal(0, 2)
                            evaluate(key, j, float(np.clip(40 + 10 * m + change, 1, 99)),
                                     held_out if own else np.arange(N_IMAGES))
                        cells.append({"kind": "eval", "key": key, "model": model, "strategy": strategy,
                                      "ft_dataset": i, "eval_dataset": j, "subset": "held-out" if own else "all",
                                      "seed": seed, "reported": True, "deps": [ft_key], "finetune_key": ft_key,
                                      "pre_key": pre_keys[j]})
    manifest = {"suite": suite, "source": "tests/report_pages.py", "eval_images": "all", "datasets": list(datasets),
                "reference": reference, "models": list(models), "strategies": list(strategies), "seeds": list(seeds),
                "cells": cells, "command": f"rib bench --suite {suite} --out {root}",
                "planned_at": "2026-12-03T12:00:00+0000",
                "fingerprints": {
                    "models": {m: {"name": m, "fingerprint": f"model-{n:04d}", "weights": f"/weights/{n}.safetensors",
                                   "weights_digest": f"sha256-{n:04d}"} for n, m in enumerate(models)},
                    "datasets": {d: {"adapter": d, "fingerprint": f"data-{n:04d}", "images": N_IMAGES,
                                     "root": f"/data/{d}"} for n, d in enumerate(sets)}}}
    if suite_table is not None:
        manifest["suite_table"] = suite_table
    store.write_run(suite, manifest)
    return Path(root)


# -- reading a page -------------------------------------------------------------------------------------------
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


@dataclass
class Node:
    tag: str
    attrs: dict
    children: list = field(default_factory=list)
    parent: "Node | None" = None

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def find_all(self, tag: str | None = None, **attrs) -> list["Node"]:
        """Descendants with this tag (any tag: None) whose attributes include `attrs` (value True: present;
        class_: one of the classes)."""
        out = []
        for child in self.children:
            if isinstance(child, str):
                continue
            if (tag is None or child.tag == tag) and all(_has(child, k, v) for k, v in attrs.items()):
                out.append(child)
            out += child.find_all(tag, **attrs)
        return out

    def first(self, tag: str | None = None, **attrs) -> "Node | None":
        found = self.find_all(tag, **attrs)
        return found[0] if found else None


def _has(node: Node, key: str, value) -> bool:
    if key == "class_":
        return value in (node.attrs.get("class") or "").split()
    name = key.replace("_", "-")
    if value is True:
        return name in node.attrs
    return node.attrs.get(name) == value


class _Builder(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = self.current = Node("#document", {})

    def handle_starttag(self, tag, attrs):
        node = Node(tag, {k: (v if v is not None else "") for k, v in attrs}, parent=self.current)
        self.current.children.append(node)
        if tag not in VOID:
            self.current = node

    def handle_startendtag(self, tag, attrs):
        self.current.children.append(Node(tag, dict(attrs), parent=self.current))

    def handle_endtag(self, tag):
        node = self.current
        while node is not None and node.tag != tag:
            node = node.parent
        if node is not None and node.parent is not None:
            self.current = node.parent

    def handle_data(self, data):
        self.current.children.append(data)


def parse(html: str) -> Node:
    builder = _Builder()
    builder.feed(html)
    builder.close()
    return builder.root


@dataclass
class PageValues:
    mri: dict  # (model, strategy) -> text of the summary's mRI cell
    seed_sd: dict  # (model, strategy) -> text of the summary's seed SD cell (several seeds only)
    matrix: dict  # (model, strategy or None, ft_dataset or None, eval_dataset) -> the value shown
    cell_sd: dict  # same keys -> "SD x.x" shown under a matrix cell (several seeds only)
    ri: dict  # (model, strategy, ft_dataset) -> text of the RI cell
    summary_order: list  # (model, strategy) of the summary's rows, top to bottom
    root: Node


def read_page(html: str) -> PageValues:
    root = parse(html)
    mri, seed_sd, order = {}, {}, []
    for table in root.find_all("table", class_="summary"):
        for row in table.find_all("tr", data_model=True):
            key = (row.attrs["data-model"], row.attrs["data-strategy"])
            order.append(key)
            mri[key] = row.first("td", data_col="mri").text().strip()
            sd = row.first("td", data_col="seed-sd")
            if sd is not None:
                seed_sd[key] = sd.text().strip()
    matrix, cell_sd, ri = {}, {}, {}
    for table in root.find_all("table", class_="matrix"):
        model, strategy = table.attrs["data-model"], table.attrs["data-strategy"]
        for row in table.find_all("tr", data_ft=True):
            ft = row.attrs["data-ft"] or None
            for cell in row.find_all("td", data_eval=True):
                key = (model, strategy if ft else None, ft, cell.attrs["data-eval"])
                value = cell.first("span", class_="v")
                matrix[key] = (value.text() if value is not None else cell.text()).strip()
                sd = cell.first("small", class_="sd")
                if sd is not None:
                    cell_sd[key] = sd.text().strip()
            if ft:
                ri[(model, strategy, ft)] = row.first("td", data_col="ri").text().strip()
    return PageValues(mri, seed_sd, matrix, cell_sd, ri, order, root)


# -- what the JSON report says the page must show (formatted here, independently of the page's code) -----------
def signed(x: float, ci=None) -> str:
    return f"{x:+.1f}" + (f" [{ci[0]:+.1f},{ci[1]:+.1f}]" if ci else "")


def expected_values(report: dict) -> tuple[dict, dict, dict]:
    """(mri, matrix, ri) as the page must print them: {key: text}, keys as in PageValues."""
    mri = {(m["model"], m["strategy"]): signed(m["mri"], m["mri_ci"]) for m in report["mri"]}
    matrix = {}
    for r in report["matrix"]:
        text = f"{r['accuracy']:.1f}"
        if r["strategy"] is not None and r["ft_dataset"] == r["eval_dataset"]:
            text = f"({text})"
        matrix[(r["model"], r["strategy"], r["ft_dataset"], r["eval_dataset"])] = text
    ri = {(r["model"], r["strategy"], r["ft_dataset"]): signed(r["ri"], r["ri_ci"]) for r in report["ri"]}
    return mri, matrix, ri
