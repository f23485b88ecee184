"""The metric contract.

A metric receives `results` (rib_core.engine.results.Results: every stored evaluation of the run, with per-sample
predictions) and returns a list of rows, each a dict with at least `metric`, `model`, `strategy`, `ft_dataset`
(None for the pretrained model), `eval_dataset` (None for summaries) and `value`. Rows appear in the report and
in `rib report --format json` under `metrics`.
"""

from __future__ import annotations


class Metric:
    name: str = ""
    description: str = ""

    def compute(self, results) -> list[dict]:
        raise NotImplementedError
