"""docs/examples: a plugin of every kind, each under 40 lines, importing only rib_core.api, registered through its
own hook as an installed plugin is, and passing rib_core.testing's conformance check for its kind."""

import zipfile

import numpy as np
import pytest

from rib_core.testing import (check_dataset_adapter, check_launcher, check_metric, check_model_loader,
                              check_report_format, check_strategy, make_evaluation, make_results, sample_report)
from tests.helpers import REPO
from tests.helpers import internal_imports

EXAMPLES = REPO / "docs" / "examples"
KINDS = {"mylab_model.py": "register_models", "zip_dataset.py": "register_datasets",
         "bias_only.py": "register_strategies", "top5.py": "register_metrics",
         "markdown_format.py": "register_formats", "thread_launcher.py": "register_launchers"}

pytestmark = pytest.mark.usefixtures("rib_isolated")


@pytest.fixture(autouse=True)
def importable(monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLES))


@pytest.fixture
def registered(register_plugin):
    """register(module_name): the example registered as a plugin; its registration must be clean."""
    import importlib

    def register(module_name: str):
        module = importlib.import_module(module_name)
        info = register_plugin(module, f"docs-{module_name}")
        assert info.error is None and info.warnings == [], info.status
        return module

    return register


def test_there_is_one_short_public_api_example_of_every_kind():
    assert sorted(p.name for p in EXAMPLES.glob("*.py")) == sorted(KINDS)
    for name, hook in KINDS.items():
        text = (EXAMPLES / name).read_text()
        assert len(text.splitlines()) < 40, name
        assert f"def {hook}(register)" in text, name
        assert internal_imports(EXAMPLES / name) == []


def test_the_model_example_loads_and_its_identity_follows_its_weights_file(registered, rib_registry, tmp_path,
                                                                          monkeypatch):
    from safetensors.torch import save_file

    mylab_model = registered("mylab_model")
    weights = tmp_path / "mlp.safetensors"
    save_file(mylab_model.build(64).state_dict(), str(weights))
    monkeypatch.setenv("MYLAB_WEIGHTS", str(weights))
    registration = rib_registry.get("models", "mylab/mlp")
    first = check_model_loader(registration.load(), "mylab/mlp")
    save_file(mylab_model.build(64).state_dict(), str(weights))  # new random weights, same name and options
    assert registration.load_extra("identity")("mylab/mlp", weights=None, options={}) != first.identity


def write_zip(root, classes=(3, 7), per_class=2):
    from io import BytesIO

    from PIL import Image

    root.mkdir(parents=True)
    with zipfile.ZipFile(root / "images.zip", "w") as archive:
        for c in classes:
            for i in range(per_class):
                png = BytesIO()
                Image.new("RGB", (8, 8), (c * 20, i * 50, 90)).save(png, format="PNG")
                archive.writestr(f"{c}/{i:02d}.png", png.getvalue())
    return root


def test_the_zip_dataset_example_is_a_dataset_whose_samples_are_archive_members(registered, rib_registry, run_rib,
                                                                               tmp_path):
    registered("zip_dataset")
    registration = rib_registry.get("datasets", "mylab-zip")
    root = write_zip(tmp_path / "data" / "mylab-zip")
    samples = check_dataset_adapter(registration.create("mine", root, {}))
    assert [(s.path, s.label) for s in samples] == [("3/00.png", 0), ("3/01.png", 0), ("7/00.png", 1), ("7/01.png", 1)]

    missing = registration.create("mine", None, {}).check()
    assert missing.verdict == "missing" and "no images.zip" in missing.problems[0]
    found = run_rib("datasets", "check", "--data-root", str(tmp_path / "data"), "mylab-zip")
    assert found.exit_code == 0, found.stdout + found.stderr


def test_the_strategy_example_trains_only_biases_and_the_head(registered, rib_registry):
    registered("bias_only")
    strategy_cls = rib_registry.load("strategies", "mylab-bitfit")
    from rib_core.testing import tiny_vit

    model = tiny_vit()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    after = check_strategy(strategy_cls, {"train_head": False}, model=model)[""]
    changed = {k for k in before if not np.array_equal(before[k].numpy(), after[k].numpy())}
    assert changed and all(k.endswith("bias") for k in changed)


def test_the_metric_example_is_top5_accuracy(registered, rib_registry):
    registered("top5")
    labels = [0, 1, 2, 3, 4, 5]
    top = [[0, 9, 9, 9, 9], [9, 9, 9, 9, 1], [9, 9, 9, 9, 9], [3, 9, 9, 9, 9], [9, 9, 9, 9, 9], [9, 5, 9, 9, 9]]
    results = make_results(evaluations=[make_evaluation("m", "d", labels, top)])
    rows = check_metric(rib_registry.load("metrics", "mylab-top5"), results, name="mylab-top5")
    assert rows[0]["value"] == pytest.approx(100 * 4 / 6)  # images 0, 1, 3 and 5 have their label in the top 5
    assert len(check_metric(rib_registry.load("metrics", "mylab-top5"), name="mylab-top5")) == 16


def test_the_format_example_writes_a_markdown_row_per_mri(registered, rib_registry):
    registered("markdown_format")
    report = sample_report()
    text = check_report_format(rib_registry.load("formats", "mylab-markdown"), report)
    assert text.count("\n| m | ") == len(report["mri"]) > 0


def test_the_launcher_example_runs_a_whole_suite(registered, toy_suite, tmp_path):
    registered("thread_launcher")
    status = check_launcher("mylab-threads", toy_suite(), tmp_path / "out", "--mylab-threads", "2")
    assert {j["state"] for j in status["jobs"]} == {"done"} and len(status["jobs"]) == 3
