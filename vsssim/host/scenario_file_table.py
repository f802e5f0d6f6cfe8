"""Typed look-ups in the TOML tables of a scenario file, each error naming its key path.

The layer under the scenario file reader (:mod:`vsssim.host.scenario_file`): :class:`Table` and
:class:`Array` read strings, integers, durations and sizes with units, enum names and nested
tables, within the bounds of :mod:`vsssim.host.scenario_limits`, and raise
:class:`ScenarioFileError` (``FILE: KEY.PATH: what is wrong``) for anything else;
:func:`read_fields` reads an attrs class's fields straight from a table.
"""

from __future__ import annotations

import difflib
import enum
import re
import types
import typing
from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import Any, NoReturn, TypeVar

import attrs

from vsssim.errors import ConfigurationError, VssimError
from vsssim.host.scenario_limits import (
    FIELD_LIMITS,
    LIMITS,
    MAX_DIGITS,
    MAX_ITEMS,
    MAX_TEXT,
    Bound,
    show_duration,
)

_E = TypeVar("_E", bound=enum.Enum)
_T = TypeVar("_T")
_REQUIRED: Any = object()

_TIME_UNITS = {"us": 1, "ms": 1_000, "s": 1_000_000, "min": 60_000_000, "h": 3_600_000_000}
_SIZE_UNITS = {"B": 1, "KiB": 1024, "MiB": 1024**2, "GiB": 1024**3, "TiB": 1024**4, "PiB": 1024**5}
_QUANTITY = re.compile(
    rf"^\s*(\d{{1,{MAX_DIGITS}}})(?:\.(\d{{1,{MAX_DIGITS}}}))?\s*([A-Za-z]{{1,8}})\s*$"
)


class ScenarioFileError(ConfigurationError):
    """A scenario file is not valid: ``FILE: KEY.PATH: what is wrong``, on one line (line
    breaks and other control characters a value brings in are shown escaped)."""

    def __init__(self, message: str) -> None:
        super().__init__(one_line(message))


def one_line(text: str) -> str:
    """``text`` with control characters escaped and at most 2,000 characters long."""
    escaped = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return escaped if len(escaped) <= 2000 else escaped[:1997] + "..."


# -- typed values with their key paths -------------------------------------------------


class Table:
    """A TOML table being read: typed look-ups that name the key path, and unknown-key checks."""

    def __init__(self, data: Mapping[str, Any], path: str, source: str) -> None:
        self.data = data
        self.path = path
        self.source = source
        self._used: set[str] = set()

    def at(self, key: str | int) -> str:
        if isinstance(key, int):
            return f"{self.path}[{key}]"
        return f"{self.path}.{key}" if self.path else key

    def fail(self, key: str | int, problem: str) -> NoReturn:
        raise ScenarioFileError(f"{self.source}: {self.at(key)}: {problem}")

    def fail_here(self, problem: str) -> NoReturn:
        """A problem with the table as a whole (named by its own path)."""
        raise ScenarioFileError(f"{self.source}: {self.path or '(top level)'}: {problem}")

    def _get(self, key: str, default: Any) -> Any:
        self._used.add(key)
        if key in self.data:
            return self.data[key]
        if default is _REQUIRED:
            self.fail(key, "missing (required)")
        return default

    def _typed(self, key: str, value: Any, kind: type | tuple[type, ...], expected: str) -> Any:
        if isinstance(value, bool) and kind is not bool:
            self.fail(key, f"expected {expected}, got {show(value)}")
        if not isinstance(value, kind):
            self.fail(key, f"expected {expected}, got {show(value)}")
        return value

    def text(self, key: str, default: Any = _REQUIRED, *, longest: int = MAX_TEXT) -> Any:
        value = self._get(key, default)
        if value is default:
            return value
        self._typed(key, value, str, "a string")
        if len(value) > longest:
            self.fail(key, f"expected at most {longest} characters, got {len(value)}")
        return value

    def flag(self, key: str, default: Any = _REQUIRED) -> Any:
        value = self._get(key, default)
        return value if value is default else self._typed(key, value, bool, "true or false")

    def integer(self, key: str, default: Any = _REQUIRED, *, bound: Bound) -> Any:
        value = self._get(key, default)
        if value is default:
            return value
        self._typed(key, value, int, "an integer")
        if value < bound.low:
            self.fail(key, f"expected an integer >= {bound.low}, got {_number(value)}")
        if value > bound.high:
            self.fail(key, f"expected an integer <= {bound.high}, got {_number(value)}")
        return value

    def duration(self, key: str, default: Any = _REQUIRED, *, bound: Bound) -> Any:
        value = self._get(key, default)
        if value is default:
            return value
        return _quantity(self, key, value, _TIME_UNITS, "a duration", bound)

    def size(self, key: str, default: Any = _REQUIRED, *, bound: Bound) -> Any:
        value = self._get(key, default)
        if value is default:
            return value
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return _bounded(self, key, value, bound, "a size")
        return _quantity(self, key, value, _SIZE_UNITS, "a size", bound)

    def choice(self, key: str, enum_type: type[_E], default: Any = _REQUIRED) -> Any:
        value = self._get(key, default)
        if value is default:
            return value
        return enum_member(self, key, self._typed(key, value, str, "a string"), enum_type)

    def array(self, key: str, default: Any = _REQUIRED, *, most: int = MAX_ITEMS) -> Any:
        value = self._get(key, default)
        if value is default:
            return value
        self._typed(key, value, list, "an array")
        if len(value) > most:
            self.fail(key, f"expected at most {most} items, got {len(value)}")
        return list(value)

    def texts(self, key: str, default: Any = _REQUIRED, *, most: int = MAX_ITEMS) -> Any:
        items = self.array(key, default, most=most)
        if items is default:
            return items
        return tuple(Array(items, self.at(key), self.source).each(str, "a string"))

    def tables(self, key: str, *, most: int = MAX_ITEMS) -> list[Table]:
        items = Array(self.array(key, [], most=most), self.at(key), self.source)
        return [
            Table(t, items.at(i), self.source) for i, t in enumerate(items.each(dict, "a table"))
        ]

    def table(self, key: str) -> Table | None:
        value = self._get(key, None)
        if value is None:
            return None
        return Table(self._typed(key, value, dict, "a table"), self.at(key), self.source)

    def done(self) -> None:
        """Refuse keys this table does not know (a typo must not pass silently)."""
        for key in self.data:
            if key not in self._used:
                known = ", ".join(sorted(self._used))
                self.fail(key, f"unknown key (expected one of: {known})")


