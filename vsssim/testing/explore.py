"""Exhaustive exploration: every run of a small scenario, within stated bounds.

Every nondeterministic decision in a world goes through its choice source, so a run is a pure
function of the sequence of choices it made. :func:`explore` enumerates those sequences depth
first (stateless model checking: each run is replayed from the start with a prefix of choices
and extended with the first way at every new decision), runs every complete run to rest, and
checks every invariant on it.

What keeps it finite, each stated in the :class:`ExploreReport` so a bounded search is never
mistaken for a proof:

- ``max_choices``: only the first N decisions of a run branch; later ones take the first way;
- ``preemption_bound``: at most K times per run does the scheduler pick another ready event
  than the oldest one (a *preemption*); the oldest-first order costs nothing;
- wide ranges (a writer's time to answer, a block number) are explored at their two ends only;
- fingerprints: a state already seen (same clock, same records so far as a multiset, same
  place in every live process, same pending timers) is not expanded again. A fingerprint does
  not see a process's local variables, so this reduction is a heuristic; ``fingerprints=False``
  turns it off for the plain enumeration.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from types import GeneratorType
from typing import Any

import attrs

from vsssim.faults import SURVIVABLE
from vsssim.host.scenario import FaultSpec, Scenario, WriterFactory
from vsssim.host.world import World
from vsssim.sim.choices import ChoiceSource, RecordingChoices, SequenceChoices, decode_token
from vsssim.sim.kernel import Event
from vsssim.sim.trace import TraceRecord
from vsssim.testing.fuzz import judge, run_world
from vsssim.vss.writers.base import Writer

__all__ = ["Counterexample", "ExploreOptions", "ExploreReport", "explore", "replay_explored"]

#: Ranges wider than this are explored at their two ends only.
WIDE = 4

#: The fault plan of ``faults=True``: every survivable kind may fire, or not, at every site.
EXPLORED_FAULTS = FaultSpec(SURVIVABLE, activation_percent=100, fire_percents=(50,))


@attrs.frozen
class ExploreOptions:
    """The bounds of an exploration (see the module docstring)."""

    max_choices: int = 12
    preemption_bound: int | None = 2
    faults: bool = False
    fingerprints: bool = True
    max_runs: int | None = None


@attrs.frozen
class Counterexample:
    """A run that broke an invariant: its replay token and what it broke."""

    token: str
    choices: int
    violations: tuple[str, ...]


@attrs.frozen
class ExploreReport:
    """What an exploration did, how it was bounded, and what it found."""

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

    @property
    def bounds(self) -> list[str]:
        """The reductions in force, as sentences."""
        o = self.options
        lines = [
            f"only the first {o.max_choices} decisions of a run branch; later ones take the "
            "first way",
            "ranges wider than 4 values are explored at their two ends",
        ]
        if o.preemption_bound is not None:
            lines.append(f"at most {o.preemption_bound} preemptions per run")
        if o.fingerprints:
            lines.append(
                "states already seen are not expanded again (fingerprints omit process locals)"
            )
        if self.interrupted:
            lines.append(f"interrupted after {self.runs} runs: the search is incomplete")
        elif not self.exhausted:
            lines.append(f"stopped after {o.max_runs} runs: the search is incomplete")
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


class _ExplorerChoices(ChoiceSource):
    """Replays ``prefix``, then takes the first way, noting every decision and its ways."""

    def __init__(self, prefix: list[int], options: ExploreOptions, seen: set[bytes] | None) -> None:
        self.prefix = prefix
        self.options = options
        self.seen = seen
        self.points: list[_Point] = []
        self.world: World | None = None
        self._records = 0
        self._record_sum = 0

    def choose(self, site: str, n: int) -> int:
        if n <= 1:
            return 0
        position = len(self.points)
        if position < self.options.max_choices:
            ways = tuple(range(n)) if n <= WIDE or site == "schedule" else (0, n - 1)
        else:
            ways = (0,)
        if position < len(self.prefix):
            value = self.prefix[position]
        else:
            if self.seen is not None and site == "schedule" and self.world is not None:
                fingerprint = self._fingerprint(self.world)
                if fingerprint in self.seen:
                    raise _Pruned
                self.seen.add(fingerprint)
            value = ways[0]
        self.points.append(_Point(site, ways, value))
        return value

    def _fingerprint(self, world: World) -> bytes:
        """The world's state as far as it can be seen from outside its processes' locals."""
        sim = world.sim
        records = sim.trace.records
        for record in records[self._records :]:
            self._record_sum = (self._record_sum + _record_digest(record)) % (1 << 256)
        self._records = len(records)
        digest = hashlib.sha256()
        digest.update(f"{sim.now}|{self._record_sum}|".encode())
        for process in sim.live_processes:
            digest.update(f"{process.name}@{_position(process._generator)};".encode())
        # Ready events in their order (it decides what runs next); later ones as a multiset.
        pending = sim.pending()
        ready = [_waiters(event) for when, event in pending if when == sim.now]
        later = sorted(
            (when - sim.now, _waiters(event)) for when, event in pending if when > sim.now
        )
        digest.update(f"{later}|{ready}".encode())
        return digest.digest()


def _waiters(event: Event) -> str:
    """An event by its kind and who waits on it (processes by name), for a fingerprint."""
    owners = sorted(
        getattr(owner, "name", type(owner).__name__)
        for owner in (getattr(cb, "__self__", None) for cb in event.callbacks or ())
        if owner is not None
    )
    return f"{type(event).__name__}<{','.join(owners)}>"


def _record_digest(record: TraceRecord) -> int:
    """A record's content without its sequence number (so commuting steps give equal sums)."""
    data = record.to_dict()
    del data["seq"]
    text = repr(sorted(data.items()))
    return int.from_bytes(hashlib.sha256(text.encode()).digest(), "big")


