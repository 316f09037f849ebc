"""The ``qa:`` section of a project config: thresholds and per-expectation severities.

``load_config`` keeps the section raw (``ProjectConfig.extra["qa"]``); it is validated here with
the same :class:`~groupetl.config.ConfigNode` so that every error names the file, the line and the
key, like the rest of the config::

    conf/test.yaml:31: qa.thresholds.max_quarantine_rate: expected a number from 0 to 1, found 'x'

Example::

    qa:
      thresholds: {max_quarantine_rate: 0.02, max_duplicate_rate: 0.05, min_time: "2020-01-01"}
      severity: {silver.events.insert_id_not_null: error}

Spark-free: nothing here imports pyspark or Great Expectations.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from groupetl.config import ConfigNode, ProjectConfig, section_node
from groupetl.errors import ConfigError

ERROR = "error"
WARNING = "warning"
SEVERITIES = (ERROR, WARNING)

_THRESHOLD_KEYS = (
    "max_quarantine_rate",
    "max_duplicate_rate",
    "min_time",
    "max_time",
    "max_future_days",
)


@dataclass(frozen=True)
class Thresholds:
    """Bounds used by the expectations. Times are naive UTC datetimes (Spark runs in UTC)."""

    max_quarantine_rate: float = 0.02
    max_duplicate_rate: float = 0.05
    # Earlier than ingest's own sanity bound (2000-01-01): a record from before the product
    # existed is almost always a device clock or a unit (seconds vs. ms) problem.
    min_time: dt.datetime = dt.datetime(2015, 1, 1)
    max_time: dt.datetime | None = None  # None: the run's start plus max_future_days
    max_future_days: int = 1

    def latest_time(self, now: dt.datetime) -> dt.datetime:
        """The upper time bound for a run started at ``now`` (naive UTC)."""
        return self.max_time or now + dt.timedelta(days=self.max_future_days)


@dataclass(frozen=True)
class QaSettings:
    """The validated ``qa:`` section. ``severity`` holds only the overrides given in config."""

    thresholds: Thresholds = field(default_factory=Thresholds)
    severity: Mapping[str, str] = field(default_factory=dict)
    # the config node of each override, so an unknown id is reported at its line
    severity_nodes: Mapping[str, ConfigNode] = field(default_factory=dict, repr=False)

    def check_ids(self, known: Collection[str]) -> None:
        """Raise ``ConfigError`` when a severity override names an expectation that does not exist.

        In: the expectation ids built for this project. Out: None, or the error naming the line.
        """
        for key in self.severity:
            if key in known:
                continue
            message = f"unknown expectation id; known ids: {', '.join(sorted(known))}"
            node = self.severity_nodes.get(key)
            raise node.error(message) if node else ConfigError(f"qa.severity.{key}: {message}")


def qa_node(config: ProjectConfig) -> ConfigNode:
    """The ``qa`` section as a ConfigNode that knows the config file's line numbers."""
    return section_node(config, "qa")


def load_qa_settings(config: ProjectConfig) -> QaSettings:
    """Validate the project's ``qa:`` section; defaults when it is absent.

    In: a loaded ProjectConfig. Out: QaSettings, or ``ConfigError`` naming file, line and key.
    Severity keys are checked against the expectation ids later (``QaSettings.check_ids``),
    because the ids depend on the declared group types.
    """
    node = qa_node(config)
    node.mapping(("thresholds", "severity"))
    severity_node = node.child("severity")
    nodes = {str(key): severity_node.child(key) for key in severity_node.mapping()}
    severity = {key: child.choice(ERROR, SEVERITIES) for key, child in nodes.items()}
    return QaSettings(_thresholds(node.child("thresholds")), severity, nodes)


def _thresholds(node: ConfigNode) -> Thresholds:
    node.mapping(_THRESHOLD_KEYS)
    defaults = Thresholds()
    min_time = _time(node.child("min_time")) or defaults.min_time
    max_time = _time(node.child("max_time"))
    if max_time is not None and max_time <= min_time:
        raise node.child("max_time").error(f"must be later than min_time ({min_time.isoformat()})")
    return Thresholds(
        max_quarantine_rate=_rate(node.child("max_quarantine_rate"), defaults.max_quarantine_rate),
        max_duplicate_rate=_rate(node.child("max_duplicate_rate"), defaults.max_duplicate_rate),
        min_time=min_time,
        max_time=max_time,
        max_future_days=node.child("max_future_days").integer(defaults.max_future_days, 0, 3650),
    )


def _rate(node: ConfigNode, default: float) -> float:
    """A share from 0 to 1 (YAML int or float)."""
    value = node.value
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise node.error(f"expected a number from 0 to 1, found {value!r}")
    return float(value)


def _time(node: ConfigNode) -> dt.datetime | None:
    """A UTC date or date-time: YAML date (unquoted ``2020-01-01``) or ISO-8601 text."""
    value = node.value
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return _naive_utc(value)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    if isinstance(value, str):
        try:
            return _naive_utc(dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00")))
        except ValueError:
            pass
    raise node.error(f"expected a date or date-time such as 2020-01-01 (UTC), found {value!r}")


def _naive_utc(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:
        return value
    return value.astimezone(dt.timezone.utc).replace(tzinfo=None)
