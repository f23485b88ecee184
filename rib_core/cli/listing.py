"""`rib list KIND` and `rib plugins`: what is registered, by whom, and each plugin's status. Never imports torch."""

from __future__ import annotations

import json

from rich.markup import escape
from rich.table import Table

from rib_core.cli.common import console
from rib_core.plugins import KINDS, SHIPPED_PLUGINS, get_registry


def add_parsers(sub) -> None:
    plugins = sub.add_parser("plugins", help="installed plugins, what they register, and their status")
    plugins.add_argument("--json", action="store_true")

    lister = sub.add_parser("list", help="registered models, datasets, strategies, metrics, report formats or "
                            "launchers; with a NAME, its options")
    lister.add_argument("kind", choices=sorted(KINDS))
    lister.add_argument("name", nargs="?", help="one registered name: what it is and the options it takes")
    lister.add_argument("--json", action="store_true")


def run(args) -> int:
    if args.command == "plugins":
        return show_plugins(as_json=args.json)
    if args.name:
        return show_one(args.kind, args.name, as_json=args.json)
    return show_names(args.kind, as_json=args.json)


def show_one(kind: str, name: str, as_json: bool = False) -> int:
    """`rib list KIND NAME`: one registered name, what it is and the options it takes."""
    from rib_core.describe import describe, text

    info = describe(get_registry(), kind, name)
    print(json.dumps(info, indent=1, default=str) if as_json else text(info))
    return 0


def show_plugins(as_json: bool = False) -> int:
    registry = get_registry()
    infos = [info.as_dict() for info in registry.plugins.values()]
    if as_json:
        print(json.dumps(infos, indent=1))
        return 0
    table = Table(show_edge=False, pad_edge=False)
    for col in ("plugin", "version", "registers", "status"):
        table.add_column(col, overflow="fold")
    for info in infos:
        registered = "; ".join(f"{kind}: {', '.join(names)}" for kind, names in info["registered"].items())
        status = "[green]ok[/]" if info["status"] == "ok" else f"[red]{escape(info['status'])}[/]"
        status += "".join(f"\n[yellow]warning:[/] {escape(w)}" for w in info["warnings"])
        # Plugin-provided text is escaped: "rib-core[hub]" is a name, not rich markup.
        table.add_row(escape(info["name"] + (" (built-in)" if info["builtin"] else "")), escape(info["version"] or ""),
                      escape(registered or "—"), status)
    console().print(table)
    return 0


def show_names(kind: str, as_json: bool = False) -> int:
    registry = get_registry()
    rows = [{"name": r.name, "plugin": r.plugin, "description": r.description, "installed": True}
            for r in registry.names(kind)]
    known = {r["name"] for r in rows}
    installed = {info.name for info in registry.plugins.values() if info.error is None}
    for name, dist in SHIPPED_PLUGINS.get(kind, {}).items():
        if dist not in installed and name not in known:
            rows.append({"name": name, "plugin": dist, "installed": False,
                         "description": f"not installed: pip install {dist} (here: pip install plugins/{dist})"})
    if as_json:
        print(json.dumps(rows, indent=1))
        return 0
    table = Table(show_edge=False, pad_edge=False)
    table.add_column("name", no_wrap=True)
    table.add_column("plugin", no_wrap=True)
    table.add_column("description", overflow="fold")
    for r in rows:
        style = "" if r["installed"] else "dim"
        table.add_row(escape(r["name"]), escape(r["plugin"]), escape(r["description"]), style=style)
    console().print(table)
    return 0
