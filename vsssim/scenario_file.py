"""Scenario files: a simulated host written in TOML, read into a :class:`Scenario`.

A file describes volumes, files, writers (components, file descriptors, dependencies),
application workloads, agents (selections, options, the outcome the author expects), the fault
plan, the coordinator's limits and the seed; :func:`load_scenario` reads it. Times are written
with units (``"150 ms"``, ``"10 s"``, ``"2 min"``) and sizes too (``"10 GiB"``), so a reader
never has to guess. Every mistake is a :class:`ScenarioFileError` whose one-line message names
the file, the key path (``writers[1].components[0].depends_on[0]``) and what was expected.

The format is for people; :meth:`Scenario.to_dict` is the exhaustive machine form used by
fuzz failure files.
"""

from __future__ import annotations

import enum
import importlib.resources
import re
import tomllib
import typing
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import attrs

from vsssim.agent import AgentOptions, ComponentSelector, Outcome
from vsssim.constants import ComponentType, RestoreMethod, SourceType, UsageType
from vsssim.coordinator import CoordinatorConfig
from vsssim.errors import ConfigurationError, VssError, VssimError
from vsssim.faults import KINDS
from vsssim.metadata import Component, ComponentKey, FileDescriptor, WriterMetadata
from vsssim.namespace import normalize
from vsssim.scenario import (
    AgentSpec,
    FaultSpec,
    FileSpec,
    Scenario,
    VolumeSpec,
    WorkloadSpec,
)
from vsssim.volumes import VSSSIM_NAMESPACE
from vsssim.wmd_xml import metadata_from_xml

#: The providers a scenario can name (the XP array joins when it is modelled).
PROVIDERS: tuple[str, ...] = ("software",)

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
_SIZE_UNITS = {"B": 1, "KiB": 1024, "MiB": 1024**2, "GiB": 1024**3, "TiB": 1024**4}
_QUANTITY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]+)\s*$")


class ScenarioFileError(ConfigurationError):
    """A scenario file is not valid: ``FILE: KEY.PATH: what is wrong``."""


@attrs.frozen
class ScenarioFile:
    """A loaded scenario file: the scenario, its seed and what its author expects of the run."""

    scenario: Scenario
    seed: int = 0
    title: str = ""
    about: str = ""
    provider: str = "software"
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
    """Read a scenario file; every mistake raises :class:`ScenarioFileError` naming its key."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ScenarioFileError(f"{path}: cannot read: {error.strerror}") from None
    return parse_scenario(text, source=str(path), base=path.parent)


def parse_scenario(text: str, *, source: str = "<scenario>", base: Path = Path()) -> ScenarioFile:
    """Read a scenario from TOML text (``source`` names it in errors; files it names, such as
    writer metadata documents, are found relative to ``base``)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ScenarioFileError(f"{source}: not valid TOML: {error}") from None
    loaded = _Reader(source, base).scenario_file(_Table(data, "", source))
    try:
        loaded.scenario.build(loaded.seed)
    except VssimError as error:
        message = getattr(error, "message", None) or str(error)
        raise ScenarioFileError(f"{source}: {message}") from None
    return loaded


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

    def text(self, key: str, default: Any = _REQUIRED) -> Any:
        value = self._get(key, default)
        return value if value is default else self._typed(key, value, str, "a string")

    def flag(self, key: str, default: Any = _REQUIRED) -> Any:
        value = self._get(key, default)
        return value if value is default else self._typed(key, value, bool, "true or false")

    def integer(self, key: str, default: Any = _REQUIRED, *, minimum: int = 0) -> Any:
        value = self._get(key, default)
        if value is default:
            return value
        self._typed(key, value, int, "an integer")
        if value < minimum:
            self.fail(key, f"expected an integer >= {minimum}, got {value}")
        return value

    def duration(self, key: str, default: Any = _REQUIRED) -> Any:
        value = self._get(key, default)
        return value if value is default else _quantity(self, key, value, _TIME_UNITS, "a duration")

    def size(self, key: str, default: Any = _REQUIRED) -> Any:
        value = self._get(key, default)
        if value is default:
            return value
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
        return _quantity(self, key, value, _SIZE_UNITS, "a size")

    def choice(self, key: str, enum_type: type[_E], default: Any = _REQUIRED) -> Any:
        value = self._get(key, default)
        if value is default:
            return value
        return _enum(self, key, self._typed(key, value, str, "a string"), enum_type)

    def array(self, key: str, default: Any = _REQUIRED) -> Any:
        value = self._get(key, default)
        return value if value is default else list(self._typed(key, value, list, "an array"))

    def texts(self, key: str, default: Any = _REQUIRED) -> Any:
        items = self.array(key, default)
        if items is default:
            return items
        return tuple(_Array(items, self.at(key), self.source).each(str, "a string"))

    def tables(self, key: str) -> list[_Table]:
        items = _Array(self.array(key, []), self.at(key), self.source)
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

    def each(self, kind: type, expected: str) -> list[Any]:
        for index, item in enumerate(self.items):
            if not isinstance(item, kind) or (isinstance(item, bool) and kind is not bool):
                raise ScenarioFileError(
                    f"{self.source}: {self.at(index)}: expected {expected}, got {_show(item)}"
                )
        return self.items


