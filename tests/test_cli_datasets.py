"""`rib datasets check` through the CLI: what a user sees for partial and missing data."""

import json
import shutil

from rib_core.data.fixtures import make_dataset_tree, truncate_file


def test_check_json_reports_a_missing_class_folder_and_a_truncated_jpeg(tmp_path, run_rib, rib_registry,
                                                                       monkeypatch):
    root = make_dataset_tree("imagenet-r", tmp_path, n_classes=3, per_class=2)
    removed = sorted(p for p in root.iterdir() if p.is_dir())[0]
    shutil.rmtree(removed)
    broken = sorted(p for p in root.rglob("*.jpg") if not p.name.startswith("."))[0]
    truncate_file(broken)
    monkeypatch.setenv("RIB_DATA_ROOT", str(tmp_path))
    result = run_rib("datasets", "check", "imagenet-r", "imagenet-a", "--deep", "--json")
    assert result.exit_code == 1
    rows = {r["dataset"]: r for r in json.loads(result.stdout)}
    assert rows["imagenet-r"]["verdict"] == "partial"
    assert removed.name in rows["imagenet-r"]["missing_classes"]
    assert rows["imagenet-r"]["unreadable"] == [broken.relative_to(root).as_posix()]
    assert rows["imagenet-a"]["verdict"] == "missing"
    assert any("imagenet-a" in place for place in rows["imagenet-a"]["looked_in"])


def test_digest_writes_then_detects_a_changed_file(tmp_path, run_rib, rib_registry, monkeypatch):
    root = make_dataset_tree("imagenet-r", tmp_path / "data", n_classes=2, per_class=2)
    monkeypatch.setenv("RIB_DATA_ROOT", str(tmp_path / "data"))
    first = run_rib("datasets", "check", "imagenet-r", "--digest", str(tmp_path / "manifests"), "--json")
    assert json.loads(first.stdout)[0]["manifest"]["written"] == 4
    same = run_rib("datasets", "check", "imagenet-r", "--digest", str(tmp_path / "manifests"), "--json")
    assert json.loads(same.stdout)[0]["manifest"]["differences"] == []
    victim = sorted(p for p in root.rglob("*.jpg") if not p.name.startswith("."))[0]
    victim.write_bytes(victim.read_bytes() + b"x")
    changed = run_rib("datasets", "check", "imagenet-r", "--digest", str(tmp_path / "manifests"), "--json")
    differences = json.loads(changed.stdout)[0]["manifest"]["differences"]
    assert any(victim.name in d for d in differences)

