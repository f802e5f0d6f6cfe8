"""The deterministic discrete-event kernel: simulated clock, events and generator processes.

The shape is SimPy's (processes are generators that yield events to wait on), cut down to what
the model needs and made deterministic:

* time is an integer number of microseconds, so ties are exact; the future is a heap of the
  instants that have events due, each with its events in scheduling order;
* events due at the same instant form the *ready set*; when it holds more than one event the
  kernel asks the choice source which runs first (``site="schedule"``). With a FIFO source this
  costs nothing; with a seeded or recorded source it is how interleavings are drawn and replayed;
* a failed event that nobody waits for crashes the run (errors are never swallowed);
* a run is bounded in work as well as in time: more than :data:`INSTANT_BUDGET` events at one
  instant (a process looping in zero simulated time), or more than ``event_budget`` events in
  all, raise :class:`~vsssim.errors.Livelock` instead of hanging.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable, Generator, Iterable
from typing import Any, TypeAlias

from vsssim.errors import Livelock
from vsssim.sim.choices import ChoiceSource, FifoChoices
from vsssim.sim.trace import Trace

#: One simulated second, in the kernel's unit (microseconds).
SECOND = 1_000_000
#: One simulated millisecond.
MILLISECOND = 1_000
#: Events one simulated instant may process before the run counts as a livelock. The largest
#: legitimate instant (1,000 writers answering one event at once) takes a few tens of thousands.
INSTANT_BUDGET = 1_000_000

_PENDING = 0
_TRIGGERED = 1
_PROCESSED = 2

Callback: TypeAlias = Callable[["Event"], None]
ProcessGenerator: TypeAlias = Generator["Event", Any, Any]


class Event:
    """Something a process can wait for. It is triggered once, with a value or an exception."""

    __slots__ = ("_cancelled", "_defused", "_ok", "_state", "_value", "callbacks", "sim")

    def __init__(self, sim: Simulation) -> None:
        self.sim = sim
        self.callbacks: list[Callback] | None = []
        self._value: Any = None
        self._ok = True
        self._state = _PENDING
        self._defused = False
        self._cancelled = False

    @property
    def triggered(self) -> bool:
        """True once the event has a value (it may not have been processed yet)."""
        return self._state != _PENDING

    @property
    def processed(self) -> bool:
        """True once the waiting processes have been resumed."""
        return self._state == _PROCESSED

    @property
    def ok(self) -> bool:
        """True unless the event failed."""
        return self._ok

    @property
    def value(self) -> Any:
        """The value the event was triggered with (the exception, if it failed)."""
        if self._state == _PENDING:
            raise RuntimeError("the event has not been triggered yet")
        return self._value

    def succeed(self, value: Any = None) -> Event:
        """Trigger the event now with ``value``."""
        if self._state != _PENDING:
            raise RuntimeError("an event is triggered only once")
        self._value = value
        self._state = _TRIGGERED
        self.sim._ready.append(self)  # what _schedule(self, 0) does, without the call
        return self

    def fail(self, exc: BaseException) -> Event:
        """Trigger the event now as failed; waiting processes get ``exc`` raised into them."""
        if self._state != _PENDING:
            raise RuntimeError("an event is triggered only once")
        self._ok = False
        self._value = exc
        self._state = _TRIGGERED
        self.sim._ready.append(self)
        return self

    def defuse(self) -> None:
        """Mark a failure as handled even if no process waits for it."""
        self._defused = True

    def _add_callback(self, callback: Callback) -> None:
        if self.callbacks is None:  # already processed: run at the current instant
            relay = Event(self.sim)
            relay._value, relay._ok, relay._state = self._value, self._ok, _TRIGGERED
            relay.callbacks = [callback]
            self._defused = True
            self.sim._schedule(relay, 0)
        else:
            self.callbacks.append(callback)


class Timeout(Event):
    """An event that triggers ``delay`` microseconds after it is created."""

    __slots__ = ()

    def __init__(self, sim: Simulation, delay: int, value: Any = None) -> None:
        if delay < 0:
            raise ValueError(f"a delay cannot be negative (got {delay})")
        # Fast path (the most frequent event): Event.__init__ and _schedule done inline.
        self.sim = sim
        self.callbacks = []
        self._value = value
        self._ok = True
        self._state = _TRIGGERED
        self._defused = False
        self._cancelled = False
        if delay:
            when = sim.now + delay
            due = sim._due.get(when)
            if due is None:
                sim._due[when] = [self]
                heapq.heappush(sim._instants, when)
            else:
                due.append(self)
        else:
            sim._ready.append(self)

    def cancel(self) -> None:
        """Withdraw a timeout nobody needs any more: it never fires nor moves the clock.

        Whoever still waits on it waits for ever.
        """
        if self._state == _TRIGGERED:
            self._cancelled = True


class Process(Event):
    """A generator running as a simulated process; the event triggers when it returns."""

    __slots__ = ("_generator", "_resume_callback", "_target", "name")

    def __init__(self, sim: Simulation, generator: ProcessGenerator, name: str) -> None:
        super().__init__(sim)
        self.name = name
        self._generator = generator
        self._target: Event | None = None
        # The bound method, made once: the process registers it at every yield.
        self._resume_callback: Callback = self._resume
        start = Event(sim)
        start.callbacks = [self._resume_callback]
        start._state = _TRIGGERED
        sim._ready.append(start)
        sim._live_processes[self] = None

    @property
    def is_alive(self) -> bool:
        """True until the generator has returned or raised."""
        return self._state == _PENDING

    def _resume(self, event: Event) -> None:
        sim = self.sim
        sim.active_process = self
        generator = self._generator
        while True:
            try:
                if event._ok:
                    target = generator.send(event._value)
                else:
                    event._defused = True
                    target = generator.throw(event._value)
            except StopIteration as stop:
                self._finish(True, stop.value)
                break
            except BaseException as exc:
                self._finish(False, exc)
                break
            if not isinstance(target, Event):
                exc = TypeError(f"process {self.name!r} yielded {target!r}, which is not an event")
                generator.close()
                self._finish(False, exc)
                break
            callbacks = target.callbacks
            if callbacks is None:  # already processed: continue at once
                event = target
                continue
            callbacks.append(self._resume_callback)
            self._target = target
            break
        sim.active_process = None

    def _finish(self, ok: bool, value: Any) -> None:
        self._target = None
        del self.sim._live_processes[self]
        if ok:
            self.succeed(value)
        else:
            self.fail(value)


def _all_done(done: int, total: int) -> bool:
    return done == total


def _any_done(done: int, total: int) -> bool:
    return done >= 1 or total == 0


class Condition(Event):
    """Triggers when ``evaluate(done, total)`` holds; fails as soon as one of its events fails.

    Its value is the list of the events that had triggered, in the order they were given.
    """

    __slots__ = ("_done", "_evaluate", "_events")

    def __init__(
        self, sim: Simulation, events: Iterable[Event], evaluate: Callable[[int, int], bool]
    ) -> None:
        # Event.__init__ inline: a workload makes one condition per write.
        self.sim = sim
        self.callbacks = []
        self._value = None
        self._ok = True
        self._state = _PENDING
        self._defused = False
        self._cancelled = False
        self._events = awaited = list(events)
        self._evaluate = evaluate
        self._done = 0
        # The check is not kept on the condition (that would make each condition a reference
        # cycle, freed only by the garbage collector): _withdraw finds it again by equality.
        if evaluate(0, len(awaited)):
            self.succeed([])
            return
        check = self._check
        for event in awaited:
            callbacks = event.callbacks
            if callbacks is None:
                event._add_callback(check)
            else:
                callbacks.append(check)

    def _check(self, event: Event) -> None:
        if self._state != _PENDING:  # decided already: a later failure is not ours to handle
            return
        if not event._ok:
            event._defused = True
            self.fail(event._value)
        else:
            self._done += 1
            if not self._evaluate(self._done, len(self._events)):
                return
            self.succeed([e for e in self._events if e._state == _PROCESSED or e is event])
        self._withdraw()

    def _withdraw(self) -> None:
        """Take the check off the events still to come, now that the condition is decided.

        There it would only return at once; left in place, the checks of many short-lived
        conditions pile up on a long-lived event (a workload's stop signal gets one per write).
        The events themselves stay scheduled, so what runs and in which order is unchanged.
        """
        check = self._check  # equal to the one registered: same method of the same condition
        for event in self._events:
            callbacks = event.callbacks
            if callbacks and check in callbacks:
                callbacks.remove(check)


class _AnyOf(Condition):
    """``any_of``'s condition: the first event decides, so its check needs no ``evaluate``
    (a workload makes one per write). Same events, values and order as a Condition."""

    __slots__ = ()

    def _check(self, event: Event) -> None:
        if self._state != _PENDING:  # decided already: a later failure is not ours to handle
            return
        if event._ok:
            self._done += 1
            self._value = [e for e in self._events if e._state == _PROCESSED or e is event]
        else:
            event._defused = True
            self._ok = False
            self._value = event._value
        self._state = _TRIGGERED  # what succeed()/fail() do, without the calls
        self.sim._ready.append(self)
        check = self._check  # _withdraw(), inline
        for other in self._events:
            callbacks = other.callbacks
            if callbacks and check in callbacks:
                callbacks.remove(check)


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
        self.trace.clock = self._clock
        #: Events processed so far (cancelled timeouts not counted).
        self.events_processed = 0
        self.instant_budget = instant_budget
        #: The most events the whole run may process (None: no bound but the instant's).
        self.event_budget = event_budget
        self._instant_first = 0  # events_processed when the clock last moved

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
        """The time of the next event, or None when nothing is scheduled."""
        if self._ready:
            return self.now
        live = (when for when, due in self._due.items() if any(not e._cancelled for e in due))
        return min(live, default=None)

    def pending(self) -> list[tuple[int, Event]]:
        """The events still to process, as ``(when, event)`` in the order they become ready
        (ties aside): the ready ones at ``now``, then each later instant's; cancelled timeouts
        left out. For tools that look at a world's state (the explorer's fingerprints)."""
        found = [(self.now, event) for event in self._ready if not event._cancelled]
        for when in sorted(self._due):
            found.extend((when, event) for event in self._due[when] if not event._cancelled)
        return found

    def _advance(self) -> bool:
        """With nothing ready: move the clock to the next instant and make its events ready.

        False when nothing (but cancelled timeouts) is left. An instant that holds only
        cancelled timeouts is dropped without moving the clock.
        """
        instants = self._instants
        due = self._due
        while instants:
            when = heapq.heappop(instants)
            live = [event for event in due.pop(when) if not event._cancelled]
            if live:
                self.now = when
                self._instant_first = self.events_processed
                self._ready.extend(live)
                return True
        return False

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
        if not self._ready and not self._advance():
            return False
        event = self._pick()
        if event._cancelled:
            return True
        if self.events_processed >= self._budget_left():
            self._ready.appendleft(event)  # not processed: left where it was
            raise self._over_budget()
        self.events_processed += 1
        callbacks = event.callbacks
        event.callbacks = None
        event._state = _PROCESSED
        if callbacks:
            for callback in callbacks:
                callback(event)
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

    def _run(self, limit: int | None, stop: Event | None) -> bool:
        """Call :meth:`step` until ``stop`` is processed or nothing is left (True) or the next
        event is due after ``limit`` (False; the clock then stands at ``limit``).

        The hot loop of every run: step(), _advance() and _pick() are written out inline here,
        with the queues in local variables. Any change to them must be made here too (the tests
        check that run() and stepping process the same events in the same order).
        """
        ready = self._ready
        instants = self._instants
        due = self._due
        heappop = heapq.heappop
        processed = self.events_processed
        budget = self._budget_left()
        try:
            while stop is None or stop._state != _PROCESSED:
                if not ready:  # the next instant: _advance(), with the limit check
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
                    else:
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