def _position(generator: Any) -> str:
    """Where a generator (and the generators it delegates to) stands: ``line>line>...``."""
    lines = []
    while isinstance(generator, GeneratorType):
        frame = generator.gi_frame
        lines.append(str(frame.f_lineno) if frame is not None else "end")
        generator = generator.gi_yieldfrom
    return ">".join(lines)


def _explored(scenario: Scenario, options: ExploreOptions) -> Scenario:
    return attrs.evolve(scenario, faults=EXPLORED_FAULTS) if options.faults else scenario


def explore(
    scenario: Scenario,
    options: ExploreOptions = ExploreOptions(),
    *,
    writer_factory: WriterFactory = Writer,
    visit: Callable[[World], None] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ExploreReport:
    """Run every choice sequence of ``scenario`` within ``options``' bounds; check each run.

    ``visit`` is called with every complete run's world, after the invariants were checked:
    a test can assert its own property on every explored run. ``progress`` is called after
    every run with the runs so far and the violating ones. Ctrl-C (:class:`KeyboardInterrupt`)
    ends the search with the report of the runs finished so far, ``interrupted`` set.
    """
    explored = _explored(scenario, options)
    seen: set[bytes] | None = set() if options.fingerprints else None
    prefix: list[int] | None = []
    runs = complete = pruned = violating = depth = 0
    best: Counterexample | None = None
    interrupted = False
    try:
        while prefix is not None:
            source = _ExplorerChoices(prefix, options, seen)
            recorder = RecordingChoices(source)

            def attach(world: World, source: _ExplorerChoices = source) -> None:
                source.world = world

            try:
                world, settled = run_world(explored, recorder, writer_factory, attach)
            except _Pruned:
                pruned += 1
            else:
                report = judge(world, settled, runs + 1, -1, recorder.token())
                if report.failed:
                    violating += 1
                    found = Counterexample(
                        report.token, len(recorder.recorded), report.violations
                    )
                    if best is None or found.choices < best.choices:
                        best = found
                if visit is not None:
                    visit(world)
                complete += 1
            runs += 1
            depth = max(depth, len(source.points))
            prefix = _next_prefix(source.points, options.preemption_bound)
            if progress is not None:
                progress(runs, violating)
            if options.max_runs is not None and runs >= options.max_runs:
                break
    except KeyboardInterrupt:  # the runs finished so far are the report
        interrupted = True
        runs = complete + pruned
    return ExploreReport(
        options=options,
        runs=runs,
        complete_runs=complete,
        pruned_runs=pruned,
        distinct_states=len(seen) if seen is not None else 0,
        max_depth=depth,
        exhausted=prefix is None and not interrupted,
        violating_runs=violating,
        counterexample=best,
        interrupted=interrupted,
    )


def _next_prefix(points: list[_Point], preemption_bound: int | None) -> list[int] | None:
    """The next choice sequence depth first: the deepest decision with a way left to try."""
    preemptions = [0]
    for point in points:
        preemptions.append(preemptions[-1] + (point.site == "schedule" and point.taken != 0))
    for index in range(len(points) - 1, -1, -1):
        point = points[index]
        later = point.ways[point.ways.index(point.taken) + 1 :]
        for way in later:
            used = preemptions[index] + (point.site == "schedule" and way != 0)
            if preemption_bound is None or used <= preemption_bound:
                return [p.taken for p in points[:index]] + [way]
    return None


def replay_explored(
    scenario: Scenario,
    token: str,
    *,
    faults: bool = False,
    writer_factory: WriterFactory = Writer,
) -> World:
    """Run one explored run again, exactly, from its token (``faults`` as explored)."""
    choices = RecordingChoices(SequenceChoices(decode_token(token)))
    explored = _explored(scenario, ExploreOptions(faults=faults))
    world, _ = run_world(explored, choices, writer_factory)
    choices.check_consumed()  # choices left over: the token is another run's
    return world
