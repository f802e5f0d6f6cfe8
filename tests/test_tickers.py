"""Kernel tickers (applications' writes without an event per write) and the workloads on them:
the tie rule, resting and stopping, the budgets, step() and run() agreeing, one choice per
workload."""

from __future__ import annotations

import itertools
from collections.abc import Generator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vsssim.errors import Livelock
from vsssim.host.demo import build_demo_world
from vsssim.sim.choices import RecordingChoices, SeededChoices
from vsssim.sim.kernel import Event, Simulation
from vsssim.sim.tickers import Ticker
from vsssim.testing.invariants import check_all


def _every(sim: Simulation, name: str, period: int, log: list[tuple[int, str]]) -> Ticker:
    def fire(now: int) -> int:
        log.append((now, name))
        return now + period

    ticker = sim.ticker(name, fire)
    ticker.arm(sim.now + period)
    return ticker


def _at(sim: Simulation, when: int, name: str, log: list[tuple[int, str]]) -> None:
    def process() -> Generator[Event, Any, None]:
        yield sim.timeout(when)
        log.append((sim.now, name))

    sim.process(process(), name)


def test_a_ticker_fires_at_each_due_instant_and_before_an_event_of_the_same_instant() -> None:
    sim = Simulation()
    log: list[tuple[int, str]] = []
    _every(sim, "writes", 10, log)
    _at(sim, 20, "protocol", log)
    sim.run(until=35)
    assert log == [(10, "writes"), (20, "writes"), (20, "protocol"), (30, "writes")]
    assert sim.now == 35


def test_tickers_due_together_fire_in_the_order_they_were_armed() -> None:
    sim = Simulation()
    log: list[tuple[int, str]] = []
    _every(sim, "b", 5, log)
    _every(sim, "a", 5, log)
    sim.run(until=10)
    assert log == [(5, "b"), (5, "a"), (10, "b"), (10, "a")]


def test_a_ticker_armed_for_now_fires_after_the_events_ready_now() -> None:
    sim = Simulation()
    log: list[tuple[int, str]] = []

    def fire(now: int) -> None:
        log.append((now, "ticker"))

    ticker = sim.ticker("t", fire)

    def process() -> Generator[Event, Any, None]:
        yield sim.timeout(7)
        ticker.arm(sim.now)
        log.append((sim.now, "armed"))
        yield sim.timeout(0)
        log.append((sim.now, "same instant"))

    sim.process(process(), "p")
    sim.run()
    assert log == [(7, "armed"), (7, "same instant"), (7, "ticker")]
    assert ticker.due is None  # it asked to rest


def test_a_resting_ticker_waits_to_be_armed_and_a_stopped_one_is_gone() -> None:
    sim = Simulation()
    log: list[tuple[int, str]] = []
    ticker = _every(sim, "w", 10, log)
    assert sim.live_tickers == [ticker] and sim.peek() == 10
    ticker.rest()
    assert sim.peek() is None and sim.live_tickers == [ticker]
    sim.run(until=50)
    assert log == []
    ticker.arm(60)
    sim.run(until=75)
    assert log == [(60, "w"), (70, "w")]
    ticker.stop()
    assert sim.live_tickers == [] and sim.peek() is None
    sim.run(until=200)
    assert log == [(60, "w"), (70, "w")]


def test_a_ticker_that_never_lets_the_clock_move_is_a_livelock_not_a_hang() -> None:
    sim = Simulation(instant_budget=1000)
    ticker = sim.ticker("spin", lambda now: now)
    ticker.arm(3)
    with pytest.raises(Livelock) as caught:
        sim.run(until=10)
    assert "at one instant" in str(caught.value) and sim.now == 3


def test_a_ticker_cannot_ask_to_fire_in_the_past() -> None:
    sim = Simulation()
    sim.ticker("back", lambda now: now - 1).arm(5)
    with pytest.raises(ValueError, match="in the past"):
        sim.run(until=10)


def test_the_event_budget_counts_ticker_firings() -> None:
    sim = Simulation(event_budget=5)
    _every(sim, "w", 1, [])
    with pytest.raises(Livelock):
        sim.run(until=100)
    assert sim.events_processed == 5


_SCHEDULE = st.lists(
    st.tuples(st.sampled_from(["ticker", "timeout"]), st.integers(0, 4), st.integers(1, 6)),
    min_size=1,
    max_size=6,
)


def _build(schedule: list[tuple[str, int, int]], seed: int) -> tuple[Simulation, list[Any]]:
    sim = Simulation(RecordingChoices(SeededChoices(seed)))
    log: list[Any] = []
    for n, (kind, start, period) in enumerate(schedule):
        if kind == "ticker":
            ticker = _every(sim, f"t{n}", period, log)
            ticker.arm(start)
        else:

            def process(n: int = n, start: int = start, period: int = period) -> Any:
                yield sim.timeout(start)
                for _ in range(4):
                    log.append((sim.now, f"p{n}"))
                    yield sim.timeout(period)

            sim.process(process(), f"p{n}")
    return sim, log


