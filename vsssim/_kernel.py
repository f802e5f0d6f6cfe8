"""The deterministic discrete-event kernel: simulated clock, events and generator processes.

The shape is SimPy's (processes are generators that yield events to wait on), cut down to what
the model needs and made deterministic:

* time is an integer number of microseconds, so ties are exact;
* events due at the same instant form the *ready set*; when it holds more than one event the
  kernel asks the choice source which runs first (``site="schedule"``). With a FIFO source this
  costs nothing; with a seeded or recorded source it is how interleavings are drawn and replayed;
* a failed event that nobody waits for crashes the run (errors are never swallowed).
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable, Generator, Iterable
from typing import Any, TypeAlias

from vsssim.choices import ChoiceSource, FifoChoices
from vsssim.trace import Trace

#: One simulated second, in the kernel's unit (microseconds).
SECOND = 1_000_000
#: One simulated millisecond.
MILLISECOND = 1_000

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
        self.sim._schedule(self, 0)
        return self

    def fail(self, exc: BaseException) -> Event:
        """Trigger the event now as failed; waiting processes get ``exc`` raised into them."""
        if self._state != _PENDING:
            raise RuntimeError("an event is triggered only once")
        self._ok = False
        self._value = exc
        self._state = _TRIGGERED
        self.sim._schedule(self, 0)
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
        super().__init__(sim)
        self._value = value
        self._state = _TRIGGERED
        sim._schedule(self, delay)

    def cancel(self) -> None:
        """Withdraw a timeout nobody needs any more: it never fires nor moves the clock.

        Whoever still waits on it waits for ever.
        """
        if self._state == _TRIGGERED:
            self._cancelled = True


class Process(Event):
    """A generator running as a simulated process; the event triggers when it returns."""

    __slots__ = ("_generator", "_target", "name")

    def __init__(self, sim: Simulation, generator: ProcessGenerator, name: str) -> None:
        super().__init__(sim)
        self.name = name
        self._generator = generator
        self._target: Event | None = None
        start = Event(sim)
        start.callbacks = [self._resume]
        start._state = _TRIGGERED
        sim._schedule(start, 0)
        sim._live_processes[self] = None

    @property
    def is_alive(self) -> bool:
        """True until the generator has returned or raised."""
        return self._state == _PENDING

    def _resume(self, event: Event) -> None:
        sim = self.sim
        sim.active_process = self
        while True:
            try:
                if event._ok:
                    target = self._generator.send(event._value)
                else:
                    event._defused = True
                    target = self._generator.throw(event._value)
            except StopIteration as stop:
                self._finish(True, stop.value)
                break
            except BaseException as exc:
                self._finish(False, exc)
                break
            if not isinstance(target, Event):
                exc = TypeError(f"process {self.name!r} yielded {target!r}, which is not an event")
                self._generator.close()
                self._finish(False, exc)
                break
            if target.callbacks is None:  # already processed: continue at once
                event = target
                continue
            target.callbacks.append(self._resume)
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


class Condition(Event):
    """Triggers when ``evaluate(done, total)`` holds; fails as soon as one of its events fails.

    Its value is the list of the events that had triggered, in the order they were given.
    """

    __slots__ = ("_done", "_evaluate", "_events")

    def __init__(
        self, sim: Simulation, events: Iterable[Event], evaluate: Callable[[int, int], bool]
    ) -> None:
        super().__init__(sim)
        self._events = list(events)
        self._evaluate = evaluate
        self._done = 0
        if self._evaluate(0, len(self._events)):
            self.succeed([])
            return
        for event in self._events:
            event._add_callback(self._check)

    def _check(self, event: Event) -> None:
        if self._state != _PENDING:  # decided already: a later failure is not ours to handle
            return
        if not event._ok:
            event._defused = True
            self.fail(event._value)
            return
        self._done += 1
        if self._evaluate(self._done, len(self._events)):
            self.succeed([e for e in self._events if e.processed or e is event])


class Simulation:
    """The clock, the run queue, the trace and the choice source of one simulated world."""

    def __init__(self, choices: ChoiceSource | None = None, *, trace: Trace | None = None) -> None:
        self.choices: ChoiceSource = choices if choices is not None else FifoChoices()
        self.trace = trace if trace is not None else Trace()
        self.now = 0
        self.active_process: Process | None = None
        self._ready: deque[Event] = deque()
        self._future: list[tuple[int, int, Event]] = []
        self._sequence = 0
        self._live_processes: dict[Process, None] = {}
        self.trace.clock = self._clock

    def _clock(self) -> int:
        return self.now

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
        return Condition(self, events, lambda done, total: done == total)

    def any_of(self, events: Iterable[Event]) -> Condition:
        """An event that triggers when the first of ``events`` does."""
        return Condition(self, events, lambda done, total: done >= 1 or total == 0)

    @property
    def live_processes(self) -> list[Process]:
        """Processes that have started and not yet finished, oldest first."""
        return list(self._live_processes)

    # -- running -------------------------------------------------------------------------
    def _schedule(self, event: Event, delay: int) -> None:
        if delay == 0:
            self._ready.append(event)
        else:
            self._sequence += 1
            heapq.heappush(self._future, (self.now + delay, self._sequence, event))

    def peek(self) -> int | None:
        """The time of the next event, or None when nothing is scheduled."""
        if self._ready:
            return self.now
        for when, _, event in sorted(self._future):
            if not event._cancelled:
                return when
        return None

    def step(self) -> None:
        """Process one event: the next due, or the one the choice source picks among ties."""
        ready = self._ready
        if not ready:
            future = self._future
            while future and future[0][2]._cancelled:
                heapq.heappop(future)
            if not future:
                return
            when = future[0][0]
            self.now = when
            while future and future[0][0] == when:
                event = heapq.heappop(future)[2]
                if not event._cancelled:
                    ready.append(event)
        if len(ready) > 1:
            index = self.choices.choose("schedule", len(ready))
            if index:
                event = ready[index]
                del ready[index]
            else:
                event = ready.popleft()
        else:
            event = ready.popleft()
        if event._cancelled:
            return
        callbacks = event.callbacks
        event.callbacks = None
        event._state = _PROCESSED
        if callbacks:
            for callback in callbacks:
                callback(event)
        if not event._ok and not event._defused:
            raise event._value

    def run(self, until: int | Event | None = None) -> Any:
        """Run until nothing is left, until the clock reaches ``until``, or until an event.

        With an event, returns its value (raising its exception if it failed).
        """
        if isinstance(until, Event):
            stop = until
            while not stop.processed and (self._ready or self._future):
                self.step()
            if not stop.processed:
                raise RuntimeError("the simulation ran out of events before the awaited event")
            if not stop.ok:
                stop.defuse()
                raise stop.value
            return stop.value
        limit = until
        future = self._future
        while self._ready or future:
            while future and future[0][2]._cancelled:
                heapq.heappop(future)
            if not self._ready and not future:
                break
            if limit is not None and not self._ready and future[0][0] > limit:
                self.now = limit
                return None
            self.step()
        if limit is not None and limit > self.now:
            self.now = limit
        return None
