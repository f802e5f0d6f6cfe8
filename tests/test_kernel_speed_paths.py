"""The kernel's fast paths behave exactly as the plain ones (issue 9: speed without change).

``Simulation.run`` writes ``step()`` out inline; the future is a heap of instants with each
instant's events in scheduling order; a plain FIFO source is not asked on ties; a decided
condition withdraws its callbacks; seeded choices draw through a cached ``_randbelow``; the
trace skips the JSON conversion of plain values. Each is checked against the plain behaviour.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Generator
from typing import Any

import pytest

from vsssim.sim.choices import (
    ChoiceSource,
    FifoChoices,
    RecordingChoices,
    SeededChoices,
    splitmix64,
)
from vsssim.sim.kernel import Event, Simulation, Timeout
from vsssim.sim.trace import Trace, to_json_value
from vsssim.vss.constants import WriterState

Log = list[tuple[Any, ...]]


class Boom(Exception):
    """A failure raised inside a simulated process."""


class AskedChoices(ChoiceSource):
    """Seeded answers, logging every question (site, n) with its answer."""

    def __init__(self, seed: int) -> None:
        self.inner = SeededChoices(seed)
        self.asked: list[tuple[str, int, int]] = []

    def choose(self, site: str, n: int) -> int:
        value = self.inner.choose(site, n)
        self.asked.append((site, n, value))
        return value


# -- run() is step() written out ------------------------------------------------------------


def _random_world(seed: int, sim: Simulation, log: Log) -> list[Event]:
    """Processes that sleep, wait on shared events, trigger or fail them, race timeouts
    (cancelling the losers) and wait on each other, all drawn from ``seed``."""
    rng = random.Random(seed)
    shared = [sim.event() for _ in range(rng.randint(1, 4))]
    waitable: list[Event] = list(shared)

    def body(name: str, depth: int) -> Generator[Event, Any, str]:
        for i in range(rng.randint(1, 7)):
            op = rng.randrange(7)
            try:
                if op == 0:
                    value = yield sim.timeout(rng.choice([0, 1, 1, 2, 3, 5]), i)
                elif op == 1:
                    value = yield rng.choice(shared)
                elif op == 2:
                    event = rng.choice(shared)
                    if not event.triggered:
                        if rng.random() < 0.3:
                            event.fail(Boom(f"{name}/{i}"))
                            event.defuse()
                        else:
                            event.succeed(i)
                    value = "triggered"
                elif op == 3:
                    timers = [sim.timeout(rng.choice([0, 1, 2, 4])) for _ in range(3)]
                    timers[rng.randrange(3)].cancel()
                    done = yield sim.any_of([*timers, rng.choice(shared)])
                    for timer in timers:
                        timer.cancel()
                    value = len(done)
                elif op == 4:
                    done = yield sim.all_of([sim.timeout(rng.randint(0, 3)), rng.choice(waitable)])
                    value = len(done)
                elif op == 5 and depth < 2:
                    child = sim.process(body(f"{name}.{i}", depth + 1), f"{name}.{i}")
                    waitable.append(child)
                    value = yield child
                else:
                    value = yield sim.timeout(rng.randint(1, 9))
                log.append((sim.now, name, i, value if isinstance(value, int | str) else "?"))
            except Boom as exc:
                log.append((sim.now, name, i, f"caught {exc}"))
        return name

    starts = [sim.process(body(f"p{p}", 0), f"p{p}") for p in range(rng.randint(1, 5))]
    return starts + shared


def _drive(seed: int, stepping: bool) -> tuple[Log, list[tuple[str, int, int]]]:
    choices = AskedChoices(seed)
    sim = Simulation(choices)
    log: Log = []
    targets = _random_world(seed, sim, log)
    rng = random.Random(~seed)
    for _ in range(4):
        mode = rng.randrange(3)
        until: int | Event | None = None
        if mode == 0:
            until = sim.now + rng.randint(0, 12)
        elif mode == 1:
            until = rng.choice(targets)
        try:
            if not stepping:
                log.append(("returned", _describe(sim.run(until))))
            else:
                log.append(("returned", _describe(_run_by_steps(sim, until))))
        except (Boom, RuntimeError) as exc:
            log.append(("raised", type(exc).__name__, str(exc)))
        log.append(("clock", sim.now, sim.peek(), len(sim.live_processes)))
    return log, choices.asked


def _describe(value: Any) -> Any:
    return len(value) if isinstance(value, list) else value


def _run_by_steps(sim: Simulation, until: int | Event | None) -> Any:
    """Simulation.run as it reads without its inline loop: step() until done."""
    if isinstance(until, Event):
        while not until.processed and sim.step():
            pass
        if not until.processed:
            raise RuntimeError("the simulation ran out of events before the awaited event")
        if not until.ok:
            until.defuse()
            raise until.value
        return until.value
    while True:
        next_time = sim.peek()
        if next_time is None:
            break
        if until is not None and next_time > until:
            sim.now = until
            return None
        sim.step()
    if until is not None and until > sim.now:
        sim.now = until
    return None


@pytest.mark.parametrize("seed", range(150))
def test_run_processes_events_exactly_as_stepping_does(seed: int) -> None:
    assert _drive(seed, stepping=False) == _drive(seed, stepping=True)


# -- the future: instants, each with its events in scheduling order --------------------------


def test_events_due_at_one_instant_become_ready_in_scheduling_order() -> None:
    sim = Simulation()
    order: list[str] = []

    def sleeper(label: str, first: int, second: int) -> Generator[Event, Any, None]:
        yield sim.timeout(first)
        yield sim.timeout(second)
        order.append(label)

    # All wake at 10, scheduled (at 0, 2, 5 and 9) in the order d, b, c, a.
    sim.process(sleeper("a", 9, 1), "a")
    sim.process(sleeper("b", 2, 8), "b")
    sim.process(sleeper("c", 5, 5), "c")
    sim.process(sleeper("d", 0, 10), "d")
    sim.run()
    assert order == ["d", "b", "c", "a"]
    assert sim.now == 10


def test_cancelled_timeouts_are_not_counted_among_ties() -> None:
    choices = AskedChoices(1)
    sim = Simulation(choices)
    timers = [sim.timeout(10, label) for label in "abcd"]
    timers[1].cancel()
    timers[3].cancel()
    fired: list[str] = []
    for timer in timers:
        timer.callbacks.append(lambda event: fired.append(event.value))  # type: ignore[union-attr]
    sim.run()
    assert choices.asked[0][:2] == ("schedule", 2)  # only a and c were ready
    assert sorted(fired) == ["a", "c"]


def test_an_instant_of_only_cancelled_timeouts_is_skipped_by_peek_and_run() -> None:
    sim = Simulation()
    for _ in range(3):
        sim.timeout(5).cancel()
    sim.timeout(8)
    assert sim.peek() == 8
    sim.run(until=6)
    assert sim.now == 6  # stopped at the limit, not at the cancelled instant
    sim.run()
    assert sim.now == 8
    assert sim.peek() is None


def test_a_timeout_built_directly_is_scheduled_like_one_from_the_simulation() -> None:
    sim = Simulation()
    direct, made = Timeout(sim, 4, "direct"), sim.timeout(4, "made")
    now = Timeout(sim, 0, "now")
    assert sim.peek() == 0
    sim.run()
    assert [direct.processed, made.processed, now.processed] == [True, True, True]
    assert sim.now == 4
    with pytest.raises(ValueError):
        Timeout(sim, -1)


def test_pending_lists_what_is_still_to_process_in_ready_order() -> None:
    sim = Simulation()
    assert sim.pending() == [] and not sim.step()
    late, early, cancelled, tied = sim.timeout(9), sim.timeout(2), sim.timeout(5), sim.timeout(2)
    now = sim.timeout(0)
    cancelled.cancel()
    assert sim.pending() == [(0, now), (2, early), (2, tied), (9, late)]
    sim.run()
    assert sim.pending() == [] and not sim.step()


# -- who is asked on ties ----------------------------------------------------------------------


class CountingFifo(FifoChoices):
    """A FIFO source that counts its questions: not a plain FifoChoices, so it is asked."""

    def __init__(self) -> None:
        self.asked = 0

    def choose(self, site: str, n: int) -> int:
        self.asked += 1
        return 0


def _tied_sleepers(sim: Simulation, order: list[str]) -> None:
    def sleeper(label: str) -> Generator[Event, Any, None]:
        yield sim.timeout(10)
        order.append(label)

    for label in "abc":
        sim.process(sleeper(label), label)


def test_a_fifo_subclass_and_a_recording_fifo_are_still_asked_on_ties() -> None:
    counting = CountingFifo()
    recording = RecordingChoices(FifoChoices())
    orders: list[list[str]] = []
    for source in (FifoChoices(), counting, recording):
        order: list[str] = []
        sim = Simulation(source)
        _tied_sleepers(sim, order)
        sim.run()
        orders.append(order)
    assert orders == [["a", "b", "c"]] * 3
    assert counting.asked > 0
    assert recording.recorded == [0] * counting.asked  # the replay token records each tie


def test_replacing_the_choice_source_takes_effect() -> None:
    sim = Simulation()
    counting = CountingFifo()
    sim.choices = counting
    assert sim.choices is counting
    _tied_sleepers(sim, [])
    sim.run()
    assert counting.asked > 0


# -- conditions withdraw their callbacks once decided ------------------------------------------


def test_a_long_lived_event_does_not_collect_the_checks_of_decided_conditions() -> None:
    sim = Simulation()
    stop = sim.event()
    rounds: list[int] = []

    def waiter() -> Generator[Event, Any, None]:
        while not stop.triggered:
            yield sim.any_of([sim.timeout(3), stop])
            rounds.append(sim.now)
            if not stop.triggered:  # the timer won: its condition took its check off stop
                assert stop.callbacks == []

    def stopper() -> Generator[Event, Any, None]:
        yield sim.timeout(300)
        stop.succeed()

    sim.process(waiter(), "waiter")
    sim.process(stopper(), "stopper")
    sim.run()
    assert len(rounds) == 100
    assert stop.processed


def test_a_withdrawn_condition_does_not_disturb_the_other_waiters() -> None:
    sim = Simulation()
    shared = sim.event()
    got: list[tuple[str, int, object]] = []

    def racer() -> Generator[Event, Any, None]:
        done = yield sim.any_of([sim.timeout(1, "timer"), shared])
        got.append(("racer", sim.now, [event.value for event in done]))

    def patient() -> Generator[Event, Any, None]:
        value = yield shared
        got.append(("patient", sim.now, value))

    def both() -> Generator[Event, Any, None]:
        done = yield sim.all_of([shared, sim.timeout(2)])
        got.append(("both", sim.now, len(done)))

    def trigger() -> Generator[Event, Any, None]:
        yield sim.timeout(5)
        shared.succeed("shared")

    for proc in (racer, patient, both, trigger):
        sim.process(proc(), proc.__name__)
    sim.run()
    assert got == [("racer", 1, ["timer"]), ("patient", 5, "shared"), ("both", 5, 2)]


def test_a_failure_after_a_condition_withdrew_still_crashes_the_run() -> None:
    sim = Simulation()
    late = sim.event()

    def proc() -> Generator[Event, Any, None]:
        yield sim.any_of([sim.timeout(1), late])
        late.fail(Boom("nobody waits any more"))

    sim.process(proc(), "p")
    with pytest.raises(Boom):
        sim.run()


# -- seeded choices and the trace ---------------------------------------------------------------


def test_splitmix64_gives_the_published_outputs() -> None:
    """The first outputs of SplitMix64 from state 0, as its reference implementation gives."""
    state, outputs = 0, []
    for _ in range(3):
        state, value = splitmix64(state)
        outputs.append(value)
    assert outputs == [0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4, 0x06C45D188009454F]


def test_seeded_sites_are_independent_streams_of_the_root_seed() -> None:
    sizes = [2, 3, 7, 100, 256, 1000, 2**31 - 1, 2**31, 2**70 + 3]
    alone = SeededChoices(2024)
    first = [alone.choose("schedule", n) for n in sizes * 5]
    mixed = SeededChoices(2024)
    again = []
    for n in sizes * 5:
        again.append(mixed.choose("schedule", n))
        mixed.choose("fault/x", 9)  # another site's draws do not move this one's stream
    assert again == first
    assert [SeededChoices(2025).choose("schedule", n) for n in sizes * 5] != first


class Colour(enum.Enum):
    RED = "red"


def test_trace_details_convert_only_what_is_not_plain_json() -> None:
    trace = Trace()
    details: dict[str, Any] = {
        "n": 3,
        "s": "text",
        "yes": True,
        "none": None,
        "state": WriterState.STABLE,  # an IntEnum: an int subclass, converted by name
        "colour": Colour.RED,
        "items": (1, WriterState.FAILED_AT_FREEZE),
        "map": {"k": Colour.RED},
    }
    record = trace.record(1, "actor", "action", **details)
    assert record.details == {key: to_json_value(value) for key, value in details.items()}
    assert record.details["state"] == "VSS_WS_STABLE"
    assert type(record.details["yes"]) is bool and type(record.details["n"]) is int
    assert list(record.details) == list(details)  # the keys keep their order
    assert isinstance(details["state"], WriterState)  # the caller's mapping is untouched
    with pytest.raises(TypeError):
        trace.record(None, "actor", "action", bad=object())
    assert len(trace) == 1


def test_enum_names_are_cached_per_enum_type_not_per_value() -> None:
    """Members of two IntEnums with one value are equal: each still gets its own name."""

    class First(enum.IntEnum):
        ONE = 1

    class Second(enum.IntEnum):
        UNO = 1

    trace = Trace()
    for _ in range(2):  # the second time from the cache
        record = trace.record(None, "a", "b", first=First.ONE, second=Second.UNO)
        assert record.details == {"first": "ONE", "second": "UNO"}
