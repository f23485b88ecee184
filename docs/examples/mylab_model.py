"""A model plugin: a small classifier whose weights the plugin keeps in a file of its own, so it registers identity=."""
import os

from rib_core.api import (Backbone, Option, Preprocess, RibError, file_digest, hookimpl, load_state_dict_file,
                          option_values)


@hookimpl
def register_models(register):
    register("mylab/mlp", "mylab_model:load", "a 32-px MLP trained by my lab (weights: $MYLAB_WEIGHTS)",
             identity="mylab_model:identity")


def checkpoint(weights) -> str:
    path = weights or os.environ.get("MYLAB_WEIGHTS", "")
    if not os.path.isfile(path):
        raise RibError(f"mylab/mlp: no weights at '{path}'; set MYLAB_WEIGHTS or the suite's weights = FILE.")
    return path


def identity(name, *, weights, options):  # changes whenever the file does: results are recomputed then
    return f"{name}@{file_digest(checkpoint(weights))}"


def build(width: int):
    from torch import nn

    return nn.Sequential(nn.Flatten(), nn.Linear(3 * 32 * 32, width), nn.ReLU(), nn.Linear(width, 1000))


def load(name, *, weights, options):
    model = build(option_values(load.accepted_options, options)["width"])  # checked, defaults filled in
    model.load_state_dict(load_state_dict_file(checkpoint(weights)))
    return Backbone(model, Preprocess(input_size=32, resize_size=32), head_prefixes=("3.",),
                    identity=identity(name, weights=weights, options=options))


load.accepted_options = {"width": Option(int, default=64, minimum=1, help="hidden units (must match the file)")}
