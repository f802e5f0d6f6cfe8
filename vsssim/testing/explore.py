"""Exhaustive exploration: every run of a small scenario, within stated bounds.

Every nondeterministic decision in a world goes through its choice source, so a run is a pure
function of the sequence of choices it made, and all runs form a tree of choices. :func:`explore`
walks that tree (stateless model checking: each run is replayed from the start with a prefix of
choices and extended with the first way at every new decision), runs every run to rest, and
checks every invariant on it. The partial-order reduction (:mod:`vsssim.testing.reduction`)
runs one order of each set of orders that only swap commuting steps.

Two orders walk the same tree: ``breadth-first`` (the default) takes the runs by the length of
the prefix of choices that decides them (every later decision takes the first way), so the
first violating run found for an invariant is a *shortest counterexample*: no run decided by
fewer leading choices breaks it. ``depth-first`` needs memory only for one branch.

By default nothing bounds the search: a small model is explored completely. What can cut it,
each stated in the :class:`ExploreReport` when it did (its ``bounds``; the report is
``complete`` only when nothing cut it):

- ``max_choices``: only the first N decisions of a run branch; later ones take the first way;
- ``preemption_bound``: at most K times per run does the scheduler pick another ready event
  than the oldest one (a *preemption*); the oldest-first order costs nothing;
- ``fingerprints`` with the reduction on: a state already explored is not explored again. A
  fingerprint is the whole state (:mod:`vsssim.testing.state`), so a state cut has the future
  of one explored, but the reduction finds the races of a run from its own steps, and a run
  cut short does not show the steps it would have raced with: this cut is a heuristic, and a
  search it cut is never reported complete;
- ``max_runs`` and Ctrl-C.

With ``fingerprints`` and ``reduction=False`` the cut is sound, and no bound: two states
with one fingerprint have one future (the same choices from either make the same rest of the
run, the same trace, the same verdicts), so every outcome of a cut run is an outcome of a run
explored, and ``distinct_states`` counts the states met exactly, as TLC does.

What the model's choices leave out is stated apart, in ``abstractions``: a range wider than
:data:`WIDE` values (the seed of an application's writes, a block number) is explored at its
two ends only; with ``timings="low"`` (the default) every timing range (a writer's or
provider's time to answer, the flush) at its low end only (with ``"ends"``, at both: each
timing doubles the runs, so only small models complete); with ``faults``, at most
``faults_per_run`` faults fire in a run.
"""

from __future__ import annotations

import hashlib
import heapq
import sys
from collections.abc import Callable
from types import FrameType
from typing import Any, Literal

import attrs

from vsssim.faults import SURVIVABLE
from vsssim.host.scenario import FaultSpec, Scenario, WriterFactory
from vsssim.host.world import World
from vsssim.sim.choices import ChoiceSource, RecordingChoices, SequenceChoices, decode_token
from vsssim.testing.counterexample import Counterexample
from vsssim.testing.footprints import Footprints
from vsssim.testing.fuzz import judge, run_world
from vsssim.testing.reduction import StepLog, backtracks
from vsssim.testing.state import StateEncoder, stack_state
from vsssim.vss.writers.base import Writer

__all__ = [
    "Counterexample",
    "ExploreOptions",
    "ExploreReport",
    "ExploreStatus",
    "explore",
    "replay_explored",
]

#: Ranges wider than this are explored at their two ends only.
WIDE = 4

#: The fault plan of ``faults=True``: every survivable kind may fire, or not, at every site.
#: The explorer's choices keep to ``faults_per_run``: a check that fires nothing touches no
#: state and commutes (a cap kept by the plan would make every check read it).
EXPLORED_FAULTS = FaultSpec(SURVIVABLE, activation_percent=100, fire_percents=(50,))
_FIRES_BELOW = EXPLORED_FAULTS.fire_percents[0]  # a site's way below it fires (``chance``)

#: The orders :func:`explore` can walk the tree of choices in.
Order = Literal["breadth-first", "depth-first"]
ORDERS: tuple[Order, ...] = ("breadth-first", "depth-first")

#: The abstraction every exploration makes (see the module docstring).
WIDE_RANGES = f"ranges wider than {WIDE} values are explored at their two ends"

