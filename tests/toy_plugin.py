"""The toy plugin now lives in rib_core.testing.toy (one toy world for rib's tests, the plugins' and the docs').

This module stays so that `tests.toy_plugin` keeps working where it is named: imported (`toy.install`,
`toy.write_domain`, ...), registered as a plugin module, or as the module of a fake distribution's entry point
(`from tests.toy_plugin import *`).
"""

from rib_core.testing.toy import *  # noqa: F401,F403
from rib_core.testing.toy import CLASSES, DOMAINS, SIZE, ToyDataset, install, load, write_domain  # noqa: F401
