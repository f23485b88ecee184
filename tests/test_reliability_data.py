"""Reliability of the data path: missing or incomplete datasets, corrupt images, symlink loops, changed file lists
and paths that try to leave a dataset's folder."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from rib_core.data.base import ClassMap
from rib_core.data.check import compare_manifest, write_manifest
from rib_core.data.fixtures import fixture_classes, make_dataset_tree, truncate_file
from rib_core.data.folders import FolderAdapter, safe_relative
from rib_core.data.imagefolder import ImageFolder
from rib_core.data.imagenet_variants import ImageNetR
from rib_core.errors import DataError
from rib_core.api import hookimpl
from tests.helpers import small_grid_suite

FOLDER_SUITE = """
[suites.f]
models = ["tiny-in1k/x"]
datasets = [{{name = "d1", adapter = "imagefolder", path = "{d1}", classes = "present"}},
            {{name = "d2", adapter = "imagefolder", path = "{d2}", classes = "present"}}]
strategies = ["ft"]
eval_batch_size = 8

[suites.f.training]
epochs = 1
warmup_steps = 1
batch_size = 4
"""


# -- fixtures ---------------------------------------------------------------------------------------------------
def load_tiny_imagenet(name, *, weights, options):
    """A 1000-way linear model on 8-pixel images: enough to run ImageNet-labelled folders end to end."""
    import torch
    from torch import nn

    from rib_core.models.base import Backbone
    from rib_core.preprocess import Preprocess

    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 1000))
    return Backbone(model=model, preprocess=Preprocess(8, 8, "bilinear"), head_prefixes=("1.",),
                    identity=f"{name}@tiny", num_classes=1000)


class TinyImagenetBackbones:
    @hookimpl
    def register_models(self, register):
        register("tiny-in1k/*", "tests.test_reliability_data:load_tiny_imagenet", "1000-way linear model (tests)")


class TinyR(ImageNetR):
    """ImageNet-R as if its published size were the fixture's (3 classes x 2 images), so the fixture is complete."""

    expected_images = 6
    expected_classes = 3

    def class_folders(self):
        wanted = set(fixture_classes("imagenet-r"))
        groups = self.class_map().groups
        return {wnid: k for wnid, k in super().class_folders().items() if groups[k][0] in wanted}


class TinyRDatasets:
    @hookimpl
    def register_datasets(self, register):
        register("tiny-r", "tests.test_reliability_data:TinyR", "ImageNet-R with the fixture's size (tests)")


@pytest.fixture
def folder_env(tmp_path, monkeypatch, register_plugin):
    monkeypatch.setenv("RIB_CACHE_DIR", str(tmp_path / "cache"))
    register_plugin(TinyImagenetBackbones(), "tiny-in1k")
    roots = [make_dataset_tree("imagenet-sketch", tmp_path / f"root{i}", seed=i) for i in (1, 2)]
    suite = tmp_path / "folders.toml"
    suite.write_text(FOLDER_SUITE.format(d1=roots[0], d2=roots[1]))
    return suite, roots


def refused_before_start(result, out: Path) -> str:
    assert result.exit_code == 2, result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.splitlines()) <= 12, result.stderr
    assert not out.exists()
    return result.stderr


# -- missing and incomplete datasets ----------------------------------------------------------------------------
def test_missing_dataset_root_refuses_before_start_saying_where_rib_looked(folder_env, tmp_path, bench):
    suite, roots = folder_env
    shutil.rmtree(roots[1])
    stderr = refused_before_start(bench(suite, tmp_path / "out"), tmp_path / "out")
    assert "dataset 'd2' not found; looked in: " + str(roots[1]) in stderr


def test_missing_data_root_names_the_folders_tried(run_rib, rib_registry, tmp_path, monkeypatch):
    monkeypatch.delenv("RIB_DATA_ROOT", raising=False)
    suite = tmp_path / "suite.toml"
    suite.write_text(f'[suites.s]\nmodels = ["timm:vit_tiny_patch16_224"]\ndata_root = "{tmp_path / "none"}"\n'
                     'datasets = ["imagenet-r", "imagenet-a"]\nstrategies = ["ft"]\n')
    result = run_rib("bench", "-c", str(suite), "--out", str(tmp_path / "out"))
    stderr = refused_before_start(result, tmp_path / "out")
    # One line naming the root (issue 14), not one "not found" per dataset.
    assert f"the data root '{tmp_path / 'none'}' does not exist" in stderr
    # (what else is missing, the model's weights offline, is listed too: a dry run and a run list everything)
    assert "not found" not in stderr and sum(line.startswith("- the data root") for line in stderr.splitlines()) == 1


