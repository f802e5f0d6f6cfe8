"""Scenario files: a simulated host written in TOML, read into a :class:`Scenario`.

A file describes volumes (local disks, or LDEVs of an XP disk array with their replica LDEVs),
files, writers (components, file descriptors, dependencies), application workloads, agents
(selections, options, the provider they ask for, replica options, the outcome the author
expects), the fault plan, the coordinator's limits and the seed; :func:`load_scenario` reads
it. Times are written with units (``"150 ms"``, ``"10 s"``, ``"2 min"``) and sizes too
(``"10 GiB"``), so a reader never has to guess. Every mistake is a :class:`ScenarioFileError`
whose one-line message names the file, the key path (``writers[1].components[0].depends_on[0]``)
and what was expected.

The format is for people; :mod:`vsssim.host.scenario_codec` is the exhaustive machine form used by
fuzz failure files.

This module reads the top-level table; each section is read by
:mod:`vsssim.host.scenario_file_sections`, on the typed look-ups of
:mod:`vsssim.host.scenario_file_table`.
"""

from __future__ import annotations

import importlib.resources
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from vsssim.errors import VssimError
from vsssim.host._files import read_bounded
from vsssim.host.scenario import AgentSpec, Scenario
from vsssim.host.scenario_file_sections import PROVIDER_IDS, PROVIDERS, Reader
from vsssim.host.scenario_file_table import ScenarioFileError, Table, finish, one_line, read_fields
from vsssim.host.scenario_limits import (
    COUNTS,
    LIMITS,
    MAX_ABOUT,
    MAX_FILE_BYTES,
    MAX_NESTING,
    totals_problem,
)
from vsssim.requesters.backup_result import Outcome
from vsssim.vss.coordinator.service import CoordinatorConfig
from vsssim.vss.namespace import normalize

__all__ = [
    "PROVIDERS",
    "PROVIDER_IDS",
    "STARTER_SCENARIO",
    "ScenarioFile",
    "ScenarioFileError",
    "load_scenario",
    "parse_scenario",
]

#: A commented scenario to start from: every key of the format, with its default.
STARTER_SCENARIO: str = (
    importlib.resources.files("vsssim").joinpath("starter.toml").read_text(encoding="utf-8")
)


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

    Only a regular file of at most :data:`~vsssim.host.scenario_limits.MAX_FILE_BYTES` bytes of
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
    :class:`ScenarioFileError`; the values are bounded as :mod:`vsssim.host.scenario_limits` says.
    """
    source = one_line(source)
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
    loaded = _FileReader(source, base).scenario_file(Table(data, "", source))
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


# -- the top-level table --------------------------------------------------------------------


class _FileReader(Reader):
    """Reads a whole file: its top-level keys, then each section."""

    def scenario_file(self, top: Table) -> ScenarioFile:
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
            finish(config_table, CoordinatorConfig(**read_fields(CoordinatorConfig, config_table)))
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

    def check_run(self, top: Table, scenario: Scenario) -> None:
        """What the values imply together stays bounded (:func:`totals_problem`)."""
        problem = totals_problem(scenario)
        if problem is not None:
            top.fail(*problem)
