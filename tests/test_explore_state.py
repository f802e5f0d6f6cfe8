"""The sound state fingerprint: the whole state, so a cut never loses an outcome or a violation.

Against the plain enumeration: with fingerprints (and no reduction) the search runs fewer
runs and ends with exactly the same outcomes and the same violations. And from inside: what
two states differ in (a generator's local, where a loop stands, a pending event, the order of
records) keeps their fingerprints apart; history that does not decide the future (the
kernel's heap layout) does not.
"""

from __future__ import annotations

from collections.abc import Iterator

import attrs
import pytest

from tests.test_explore import _without_the_set_lock
from tests.test_explore_reduction import _scenario
from vsssim.host.scenario import Scenario
from vsssim.host.world import World
from vsssim.sim.kernel import LOCALS_AT_CHOICE, Simulation
from vsssim.testing.explore import ExploreOptions, ExploreReport, explore
from vsssim.testing.invariants import check_all
from vsssim.testing.state import StateEncoder


def _outcome(world: World) -> tuple[str, tuple[str, ...]]:
    """A run's whole trace (as its digest) and the invariants it broke."""
    broken = tuple(sorted(name for name, found in check_all(world).items() if found))
    return world.sim.trace.digest(), broken


def _search(scenario: Scenario, options: ExploreOptions) -> tuple[set[object], ExploreReport]:
    found: set[object] = set()
    report = explore(scenario, options, visit=lambda world: found.add(_outcome(world)))
    return found, report


PLAIN = ExploreOptions(reduction=False)
CUT = ExploreOptions(reduction=False, fingerprints=True)


def test_the_cut_search_ends_with_the_plain_enumeration_s_outcomes_and_is_complete() -> None:
    plain, plain_report = _search(_scenario(1), PLAIN)
    cut, cut_report = _search(_scenario(1), CUT)
    assert plain_report.complete and cut_report.complete, cut_report.bounds
    assert cut == plain
    assert cut_report.pruned_runs > 0 and cut_report.complete_runs < plain_report.complete_runs
    assert cut_report.runs == cut_report.complete_runs + cut_report.pruned_runs
    assert cut_report.distinct_states > 0


def test_with_a_decision_bound_both_searches_find_the_same_violations(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _without_the_set_lock(monkeypatch)
    plain, _ = _search(_scenario(2), attrs.evolve(PLAIN, max_choices=8))
    cut, cut_report = _search(_scenario(2), attrs.evolve(CUT, max_choices=8))
    assert cut == plain
    assert cut_report.pruned_runs > 0
    broken = {name for _, names in plain for name in names}
    assert "one set at a time" in broken
    assert {c.invariant for c in cut_report.counterexamples} == broken


def _paused(start: int, values: list[int]) -> Iterator[int]:
    """A generator that stands in a loop (its iterator on the frame's stack)."""
    total = start
    for value in values:
        total += value
        yield total


def _holding(kept: str, n: int) -> Iterator[int]:
    """A started generator whose local ``kept`` nothing reads until it ends."""

    def gen() -> Iterator[int]:
        held = kept
        yield from range(n)
        yield len(held)

    started = gen()
    next(started)
    return started


def _fingerprint(*roots: object) -> bytes:
    return StateEncoder().fingerprint(roots)


def test_generators_that_differ_only_inside_their_frames_are_different_states() -> None:
    def at(start: int, values: list[int], steps: int) -> Iterator[int]:
        gen = _paused(start, values)
        for _ in range(steps):
            next(gen)
        return gen

    same = _fingerprint(at(0, [1, 0, 0, 1], 2))
    assert _fingerprint(at(0, [1, 0, 0, 1], 2)) == same
    assert _fingerprint(_holding("kept", 2)) == _fingerprint(_holding("kept", 2))
    assert _fingerprint(_holding("kept", 2)) != _fingerprint(_holding("other", 2))  # a local
    assert _fingerprint(at(0, [1, 0, 0, 1], 3)) != same  # the loop stands further on
    assert _fingerprint(at(0, [1, 0, 0, 1], 0)) != same  # not started


def test_sharing_cycles_and_unreadable_objects_are_part_of_the_state() -> None:
    shared = [1]
    twice = [shared, shared]
    apart = [[1], [1]]
    assert _fingerprint(twice) != _fingerprint(apart)
    looped: list[object] = []
    looped.append(looped)
    assert _fingerprint(looped) == _fingerprint(looped)
    encoder = StateEncoder()
    lock = __import__("threading").Lock()
    assert encoder.fingerprint((lock,)) != encoder.fingerprint((lock,))  # never merged
    assert encoder.unreadable


def test_the_kernel_s_queue_by_content_not_by_heap_layout() -> None:
    def scheduled(delays: list[int]) -> Simulation:
        sim = Simulation()
        for delay in delays:
            sim.timeout(delay)
        return sim

    encoder = StateEncoder()
    one = scheduled([5, 3, 9])
    assert encoder.fingerprint((one,)) == encoder.fingerprint((scheduled([9, 5, 3]),))
    assert encoder.fingerprint((one,)) != encoder.fingerprint((scheduled([5, 3, 8]),))


def test_the_order_of_records_is_part_of_the_state() -> None:
    def recorded(*actors: str) -> Simulation:
        sim = Simulation()
        for actor in actors:
            sim.trace.record(None, actor, "Wrote")
        return sim

    encoder = StateEncoder()
    assert encoder.fingerprint((recorded("a", "b"),)) == encoder.fingerprint((recorded("a", "b"),))
    assert encoder.fingerprint((recorded("a", "b"),)) != encoder.fingerprint((recorded("b", "a"),))


def test_the_run_loops_live_locals_are_locals_of_theirs() -> None:
    for name, live in LOCALS_AT_CHOICE.items():
        assert set(live) <= set(getattr(Simulation, name).__code__.co_varnames), name