class Array:
    """A TOML array being read: each item typed, errors naming ``path[i]``."""

    def __init__(self, items: list[Any], path: str, source: str) -> None:
        self.items = items
        self.path = path
        self.source = source

    def at(self, index: int) -> str:
        return f"{self.path}[{index}]"

    def fail(self, index: int, problem: str) -> NoReturn:
        raise ScenarioFileError(f"{self.source}: {self.at(index)}: {problem}")

    def each(self, kind: type, expected: str, bound: Bound | None = None) -> list[Any]:
        """The items, each a ``kind`` (strings at most :data:`MAX_TEXT` long, integers in
        ``bound``)."""
        for index, item in enumerate(self.items):
            if not isinstance(item, kind) or (isinstance(item, bool) and kind is not bool):
                self.fail(index, f"expected {expected}, got {show(item)}")
            if isinstance(item, str) and len(item) > MAX_TEXT:
                self.fail(index, f"expected at most {MAX_TEXT} characters, got {len(item)}")
            if bound is not None and not bound.low <= typing.cast(int, item) <= bound.high:
                self.fail(index, f"expected {expected} from {bound.text()}, got {show(item)}")
        return self.items


def show(value: Any) -> str:
    """A value for an error message: its TOML kind and, if short, itself."""
    kind = {bool: "boolean", int: "integer", float: "float", str: "string", list: "array"}.get(
        type(value), "table" if isinstance(value, dict) else type(value).__name__
    )
    if isinstance(value, dict | list):
        return kind
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**30:
        return f"{kind} of {len(str(abs(value)))} digits"
    if isinstance(value, str) and len(value) > 60:
        return f"{kind} {value[:40]!r}... ({len(value)} characters)"
    return f"{kind} {value!r}"


def _number(value: int) -> str:
    """An integer for an error message (a very long one by its number of digits)."""
    return str(value) if abs(value) < 10**30 else f"a number of {len(str(abs(value)))} digits"


def _quantity(
    table: Table,
    key: str | int,
    value: Any,
    units: Mapping[str, int],
    what: str,
    bound: Bound,
) -> int:
    """A duration (in microseconds) or size (in bytes) written with a unit, within ``bound``
    (exact arithmetic: ``'1.5 s'`` is 1,500,000 µs, and no numeral overflows a float)."""
    example = "'150 ms', '10 s'" if what == "a duration" else "'512 MiB', '10 GiB'"
    match = _QUANTITY.match(value) if isinstance(value, str) else None
    unit = match.group(3) if match else ""
    if match is None or unit not in units:
        table.fail(
            key,
            f"expected {what} with a unit ({', '.join(units)}) like {example}, got {show(value)}",
        )
    whole, fraction = match.group(1), match.group(2) or ""
    scaled = (int(whole) * 10 ** len(fraction) + int(fraction or "0")) * units[unit]
    amount = round(Fraction(scaled, 10 ** len(fraction)))
    return _bounded(table, key, amount, bound, what, shown=repr(value))


def _bounded(
    table: Table, key: str | int, amount: int, bound: Bound, what: str, shown: str = ""
) -> int:
    if not bound.low <= amount <= bound.high:
        table.fail(key, f"expected {what} from {bound.text()}, got {shown or bound.show(amount)}")
    return amount


