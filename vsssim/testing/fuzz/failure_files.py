"""A failing run written down (:func:`write_failure`), shrunk to what it needs, and run again
from the file (:func:`run_failure_file`)."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import attrs

from vsssim.errors import ConfigurationError, VssimError, describe
from vsssim.host._files import read_bounded
from vsssim.host.scenario import Scenario
from vsssim.host.scenario_codec import scenario_from_dict, scenario_to_dict
from vsssim.host.scenario_limits import totals_problem
from vsssim.host.world import World
from vsssim.sim.choices import RecordingChoices, SeededChoices
from vsssim.testing.draw import draw_scenario
from vsssim.testing.fuzz.one_run import RunReport, is_crash, judge, run_world
from vsssim.testing.fuzz.writer_loading import load_writer


def shrink(
    scenario: Scenario, seed: int, writer: str | None = None
) -> tuple[Scenario, RunReport | None]:
    """Greedily drop the restore, agents, workloads and unfired fault kinds while the run still
    fails.

    The runs use ``SeededChoices(seed)``: its per-site streams make a scenario built from the
    drawn value behave as the drawn run did, so a smaller scenario fails the same way.
    """
    factory = load_writer(writer)

    def failing(candidate: Scenario) -> RunReport | None:
        world, settled = run_world(candidate, SeededChoices(seed), factory)
        report = judge(world, settled, -1, seed, "")
        return report if report.failed else None

    best = failing(scenario)
    if best is None:
        return scenario, None
    if scenario.faults is not None:
        fired = tuple(k for k, _ in best.faults)
        candidate = attrs.evolve(scenario, faults=attrs.evolve(scenario.faults, kinds=fired))
        found = failing(candidate)
        if found is not None:
            scenario, best = candidate, found
    if scenario.restore is not None:
        candidate = attrs.evolve(scenario, restore=None)
        found = failing(candidate)
        if found is not None:
            scenario, best = candidate, found
    for name in [a.name for a in scenario.agents]:
        if len(scenario.agents) > 1:
            candidate = scenario.without(agent=name)
            found = failing(candidate)
            if found is not None:
                scenario, best = candidate, found
    for name in [w.name for w in scenario.workloads]:
        candidate = scenario.without(workload=name)
        found = failing(candidate)
        if found is not None:
            scenario, best = candidate, found
    return scenario, best


def write_failure(
    path: Path,
    report: RunReport,
    *,
    writer: str | None = None,
    misbehaviour: bool = True,
    shrink_it: bool = True,
) -> Scenario:
    """Write a failing run down as JSON: its token, seed, violations and a shrunk scenario.

    A run that crashed is written unshrunk (shrinking would run it again, here), and so is
    one whose shrinking itself raised, or with ``shrink_it=False``.
    """
    recorder = RecordingChoices(SeededChoices(report.seed))
    scenario = draw_scenario(recorder, misbehaviour=misbehaviour)
    small, shrunk = scenario, None
    if shrink_it and not is_crash(report):
        try:
            small, shrunk = shrink(scenario, report.seed, writer)
        except Exception:  # a crash while shrinking: keep the drawn scenario
            small, shrunk = scenario, None
    data = {
        "token": report.token,
        "seed": report.seed,
        "writer": writer,
        "violations": list(report.violations),
        "shrunk_violations": list(shrunk.violations) if shrunk else [],
        "scenario": scenario_to_dict(small),
    }
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return small


#: A failure file larger than this is refused unread (they are a few KiB).
MAX_FAILURE_FILE_BYTES = 16 * 1024 * 1024


def _read_failure_file(path: Path) -> tuple[int, Scenario, str | None]:
    """The seed, scenario and writer of a failure file; one clear error for anything else."""
    raw = read_bounded(path, MAX_FAILURE_FILE_BYTES, "failure file", ConfigurationError)
    try:
        data = json.loads(raw.decode("utf-8"))
        if not isinstance(data, dict):
            raise TypeError(f"a JSON {type(data).__name__}, not an object")
        seed, writer = data["seed"], data.get("writer")
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise TypeError(f"'seed' is {seed!r}, not a whole number >= 0")
        if writer is not None and not isinstance(writer, str):
            raise TypeError(f"'writer' is {writer!r}, not a module:Class string")
        if not isinstance(data["scenario"], dict):
            raise TypeError("'scenario' is not an object")
        scenario = scenario_from_dict(data["scenario"])
    except KeyError as exc:
        raise ConfigurationError(f"{path}: not a vsssim failure file (no key {exc})") from None
    except (ValueError, TypeError, AttributeError, RecursionError, MemoryError) as exc:
        raise ConfigurationError(f"{path}: not a vsssim failure file ({exc})") from None
    except VssimError as exc:
        raise ConfigurationError(f"{path}: not a vsssim failure file ({exc})") from None
    return seed, scenario, writer


def run_failure_file(path: Path, *, writer: str | None = None) -> tuple[World, RunReport]:
    """Run the shrunk scenario of a failure file (written by :func:`write_failure`) again.

    A file that names a writer class is replayed only with ``writer`` given: importing code
    a file names needs the user's say-so, so the file's own ``writer`` key never imports.
    """
    seed, scenario, named = _read_failure_file(path)
    if named is not None and writer is None:
        raise ConfigurationError(
            f"{path} was written fuzzing the writer {named!r}; replaying it runs that code, "
            f"so say so: add --writer {shlex.quote(named)}"
        )
    factory = load_writer(writer)
    problem = totals_problem(scenario)
    if problem is not None:
        raise ConfigurationError(f"{path}: scenario.{problem[0]}: {problem[1]}")
    try:
        scenario.build(choices=SeededChoices(seed), writer_factory=factory)
    except (VssimError, ValueError, TypeError, KeyError) as exc:
        error, _ = describe(exc)
        raise ConfigurationError(f"{path}: the scenario does not build: {error}") from None
    world, settled = run_world(scenario, SeededChoices(seed), factory)
    return world, judge(world, settled, -1, seed, "")
