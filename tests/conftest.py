pytest_plugins = ["rib_core.testing"]
