"""`rib datasets sources`: the table of published sources, built in and declared by dataset plugins."""

from __future__ import annotations

import json
from dataclasses import asdict

from rib_core.data.progress import human
from rib_core.data.cards import source_of
from rib_core.data.sources import Source
from rib_core.errors import RibError


def all_sources(registry) -> list[Source]:
    sources = []
    for registration in registry.names("datasets"):
        if registration.is_pattern:
            continue
        try:
            cls = registry.load("datasets", registration.name)
        except RibError:  # a broken plugin is reported by `rib plugins`; its source is simply not listed
            cls = None
        source = source_of(registration.name, cls)
        if source is not None:
            sources.append(source)
    return sources


def layout(source: Source, strip: str) -> str:
    inside = f"{strip}/" if strip else "(archive root)/"
    return f"{inside} -> <data root>/{source.folder}/"


def sources_command(registry, console, as_json: bool = False) -> int:
    sources = all_sources(registry)
    if as_json:
        print(json.dumps([asdict(s) for s in sources], indent=1))
        return 0
    from rich.table import Table

    table = Table(show_edge=False, pad_edge=False, show_lines=True)
    for col in ("dataset", "file / format", "URL", "size", "checksum", "layout", "licence / notes"):
        table.add_column(col, overflow="fold")
    for source in sources:
        for archive in source.archives:
            checksum = f"{archive.checksum}\n({archive.checksum_from})" if archive.checksum else "none published"
            notes = "\n".join(filter(None, [source.licence, *source.notes,
                                            f"password: {source.password_hint} ({source.password_env})"
                                            if source.password_env else ""]))
            table.add_row(source.dataset, f"{archive.name}\n{archive.format}", "\n".join(archive.urls),
                          human(archive.size) if archive.size else "not published", checksum,
                          layout(source, archive.strip), notes)
    console.print(table)
    return 0
