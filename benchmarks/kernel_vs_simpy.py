"""Events per second of vsssim's discrete-event kernel against SimPy's, on the same workload.

The workload: ``pairs`` producer/consumer pairs, ``rounds`` exchanges each. In a round the
producer waits a timeout, succeeds the consumer's *request* event (its value: a fresh *ack*
event) and waits on the ack; the consumer, woken by the request, waits a timeout of its own and
succeeds the ack. Delays differ from pair to pair (1-7 and 1-5 time units), so the queue holds
many distinct instants as well as ties. Per pair that is 4 events a round plus 2 per process
(its start and its end): ``pairs * (4 * rounds + 4)`` events in all, in either kernel.

Both kernels run the same generator code through a thin adapter (``event``/``timeout``/
``process``). The timed runs use each kernel's own ``run()``; a separate untimed run of each
steps the kernel one event at a time and counts, and the script stops unless both counts equal
the formula and both runs end at the same simulated time with the expected checksum (the sum
of the values the acks carried).

SimPy is a benchmark-only dependency: ``pip install simpy``.

Run: python benchmarks/kernel_vs_simpy.py [--pairs N] [--rounds R] [--repeats K]
Prints a table and writes benchmarks/kernel_vs_simpy.json.
"""

from __future__ import annotations

import argparse
import gc
import time
from collections.abc import Callable, Generator
from typing import Any, Protocol

import simpy
from _common import report

from vsssim.sim.kernel import Simulation

#: What the workload's processes yield: an event of whichever kernel runs them.
Gen = Generator[Any, Any, None]


class Kernel(Protocol):
    """The three calls the workload makes, whichever kernel serves them."""

    def event(self) -> Any: ...

    def timeout(self, delay: int) -> Any: ...

    def process(self, generator: Gen, name: str) -> Any: ...


class SimPyKernel:
    """SimPy's Environment behind the :class:`Kernel` calls."""

    def __init__(self) -> None:
        self.env = simpy.Environment()
        self.event = self.env.event
        self.timeout = self.env.timeout

    def process(self, generator: Gen, name: str) -> Any:
        return self.env.process(generator)

    def run(self) -> None:
        self.env.run()

    def count_steps(self) -> int:
        steps = 0
        try:
            while True:
                self.env.step()
                steps += 1
        except simpy.core.EmptySchedule:
            return steps

    @property
    def now(self) -> int:
        return int(self.env.now)


class VsssimKernel:
    """vsssim's Simulation (FIFO choices, its default) behind the :class:`Kernel` calls."""

    def __init__(self) -> None:
        self.sim = Simulation()
        self.event = self.sim.event
        self.timeout = self.sim.timeout
        self.process = self.sim.process

    def run(self) -> None:
        self.sim.run()

    def count_steps(self) -> int:
        sim = self.sim
        steps = 0
        while sim.step():  # nothing is cancelled here, so every step processes an event
            steps += 1
        return steps

    @property
    def now(self) -> int:
        return self.sim.now


class _Channel:
    """The request event a consumer waits on next (replaced by the producer each round)."""

    __slots__ = ("request",)

    def __init__(self, request: Any) -> None:
        self.request = request


def _producer(k: Kernel, channel: _Channel, rounds: int, delay: int, total: list[int]) -> Gen:
    for _ in range(rounds):
        yield k.timeout(delay)
        ack = k.event()
        request, channel.request = channel.request, k.event()
        request.succeed(ack)
        value = yield ack
        total[0] += value


def _consumer(k: Kernel, channel: _Channel, rounds: int, delay: int) -> Gen:
    for i in range(rounds):
        ack = yield channel.request
        yield k.timeout(delay)
        ack.succeed(i)


def build(kernel: Kernel, pairs: int, rounds: int) -> list[int]:
    """Start the workload's processes on ``kernel``; returns the checksum cell it fills."""
    total = [0]
    for p in range(pairs):
        channel = _Channel(kernel.event())
        kernel.process(_consumer(kernel, channel, rounds, 1 + p % 5), f"consumer {p}")
        kernel.process(_producer(kernel, channel, rounds, 1 + p % 7, total), f"producer {p}")
    return total


def expected_events(pairs: int, rounds: int) -> int:
    """Events the workload processes in either kernel (see the module docstring)."""
    return pairs * (4 * rounds + 4)


def expected_checksum(pairs: int, rounds: int) -> int:
    """The sum of the acks' values (each consumer acks 0, 1... rounds - 1)."""
    return pairs * rounds * (rounds - 1) // 2


def _timed(make: Callable[[], SimPyKernel | VsssimKernel], pairs: int, rounds: int) -> float:
    kernel = make()
    build(kernel, pairs, rounds)
    gc.collect()
    started = time.perf_counter()
    kernel.run()
    return time.perf_counter() - started


def measure(pairs: int, rounds: int, repeats: int) -> dict[str, Any]:
    """Check equivalence by counting, then time both kernels (best of ``repeats``, alternated)."""
    expected = expected_events(pairs, rounds)
    outcomes = {}
    for name, make in (("vsssim", VsssimKernel), ("simpy", SimPyKernel)):
        kernel = make()
        total = build(kernel, pairs, rounds)
        outcomes[name] = (kernel.count_steps(), kernel.now, total[0])
    counts = {name: steps for name, (steps, _, _) in outcomes.items()}
    if set(counts.values()) != {expected}:
        raise SystemExit(f"the workloads differ: {counts} events, {expected} expected")
    if outcomes["vsssim"][1:] != outcomes["simpy"][1:] or any(
        checksum != expected_checksum(pairs, rounds) for _, _, checksum in outcomes.values()
    ):
        raise SystemExit(f"the workloads differ: (events, end time, checksum) {outcomes}")
    best = {"vsssim": float("inf"), "simpy": float("inf")}
    for _ in range(repeats):
        best["vsssim"] = min(best["vsssim"], _timed(VsssimKernel, pairs, rounds))
        best["simpy"] = min(best["simpy"], _timed(SimPyKernel, pairs, rounds))
    vsssim_rate, simpy_rate = expected / best["vsssim"], expected / best["simpy"]
    ratio = vsssim_rate / simpy_rate
    return {
        "pairs": pairs,
        "rounds": rounds,
        "repeats": repeats,
        "events": expected,
        "events_counted_vsssim": counts["vsssim"],
        "events_counted_simpy": counts["simpy"],
        "end_time_both": outcomes["vsssim"][1],
        "checksum_both": outcomes["vsssim"][2],
        "simpy_version": simpy.__version__,
        "vsssim_seconds": best["vsssim"],
        "simpy_seconds": best["simpy"],
        "vsssim_events_per_s": vsssim_rate,
        "simpy_events_per_s": simpy_rate,
        "kernel_vs_simpy_ratio": ratio,
        "target_ratio": 1.5,
        "target_met": ratio >= 1.5,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pairs", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    figures = measure(args.pairs, args.rounds, args.repeats)
    print(
        f"same workload in both kernels: {figures['events']} events counted in each "
        f"({args.pairs} pairs x ({args.rounds} rounds x 4 + 4)), same end time "
        f"{figures['end_time_both']} and checksum {figures['checksum_both']}; "
        f"best of {args.repeats} timed runs each, alternated"
    )
    report(__file__, figures)


if __name__ == "__main__":
    main()
