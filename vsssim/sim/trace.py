"""The trace: an append-only list of frozen records, one per protocol step.

Every party writes to the same trace. A record serialises to one JSON object with sorted keys;
the byte-identical replay check compares these lines.
"""

from __future__ import annotations

import enum
import hashlib
import itertools
import json
import marshal
import operator
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeAlias

Json: TypeAlias = bool | int | str | list["Json"] | dict[str, "Json"] | None


#: Each enum member's name in the trace, found once (members are few; records are many), by
#: the member's id: an enum's __hash__ is a Python call, id() is not. The member is kept with
#: its name, so it lives as long as its entry and no other object can take its id; members of
#: two IntEnums with one value have ids of their own.
_ENUM_NAMES: dict[int, tuple[enum.Enum, str]] = {}


def to_json_value(value: Any) -> Json:
    """Turn a detail into plain JSON: enums by their VSS name, sequences as lists."""
    if value is None or isinstance(value, bool | str):
        return value
    known = _ENUM_NAMES.get(id(value))
    if known is not None:
        return known[1]
    if isinstance(value, enum.Enum):
        name = getattr(value, "vss_name", None)
        shown = str(name) if name is not None else str(value.name)
        _ENUM_NAMES[id(value)] = (value, shown)
        return shown
    if isinstance(value, int):
        return value
    kind = type(value)
    if kind is list or kind is tuple:  # before the Mapping check, an ABC's (slow) isinstance
        return [v if type(v) in _PLAIN_TYPES else to_json_value(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): to_json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json_value(v) for v in value]
    raise TypeError(f"a trace detail must be JSON-like, got {type(value).__name__}: {value!r}")


#: Types whose values :func:`to_json_value` returns unchanged (exactly these: an ``IntEnum`` or
#: a ``StrEnum`` is a subclass and is converted).
_PLAIN_TYPES = frozenset({int, str, bool, type(None)})
_new_tuple = tuple.__new__


_Fields: TypeAlias = tuple[int, int, "int | None", str, str, Mapping[str, Json]]


def _field(index: int, doc: str) -> Any:
    return property(operator.itemgetter(index), doc=doc)


class TraceRecord(_Fields):
    """One step: when (``time_us``, simulated), in which seed phase (1-7 or None), who, what.

    Immutable: a tuple underneath (a trace makes one per step, so it is built as cheaply as
    Python builds anything), read by name; equal records have equal fields.
    """

    __slots__ = ()

    seq: int = _field(0, "The record's position in the trace (0, 1...).")
    time_us: int = _field(1, "When it happened, in simulated microseconds.")
    phase: int | None = _field(2, "The backup phase (1-7) it belongs to, or None.")
    actor: str = _field(3, "Who acted: an agent, VSS, a writer, a provider, a volume...")
    action: str = _field(4, "What happened (a name from vsssim.sim.vocabulary).")
    details: Mapping[str, Json] = _field(5, "The step's particulars, as plain JSON values.")

    def __new__(
        cls,
        seq: int,
        time_us: int,
        phase: int | None,
        actor: str,
        action: str,
        details: Mapping[str, Json] | None = None,
    ) -> TraceRecord:
        return tuple.__new__(
            cls, (seq, time_us, phase, actor, action, {} if details is None else details)
        )

    def __getnewargs__(self) -> _Fields:  # pickling calls __new__ with the six fields
        return tuple(self)  # type: ignore[return-value]

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return tuple.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return tuple.__ne__(self, other)

    def __hash__(self) -> int:  # the details (a dict) take no part, as in equality's fast path
        return hash(self[:5])

    def __repr__(self) -> str:
        seq, time_us, phase, actor, action, details = self
        return (
            f"TraceRecord(seq={seq!r}, time_us={time_us!r}, phase={phase!r}, actor={actor!r}, "
            f"action={action!r}, details={details!r})"
        )

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
        return _record_json(self)

    @property
    def time_s(self) -> str:
        """The simulated time as seconds with microsecond precision, e.g. ``12.000250``."""
        return f"{self.time_us // 1_000_000}.{self.time_us % 1_000_000:06d}"


