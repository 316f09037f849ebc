"""Raw records in the three wire formats, the event taxonomy, and the injected faults.

Builders return plain dicts in the key order of the real payloads; writers encode them. A fault
turns a valid record into one that must be quarantined for exactly one reason, so which check
an ingester runs first does not change the reason:

- ``missing_user`` removes both ids (activity events only: ``$groupidentify`` may have none);
- ``invalid_user_id`` keeps only a refused ``user_id`` (no device id to fall back on);
- ``invalid_time`` is a present, unparseable time; ``time_out_of_range`` a valid one in 1971/2300;
- ``invalid_group_value`` replaces the groups by ``{<user-level type>: {"id": 1}}``;
- ``invalid_json`` is written by ``activity.py``: the record's line (Export) or a body holding only
  that record (HTTP, Segment), cut short. Such a line is one record.
"""

from __future__ import annotations

import datetime
import itertools
import random
from collections.abc import Callable
from typing import Any

from groupetl.generate.wire import DAY_MS, export_time, iso_time
from groupetl.reasons import Quarantine

Record = dict[str, Any]

HTTP, EXPORT, SEGMENT = "amplitude_http", "amplitude_export", "segment"

# The activity taxonomy with relative frequencies; "Upgrade Plan" is sent with plan upgrades.
TAXONOMY = (
    "Login",
    "View Dashboard",
    "Create Report",
    "Share Report",
    "Invite Teammate",
    "Send Invoice",
    "Pay Invoice",
    "Export CSV",
)
TAXONOMY_CUM = tuple(itertools.accumulate((22, 30, 12, 6, 3, 9, 7, 11)))
UPGRADE_EVENT = "Upgrade Plan"
# Property builders take ``rng.random`` and draw only floats: on this hot path (one call per
# event) ``choice`` / ``randrange`` cost five times more.
Draw = Callable[[], float]
_REPORT_TYPES = ("funnel", "retention", "segmentation", "revenue")
_LOGIN_METHODS = ("password", "sso", "google")
_CHANNELS = ("slack", "email", "link")
_INVITE_ROLES = ("member", "admin", "viewer")


def _report(draw: Draw) -> Record:
    return {"chart_id": f"c{1 + int(draw() * 4999)}", "report_type": _REPORT_TYPES[int(draw() * 4)]}


def _invoice(draw: Draw) -> Record:
    return {
        "invoice_id": f"inv{1 + int(draw() * 999_999):06d}",
        "amount": round(20.0 + draw() * 4980.0, 2),
        "currency": "USD" if draw() < 0.6 else "EUR",
    }


def _share(draw: Draw) -> Record:
    props = _report(draw)
    props["channel"] = _CHANNELS[int(draw() * 3)]
    return props


EVENT_PROPERTIES: dict[str, Callable[[Draw], Record]] = {
    "Login": lambda draw: {"method": _LOGIN_METHODS[int(draw() * 3)]},
    "View Dashboard": lambda draw: {"dashboard_id": f"db{1 + int(draw() * 199)}"},
    "Create Report": _report,
    "Share Report": _share,
    "Invite Teammate": lambda draw: {"role": _INVITE_ROLES[int(draw() * 3)]},
    "Send Invoice": _invoice,
    "Pay Invoice": _invoice,
    "Export CSV": lambda draw: {
        "chart_id": f"c{1 + int(draw() * 4999)}",
        "rows": 10 + int(draw() * 99_990),
    },
}


def http_activity(
    user_id: str | None, device_id: str | None, event_type: str, t: int, insert_id: str,
    props: Record, groups: Record,
) -> Record:  # fmt: skip
    """An Amplitude HTTP V2 event; no ``user_id`` key for device-only activity."""
    if user_id is None:
        record: Record = {
            "device_id": device_id, "event_type": event_type, "time": t, "insert_id": insert_id,
            "event_properties": props,
        }  # fmt: skip
    else:
        record = {
            "user_id": user_id, "device_id": device_id, "event_type": event_type, "time": t,
            "insert_id": insert_id, "event_properties": props,
        }  # fmt: skip
    if groups:
        record["groups"] = groups
    return record


def export_activity(
    user_id: str | None, device_id: str | None, event_type: str, t: int, upload_ms: int,
    insert_id: str, uuid: str, props: Record, groups: Record,
) -> Record:  # fmt: skip
    """An Amplitude Export line; like real exports it has every key (``null`` / ``{}`` if unset)."""
    return {
        "event_type": event_type,
        "event_time": export_time(t),
        "server_upload_time": export_time(upload_ms),
        "$insert_id": insert_id,
        "user_id": user_id,
        "device_id": device_id,
        "event_properties": props,
        "user_properties": {},
        "groups": groups,
        "group_properties": {},
        "uuid": uuid,
    }


def segment_activity(
    kind: str, user_id: str | None, device_id: str, name: str, t: int, offset: int,
    message_id: str, props: Record, groups: Record,
) -> Record:  # fmt: skip
    """A Segment ``track`` (``event``) or ``page`` / ``screen`` (``name``) message."""
    record: Record = {"type": kind, "messageId": message_id}
    if user_id is not None:
        record["userId"] = user_id
    record["anonymousId"] = device_id
    record["event" if kind == "track" else "name"] = name
    record["properties"] = props
    record["timestamp"] = iso_time(t, offset)
    if groups:
        record["integrations"] = {"Amplitude": {"groups": groups}}
    return record


