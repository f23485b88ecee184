"""rib-visual-prompt: the "visual-prompt" strategy. Importing this module is cheap: torch loads with the strategy."""

from rib_core.api import hookimpl

__version__ = "0.2.0"


@hookimpl
def register_strategies(register):
    register("visual-prompt", "rib_visual_prompt.strategy:VisualPrompt",
             "a learnable pad prompt around the image (only the prompt is trained), folded into pos_embed")
