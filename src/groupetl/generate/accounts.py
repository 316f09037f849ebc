"""Who belongs to which account, and what each account looks like: identify and group identify.

Ordering guarantees (strict, in payload time), which make the data attribute cleanly:

- a user's first assignment (identify) comes before the user's first event: it is sent when the
  user is first needed, 1..``ONBOARD_MAX_MS`` ms before that event, or on schedule;
- a company's first group identify (``Account Name`` ...) comes before any record naming the
  company: when first needed it is sent ``CREATE_LAG_MS``..30 s before the record that needs
  it, and a scheduled creation is acted on only ``CREATE_LAG_MS`` after its time, when every
  record still to come is dated after it (records are dated at most ``ONBOARD_MAX_MS`` before
  the moment the main loop has reached).
"""

from __future__ import annotations

from groupetl.generate import records as rec
from groupetl.generate.context import Context
from groupetl.generate.records import Record
from groupetl.generate.wire import DAY_MS, date_of
from groupetl.generate.world import (
    CREATE_LAG_MS,
    FEATURE,
    FEATURES,
    INDUSTRIES,
    ONBOARD_MAX_MS,
    PLANS,
    REGIONS,
    ROLES,
    UPGRADE,
)

_FEATURE_OPS = ("$append", "$postInsert", "$prepend", "$preInsert", "$remove")


class Accounts:
    """Sends user-level assignments and account property changes, keeping the world current."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.world = ctx.world
        self.rng = ctx.rng

    def onboard(self, u: int, t: int) -> None:
        """The user's first user-level assignment, to the company the user belongs to now."""
        c = self.world.current[u]
        self.ensure_company(c, t)
        self.world.joined[u] = 1
        self._identify(u, c, t)

    def move(self, u: int, target: int, t: int) -> None:
        """A later identify of the same group type: from ``t`` on, ``u`` belongs to ``target``."""
        if not self.world.joined[u]:
            self.onboard(u, t - self.rng.randint(1, ONBOARD_MAX_MS))
        self.ensure_company(target, t)
        self.world.current[u] = target
        self._identify(u, target, t)
        self.ctx.tally.moves += 1

    def ensure_company(self, c: int, t: int) -> None:
        """Create company ``c`` shortly before ``t`` unless it exists already."""
        if not self.world.created[c]:
            self.create_company(c, t - self.rng.randint(CREATE_LAG_MS, 30_000))

    def create_company(self, c: int, t: int) -> None:
        """The account's first group identify: name, plan, region, industry and seats."""
        world, rng = self.world, self.rng
        world.created[c] = 1
        plan = PLANS[world.plan[c]]
        props: Record = {
            "Account Name": world.company_name(c),
            "plan": plan,
            "region": REGIONS[world.region[c]],
        }
        if plan == "free":
            props["trial_ends"] = date_of(t + 14 * DAY_MS)
        industry = INDUSTRIES[world.industry[c]]
        seats = rng.randint(world.users_per_company, 3 * world.users_per_company)
        if rng.random() < self.ctx.segment_cut and self._segment_group(
            c, t, {**props, "industry": industry, "seats": seats}
        ):
            return
        ops = {"$set": props, "$setOnce": {"industry": industry}, "$add": {"seats": seats}}
        self._group_identify(c, t, ops)

    def update_company(self, c: int, kind: int, t: int) -> None:
        """A later change of account properties: plan upgrade, seats, or the feature list."""
        world, rng = self.world, self.rng
        self.ensure_company(c, t)
        if kind == UPGRADE and world.plan[c] < len(PLANS) - 1:
            old, new = PLANS[world.plan[c]], PLANS[world.plan[c] + 1]
            world.plan[c] += 1
            member = world.current_member(c, t + 1, joined_only=True)
            if member is not None:  # the click that caused it, 1 ms before the change
                self.ctx.write_activity(
                    self.ctx.pick_format(), t, member, True, rec.UPGRADE_EVENT,
                    {"from_plan": old, "to_plan": new}, {},
                )  # fmt: skip
            if rng.random() < self.ctx.segment_cut and self._segment_group(c, t + 1, {"plan": new}):
                return
            ops: Record = {"$set": {"plan": new}}
            if old == "free":
                ops["$unset"] = {"trial_ends": "-"}
            self._group_identify(c, t + 1, ops)
        elif kind == FEATURE:
            operation = rng.choice(_FEATURE_OPS)
            self._group_identify(c, t, {operation: {"features": rng.choice(FEATURES)}})
        else:
            self._group_identify(c, t, {"$add": {"seats": rng.randint(1, 5)}})

    def _identify(self, u: int, c: int, t: int) -> None:
        ctx, world = self.ctx, self.world
        user_id, device_id = world.ids(u)
        groups = {ctx.primary: world.company_value(c)}
        role = ROLES[0] if u % world.users_per_company == 0 else ROLES[u % len(ROLES)]
        traits = {"role": role, "company_name": world.company_name(c)}
        if self.rng.random() < ctx.segment_cut:
            record = rec.segment_identify(
                user_id, device_id, t, world.utc_offset(u), ctx.new_id(), traits, groups
            )
            ctx.segment.add(record, t)
        else:
            ctx.http.add(rec.http_identify(user_id, device_id, t, ctx.new_id(), traits, groups), t)
        ctx.tally.identifies += 1
        ctx.tally.group_assignments += 1

    def _group_identify(self, c: int, t: int, ops: Record) -> None:
        ctx = self.ctx
        groups = {ctx.primary: self.world.company_value(c)}
        ctx.http.add(rec.http_group_identify(t, ctx.new_id(), groups, ops), t)
        ctx.tally.group_identifies += 1
        ctx.tally.group_property_ops += rec.count_property_ops(ops)

    def _segment_group(self, c: int, t: int, props: Record) -> bool:
        """A Segment ``group`` call sent by a current member; ``False`` if ``c`` has none.

        Segment requires a user on ``group`` calls, and the call also assigns that user to the
        group (docs/semantics.md), so only a user who belongs to ``c`` at ``t`` may send it.
        """
        ctx, world = self.ctx, self.world
        member = world.current_member(c, t)
        if member is None:
            return False
        value = world.company_value(c)
        traits = {
            ctx.spec.segment_group_type_trait: ctx.primary,
            ctx.spec.segment_group_value_trait: value,
            **props,
        }
        user_id, device_id = world.ids(member)
        record = rec.segment_group(
            user_id, device_id, t, world.utc_offset(member), ctx.new_id(), value, traits
        )
        ctx.segment.add(record, t)
        ctx.tally.group_identifies += 1
        ctx.tally.group_assignments += 1
        ctx.tally.group_property_ops += len(traits)  # all traits are $set, the two mapping ones too
        return True
