"""Typed project configuration, loaded from YAML and validated once at start-up.

``load_config(path)`` returns a frozen :class:`ProjectConfig` or raises :class:`ConfigError` with a
one-line message naming the file, the line and the key, and saying what is allowed::

    conf/bad.yaml:7: group_types: 6 group types declared; a project may declare 1 to 5

Relative paths in ``paths`` are resolved against the directory of the config file, so a job
started from any working directory (an orchestrator, ``spark-submit``) finds the same tables.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from groupetl.errors import ConfigError

MAX_GROUP_TYPES = 5  # Amplitude's limit per project (docs/semantics.md "Words")
MAX_GROUP_PROPERTY_KEYS = 1000
DEFAULT_MIN_ID_LENGTH = {"amplitude": 5, "segment": 1, "posthog": 1}
PROPERTY_TYPES = ("string", "number", "boolean", "list", "any")
VALUE_FORMATS = ("string", "numeric")
_NAME_RE = re.compile(r"^[^\s,;][^,;]{0,127}$")


@dataclass(frozen=True)
class Paths:
    """Where a project's data lives. ``tables`` holds one Delta table per folder."""

    root: Path
    landing: Path
    warehouse: Path
    quarantine: Path

    def table(self, name: str) -> str:
        """Path of the Delta table ``name`` (e.g. ``"silver/events"``) as a string for Spark."""
        return str(self.warehouse / name)


@dataclass(frozen=True)
class GroupType:
    """A declared group type, e.g. ``company``, with its human-readable name property."""

    name: str
    name_property: str
    value_format: str = "string"  # "numeric": QA expects values made of digits only
    retired: bool = False  # data kept, reports stop offering it, QA flags records that send it


@dataclass(frozen=True)
class EventPlan:
    """One event of the tracking plan and its known event properties (name -> type)."""

    name: str
    properties: Mapping[str, str] = field(default_factory=dict)
    required: tuple[str, ...] = ()


@dataclass(frozen=True)
class TrackingPlan:
    """Known events and, per group type, known group properties (name -> type)."""

    events: tuple[EventPlan, ...] = ()
    group_properties: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    @property
    def event_names(self) -> tuple[str, ...]:
        return tuple(e.name for e in self.events)


@dataclass(frozen=True)
class SegmentMapping:
    """How Segment messages map to Amplitude groups (docs/semantics.md, Segment ``group`` calls)."""

    group_type_trait: str = "group_type"
    group_value_trait: str = "group_value"
    # Dotted path inside a track/page/screen/identify message where groups sit.
    event_groups_path: str = "integrations.Amplitude.groups"


@dataclass(frozen=True)
class SparkSettings:
    """Options for the one SparkSession a run builds (see ``groupetl.session``)."""

    master: str = "local[*]"
    shuffle_partitions: int = 8
    driver_memory: str = "4g"
    options: Mapping[str, str] = field(default_factory=dict)


# Default of ``attribution.broadcast_history_rows``. A broadcast history row holds a key, two
# times and a value (a group-values list or a version number): about 100 bytes, so the default
# broadcasts at most ~100 MB, which the default 4g driver builds and holds without trouble.
DEFAULT_BROADCAST_HISTORY_ROWS = 1_000_000
MAX_BROADCAST_HISTORY_ROWS = 50_000_000  # far below Spark's hard broadcast limits (8 GB, 512M rows)


@dataclass(frozen=True)
class AttributionSettings:
    """How the ``attribute`` stage plans its point-in-time lookups (``attribution.join``).

    A history (membership, group versions) with at most ``broadcast_history_rows`` rows is
    broadcast and looked up by an interval join that never shuffles events; a larger one falls
    back to the sort-merge plan (events and changes sorted together). 0 always falls back.
    """

    broadcast_history_rows: int = DEFAULT_BROADCAST_HISTORY_ROWS


@dataclass(frozen=True)
class ProjectConfig:
    """A whole validated project config. Frozen: pass it around, never mutate it."""

    source: Path  # the file it was loaded from, for messages
    project: str
    paths: Paths
    group_types: tuple[GroupType, ...]
    tracking_plan: TrackingPlan
    segment: SegmentMapping
    min_id_length: Mapping[str, int]
    spark: SparkSettings
    extra: Mapping[str, Any] = field(default_factory=dict)  # sections owned by later stages
    attribution: AttributionSettings = AttributionSettings()

    @property
    def group_type_names(self) -> tuple[str, ...]:
        """Declared group types, in declared order (which decides the 5-type limit per record)."""
        return tuple(g.name for g in self.group_types)

    @property
    def active_group_type_names(self) -> tuple[str, ...]:
        """Declared group types that are not retired: the ones reports offer."""
        return tuple(g.name for g in self.group_types if not g.retired)

    def group_type(self, name: str) -> GroupType:
        for g in self.group_types:
            if g.name == name:
                return g
        raise ConfigError(
            f"{self.source}: group type {name!r} is not declared; declared: "
            f"{', '.join(self.group_type_names)}"
        )


