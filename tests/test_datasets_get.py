"""`rib datasets get` against a loopback server that serves archives shaped like the published ones."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from rib_core.data import get as get_module
from rib_core.data import sources
from rib_core.data.cards import CARDS
from rib_core.data.fixtures import FIXTURE_CORRUPTIONS, make_dataset_tree
from rib_core.data.folders import FolderAdapter
from tests.dataset_server import DatasetServer, make_tar, make_zip, tree_files

PASSWORD = "test-password"
IMAGENET_C_FAMILY = {"gaussian_noise": "noise.tar", "motion_blur": "blur.tar", "fog": "weather.tar",
                     "contrast": "digital.tar"}


def downloadable() -> dict[str, sources.Source]:
    """The built-in datasets rib downloads itself (ImageNet-1k val is the user's own file), by name."""
    return {name: card.source for name, card in CARDS.items() if not card.needs_account}


def _archive_files(dataset: str, tree: Path, archive: sources.Archive) -> dict[str, bytes]:
    files = tree_files(tree, archive.strip)
    if dataset == "imagenet-c":  # one tar per corruption family, each holding <corruption>/<severity>/<wnid>/
        files = {n: d for n, d in files.items() if IMAGENET_C_FAMILY.get(n.split("/")[0], "blur.tar") == archive.name}
    return files


def _pack(files: dict[str, bytes], archive: sources.Archive, password: str | None) -> bytes:
    if archive.format == "zip":
        return make_zip(files, password.encode() if password else None)
    return make_tar(files, compressed=archive.format == "tar.gz")


def _recorded(archive: sources.Archive, data: bytes) -> sources.Archive:
    """The archive's table row, with the size and checksum (same algorithm as published) of the test bytes."""
    algorithm = archive.checksum.split(":")[0] if archive.checksum else None
    return dataclasses.replace(
        archive, size=len(data) if archive.size is not None else None,
        checksum=f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}" if algorithm else None)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Every built-in source's archives, from fixture trees (built once): (served files, table rows, layouts)."""
    trees, served, rows, expected = tmp_path_factory.mktemp("trees"), {}, {}, {}
    for name, source in downloadable().items():
        tree = make_dataset_tree(name, trees)
        if name == "imagenet-c":  # the fixture has no digital corruption: give digital.tar one
            for path in sorted((tree / "fog").rglob("*.JPEG")):
                target = tree / "contrast" / path.relative_to(tree / "fog")
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(path.read_bytes())
        expected[name] = {p.relative_to(tree).as_posix() for p in tree.rglob("*") if p.is_file()}
        rows[name] = []
        for archive in source.archives:
            data = _pack(_archive_files(name, tree, archive), archive, PASSWORD if source.password_env else None)
            served[urlsplit(archive.urls[0]).path] = data
            rows[name].append(_recorded(archive, data))
    assert set(FIXTURE_CORRUPTIONS) < set(IMAGENET_C_FAMILY)
    return served, rows, expected


@pytest.fixture
def published(built, monkeypatch):
    """The built-in table with the test archives' sizes and checksums; a fresh loopback server serving them."""
    served, rows, expected = built
    import rib_core.data.imagenet_c  # noqa: F401 - imported before the cards are patched: an adapter class
    _adapter_classes()  # copies its card when it is created
    for name in downloadable():
        monkeypatch.setitem(CARDS, name, dataclasses.replace(CARDS[name], archives=tuple(rows[name])))
    with DatasetServer(served) as server:
        yield server, expected


def _files(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def _fixture_sized(monkeypatch):
    """Adapters whose published sizes are the fixture's: the classes present, their image count."""
    for cls in {c for c in _adapter_classes()}:
        original = cls.class_folders
        monkeypatch.setattr(cls, "class_folders", lambda self, _o=original: {
            f: label for f, label in _o(self).items() if self.root is not None and (self.root / f).is_dir()})
        monkeypatch.setattr(cls, "expected_images", None)
        monkeypatch.setattr(cls, "expected_classes", None)


def _adapter_classes():
    from rib_core.data.imagenet_variants import ImageNetA, ImageNetCartoon, ImageNetDrawing, ImageNetR, \
        ImageNetSketch, ImageNetV2
    from rib_core.data.objectnet import ObjectNet

    return (ImageNetA, ImageNetR, ImageNetV2, ImageNetSketch, ImageNetCartoon, ImageNetDrawing, ObjectNet)


def test_every_source_unpacks_into_the_exact_layout_and_check_says_ok(published, tmp_path, run_rib, rib_registry,
                                                                      monkeypatch):
    server, expected = published
    _fixture_sized(monkeypatch)
    root = tmp_path / "data"
    result = run_rib("datasets", "get", "--suite", "paper", "--data-root", str(root), "--mirror", server.url,
                     "--objectnet-password", PASSWORD)
    # exit 1: imagenet-val needs the user's tar, and ImageNet-C's 3 fixture classes are "partial"
    assert result.exit_code == 1 and "imagenet-val: skipped: ImageNet-1k val cannot be downloaded" in result.stdout
    for name, source in downloadable().items():
        assert _files(root / source.folder) == expected[name], name
    assert sorted(p.name for p in root.iterdir()) == sorted(s.folder for s in downloadable().values())
    names = [n for n in downloadable() if n != "imagenet-c"]
    checked = run_rib("datasets", "check", *names, "--data-root", str(root), "--deep", "--json")
    rows = {r["dataset"]: r for r in json.loads(checked.stdout)}
    for name in names:
        assert rows[name]["verdict"] == "ok" and rows[name]["unreadable"] == [], rows[name]
        assert rows[name]["root"] == str(root / downloadable()[name].folder)
    assert all(path.startswith("/") and rng is None for path, rng in server.requests)


def test_imagenet_c_four_tars_unpack_into_one_folder(published, tmp_path, run_rib, rib_registry):
    server, expected = published
    root = tmp_path / "data"
    result = run_rib("datasets", "get", "imagenet-c", "--data-root", str(root), "--mirror", server.url + "/")
    assert _files(root / "imagenet-c") == expected["imagenet-c"]
    assert sorted(p for p, _ in server.requests) == sorted(
        f"/records/2235448/files/{f}" for f in ("blur.tar", "digital.tar", "noise.tar", "weather.tar"))
    checked = json.loads(run_rib("datasets", "check", "imagenet-c", "--data-root", str(root), "--json").stdout)[0]
    assert checked["root"] == str(root / "imagenet-c") and checked["images"] == 4 * 2 * 3 * 2  # 4 corruptions x 2 severities x 3 classes x 2
    assert result.exit_code == 1  # 3 fixture classes of 1000: check says partial, and get passes that on


def test_a_killed_download_resumes_with_a_range_request(published, tmp_path, run_rib, rib_registry):
    server, expected = published
    path = "/~hendrycks/imagenet-r.tar"
    server.drop_after[path] = 5000
    root = tmp_path / "data"
    first = run_rib("datasets", "get", "imagenet-r", "--data-root", str(root), "--mirror", server.url)
    assert first.exit_code == 2 and "broke off after 5000 bytes" in first.stderr
    part = root / ".rib-downloads" / "imagenet-r" / "imagenet-r.tar.part"
    assert part.stat().st_size == 5000 and not (root / "imagenet-r").exists()
    second = run_rib("datasets", "get", "imagenet-r", "--data-root", str(root), "--mirror", server.url)
    assert server.requests[-1] == (path, "bytes=5000-")
    assert _files(root / "imagenet-r") == expected["imagenet-r"]
    assert not (root / ".rib-downloads" / "imagenet-r").exists()  # archives go once unpacked
    assert second.exit_code == 1  # check: 3 of 200 classes, "partial", not a download failure


def test_an_interrupted_unpack_is_never_taken_for_a_dataset(published, tmp_path, run_rib, rib_registry,
                                                           monkeypatch):
    server, expected = published
    real_unpack, calls = get_module.unpack, []

    def interrupted(path, *args, **kwargs):
        calls.append(path.name)
        if len(calls) == 2:  # ImageNet-C: the second of its four tars
            raise KeyboardInterrupt
        return real_unpack(path, *args, **kwargs)

    monkeypatch.setattr(get_module, "unpack", interrupted)
    root = tmp_path / "data"
    first = run_rib("datasets", "get", "imagenet-c", "--data-root", str(root), "--mirror", server.url)
    assert first.exit_code == 130 and not (root / "imagenet-c").exists()
    assert (root / ".rib-unpacking-imagenet-c").is_dir()  # what was unpacked stays out of rib's sight
    fetched = len(server.requests)
    monkeypatch.setattr(get_module, "unpack", real_unpack)
    run_rib("datasets", "get", "imagenet-c", "--data-root", str(root), "--mirror", server.url)
    assert _files(root / "imagenet-c") == expected["imagenet-c"]
    assert len(server.requests) == fetched  # the verified archives were kept: nothing downloaded again
    assert not (root / ".rib-unpacking-imagenet-c").exists()


def test_a_checksum_mismatch_deletes_the_partial_file(published, tmp_path, run_rib, rib_registry):
    server, _ = published
    path = "/~hendrycks/imagenet-a.tar"
    server.files[path] = server.files[path][:-1] + b"x"  # same size, one byte changed (this server's copy)
    root = tmp_path / "data"
    result = run_rib("datasets", "get", "imagenet-a", "--data-root", str(root), "--mirror", server.url)
    assert result.exit_code == 2
    assert "imagenet-a.tar: checksum mismatch: its sha256 is" in result.stderr and "was deleted" in result.stderr
    assert list((root / ".rib-downloads" / "imagenet-a").iterdir()) == []
    assert not (root / "imagenet-a").exists()


def test_a_full_disk_is_refused_before_any_download(published, tmp_path, run_rib, rib_registry, monkeypatch):
    server, _ = published
    monkeypatch.setattr(get_module, "free_bytes", lambda path: 1000)
    result = run_rib("datasets", "get", "imagenet-a", "imagenet-r", "--data-root", str(tmp_path), "--mirror", server.url)
    assert result.exit_code == 2 and "not enough free disk" in result.stderr and "1.0 KB free" in result.stderr
    assert server.requests == []


def test_objectnet_without_password_says_how_to_get_it_before_downloading(published, tmp_path, run_rib,
                                                                          rib_registry, monkeypatch):
    server, _ = published
    monkeypatch.delenv("RIB_OBJECTNET_PASSWORD", raising=False)
    result = run_rib("datasets", "get", "objectnet", "--data-root", str(tmp_path), "--mirror", server.url)
    assert result.exit_code == 2 and "password-protected" in result.stderr
    assert "objectnet.dev/download.html" in result.stderr and "RIB_OBJECTNET_PASSWORD" in result.stderr
    assert server.requests == []
    monkeypatch.setenv("RIB_OBJECTNET_PASSWORD", "wrong")
    wrong = run_rib("datasets", "get", "objectnet", "--data-root", str(tmp_path), "--mirror", server.url)
    assert wrong.exit_code == 2 and "the password is wrong" in wrong.stderr
    assert not (tmp_path / "objectnet-1.0").exists()


def test_dry_run_lists_files_sources_and_disk(published, tmp_path, run_rib, rib_registry):
    server, _ = published
    result = run_rib("datasets", "get", "--suite", "paper", "--data-root", str(tmp_path / "data"), "--dry-run",
                     "--mirror", server.url)
    assert result.exit_code == 0
    out = result.stdout
    assert f"{server.url}/~hendrycks/imagenet-a.tar" in out and f"{server.url}/records/2235448/files/noise.tar" in out
    assert "disk needed:" in out and "imagenet-val: not downloaded" in out
    assert server.requests == [] and not (tmp_path / "data").exists()


def test_imagenet_val_is_sorted_into_class_folders_from_the_users_tar(tmp_path, run_rib, rib_registry):
    tree = make_dataset_tree("imagenet-val", tmp_path / "trees")
    images = sorted(p for p in tree.rglob("ILSVRC2012_val_*.JPEG"))
    tar = tmp_path / "ILSVRC2012_img_val.tar"
    tar.write_bytes(make_tar({p.name: p.read_bytes() for p in images}, compressed=False))  # flat, as published
    labels = tmp_path / "LOC_val_solution.csv"
    labels.write_text("ImageId,PredictionString\n" + "".join(f"{p.stem},{p.parent.name} 1 2 3 4\n" for p in images))
    root = tmp_path / "data"
    refused = run_rib("datasets", "get", "imagenet-val", "--data-root", str(root))
    assert refused.exit_code == 2 and "without an ImageNet account" in refused.stderr
    not_published = run_rib("datasets", "get", "imagenet-val", "--data-root", str(root), "--val-tar", str(tar),
                            "--val-labels", str(labels))
    assert not_published.exit_code == 2 and "is not the published ILSVRC2012_img_val.tar" in not_published.stderr
    run_rib("datasets", "get", "imagenet-val", "--data-root", str(root), "--val-tar", str(tar), "--val-labels",
            str(labels), "--any-val-tar")
    assert _files(root / "imagenet" / "val") == {p.relative_to(tree).as_posix() for p in images}
    assert tar.is_file()  # the user's file is never deleted


def test_sources_lists_every_dataset_with_its_url_and_checksum(run_rib, rib_registry):
    result = run_rib("datasets", "sources", "--json")
    rows = {r["dataset"]: r for r in json.loads(result.stdout)}
    assert set(CARDS) <= set(rows)
    assert rows["imagenet-a"]["archives"][0]["checksum"].startswith("sha256:3bb36322")
    assert rows["imagenet-sketch"]["archives"][0]["checksum"] is None  # none is published: none invented
    assert isinstance(FolderAdapter, type)


def test_a_plugin_dataset_declares_its_own_source(tmp_path, run_rib, register_plugin, monkeypatch):
    from rib_core.api import hookimpl
    from rib_core.data.imagenet_variants import ImageNetR

    class Mine(ImageNetR):
        folder_names = ("mine",)
        download_source = sources.Source("mine", "mine", (sources.Archive(
            "mine.tar", ("https://example.org/data/mine.tar",), "tar", strip="mine"),))

    monkeypatch.setattr("tests.test_datasets_get.Mine", Mine, raising=False)

    class Plugin:
        @hookimpl
        def register_datasets(self, register):
            register("mine", "tests.test_datasets_get:Mine")

    register_plugin(Plugin(), "mine-plugin")
    tree = make_dataset_tree("imagenet-r", tmp_path / "trees")
    with DatasetServer({"/data/mine.tar": make_tar(tree_files(tree, "mine"), compressed=False)}) as server:
        result = run_rib("datasets", "get", "mine", "--data-root", str(tmp_path / "data"), "--mirror", server.url)
    assert _files(tmp_path / "data" / "mine") == _files(tree)
    assert "mine" in {r["dataset"] for r in json.loads(run_rib("datasets", "sources", "--json").stdout)}
    assert result.exit_code == 1  # partial by check (fixture size), but unpacked


@pytest.mark.parametrize("tool", ["unzip", "python"])
def test_objectnet_zip_decrypts_with_unzip_or_python(tool, published, tmp_path, run_rib, rib_registry, monkeypatch):
    import shutil

    from rib_core.data import unpack as unpack_module

    if tool == "unzip" and shutil.which("unzip") is None:
        pytest.skip("no unzip program here; the python path is tested")
    calls = []
    real_tool = unpack_module.unzip_tool
    monkeypatch.setattr(unpack_module, "unzip_tool",
                        lambda *a: calls.append(tool) or (real_tool(*a) if tool == "unzip" else None))
    server, expected = published
    result = run_rib("datasets", "get", "objectnet", "--data-root", str(tmp_path), "--mirror", server.url,
                     "--objectnet-password", PASSWORD)
    assert calls == [tool]
    assert _files(tmp_path / "objectnet-1.0") == expected["objectnet"], result.stderr
    wrong = run_rib("datasets", "get", "objectnet", "--data-root", str(tmp_path / "again"), "--mirror", server.url,
                    "--objectnet-password", "wrong")
    assert wrong.exit_code == 2 and "the password is wrong" in wrong.stderr
    assert not (tmp_path / "again" / "objectnet-1.0").exists()


def test_a_terminal_gets_a_rich_bar_with_bytes_rate_and_eta(tmp_path):
    import io

    from rich.console import Console

    from rib_core.data.download import download
    from rib_core.data.progress import RichProgress, make_progress

    data = bytes(3_000_000)
    out = io.StringIO()
    progress = make_progress(Console(file=out, force_terminal=True, width=120))
    archive = sources.Archive("f.tar", ("https://example.org/x/f.tar",), "tar", size=len(data))
    with DatasetServer({"/x/f.tar": data}) as server:
        path = download(archive, tmp_path, progress, server.url)
    assert isinstance(progress, RichProgress) and path.read_bytes() == data
    assert "3.0/3.0 MB" in out.getvalue() and "/s" in out.getvalue() and "0:00:00" in out.getvalue()


@pytest.mark.parametrize("member, expected", [
    ("imagenet-r/n01443537/a.jpg", "n01443537/a.jpg"),
    ("./imagenet-r/README.txt", "README.txt"),
    ("imagenet-r/../../etc/passwd", None),
    ("/imagenet-r/x.jpg", None),
    ("other/x.jpg", None),
    ("imagenet-r", None),
])
def test_members_outside_the_dataset_folder_are_never_written(member, expected):
    from rib_core.data.unpack import mapped_path

    assert mapped_path(member, "imagenet-r") == expected


def test_a_mirror_replaces_scheme_and_host_and_keeps_the_path():
    from rib_core.data.download import mirrored

    url = "https://zenodo.org/records/2235448/files/noise.tar"
    assert mirrored(url, "http://mirror.lab/rib/") == "http://mirror.lab/rib/records/2235448/files/noise.tar"
    assert mirrored(url, None) == url


def test_check_of_a_missing_dataset_names_the_get_command(tmp_path, run_rib, rib_registry):
    result = run_rib("datasets", "check", "imagenet-a", "--data-root", str(tmp_path), "--json")
    problems = json.loads(result.stdout)[0]["problems"]
    assert "or let rib download it: rib datasets get imagenet-a --data-root DATA_ROOT" in problems


def test_an_archive_of_unpublished_size_is_checked_against_free_disk_before_unpacking(published, tmp_path, run_rib,
                                                                                    rib_registry, monkeypatch):
    server, _ = published
    free = iter([10**12, 100, 100, 100])  # the start's check passes (size unknown); the unpack's sees 100 bytes
    monkeypatch.setattr(get_module, "free_bytes", lambda path: next(free))
    result = run_rib("datasets", "get", "imagenet-sketch", "--data-root", str(tmp_path / "data"), "--mirror", server.url)
    assert result.exit_code == 2 and "imagenet-sketch: unpacking needs about" in result.stderr
    assert (tmp_path / "data" / ".rib-downloads" / "imagenet-sketch" / "ImageNet-Sketch.zip").is_file()  # kept
    assert not (tmp_path / "data" / "imagenet-sketch").exists()
