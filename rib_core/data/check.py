"""`rib datasets check`: is a dataset on disk complete and readable? And do two machines hold the same bytes?

`check_adapter` is the shared logic behind every adapter's `check()`. Its verdict:
- "missing": the folder was not found, or it holds no image in the expected layout;
- "partial": class folders missing, unreadable images, or an image/class count that differs from the
  published one;
- "ok": none of those. Folders that are no class of the dataset are reported but ignored.

`write_manifest` / `compare_manifest` record and compare (relative path, size, SHA-256) of every file that
determines results, so a lab can prove that two machines evaluate the same data.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from rib_core.data.base import CheckResult
from rib_core.data.names import shown
from rib_core.disk import atomic_write_json
from rib_core.errors import DataError, RibError
from rib_core.hashing import sha256_file

MANIFEST_FORMAT = "rib-data-manifest/1"
EXAMPLES = 5  # how many names a problem line quotes


def _examples(items: list[str]) -> str:
    listed = ", ".join(shown(item) for item in items[:EXAMPLES])  # file names that are not UTF-8 print as \xe9
    return listed + (f", ... ({len(items) - EXAMPLES} more)" if len(items) > EXAMPLES else "")


def _threads(workers: int) -> int:
    # PIL decoding and hashlib release the GIL, so threads scale without pickling anything.
    return workers if workers > 0 else min(8, os.cpu_count() or 1)


def image_problem(path: Path) -> str | None:
    """None if the file decodes completely as an image, else why not (truncation included)."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            im.verify()  # structure and checksums (PNG CRCs)
        with Image.open(path) as im:
            im.draft("RGB", (max(1, im.size[0] // 8), max(1, im.size[1] // 8)))  # JPEG: decode at 1/8 scale
            im.load()  # reads every byte: a truncated file fails here
    except Exception as exc:  # PIL raises many types for bad files; each one means "unreadable"
        return f"{type(exc).__name__}: {exc}"
    return None


def find_unreadable(root: Path, paths: list[str], workers: int = 0, progress=None) -> list[tuple[str, str]]:
    """(relative path, reason) for each file under `root` that cannot be decoded, in input order."""
    bad = []
    with ThreadPoolExecutor(_threads(workers)) as pool:
        for done, (path, problem) in enumerate(zip(paths, pool.map(lambda p: image_problem(root / p), paths)), 1):
            if problem is not None:
                bad.append((path, problem))
            if progress is not None:
                progress(done, len(paths))
    return bad


def _not_found(adapter, result: CheckResult) -> CheckResult:
    result.verdict = "missing"
    where = "; ".join(result.looked_in) if result.looked_in else str(adapter.root or "nowhere")
    names = ", ".join(adapter.folder_names) or "(any name: give `path`)"
    result.problems.append(f"not found (looked in: {where}). Put it under your data root as one of: {names}; "
                           f"or set `path` for this dataset in the suite.")
    if adapter.source_hint:
        result.problems.append(f"get it from {adapter.source_hint}")
    from rib_core.data.cards import source_of

    name = str(adapter.options.get("adapter") or adapter.label)
    if source_of(name, type(adapter)) is not None:
        result.problems.append(f"or let rib download it: rib datasets get {name} --data-root DATA_ROOT")
    return result


def check_adapter(adapter, deep: bool = True, workers: int = 0, progress=None) -> CheckResult:
    """Check one dataset on disk. `deep` decodes every image (slow on big sets) to find unreadable files."""
    root = adapter.root
    result = CheckResult(dataset=adapter.label, found=False, root=str(root) if root is not None else None,
                         looked_in=list(getattr(adapter, "looked_in", [])),
                         expected_images=adapter.expected_images, expected_classes=adapter.expected_classes)
    if root is None or not root.is_dir():
        return _not_found(adapter, result)
    result.found = True
    try:
        samples = adapter.samples()
        inventory = adapter.inventory() if hasattr(adapter, "inventory") else None
    except RibError as exc:
        result.verdict = "missing"
        result.problems.append(str(exc))
        return result

    result.images = len(samples)
    result.classes = len({s.label for s in samples})
    if inventory is not None:
        result.missing_classes = list(inventory.missing)
        result.unexpected_classes = list(inventory.unexpected)
    if deep and samples:
        unreadable = find_unreadable(root, [s.path for s in samples], workers, progress)
        result.unreadable = [path for path, _ in unreadable]

    hint = f"get the complete dataset from {adapter.source_hint}" if adapter.source_hint else ""
    if not samples:
        result.verdict = "missing"
        result.problems.append(f"{root} holds no image in the expected layout.")
        result.problems.extend(inventory.notes if inventory is not None else [])
        result.problems += [hint] if hint else []
        return result

    partial = False
    if result.missing_classes:
        partial = True
        result.problems.append(f"{len(result.missing_classes)} class folder(s) missing or empty: "
                               f"{_examples(result.missing_classes)}.")
    if result.unreadable:
        partial = True
        first_path, first_reason = unreadable[0]
        result.problems.append(f"{len(result.unreadable)} image(s) cannot be decoded: "
                               f"{_examples(result.unreadable)} (first: {first_reason}). An interrupted download "
                               f"or unpack truncates files: replace them.")
    if result.expected_images is not None and result.images != result.expected_images:
        partial = True
        result.problems.append(f"{result.images} images found, {result.expected_images} published.")
    if result.expected_classes is not None and result.classes != result.expected_classes:
        partial = True
        result.problems.append(f"{result.classes} classes have images, {result.expected_classes} published.")
    if result.unexpected_classes:
        result.problems.append(f"{len(result.unexpected_classes)} folder(s) are no class of this dataset and are "
                               f"ignored: {_examples(result.unexpected_classes)}.")
    if inventory is not None:
        result.problems.extend(inventory.notes)
    if partial and hint:
        result.problems.append(hint)
    result.verdict = "partial" if partial else "ok"
    return result


# -- manifests -----------------------------------------------------------------------------------------------

def _manifest_paths(adapter) -> list[str]:
    if hasattr(adapter, "manifest_files"):
        return list(adapter.manifest_files())
    return [s.path for s in adapter.samples()]


def _describe(root: Path, paths: list[str], workers: int, progress) -> list[tuple[str, int, str]]:
    def one(path):
        full = root / path
        return path, full.stat().st_size, sha256_file(full)

    rows = []
    with ThreadPoolExecutor(_threads(workers)) as pool:
        for done, row in enumerate(pool.map(one, paths), 1):
            rows.append(row)
            if progress is not None:
                progress(done, len(paths))
    return rows


def write_manifest(adapter, path, workers: int = 0, progress=None) -> int:
    """Write (relative path, size, SHA-256) of every file the dataset uses to `path` (JSON). Returns the count."""
    root = adapter.require_root() if hasattr(adapter, "require_root") else adapter.root
    rows = _describe(root, sorted(_manifest_paths(adapter)), workers, progress)
    document = {"format": MANIFEST_FORMAT, "dataset": adapter.label, "adapter": adapter.identity(),
                "files": [list(row) for row in rows]}
    atomic_write_json(path, document, indent=0, sort_keys=False)
    return len(rows)


def read_manifest(path) -> dict[str, tuple[int, str]]:
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
        if document.get("format") != MANIFEST_FORMAT:
            raise ValueError(f"format is {document.get('format')!r}, expected {MANIFEST_FORMAT!r}")
        return {p: (int(size), str(digest)) for p, size, digest in document["files"]}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise DataError(f"cannot read data manifest {path}: {exc}. Write one with "
                        "`rib datasets check --digest FILE` on the reference machine.") from exc


def compare_manifest(adapter, path, workers: int = 0, progress=None) -> list[str]:
    """Differences between the dataset on disk and a manifest, one line each; [] when identical."""
    recorded = read_manifest(path)
    root = adapter.require_root() if hasattr(adapter, "require_root") else adapter.root
    local_paths = sorted(_manifest_paths(adapter))
    differences = [f"missing here: {p}" for p in sorted(set(recorded) - set(local_paths))]
    differences += [f"not in manifest: {p}" for p in local_paths if p not in recorded]
    common = [p for p in local_paths if p in recorded]
    same_size = [p for p in common if (root / p).stat().st_size == recorded[p][0]]
    for p in common:
        if p not in same_size:
            differences.append(f"differs: {p} (size {(root / p).stat().st_size} here, {recorded[p][0]} in manifest)")
    for p, _, digest in _describe(root, same_size, workers, progress):
        if digest != recorded[p][1]:
            differences.append(f"differs: {p} (same size, different SHA-256)")
    return sorted(differences, key=lambda line: line.split(": ", 1)[1])


def check_row(adapter_cls, spec, data_root: str | None, deep: bool = False, digest_dir: Path | None = None) -> dict:
    """`rib datasets check`'s row for one suite entry (rib_core.suite.DatasetSpec): found where, complete,
    readable (`deep`), and, with `digest_dir`, equal to its manifest there (written when absent)."""
    from rib_core.data.locate import open_adapter
    from rib_core.paths import check_file_name

    adapter = open_adapter(adapter_cls, spec.label, dict(spec.options, adapter=spec.adapter), data_root, spec.path)
    result = adapter.check(deep=deep)
    row = result.as_dict()
    hint = None if result.ok else adapter_cls.misplaced_hint(data_root, adapter.root)
    if hint:
        row["problems"] = list(row["problems"]) + [hint]
    if digest_dir is not None and result.found:
        manifest = digest_dir / f"{check_file_name('dataset label', spec.label)}.json"  # stays inside DIR
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
    return row
