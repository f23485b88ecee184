"""File names of images as rib hashes and shows them.

A dataset may hold a name that is not valid UTF-8 (written on a Latin-1 system, unpacked from an old archive):
Python lists it as a str with surrogate escapes ('caf\\udce9.png' for the bytes b'caf\\xe9.png'), which opens the
file fine but which strict UTF-8 cannot encode. Hashing goes through `name_bytes` (the name's own bytes; for
every valid UTF-8 name the same bytes as before, so no key changes) and messages through `shown`.
"""

from __future__ import annotations


def name_bytes(text: str) -> bytes:
    """The bytes of a file name (or of text holding file names) to hash: undecodable bytes as they were."""
    return text.encode("utf-8", "surrogateescape")


def shown(text) -> str:
    """A name (or text holding names) safe to print on any terminal: an undecodable byte shows as \\xe9."""
    return name_bytes(str(text)).decode("utf-8", "backslashreplace")
