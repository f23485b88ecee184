"""The metric contract.

A metric receives `results` (rib_core.engine.results.Results: every stored evaluation of the run, with per-sample
predictions) and returns a list of rows, each a dict with at least `metric`, `model`, `strategy`, `ft_dataset`
(None for the pretrained model), `eval_dataset` (None for summaries) and `value`. Rows appear in the report and
in `rib report --format json` under `metrics`.
"""

from __future__ import annotations


class Metric:
    """Base class: override `compute`. Name and description come from registration only; rib sets `self.name` to
    the registered name (use it as the rows' `metric`) and instantiates the class without arguments."""

    #: The name this metric was registered under (set by rib; "" when the class is instantiated directly).
    name: str = ""

    def compute(self, results) -> list[dict]:
        raise NotImplementedError