# Sections that later stages own; load_config keeps them raw in ``extra`` and their own modules
# validate them (each with the same file/line messages, through ``ConfigNode``).
EXTENSION_SECTIONS = ("reports", "cohorts", "dynamic_properties", "crm", "qa", "retention")
_TOP_LEVEL = (
    "project",
    "paths",
    "group_types",
    "tracking_plan",
    "segment",
    "sources",
    "spark",
    "attribution",
    *EXTENSION_SECTIONS,
)


class ConfigNode:
    """A YAML value with the file and line it came from, so errors can point at it."""

    def __init__(self, value: Any, source: Path, key: str, lines: Mapping[str, int]):
        self.value = value
        self.source = source
        self.key = key
        self._lines = lines

    def error(self, message: str, key: str | None = None) -> ConfigError:
        k = key or self.key
        line = self._lines.get(k)
        where = f"{self.source}:{line}" if line else f"{self.source}"
        return ConfigError(f"{where}: {k}: {message}")

    def child(self, name: str | int) -> ConfigNode:
        key = f"{self.key}.{name}" if self.key else str(name)
        if isinstance(name, int):
            key = f"{self.key}[{name}]"
        value = self.value[name] if self._has(name) else None
        return ConfigNode(value, self.source, key, self._lines)

    def _has(self, name: str | int) -> bool:
        if isinstance(name, int):
            return isinstance(self.value, list) and 0 <= name < len(self.value)
        return isinstance(self.value, dict) and name in self.value

    def mapping(self, allowed: tuple[str, ...] | None = None) -> dict[str, Any]:
        if self.value is None:
            return {}
        if not isinstance(self.value, dict):
            raise self.error(f"expected a mapping, found {type(self.value).__name__}")
        if allowed is not None:
            for k in self.value:
                if k not in allowed:
                    raise self.child(k).error(f"unknown key; allowed here: {', '.join(allowed)}")
        return self.value

    def items(self) -> list[ConfigNode]:
        if self.value is None:
            return []
        if not isinstance(self.value, list):
            raise self.error(f"expected a list, found {type(self.value).__name__}")
        return [self.child(i) for i in range(len(self.value))]

    def string(self, default: str | None = None, required: bool = False) -> str:
        if self.value is None:
            if required or default is None:
                raise self.error("required, missing")
            return default
        if isinstance(self.value, bool) or not isinstance(self.value, str | int | float):
            raise self.error(f"expected a string, found {type(self.value).__name__}")
        return str(self.value)

    def integer(self, default: int, low: int, high: int) -> int:
        if self.value is None:
            return default
        if isinstance(self.value, bool) or not isinstance(self.value, int):
            raise self.error(f"expected a whole number from {low} to {high}, found {self.value!r}")
        if not low <= self.value <= high:
            raise self.error(f"must be from {low} to {high}, found {self.value}")
        return self.value

    def boolean(self, default: bool) -> bool:
        if self.value is None:
            return default
        if not isinstance(self.value, bool):
            raise self.error(f"expected true or false, found {self.value!r}")
        return self.value

    def choice(self, default: str, allowed: tuple[str, ...]) -> str:
        value = self.string(default)
        if value not in allowed:
            raise self.error(f"must be one of {', '.join(allowed)}; found {value!r}")
        return value


# libyaml's loader when PyYAML was built with it (about 10x faster; same nodes and marks).
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _utf8_text(raw: bytes, source: Path) -> str:
    """``raw`` decoded as UTF-8; a byte that is not UTF-8 is a ``ConfigError`` naming its line.

    YAML files are UTF-8 (a leading byte order mark is allowed and dropped). A file saved as
    Latin-1 or UTF-16 by an editor otherwise ends in Python's ``UnicodeDecodeError`` traceback.
    """
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        line = before.count(b"\n") + 1
        column = exc.start - (before.rfind(b"\n") + 1) + 1
        raise ConfigError(
            f"{source}:{line}: not UTF-8 text: byte 0x{raw[exc.start]:02x} at column {column}; "
            "save the file as UTF-8"
        ) from None


