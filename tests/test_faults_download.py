"""`rib datasets get` against mirrors that misbehave: one that sends more than the published file (or never stops),
one that trickles a byte at a time, and a download interrupted by Ctrl-C."""

from __future__ import annotations

import hashlib
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from rib_core.api import hookimpl
from rib_core.data import download as download_module
from rib_core.data import sources
from rib_core.data.fixtures import make_dataset_tree
from rib_core.data.imagenet_variants import ImageNetR
from tests.dataset_server import make_tar, tree_files

JUNK_LIMIT = 64 << 20  # the endless mirror gives up after this much junk (the test never waits for it)


class Mirror:
    """A loopback mirror of one file, `/data/mine.tar`, that misbehaves as `mode` says:

    "endless": after the file (or the asked-for range of it), junk without end; announces 30 MB more than the file.
    "trickle": one byte every `trickle_s` seconds.
    """

    def __init__(self, data: bytes, mode: str, trickle_s: float = 0.02):
        self.data, self.mode, self.trickle_s = data, mode, trickle_s
        self.sent, self.requests = 0, []
        mirror = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                mirror.requests.append(self.headers.get("Range"))
                start = int(self.headers.get("Range", "bytes=0-")[6:].split("-")[0])
                body = mirror.data[start:]
                self.send_response(206 if start else 200)
                extra = 30_000_000 if mirror.mode == "endless" else 0
                self.send_header("Content-Length", str(len(body) + extra))
                self.end_headers()
                try:
                    if mirror.mode == "endless":
                        self.wfile.write(body)
                        mirror.sent += len(body)
                        while mirror.sent < len(mirror.data) + JUNK_LIMIT:
                            self.wfile.write(b"junk" * 16384)
                            mirror.sent += 65536
                    else:
                        for i in range(len(body)):
                            self.wfile.write(body[i:i + 1])
                            self.wfile.flush()
                            mirror.sent += 1
                            time.sleep(mirror.trickle_s)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # rib hung up: what it should do

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self):
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


class Mine(ImageNetR):
    """A plugin dataset with a published size and checksum (set per test), checked against what it holds."""

    folder_names = ("mine",)
    expected_images = None
    expected_classes = None
    download_source = None

    def class_folders(self):
        return {f: label for f, label in super().class_folders().items()
                if self.root is not None and (self.root / f).is_dir()}


class MinePlugin:
    @hookimpl
    def register_datasets(self, register):
        register("mine", "tests.test_faults_download:Mine")


@pytest.fixture
def archive(tmp_path, register_plugin, monkeypatch) -> bytes:
    """The bytes of mine.tar, published (size and sha256) through the plugin dataset `mine`."""
    tree = make_dataset_tree("imagenet-r", tmp_path / "trees")
    data = make_tar(tree_files(tree, "mine"), compressed=False)
    published = sources.Archive("mine.tar", ("https://example.org/data/mine.tar",), "tar", size=len(data),
                                checksum=f"sha256:{hashlib.sha256(data).hexdigest()}", strip="mine")
    import importlib

    registered = importlib.import_module("tests.test_faults_download").Mine  # pytest may import this file twice
    for cls in {Mine, registered}:
        monkeypatch.setattr(cls, "download_source", sources.Source("mine", "mine", (published,)))
    register_plugin(MinePlugin(), "mine-plugin")
    return data


def get(run_rib, root: Path, mirror: Mirror, *extra: str):
    return run_rib("datasets", "get", "mine", "--root", str(root), "--mirror", mirror.url, *extra)


def downloads(root: Path) -> Path:
    return root / ".rib-downloads" / "mine"


