"""What to generate: the frozen, validated :class:`GeneratorSpec`."""

from __future__ import annotations

import datetime
import math
from dataclasses import asdict, dataclass
from typing import Any

from groupetl.errors import InputError


class GeneratorSpecError(InputError, ValueError):
    """A spec field that cannot be generated; the message names the field.

    A ``ValueError`` for library callers, and an ``InputError`` so the CLI prints it plainly.
    """


@dataclass(frozen=True)
class GeneratorSpec:
    """Size, shape and fault rates of a synthetic dataset; invalid values raise ``ValueError``.

    ``group_types`` is (user-level type, event-level type): the first is assigned to users by
    identify records and carries the account properties (``Account Name``, ``plan`` ...); the
    second only ever appears as event-level groups, sometimes with 2-3 values.

    Example::

        GeneratorSpec(seed=7, companies=20, events=5_000, malformed_share=0.05)
    """

    seed: int = 42
    companies: int = 50
    users_per_company: int = 10
    days: int = 14
    start_date: datetime.date = datetime.date(2026, 1, 1)
    events: int = 20_000
    group_types: tuple[str, str] = ("company", "workspace")
    malformed_share: float = 0.01
    duplicate_share: float = 0.01
    segment_share: float = 0.3
    export_share: float = 0.3
    segment_group_type_trait: str = "group_type"
    segment_group_value_trait: str = "group_value"

    def __post_init__(self) -> None:
        # A list from a YAML/JSON caller is accepted; the frozen field itself stays a tuple.
        if isinstance(self.group_types, list):
            object.__setattr__(self, "group_types", tuple(self.group_types))
        self.validate()

    def validate(self) -> None:
        """Raise ``GeneratorSpecError`` (a ``ValueError``) naming the first unusable field."""
        if not _is_int(self.seed):
            raise GeneratorSpecError(
                f"GeneratorSpec.seed: expected an integer, found {self.seed!r}"
            )
        for name in ("companies", "users_per_company", "days", "events"):
            value = getattr(self, name)
            if not _is_int(value) or value < 1:
                raise GeneratorSpecError(
                    f"GeneratorSpec.{name}: expected an integer >= 1, found {value!r}"
                )
        if type(self.start_date) is not datetime.date:
            raise GeneratorSpecError(
                f"GeneratorSpec.start_date: expected a datetime.date, found {self.start_date!r}"
            )
        for name in ("malformed_share", "duplicate_share", "segment_share", "export_share"):
            value = getattr(self, name)
            if not _is_number(value) or not 0.0 <= value <= 1.0:
                raise GeneratorSpecError(
                    f"GeneratorSpec.{name}: expected a number in [0, 1], found {value!r}"
                )
        if self.segment_share + self.export_share > 1.0:
            raise GeneratorSpecError(
                "GeneratorSpec.segment_share + export_share: expected at most 1 (the rest goes "
                f"to the HTTP API), found {self.segment_share} + {self.export_share}"
            )
        _check_distinct_names("group_types", self.group_types)
        _check_distinct_names(
            "segment_group_type_trait/segment_group_value_trait",
            (self.segment_group_type_trait, self.segment_group_value_trait),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready copy (date as ISO string, tuple as list); the manifest's ``spec``."""
        data = asdict(self)
        data["start_date"] = self.start_date.isoformat()
        data["group_types"] = list(self.group_types)
        return data


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    return _is_int(value)


def _check_distinct_names(field: str, names: object) -> None:
    if (
        not isinstance(names, tuple)
        or len(names) != 2
        or not all(isinstance(n, str) and n.strip() for n in names)
        or names[0] == names[1]
    ):
        raise GeneratorSpecError(
            f"GeneratorSpec.{field}: expected two distinct non-empty names, found {names!r}"
        )
