"""What every part of the generator shares, and the one way an accepted activity event is sent.

One :class:`Context` per dataset holds the spec, the single random stream (everything draws from
it in a fixed order, which is what makes the output reproducible), the world, the three writers,
the counters and the id sequence.
"""

from __future__ import annotations

import datetime
import json
import random
from pathlib import Path

from groupetl.generate import records as rec
from groupetl.generate.manifest import Tally
from groupetl.generate.records import EXPORT, HTTP, SEGMENT, Record
from groupetl.generate.spec import GeneratorSpec
from groupetl.generate.wire import DAY_MS, ExportWriter, HttpWriter, SegmentWriter
from groupetl.generate.world import World

EXPORT_PROJECT_ID = "424242"
# Ids are a bijection of a counter (odd multiplier, then xorshift, mod 2**128): random-looking,
# and unique by construction, so no two records share an insert_id unless re-sent on purpose.
_ID_MULTIPLIER = 0x9E3779B97F4A7C15F39CC0605CEDC835
_ID_MASK = (1 << 128) - 1


class Context:
    """The spec, the random stream, the world, the writers and the counters of one dataset."""

    def __init__(self, spec: GeneratorSpec, landing: Path) -> None:
        self.spec = spec
        self.rng = rng = random.Random(spec.seed)
        self.draw = rng.random  # the hot paths draw floats only: 5x cheaper than randint
        self.primary, self.secondary = spec.group_types
        self.start_ms = (spec.start_date - datetime.date(1970, 1, 1)).days * DAY_MS
        # Compact, and no cycle check (records are trees): 10% faster, same bytes.
        encode = json.JSONEncoder(separators=(",", ":"), check_circular=False).encode
        self.http = HttpWriter(landing / HTTP, f"{rng.getrandbits(128):032x}", rng, encode)
        self.segment = SegmentWriter(landing / SEGMENT, rng, encode)
        self.export = ExportWriter(landing / EXPORT, EXPORT_PROJECT_ID, rng, encode)
        self.world = World(spec, rng, self.start_ms)
        self.tally = Tally()
        self.segment_cut = spec.segment_share
        self.export_cut = spec.segment_share + spec.export_share
        self.duplicate_share = spec.duplicate_share
        self._id_counter = 0
        self._id_salt = rng.getrandbits(128)

    def pick_format(self) -> str:
        """Which wire format an activity event goes through, by the spec's shares."""
        r = self.draw()
        return SEGMENT if r < self.segment_cut else EXPORT if r < self.export_cut else HTTP

    def new_id(self) -> str:
        """A new unique 32-hex-digit id (``insert_id``, ``messageId``)."""
        self._id_counter += 1
        h = (self._id_counter * _ID_MULTIPLIER + self._id_salt) & _ID_MASK
        return f"{h ^ (h >> 67):032x}"

    def new_uuid(self) -> str:
        """A new unique id in UUID text form (the Export ``uuid``)."""
        h = self.new_id()
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def write_activity(
        self, fmt: str, t: int, u: int, with_user: bool, event_type: str, props: Record,
        groups: Record,
    ) -> None:  # fmt: skip
        """Send one accepted activity event of user ``u`` at ``t`` (device only unless
        ``with_user``), and maybe queue its re-send (a duplicate) by ``duplicate_share``."""
        draw = self.draw
        user_id: str | None
        user_id, device_id = self.world.ids(u)
        if not with_user:
            user_id = None
        resend = draw() < self.duplicate_share
        if fmt == HTTP:
            record = rec.http_activity(
                user_id, device_id, event_type, t, self.new_id(), props, groups
            )
            self.http.add(record, t)
            if resend:
                self.http.resend_later(record, t)
        elif fmt == EXPORT:
            upload_ms = t + 500 + int(draw() * 89_500)
            record = rec.export_activity(
                user_id, device_id, event_type, t, upload_ms, self.new_id(), self.new_uuid(), props,
                groups,
            )  # fmt: skip
            self.export.add(record)
            if resend:
                self.export.resend_later(record, upload_ms)
        else:
            kind, name = "track", event_type
            if event_type == "View Dashboard":  # Segment's page / screen calls
                kind = "page" if draw() < 0.7 else "screen"
                name = "Dashboard"
            record = rec.segment_activity(
                kind, user_id, device_id, name, t, self.world.utc_offset(u), self.new_id(), props,
                groups,
            )  # fmt: skip
            self.segment.add(record, t)
            if resend:
                self.segment.resend_later(record, t)
        self.tally.events += 1