def writes_in(record: TraceRecord) -> int:
    """How many writes a write record stands for: a batch record's ``writes``, else one."""
    count = record.details.get("writes")
    return count if type(count) is int else 1


class Trace:
    """The records of one run, in the order they happened.

    With ``batch_writes`` an application's writes are not recorded one by one: the writes of
    each (volume, application) since the previous record become one record, written just
    before the next one (readers see it as it stands), with the count, the first and last issue
    numbers and the first and last writes' times (:meth:`batched`). The volumes keep what
    the checks read of the writes (their images at marked instants, the applied issue numbers:
    :mod:`vsssim.vss.volume_images`), so every check sees the same run.
    """

    def __init__(self, *, batch_writes: bool = False) -> None:
        self._records: list[TraceRecord] = []
        self.clock: Callable[[], int] = lambda: 0
        #: Whether applications' writes are counted in batches (see the class docstring).
        self.batch_writes = batch_writes
        # (actor, action, origin) -> [count, first issue, last issue, first time, last time]
        self._pending: dict[tuple[str, str, str], list[int]] = {}
        # digest(): the hash of the first _hashed (final) records, made at its first call.
        self._hasher: Any = None
        self._hashed = 0

    @property
    def records(self) -> list[TraceRecord]:
        """Every record so far, in order, the pending batch records last as they stand now
        (reading never changes the trace: a batch still counting is a copy)."""
        if not self._pending:
            return self._records
        return self._records + self._pending_records()

    @property
    def final_records(self) -> list[TraceRecord]:
        """The records that can no longer change (all but the pending batch records)."""
        return self._records

    def pending_batches(self) -> list[tuple[str, str, str, int, int]]:
        """The batches still counting: actor, action, origin, count, last issue."""
        return [(*key, n[0], n[2]) for key, n in self._pending.items()]

    def batched(self, actor: str, action: str, origin: str, issue: int) -> int:
        """Count a write of ``origin`` (its issue number ``issue``) into the pending batch
        record of ``actor`` and ``action``; the sequence number it counts under (the batch
        record's, or the first of the batch records written together)."""
        now = self.clock()
        found = self._pending.get((actor, action, origin))
        if found is None:
            self._pending[(actor, action, origin)] = [1, issue, issue, now, now]
        else:
            found[0] += 1
            found[2] = issue
            found[4] = now
        return len(self._records)

    def _pending_records(self) -> list[TraceRecord]:
        """The pending batch records, in the order their first writes came, each stamped with
        the time of the last write any of them counts (so the trace stays in time order; each
        one's own first and last are in its details)."""
        pending = self._pending
        stamp = max(times[4] for times in pending.values())
        made = []
        for n, ((actor, action, origin), counted) in enumerate(pending.items()):
            count, first, last, since, until = counted
            details: dict[str, Json] = {
                "origin": origin,
                "writes": count,
                "first_issue": first,
                "last_issue": last,
                "since_us": since,
                "until_us": until,
            }
            fields = (len(self._records) + n, stamp, None, actor, action, details)
            made.append(_new_tuple(TraceRecord, fields))
        return made

    def _flush(self) -> None:
        """Write the pending batch records (before any other record)."""
        self._records.extend(self._pending_records())
        self._pending.clear()

    def record(self, phase: int | None, actor: str, action: str, **details: Any) -> TraceRecord:
        """Append a record stamped with the current simulated time."""
        # ``details`` is this call's own new dict: convert its values in place (the keys, and
        # so the iteration, do not change), and only those that are not plain JSON already.
        for key, value in details.items():
            if type(value) not in _PLAIN_TYPES:
                details[key] = to_json_value(value)
        return self.record_plain(phase, actor, action, details)

    def record_plain(
        self, phase: int | None, actor: str, action: str, details: dict[str, Json]
    ) -> TraceRecord:
        """:meth:`record` for details that are plain JSON values already (ints, strings,
        booleans, None: not checked), given as the record's own new dict: the path of the
        most frequent record, an application's write."""
        if self._pending:
            self._flush()
        records = self._records
        # What TraceRecord(...) builds, without the call to __new__.
        rec = _new_tuple(TraceRecord, (len(records), self.clock(), phase, actor, action, details))
        records.append(rec)
        return rec

    def __iter__(self) -> Iterator[TraceRecord]:
        return iter(self.records)

    def __len__(self) -> int:
        return len(self._records) + len(self._pending)

    def find(self, action: str | None = None, actor: str | None = None) -> list[TraceRecord]:
        """Records with this action and/or actor, in order."""
        return [
            r
            for r in self.records
            if (action is None or r.action == action) and (actor is None or r.actor == actor)
        ]

    def digest(self) -> str:
        """A SHA-256 of the records so far, the pending batch records last as they stand: what
        the fuzz's determinism re-run compares, made without writing the trace out as JSON.

        Incremental: each final record is hashed once, at the first call that finds it, as
        :mod:`marshal` writes its fields (format 0: no back-references and no interning, so
        equal values give equal bytes, whatever object they are). A record marshal cannot
        write (a detail of a subclass of int or str) is hashed as its JSON line. Records give
        the same bytes when their fields are equal and their details' keys came in the same
        order: two runs of one seed do, in any process (no order here depends on hashing).
        """
        hasher = self._hasher
        if hasher is None:
            hasher = self._hasher = hashlib.sha256()
        records = self._records
        if self._hashed < len(records):
            hasher.update(_marshalled(records[self._hashed :]))
            self._hashed = len(records)
        if self._pending:  # still counting: hashed into a copy, the batch may grow
            hasher = hasher.copy()
            hasher.update(_marshalled(self._pending_records()))
        return str(hasher.hexdigest())

    def to_jsonl(self) -> str:
        """The whole trace as JSON lines (one record a line, newline-terminated)."""
        line = _record_json
        return "".join([line(r) + "\n" for r in self.records])


