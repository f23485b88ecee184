"""SIGTERM is never lost: not even when it lands while DataLoader starts its worker processes, where Python runs
at-fork callbacks and swallows what a signal handler raises inside them ("Exception ignored in ...")."""

from __future__ import annotations

import os
import signal
import sys

import pytest

from rib_core.testing import toy
from rib_core.engine.store import Store

SUITE = """
[suites.toy]
models = ["tiny/a"]
datasets = ["toy-a", "toy-b"]
strategies = ["ft"]
cache = {cache}

[suites.toy.training]
epochs = 1
batch_size = 8
"""

_sigterm_at_fork = {"armed": False, "sent": 0}


def _send_sigterm_while_forking():
    """An at-fork callback of the parent, like logging's: a SIGTERM arriving now is handled inside it."""
    if _sigterm_at_fork["armed"]:
        _sigterm_at_fork["armed"] = False
        _sigterm_at_fork["sent"] += 1
        os.kill(os.getpid(), signal.SIGTERM)  # Python runs the handler right here, inside the callback


os.register_at_fork(after_in_parent=_send_sigterm_while_forking)  # inert until a test arms it


@pytest.mark.parametrize("cache", ["true", "false"], ids=["building-the-cache", "streaming"])
def test_a_sigterm_while_dataloader_workers_fork_is_not_lost(tmp_path, monkeypatch, register_plugin, run_rib, cache):
    toy.install(tmp_path, monkeypatch, register_plugin, ("toy-a", "toy-b"), per_class=6)
    suite = tmp_path / "suite.toml"
    suite.write_text(SUITE.format(cache=cache))
    out = tmp_path / "out"
    _sigterm_at_fork.update(armed=True, sent=0)
    try:
        result = run_rib("bench", "-c", str(suite), "--out", str(out), "--device", "cpu", "--workers", "1",
                         "--no-report")
    finally:
        _sigterm_at_fork["armed"] = False
    assert _sigterm_at_fork["sent"] == 1  # the signal did land inside an at-fork callback
    assert result.exit_code == 143, result.stderr
    assert "rib: terminated (SIGTERM); finished cells are kept. Run the same command again to resume." in result.stderr
    assert "Exception ignored" not in result.stderr and "Traceback" not in result.stderr
    assert not (out / "rib.lock").exists()
    records = list(out.glob("cells/*/record.json"))
    assert len(records) < 8 and all(Store(out).record(p.parent.name) is not None for p in records)
    assert not list(out.rglob("*.tmp"))

    resumed = run_rib("bench", "-c", str(suite), "--out", str(out), "--device", "cpu", "--workers", "1",
                      "--no-report")
    assert resumed.exit_code == 0, resumed.stderr
    assert f"{8 - len(records)} cell(s) run, {len(records)} reused" in resumed.stderr


class SendsSigtermWhenCollected:
    def __del__(self):
        os.kill(os.getpid(), signal.SIGTERM)  # handled inside __del__, where Python swallows what is raised


def test_a_sigterm_swallowed_by_a_del_method_is_raised_again_in_ordinary_code(capfd):
    import time

    from rib_core.signals import Terminated, raise_if_lost, sigterm_raises_terminated

    reached, before = [], signal.getsignal(signal.SIGTERM)
    with pytest.raises(Terminated):
        with sigterm_raises_terminated():
            obj = SendsSigtermWhenCollected()
            del obj  # the handler raised inside __del__; Python printed nothing, the run would go on
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:  # ordinary code: raised again here within milliseconds
                time.sleep(0.001)
            reached.append("the end")
            raise_if_lost()
    assert reached == []
    assert "Exception ignored" not in capfd.readouterr().err
    assert signal.getsignal(signal.SIGTERM) is before and sys.unraisablehook is not None