@pytest.mark.parametrize("damage", ["remove", "empty"])
def test_missing_or_empty_class_folder_refuses_naming_it(run_rib, register_plugin, tmp_path, damage):
    register_plugin(TinyRDatasets(), "tiny-r")
    root = make_dataset_tree("imagenet-r", tmp_path / "data")
    other = make_dataset_tree("imagenet-r", tmp_path / "other", seed=3)
    victim = sorted(p for p in root.iterdir() if p.is_dir())[1]
    if damage == "remove":
        shutil.rmtree(victim)
    else:
        for image in victim.iterdir():
            image.unlink()
    suite = tmp_path / "suite.toml"
    suite.write_text(f'[suites.s]\nmodels = ["timm:vit_tiny_patch16_224"]\nstrategies = ["ft"]\n'
                     f'datasets = [{{name = "r1", adapter = "tiny-r", path = "{root}"}}, '
                     f'{{name = "r2", adapter = "tiny-r", path = "{other}"}}]\n')
    result = run_rib("bench", "-c", str(suite), "--out", str(tmp_path / "out"))
    stderr = refused_before_start(result, tmp_path / "out")
    assert f"dataset 'r1' failed its check (1 class folder(s) missing or empty: {victim.name}" in stderr
    assert "allow_partial = true" in stderr and "'r2'" not in stderr


def test_the_undamaged_fixture_passes_the_same_checks(run_rib, register_plugin, tmp_path):
    """The control for the test above: the same suite on undamaged trees passes its checks (dry run)."""
    register_plugin(TinyRDatasets(), "tiny-r")
    roots = [make_dataset_tree("imagenet-r", tmp_path / f"d{i}", seed=i) for i in (1, 2)]
    suite = tmp_path / "suite.toml"
    suite.write_text(f'[suites.s]\nmodels = ["timm:vit_tiny_patch16_224"]\nstrategies = ["ft"]\n'
                     f'datasets = [{{name = "r1", adapter = "tiny-r", path = "{roots[0]}"}}, '
                     f'{{name = "r2", adapter = "tiny-r", path = "{roots[1]}"}}]\n')
    result = run_rib("bench", "-c", str(suite), "--out", str(tmp_path / "out"), "--dry-run", "--no-calibrate")
    assert result.exit_code == 0, result.stderr


# -- corrupt images ---------------------------------------------------------------------------------------------
def damage_toy_a(data: Path) -> list[str]:
    """One truncated PNG and one text file with a .png name in toy-a; returns their sample paths."""
    truncate_file(data / "toy-a" / "red" / "000.png")
    (data / "toy-a" / "blue" / "fake.png").write_text("this is not an image")
    return ["blue/fake.png", "red/000.png"]


def test_corrupt_images_are_skipped_and_counted_in_the_record_and_the_report(small_toy_env, bench, run_rib):
    bad = damage_toy_a(small_toy_env / "data")
    result = bench(small_grid_suite(small_toy_env))
    assert result.exit_code == 0, result.stderr
    out = small_toy_env / "out"
    records = [json.loads(p.read_text()) for p in out.glob("cells/*/record.json")]
    pre_a = next(r for r in records if r["kind"] == "eval" and r["cell"]["strategy"] is None
                 and r["cell"]["eval_dataset"] == "toy-a")
    assert sorted(pre_a["unreadable"]) == bad
    assert pre_a["n_images"] == 4 * 6 + 1 - 2  # 24 images + the fake one, minus the two unreadable
    report = json.loads(run_rib("report", str(out), "--format", "json").stdout)
    assert report["unreadable_images"] == {"toy-a": 2}
    assert len(report["ri"]) == 2  # RI is still computed, on the readable images (paired)
    assert "Unreadable images skipped (toy-a: 2)" in run_rib("report", str(out)).stdout


def test_strict_images_fails_the_cells_of_that_dataset_naming_the_file(small_toy_env, bench):
    damage_toy_a(small_toy_env / "data")
    result = bench(small_grid_suite(small_toy_env, strict_images=True))
    assert result.exit_code == 1
    first_bad = small_toy_env / "data" / "toy-a" / "red" / "000.png"
    assert f"evaluate tiny/a on toy-a (all): dataset 'toy-a': cannot decode {first_bad} (OSError" in result.stderr
    out = small_toy_env / "out"
    failures = [json.loads(p.read_text()) for p in out.glob("cells/*/failed.json")]
    assert failures and all("toy-a" in (f["cell"]["eval_dataset"], f["cell"]["ft_dataset"]) for f in failures)
    done = [json.loads(p.read_text())["cell"] for p in out.glob("cells/*/record.json")]
    # toy-b's pre-evaluation does not read toy-a and completes.
    assert any(c["eval_dataset"] == "toy-b" and c["strategy"] is None for c in done)


