"""rib_core.testing as a plugin author meets it: fixtures without any conftest, and the strategy-test kit."""

import subprocess
import sys

import torch

from rib_core.strategies.builtin import LinearProbe
from rib_core.testing import fine_tune, random_train_data, tiny_vit, train_context
from tests.helpers import REPO

torch.set_num_threads(1)


def test_the_fixtures_need_no_conftest_and_pytest_plugins_is_not_needed(tmp_path):
    (tmp_path / "test_mine.py").write_text(
        "def test_listed(run_rib):\n"
        "    result = run_rib('list', 'formats', '--json')\n"
        "    assert result.exit_code == 0 and '\"table\"' in result.stdout\n")
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
                            capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


def test_docs_do_not_advise_registering_the_pytest_plugin_twice():
    text = (REPO / "docs" / "plugins.md").read_text()
    assert "do not add `pytest_plugins = [\"rib_core.testing\"]`" in text  # only as a warning
    assert text.count("pytest_plugins") == 1


def test_the_kit_trains_a_tiny_vit_with_ribs_own_loop(tmp_path):
    ctx = train_context(tiny_vit(), random_train_data(n=16, batch_size=8), lr=0.5)
    after = fine_tune(ctx, LinearProbe(), tmp_path)[""]
    changed = {k for k, v in after.items() if not torch.equal(v, ctx.pretrained_state[k])}
    assert changed == {"head.weight", "head.bias"}
    again = fine_tune(train_context(tiny_vit(), random_train_data(n=16, batch_size=8), lr=0.5), LinearProbe(),
                      tmp_path / "again")[""]
    assert all(torch.equal(after[k], again[k]) for k in after)  # same seed, same machine: the same weights
