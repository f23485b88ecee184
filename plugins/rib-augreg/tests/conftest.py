import pytest


@pytest.fixture(autouse=True)
def _isolated(offline_hub, rib_cache):
    """Every test here runs offline, with an empty Hugging Face cache and its own RIB_CACHE_DIR
    (fixtures from rib_core.testing)."""
