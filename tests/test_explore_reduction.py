"""Partial-order reduction: fewer runs, and never an outcome or a violation fewer.

The reduction rests on two claims (vsssim.testing.reduction): steps whose footprints do not
conflict commute, and no invariant depends on the order of two commuting steps' records.
These tests check both from outside: against the plain enumeration where it is small enough
to finish, and against runs drawn at random where it is not.
"""

from __future__ import annotations

import functools
from pathlib import Path

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.helpers_module import CarefulWriter, HyperVWriter
from tests.test_explore import _without_the_set_lock
from vsssim.faults import FaultPlan
from vsssim.host.scenario import FaultSpec, Scenario
from vsssim.host.scenario_file import load_scenario
from vsssim.host.world import World
from vsssim.sim.choices import ChoiceSource, SeededChoices
from vsssim.sim.kernel import Simulation
from vsssim.testing.explore import (
    EXPLORED_FAULTS,
    TIMING_SITES,
    WIDE,
    ExploreOptions,
    explore,
    replay_explored,
)
from vsssim.testing.footprints import Footprints, model_classes
from vsssim.testing.fuzz import run_world
from vsssim.testing.invariants import check_all
from vsssim.vss.coordinator.session import Coordinator
from vsssim.vss.writers.base import Writer

TWO_AGENTS = Path(__file__).resolve().parent.parent / "examples" / "explore_two_agents.toml"


def _scenario(agents: int) -> Scenario:
    """The example's two agents, or its first ``agents`` of them."""
    scenario = load_scenario(TWO_AGENTS).scenario
    return attrs.evolve(scenario, agents=scenario.agents[:agents])


def _outcome(world: World) -> tuple[object, ...]:
    """What a run ended with: each agent's result, each volume's blocks, what it violated."""
    results = tuple(sorted((r.agent, r.outcome.value, int(r.hresult)) for r in world.results))
    volumes = tuple(
        tuple(volume.read(block) for block in range(16))  # the files' blocks come first
        for volume in world.namespace.volumes
    )
    broken = tuple(sorted(name for name, found in check_all(world).items() if found))
    return (results, volumes, broken)


def _outcomes(scenario: Scenario, options: ExploreOptions) -> tuple[set[tuple[object, ...]], int]:
    found: set[tuple[object, ...]] = set()
    report = explore(scenario, options, visit=lambda world: found.add(_outcome(world)))
    assert report.complete, report.bounds
    return found, report.runs


def _unbounded(reduction: bool) -> ExploreOptions:
    return ExploreOptions(
        max_choices=None,
        preemption_bound=None,
        fingerprints=False,
        reduction=reduction,
        timings="low",
    )


def test_one_agent_s_orders_all_commute_the_reduction_runs_one_of_them() -> None:
    plain, plain_runs = _outcomes(_scenario(1), _unbounded(False))
    reduced, reduced_runs = _outcomes(_scenario(1), _unbounded(True))
    assert reduced == plain
    assert reduced_runs < plain_runs


class _RandomOrders(ChoiceSource):
    """Random schedule (and other) choices from a seed, every timing at its low end: a run of
    the model the reduced exploration covers with timings="low"."""

    def __init__(self, seed: int) -> None:
        self.inner = SeededChoices(seed)

    def choose(self, site: str, n: int) -> int:
        return 0 if site.startswith(TIMING_SITES) else self.inner.choose(site, n)


def _reduced_outcomes(agents: int) -> set[tuple[object, ...]]:
    return _outcomes(_scenario(agents), _unbounded(True))[0]


@functools.cache
def _two_agents_outcomes() -> frozenset[tuple[object, ...]]:
    """The correct model's, searched once for every example of the property below."""
    return frozenset(_reduced_outcomes(2))


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_every_random_order_of_two_agents_ends_as_an_explored_one(seed: int) -> None:
    world, _ = run_world(_scenario(2), _RandomOrders(seed), Writer)
    assert _outcome(world) in _two_agents_outcomes()


def _with_faults(world: World) -> tuple[object, ...]:
    """A run's outcome and the faults that fired in it (kind and site)."""
    plan = world.coordinator.faults
    assert isinstance(plan, FaultPlan)
    return (_outcome(world), tuple(sorted((f.kind, f.site) for f in plan.fired)))


@functools.cache
def _two_agents_fault_outcomes() -> frozenset[tuple[object, ...]]:
    """Two agents explored with faults (any one fault at any site), once for every example."""
    found: set[tuple[object, ...]] = set()
    options = attrs.evolve(_unbounded(True), faults=True)
    report = explore(_scenario(2), options, visit=lambda world: found.add(_with_faults(world)))
    assert report.complete and report.violating_runs == 0
    return frozenset(found)