def test_a_corrupt_image_in_a_folder_dataset_is_skipped_not_fatal(folder_env, tmp_path, bench):
    suite, roots = folder_env
    victim = sorted(p for p in roots[0].rglob("*.JPEG") if not p.name.startswith("."))[0]
    truncate_file(victim)
    result = bench(suite, tmp_path / "out")
    assert result.exit_code == 0, result.stderr
    records = [json.loads(p.read_text()) for p in (tmp_path / "out").glob("cells/*/record.json")]
    pre_d1 = next(r for r in records if r["kind"] == "eval" and r["cell"]["strategy"] is None
                  and r["cell"]["eval_dataset"] == "d1")
    assert pre_d1["unreadable"] == [victim.relative_to(roots[0]).as_posix()] and pre_d1["n_images"] == 5


# -- symlink loops ----------------------------------------------------------------------------------------------
def test_symlink_loops_inside_a_dataset_do_not_hang_or_break_a_run(folder_env, tmp_path, bench):
    suite, roots = folder_env
    folder = sorted(p for p in roots[0].iterdir() if p.is_dir())[0]
    os.symlink(folder, folder / "loop.jpg")  # a directory link with an image name
    os.symlink(folder / "self.JPEG", folder / "self.JPEG")  # a link to itself
    os.symlink(roots[0], roots[0] / "n01443537")  # a class folder that points back at the root
    result = bench(suite, tmp_path / "out")
    assert result.exit_code == 0, result.stderr
    pre = [json.loads(p.read_text()) for p in (tmp_path / "out").glob("cells/*/record.json")]
    pre_d1 = next(r for r in pre if r["kind"] == "eval" and r["cell"]["strategy"] is None
                  and r["cell"]["eval_dataset"] == "d1")
    assert pre_d1["n_images"] == 6 and pre_d1["unreadable"] == []


# -- file lists that change -------------------------------------------------------------------------------------
def test_a_changed_file_list_invalidates_the_image_cache_and_the_results_of_that_dataset(small_toy_env, bench):
    first = bench(small_grid_suite(small_toy_env))
    assert first.exit_code == 0, first.stderr
    cache_folders = set((small_toy_env / "cache" / "images").iterdir())
    assert len(cache_folders) == 2  # one per dataset

    shutil.copy(small_toy_env / "data" / "toy-a" / "red" / "001.png", small_toy_env / "data" / "toy-a" / "red" / "100.png")
    (small_toy_env / "data" / "toy-a" / "green" / "002.png").unlink()
    second = bench(small_grid_suite(small_toy_env))
    assert second.exit_code == 0, second.stderr
    new_folders = set((small_toy_env / "cache" / "images").iterdir()) - cache_folders
    assert len(new_folders) == 1  # toy-a's cache is rebuilt, toy-b's reused
    manifest = json.loads((next(iter(new_folders)) / "manifest.json").read_text())
    assert manifest["dataset"] == "toy-a" and manifest["count"] == 24

    records = [json.loads(p.read_text()) for p in (small_toy_env / "out").glob("cells/*/record.json")]
    pre_a = [r for r in records if r["kind"] == "eval" and r["cell"]["strategy"] is None
             and r["cell"]["eval_dataset"] == "toy-a"]
    assert sorted(r["n_images"] for r in pre_a) == [24, 24]  # old and new key: both 24 images, other files
    # Every cell that reads toy-a (pre-evaluation, fine-tune on it and its 2 evaluations, the evaluation of the
    # toy-b fine-tune on it) has a new key; toy-b's pre-evaluation, fine-tune and held-out evaluation are reused.
    assert "5 cell(s) run, 3 reused" in second.stderr


# -- paths that try to leave the dataset's folder -----------------------------------------------------------------
@pytest.mark.parametrize("path", ["../x", "a/../../x", "/etc", "C:/x", "a\\..\\x", "~/x", ""])
def test_relative_paths_cannot_escape_the_root(path):
    with pytest.raises(DataError, match="not inside the dataset folder"):
        safe_relative(path, "mapping file")


def test_a_class_folder_escaping_the_root_is_refused(tmp_path):
    class Escaping(FolderAdapter):
        def class_folders(self):
            return {"../outside": 0}

        def class_map(self):
            return ClassMap("toy", ("x",), ((0,),))

    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.jpg").write_bytes(b"x")
    (tmp_path / "root").mkdir()
    with pytest.raises(DataError, match=r"'\.\./outside'"):
        Escaping("escaping", tmp_path / "root").samples()


def test_a_data_manifest_naming_outside_files_never_makes_rib_read_them(tmp_path):
    root = make_dataset_tree("imagenet-sketch", tmp_path / "data", n_classes=1, per_class=1)
    adapter = ImageFolder("mine", root, {"path": str(root)})
    manifest = tmp_path / "manifest.json"
    write_manifest(adapter, manifest)
    document = json.loads(manifest.read_text())
    secret = tmp_path / "secret.txt"
    secret.write_text("not yours")
    document["files"].append(["../../secret.txt", 9, "0" * 64])
    manifest.write_text(json.dumps(document))
    differences = compare_manifest(adapter, manifest)
    assert differences == ["missing here: ../../secret.txt"]