# What ``json.dumps(record.to_dict(), sort_keys=True, separators=(",", ":"))`` writes, built
# faster: the six top-level keys are known (written here in sorted order), strings go through
# json's own escaping, and the details through json's C encoder made once with the same
# settings (no circular check: a detail is never circular, to_json_value would not end).
_encode_string: Callable[[str], str] = json.encoder.encode_basestring_ascii
_dumps_sorted = json.JSONEncoder(sort_keys=True, separators=(",", ":")).encode


def _details_encoder() -> Callable[[dict[str, Json]], str]:
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # pragma: no cover - a Python without json's C speed-ups
        return _dumps_sorted
    encode = make(None, None, _encode_string, None, ":", ",", True, False, True)

    def details_json(details: dict[str, Json]) -> str:
        return "".join(encode(details, 0))

    return details_json


_encode_details = _details_encoder()


def _record_json(r: TraceRecord) -> str:
    """One record's JSON line; anything off the usual types takes json's general path."""
    seq, time_us, phase, actor, action, details = r
    if (
        type(seq) is int
        and type(time_us) is int
        and (phase is None or type(phase) is int)
        and type(actor) is str
        and type(action) is str
    ):
        return (
            f'{{"action":{_encode_string(action)},"actor":{_encode_string(actor)},'
            f'"details":{_encode_details(_as_dict(details)) if details else "{}"},'
            f'"phase":{"null" if phase is None else phase},"seq":{seq},"time_us":{time_us}}}'
        )
    return _dumps_sorted(r.to_dict())


def _as_dict(details: Mapping[str, Json]) -> dict[str, Json]:
    return details if type(details) is dict else dict(details)


_marshal_dumps: Callable[[Any, int], bytes] = marshal.dumps


def _marshalled(records: list[TraceRecord]) -> bytes:
    """The bytes :meth:`Trace.digest` hashes for ``records``: each one's own, concatenated."""
    try:
        return b"".join(map(_marshal_dumps, map(tuple, records), itertools.repeat(0)))
    except ValueError:  # a detail marshal cannot write: record by record
        return b"".join(map(_record_bytes, records))


def _record_bytes(record: TraceRecord) -> bytes:
    """One record's bytes: marshal's, or a zero byte (no marshal output starts so) and the
    record's JSON line."""
    try:
        return _marshal_dumps(tuple(record), 0)
    except ValueError:
        return b"\0" + _record_json(record).encode()