class _OneRandomFault(_RandomOrders):
    """Random orders, wide ranges at a random end, and at each fault site a fault fires (or
    not) at random until one has: a run of the model ``faults=True`` explores (a fault site's
    ends: 0 fires, the last does not)."""

    def __init__(self, seed: int) -> None:
        super().__init__(seed)
        self.fired = False

    def choose(self, site: str, n: int) -> int:
        if n <= WIDE or site == "schedule" or site.startswith(TIMING_SITES):
            return super().choose(site, n)
        fault = site.startswith("fault/")
        if fault and self.fired:
            return n - 1
        if fault:  # one site in 20 fires: the fault lands anywhere in the run, not first
            self.fired = self.inner.choose(f"{site}/fires", 20) == 0
            return 0 if self.fired else n - 1
        return (0, n - 1)[self.inner.choose(f"{site}/end", 2)]


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_every_random_order_with_a_random_fault_ends_as_an_explored_one(seed: int) -> None:
    explored = attrs.evolve(_scenario(2), faults=EXPLORED_FAULTS)
    world, _ = run_world(explored, _OneRandomFault(seed), Writer)
    assert _with_faults(world) in _two_agents_fault_outcomes()


def test_a_broken_coordinator_is_caught_with_the_reduction_as_by_random_orders(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _without_the_set_lock(monkeypatch)
    reduced = _reduced_outcomes(2)
    assert any("one set at a time" in broken for *_, broken in reduced)
    for seed in range(40):
        world, _ = run_world(_scenario(2), _RandomOrders(seed), Writer)
        assert _outcome(world) in reduced


def test_the_report_says_what_the_reduction_left_out() -> None:
    report = explore(_scenario(2), _unbounded(True))
    assert report.complete and report.bounds == []
    assert report.reduced_ways > 0 and report.offered_ways >= report.reduced_ways
    assert any("low end" in line for line in report.abstractions)
    plain = explore(_scenario(2), attrs.evolve(_unbounded(False), max_runs=report.runs))
    assert not plain.exhausted  # the plain enumeration needs more runs than the reduced one
    assert plain.reduced_ways == 0


def test_footprints_hook_the_model_while_active_and_leave_no_trace() -> None:
    classes = model_classes()
    assert Writer in classes and Coordinator in classes and Simulation not in classes
    before = {cls: dict(vars(cls)) for cls in classes}
    with Footprints() as watch:
        sim = Simulation()
        event = sim.event()
        watch.begin()
        event.succeed(1)
        footprint = watch.end()
        assert (id(event), "_value") in footprint.writes
        watch.begin()
        assert event.value == 1
        reader = watch.end()
        assert reader.conflicts(footprint) and not reader.conflicts(reader)
    assert {cls: dict(vars(cls)) for cls in classes} == before


def test_a_run_watched_step_by_step_is_the_same_run() -> None:
    def trace(observed: bool) -> str:
        choices = SeededChoices(5)
        with Footprints() as watch:

            class Log:
                def begin(self, event: object) -> None:
                    watch.begin()

                def end(self) -> None:
                    watch.end()

            def attach(world: World) -> None:
                if observed:
                    world.sim.step_observer = Log()

            world, _ = run_world(_scenario(2), choices, Writer, attach)
        return world.sim.trace.to_jsonl()

    assert trace(True) == trace(False)


def test_a_writer_that_keeps_a_late_freeze_is_found_and_its_careful_twin_is_proved() -> None:
    """Issue 20's second planted bug: a writer that freezes its application after VSS gave up
    on OnFreeze (a late reply) and never thaws it. With the late reply free to come or not,
    the complete search finds it in its shortest run and replays it; the writer that undoes a
    late freeze is explored completely with no violation."""
    late = FaultSpec(("writer-late-reply",), 100, (50,), sites=("*.OnFreeze",))
    scenario = attrs.evolve(_scenario(1), faults=late)
    options = _unbounded(True)
    found = explore(scenario, options, writer_factory=HyperVWriter)
    assert found.complete and found.runs == 2 and found.violating_runs == 1
    example = {c.invariant: c for c in found.counterexamples}["application thawed"]
    assert example.depth == 0  # the late reply is the first way: no shorter run breaks it
    world = replay_explored(scenario, example.token, writer_factory=HyperVWriter)
    assert check_all(world)["application thawed"]
    proved = explore(scenario, options, writer_factory=CarefulWriter)
    assert proved.complete and proved.runs == 2 and proved.violating_runs == 0


def test_a_container_read_is_a_write_only_when_the_step_changed_it() -> None:
    with Footprints() as watch:
        sim = Simulation()
        event = sim.event()
        watch.begin()
        assert list(event.callbacks or ()) == []  # only looked at
        looked = watch.end()
        watch.begin()
        assert event.callbacks is not None
        event.callbacks.append(lambda _: None)  # changed in place
        changed = watch.end()
        assert event.callbacks is not None
    assert not looked.writes and (id(event.callbacks), "") in changed.writes
    assert changed.conflicts(looked) and not looked.conflicts(looked)


def test_one_list_two_objects_hold_is_one_thing_to_conflict_on() -> None:
    with Footprints() as watch:
        sim = Simulation()
        first, second = sim.event(), sim.event()
        shared: list[object] = []
        first.callbacks = second.callbacks = shared  # type: ignore[assignment]
        watch.begin()
        assert first.callbacks is not None
        first.callbacks.append(print)  # changed through one object
        through_first = watch.end()
        watch.begin()
        assert len(second.callbacks or ()) == 1  # read through the other
        through_second = watch.end()
    assert through_first.conflicts(through_second)
