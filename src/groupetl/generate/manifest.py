"""The exact counts of what the generator wrote: :class:`Manifest` and the counters behind it.

Every raw record is counted once, where it ends up (docs/semantics.md "Bad input"):

- ``accepted.events``: activity events (Amplitude events other than ``$identify`` /
  ``$groupidentify``; Segment ``track`` / ``page`` / ``screen``);
- ``accepted.identifies``: user-level group assignments (Amplitude ``$identify`` with ``groups``,
  Segment ``identify`` with ``integrations.Amplitude.groups``);
- ``accepted.group_identifies``: group property records (Amplitude ``$groupidentify``, Segment
  ``group`` calls);
- ``duplicates``: re-sends of an accepted activity event (same user key and insert_id / messageId);
- ``quarantined``: records with one injected fault, by ``groupetl.reasons.Quarantine`` code.

``silver_rows`` are the rows these records must produce:

- ``events``: one per accepted activity event;
- ``group_assignments``: one per (accepted record, group type) assigning a non-empty value to a
  user: every accepted identify, and every accepted Segment ``group`` call, which docs/semantics.md
  lists among the user-level assignments as well as the group property records;
- ``group_property_ops``: one per (accepted record, group, operation, property key); a Segment
  ``group`` call ``$set``s *all* its traits, the group type and value traits included.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from groupetl.reasons import Quarantine

FORMATS = ("amplitude_http", "amplitude_export", "segment")

# The faults the generator injects, in the order they are drawn.
INJECTED_FAULTS = (
    Quarantine.INVALID_JSON,
    Quarantine.MISSING_EVENT_TYPE,
    Quarantine.MISSING_USER,
    Quarantine.INVALID_USER_ID,
    Quarantine.INVALID_TIME,
    Quarantine.TIME_OUT_OF_RANGE,
    Quarantine.INVALID_GROUP_VALUE,
)


@dataclass
class Tally:
    """Mutable counters filled while generating; ``Manifest.from_tally`` freezes them."""

    events: int = 0
    identifies: int = 0
    group_identifies: int = 0
    quarantined: dict[str, int] = field(default_factory=lambda: dict.fromkeys(INJECTED_FAULTS, 0))
    group_assignments: int = 0
    group_property_ops: int = 0
    moves: int = 0


@dataclass(frozen=True)
class Manifest:
    """Exact counts of a generated dataset; ``to_dict()`` is what ``manifest.json`` holds.

    Invariant (checked before the manifest is written):
    ``records_total == sum(accepted.values()) + duplicates + sum(quarantined.values())``.
    ``users`` counts user ids given a user-level assignment (device-only activity adds user keys
    downstream that are not counted here); ``companies`` counts groups of the user-level type that
    received a group identify.
    """

    spec: dict[str, Any]
    files: dict[str, int]
    lines: dict[str, int]
    records_total: int
    accepted: dict[str, int]
    duplicates: int
    quarantined: dict[str, int]
    silver_rows: dict[str, int]
    users: int
    companies: int
    moves: int

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict with the same keys as ``manifest.json``."""
        return json.loads(json.dumps(self.__dict__))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Manifest:
        """Rebuild a manifest read from ``manifest.json`` (e.g. to compare a run's counts)."""
        return cls(**{name: data[name] for name in cls.__dataclass_fields__})

    @classmethod
    def read(cls, path: Path) -> Manifest:
        """Read ``manifest.json`` (or the folder that holds it)."""
        path = path / "manifest.json" if path.is_dir() else path
        return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))

    def write(self, path: Path) -> None:
        """Write as JSON with sorted keys and indent 2, so equal manifests are equal bytes."""
        text = json.dumps(self.to_dict(), sort_keys=True, indent=2) + "\n"
        path.write_text(text, encoding="utf-8")

    def check(self) -> None:
        """Raise ``AssertionError`` if the counts do not add up (a generator bug, never input)."""
        classified = sum(self.accepted.values()) + self.duplicates + sum(self.quarantined.values())
        if classified != self.records_total:
            raise AssertionError(
                f"manifest does not add up: records_total={self.records_total} but accepted + "
                f"duplicates + quarantined = {classified} ({self.to_dict()})"
            )
        if self.silver_rows["events"] != self.accepted["events"]:
            raise AssertionError("silver_rows.events must equal accepted.events")
