"""What processes wait for: events, timeouts, processes and conditions.

Each event belongs to one :class:`~vsssim.sim.kernel.Simulation` and is put on its run queue
when triggered; the kernel (:mod:`vsssim.sim.kernel`) runs their callbacks in its loop.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable, Generator, Iterable
from typing import Any, Protocol, TypeAlias


class Simulation(Protocol):
    """What an event reaches of its simulation (:class:`vsssim.sim.kernel.Simulation`): the
    clock and the run queue it puts itself on."""

    now: int
    active_process: Process | None
    _ready: deque[Event]
    _instants: list[int]
    _due: dict[int, list[Event]]
    _live_processes: dict[Process, None]

    def _schedule(self, event: Event, delay: int) -> None: ...

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
            except Exception as exc:
                self._finish(False, exc)
                break
            except BaseException:
                # Ctrl-C, a run's wall-clock limit, an exit: not the process's failure but the
                # run's end. It leaves at once, never as an event value a waiting process (or
                # a containment of writers' errors) could take for the process's own error.
                # The simulation is left as it stood (this process still live): a run it ends
                # is not run on.
                sim.active_process = None
                raise
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
        # Event.__init__ inline: conditions are made at every wait with a timeout.
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
            total = len(self._events)
            if not self._evaluate(self._done, total):
                return
            if self._done == total:  # every event triggered: none is left to withdraw from
                self.succeed(list(self._events))
                return
            self.succeed([e for e in self._events if e._state == _PROCESSED or e is event])
        self._withdraw()

    def _withdraw(self) -> None:
        """Take the check off the events still to come, now that the condition is decided.

        There it would only return at once; left in place, the checks of many short-lived
        conditions pile up on a long-lived event (a session's end, waited on at every step).
        The events themselves stay scheduled, so what runs and in which order is unchanged.
        """
        check = self._check  # equal to the one registered: same method of the same condition
        for event in self._events:
            callbacks = event.callbacks
            if callbacks and check in callbacks:
                callbacks.remove(check)


class _AnyOf(Condition):
    """``any_of``'s condition: the first event decides, so its check needs no ``evaluate``
    (the commonest condition: a reply or a timeout). Same events, values and order as a
    Condition."""

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
