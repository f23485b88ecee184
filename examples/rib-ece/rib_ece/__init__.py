"""A complete rib plugin in two files: this hook module and metric.py (docs/plugins.md walks through it)."""

from rib_core.api import hookimpl


@hookimpl
def register_metrics(register):
    # The target is a string: rib imports rib_ece.metric only when a report computes this metric.
    register("ece", "rib_ece.metric:ExpectedCalibrationError",
             "expected calibration error of the top-1 confidence (%; 15 equal-width bins)")
