"""The 2x2x2 model explored completely, and what makes it possible.

Two writers shared by two agents' sessions, two volumes, a workload: with every timing at its
low end, every order of the two backups is covered in a few dozen runs, because steps of two
sessions touch different entries of the state they share (a writer's per-session states, the
coordinator's id counters: :class:`~vsssim.sim.keyed.KeyedDict`), and an all-of condition's
counts all lead to it. These tests check the search against runs in random orders (the
reduction must not lose one) and check the pieces on their own.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

import attrs
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.test_explore_reduction import _outcome, _RandomOrders
from vsssim.faults import FaultPlan
from vsssim.host.scenario import FaultSpec, Scenario
from vsssim.host.scenario_file import load_scenario, parse_scenario
from vsssim.host.world import World
from vsssim.sim.keyed import KeyedDict
from vsssim.testing.explore import WIDE, ExploreOptions, explore, replay_explored
from vsssim.testing.footprints import Footprint, Footprints
from vsssim.testing.fuzz import run_world
from vsssim.vss.writers.base import Writer

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "explore_2x2x2.toml"

#: No decision bound, no preemption bound, no fingerprints: only the reduction cuts runs.
COMPLETE = ExploreOptions(
    max_choices=None, preemption_bound=None, fingerprints=False, timings="low"
)


def _scenario() -> Scenario:
    return load_scenario(EXAMPLE).scenario


@functools.cache
def _explored() -> tuple[frozenset[tuple[object, ...]], int]:
    found: set[tuple[object, ...]] = set()
    report = explore(_scenario(), COMPLETE, visit=lambda world: found.add(_outcome(world)))
    assert report.complete and report.bounds == [], report.bounds
    assert report.violating_runs == 0
    return frozenset(found), report.runs


def test_the_2x2x2_model_is_explored_completely_in_few_runs() -> None:
    outcomes, runs = _explored()
    assert runs < 100  # the plain enumeration does not end in minutes
    assert len(outcomes) > 1  # the orders matter: some backups end differently


class _RandomRuns(_RandomOrders):
    """Random orders, and a wide range (the workload's seed) at one of its two ends, at
    random: a run of the model the exploration covers."""

    def choose(self, site: str, n: int) -> int:
        way = super().choose(site, n)
        if n > WIDE and site != "schedule" and way != 0:
            return (0, n - 1)[self.inner.choose(f"{site}/end", 2)]
        return way


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_every_random_order_of_the_2x2x2_model_ends_as_an_explored_run(seed: int) -> None:
    world, _ = run_world(_scenario(), _RandomRuns(seed), Writer)
    assert _outcome(world) in _explored()[0]


def _footprints(steps: dict[str, Callable[[], object]]) -> dict[str, Footprint]:
    """Each step's footprint, each run alone while the hooks are on."""
    prints = {}
    with Footprints() as watch:
        for name, step in steps.items():
            watch.begin()
            step()
            prints[name] = watch.end()
    return prints


def test_a_keyed_dict_s_entries_are_separate_things_to_conflict_on() -> None:
    table: KeyedDict[str, int] = KeyedDict(a=1)
    steps = {
        "read a": lambda: table.get("a"),
        "read b": lambda: "b" in table,
        "set a": lambda: table.__setitem__("a", 2),
        "add b": lambda: table.__setitem__("b", 1),
        "count": lambda: len(table),
    }
    prints = _footprints(steps)
    assert "get" not in vars(KeyedDict)  # the hooks came off again
    conflicts = {
        (a, b) for a in prints for b in prints if a < b and prints[a].conflicts(prints[b])
    }
    assert conflicts == {
        ("read a", "set a"),
        ("add b", "read b"),
        ("add b", "count"),
        ("count", "set a"),
    }


def _fired(world: World) -> int:
    plan = world.coordinator.faults
    assert isinstance(plan, FaultPlan)
    return len(plan.fired)


def test_a_fault_cap_per_run_stops_every_site_after_the_first_fault() -> None:
    spec = FaultSpec(("writer-retryable", "agent-dies"), 100, (100,), per_run=1)
    capped, _ = run_world(attrs.evolve(_scenario(), faults=spec), _RandomOrders(3), Writer)
    assert _fired(capped) == 1
    uncapped = attrs.evolve(spec, per_run=None)
    world, _ = run_world(attrs.evolve(_scenario(), faults=uncapped), _RandomOrders(3), Writer)
    assert _fired(world) > 1


def test_the_scenario_file_takes_a_cap_on_faults_per_run() -> None:
    text = EXAMPLE.read_text() + '\n[faults]\nkinds = ["writer-retryable"]\nper_run = 2\n'
    faults = parse_scenario(text, base=EXAMPLE.parent).scenario.faults
    assert faults is not None and faults.per_run == 2 and faults.plan().per_run == 2


def test_faults_on_explores_one_fault_per_run_and_says_so() -> None:
    options = attrs.evolve(COMPLETE, faults=True, max_runs=40)
    fired: list[int] = []
    runs: list[tuple[str, str]] = []

    def visit(world: World) -> None:
        fired.append(_fired(world))
        runs.append((world.token(), world.sim.trace.digest()))

    report = explore(_scenario(), options, visit=visit)
    assert set(fired) == {0, 1} or set(fired) == {1}
    assert "at most 1 fault fires in a run" in report.abstractions
    assert report.runs == 40 and not report.complete  # cut by max_runs, and it says so
    # The cap is kept by the explorer's choices: the token alone replays the run.
    for token, digest in runs[::10]:
        assert replay_explored(_scenario(), token, faults=True).sim.trace.digest() == digest
    two = attrs.evolve(options, faults_per_run=2, max_runs=5)
    fired.clear()
    assert "at most 2 faults fire in a run" in explore(_scenario(), two, visit=visit).abstractions
    assert max(fired) == 2


def test_a_whole_read_of_a_keyed_dict_sees_its_values_changed_in_place() -> None:
    table: KeyedDict[str, list[int]] = KeyedDict(a=[], b=[])
    steps = {
        "append to a": lambda: table["a"].append(1),
        "every value": lambda: [len(v) for v in table.values()],
        "read b": lambda: table["b"],
    }
    prints = _footprints(steps)
    assert prints["append to a"].conflicts(prints["every value"])
    assert not prints["append to a"].conflicts(prints["read b"])