def enum_member(table: Table, key: str | int, value: str, enum_type: type[_E]) -> _E:
    """An enum member by name, VSS name or value; case, spaces, ``_`` and ``-`` do not matter."""

    def folded(text: str) -> str:
        return re.sub(r"[\s_-]", "", text).upper()

    wanted = folded(value)
    for member in enum_type:
        spellings = [member.name, str(getattr(member, "vss_name", member.name))]
        if isinstance(member.value, str):
            spellings.append(member.value)
        if wanted in {folded(s) for s in spellings}:
            return member
    members = list(enum_type)
    if len(members) > 12:  # too many to list: the closest names, else the first few
        by_folded = {folded(m.name): m.name for m in members}
        close = difflib.get_close_matches(wanted, list(by_folded), n=3, cutoff=0.5)
        like = ", ".join(by_folded[c] for c in close) or ", ".join(m.name for m in members[:3])
        table.fail(key, f"expected a {enum_type.__name__} name (like {like}); got {value!r}")
    names = ", ".join(m.name.lower() for m in members)
    table.fail(key, f"expected one of {names}; got {value!r}")


# -- fields read straight from an attrs class (coordinator limits, agent options) ---------------


def read_fields(cls: type[Any], table: Table, skip: Sequence[str] = ()) -> dict[str, Any]:
    """Keyword arguments for ``cls`` from ``table``, one key per attrs field.

    A field named ``*_us`` is written as a duration without the suffix (``hold_limit =
    "10 s"``); a pair of them as an array of two durations; enums by name; nested attrs
    classes as tables. Fields not in the table keep their defaults.
    """
    attrs.resolve_types(cls)
    values: dict[str, Any] = {}
    for field in attrs.fields(cls):
        if field.name in skip:
            continue
        kind = field.type
        value: Any
        origin, args = typing.get_origin(kind), typing.get_args(kind)
        if origin is types.UnionType and len(args) == 2 and type(None) in args:
            kind = next(a for a in args if a is not type(None))  # ``X | None``: read an X
            origin, args = typing.get_origin(kind), typing.get_args(kind)
        bound = _field_bound(cls, field.name)
        if field.name.endswith("_us"):
            key = field.name.removesuffix("_us")
            if origin is tuple:
                value = _duration_range(table, key, bound)
            else:
                value = table.duration(key, None, bound=bound)
        elif attrs.has(kind):
            sub = table.table(field.name)
            value = (
                None if sub is None else finish(sub, construct(kind, sub, read_fields(kind, sub)))
            )
        elif isinstance(kind, type) and issubclass(kind, enum.Enum):
            value = table.choice(field.name, kind, None)
        elif kind is bool:
            value = table.flag(field.name, None)
        elif kind is int:
            value = table.integer(field.name, None, bound=bound)
        elif origin is tuple:
            value = table.texts(field.name, None)
        elif origin is frozenset and args and issubclass(args[0], enum.Enum):
            names = table.texts(field.name, None)
            value = (
                None
                if names is None
                else frozenset(
                    enum_member(table, f"{field.name}[{i}]", name, args[0])
                    for i, name in enumerate(names)
                )
            )
        else:  # pragma: no cover - a field type this reader does not know yet
            raise TypeError(f"{cls.__name__}.{field.name}: unsupported type {kind!r}")
        if value is not None:
            values[field.name] = value
    return values


def _field_bound(cls: type[Any], name: str) -> Bound:
    """The bound of a numeric attrs field the reader reads (every one has one)."""
    key = FIELD_LIMITS.get(f"{cls.__name__}.{name}")
    return LIMITS[key] if key is not None else Bound(0, 0)


def _duration_range(table: Table, key: str, bound: Bound) -> tuple[int, int] | None:
    """A ``[low, high]`` pair of durations within ``bound``, low at most high."""
    pair = table.array(key, None)
    if pair is None:
        return None
    if len(pair) != 2:
        table.fail(key, "expected an array of two durations [low, high]")
    low, high = (
        _quantity(table, f"{key}[{i}]", v, _TIME_UNITS, "a duration", bound)
        for i, v in enumerate(pair)
    )
    if low > high:
        table.fail(
            key,
            f"expected [low, high] with low <= high, got [{show_duration(low)!r}, "
            f"{show_duration(high)!r}]",
        )
    return low, high


def finish(table: Table, value: _T) -> _T:
    table.done()
    return value


def construct(cls: type[_T], table: Table, values: Mapping[str, Any]) -> _T:
    """``cls(**values)``; a value the class refuses is an error naming its key, when the
    refusal names a field (``sync_wait_us must be ...``), else the table's."""
    try:
        return cls(**values)
    except VssimError as error:
        message = getattr(error, "message", None) or str(error)
        for field in attrs.fields(cls):  # type: ignore[arg-type]
            if message.startswith(f"{field.name} ") and field.name in values:
                key = field.name.removesuffix("_us")
                unit = " (in microseconds)" if key != field.name else ""
                table.fail(key, key + message[len(field.name) :] + unit)
        table.fail_here(message)