@pytest.mark.parametrize("resumed", [False, True], ids=["fresh", "resumed-part"])
def test_a_mirror_sending_more_than_the_published_size_is_stopped_at_it(archive, tmp_path, run_rib, resumed):
    root = tmp_path / "data"
    if resumed:  # a good prefix from an earlier, interrupted download
        downloads(root).mkdir(parents=True)
        (downloads(root) / "mine.tar.part").write_bytes(archive[:len(archive) // 2])
    with Mirror(archive, "endless") as mirror:
        result = get(run_rib, root, mirror, "--keep-archives")
    assert result.exit_code == 0, result.stderr
    assert mirror.requests == ([f"bytes={len(archive) // 2}-"] if resumed else [None])
    assert (downloads(root) / "mine.tar").read_bytes() == archive  # not a byte more
    assert (root / "mine").is_dir() and not (downloads(root) / "mine.tar.part").exists()
    assert "checksum mismatch" not in result.stderr and "was deleted" not in result.stderr


def test_a_part_file_longer_than_the_published_size_keeps_its_good_prefix(archive, tmp_path, run_rib):
    root = tmp_path / "data"
    downloads(root).mkdir(parents=True)
    (downloads(root) / "mine.tar.part").write_bytes(archive + b"junk" * 1000)  # an older rib kept writing
    with Mirror(archive, "endless") as mirror:
        result = get(run_rib, root, mirror, "--keep-archives")
    assert result.exit_code == 0, result.stderr
    assert mirror.requests == []  # the published size was there already: verified, nothing fetched
    assert (downloads(root) / "mine.tar").read_bytes() == archive and (root / "mine").is_dir()


def test_a_mirror_that_trickles_is_given_up_with_a_message_and_the_bytes_are_kept(archive, tmp_path, run_rib,
                                                                                 monkeypatch):
    monkeypatch.setattr(download_module, "STALL_S", 0.5)
    monkeypatch.setattr(download_module, "STALL_BYTES", 1000)  # 1 byte per 20 ms is 25 bytes per 0.5 s
    root = tmp_path / "data"
    started = time.monotonic()
    with Mirror(archive, "trickle") as mirror:
        result = get(run_rib, root, mirror)
    assert time.monotonic() - started < 20
    assert result.exit_code == 2, result.stderr
    assert "the download of mine.tar from " in result.stderr and " stalled: " in result.stderr
    assert "in the last 1 s" in result.stderr or "in the last 0 s" in result.stderr
    assert "received so far are kept: run the same command again to continue" in result.stderr
    assert "--mirror" in result.stderr and "Traceback" not in result.stderr
    part = downloads(root) / "mine.tar.part"
    kept = part.read_bytes()
    assert 0 < len(kept) < len(archive) and archive.startswith(kept)  # a good prefix, kept for the next try
    assert not (root / "mine").exists()


def test_a_silent_mirror_is_given_up_when_nothing_arrives(archive, tmp_path, run_rib, monkeypatch):
    monkeypatch.setattr(download_module, "TIMEOUT_S", 0.5)
    root = tmp_path / "data"
    with Mirror(archive, "trickle", trickle_s=3.0) as mirror:  # the first byte, then silence
        result = get(run_rib, root, mirror)
    assert result.exit_code == 2, result.stderr
    assert "stalled: nothing received for 0.5 s" in result.stderr and "Traceback" not in result.stderr
    assert (downloads(root) / "mine.tar.part").read_bytes() == archive[:1]


def test_ctrl_c_during_a_download_says_the_bytes_are_kept_not_cells(archive, tmp_path, run_rib, monkeypatch):
    real_copy = download_module._copy

    def interrupted(response, out, hasher, size, end, advance, what):
        out.write(response.read1(1000))  # some bytes arrive, then the user presses Ctrl-C
        raise KeyboardInterrupt

    monkeypatch.setattr(download_module, "_copy", interrupted)
    root = tmp_path / "data"
    with Mirror(archive, "endless") as mirror:
        result = get(run_rib, root, mirror)
    assert result.exit_code == 130
    assert "cells" not in result.stderr, result.stderr
    part = downloads(root) / "mine.tar.part"
    assert f"rib: interrupted; the 1.0 KB of mine.tar received so far are kept in {part}. Run the same command " \
           "again to resume." in result.stderr
    assert part.read_bytes() == archive[:1000]

    monkeypatch.setattr(download_module, "_copy", real_copy)
    with Mirror(archive, "endless") as mirror:
        again = get(run_rib, root, mirror)
    assert again.exit_code == 0 and mirror.requests == ["bytes=1000-"]