#: How :func:`explore` explores timing ranges (see :attr:`ExploreOptions.timings`).
Timings = Literal["ends", "low"]
TIMINGS: tuple[Timings, ...] = ("ends", "low")
#: The decision sites that draw a time to wait (the model's timing ranges).
TIMING_SITES = ("writer/", "provider/", "vss/flush")
#: The abstraction of ``timings="low"``.
LOW_TIMINGS = "every timing range is explored at its low end only (timings fixed)"


@attrs.frozen
class ExploreOptions:
    """The bounds of an exploration (see the module docstring)."""

    max_choices: int | None = None
    preemption_bound: int | None = None
    faults: bool = False
    fingerprints: bool = False
    max_runs: int | None = None
    order: Order = "breadth-first"
    #: Partial-order reduction (:mod:`vsssim.testing.reduction`): of the orders of commuting
    #: steps at one instant, only one is run.
    reduction: bool = True
    #: Timing ranges (a writer's or provider's time to answer, the flush): ``"ends"`` at their
    #: two ends (or every value, when narrow), ``"low"`` at their low end only.
    timings: Timings = "low"
    #: With ``faults``: the most faults that fire in one run (None: any number).
    faults_per_run: int | None = 1


@attrs.frozen
class ExploreStatus:
    """Where a running exploration stands (what a progress display shows)."""

    runs: int
    violating_runs: int
    #: Branches of the tree of choices found and not yet run.
    frontier: int
    #: Distinct fingerprints so far (0 without fingerprints).
    distinct_states: int
    transitions: int


@attrs.frozen
class ExploreReport:
    """What an exploration did, what cut it (if anything), and what it found."""

    options: ExploreOptions
    runs: int
    complete_runs: int
    pruned_runs: int
    distinct_states: int
    max_depth: int
    exhausted: bool
    violating_runs: int
    counterexample: Counterexample | None
    #: Stopped by Ctrl-C: the totals are those of the runs finished before it.
    interrupted: bool = False
    #: Edges of the tree of choices walked (each decision a run made past its replayed prefix).
    transitions: int = 0
    #: What cut the search, as sentences (empty: nothing did).
    cuts: tuple[str, ...] = ()
    #: The shortest counterexample of each invariant broken, by invariant name.
    counterexamples: tuple[Counterexample, ...] = ()
    abstractions: tuple[str, ...] = (WIDE_RANGES,)
    #: Other ways of schedule decisions met (each a run the plain enumeration would make)...
    offered_ways: int = 0
    #: ... and those the partial-order reduction left out, as orders of commuting steps.
    reduced_ways: int = 0

    @property
    def complete(self) -> bool:
        """True when every run within the model's choices was run: nothing cut the search."""
        return self.exhausted and not self.bounds

    @property
    def bounds(self) -> list[str]:
        """What cut the search, as sentences: empty when it is complete."""
        lines = list(self.cuts)
        if self.interrupted:
            lines.append(f"interrupted after {self.runs} runs: the search is incomplete")
        elif not self.exhausted:
            lines.append(f"stopped after {self.options.max_runs} runs: the search is incomplete")
        return lines


class _Pruned(BaseException):
    """Raised at a decision whose state was seen before: this run adds nothing new.

    A BaseException, like GeneratorExit: it is the explorer's signal, not a model error, so
    the containment of model errors (``World._drive``, writers' handlers) lets it through."""


@attrs.define
class _Point:
    """One decision of a run: its site, the ways explored there, the way taken."""

    site: str
    ways: tuple[int, ...]
    taken: int


@attrs.define
class _Cuts:
    """Which bounds took something away from the search (only those are reported)."""

    decisions: bool = False
    preemptions: bool = False
    wide: bool = False
    timings: bool = False