def http_identify(
    user_id: str, device_id: str, t: int, insert_id: str, user_set: Record, groups: Record
) -> Record:
    """An Amplitude ``$identify``: user properties and a user-level group assignment."""
    return {
        "user_id": user_id,
        "device_id": device_id,
        "event_type": "$identify",
        "time": t,
        "insert_id": insert_id,
        "user_properties": {"$set": user_set},
        "groups": groups,
    }


def segment_identify(
    user_id: str, device_id: str, t: int, offset: int, message_id: str, traits: Record,
    groups: Record,
) -> Record:  # fmt: skip
    """A Segment ``identify`` assigning user-level groups through ``integrations.Amplitude``."""
    return {
        "type": "identify",
        "messageId": message_id,
        "userId": user_id,
        "anonymousId": device_id,
        "traits": traits,
        "timestamp": iso_time(t, offset),
        "integrations": {"Amplitude": {"groups": groups}},
    }


def http_group_identify(t: int, insert_id: str, groups: Record, ops: Record) -> Record:
    """An Amplitude ``$groupidentify`` (no user) applying property operations to one group."""
    return {
        "event_type": "$groupidentify",
        "time": t,
        "insert_id": insert_id,
        "groups": groups,
        "group_properties": ops,
    }


def segment_group(
    user_id: str, device_id: str, t: int, offset: int, message_id: str, group_id: str,
    traits: Record,
) -> Record:  # fmt: skip
    """A Segment ``group`` call; ``traits`` hold the group type and value traits."""
    return {
        "type": "group",
        "messageId": message_id,
        "userId": user_id,
        "anonymousId": device_id,
        "groupId": group_id,
        "traits": traits,
        "timestamp": iso_time(t, offset),
    }


def count_property_ops(ops: Record) -> int:
    """Silver group property rows of one group's operations: one per (operation, key)."""
    return sum(len(keys) for keys in ops.values())


# Refused ids (docs/semantics.md "Bad input"); the HTTP API also gets ids under min_id_length.
_REFUSED_IDS = ("null", "none", "undefined", "unknown", "0", "-1")
_REFUSED_HTTP_IDS = (*_REFUSED_IDS, "00000000-0000-0000-0000-000000000000", "u12", "abcd")
_BAD_TIMES = {
    HTTP: ("yesterday", "tomorrow", "not a time"),
    EXPORT: ("yesterday", "2026-13-45 25:61:00.000000", "05/01/2026 10:00"),
    SEGMENT: ("yesterday", "2026-13-45T25:61:00Z", "2026-01-05 at noon"),
}
_EPOCH = datetime.date(1970, 1, 1)
_OUT_OF_RANGE_DAYS = (
    (datetime.date(1971, 3, 1) - _EPOCH).days,
    (datetime.date(2300, 1, 1) - _EPOCH).days,
)


def inject_fault(
    fmt: str, record: Record, reason: str, rng: random.Random, group_type: str
) -> None:
    """Break ``record`` (of format ``fmt``) in place so that it is quarantined for ``reason``.

    Segment records given here must be ``track`` messages.
    """
    user_key, device_key, type_key, time_key = _KEYS[fmt]
    if reason == Quarantine.MISSING_EVENT_TYPE:
        del record[type_key]
    elif reason == Quarantine.MISSING_USER:
        _drop_ids(fmt, record, user_key, device_key)
    elif reason == Quarantine.INVALID_USER_ID:
        _drop_ids(fmt, record, user_key, device_key)
        record[user_key] = rng.choice(_REFUSED_HTTP_IDS if fmt == HTTP else _REFUSED_IDS)
    elif reason == Quarantine.INVALID_TIME:
        record[time_key] = rng.choice(_BAD_TIMES[fmt])
    elif reason == Quarantine.TIME_OUT_OF_RANGE:
        ms = rng.choice(_OUT_OF_RANGE_DAYS) * DAY_MS + rng.randrange(DAY_MS)
        record[time_key] = {HTTP: ms, EXPORT: export_time(ms), SEGMENT: iso_time(ms)}[fmt]
    elif reason == Quarantine.INVALID_GROUP_VALUE:
        bad = {group_type: {"id": 1}}
        if fmt == SEGMENT:
            record["integrations"] = {"Amplitude": {"groups": bad}}
        else:
            record["groups"] = bad
    else:
        raise ValueError(f"inject_fault: cannot inject {reason!r} into a record")


_KEYS = {
    HTTP: ("user_id", "device_id", "event_type", "time"),
    EXPORT: ("user_id", "device_id", "event_type", "event_time"),
    SEGMENT: ("userId", "anonymousId", "event", "timestamp"),
}


def _drop_ids(fmt: str, record: Record, user_key: str, device_key: str) -> None:
    if fmt == EXPORT:  # Export lines always have both keys; a missing id is null
        record[user_key] = None
        record[device_key] = None
    else:
        record.pop(user_key, None)
        record.pop(device_key, None)
