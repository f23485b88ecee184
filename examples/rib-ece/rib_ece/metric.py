"""Expected calibration error, from the top-1 probabilities rib stores for every evaluated image."""

import numpy as np

from rib_core.api import Metric

BINS = 15


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray, bins: int = BINS) -> float:
    """Sum over equal-width confidence bins of |accuracy - mean confidence| weighted by the bin's share (%)."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    ece = 0.0
    for b in range(bins):
        members = which == b
        if members.any():
            ece += members.mean() * abs(correct[members].mean() - confidence[members].mean())
    return 100.0 * ece


class ExpectedCalibrationError(Metric):
    def compute(self, results):
        rows = []
        for e in results.evaluations:
            p = e.predictions
            confidence = p["top_prob"][:, 0].astype(np.float64)
            correct = p["top_idx"][:, 0] == p["labels"]
            rows.append({"metric": self.name, "model": e.model, "strategy": e.strategy,
                         "ft_dataset": e.ft_dataset, "eval_dataset": e.eval_dataset,
                         "value": expected_calibration_error(confidence, correct)})
        return rows
