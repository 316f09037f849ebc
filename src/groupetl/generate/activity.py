"""One drawn activity event: its format, user, groups and properties, or an injected fault."""

from __future__ import annotations

import json

from groupetl.generate import records as rec
from groupetl.generate.accounts import Accounts
from groupetl.generate.context import Context
from groupetl.generate.manifest import INJECTED_FAULTS
from groupetl.generate.records import EXPORT, HTTP, SEGMENT, Record
from groupetl.generate.world import ONBOARD_MAX_MS
from groupetl.reasons import Quarantine

DEVICE_ONLY_SHARE = 0.03  # activity sent before login: device_id only
EVENT_COMPANY_SHARE = 0.20  # events naming the user's own company as an event-level group
OTHER_COMPANY_SHARE = 0.02  # events naming another company (event level wins for that event)
WORKSPACE_SHARE = 0.40  # events naming workspaces: 70% one, 15% two, 15% three


class Activity:
    """Turns (time, user, event type) draws into records, onboarding users when first seen."""

    def __init__(self, ctx: Context, accounts: Accounts) -> None:
        self.ctx = ctx
        self.accounts = accounts
        self.world = ctx.world
        self.draw = ctx.draw
        self.malformed_share = ctx.spec.malformed_share

    def send(self, t: int, u: int, event_type: str) -> None:
        """Send one activity event of user ``u`` at ``t``; by ``malformed_share``, a faulty one."""
        ctx, draw = self.ctx, self.draw
        r = draw()  # ctx.pick_format(), inlined: this runs once per event
        fmt = SEGMENT if r < ctx.segment_cut else EXPORT if r < ctx.export_cut else HTTP
        if draw() < self.malformed_share:
            self._send_faulty(fmt, t, u, event_type)
            return
        with_user = draw() >= DEVICE_ONLY_SHARE
        if with_user and not self.world.joined[u]:
            self.accounts.onboard(u, t - 1 - int(draw() * ONBOARD_MAX_MS))
        groups = self._event_groups(u, t)
        props = rec.EVENT_PROPERTIES[event_type](draw)
        ctx.write_activity(fmt, t, u, with_user, event_type, props, groups)

    def _event_groups(self, u: int, t: int) -> Record:
        """Event-level groups: sometimes the user's company or another one, often workspaces."""
        draw, world, primary = self.draw, self.world, self.ctx.primary
        c = world.current[u]
        groups: Record = {}
        r = draw()
        if r < OTHER_COMPANY_SHARE and world.n_companies > 1:
            c = world.other_company(c)
            self.accounts.ensure_company(c, t)
            groups[primary] = world.company_value(c)
        elif r < OTHER_COMPANY_SHARE + EVENT_COMPANY_SHARE:
            self.accounts.ensure_company(c, t)
            groups[primary] = world.company_value(c)
        r = draw()
        if r < WORKSPACE_SHARE:
            count = 1 if r < WORKSPACE_SHARE * 0.7 else 2 if r < WORKSPACE_SHARE * 0.85 else 3
            groups[self.ctx.secondary] = world.workspace_values(c, count)
        return groups

    def _send_faulty(self, fmt: str, t: int, u: int, event_type: str) -> None:
        """An activity record with exactly one fault; it must be quarantined for that reason."""
        ctx, world, rng = self.ctx, self.world, self.ctx.rng
        reason = rng.choice(INJECTED_FAULTS)
        user_id, device_id = world.ids(u)
        props = rec.EVENT_PROPERTIES[event_type](self.draw)
        groups = {ctx.primary: world.company_value(world.current[u])}
        if fmt == HTTP:
            record = rec.http_activity(
                user_id, device_id, event_type, t, ctx.new_id(), props, groups
            )
        elif fmt == EXPORT:
            record = rec.export_activity(
                user_id, device_id, event_type, t, t + rng.randint(500, 90_000), ctx.new_id(),
                ctx.new_uuid(), props, groups,
            )  # fmt: skip
        else:
            record = rec.segment_activity(
                "track", user_id, device_id, event_type, t, world.utc_offset(u), ctx.new_id(),
                props, groups,
            )  # fmt: skip
        ctx.tally.quarantined[reason] += 1
        if reason == Quarantine.INVALID_JSON:
            self._send_broken(fmt, record, t)
            return
        rec.inject_fault(fmt, record, reason, rng, ctx.primary)
        if fmt == EXPORT:
            ctx.export.add(record)
        else:
            (ctx.http if fmt == HTTP else ctx.segment).add(record, t)

    def _send_broken(self, fmt: str, record: Record, t: int) -> None:
        """One record's line cut short: an Export line, or a body holding only this record."""
        ctx = self.ctx
        if fmt == EXPORT:
            text = json.dumps(record, separators=(",", ":"))
            ctx.export.add_line(text[: len(text) * 2 // 3])
        else:
            writer = ctx.http if fmt == HTTP else ctx.segment
            text = writer.body_text([record], t)
            writer.write_broken_line(text[: len(text) * 2 // 3])