class _ExplorerChoices(ChoiceSource):
    """Replays ``prefix``, then takes the first way, noting every decision and its ways."""

    def __init__(
        self,
        prefix: list[int],
        options: ExploreOptions,
        seen: set[bytes] | None,
        cuts: _Cuts,
        encoder: StateEncoder,
    ) -> None:
        self.prefix = prefix
        self.options = options
        self.seen = seen
        self.cuts = cuts
        self.encoder = encoder
        self.points: list[_Point] = []
        self.world: World | None = None
        self.log: StepLog | None = None
        #: The explorer's objects a run can reach (left out of its fingerprints).
        self.skip: tuple[object, ...] = ()
        self.fired = 0  # faults fired so far in the run

    def choose(self, site: str, n: int) -> int:
        if n <= 1:
            return 0
        position = len(self.points)
        bound = self.options.max_choices
        fault, cap = site.startswith("fault/"), self.options.faults_per_run
        if fault and cap is not None and self.fired >= cap:
            ways: tuple[int, ...] = (n - 1,)  # the last way never fires
        elif self.options.timings == "low" and site.startswith(TIMING_SITES):
            ways = (0,)
            self.cuts.timings = True
        elif bound is None or position < bound:
            if n <= WIDE or site == "schedule":
                ways = tuple(range(n))
            else:
                ways = (0, n - 1)
                self.cuts.wide = True
        else:
            ways = (0,)
            self.cuts.decisions = True
        if position < len(self.prefix):
            value = self.prefix[position]
        else:
            if self.seen is not None and site == "schedule" and self.world is not None:
                fingerprint = self._fingerprint(self.world)
                if fingerprint in self.seen:
                    raise _Pruned
                self.seen.add(fingerprint)
            value = ways[0]
        if fault and value < _FIRES_BELOW:
            self.fired += 1
        self.points.append(_Point(site, ways, value))
        if self.log is not None and site == "schedule":
            self.log.decided(position, value)
        return value

    def _fingerprint(self, world: World) -> bytes:
        """The state the run stands in (:mod:`vsssim.testing.state`): the world, the run
        loop's frames up to :func:`run_world`, and what of the explorer's own state decides
        the rest of the run (the bounds' counts)."""
        frame: FrameType | None = sys._getframe(1)
        while frame is not None and frame.f_code is not _RECORDING_CHOOSE:
            frame = frame.f_back
        stack = None if frame is None else stack_state(frame.f_back, run_world.__code__)
        if stack is None:  # not paused where a fingerprint can see the whole state
            return self.encoder.unknown(self).encode()
        options = self.options
        counts = (
            self.fired if options.faults and options.faults_per_run is not None else None,
            len(self.points) if options.max_choices is not None else None,
            _preemptions(self.points) if options.preemption_bound is not None else None,
        )
        return self.encoder.fingerprint((world, stack, counts), self.skip)


_RECORDING_CHOOSE = RecordingChoices.choose.__code__


def _preemptions(points: list[_Point]) -> int:
    """The schedule decisions that took another event than the oldest ready one."""
    return sum(point.site == "schedule" and point.taken != 0 for point in points)


def _explored(scenario: Scenario, options: ExploreOptions) -> Scenario:
    if not options.faults:
        return scenario
    return attrs.evolve(scenario, faults=EXPLORED_FAULTS)


def _faults_line(options: ExploreOptions) -> tuple[str, ...]:
    """The fault model's statement, with ``faults`` and a cap on faults per run."""
    n = options.faults_per_run
    if not options.faults or n is None:
        return ()
    return (f"at most {n} fault{'' if n == 1 else 's'} fire{'s' if n == 1 else ''} in a run",)


#: A branch not yet run: (the run it branches off, the position it branches at, the way).
_Branch = tuple[tuple[int, ...], int, int]