@settings(max_examples=60, deadline=None)
@given(_SCHEDULE, st.integers(0, 2**32))
def test_stepping_and_running_fire_the_same_tickers_and_events_in_the_same_order(
    schedule: list[tuple[str, int, int]], seed: int
) -> None:
    run_sim, run_log = _build(schedule, seed)
    run_sim.run(until=30)
    step_sim, step_log = _build(schedule, seed)
    while (step_sim.peek() or 0) <= 30 and step_sim.peek() is not None:
        step_sim.step()
    assert step_log == run_log
    assert all(a[0] <= b[0] for a, b in itertools.pairwise(run_log))


def test_a_workload_makes_one_choice_however_many_writes_it_issues() -> None:
    recorder = RecordingChoices(SeededChoices(4))
    world = build_demo_world(4, choices=recorder)
    world.run()
    issued = sum(w.writes_issued for w in world.workloads)
    assert issued > 1000
    again = RecordingChoices(SeededChoices(4))
    other = build_demo_world(4, choices=again)
    other.run()
    assert other.sim.trace.to_jsonl() == world.sim.trace.to_jsonl()
    # A workload's choices: one seed, not three per write; the token is the whole run's.
    assert len(recorder.recorded) < issued // 10
    assert not any(check_all(world).values())
    assert world.sim.live_tickers == []  # every workload stopped with the backup


def test_a_fire_that_arms_other_tickers_keeps_every_due_instant_in_order() -> None:
    sim = Simulation()
    log: list[tuple[int, str]] = []

    def b_fire(now: int) -> None:
        log.append((now, "b"))

    b = sim.ticker("b", b_fire)

    def a_fire(now: int) -> int | None:
        log.append((now, "a"))
        if now == 10:
            b.arm(now)  # due now, before a's next instant
            a.arm(15)  # the owner re-arms it itself: the returned instant is ignored
        return now + 100

    a = sim.ticker("a", a_fire)
    a.arm(10)
    sim.run(until=130)
    assert log == [(10, "a"), (10, "b"), (15, "a"), (115, "a")]


def test_a_fire_may_look_at_the_queue_and_a_ticker_may_rest_or_stop_itself_while_it_fires() -> None:
    sim = Simulation()
    log: list[tuple[int, str]] = []
    peeks: list[int | None] = []

    def peeking(now: int) -> int:
        peeks.append(sim.peek())  # the firing ticker's entry is stale meanwhile
        return now + 10

    sim.ticker("peek", peeking).arm(5)

    def stopping(now: int) -> int:
        log.append((now, "stop"))
        stopper.stop()
        return now + 1  # ignored: it stopped

    stopper = sim.ticker("stop", stopping)
    stopper.arm(1)

    def resting(now: int) -> int:
        log.append((now, "rest"))
        rester.rest()
        return now + 1  # ignored: it rests until armed again

    rester = sim.ticker("rest", resting)
    rester.arm(2)
    sim.run(until=30)
    assert log == [(1, "stop"), (2, "rest")]
    assert len(peeks) == 3 and sim.live_tickers[-1] is rester and rester.due is None
    with pytest.raises(ValueError, match="stopped"):
        stopper.arm(40)
    with pytest.raises(ValueError, match="in the past"):
        rester.arm(3)


def test_live_tickers_are_listed_in_firing_order() -> None:
    sim = Simulation()
    late, first, second = (sim.ticker(n, lambda now: None) for n in ("late", "first", "second"))
    resting = sim.ticker("resting", lambda now: None)
    late.arm(20)
    second.arm(10)
    first.arm(10)  # armed after second: fires after it
    first.arm(5)  # armed again: now first of all
    assert [t.name for t in sim.live_tickers] == ["first", "second", "late", "resting"]
    assert resting.due is None


def test_one_step_is_one_firing_even_when_the_firing_readies_an_event() -> None:
    sim = Simulation()
    woken = sim.event()

    def fire(now: int) -> None:
        woken.succeed()

    sim.ticker("t", fire).arm(4)
    assert sim.step() and sim.events_processed == 1 and not woken.processed
    assert sim.step() and woken.processed and sim.events_processed == 2


def test_a_ticker_is_alone_at_its_instant_only_when_nothing_else_is_due_then() -> None:
    """What the explorer's reduction leaves unwatched: a ticker's firing that nothing else
    shares an instant with (an event due then, another ticker, steps already run then)."""
    sim = Simulation()
    log: list[tuple[int, str]] = []
    _every(sim, "writes", 10, log)
    _at(sim, 20, "protocol", log)
    sim.step()  # the process starts: its timeout is due at 20
    alone = []
    while sim.peek() is not None and sim.now < 30:
        alone.append((sim.peek(), sim.ticker_alone()))
        sim.step()
    # at 10 the ticker is alone; at 20 an event is due too (and after it, again at 20)
    assert alone[0] == (10, True) and (20, False) in alone and (20, True) not in alone
    other = Simulation()
    _every(other, "a", 5, log)
    _every(other, "b", 5, log)
    assert other.peek() == 5 and not other.ticker_alone()