def _line_map(text: str, source: Path) -> tuple[Any, dict[str, int]]:
    """Parse YAML and record the 1-based line of every key path (``a.b[2].c``)."""
    try:
        root = yaml.compose(text, Loader=_LOADER)
        data = yaml.load(text, Loader=_LOADER)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark else str(source)
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{where}: not valid YAML: {problem}") from None
    lines: dict[str, int] = {}

    def walk(node: yaml.Node, key: str) -> None:
        if isinstance(node, yaml.MappingNode):
            for k_node, v_node in node.value:
                child = f"{key}.{k_node.value}" if key else str(k_node.value)
                lines[child] = k_node.start_mark.line + 1
                walk(v_node, child)
        elif isinstance(node, yaml.SequenceNode):
            for i, v_node in enumerate(node.value):
                child = f"{key}[{i}]"
                lines[child] = v_node.start_mark.line + 1
                walk(v_node, child)

    if root is not None:
        walk(root, "")
    return data, lines


def load_config(path: str | Path) -> ProjectConfig:
    """Read and validate the YAML config at ``path``; raise ``ConfigError`` on any problem."""
    source = Path(path)
    try:
        raw = source.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{source}: cannot read config file: {exc.strerror}") from None
    data, lines = _line_map(_utf8_text(raw, source), source)
    root = ConfigNode(data, source, "", lines)
    if data is None:
        raise ConfigError(f"{source}: the config file is empty")
    top = root.mapping(_TOP_LEVEL)
    base = source.resolve().parent

    project = root.child("project").string(required=True)
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", project):
        raise root.child("project").error("letters, digits, '_' and '-' only (1 to 64)")
    group_types = _group_types(root.child("group_types"))
    return ProjectConfig(
        source=source,
        project=project,
        paths=_paths(root.child("paths"), base),
        group_types=group_types,
        tracking_plan=_tracking_plan(root.child("tracking_plan"), group_types),
        segment=_segment(root.child("segment")),
        min_id_length=_sources(root.child("sources")),
        spark=_spark(root.child("spark")),
        extra={k: top[k] for k in EXTENSION_SECTIONS if k in top},
        attribution=_attribution(root.child("attribution")),
    )


def _paths(node: ConfigNode, base: Path) -> Paths:
    node.mapping(("root", "landing", "warehouse", "quarantine"))

    def resolve(p: str, relative_to: Path) -> Path:
        q = Path(p).expanduser()
        return q if q.is_absolute() else (relative_to / q).resolve()

    root = resolve(node.child("root").string(required=True), base)
    warehouse = resolve(node.child("warehouse").string("warehouse"), root)
    return Paths(
        root=root,
        landing=resolve(node.child("landing").string("landing"), root),
        warehouse=warehouse,
        quarantine=resolve(node.child("quarantine").string("quarantine"), warehouse),
    )


def _group_types(node: ConfigNode) -> tuple[GroupType, ...]:
    items = node.items()
    if not 1 <= len(items) <= MAX_GROUP_TYPES:
        raise node.error(
            f"{len(items)} group types declared; a project may declare 1 to {MAX_GROUP_TYPES}"
        )
    result: list[GroupType] = []
    for item in items:
        if isinstance(item.value, str):
            name, name_property, value_format, retired = item.value, "name", "string", False
        else:
            item.mapping(("name", "name_property", "value_format", "retired"))
            name = item.child("name").string(required=True)
            name_property = item.child("name_property").string("name")
            value_format = item.child("value_format").choice("string", VALUE_FORMATS)
            retired = item.child("retired").boolean(False)
        if not _NAME_RE.match(name):
            raise item.error(f"invalid group type name {name!r}: no commas or semicolons")
        if name in (g.name for g in result):
            raise item.error(f"group type {name!r} declared twice")
        result.append(GroupType(name, name_property, value_format, retired))
    return tuple(result)


def _tracking_plan(node: ConfigNode, group_types: tuple[GroupType, ...]) -> TrackingPlan:
    node.mapping(("events", "group_properties"))
    events: list[EventPlan] = []
    for item in node.child("events").items():
        if isinstance(item.value, str):
            events.append(EventPlan(item.value))
            continue
        item.mapping(("name", "properties", "required", "description"))
        props = {
            str(k): item.child("properties").child(k).choice("any", PROPERTY_TYPES)
            for k in item.child("properties").mapping()
        }
        required = tuple(str(r.value) for r in item.child("required").items())
        for r in required:
            if r not in props:
                raise item.child("required").error(f"{r!r} is not among this event's properties")
        events.append(EventPlan(item.child("name").string(required=True), props, required))
    declared = {g.name for g in group_types}
    gp_node = node.child("group_properties")
    group_properties: dict[str, dict[str, str]] = {}
    for gt in gp_node.mapping():
        if gt not in declared:
            raise gp_node.child(gt).error(
                f"group type {gt!r} is not declared in group_types ({', '.join(sorted(declared))})"
            )
        props_node = gp_node.child(gt)
        group_properties[gt] = {
            str(k): props_node.child(k).choice("any", PROPERTY_TYPES) for k in props_node.mapping()
        }
    total = sum(len(p) for p in group_properties.values())
    if total > MAX_GROUP_PROPERTY_KEYS:
        raise gp_node.error(
            f"{total} group properties planned; a project may have at most "
            f"{MAX_GROUP_PROPERTY_KEYS}"
        )
    return TrackingPlan(tuple(events), group_properties)


