"""The simulated B2B world: companies and users, their state, and the changes scheduled for them.

All state is in flat arrays indexed by company (``c`` in ``0..companies-1``) or user
(``u = c * users_per_company + k``, where ``c`` is the user's first company), so memory is
O(users + companies) however many events are generated.
"""

from __future__ import annotations

import itertools
import random
from array import array

from groupetl.generate.spec import GeneratorSpec
from groupetl.generate.wire import DAY_MS, HOUR_MS

COMPANY_BASE = 1001  # company c has the group value str(COMPANY_BASE + c)
PLANS = ("free", "pro", "enterprise")
REGIONS = ("EMEA", "NA", "APAC", "LATAM")
INDUSTRIES = ("Fintech", "Healthcare", "Retail", "Logistics", "Media", "Education", "SaaS")
FEATURES = ("sso", "slack", "salesforce", "api", "audit_log", "sandbox")
ROLES = ("admin", "member", "member", "analyst", "finance")
_ADJECTIVES = (
    "Acme", "Blue", "Bright", "Cedar", "Copper", "Crimson", "Delta", "Eagle", "Falcon", "Granite",
    "Harbor", "Iron", "Juniper", "Lunar", "Maple", "Nimbus", "Northwind", "Oak", "Orbit", "Pine",
    "Quartz", "Silver", "Summit", "Vertex",
)  # fmt: skip
_NOUNS = (
    "Analytics", "Bank", "Bio", "Cloud", "Dynamics", "Energy", "Foods", "Freight", "Games",
    "Health", "Insights", "Labs", "Logic", "Media", "Motors", "Networks", "Partners", "Pay",
    "Robotics", "Software", "Systems", "Travel", "Ventures", "Works",
)  # fmt: skip
_SUFFIXES = ("Inc", "GmbH", "Ltd", "SA", "BV", "AB")
# UTC offsets (minutes) of users' devices, used for Segment timestamps ("Z" for 0).
UTC_OFFSETS = (0, 0, 60, 120, -300, -480, 330, 540)

MOVE_SHARE = 0.02  # users who later move to another company
# Scheduled item kinds; the number also orders items due at the same millisecond.
CREATE, JOIN, MOVE, UPDATE = 0, 1, 2, 3
UPGRADE, SEATS, FEATURE = 0, 1, 2
# A company created on schedule becomes due this long after its time. Identify records are dated
# at most ONBOARD_MAX_MS before the event that triggers them, so every record that names a
# company is dated after the company's group identify (see accounts.py).
CREATE_LAG_MS = 3_000
ONBOARD_MAX_MS = 2_000

Item = tuple[int, int, int, int, int]  # (due, time, kind, index, argument)


