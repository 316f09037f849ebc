"""The supported input formats, and how a file's format is decided.

The landing folder's first-level sub-folder declares the format of every file below it
(``<landing>/segment/2026/01/05/batch-1.json.gz``). Files anywhere else are *sniffed*: the first
non-blank line that is a JSON object (among the first :data:`SNIFF_LINES` lines) decides, by the
rules of :func:`detect_format` (documented in docs/input-formats.md). Sniffing reads a few lines
on the driver, which is file metadata, not data.
"""

from __future__ import annotations

import gzip
import json
import logging
import zlib
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

SNIFF_LINES = 50
SEGMENT_TYPES = ("track", "page", "screen", "identify", "group", "alias")


class Format:
    """Format names: landing sub-folder names and the ``file_format`` column's values."""

    AMPLITUDE_HTTP = "amplitude_http"
    AMPLITUDE_BATCH = "amplitude_batch"
    AMPLITUDE_IDENTIFY = "amplitude_identify"
    AMPLITUDE_GROUP_IDENTIFY = "amplitude_group_identify"
    AMPLITUDE_EXPORT = "amplitude_export"
    SEGMENT = "segment"
    POSTHOG = "posthog"
    UNKNOWN = "unknown"  # sniffing found no supported shape: every record is quarantined

    KNOWN = (
        AMPLITUDE_HTTP,
        AMPLITUDE_BATCH,
        AMPLITUDE_IDENTIFY,
        AMPLITUDE_GROUP_IDENTIFY,
        AMPLITUDE_EXPORT,
        SEGMENT,
        POSTHOG,
    )
    AMPLITUDE = (
        AMPLITUDE_HTTP,
        AMPLITUDE_BATCH,
        AMPLITUDE_IDENTIFY,
        AMPLITUDE_GROUP_IDENTIFY,
        AMPLITUDE_EXPORT,
    )


SOURCE_OF_FORMAT = {
    **dict.fromkeys(Format.AMPLITUDE, "amplitude"),
    Format.SEGMENT: "segment",
    Format.POSTHOG: "posthog",
}


def detect_format(obj: Any) -> str:
    """The format of a file whose first JSON object line is ``obj`` (:data:`Format.UNKNOWN` if none).

    Rules, first match wins:
    1. ``events`` key -> amplitude_http (HTTP V2 and Batch bodies have the same shape);
    2. ``identification`` key -> amplitude_group_identify when its first item has ``group_type``,
       else amplitude_identify;
    3. ``batch`` key -> segment when its first item has ``type``, posthog when it has ``event``;
    4. ``type`` is a Segment call type (track, page, screen, identify, group, alias) -> segment;
    5. ``event`` with ``distinct_id`` or ``properties`` -> posthog;
    6. ``event_type`` -> amplitude_export (one event per line).
    """
    if not isinstance(obj, dict):
        return Format.UNKNOWN
    if "events" in obj:
        return Format.AMPLITUDE_HTTP
    if "identification" in obj:
        first = _first_item(obj["identification"])
        return (
            Format.AMPLITUDE_GROUP_IDENTIFY if "group_type" in first else Format.AMPLITUDE_IDENTIFY
        )
    if "batch" in obj:
        first = _first_item(obj["batch"])
        if "type" in first:
            return Format.SEGMENT
        if "event" in first:
            return Format.POSTHOG
        return Format.UNKNOWN
    if obj.get("type") in SEGMENT_TYPES:
        return Format.SEGMENT
    if "event" in obj and ("distinct_id" in obj or "properties" in obj):
        return Format.POSTHOG
    if "event_type" in obj:
        return Format.AMPLITUDE_EXPORT
    return Format.UNKNOWN


def _first_item(value: Any) -> dict[str, Any]:
    if isinstance(value, str):  # the form-encoded Identify API sends the list as JSON text
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return value[0]
    return {}


def sniff_file(path: Path) -> str:
    """Detect the format of the file at ``path`` (plain or ``.gz``) from its first lines."""
    opener = gzip.open if path.name.endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8", errors="replace") as fh:
            for i, line in enumerate(fh):
                if i >= SNIFF_LINES:
                    break
                text = line.strip().lstrip("\ufeff")
                if not text:
                    continue
                try:
                    obj = json.loads(text)
                except ValueError:
                    continue
                if isinstance(obj, dict):
                    return detect_format(obj)
    except (OSError, EOFError, zlib.error) as exc:  # unreadable, truncated or corrupt gzip:
        # bronze quarantines the file (reason unreadable_file)
        log.warning("cannot sniff %s: %s", path, exc)
    return Format.UNKNOWN


def format_of(relative: str, path: Path) -> str:
    """The format of a landing file: its first folder's name when it names a format, else sniffed."""
    parts = relative.split("/")
    if len(parts) > 1 and parts[0] in Format.KNOWN:
        return parts[0]
    return sniff_file(path)