def _segment(node: ConfigNode) -> SegmentMapping:
    node.mapping(("group_type_trait", "group_value_trait", "event_groups_path"))
    return SegmentMapping(
        group_type_trait=node.child("group_type_trait").string("group_type"),
        group_value_trait=node.child("group_value_trait").string("group_value"),
        event_groups_path=node.child("event_groups_path").string("integrations.Amplitude.groups"),
    )


def _sources(node: ConfigNode) -> dict[str, int]:
    node.mapping(tuple(DEFAULT_MIN_ID_LENGTH))
    result = {}
    for name, default in DEFAULT_MIN_ID_LENGTH.items():
        child = node.child(name)
        child.mapping(("min_id_length",))
        result[name] = child.child("min_id_length").integer(default, 1, 1024)
    return result


# A JVM memory size as Spark passes ``spark.driver.memory`` to the JVM (``-Xmx<value>``, as
# is): a whole number and a unit letter. ``2gb`` is refused because ``-Xmx2gb`` does not start;
# a bare number is refused because Spark reads it as MiB in one place and bytes in another.
_MEMORY_RE = re.compile(r"^(\d+)([kmgt])$", re.IGNORECASE)
_MEMORY_UNIT = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
# Spark refuses a driver with less than 450 MiB of heap (``UnifiedMemoryManager``: 1.5 times
# its 300 MiB reserve); 512m is the smallest round size that starts.
MIN_DRIVER_MEMORY = 512 << 20
# The masters Spark accepts (``SparkContext.createTaskScheduler``), so a typo fails at load.
_MASTER_RE = re.compile(
    r"^(local(\[(\*|[1-9]\d*)(,\s*[1-9]\d*)?\])?|local-cluster\[\d+,\s*\d+,\s*\d+\]|yarn"
    r"|(spark|k8s|mesos)://\S+)$"
)


def memory_bytes(text: str) -> int | None:
    """``"4g"`` -> 4 GiB in bytes; None when ``text`` is not a JVM memory size with a unit."""
    found = _MEMORY_RE.match(text.strip())
    if not found:
        return None
    return int(found.group(1)) * _MEMORY_UNIT[found.group(2).lower()]


def _spark(node: ConfigNode) -> SparkSettings:
    node.mapping(("master", "shuffle_partitions", "driver_memory", "options"))
    options_node = node.child("options")
    options = {str(k): options_node.child(k).string() for k in options_node.mapping()}
    memory_node = node.child("driver_memory")
    memory = memory_node.string("4g")
    size = memory_bytes(memory)
    if size is None:
        raise memory_node.error(
            f"expected a memory size such as 4g or 512m (a whole number and k, m, g or t); "
            f"found {memory!r}"
        )
    if size < MIN_DRIVER_MEMORY:
        raise memory_node.error(f"Spark's driver needs at least 512m; found {memory!r}")
    master_node = node.child("master")
    master = master_node.string("local[*]")
    if not _MASTER_RE.match(master):
        raise master_node.error(
            "expected local, local[N], local[*], spark://HOST:PORT, yarn or k8s://URL; "
            f"found {master!r}"
        )
    return SparkSettings(
        master=master,
        shuffle_partitions=node.child("shuffle_partitions").integer(8, 1, 100_000),
        driver_memory=memory,
        options=options,
    )


def _attribution(node: ConfigNode) -> AttributionSettings:
    node.mapping(("broadcast_history_rows",))
    rows = node.child("broadcast_history_rows").integer(
        DEFAULT_BROADCAST_HISTORY_ROWS, 0, MAX_BROADCAST_HISTORY_ROWS
    )
    return AttributionSettings(broadcast_history_rows=rows)


def section_node(config: ProjectConfig, section: str) -> ConfigNode:
    """The raw extension ``section`` (``reports``, ``qa``, ...) as a ConfigNode with line numbers.

    Later stages validate their own sections through it, so their errors name file, line and key
    like the core config's do.
    """
    try:
        lines = _lines_of(_utf8_text(config.source.read_bytes(), config.source), config.source)
    except (OSError, ConfigError):
        lines = {}
    return ConfigNode(config.extra.get(section), config.source, section, lines)


@functools.lru_cache(maxsize=8)
def _lines_of(text: str, source: Path) -> dict[str, int]:
    """``_line_map``'s line numbers, parsed once per config text: the sections are validated
    by about ten parsers at start-up, and each used to parse the whole file again."""
    return _line_map(text, source)[1]
