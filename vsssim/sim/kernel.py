"""The deterministic discrete-event kernel: simulated clock, events and generator processes.

The shape is SimPy's (processes are generators that yield events to wait on), cut down to what
the model needs and made deterministic:

* time is an integer number of microseconds, so ties are exact; the future is a heap of the
  instants that have events due, each with its events in scheduling order;
* events due at the same instant form the *ready set*; when it holds more than one event the
  kernel asks the choice source which runs first (``site="schedule"``). With a FIFO source this
  costs nothing; with a seeded or recorded source it is how interleavings are drawn and replayed;
* :mod:`tickers <vsssim.sim.tickers>` (recurring actions such as an application's writes) run
  *between instants*: once the ready set is empty, before the clock moves to the next instant
  that has events, every ticker due at or before that instant fires, in order of due instant
  (ties in the order they were armed), each at its own instant. So a write due at the instant
  of a protocol event lands before that event, and a ticker armed for the current instant
  fires once the events ready at it have run. Tickers ask the choice source nothing;
* a failed event that nobody waits for crashes the run (errors are never swallowed);
* a run is bounded in work as well as in time: more than :data:`INSTANT_BUDGET` events at one
  instant (a process looping in zero simulated time), or more than ``event_budget`` events in
  all, raise :class:`~vsssim.errors.Livelock` instead of hanging.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Iterable
from typing import Any, Protocol

from vsssim.errors import Livelock
from vsssim.sim.choices import ChoiceSource, FifoChoices
from vsssim.sim.events import (
    _PROCESSED,
    Condition,
    Event,
    Process,
    ProcessGenerator,
    Timeout,
    _all_done,
    _any_done,
    _AnyOf,
)
from vsssim.sim.tickers import Fire, Ticker, TickerQueue
from vsssim.sim.trace import Trace

__all__ = [
    "INSTANT_BUDGET",
    "LOCALS_AT_CHOICE",
    "MILLISECOND",
    "SECOND",
    "Condition",
    "Event",
    "Process",
    "ProcessGenerator",
    "Simulation",
    "StepObserver",
    "Timeout",
]

#: One simulated second, in the kernel's unit (microseconds).
SECOND = 1_000_000
#: One simulated millisecond.
MILLISECOND = 1_000
#: Events one simulated instant may process before the run counts as a livelock. The largest
#: legitimate instant (1,000 writers answering one event at once) takes a few tens of thousands.
INSTANT_BUDGET = 1_000_000


#: The locals of the run loops that decide the rest of a run where they ask the choice source
#: which ready event goes first (``site="schedule"``); their other locals are aliases of the
#: simulation's attributes or are set again before they are read. A state fingerprint of a
#: run paused at that choice (:mod:`vsssim.testing.state`) reads these and nothing else of
#: these frames: keep the lists true when the loops change.
LOCALS_AT_CHOICE: dict[str, tuple[str, ...]] = {
    "_run": ("limit", "stop", "processed", "budget"),
    "_run_stepped": ("limit", "stop"),
    "step": (),
    "_pick": (),
}


class StepObserver(Protocol):
    """Told where each step of a run begins and ends (the explorer's partial-order reduction
    watches what each step touches). A step is one event's callbacks, or one ticker firing
    (``event`` None). With an observer the kernel runs :meth:`Simulation.step` by step, the
    same events in the same order, only slower."""

    def begin(self, event: Event | None) -> None:
        """A step starts: ``event``'s callbacks (or a ticker, for None) run next."""

    def end(self) -> None:
        """The step that began last is over (also when it raised)."""

    def skipped(self, event: Event) -> None:
        """A cancelled ``event`` was taken off the ready set: a step that does nothing, but
        whether it came before its cancelling matters."""


