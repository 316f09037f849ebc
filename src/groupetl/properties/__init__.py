"""Group property operations -> property history, group versions and current properties.

``property_history(ops)`` applies docs/semantics.md's operations in record order; ``group_versions``
turns the history into numbered full property maps; ``current_group_properties`` keeps the
latest. See ``history`` for how the operations are applied without a quadratic fold.
"""

from groupetl.properties.history import (
    NON_NUMERIC_ADD,
    VALUE_AFTER,
    changes,
    property_history,
    property_values,
)
from groupetl.properties.values import OPERATIONS
from groupetl.properties.versions import current_group_properties, group_versions

__all__ = [
    "NON_NUMERIC_ADD",
    "OPERATIONS",
    "VALUE_AFTER",
    "changes",
    "current_group_properties",
    "group_versions",
    "property_history",
    "property_values",
]
