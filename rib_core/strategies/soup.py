"""The "soup" strategy: weight averages of fine-tuned models the suite already trains, with no training of its own.

Model soups (Wortsman et al., 2022) as the ImageNet-RIB released code ran them (`get_soup` in its main.py,
`--regularization Soup-PRE-FT-...`): the uniform average of the pretrained weights ("PRE") and the final weights
of other methods fine-tuned on the same dataset. Here:

    { name = "soup", of = ["pre", "ft", "lwf", "l2-sp"] }                     # one soup
    { name = "soup", of = [["pre", "ft"], ["pre", "ft", "lwf", "l2-sp"]] }     # several: one variant each
    { name = "soup", of = ["pre", "ft"], weights = [0.25, 0.75] }             # weighted (normalised to sum 1)

Each name in `of` is "pre" or the label of another strategy of the suite (with its variant for strategies that
have several, e.g. "wise-ft[alpha=0.5]"). The plan makes each soup depend on the fine-tunes it averages
(rib_core/engine/soup_plan.py) and the runner hands their stored weights to `finalize` via `ctx.load_stage`.
"""

from __future__ import annotations

import numbers

import torch

from rib_core.errors import ConfigError
from rib_core.options import Option
from rib_core.strategies.base import Strategy, TrainContext

PRETRAINED = "pre"


class Soup(Strategy):
    # One list of ingredients, or a list of lists (one soup each); weights likewise. How the two fit together is
    # checked in __init__.
    accepted_options = {
        "of": Option(list, default=[PRETRAINED, "ft"], help="the weights to average: \"pre\" and labels of the "
                     "suite's other strategies; a list of such lists makes one soup each"),
        "weights": Option(list, default=None, help="one non-negative weight per name in `of` (normalised to sum "
                          "1); unset: a uniform average"),
    }
    trains = False

    def __init__(self, params: dict | None = None):
        super().__init__(params)
        of, weights = self.params["of"], self.params["weights"]
        soups = [of] if isinstance(of, list) and all(isinstance(x, str) for x in of) else of
        if (not isinstance(soups, list) or not soups
                or not all(isinstance(s, list) and s and all(isinstance(x, str) and x for x in s) for s in soups)):
            raise ConfigError(f"strategy 'soup': of must list the weights to average, e.g. of = [\"pre\", \"ft\"] "
                              f"or several soups of = [[\"pre\", \"ft\"], [\"pre\", \"ft\", \"lwf\"]], got {of!r}.")
        for s in soups:
            if len(set(s)) != len(s):
                raise ConfigError(f"strategy 'soup': {s} names an ingredient twice; use weights to weigh it more.")
        if weights is None:
            weights = [[1.0] * len(s) for s in soups]
        elif isinstance(weights, list) and weights and all(_is_number(w) for w in weights):
            weights = [weights]
        if (not isinstance(weights, list) or len(weights) != len(soups)
                or any(not isinstance(w, list) or len(w) != len(s) or not all(_is_number(x) and x >= 0 for x in w)
                       or sum(w) <= 0 for w, s in zip(weights, soups))):
            raise ConfigError(f"strategy 'soup': weights must give one non-negative number per name in of "
                              f"(a list per soup when there are several), not all zero; got {self.params['weights']!r}.")
        self.soups = [list(s) for s in soups]
        self.soup_weights = [[float(x) / sum(w) for x in w] for w in weights]  # normalised to sum 1
        self.params["of"] = self.soups
        self.params["weights"] = self.soup_weights
        labels = self.variant_labels()
        if len(set(labels)) != len(labels):
            raise ConfigError(f"strategy 'soup': two soups in of are the same: {labels}.")

    def ingredients(self) -> list[str]:
        """The strategy labels (with variant) whose fine-tuned weights the soups need, "pre" excluded."""
        return sorted({x for s in self.soups for x in s if x != PRETRAINED})

    def variant_labels(self) -> list[str]:
        labels = []
        for soup, w in zip(self.soups, self.soup_weights):
            uniform = all(x == w[0] for x in w)
            labels.append("+".join(soup if uniform else [f"{x:g}*{name}" for name, x in zip(soup, w)]))
        return labels

    def finalize(self, ctx: TrainContext) -> dict:
        out = {}
        for label, soup, w in zip(self.variant_labels(), self.soups, self.soup_weights):
            states = [ctx.pretrained_state if name == PRETRAINED else ctx.load_stage(name) for name in soup]
            out[label] = average(states, w)
        return out


def average(states: list[dict], weights: list[float]) -> dict:
    """sum_i weights[i] * states[i] for floating tensors (in float32 at least), summed in the given order.

    Integer tensors are taken from the first state. With two states and weights (1 - a, a) this is the very
    expression WiSE-FT evaluates, so Soup(PRE, FT) equals wise-ft alpha = 0.5 bit for bit. (The released code
    summed and then divided by the count: equal up to float rounding.)
    """
    out = {}
    for name, first in states[0].items():
        if not first.is_floating_point():
            out[name] = first.clone()
            continue
        wide = torch.promote_types(first.dtype, torch.float32)
        total = None
        for state, weight in zip(states, weights):
            if name not in state:
                raise ConfigError(f"strategy 'soup': '{name}' is missing from one of the averaged models; soups "
                                  "need models with the same parameters (adapters must be merged).")
            term = weight * state[name].to(wide)
            total = term if total is None else total + term
        out[name] = total.to(first.dtype)
    return out


def _is_number(x) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, bool)