def _show(value: Any) -> str:
    kind = {bool: "boolean", int: "integer", float: "float", str: "string", list: "array"}.get(
        type(value), "table" if isinstance(value, dict) else type(value).__name__
    )
    shown = repr(value) if not isinstance(value, dict | list) else ""
    return f"{kind} {shown}".strip()


def _quantity(
    table: _Table, key: str | int, value: Any, units: Mapping[str, int], what: str
) -> int:
    example = "'150 ms', '10 s'" if what == "a duration" else "'512 MiB', '10 GiB'"
    match = _QUANTITY.match(value) if isinstance(value, str) else None
    unit = match.group(2) if match else ""
    if match is None or unit not in units:
        table.fail(
            key,
            f"expected {what} with a unit ({', '.join(units)}) like {example}, got {_show(value)}",
        )
    return round(float(match.group(1)) * units[unit])


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
    if len(members) > 12:
        like = ", ".join(m.name for m in members[-3:])
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
        if field.name.endswith("_us"):
            key = field.name.removesuffix("_us")
            if origin is tuple:
                pair = table.array(key, None)
                if pair is not None and len(pair) != 2:
                    table.fail(key, "expected an array of two durations [low, high]")
                value = (
                    None
                    if pair is None
                    else tuple(
                        _quantity(table, f"{key}[{i}]", v, _TIME_UNITS, "a duration")
                        for i, v in enumerate(pair)
                    )
                )
            else:
                value = table.duration(key, None)
        elif attrs.has(kind):
            sub = table.table(field.name)
            value = None if sub is None else _finish(sub, kind(**_read_fields(kind, sub)))
        elif isinstance(kind, type) and issubclass(kind, enum.Enum):
            value = table.choice(field.name, kind, None)
        elif kind is bool:
            value = table.flag(field.name, None)
        elif kind is int:
            value = table.integer(field.name, None)
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


def _finish(table: _Table, value: _T) -> _T:
    table.done()
    return value


# -- the scenario ---------------------------------------------------------------------------


