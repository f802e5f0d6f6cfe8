"""Scenario files: a simulated host written in TOML, read into a :class:`Scenario`.

A file describes volumes (local disks, or LDEVs of an XP disk array with their replica LDEVs),
files, writers (components, file descriptors, dependencies), application workloads, agents
(selections, options, the provider they ask for, replica options, the outcome the author
expects), the fault plan, the coordinator's limits and the seed; :func:`load_scenario` reads
it. Times are written with units (``"150 ms"``, ``"10 s"``, ``"2 min"``) and sizes too
(``"10 GiB"``), so a reader never has to guess. Every mistake is a :class:`ScenarioFileError`
whose one-line message names the file, the key path (``writers[1].components[0].depends_on[0]``)
and what was expected.

The format is for people; :meth:`Scenario.to_dict` is the exhaustive machine form used by
fuzz failure files.
"""

from __future__ import annotations

import difflib
import enum
import importlib.resources
import re
import tomllib
import types
import typing
import uuid
from collections.abc import Mapping, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import attrs

from vsssim._files import read_bounded
from vsssim._kernel import MILLISECOND
from vsssim.agent import AgentOptions, ComponentSelector, Outcome
from vsssim.constants import BackupSchema, ComponentType, RestoreMethod, SourceType, UsageType
from vsssim.coordinator import CoordinatorConfig
from vsssim.errors import ConfigurationError, VssError, VssimError
from vsssim.faults import KINDS
from vsssim.metadata import Component, ComponentKey, FileDescriptor, WriterMetadata
from vsssim.namespace import normalize
from vsssim.providers.software import SOFTWARE_PROVIDER_ID
from vsssim.providers.xp.provider import XP_PROVIDER_ID, ReplicaOptions
from vsssim.scenario import (
    AgentSpec,
    ArraySpec,
    FaultSpec,
    FileSpec,
    PoolSpec,
    RestoreSpec,
    Scenario,
    VolumeSpec,
    WorkloadSpec,
)
from vsssim.scenario_limits import (
    COUNTS,
    FIELD_LIMITS,
    LIMITS,
    MAX_ABOUT,
    MAX_DIGITS,
    MAX_FILE_BYTES,
    MAX_ITEMS,
    MAX_NESTING,
    MAX_TEXT,
    Bound,
    show_duration,
    totals_problem,
)
from vsssim.volumes import VSSSIM_NAMESPACE
from vsssim.wmd_xml import XmlLimits, metadata_from_xml

#: The providers an agent can ask VSS for, by the name a scenario gives them: ``any`` leaves
#: the choice to VSS (a hardware provider that supports the volume first, else the software
#: one), ``software`` is the copy-on-write provider, ``xp`` the XP array's hardware provider.
PROVIDER_IDS: Mapping[str, uuid.UUID | None] = {
    "any": None,
    "software": SOFTWARE_PROVIDER_ID,
    "xp": XP_PROVIDER_ID,
}
PROVIDERS: tuple[str, ...] = tuple(PROVIDER_IDS)

#: A commented scenario to start from: every key of the format, with its default.
STARTER_SCENARIO: str = (
    importlib.resources.files("vsssim").joinpath("starter.toml").read_text(encoding="utf-8")
)

_E = TypeVar("_E", bound=enum.Enum)
_T = TypeVar("_T")
#: A component's table and its ``depends_on`` texts, resolved once every writer is read.
_Depends = tuple["_Table", tuple[str, ...]]
_REQUIRED: Any = object()

_TIME_UNITS = {"us": 1, "ms": 1_000, "s": 1_000_000, "min": 60_000_000, "h": 3_600_000_000}
_SIZE_UNITS = {"B": 1, "KiB": 1024, "MiB": 1024**2, "GiB": 1024**3, "TiB": 1024**4, "PiB": 1024**5}
_QUANTITY = re.compile(
    rf"^\s*(\d{{1,{MAX_DIGITS}}})(?:\.(\d{{1,{MAX_DIGITS}}}))?\s*([A-Za-z]{{1,8}})\s*$"
)
_LDEV = re.compile(r"^[0-9A-F]{2}:[0-9A-F]{2}$")
#: Replica options that are the backup product's (the agent's) to choose, not the provider's.
_AGENT_ONLY_REPLICA_KEYS = ("keep_replica", "track_for_instant_recovery")


