"""`rib datasets check`: verify the datasets a suite (or a list of names) needs, before any GPU time is spent."""

from __future__ import annotations

import json

from rich.table import Table

from rib_core.config import DatasetSpec, load_suite
from rib_core.data.check import compare_manifest, write_manifest
from rib_core.data.locate import check_data_root, default_data_root
from rib_core.paths import check_file_name


def _specs(args, registry) -> tuple[list[DatasetSpec], str | None]:
    if args.names:
        for name in args.names:
            registry.get("datasets", name)
        return [DatasetSpec(label=n, adapter=n) for n in args.names], None
    suite = load_suite(args.config, args.suite)
    return suite.datasets + ([suite.reference] if suite.reference else []), suite.data_root


def check_command(args, registry, console) -> int:
    from rib_core.data.locate import open_adapter

    specs, suite_root = _specs(args, registry)
    data_root = default_data_root(args.data_root, suite_root)
    check_data_root(data_root, specs, registry)
    results = []
    for spec in specs:
        cls = registry.load("datasets", spec.adapter)
        adapter = open_adapter(cls, spec.label, dict(spec.options, adapter=spec.adapter), data_root, spec.path)
        result = adapter.check(deep=args.deep)
        row = result.as_dict()
        hint = None if result.ok else cls.misplaced_hint(data_root, adapter.root)
        if hint:
            row["problems"] = list(row["problems"]) + [hint]
        if args.digest is not None and result.found:
            manifest = args.digest / f"{check_file_name('dataset label', spec.label)}.json"  # stays inside DIR
            if manifest.exists():
                differences = compare_manifest(adapter, manifest)
                row["manifest"] = {"file": str(manifest), "differences": differences}
                if differences:
                    row["ok"] = False
                    row["problems"] = row["problems"] + [f"differs from {manifest}: {len(differences)} file(s), "
                                                         f"e.g. {differences[0]}"]
            else:
                count = write_manifest(adapter, manifest)
                row["manifest"] = {"file": str(manifest), "written": count}
        results.append(row)
    if args.json:
        print(json.dumps(results, indent=1))
    else:
        table = Table(show_edge=False, pad_edge=False)
        for col, justify in (("dataset", "left"), ("verdict", "left"), ("images", "right"), ("classes", "right"),
                             ("where / what to do", "left")):
            table.add_column(col, justify=justify, overflow="fold")
        for r in results:
            colour = {"ok": "green", "partial": "yellow"}.get(r["verdict"], "red")
            verdict = r["verdict"] if r["ok"] or r["verdict"] != "ok" else "differs"
            expected = f"/{r['expected_images']}" if r.get("expected_images") else ""
            # A missing dataset's problems already say "not found" and where rib looked: say it once.
            lines = ([r["root"]] if r["root"] else []) + list(r["problems"])
            detail = "\n".join(lines) or "not found"
            if "manifest" in r:
                m = r["manifest"]
                detail += f"\nmanifest {m['file']}: " + (f"written ({m['written']} files)" if "written" in m
                                                          else "identical" if not m["differences"] else "DIFFERS")
            table.add_row(r["dataset"], f"[{colour}]{verdict}[/]", f"{r['images']}{expected}",
                          f"{r['classes']}/{r['expected_classes'] or '?'}", detail)
        console.print(table)
    return 0 if all(r["ok"] for r in results) else 1