class _Frontier:
    """The branches of the tree found and not yet run, in the order of the search.

    Breadth-first is a heap keyed by the length of the prefix that decides a branch (ties in
    the order found); depth-first a stack that yields the deepest branch first. With the
    reduction, a schedule decision's other ways are branches only where a race asks for them
    (also at decisions of the run's replayed prefix): each (decision, way) is tried once."""

    def __init__(self, options: ExploreOptions, cuts: _Cuts) -> None:
        self.options = options
        self.cuts = cuts
        self._heap: list[tuple[int, int, _Branch]] = []
        self._stack: list[_Branch] = []
        self._found = 0
        #: Schedule (decision, way) pairs run or queued, by a digest of the prefix before it.
        self._tried: set[bytes] = set()
        #: Schedule ways offered at decisions first reached, and those left to commute.
        self.offered = self.reduced = 0

    def __len__(self) -> int:
        return len(self._heap) + len(self._stack)

    def add(
        self, points: list[_Point], start: int, wanted: dict[int, set[int]] | None = None
    ) -> None:
        """The ways a run did not take at its decisions from ``start`` on (those before were
        its prefix: their other ways are other runs' branches), within the preemption bound;
        with ``wanted`` (the reduction's backtracks), a schedule decision's only those."""
        taken = tuple(point.taken for point in points)
        preempted = 0
        digest = hashlib.blake2b(digest_size=16)
        for index, point in enumerate(points):
            schedule = point.site == "schedule"
            if schedule and wanted is not None:  # the digest so far names this decision
                self._tried.add(_way_key(digest, point.taken))
                others = self._wanted(point, wanted.get(index, set()), digest, index >= start)
            elif index >= start:
                others = [way for way in point.ways if way != point.taken]
            else:
                others = []
            if self.options.order == "depth-first":
                others.reverse()  # the stack yields the smallest way first
            for way in others:
                if not self._within_bound(preempted + (schedule and way != 0)):
                    continue
                self._push((taken, index, way))
            preempted += schedule and point.taken != 0
            if wanted is not None:
                digest.update(point.taken.to_bytes(4, "big"))

    def _wanted(self, point: _Point, ways: set[int], node: Any, new: bool) -> list[int]:
        """The ways a race asks for at a schedule decision, not tried there yet."""
        if new:
            self.offered += len(point.ways) - 1
            self.reduced += len(point.ways) - 1
        found = []
        for way in sorted(ways):
            if way == point.taken:
                continue
            if way not in point.ways:
                self.cuts.decisions = True  # past the decision bound: not tried
                continue
            key = _way_key(node, way)
            if key not in self._tried:
                self._tried.add(key)
                self.reduced -= 1
                found.append(way)
        return found

    def _within_bound(self, preemptions: int) -> bool:
        bound = self.options.preemption_bound
        if bound is not None and preemptions > bound:
            self.cuts.preemptions = True
            return False
        return True

    def _push(self, branch: _Branch) -> None:
        if self.options.order == "depth-first":
            self._stack.append(branch)
        else:
            self._found += 1
            heapq.heappush(self._heap, (branch[1], self._found, branch))

    def pop(self) -> list[int] | None:
        """The prefix of the next run, or None when the tree is walked."""
        if self._stack:
            taken, index, way = self._stack.pop()
        elif self._heap:
            taken, index, way = heapq.heappop(self._heap)[2]
        else:
            return None
        return [*taken[:index], way]


def _way_key(node: Any, way: int) -> bytes:
    """A (decision, way) pair's key: the digest of the choices before it (left as it is), and
    the way."""
    key = node.copy()
    key.update(b"/" + way.to_bytes(4, "big"))
    return bytes(key.digest())


