"""Tickers: recurring actions the kernel runs at their due instants, with no event or process.

An application that writes a block every few milliseconds is most of a simulated server's
work. As a process it costs a timeout, a condition and a generator resume per write; as a
ticker it costs one heap entry and one call. The kernel runs tickers *between instants*
(:mod:`vsssim.sim.kernel` states the tie rule): a ticker never interleaves with the events of
an instant, so it adds no scheduling decision.

A ticker's ``fire(now)`` does its action and returns the instant it is next due (at least
``now``), or None to rest until its owner arms it again. Tickers due at one instant fire in
the order they were armed.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable

#: ``fire(now)``: act, then the next due instant, or None to rest.
Fire = Callable[[int], "int | None"]


class Ticker:
    """One recurring action: armed (due at :attr:`due`) or resting (``due`` is None)."""

    __slots__ = ("_fire", "_key", "_queue", "due", "name")

    def __init__(self, queue: TickerQueue, name: str, fire: Fire) -> None:
        self._queue = queue
        self.name = name
        self._fire = fire
        self.due: int | None = None
        # The heap entry that is this ticker's live one; 0 resting or stopped, _FIRING while
        # it fires (its entry is then stale: whatever the fire does to the queue is safe).
        self._key = 0

    def arm(self, due: int) -> None:
        """Make the ticker due at ``due`` (replacing an earlier arming), now or later."""
        queue = self._queue
        now = queue.clock()
        if due < now:
            raise ValueError(f"ticker {self.name!r} armed in the past ({due} < now {now})")
        if self not in queue.live:
            raise ValueError(f"ticker {self.name!r} was stopped: it never fires again")
        queue.armed += 1
        self._key = key = queue.armed
        self.due = due
        heapq.heappush(queue.heap, (due, key, self))

    def rest(self) -> None:
        """Take the ticker off the queue until it is armed again."""
        self.due = None
        self._key = 0

    def stop(self) -> None:
        """End the ticker: it never fires again and is no longer a live ticker."""
        self.rest()
        self._queue.live.pop(self, None)


class TickerQueue:
    """The armed tickers by due instant (entries of re-armed or resting tickers are skipped)."""

    __slots__ = ("armed", "clock", "heap", "live")

    def __init__(self, clock: Callable[[], int]) -> None:
        #: The simulated clock (no ticker is armed before it).
        self.clock = clock
        self.heap: list[tuple[int, int, Ticker]] = []
        self.armed = 0  # armings so far: orders the tickers due at one instant
        #: The tickers not stopped, armed or resting, in the order they were made.
        self.live: dict[Ticker, None] = {}

    def ticker(self, name: str, fire: Fire) -> Ticker:
        """A new ticker, resting until armed."""
        made = Ticker(self, name, fire)
        self.live[made] = None
        return made

    def next_due(self) -> int | None:
        """The instant the next armed ticker is due, or None when none is armed."""
        heap = self.heap
        while heap:
            due, key, ticker = heap[0]
            if ticker._key == key:
                return due
            heapq.heappop(heap)
        return None

    def due_alone(self, due: int) -> bool:
        """True when no heap entry but the first is due at ``due`` (the first's instant): both
        children of a heap's root are due later, so every other entry is (a stale entry counts
        as due)."""
        heap = self.heap
        return all(heap[i][0] != due for i in (1, 2) if i < len(heap))

    def in_order(self) -> list[Ticker]:
        """The live tickers: the armed ones in firing order, then the resting ones."""
        armed = sorted((t.due, t._key, t) for t in self.live if t.due is not None)
        return [t for _, _, t in armed] + [t for t in self.live if t.due is None]

    def fire_next(self) -> None:
        """Fire the next armed ticker (:meth:`next_due` said there is one) and re-arm it as
        it asks, unless it rested, stopped or was armed again while it fired; the caller has
        set the clock to its due instant."""
        heap = self.heap
        entry = heap[0]
        due, _, ticker = entry
        ticker.due = None
        ticker._key = _FIRING
        again = ticker._fire(due)
        if ticker._key != _FIRING or again is None:  # it rested, stopped or was armed again
            if ticker._key == _FIRING:
                ticker._key = 0
            # (The entry may be gone already, popped as stale by a peek during the fire.)
            if heap and heap[0] is entry:
                heapq.heappop(heap)
            return
        if again < due:
            ticker._key = 0
            raise ValueError(f"ticker {ticker.name!r} asked to fire in the past ({again})")
        self.armed += 1
        ticker._key = key = self.armed
        ticker.due = again
        if heap and heap[0] is entry:  # the usual case: pop the entry, push its next, at once
            heapq.heapreplace(heap, (again, key, ticker))
        else:
            heapq.heappush(heap, (again, key, ticker))


#: A firing ticker's key: no heap entry has it (their keys count from 1).
_FIRING = -1
