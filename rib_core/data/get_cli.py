"""The arguments of `rib datasets get` and `rib datasets sources` (kept here so cli.py stays small)."""

from __future__ import annotations

from pathlib import Path


def _get(args, registry, console) -> int:
    from rib_core.data.get import get_command

    return get_command(args, registry, console)


def _sources(args, registry, console) -> int:
    from rib_core.data.sources_table import sources_command

    return sources_command(args, registry, console)


GET_COMMANDS = {"get": _get, "sources": _sources}


def add_get_parsers(dsub) -> None:
    get = dsub.add_parser("get", help="download, verify and unpack datasets from their published sources")
    get.add_argument("names", nargs="*", help="dataset names (default: every dataset of the suite)")
    get.add_argument("-c", "--config", type=Path)
    get.add_argument("--suite")
    get.add_argument("--root", help="data root to unpack into (default: RIB_DATA_ROOT)")
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