class Simulation:
    """The clock, the run queue, the trace and the choice source of one simulated world."""

    def __init__(
        self,
        choices: ChoiceSource | None = None,
        *,
        trace: Trace | None = None,
        event_budget: int | None = None,
        instant_budget: int = INSTANT_BUDGET,
    ) -> None:
        if instant_budget < 1 or (event_budget is not None and event_budget < 1):
            raise ValueError("event budgets must be at least 1")
        self.choices = choices if choices is not None else FifoChoices()
        self.trace = trace if trace is not None else Trace()
        self.now = 0
        self.active_process: Process | None = None
        self._ready: deque[Event] = deque()
        # The future: a heap of the instants that have events due, and each instant's events
        # in the order they were scheduled (which is the order they become ready in).
        self._instants: list[int] = []
        self._due: dict[int, list[Event]] = {}
        self._live_processes: dict[Process, None] = {}
        self._tickers = TickerQueue(self._clock)
        self.trace.clock = self._clock
        #: Events processed so far, ticker firings included (cancelled timeouts not counted).
        self.events_processed = 0
        self.instant_budget = instant_budget
        #: The most events the whole run may process (None: no bound but the instant's).
        self.event_budget = event_budget
        self._instant_first = 0  # events_processed when the clock last moved
        #: Told of every step (see :class:`StepObserver`); None, the default, costs nothing.
        self.step_observer: StepObserver | None = None

    def _budget_left(self) -> int:
        """The count of processed events at which the next one is over a budget."""
        limit = self._instant_first + self.instant_budget
        if self.event_budget is not None and self.event_budget < limit:
            return self.event_budget
        return limit

    def _over_budget(self) -> Livelock:
        """The error for a run that spent its budget: which one, and who was ready."""
        names: list[str] = []
        for event in self._ready:
            for callback in event.callbacks or ():
                owner = getattr(callback, "__self__", None)
                if isinstance(owner, Process) and owner.name not in names:
                    names.append(owner.name)
        at_once = self.events_processed - self._instant_first
        if at_once >= self.instant_budget:
            reason = f"{at_once} events at one instant without the clock moving"
        else:
            reason = (
                f"{self.events_processed} events in the run (the budget is {self.event_budget})"
            )
        return Livelock(reason, self.now, self.events_processed, tuple(names[:5]))

    def _clock(self) -> int:
        return self.now

    @property
    def choices(self) -> ChoiceSource:
        """The source that decides ties (``site="schedule"``) and the model's other choices."""
        return self._choices

    @choices.setter
    def choices(self, source: ChoiceSource) -> None:
        self._choices = source
        # A plain FifoChoices answers 0 and records nothing: ties need not ask it (fast path).
        self._ask_on_ties = type(source) is not FifoChoices

    # -- making events -------------------------------------------------------------------
    def event(self) -> Event:
        """A new pending event, triggered later with ``succeed`` or ``fail``."""
        return Event(self)

    def timeout(self, delay: int, value: Any = None) -> Timeout:
        """An event that triggers ``delay`` microseconds from now."""
        return Timeout(self, delay, value)

    def process(self, generator: ProcessGenerator, name: str) -> Process:
        """Start ``generator`` as a process at the current instant."""
        return Process(self, generator, name)

    def all_of(self, events: Iterable[Event]) -> Condition:
        """An event that triggers when every one of ``events`` has."""
        return Condition(self, events, _all_done)

    def any_of(self, events: Iterable[Event]) -> Condition:
        """An event that triggers when the first of ``events`` does."""
        return _AnyOf(self, events, _any_done)

    def ticker(self, name: str, fire: Fire) -> Ticker:
        """A recurring action, resting until :meth:`Ticker.arm` (see :mod:`vsssim.sim.tickers`)."""
        return self._tickers.ticker(name, fire)

    @property
    def live_tickers(self) -> list[Ticker]:
        """Tickers not stopped: the armed ones in the order they will fire, then the resting
        ones, oldest first (for tools that look at a world's state)."""
        return self._tickers.in_order()

    @property
    def live_processes(self) -> list[Process]:
        """Processes that have started and not yet finished, oldest first."""
        return list(self._live_processes)

    # -- running -------------------------------------------------------------------------
    def _schedule(self, event: Event, delay: int) -> None:
        if delay == 0:
            self._ready.append(event)
        else:
            when = self.now + delay
            due = self._due.get(when)
            if due is None:
                self._due[when] = [event]
                heapq.heappush(self._instants, when)
            else:
                due.append(event)

    def peek(self) -> int | None:
        """The time of the next event or ticker, or None when nothing is scheduled."""
        if self._ready:
            return self.now
        ticker = self._tickers.next_due()
        when = self._next_instant()
        if when is None or ticker is None:
            return ticker if when is None else when
        return min(when, ticker)

    def ticker_alone(self) -> bool:
        """True when the next step fires a ticker alone at its instant: nothing is ready, the
        clock moves to the ticker's due instant, and no event and no other ticker is due then.
        Every other step at that instant follows from it (for the explorer's reduction: such a
        step races with nothing)."""
        if self._ready:
            return False
        due = self._tickers.next_due()
        if due is None or due <= self.now:
            return False
        when = self._next_instant()
        return (when is None or due < when) and self._tickers.due_alone(due)

    def pending(self) -> list[tuple[int, Event]]:
        """The events still to process, as ``(when, event)`` in the order they become ready
        (ties aside): the ready ones at ``now``, then each later instant's; cancelled timeouts
        left out. For tools that look at a world's state."""
        found = [(self.now, event) for event in self._ready if not event._cancelled]
        for when in sorted(self._due):
            found.extend((when, event) for event in self._due[when] if not event._cancelled)
        return found

    @property
    def ready(self) -> tuple[Event, ...]:
        """The events ready at ``now``, in the order a ``"schedule"`` choice indexes them
        (cancelled timeouts included: they are ways too, which do nothing)."""
        return tuple(self._ready)

    def _next_instant(self) -> int | None:
        """The next instant that has events due (dropping those that hold only cancelled
        timeouts), or None."""
        instants = self._instants
        due = self._due
        while instants:
            when = instants[0]
            if any(not event._cancelled for event in due[when]):
                return when
            heapq.heappop(instants)
            del due[when]
        return None

    def _advance(self) -> bool:
        """With nothing ready: fire the ticker due first, or move the clock to the next
        instant and make its events ready. False when nothing (but cancelled timeouts) is left.
        """
        when = self._next_instant()
        ticker = self._tickers.next_due()
        if ticker is not None and (when is None or ticker <= when):
            self.events_processed = self._fire_ticker(ticker, self.events_processed)
            return True
        if when is None:
            return False
        heapq.heappop(self._instants)
        live = [event for event in self._due.pop(when) if not event._cancelled]
        self.now = when
        self._instant_first = self.events_processed
        self._ready.extend(live)
        return True

    def _fire_ticker(self, when: int, processed: int) -> int:
        """Fire the ticker due at ``when`` (the clock moves there), counted as one event
        within the budgets; the count of processed events after it."""
        if when != self.now:
            self.now = when
            self._instant_first = processed
        if processed >= self._budget_left():
            self.events_processed = processed
            raise self._over_budget()
        self._tickers.fire_next()
        return processed + 1

    def _pick(self) -> Event:
        """Take the next event off the (non-empty) ready set, asking the choice source on ties."""
        ready = self._ready
        if self._ask_on_ties and len(ready) > 1:
            index = self._choices.choose("schedule", len(ready))
            if index:
                event = ready[index]
                del ready[index]
                return event
        return ready.popleft()

    def step(self) -> bool:
        """Process one event: the next due, or the one the choice source picks among ties.

        False when nothing was left to process.
        """
        observer = self.step_observer
        if not self._ready:
            before = self.events_processed
            if observer is None:
                advanced = self._advance()
            else:  # a ticker may fire: that is a step
                observer.begin(None)
                try:
                    advanced = self._advance()
                finally:
                    observer.end()
            if not advanced:
                return False
            if self.events_processed != before:  # a ticker fired: that was the step
                return True
        event = self._pick()
        if event._cancelled:
            if observer is not None:
                observer.skipped(event)
            return True
        if self.events_processed >= self._budget_left():
            self._ready.appendleft(event)  # not processed: left where it was
            raise self._over_budget()
        self.events_processed += 1
        if observer is not None:
            observer.begin(event)
        try:
            callbacks = event.callbacks
            event.callbacks = None
            event._state = _PROCESSED
            if callbacks:
                for callback in callbacks:
                    callback(event)
        finally:
            if observer is not None:
                observer.end()
        if not event._ok and not event._defused:
            raise event._value
        return True

    def run(self, until: int | Event | None = None) -> Any:
        """Run until nothing is left, until the clock reaches ``until``, or until an event.

        With an event, returns its value (raising its exception if it failed).
        """
        if isinstance(until, Event):
            stop = until
            self._run(None, stop)
            if not stop.processed:
                raise RuntimeError("the simulation ran out of events before the awaited event")
            if not stop.ok:
                stop.defuse()
                raise stop.value
            return stop.value
        if self._run(until, None) and until is not None and until > self.now:
            self.now = until
        return None

    def wait_for(self, event: Event, until: int | None = None) -> bool:
        """Run until ``event`` is processed (True) or the clock reaches ``until`` (False; the
        clock then stands at ``until``, also when nothing was left to run). With no ``until``,
        False means the run ran out of events first. A failure of ``event`` is raised as in
        :meth:`run`, unless it was defused (the caller then reads it from the event)."""
        if not event.processed:
            self._run(until, event)
            if not event.processed and until is not None and until > self.now:
                self.now = until
        return event.processed

    def _run_stepped(self, limit: int | None, stop: Event | None) -> bool:
        """:meth:`_run` one :meth:`step` at a time (what an observer needs)."""
        while stop is None or stop._state != _PROCESSED:
            when = self.peek()
            if when is None:
                return True
            if limit is not None and when > limit:
                self.now = limit
                return False
            self.step()
        return True

    def _run(self, limit: int | None, stop: Event | None) -> bool:  # long: the inlined hot loop
        """Call :meth:`step` until ``stop`` is processed or nothing is left (True) or the next
        event is due after ``limit`` (False; the clock then stands at ``limit``).

        The hot loop of every run: step(), _advance(), _fire_ticker() and _pick() are written
        out inline here, with the queues in local variables. Any change to them must be made
        here too (the tests check that run() and stepping process the same events in the same
        order).
        """
        if self.step_observer is not None:
            return self._run_stepped(limit, stop)
        ready = self._ready
        instants = self._instants
        due = self._due
        heappop = heapq.heappop
        tickers = self._tickers
        processed = self.events_processed
        budget = self._budget_left()
        try:
            while stop is None or stop._state != _PROCESSED:
                if not ready:  # the next instant: _advance(), with the limit check
                    when = None
                    while instants:
                        when = instants[0]
                        live = due[when]
                        for event in live:  # most instants hold one event, seldom cancelled
                            if event._cancelled:
                                live = [event for event in live if not event._cancelled]
                                break
                        if live:
                            break
                        heappop(instants)
                        del due[when]
                        when = None
                    if tickers.heap:  # a ticker due first fires first
                        ticker = tickers.next_due()
                        if ticker is not None and (when is None or ticker <= when):
                            if limit is not None and ticker > limit:
                                self.now = limit
                                return False
                            if ticker != self.now:  # _fire_ticker(), inline
                                self.now = ticker
                                self._instant_first = processed
                                budget = processed + self.instant_budget  # _budget_left()
                                if self.event_budget is not None and self.event_budget < budget:
                                    budget = self.event_budget
                            if processed >= budget:
                                self.events_processed = processed
                                raise self._over_budget()
                            tickers.fire_next()
                            processed += 1
                            continue
                    if when is None:
                        return True
                    if limit is not None and when > limit:
                        self.now = limit
                        return False
                    heappop(instants)
                    del due[when]
                    self.now = when
                    self._instant_first = processed
                    budget = processed + self.instant_budget  # _budget_left(), inline
                    if self.event_budget is not None and self.event_budget < budget:
                        budget = self.event_budget
                    ready.extend(live)
                if self._ask_on_ties and len(ready) > 1:  # which event: _pick()
                    index = self._choices.choose("schedule", len(ready))
                    if index:
                        event = ready[index]
                        del ready[index]
                    else:
                        event = ready.popleft()
                else:
                    event = ready.popleft()
                if event._cancelled:  # processing it: the rest of step()
                    continue
                if processed >= budget:
                    ready.appendleft(event)  # not processed: left where it was
                    self.events_processed = processed
                    raise self._over_budget()
                processed += 1
                callbacks = event.callbacks
                event.callbacks = None
                event._state = _PROCESSED
                if callbacks:
                    for callback in callbacks:
                        callback(event)
                if not event._ok and not event._defused:
                    raise event._value
            return True
        finally:
            self.events_processed = processed
