"""The offline demo: a miniature ImageNet-RIB that needs no download, generated and pretrained on first use.

- `render`: procedural drawing of ten shape classes in several styles (numpy + PIL).
- `datasets`: the demo domains as a dataset adapter ("demo-source", "demo-photo", ...), written to the cache.
- `pretrain` and `backbones`: two tiny timm ViTs ("demo/narrow", "demo/broad"), trained once and cached.

This module stays light (no numpy, no torch): it only names things and says where the cache is.
"""

from __future__ import annotations

from pathlib import Path

from rib_core.paths import cache_dir  # demo data and models live under rib's cache

#: The reference set (standing in for ImageNet-1k val), then the shifted domains (standing in for the variants).
SOURCE_DOMAIN = "source"
SHIFTED_DOMAINS = ("photo", "sketch", "cartoon", "drawing", "noise")
DOMAINS = (SOURCE_DOMAIN, *SHIFTED_DOMAINS)
DATASET_PREFIX = "demo-"
BACKBONES = ("narrow", "broad")
LABEL_SPACE = "rib-demo"



def demo_part(name: str, prefix: str, known: tuple[str, ...], error, what: str) -> str:
    """ "demo-photo" -> "photo" (a bare "photo" too), or `error` listing the demo's names of that kind."""
    part = name[len(prefix):] if name.startswith(prefix) else name
    if part not in known:
        raise error(f"unknown demo {what} '{name}'. The demo has: {', '.join(prefix + k for k in known)}.")
    return part


# Bump when the pictures (or the pretraining) change: old caches are then ignored, never reused by mistake.
DATA_VERSION = "v1"
MODEL_VERSION = "v1"




def data_dir(cache: Path | None = None) -> Path:
    return (cache or cache_dir()) / "demo-data" / DATA_VERSION


def models_dir(cache: Path | None = None) -> Path:
    return (cache or cache_dir()) / "demo-models" / MODEL_VERSION


class terminal_progress:
    """A progress bar on stderr while the demo generates or pretrains (first run only), if stderr is a terminal.

    Used as `with terminal_progress("rendering demo-photo") as update: update(done, total)`. Silent when stderr
    is not a terminal or when another live display (the engine's) is already showing: callers that own the
    screen pass their own `progress` callback instead.
    """

    def __init__(self, description: str):
        self.description = description
        self._progress = None
        self._task = None

    def __enter__(self):
        import sys

        if sys.stderr.isatty():
            from rich.console import Console
            from rich.errors import LiveError
            from rich.progress import Progress

            progress = Progress(console=Console(stderr=True), transient=True)
            try:
                progress.start()
            except LiveError:
                progress = None
            if progress is not None:
                self._progress = progress
                self._task = progress.add_task(self.description, total=None)
        return self.update

    def update(self, done: int, total: int, *_details) -> None:
        if self._progress is not None:
            self._progress.update(self._task, completed=done, total=total)

    def __exit__(self, *exc_info):
        if self._progress is not None:
            self._progress.stop()
        return False