class _Search:
    """One exploration's state: the frontier, the fingerprints seen and the totals."""

    def __init__(
        self, scenario: Scenario, options: ExploreOptions, writer_factory: WriterFactory
    ) -> None:
        self.scenario = _explored(scenario, options)
        self.options = options
        self.writer_factory = writer_factory
        self.seen: set[bytes] | None = set() if options.fingerprints else None
        self.encoder = StateEncoder()
        self.cuts = _Cuts()
        self.frontier = _Frontier(options, self.cuts)
        self.runs = self.complete = self.pruned = self.violating = 0
        self.depth = self.transitions = 0
        self.best: dict[str, Counterexample] = {}
        #: What the reduction watches steps with (None: no reduction).
        self.watch: Footprints | None = Footprints() if options.reduction else None

    def run(self, prefix: list[int], visit: Callable[[World], None] | None) -> None:
        """Run the run ``prefix`` decides, judge it, and add its branches to the frontier."""
        source = _ExplorerChoices(prefix, self.options, self.seen, self.cuts, self.encoder)
        recorder = RecordingChoices(source)

        def attach(world: World) -> None:
            source.world = world
            if self.watch is not None:
                source.log = StepLog(world.sim, self.watch)
                world.sim.step_observer = source.log
                self.watch.install()  # only while the world runs
            source.skip = (source, recorder, attach, self, self.watch, source.log)

        try:
            world, settled = run_world(self.scenario, recorder, self.writer_factory, attach)
        except _Pruned:
            self.pruned += 1
            if self.watch is not None:
                self.watch.remove()
        else:
            if self.watch is not None:
                self.watch.remove()
            report = judge(world, settled, self.runs + 1, -1, recorder.token())
            if report.failed:
                self.violating += 1
                found = report.violations or ("settled: the run did not come to rest",)
                self._note(Counterexample(report.token, len(recorder.recorded), found, len(prefix)))
            if visit is not None:
                visit(world)
            self.complete += 1
        self.runs += 1
        self.depth = max(self.depth, len(source.points))
        self.transitions += len(source.points) - max(len(prefix) - 1, 0)
        wanted = None if source.log is None else backtracks(source.log.steps)
        self.frontier.add(source.points, len(prefix), wanted)

    def _note(self, found: Counterexample) -> None:
        """Keep ``found`` for each invariant it broke if it is the shortest yet."""
        for name, _ in found.found:
            kept = self.best.get(name)
            if kept is None or found._key() < kept._key():
                self.best[name] = attrs.evolve(found, invariant=name)

    def status(self) -> ExploreStatus:
        seen = len(self.seen) if self.seen is not None else 0
        return ExploreStatus(self.runs, self.violating, len(self.frontier), seen, self.transitions)

    def report(self, exhausted: bool, interrupted: bool) -> ExploreReport:
        options, cuts = self.options, self.cuts
        lines = []
        if cuts.decisions:
            lines.append(
                f"only the first {options.max_choices} decisions of a run branch; later ones "
                "take the first way"
            )
        if cuts.preemptions:
            lines.append(f"at most {options.preemption_bound} preemptions per run")
        if self.pruned and options.reduction:
            lines.append(
                f"{self.pruned} runs cut at a state seen before while the reduction was on "
                "(a cut run's races are not followed, so this cut is a heuristic)"
            )
        examples = tuple(sorted(self.best.values(), key=lambda c: (*c._key(), c.invariant)))
        return ExploreReport(
            options=options,
            runs=self.runs,
            complete_runs=self.complete,
            pruned_runs=self.pruned,
            distinct_states=len(self.seen) if self.seen is not None else 0,
            max_depth=self.depth,
            exhausted=exhausted,
            violating_runs=self.violating,
            counterexample=examples[0] if examples else None,
            interrupted=interrupted,
            transitions=self.transitions,
            cuts=tuple(lines),
            counterexamples=tuple(sorted(examples, key=lambda c: c.invariant)),
            offered_ways=self.frontier.offered,
            reduced_ways=self.frontier.reduced,
            abstractions=(
                *((WIDE_RANGES,) if cuts.wide else ()),
                *((LOW_TIMINGS,) if cuts.timings else ()),
                *_faults_line(options),
            ),
        )


def explore(
    scenario: Scenario,
    options: ExploreOptions = ExploreOptions(),
    *,
    writer_factory: WriterFactory = Writer,
    visit: Callable[[World], None] | None = None,
    progress: Callable[[ExploreStatus], None] | None = None,
) -> ExploreReport:
    """Run every choice sequence of ``scenario`` within ``options``' bounds; check each run.

    ``visit`` is called with every complete run's world, after the invariants were checked:
    a test can assert its own property on every explored run. ``progress`` is called after
    every run with where the search stands. Ctrl-C (:class:`KeyboardInterrupt`) ends the
    search with the report of the runs finished so far, ``interrupted`` set.
    """
    search = _Search(scenario, options, writer_factory)
    prefix: list[int] | None = []
    interrupted = False
    try:
        while prefix is not None:
            search.run(prefix, visit)
            if progress is not None:
                progress(search.status())
            if options.max_runs is not None and search.runs >= options.max_runs:
                break
            prefix = search.frontier.pop()
    except KeyboardInterrupt:  # the runs finished so far are the report
        interrupted = True
    finally:
        if search.watch is not None:
            search.watch.remove()  # whatever stopped a run, the model's classes are left clean
    exhausted = not interrupted and len(search.frontier) == 0
    return search.report(exhausted, interrupted)


def replay_explored(
    scenario: Scenario,
    token: str,
    *,
    faults: bool = False,
    writer_factory: WriterFactory = Writer,
) -> World:
    """Run one explored run again, exactly, from its token (``faults`` as explored; the cap on
    faults per run is in its choices)."""
    choices = RecordingChoices(SequenceChoices(decode_token(token)))
    explored = _explored(scenario, ExploreOptions(faults=faults))
    world, _ = run_world(explored, choices, writer_factory)
    choices.check_consumed()  # choices left over: the token is another run's
    return world
