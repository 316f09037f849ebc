"""The generator's main loop: day by day, minute by minute, in payload-time order.

Activity is drawn per minute (weekday and hour-of-day pattern, Zipf-skewed companies and users)
and interleaved with the scheduled changes of ``world.World`` through a heap ordered by when
each change is due, so the state a record is drawn from (who belongs where) is the state at the
record's time. Nothing is held beyond the heap of the coming hour's changes and the bodies being
filled: memory is O(users + companies).
"""

from __future__ import annotations

import datetime
import heapq
import sys
from collections.abc import Callable
from pathlib import Path

from groupetl.generate import records as rec
from groupetl.generate.accounts import Accounts
from groupetl.generate.activity import Activity
from groupetl.generate.context import Context
from groupetl.generate.manifest import FORMATS, Manifest
from groupetl.generate.spec import GeneratorSpec
from groupetl.generate.wire import DAY_MS, date_of
from groupetl.generate.world import CREATE, JOIN, MOVE, Item

Progress = Callable[[str], None]

WEEKDAY_WEIGHTS = (1.0, 1.0, 1.0, 1.0, 0.85, 0.25, 0.2)  # Monday first: B2B is quiet at weekends
HOUR_WEIGHTS = (2, 1, 1, 1, 1, 2, 4, 7, 10, 12, 12, 12, 11, 12, 12, 11, 10, 9, 7, 6, 5, 4, 3, 2)


class Generator:
    """Writes one dataset; use :func:`groupetl.generate.generate`."""

    def __init__(self, spec: GeneratorSpec, landing: Path, progress: Progress) -> None:
        self.spec = spec
        self.progress = progress
        self.ctx = Context(spec, landing)
        self.accounts = Accounts(self.ctx)
        self.activity = Activity(self.ctx, self.accounts)
        self.heap: list[Item] = []

    def run(self) -> Manifest:
        """Generate every day, flush the writers, and return the checked manifest."""
        spec, ctx = self.spec, self.ctx
        weekdays = [
            WEEKDAY_WEIGHTS[(spec.start_date + datetime.timedelta(days=d)).weekday()]
            for d in range(spec.days)
        ]
        per_minute = spec.events / sum(weekdays) / sum(HOUR_WEIGHTS) / 60
        for day in range(spec.days):
            day_ms = ctx.start_ms + day * DAY_MS
            date = date_of(day_ms)
            ctx.http.start_day(date)
            ctx.segment.start_day(date)
            events = 0
            for hour in range(24):
                for item in ctx.world.items_of_hour(day * 24 + hour):
                    heapq.heappush(self.heap, item)
                ctx.export.set_hour(date, hour)
                expected = per_minute * weekdays[day] * HOUR_WEIGHTS[hour]
                # The window's first minute stays quiet so that records sent before the first
                # events (identify, group identify) still fall inside the window.
                first = 1 if day == 0 and hour == 0 else 0
                for minute in range(first, 60):
                    events += self._run_minute(day_ms + (hour * 60 + minute) * 60_000, expected)
            self.progress(f"[generate] {date}: {events:,} activity events drawn")
        self._process_due(sys.maxsize)
        for writer in (ctx.http, ctx.segment, ctx.export):
            writer.finish()
        return self._manifest()

    def _run_minute(self, minute_ms: int, expected: float) -> int:
        """Draw and send the activity of one minute; returns how many events were drawn."""
        rng, world = self.ctx.rng, self.ctx.world
        n = int(expected)
        if rng.random() < expected - n:  # randomized rounding keeps the expected total
            n += 1
        if n == 0:
            return 0
        draw = rng.random
        offsets = sorted([int(draw() * 60_000) for _ in range(n)])
        companies = rng.choices(world.company_ids, cum_weights=world.company_cum, k=n)
        ranks = rng.choices(world.rank_ids, cum_weights=world.rank_cum, k=n)
        types = rng.choices(rec.TAXONOMY, cum_weights=rec.TAXONOMY_CUM, k=n)
        upc, heap, send = world.users_per_company, self.heap, self.activity.send
        for offset, c, k, event_type in zip(offsets, companies, ranks, types, strict=True):
            t = minute_ms + offset
            if heap and heap[0][0] <= t:
                self._process_due(t)
            send(t, c * upc + k, event_type)
        return n

    def _process_due(self, now: int) -> None:
        """Apply every scheduled change due at or before ``now``, in due order."""
        heap, world, accounts = self.heap, self.ctx.world, self.accounts
        while heap and heap[0][0] <= now:
            _, t, kind, index, argument = heapq.heappop(heap)
            if kind == CREATE:
                if not world.created[index]:
                    accounts.create_company(index, t)
            elif kind == JOIN:
                if not world.joined[index]:
                    accounts.onboard(index, t)
            elif kind == MOVE:
                accounts.move(index, argument, t)
            else:
                accounts.update_company(index, argument, t)

    def _manifest(self) -> Manifest:
        ctx, tally = self.ctx, self.ctx.tally
        writers = {rec.HTTP: ctx.http, rec.EXPORT: ctx.export, rec.SEGMENT: ctx.segment}
        manifest = Manifest(
            spec=self.spec.to_dict(),
            files={f: writers[f].files for f in FORMATS},
            lines={f: writers[f].lines for f in FORMATS},
            records_total=sum(w.records for w in writers.values()),
            accepted={
                "events": tally.events,
                "identifies": tally.identifies,
                "group_identifies": tally.group_identifies,
            },
            duplicates=sum(w.resends for w in writers.values()),
            quarantined=dict(tally.quarantined),
            silver_rows={
                "events": tally.events,
                "group_assignments": tally.group_assignments,
                "group_property_ops": tally.group_property_ops,
            },
            users=ctx.world.joined.count(1),
            companies=ctx.world.created.count(1),
            moves=tally.moves,
        )
        manifest.check()
        return manifest
