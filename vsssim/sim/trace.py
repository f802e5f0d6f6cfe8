"""The trace: an append-only list of frozen records, one per protocol step.

Every party writes to the same trace. A record serialises to one JSON object with sorted keys;
the byte-identical replay check compares these lines.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeAlias

import attrs

Json: TypeAlias = bool | int | str | list["Json"] | dict[str, "Json"] | None


def to_json_value(value: Any) -> Json:
    """Turn a detail into plain JSON: enums by their VSS name, sequences as lists."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, enum.Enum):
        name = getattr(value, "vss_name", None)
        return str(name) if name is not None else str(value.name)
    if isinstance(value, int):
        return value
    if isinstance(value, Mapping):
        return {str(k): to_json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json_value(v) for v in value]
    raise TypeError(f"a trace detail must be JSON-like, got {type(value).__name__}: {value!r}")


#: Types whose values :func:`to_json_value` returns unchanged (exactly these: an ``IntEnum`` or
#: a ``StrEnum`` is a subclass and is converted).
_PLAIN_TYPES = frozenset({int, str, bool, type(None)})


@attrs.frozen
class TraceRecord:
    """One step: when (``time_us``, simulated), in which seed phase (1-7 or None), who, what."""

    seq: int
    time_us: int
    phase: int | None
    actor: str
    action: str
    details: Mapping[str, Json] = attrs.field(factory=dict, eq=True, hash=False)

    def to_dict(self) -> dict[str, Json]:
        """The record as a JSON object."""
        return {
            "seq": self.seq,
            "time_us": self.time_us,
            "phase": self.phase,
            "actor": self.actor,
            "action": self.action,
            "details": dict(self.details),
        }

    def to_json(self) -> str:
        """One JSON line, keys sorted, no spaces: stable byte for byte."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    @property
    def time_s(self) -> str:
        """The simulated time as seconds with microsecond precision, e.g. ``12.000250``."""
        return f"{self.time_us // 1_000_000}.{self.time_us % 1_000_000:06d}"


class Trace:
    """The records of one run, in the order they happened."""

    def __init__(self) -> None:
        self.records: list[TraceRecord] = []
        self.clock: Callable[[], int] = lambda: 0

    def record(self, phase: int | None, actor: str, action: str, **details: Any) -> TraceRecord:
        """Append a record stamped with the current simulated time."""
        # ``details`` is this call's own new dict: convert its values in place (the keys, and
        # so the iteration, do not change), and only those that are not plain JSON already.
        for key, value in details.items():
            if type(value) not in _PLAIN_TYPES:
                details[key] = to_json_value(value)
        records = self.records
        # Positional arguments: noticeably faster than keywords for attrs' __init__.
        rec = TraceRecord(len(records), self.clock(), phase, actor, action, details)
        records.append(rec)
        return rec

    def __iter__(self) -> Iterator[TraceRecord]:
        return iter(self.records)

    def __len__(self) -> int:
        return len(self.records)

    def find(self, action: str | None = None, actor: str | None = None) -> list[TraceRecord]:
        """Records with this action and/or actor, in order."""
        return [
            r
            for r in self.records
            if (action is None or r.action == action) and (actor is None or r.actor == actor)
        ]

    def to_jsonl(self) -> str:
        """The whole trace as JSON lines (one record a line, newline-terminated)."""
        return "".join(r.to_json() + "\n" for r in self.records)