class World:
    """Companies, users and their current state, plus the per-hour schedule of changes."""

    def __init__(self, spec: GeneratorSpec, rng: random.Random, start_ms: int) -> None:
        self.n_companies = n = spec.companies
        self.users_per_company = upc = spec.users_per_company
        self.n_users = n * upc
        self.start_ms = start_ms
        self.end_ms = start_ms + spec.days * DAY_MS
        self._rng = rng
        ranks = list(range(n))
        rng.shuffle(ranks)  # Zipf: which company is the most active is random
        self.company_ids = range(n)
        self.company_cum = list(itertools.accumulate(1.0 / (r + 1) ** 1.1 for r in ranks))
        self.rank_ids = range(upc)
        self.rank_cum = list(itertools.accumulate(1.0 / (k + 1) ** 0.9 for k in range(upc)))
        self._name_index = list(range(n))
        rng.shuffle(self._name_index)
        self.plan = bytearray(rng.choices(range(3), weights=(50, 35, 15), k=n))
        self.region = bytearray(rng.randrange(len(REGIONS)) for _ in range(n))
        self.industry = bytearray(rng.randrange(len(INDUSTRIES)) for _ in range(n))
        self.workspaces = bytearray(rng.randint(2, 5) for _ in range(n))
        self.created = bytearray(n)
        self.joined = bytearray(self.n_users)
        self.current = array("i", (u // upc for u in range(self.n_users)))
        self._hours = spec.days * 24
        self._items: list[list[Item]] = [[] for _ in range(self._hours)]
        self._joins: list[array[int]] = [array("i") for _ in range(self._hours)]
        self._join_ms = array("q", bytes(8 * self.n_users))
        self.move_at = array("q", bytes(8 * self.n_users))  # 0: the user never moves
        self._schedule()

    # -- names and values -------------------------------------------------------------------

    def company_value(self, c: int) -> str:
        """The group value of company ``c`` (``"1001"`` ...)."""
        return str(COMPANY_BASE + c)

    def company_name(self, c: int) -> str:
        """A unique human-readable ``Account Name``, e.g. ``"Harbor Labs GmbH"``."""
        i = self._name_index[c]
        a, n, s = len(_ADJECTIVES), len(_NOUNS), len(_SUFFIXES)
        # (i % a, i // a + 5 * (i % a)) is a bijection on 0..a*n-1 (a == n == 24); the suffix
        # shifts with i // (a * n), so names repeat only from a*n*s on, and get a number then.
        noun = (i // a + 5 * (i % a)) % n
        suffix = (i // (a * n) + i) % s
        name = f"{_ADJECTIVES[i % a]} {_NOUNS[noun]} {_SUFFIXES[suffix]}"
        return name if i < a * n * s else f"{name} {i // (a * n * s) + 1}"

    def user_id(self, u: int) -> str:
        """``u<first company>_<k>``; ids do not change when a user moves."""
        c, k = divmod(u, self.users_per_company)
        return f"u{COMPANY_BASE + c}_{k + 1}"

    def device_id(self, u: int) -> str:
        """The user's one device."""
        c, k = divmod(u, self.users_per_company)
        return f"d{COMPANY_BASE + c}_{k + 1}"

    def ids(self, u: int) -> tuple[str, str]:
        """``(user_id(u), device_id(u))`` at the cost of one."""
        c, k = divmod(u, self.users_per_company)
        suffix = f"{COMPANY_BASE + c}_{k + 1}"
        return "u" + suffix, "d" + suffix

    def utc_offset(self, u: int) -> int:
        """The UTC offset (minutes) the user's device writes Segment timestamps in."""
        return UTC_OFFSETS[(u * 7 + u // self.users_per_company) % len(UTC_OFFSETS)]

    def workspace_value(self, c: int, k: int) -> str:
        """The group value of workspace ``k`` (1 .. ``workspaces[c]``) of company ``c``."""
        return f"ws{COMPANY_BASE + c}_{k}"

    def workspace_values(self, c: int, count: int) -> str | list[str]:
        """One workspace value of company ``c``, or a list of ``count`` (2-3) distinct ones."""
        available = self.workspaces[c]
        if count <= 1:
            return self.workspace_value(c, int(self._rng.random() * available) + 1)
        first = int(self._rng.random() * available)  # neighbours: distinct, and cheap to draw
        count = min(count, available)
        return [self.workspace_value(c, (first + i) % available + 1) for i in range(count)]

    def current_member(self, c: int, t: int, joined_only: bool = False) -> int | None:
        """The first user who started in ``c`` and still belongs to it at ``t`` (and, if
        ``joined_only``, has had an identify already), else ``None``.

        A move dated at or before ``t`` but not yet processed (due a millisecond later) counts:
        such a user no longer belongs to ``c`` at ``t``.
        """
        base = c * self.users_per_company
        for u in range(base, base + self.users_per_company):
            moved = 0 < self.move_at[u] <= t
            if self.current[u] == c and not moved and (self.joined[u] or not joined_only):
                return u
        return None

    def other_company(self, c: int) -> int:
        """A company other than ``c``, uniformly (callers ensure there are at least two)."""
        other = self._rng.randrange(self.n_companies - 1)
        return other + 1 if other >= c else other

    # -- schedule ---------------------------------------------------------------------------

    def items_of_hour(self, hour: int) -> list[Item]:
        """The scheduled items whose time falls in window hour ``hour`` (0-based), unordered."""
        items = self._items[hour]
        for u in self._joins[hour]:
            t = self._join_ms[u]
            items.append((t + 1, t, JOIN, u, 0))  # due after t: events at t+1 on see the join
        self._items[hour] = []
        self._joins[hour] = array("i")
        return items

    def _schedule(self) -> None:
        """Draw when companies sign up, users join, users move and accounts change."""
        rng, start, end = self._rng, self.start_ms, self.end_ms
        window = end - start
        created_at = []
        for c in range(self.n_companies):
            if rng.random() < 0.6:  # most accounts exist from the first morning
                t = start + rng.randint(60_000, min(6 * HOUR_MS, window) - 1)
            else:
                t = start + rng.randint(60_000, max(60_001, int(window * 0.7)))
            created_at.append(t)
            self._add_item(t, (t + CREATE_LAG_MS, t, CREATE, c, 0))
        for u in range(self.n_users):
            c_t = created_at[u // self.users_per_company]
            if rng.random() < 0.5:
                t = c_t + rng.randint(60_000, 2 * HOUR_MS)
            else:
                t = rng.randint(c_t + 60_000, max(c_t + 60_001, end - 1))
            t = min(t, end - 1)
            self._join_ms[u] = t
            self._joins[self._hour_of(t)].append(u)
        self._schedule_moves()
        for c in range(self.n_companies):
            updates = rng.choices(range(4), cum_weights=(40, 75, 95, 100))[0]
            for _ in range(updates):
                lo = created_at[c] + HOUR_MS
                if lo < end - 2:
                    t = rng.randint(lo, end - 2)  # an upgrade's change is sent at t + 1
                    kind = rng.choices((UPGRADE, SEATS, FEATURE), weights=(40, 30, 30))[0]
                    self._add_item(t, (t, t, UPDATE, c, kind))

    def _schedule_moves(self) -> None:
        if self.n_companies < 2:
            return
        rng = self._rng
        wanted = max(1, round(self.n_users * MOVE_SHARE))
        candidates = rng.sample(range(self.n_users), min(self.n_users, 3 * wanted))
        for u in candidates:
            lo, hi = self._join_ms[u] + HOUR_MS, self.end_ms - HOUR_MS
            if wanted and lo < hi:
                t = rng.randint(lo, hi)
                target = self.other_company(u // self.users_per_company)
                self._add_item(t, (t + 1, t, MOVE, u, target))
                self.move_at[u] = t
                wanted -= 1

    def _add_item(self, t: int, item: Item) -> None:
        self._items[self._hour_of(t)].append(item)

    def _hour_of(self, t: int) -> int:
        return min(max((t - self.start_ms) // HOUR_MS, 0), self._hours - 1)