class _Reader:
    def __init__(self, source: str, base: Path) -> None:
        self.source = source
        self.base = base

    def scenario_file(self, top: _Table) -> ScenarioFile:
        seed = top.integer("seed", 0)
        title = top.text("title", "")
        about = top.text("about", "")
        provider = top.text("provider", "software")
        if provider not in PROVIDERS:
            top.fail("provider", f"expected one of {', '.join(PROVIDERS)}; got {provider!r}")
        volumes = [self.volume(t) for t in top.tables("volumes")]
        if not volumes:
            top.fail("volumes", "missing (a scenario needs at least one [[volumes]])")
        self.unique(top, "volumes", [v.label for v in volumes], "label")
        self.unique(top, "volumes", [normalize(v.mount_point) for v in volumes], "mount_point")
        files = [self.file(t, volumes) for t in top.tables("files")]
        read = [self.writer(t) for t in top.tables("writers")]
        writers = [metadata for metadata, _ in read]
        self.unique(top, "writers", [w.writer_name for w in writers], "name")
        writers = [self.with_dependencies(m, depends, writers) for m, depends in read]
        workloads = [self.workload(t, files, writers) for t in top.tables("workloads")]
        self.unique(top, "workloads", [w.name for w in workloads], "name")
        agents: list[AgentSpec] = []
        expected: list[tuple[str, Outcome]] = []
        for i, table in enumerate(top.tables("agents")):
            agent, outcome = self.agent(table, i, writers)
            agents.append(agent)
            expected.append((agent.name, outcome))
        self.unique(top, "agents", [a.name for a in agents], "name")
        faults_table = top.table("faults")
        faults = self.faults(faults_table) if faults_table is not None else None
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
        )
        return ScenarioFile(scenario, seed, title, about, provider, tuple(expected), self.source)

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
        spec = VolumeSpec(
            mount_point, label, t.size("size", 10 * 1024**3), t.text("file_system", "NTFS")
        )
        return _finish(t, spec)

    def file(self, t: _Table, volumes: list[VolumeSpec]) -> FileSpec:
        path = t.text("path")
        blocks = t.integer("blocks", 16, minimum=1)
        initial = t.integer("initial_blocks", blocks // 2)
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
        read = [self.component(c) for c in t.tables("components")]
        components = tuple(component for component, _ in read)
        usage_type = t.choice("usage_type", UsageType, UsageType.USERDATA)
        source_type = t.choice("source_type", SourceType, SourceType.OTHER)
        restore_method = t.choice(
            "restore_method", RestoreMethod, RestoreMethod.RESTORE_IF_CAN_REPLACE
        )
        instance_name = t.text("instance_name", "")
        try:
            metadata = WriterMetadata(
                writer_class_id=class_id,
                writer_instance_id=instance_id,
                writer_name=name,
                instance_name=instance_name,
                usage_type=usage_type,
                source_type=source_type,
                restore_method=restore_method,
                components=components,
            )
        except VssimError as error:
            t.fail("components", getattr(error, "message", str(error)))
        return _finish(t, metadata), [depends for _, depends in read]

    def document(self, t: _Table, name: str) -> WriterMetadata:
        path = self.base / name
        try:
            return metadata_from_xml(path.read_text(encoding="utf-8"))
        except OSError as error:
            t.fail("metadata", f"cannot read {path}: {error.strerror}")
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
        self, t: _Table, index: int, writers: list[WriterMetadata]
    ) -> tuple[AgentSpec, Outcome]:
        name = t.text("name", f"agent-{index + 1}")
        selection = t.texts("select")
        if not selection:
            t.fail("select", "expected at least one component, like 'Writer:Path\\Name'")
        for i, text in enumerate(selection):
            self.resolve(t, f"select[{i}]", text, writers)
        start = t.duration("start", 0)
        outcome = t.choice("expect", Outcome, Outcome.SUCCEEDED)
        options = AgentOptions(**_read_fields(AgentOptions, t))
        return _finish(t, AgentSpec(name, selection, options, start)), outcome

    def faults(self, t: _Table) -> FaultSpec:
        force = t.text("force", None)
        if force is not None:
            kind, _, site = force.partition("@")
            self.check_kind(t, "force", kind)
            spec = FaultSpec((kind,), 100, (100,), (site or "*",), t.integer("times", None))
            return _finish(t, spec)
        kinds = t.texts("kinds")
        for index, kind in enumerate(kinds):
            self.check_kind(t, f"kinds[{index}]", kind)
        spec = FaultSpec(
            kinds,
            t.integer("activation_percent", 30),
            tuple(
                _Array(
                    t.array("fire_percents", [10, 30, 100]), t.at("fire_percents"), self.source
                ).each(int, "an integer percent")
            ),
            t.texts("sites", []),
            t.integer("limit", None),
        )
        return _finish(t, spec)

    def check_kind(self, t: _Table, key: str, kind: str) -> None:
        if kind not in KINDS:
            t.fail(key, f"no fault kind {kind!r} (kinds: {', '.join(sorted(KINDS))})")