#: The largest Writer Metadata Document file a scenario may name (the XML reader's own limit).
_DOCUMENT_BYTES = XmlLimits().document_bytes


class ScenarioFileError(ConfigurationError):
    """A scenario file is not valid: ``FILE: KEY.PATH: what is wrong``, on one line (line
    breaks and other control characters a value brings in are shown escaped)."""

    def __init__(self, message: str) -> None:
        super().__init__(_one_line(message))


def _one_line(text: str) -> str:
    """``text`` with control characters escaped and at most 2,000 characters long."""
    escaped = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return escaped if len(escaped) <= 2000 else escaped[:1997] + "..."


@attrs.frozen
class ScenarioFile:
    """A loaded scenario file: the scenario, its seed and what its author expects of the run."""

    scenario: Scenario
    seed: int = 0
    title: str = ""
    about: str = ""
    provider: str = "any"
    expected: tuple[tuple[str, Outcome], ...] = ()
    source: str = "<scenario>"

    def unexpected(self, outcomes: Mapping[str, Outcome]) -> list[str]:
        """The agents whose outcome differs from what the file expects, as sentences."""
        return [
            f"{agent}: expected {want.value}, got "
            + (outcomes[agent].value if agent in outcomes else "no result")
            for agent, want in self.expected
            if outcomes.get(agent) != want
        ]


def load_scenario(path: str | Path) -> ScenarioFile:
    """Read a scenario file; every mistake raises :class:`ScenarioFileError` naming its key.

    Only a regular file of at most :data:`~vsssim.scenario_limits.MAX_FILE_BYTES` bytes of
    UTF-8 text is read (a device, a pipe or a folder is refused before it is opened for
    reading, so ``/dev/zero`` or a FIFO cannot make the reader wait or fill memory).
    """
    path = Path(path)
    return parse_scenario(_read_text(path, str(path)), source=str(path), base=path.parent)


def _read_text(path: Path, source: str) -> str:
    """The text of the file at ``path``, bounded in size, or a one-line error."""
    data = read_bounded(path, MAX_FILE_BYTES, "scenario file", ScenarioFileError)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ScenarioFileError(
            f"{source}: not UTF-8 text (at byte {error.start}: {error.reason})"
        ) from None


def parse_scenario(text: str, *, source: str = "<scenario>", base: Path = Path()) -> ScenarioFile:
    """Read a scenario from TOML text (``source`` names it in errors; files it names, such as
    writer metadata documents, are found relative to ``base``).

    Whatever the text, this returns a scenario that builds, or raises one
    :class:`ScenarioFileError`; the values are bounded as :mod:`vsssim.scenario_limits` says.
    """
    source = _one_line(source)
    if not isinstance(text, str):
        raise ScenarioFileError(f"{source}: expected TOML text, got {type(text).__name__}")
    if len(text) > MAX_FILE_BYTES:
        raise ScenarioFileError(
            f"{source}: too large: a scenario file has at most {MAX_FILE_BYTES} characters"
        )
    _check_keys(text, source)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ScenarioFileError(f"{source}: not valid TOML: {error}") from None
    except RecursionError:
        raise ScenarioFileError(
            f"{source}: arrays or tables nested too deeply (at most {MAX_NESTING} levels)"
        ) from None
    except ValueError:  # an integer Python refuses to convert (thousands of digits)
        raise ScenarioFileError(
            f"{source}: a number too long to read (thousands of digits)"
        ) from None
    _check_nesting(data, source)
    loaded = _Reader(source, base).scenario_file(_Table(data, "", source))
    try:
        loaded.scenario.build(loaded.seed)
    except VssimError as error:
        message = getattr(error, "message", None) or str(error)
        raise ScenarioFileError(f"{source}: {message}") from None
    return loaded


