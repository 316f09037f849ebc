"""Property history -> versions of each group's whole property map, and the current map.

A group's version n is the map of all its properties from the n-th distinct time one of them
changed until the next such time. Attributed events carry ``(group, version)`` instead of a map.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from groupetl.properties.history import GROUP_KEY, PROPERTY_KEY
from groupetl.schemas import CURRENT_GROUP_PROPERTIES, GROUP_VERSIONS, C

_KIND = "_kind"
_CHANGE, _CELL = 0, 1  # at equal times a change sorts before the cell it sets


def version_times(history: DataFrame) -> DataFrame:
    """``GROUP_PROPERTY_HISTORY`` -> one row per group and change time: ``version``,
    ``valid_from``, ``valid_to`` and ``_properties`` (every property the group ever has)."""
    group = Window.partitionBy(*GROUP_KEY)
    in_order = group.orderBy(C.VALID_FROM)
    return (
        history.withColumn("_properties", F.collect_set(C.PROPERTY).over(group))
        .dropDuplicates([*GROUP_KEY, C.VALID_FROM])
        .select(
            *GROUP_KEY,
            F.row_number().over(in_order).cast("long").alias(C.VERSION),
            C.VALID_FROM,
            F.lead(C.VALID_FROM).over(in_order).alias(C.VALID_TO),
            "_properties",
        )
    )


def group_versions(history: DataFrame) -> DataFrame:
    """``GROUP_PROPERTY_HISTORY`` -> ``GROUP_VERSIONS`` (the full property map of each version).

    Every (version, property) cell of a group is a row; the property's changes are unioned with
    its cells and the last change is carried forward along them (changes first at equal times),
    the same sort/merge lookup as attribution uses. The carried change is a struct so that a
    removal (null value) is carried too: a "last non-null value" fill would bring an ``$unset``
    property back. Cost: versions x properties of each group, the size of the output maps.
    """
    cells = version_times(history).select(
        *GROUP_KEY,
        C.VERSION,
        C.VALID_FROM,
        C.VALID_TO,
        F.explode("_properties").alias(C.PROPERTY),
        F.lit(_CELL).alias(_KIND),
    )
    changed = history.select(
        *PROPERTY_KEY, C.VALID_FROM, F.struct(C.VALUE).alias("_change"), F.lit(_CHANGE).alias(_KIND)
    )
    w = (
        Window.partitionBy(*PROPERTY_KEY)
        .orderBy(C.VALID_FROM, _KIND)
        .rowsBetween(Window.unboundedPreceding, Window.currentRow)
    )
    value = F.last("_change", ignorenulls=True).over(w)[C.VALUE]
    entry = F.when(F.col(C.VALUE).isNotNull(), F.struct(C.PROPERTY, C.VALUE))
    return (
        cells.unionByName(changed, allowMissingColumns=True)
        .withColumn(C.VALUE, value)
        .filter(F.col(_KIND) == _CELL)
        .groupBy(*GROUP_KEY, C.VERSION, C.VALID_FROM, C.VALID_TO)
        .agg(F.map_from_entries(F.array_sort(F.collect_list(entry))).alias(C.PROPERTIES))
        .select(*GROUP_VERSIONS.fieldNames())
    )


def current_group_properties(versions: DataFrame) -> DataFrame:
    """``GROUP_VERSIONS`` -> ``CURRENT_GROUP_PROPERTIES``: each group's version still in force."""
    return versions.filter(F.col(C.VALID_TO).isNull()).select(
        *CURRENT_GROUP_PROPERTIES.fieldNames()
    )
