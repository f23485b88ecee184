"""rib: the ImageNet-RIB robustness-inheritance benchmark harness.

Importing this package is cheap on purpose: torch, timm and open_clip are imported where they are used.
"""

__version__ = "0.2.0"