def _check_keys(text: str, source: str) -> None:
    """Refuse, before parsing, a key of more than :data:`MAX_NESTING` dotted parts (tomllib
    takes time cubic in the parts of a dotted key). Lexical and conservative: the part of a
    line before its first ``=`` (or a table header's brackets) is counted, wherever it is."""
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.lstrip()
        if stripped.startswith("#"):
            continue
        key = stripped.partition("]")[0] if stripped.startswith("[") else line.partition("=")[0]
        if key.count(".") > MAX_NESTING:
            raise ScenarioFileError(
                f"{source}: line {number}: a key of more than {MAX_NESTING} dotted parts "
                "(nested too deeply)"
            )


def _check_nesting(data: dict[str, Any], source: str) -> None:
    """Refuse values nested deeper than :data:`MAX_NESTING` (walked without recursion)."""
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_NESTING:
            raise ScenarioFileError(
                f"{source}: arrays or tables nested too deeply (at most {MAX_NESTING} levels)"
            )
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)


# -- reading typed values with their key paths -------------------------------------------------


class _Table:
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
            self.fail(key, f"expected {expected}, got {_show(value)}")
        if not isinstance(value, kind):
            self.fail(key, f"expected {expected}, got {_show(value)}")
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
        return _enum(self, key, self._typed(key, value, str, "a string"), enum_type)

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
        return tuple(_Array(items, self.at(key), self.source).each(str, "a string"))

    def tables(self, key: str, *, most: int = MAX_ITEMS) -> list[_Table]:
        items = _Array(self.array(key, [], most=most), self.at(key), self.source)
        return [
            _Table(t, items.at(i), self.source) for i, t in enumerate(items.each(dict, "a table"))
        ]

    def table(self, key: str) -> _Table | None:
        value = self._get(key, None)
        if value is None:
            return None
        return _Table(self._typed(key, value, dict, "a table"), self.at(key), self.source)

    def done(self) -> None:
        """Refuse keys this table does not know (a typo must not pass silently)."""
        for key in self.data:
            if key not in self._used:
                known = ", ".join(sorted(self._used))
                self.fail(key, f"unknown key (expected one of: {known})")


class _Array:
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
                self.fail(index, f"expected {expected}, got {_show(item)}")
            if isinstance(item, str) and len(item) > MAX_TEXT:
                self.fail(index, f"expected at most {MAX_TEXT} characters, got {len(item)}")
            if bound is not None and not bound.low <= typing.cast(int, item) <= bound.high:
                self.fail(index, f"expected {expected} from {bound.text()}, got {_show(item)}")
        return self.items


def _show(value: Any) -> str:
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
    table: _Table,
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
            f"expected {what} with a unit ({', '.join(units)}) like {example}, got {_show(value)}",
        )
    whole, fraction = match.group(1), match.group(2) or ""
    scaled = (int(whole) * 10 ** len(fraction) + int(fraction or "0")) * units[unit]
    amount = round(Fraction(scaled, 10 ** len(fraction)))
    return _bounded(table, key, amount, bound, what, shown=repr(value))


def _bounded(
    table: _Table, key: str | int, amount: int, bound: Bound, what: str, shown: str = ""
) -> int:
    if not bound.low <= amount <= bound.high:
        table.fail(key, f"expected {what} from {bound.text()}, got {shown or bound.show(amount)}")
    return amount


def _enum(table: _Table, key: str | int, value: str, enum_type: type[_E]) -> _E:
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


def _read_fields(cls: type[Any], table: _Table, skip: Sequence[str] = ()) -> dict[str, Any]:
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
                None
                if sub is None
                else _finish(sub, _construct(kind, sub, _read_fields(kind, sub)))
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
                    _enum(table, f"{field.name}[{i}]", name, args[0])
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


