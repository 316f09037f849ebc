"""Attribution: events -> groups and group properties as of each event's time.

- ``join``: the pure point-in-time transforms (``attribute_events``, ``carry_forward``, ...).
- ``stage``: the ``attribute`` stage (``run``), incremental over Delta tables.
- ``store``: its Delta writes, the batch ledger, and reads with time travel (``read_attributed``).

docs/attribution.md explains the rule, the tie rule, late data and time travel with examples.
"""

from groupetl.attribution.join import (
    EVENT_LEVEL,
    NO_GROUP,
    USER_LEVEL,
    attribute_events,
    carry_forward,
    events_by_group_type,
    with_group_properties,
)
from groupetl.attribution.stage import run
from groupetl.attribution.store import (
    read_attributed,
    read_current_group_properties,
    read_group_versions,
    read_membership_history,
    read_property_history,
)


def read_attributed_with_properties(spark, config, as_of_time: str | None = None):
    """Attributed events with each group's property map at event time (``properties``), both
    tables read as of ``as_of_time``: a timestamp is the one point both tables share."""
    attributed = read_attributed(spark, config, as_of_time=as_of_time)
    return with_group_properties(
        attributed, read_group_versions(spark, config, as_of_time=as_of_time)
    )


__all__ = [
    "EVENT_LEVEL",
    "NO_GROUP",
    "USER_LEVEL",
    "attribute_events",
    "carry_forward",
    "events_by_group_type",
    "read_attributed",
    "read_attributed_with_properties",
    "read_current_group_properties",
    "read_group_versions",
    "read_membership_history",
    "read_property_history",
    "run",
    "with_group_properties",
]
