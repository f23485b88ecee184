"""`rib datasets [check|get|sources]`: what each dataset is, whether it is on disk and complete, and getting it.

A named dataset is found exactly as `rib bench` finds it: when the suite (-c/--suite, else the default one) has
an entry of that name, its `path`, options and the suite's `data_root` apply; `--data-root` overrides the data
root as it does for `rib bench`, and `check NAME --path DIR` checks one dataset kept in a folder of any name.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from rich.markup import escape
from rich.table import Table

from rib_core.cli.common import ArgumentParser, add_data_root_argument, add_suite_arguments, console, data_root_of
from rib_core.errors import ConfigError, UsageError


def add_parser(sub) -> None:
    datasets = sub.add_parser("datasets", help="the datasets: what each is (no action), check, get, sources")
    datasets.add_argument("--json", action="store_true", help="without an action: the dataset cards as JSON")
    dsub = datasets.add_subparsers(dest="datasets_command", metavar="ACTION", parser_class=ArgumentParser)

    check = dsub.add_parser("check", help="verify datasets on disk: counts, classes, unreadable files")
    check.add_argument("names", nargs="*", help="dataset names (default: every dataset of the suite)")
    add_suite_arguments(check)
    add_data_root_argument(check)
    check.add_argument("--path", type=Path, help="with one NAME: the folder that holds it (any name), instead of "
                       "looking under the data root")
    check.add_argument("--deep", action="store_true", help="open every image to find unreadable files")
    check.add_argument("--digest", type=Path, help="manifest folder: write each dataset's manifest if absent, else "
                       "compare against it")
    check.add_argument("--json", action="store_true")

    get = dsub.add_parser("get", help="download, verify and unpack datasets from their published sources")
    get.add_argument("names", nargs="*", help="dataset names (default: every dataset of the suite)")
    add_suite_arguments(get)
    add_data_root_argument(get, deprecated_root=True)
    get.add_argument("--dry-run", action="store_true", help="list what would be downloaded, from where, and the disk "
                     "it needs; download nothing")
    get.add_argument("--mirror", help="replace the source hosts by this URL prefix (default: RIB_DATA_MIRROR); "
                     "checksums still apply")
    get.add_argument("--objectnet-password", help="the password objectnet.dev publishes after you accept its "
                     "licence (default: RIB_OBJECTNET_PASSWORD)")
    get.add_argument("--val-tar", type=Path, help="your ILSVRC2012_img_val.tar (ImageNet needs an account)")
    get.add_argument("--val-labels", type=Path, help="the class of each val image: '<image> <wnid>' lines or "
                     "LOC_val_solution.csv")
    get.add_argument("--any-val-tar", action="store_true", help="sort a --val-tar that differs from the published "
                     "file (e.g. re-packed)")
    get.add_argument("--keep-archives", action="store_true", help="keep the downloaded archives after unpacking")

    sources = dsub.add_parser("sources", help="where each dataset is published: URL, size, checksum, layout")
    sources.add_argument("--json", action="store_true")


def interrupted_note(args) -> str | None:
    if getattr(args, "datasets_command", None) == "get":
        return "downloaded bytes are kept (each file resumes from its .part)"
    return None


def run(args) -> int:
    from rib_core.plugins import get_registry

    registry = get_registry()
    if args.datasets_command == "check":
        specs, data_root = entries(args, registry)
        return check(specs, data_root, registry, deep=args.deep, digest=args.digest, as_json=args.json)
    if args.datasets_command == "get":
        return get(args, registry)
    if args.datasets_command == "sources":
        from rib_core.data.sources_table import sources_command

        return sources_command(registry, console(), as_json=args.json)
    from rib_core.data.cards_table import print_cards

    return print_cards(registry, console(), as_json=args.json)


def _suite(args, registry):
    """The suite the command names (-c/--suite), else the default one; None when only names are given and the
    default suite cannot be read (then the names are checked on their own, under --data-root/RIB_DATA_ROOT)."""
    from rib_core.config import load_suite

    explicit = args.config is not None or args.suite is not None
    try:
        return load_suite(args.config, args.suite, data_root=data_root_of(args))
    except ConfigError:
        if explicit or not args.names:
            raise
        return None


def entries(args, registry):
    """(the dataset entries to work on, the data root), each entry as `rib bench` would read it."""
    from rib_core.paths import default_data_root
    from rib_core.suite import DatasetSpec

    suite = _suite(args, registry)
    data_root = suite.data_root if suite is not None else default_data_root(data_root_of(args))
    if not args.names:
        if getattr(args, "path", None):
            raise UsageError("--path needs the NAME of the dataset it holds: rib datasets check NAME --path DIR.")
        return list(suite.eval_sets), data_root
    in_suite = {spec.label: spec for spec in suite.eval_sets} if suite is not None else {}
    specs = []
    for name in args.names:
        spec = in_suite.get(name)
        if spec is None:
            registry.get("datasets", name)  # an unknown name: a clear error listing the known ones
            spec = DatasetSpec(label=name, adapter=name)
        specs.append(spec)
    if getattr(args, "path", None):
        if len(specs) != 1:
            raise UsageError(f"--path is the folder of one dataset; {len(specs)} names were given.")
        specs = [replace(specs[0], path=str(args.path))]
    return specs, data_root


def check(specs, data_root, registry, *, deep=False, digest=None, as_json=False) -> int:
    from rib_core.data.check import check_row
    from rib_core.data.locate import data_root_problem
    from rib_core.errors import DataError

    problem = data_root_problem(data_root, specs, registry)
    if problem:
        raise DataError(problem)
    rows = [check_row(registry.load("datasets", spec.adapter), spec, data_root, deep=deep, digest_dir=digest)
            for spec in specs]
    if as_json:
        print(json.dumps(rows, indent=1))
    else:
        print_check(rows)
    return 0 if all(r["ok"] for r in rows) else 1


def print_check(rows: list[dict]) -> None:
    table = Table(show_edge=False, pad_edge=False)
    for col, justify in (("dataset", "left"), ("verdict", "left"), ("images", "right"), ("classes", "right"),
                         ("where / what to do", "left")):
        table.add_column(col, justify=justify, overflow="fold")
    for r in rows:
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
        table.add_row(escape(r["dataset"]), f"[{colour}]{verdict}[/]", f"{r['images']}{expected}",
                      f"{r['classes']}/{r['expected_classes'] or '?'}", escape(detail))
    console().print(table)


def get(args, registry) -> int:
    from rib_core.data.get import GetOptions, get_datasets
    from rib_core.paths import default_data_root
    from rib_core.suite import DatasetSpec

    if args.val_tar is not None and not args.names and not args.suite and args.config is None:
        args.names = ["imagenet-val"]
    suite = _suite(args, registry)
    if args.names:
        for name in args.names:
            registry.get("datasets", name)  # unknown names: a clear error listing the known ones
        names = list(args.names)
    else:
        names = list(dict.fromkeys(spec.adapter for spec in suite.eval_sets))
    root = suite.data_root if suite is not None else default_data_root(data_root_of(args))
    if not root:
        raise UsageError("rib datasets get needs a data root: give --data-root DIR (or set data_root in the suite, "
                         "or RIB_DATA_ROOT).")
    root = Path(root).expanduser()
    options = GetOptions(mirror=args.mirror, objectnet_password=args.objectnet_password, val_tar=args.val_tar,
                         val_labels=args.val_labels, any_val_tar=args.any_val_tar, keep_archives=args.keep_archives)
    got, complete = get_datasets(names, registry, root, options, console(), dry_run=args.dry_run)
    if args.dry_run:
        return 0
    if not got:
        return 1
    code = check([DatasetSpec(label=n, adapter=n) for n in got], str(root), registry)
    return code or (0 if complete else 1)