def _duration_range(table: _Table, key: str, bound: Bound) -> tuple[int, int] | None:
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


def _finish(table: _Table, value: _T) -> _T:
    table.done()
    return value


def _construct(cls: type[_T], table: _Table, values: Mapping[str, Any]) -> _T:
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


# -- the scenario ---------------------------------------------------------------------------


class _Reader:
    def __init__(self, source: str, base: Path) -> None:
        self.source = source
        self.base = base
        self.array_spec: ArraySpec | None = None
        self.provider = "any"

    def scenario_file(self, top: _Table) -> ScenarioFile:
        seed = top.integer("seed", 0, bound=LIMITS["seed"])
        title = top.text("title", "")
        about = top.text("about", "", longest=MAX_ABOUT)
        array_table = top.table("array")
        self.array_spec = self.array(array_table) if array_table is not None else None
        self.provider = self.provider_name(top)
        volume_tables = top.tables("volumes", most=COUNTS["volumes"])
        volumes = [self.volume(t) for t in volume_tables]
        if not volumes:
            top.fail("volumes", "missing (a scenario needs at least one [[volumes]])")
        self.unique(top, "volumes", [v.label for v in volumes], "label")
        self.unique(top, "volumes", [normalize(v.mount_point) for v in volumes], "mount_point")
        self.unique_ldevs(volume_tables, volumes)
        files = [self.file(t, volumes) for t in top.tables("files", most=COUNTS["files"])]
        read = [self.writer(t) for t in top.tables("writers", most=COUNTS["writers"])]
        writers = [metadata for metadata, _ in read]
        self.unique(top, "writers", [w.writer_name for w in writers], "name")
        writers = [self.with_dependencies(m, depends, writers) for m, depends in read]
        workloads = [
            self.workload(t, files, writers)
            for t in top.tables("workloads", most=COUNTS["workloads"])
        ]
        self.unique(top, "workloads", [w.name for w in workloads], "name")
        agents: list[AgentSpec] = []
        expected: list[tuple[str, Outcome]] = []
        for i, table in enumerate(top.tables("agents", most=COUNTS["agents"])):
            agent, outcome = self.agent(table, i, writers, [a.name for a in agents])
            agents.append(agent)
            expected.append((agent.name, outcome))
        self.unique(top, "agents", [a.name for a in agents], "name")
        faults_table = top.table("faults")
        faults = self.faults(faults_table) if faults_table is not None else None
        restore_table = top.table("restore")
        restore = self.restore(restore_table, files) if restore_table is not None else None
        config_table = top.table("config")
        config = (
            _finish(
                config_table, CoordinatorConfig(**_read_fields(CoordinatorConfig, config_table))
            )
            if config_table is not None
            else CoordinatorConfig()
        )
        top.done()
        scenario = Scenario(
            volumes=tuple(volumes),
            files=tuple(files),
            writers=tuple(writers),
            workloads=tuple(workloads),
            agents=tuple(agents),
            faults=faults,
            config=config,
            array=self.array_spec,
            restore=restore,
        )
        self.check_run(top, scenario)
        return ScenarioFile(
            scenario, seed, title, about, self.provider, tuple(expected), self.source
        )

    def check_run(self, top: _Table, scenario: Scenario) -> None:
        """What the values imply together stays bounded (:func:`totals_problem`)."""
        problem = totals_problem(scenario)
        if problem is not None:
            top.fail(*problem)

    # -- the XP array ----------------------------------------------------------------------
    def provider_name(self, t: _Table, default: str = "any") -> str:
        """A ``provider`` key: one of :data:`PROVIDERS`; ``xp`` only with an ``[array]``."""
        name: str = t.text("provider", default)
        if name not in PROVIDER_IDS:
            t.fail("provider", f"expected one of {', '.join(PROVIDERS)}; got {name!r}")
        if name == "xp" and self.array_spec is None:
            t.fail("provider", "the XP provider needs an [array] table; this scenario has none")
        return name

    def array(self, t: _Table) -> ArraySpec:
        serial = t.integer("serial", 10053, bound=LIMITS["array.serial"])
        track_bytes = t.size("track_size", 256 * 1024, bound=LIMITS["array.track_size"])
        track_copy_us = t.duration("track_copy", 2 * MILLISECOND, bound=LIMITS["array.track_copy"])
        pools = tuple(self.pool(p) for p in t.tables("pools", most=COUNTS["array.pools"]))
        self.unique(t, "pools", [str(p.pool_id) for p in pools], "id")
        replica_table = t.table("replica")
        replica = None
        if replica_table is not None:
            # Keeping and tracking a replica is the backup product's choice, made per agent.
            fields = _read_fields(ReplicaOptions, replica_table, skip=_AGENT_ONLY_REPLICA_KEYS)
            replica = _finish(replica_table, _construct(ReplicaOptions, replica_table, fields))
            self.check_pool(replica_table, replica, pools)
        return _finish(t, ArraySpec(serial, track_bytes, track_copy_us, replica, pools))

    def pool(self, t: _Table) -> PoolSpec:
        pool_id = t.integer("id", bound=LIMITS["array.pools[].id"])
        return _finish(
            t, PoolSpec(pool_id, t.size("capacity", bound=LIMITS["array.pools[].capacity"]))
        )

    def check_pool(
        self, t: _Table, replica: ReplicaOptions, pools: Sequence[PoolSpec] | None = None
    ) -> None:
        """The Snapshot pool ``replica`` names exists on the array."""
        if pools is None:
            pools = self.array_spec.pools if self.array_spec is not None else ()
        if replica.pool is not None and replica.pool not in {p.pool_id for p in pools}:
            known = ", ".join(str(p.pool_id) for p in pools) or "none; add [[array.pools]]"
            t.fail("pool", f"the array has no pool {replica.pool} (pools: {known})")

    def ldev(self, t: _Table, key: str | int, value: str) -> str:
        address = value.strip().upper()
        if not _LDEV.match(address):
            t.fail(
                key,
                f"expected an LDEV address CU:LDEV (two hex digits each) like '01:2A', "
                f"got {value!r}",
            )
        return address

    def unique_ldevs(self, tables: list[_Table], volumes: list[VolumeSpec]) -> None:
        """No LDEV is two volumes, a volume and a replica, or two replicas."""
        seen: dict[str, str] = {}
        for t, volume in zip(tables, volumes, strict=True):
            if volume.ldev is None:
                continue
            for key, address in [
                ("ldev", volume.ldev),
                *((f"replicas[{i}]", r) for i, r in enumerate(volume.replicas)),
            ]:
                if address in seen:
                    t.fail(key, f"LDEV {address} is {seen[address]} already")
                seen[address] = t.at(key)

    def unique(self, top: _Table, key: str, names: list[str], field: str) -> None:
        seen: dict[str, int] = {}
        for index, name in enumerate(names):
            folded = name.upper()
            if folded in seen:
                top.fail(
                    key,
                    f"[{index}].{field} {name!r} repeats [{seen[folded]}].{field}",
                )
            seen[folded] = index

    def volume(self, t: _Table) -> VolumeSpec:
        mount_point = t.text("mount_point")
        if not mount_point.endswith("\\"):
            mount_point += "\\"
        label = t.text("label", mount_point.rstrip("\\"))
        ldev = t.text("ldev", None)
        replicas = t.texts("replicas", (), most=COUNTS["volumes[].replicas"])
        if ldev is not None:
            ldev = self.ldev(t, "ldev", ldev)
            if self.array_spec is None:
                t.fail("ldev", "an LDEV is on the XP array: add an [array] table")
            replicas = tuple(self.ldev(t, f"replicas[{i}]", r) for i, r in enumerate(replicas))
        elif replicas:
            t.fail("replicas", "only a volume on the XP array (one with an ldev) has replicas")
        spec = VolumeSpec(
            mount_point,
            label,
            t.size("size", 10 * 1024**3, bound=LIMITS["volumes[].size"]),
            t.text("file_system", "NTFS"),
            ldev,
            replicas,
        )
        return _finish(t, spec)

    def file(self, t: _Table, volumes: list[VolumeSpec]) -> FileSpec:
        path = t.text("path")
        blocks = t.integer("blocks", 16, bound=LIMITS["files[].blocks"])
        initial = t.integer("initial_blocks", blocks // 2, bound=LIMITS["files[].initial_blocks"])
        if initial > blocks:
            t.fail("initial_blocks", f"expected at most blocks ({blocks}), got {initial}")
        key = normalize(path)
        if not any(key.startswith(normalize(v.mount_point)) for v in volumes):
            mounts = ", ".join(v.mount_point for v in volumes)
            t.fail("path", f"{path!r} is on no volume (mount points: {mounts})")
        return _finish(t, FileSpec(path, blocks, initial))

    def descriptors(self, t: _Table, key: str) -> tuple[FileDescriptor, ...]:
        found = []
        for index, item in enumerate(t.array(key, [])):
            where = f"{key}[{index}]"
            if isinstance(item, str):
                if len(item) > MAX_TEXT:
                    t.fail(where, f"expected at most {MAX_TEXT} characters, got {len(item)}")
                folder, sep, filespec = item.rpartition("\\")
                if not sep or not folder or not filespec:
                    t.fail(
                        where, f"expected 'FOLDER\\FILESPEC' (like 'D:\\Data\\*.mdf'), got {item!r}"
                    )
                found.append(FileDescriptor(folder, filespec))
            elif isinstance(item, dict):
                d = _Table(item, t.at(where), self.source)
                found.append(
                    _finish(
                        d,
                        FileDescriptor(
                            d.text("path"),
                            d.text("filespec", "*"),
                            d.flag("recursive", False),
                            d.text("alternate_location", None),
                        ),
                    )
                )
            else:
                t.fail(where, f"expected a string or a table, got {_show(item)}")
        return tuple(found)

    def writer(self, t: _Table) -> tuple[WriterMetadata, list[_Depends] | None]:
        """A writer's metadata; its components' ``depends_on`` are resolved once all are read.

        ``metadata = 'sql.xml'`` reads a Writer Metadata Document (XML as VSS writes it, for
        instance captured on a real server) instead of the keys below.
        """
        document = t.text("metadata", None)
        if document is not None:
            return _finish(t, self.document(t, document)), None
        name = t.text("name")
        class_id = self.guid(t, "class_id", uuid.uuid5(VSSSIM_NAMESPACE, f"scenario-writer:{name}"))
        instance_id = self.guid(t, "instance_id", uuid.uuid5(class_id, "instance"))
        read = [
            self.component(c) for c in t.tables("components", most=COUNTS["writers[].components"])
        ]
        components = tuple(component for component, _ in read)
        usage_type = t.choice("usage_type", UsageType, UsageType.USERDATA)
        source_type = t.choice("source_type", SourceType, SourceType.OTHER)
        restore_method = t.choice(
            "restore_method", RestoreMethod, RestoreMethod.RESTORE_IF_CAN_REPLACE
        )
        instance_name = t.text("instance_name", "")
        schema = BackupSchema.UNDEFINED
        for i, flag in enumerate(t.texts("backup_schema", ())):
            schema |= _enum(t, f"backup_schema[{i}]", flag, BackupSchema)
        try:
            metadata = WriterMetadata(
                writer_class_id=class_id,
                writer_instance_id=instance_id,
                writer_name=name,
                instance_name=instance_name,
                usage_type=usage_type,
                source_type=source_type,
                restore_method=restore_method,
                backup_schema=schema,
                components=components,
            )
        except VssimError as error:
            t.fail("components", getattr(error, "message", str(error)))
        return _finish(t, metadata), [depends for _, depends in read]

    def document(self, t: _Table, name: str) -> WriterMetadata:
        path = self.base / name
        try:
            # Bytes: the reader takes UTF-8 or UTF-16, as Windows tools save these documents.
            return metadata_from_xml(
                read_bounded(path, _DOCUMENT_BYTES, "metadata document", ConfigurationError)
            )
        except ConfigurationError as error:
            t.fail("metadata", str(error))
        except VssError as error:
            t.fail("metadata", f"{path}: {error}")

    def guid(self, t: _Table, key: str, default: uuid.UUID) -> uuid.UUID:
        text = t.text(key, None)
        if text is None:
            return default
        try:
            return uuid.UUID(text.strip("{}"))
        except ValueError:
            t.fail(key, f"expected a GUID like '{{{default}}}', got {text!r}")

    def component(self, c: _Table) -> tuple[Component, _Depends]:
        component = Component(
            name=c.text("name"),
            component_type=c.choice("type", ComponentType, ComponentType.FILEGROUP),
            logical_path=c.text("logical_path", ""),
            caption=c.text("caption", ""),
            selectable=c.flag("selectable", True),
            selectable_for_restore=c.flag("selectable_for_restore", True),
            files=self.descriptors(c, "files"),
            database_files=self.descriptors(c, "database_files"),
            log_files=self.descriptors(c, "log_files"),
        )
        depends = (c, c.texts("depends_on", ()))
        return _finish(c, component), depends

    def with_dependencies(
        self,
        metadata: WriterMetadata,
        depends: list[_Depends] | None,
        writers: list[WriterMetadata],
    ) -> WriterMetadata:
        """``metadata`` with each component's ``depends_on`` (``WRITER:PATH``) resolved
        (``None``: a metadata document, whose dependencies name writers by class id)."""
        if depends is None:
            return metadata
        components = tuple(
            attrs.evolve(
                component,
                dependencies=tuple(
                    self.resolve(table, f"depends_on[{i}]", text, writers)
                    for i, text in enumerate(texts)
                ),
            )
            for component, (table, texts) in zip(metadata.components, depends, strict=True)
        )
        return attrs.evolve(metadata, components=components)

    def resolve(
        self, t: _Table, key: str, text: str, writers: list[WriterMetadata]
    ) -> ComponentKey:
        try:
            selector = ComponentSelector.parse(text)
        except ConfigurationError:
            t.fail(key, f"expected 'WRITER:LOGICAL\\PATH\\NAME', got {text!r}")
        for metadata in writers:
            if selector.matches(metadata):
                for component in metadata.components:
                    if component.full_path.upper() == selector.path.upper():
                        return metadata.key(component)
                paths = ", ".join(c.full_path for c in metadata.components) or "none"
                t.fail(
                    key,
                    f"writer {metadata.writer_name!r} has no component {selector.path!r} "
                    f"(it has: {paths})",
                )
        names = ", ".join(w.writer_name for w in writers) or "none"
        t.fail(key, f"no writer {selector.writer!r} (writers: {names})")

    def workload(
        self, t: _Table, files: list[FileSpec], writers: list[WriterMetadata]
    ) -> WorkloadSpec:
        name = t.text("name")
        paths = t.texts("files")
        known = {normalize(f.path) for f in files}
        for index, path in enumerate(paths):
            if normalize(path) not in known:
                t.fail(f"files[{index}]", f"{path!r} is not one of the scenario's [[files]]")
        interval = _read_fields(WorkloadSpec, t, skip=("name", "files", "writer"))
        writer = t.text("writer", None)
        if writer is not None and writer not in {w.writer_name for w in writers}:
            names = ", ".join(w.writer_name for w in writers) or "none"
            t.fail("writer", f"no writer {writer!r} (writers: {names})")
        return _finish(t, WorkloadSpec(name, paths, writer=writer, **interval))

    def agent(
        self, t: _Table, index: int, writers: list[WriterMetadata], earlier: list[str]
    ) -> tuple[AgentSpec, Outcome]:
        name = t.text("name", f"agent-{index + 1}")
        selection = t.texts("select")
        if not selection:
            t.fail("select", "expected at least one component, like 'Writer:Path\\Name'")
        for i, text in enumerate(selection):
            self.resolve(t, f"select[{i}]", text, writers)
        start = t.duration("start", 0, bound=LIMITS["agents[].start"])
        builds_on = t.texts("builds_on", ())
        for i, base in enumerate(builds_on):
            if base == name:
                t.fail(f"builds_on[{i}]", f"agent {name!r} cannot build on itself")
            if base not in earlier:
                known = ", ".join(repr(n) for n in earlier) or "none"
                t.fail(
                    f"builds_on[{i}]",
                    f"agent {name!r} builds on {base!r}, which is not an earlier [[agents]] "
                    f"(earlier agents: {known})",
                )
            if base in builds_on[:i]:
                t.fail(f"builds_on[{i}]", f"{base!r} is named twice")
        outcome = t.choice("expect", Outcome, Outcome.SUCCEEDED)
        provider = self.provider_name(t, self.provider)
        fields = _read_fields(AgentOptions, t, skip=("provider_id", "history"))
        replica: ReplicaOptions | None = fields.get("replica")
        if replica is not None:
            if self.array_spec is None:
                t.fail("replica", "replica options are for the XP array; this scenario has none")
            self.check_pool(_Table({}, t.at("replica"), self.source), replica)
        try:
            options = AgentOptions(**fields, provider_id=PROVIDER_IDS[provider])
        except ConfigurationError as error:
            if replica is not None and replica.keeps:
                key = "keep_replica" if replica.keep_replica else "track_for_instant_recovery"
                t.fail(f"replica.{key}", str(error))
            raise
        return _finish(t, AgentSpec(name, selection, options, start, builds_on)), outcome

    def faults(self, t: _Table) -> FaultSpec:
        force = t.text("force", None)
        if force is not None:
            kind, _, site = force.partition("@")
            self.check_kind(t, "force", kind)
            times = t.integer("times", None, bound=LIMITS["faults.times"])
            spec = FaultSpec((kind,), 100, (100,), (site or "*",), times)
            return _finish(t, spec)
        kinds = t.texts("kinds")
        for index, kind in enumerate(kinds):
            self.check_kind(t, f"kinds[{index}]", kind)
        spec = FaultSpec(
            kinds,
            t.integer("activation_percent", 30, bound=LIMITS["faults.activation_percent"]),
            tuple(
                _Array(
                    t.array("fire_percents", [10, 30, 100]), t.at("fire_percents"), self.source
                ).each(int, "an integer percent", LIMITS["faults.fire_percents[]"])
            ),
            t.texts("sites", []),
            t.integer("limit", None, bound=LIMITS["faults.limit"]),
        )
        return _finish(t, spec)

    def restore(self, t: _Table, files: list[FileSpec]) -> RestoreSpec:
        """A ``[restore]`` table: after the backups, the applications write for ``write_for``,
        the ``delete`` files (of ``[[files]]``) are deleted, then every backup is restored."""
        write_for = t.duration("write_for", 0, bound=LIMITS["restore.write_for"])
        delete = t.texts("delete", ())
        known = {normalize(f.path) for f in files}
        for index, path in enumerate(delete):
            if normalize(path) not in known:
                t.fail(f"delete[{index}]", f"no [[files]] has the path {path}")
        return _finish(t, RestoreSpec(write_for, delete))

    def check_kind(self, t: _Table, key: str, kind: str) -> None:
        if kind not in KINDS:
            t.fail(key, f"no fault kind {kind!r} (kinds: {', '.join(sorted(KINDS))})")
