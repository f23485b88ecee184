"""Errors a user can act on.

`RibError` and its subclasses carry a message meant for a person; the CLI prints it without a traceback
(unless --debug). Anything else escaping is a bug in rib or a plugin and is shown with its traceback.
"""


class RibError(Exception):
    """A failure with a message that tells the user what went wrong and what to do."""

    exit_code = 1


class UsageError(RibError):
    """Bad command-line usage, an unknown name or an invalid suite: nothing was started."""

    exit_code = 2


class ConfigError(UsageError):
    """benchmarks.toml (or another suite file) is malformed or invalid."""


class UnknownNameError(UsageError):
    """A model, dataset, strategy, metric or suite name that no installed plugin provides."""


class DataError(RibError):
    """A dataset is missing, incomplete or unreadable."""

    exit_code = 2


class PluginError(RibError):
    """A plugin failed to import, to register, or to provide what it registered."""


class PluginContractError(PluginError):
    """A plugin registered or provided something its kind does not accept (docs/plugins.md): nothing was started."""

    exit_code = 2
