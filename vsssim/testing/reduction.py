"""Partial-order reduction for the explorer: which other orders of a run are worth running.

A schedule choice orders events ready at one instant. Two orders of steps that commute give the
same run up to the order of their trace records, so exploring both is waste. After each run,
:func:`backtracks` looks at its steps (with their footprints, :mod:`vsssim.testing.footprints`)
and finds its *races*: two steps at one instant that touch a common object, the later one's
event existing independently of the earlier one. For each race it asks for the run where the
later event goes first, at the schedule decision the earlier one was taken at; every other way
of a schedule decision is left out. This is dynamic partial-order reduction (Flanagan and
Godefroid, 2005), run on every run the explorer makes. It is meant to run every run that
differs from an explored one by more than the order of commuting steps, as far as the
footprints see what steps touch; the footprints' module says what they do not see.

What it rests on, and what the explorer's tests check against the plain enumeration: two
steps whose footprints do not meet commute, and no invariant's verdict depends on the order of
the records of two commuting steps.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from vsssim.sim.kernel import Event, Simulation
from vsssim.testing.footprints import Footprint, Footprints

__all__ = ["Step", "StepLog", "backtracks"]


@attrs.frozen
class Step:
    """One step of a run: its instant, its event (None: a ticker), what it touched, and the
    schedule decision it was taken at (its index among the run's decisions and the ids of the
    events ready then, in order), if one was."""

    instant: int
    event: int | None
    footprint: Footprint
    decision: tuple[int, tuple[int, ...]] | None = None
    #: The events the step made ready at its instant (by id).
    scheduled: frozenset[int] = frozenset()


class StepLog:
    """The kernel's step observer during an explored run: the run's steps, in order.

    The explorer's choice source calls :meth:`decided` at each schedule decision, so the next
    step knows it was chosen there."""

    def __init__(self, sim: Simulation, watch: Footprints) -> None:
        self.sim = sim
        self.watch = watch
        self.steps: list[Step] = []
        self._decision: tuple[int, tuple[int, ...], int] | None = None
        self._event: Event | None = None
        self._ready_before: set[int] = set()
        #: The step running now is a ticker alone at its instant (see :meth:`begin`).
        self._lone = False
        #: The events of the run's steps, kept alive so no id is reused within the run.
        self._events: list[Event] = []

    def decided(self, index: int, taken: int) -> None:
        """The run's decision ``index`` picks ready event ``taken`` to run next."""
        ready = tuple(id(event) for event in self.sim.ready)
        self._decision = (index, ready, ready[taken])

    def begin(self, event: Event | None) -> None:
        self._event = event
        if event is None and self.sim.ticker_alone():
            # Every other step at its instant follows from it, and a ticker is never a way of
            # a schedule decision: it races with nothing, so what it touches is not watched.
            self._lone = True
            return
        if event is not None:
            self._events.append(event)
        self._ready_before = {id(ready) for ready in self.sim.ready}
        self.watch.begin()

    def end(self) -> None:
        if self._lone:
            self._lone = False
            self._decision = None
            return
        footprint = self.watch.end()
        event, self._event = self._event, None
        made = frozenset(id(ready) for ready in self.sim.ready) - self._ready_before
        if event is None and not footprint:
            self._decision = None
            return  # the clock moved, nothing fired
        self._add(event, footprint, made)

    def skipped(self, event: Event) -> None:
        """A cancelled event taken off the ready set: a step that read its cancel mark (so it
        races with the step that cancelled it)."""
        self._events.append(event)
        self._add(event, Footprint(frozenset({(id(event), "_cancelled")}), frozenset()))

    def _add(
        self, event: Event | None, footprint: Footprint, made: frozenset[int] = frozenset()
    ) -> None:
        decision = None
        if event is not None and self._decision is not None and self._decision[2] == id(event):
            decision = self._decision[:2]
        self._decision = None
        key = None if event is None else id(event)
        self.steps.append(Step(self.sim.now, key, footprint, decision, made - {key}))


def backtracks(steps: Iterable[Step]) -> dict[int, set[int]]:
    """For each schedule decision of a run (by index), the ways a race asks to be tried."""
    wanted: dict[int, set[int]] = {}
    group: list[Step] = []
    for step in steps:
        if group and step.instant != group[0].instant:
            _races(group, wanted)
            group = []
        group.append(step)
    if group:
        _races(group, wanted)
    return wanted


def _races(group: list[Step], wanted: dict[int, set[int]]) -> None:
    """The races among the steps of one instant (see the module docstring)."""
    before: list[set[int]] = []  # per step: the steps of the instant that happen before it
    for j, later in enumerate(group):
        happened: set[int] = set()
        causes: set[int] = set()  # the steps that led to the later step's event at this instant
        for i in range(j):
            earlier = group[i]
            if later.event is not None and _led_to(earlier, later.event):
                causes |= {i} | before[i]
            if earlier.footprint.conflicts(later.footprint):
                happened |= {i} | before[i]
        happened |= causes
        before.append(happened)
        if later.event is not None:
            _race(group, before, j, causes, wanted)


def _led_to(earlier: Step, event: int) -> bool:
    """True when the earlier step made ``event`` ready, or counted towards it (an all-of
    condition's count, which commutes with the other counts: the condition is ready only
    after every one of them)."""
    return event in earlier.scheduled or any(key[0] == event for key in earlier.footprint.commuting)


def _race(
    group: list[Step],
    before: list[set[int]],
    j: int,
    causes: set[int],
    wanted: dict[int, set[int]],
) -> None:
    """The backtrack the last step that races with step ``j`` asks for (Flanagan and
    Godefroid: races with earlier steps are found in the runs that reverse this one)."""
    later = group[j]
    for i in sorted(before[j], reverse=True):
        earlier = group[i]
        if not earlier.footprint.conflicts(later.footprint):
            continue
        ready = earlier.decision[1] if earlier.decision is not None else (earlier.event,)
        if later.event not in ready and i in causes:
            continue  # the earlier step led to the later event: not a race
        if earlier.decision is not None:
            index = earlier.decision[0]
            if later.event in ready:  # it could have gone first there
                wanted.setdefault(index, set()).add(ready.index(later.event))
            else:  # enabled by something independent of it: try everything there
                wanted.setdefault(index, set()).update(range(len(ready)))
        return
