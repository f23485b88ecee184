"""How a dataset is published, as data: its archives (URLs, size and checksum where recorded, format, layout)
and what obtaining it takes. The built-in datasets' sources are on their cards (rib_core/data/cards.py); a
third-party dataset adapter declares its own with a class attribute `download_source = Source(...)`.

`strip` is an archive's top folder, whose contents become the dataset folder `folder` under the data root.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ARCHIVE_FORMATS = ("tar", "tar.gz", "zip")


@dataclass(frozen=True)
class Archive:
    """One published file."""

    name: str  # file name, also the name of the downloaded file
    urls: tuple[str, ...]  # tried in order; a --mirror replaces their host
    format: str  # tar, tar.gz or zip
    size: int | None = None  # bytes, when recorded
    checksum: str | None = None  # "sha256:<hex>" or "md5:<hex>", when recorded
    checksum_from: str = ""  # who recorded the checksum
    strip: str = ""  # archive folder whose contents become the dataset folder ("" = the archive's root)

    def __post_init__(self):
        if self.format not in ARCHIVE_FORMATS:
            raise ValueError(f"archive {self.name}: format must be one of {ARCHIVE_FORMATS}, not {self.format!r}")
        if self.checksum and self.checksum.split(":", 1)[0] not in ("sha256", "md5"):
            raise ValueError(f"archive {self.name}: checksum must be 'sha256:<hex>' or 'md5:<hex>'")


@dataclass(frozen=True)
class Source:
    """How one dataset is obtained: its archives, unpacked together into `folder` under the data root."""

    dataset: str
    folder: str
    archives: tuple[Archive, ...]
    licence: str = ""
    password_env: str = ""  # environment variable holding a published zip password (ObjectNet)
    password_hint: str = ""  # where the password is published
    notes: tuple[str, ...] = field(default_factory=tuple)
    needs_account: bool = False  # the archive cannot be downloaded: the user gives their own copy (ImageNet)

    @property
    def download_size(self) -> int | None:
        sizes = [a.size for a in self.archives]
        return None if any(s is None for s in sizes) else sum(sizes)
