"""One exception hierarchy for groupetl. Messages say what was expected and what was found."""

from __future__ import annotations


class GroupEtlError(Exception):
    """Base of every error groupetl raises on purpose; the CLI prints these without a traceback."""


class ConfigError(GroupEtlError):
    """A project config file is missing, unreadable or invalid. The message names file and key."""


class InputError(GroupEtlError):
    """An input given on the command line (a file, a date, a query) cannot be used."""


class ArgumentError(InputError):
    """A command-line argument that the config and the arguments alone show to be wrong (an
    unknown report, table, cohort or group type, a bad date or option combination). Raised
    before any Spark session starts; the CLI exits 2, like a config error."""


class SetupError(GroupEtlError):
    """The runtime is not set up (e.g. Delta Lake's jars are neither cached nor downloadable)."""


class StageError(GroupEtlError):
    """A pipeline stage failed; the message names the stage."""
