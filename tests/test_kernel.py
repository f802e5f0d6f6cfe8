"""The discrete-event kernel: clock, timeouts, processes, conditions and tie scheduling."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest

from vsssim.sim.choices import ChoiceSource, FifoChoices, SequenceChoices
from vsssim.sim.kernel import MILLISECOND, SECOND, Event, Simulation


class Boom(Exception):
    """A failure raised inside a simulated process."""


class ScriptedChoices(ChoiceSource):
    """Answers from ``script`` (then 0) and logs every question it was asked."""

    def __init__(self, script: list[int]) -> None:
        self.script = list(script)
        self.asked: list[tuple[str, int]] = []

    def choose(self, site: str, n: int) -> int:
        self.asked.append((site, n))
        return self.script.pop(0) if self.script else 0


# -- clock and timeouts ----------------------------------------------------------------------


def test_units_are_integer_microseconds() -> None:
    assert SECOND == 1000 * MILLISECOND == 1_000_000


def test_clock_is_an_integer_that_advances_to_each_timeout() -> None:
    sim = Simulation()
    seen: list[int] = []

    def sleeper() -> Generator[Event, Any, None]:
        yield sim.timeout(3 * MILLISECOND)
        seen.append(sim.now)
        yield sim.timeout(SECOND)
        seen.append(sim.now)

    sim.process(sleeper(), "sleeper")
    assert sim.now == 0
    sim.run()
    assert seen == [3_000, 1_003_000]
    assert sim.now == 1_003_000
    assert isinstance(sim.now, int)


def test_timeouts_fire_in_time_order_not_creation_order() -> None:
    sim = Simulation()
    fired: list[tuple[str, int]] = []

    def wait(label: str, delay: int) -> Generator[Event, Any, None]:
        yield sim.timeout(delay)
        fired.append((label, sim.now))

    for label, delay in [("c", 30), ("a", 10), ("d", 40), ("b", 20)]:
        sim.process(wait(label, delay), label)
    sim.run()
    assert fired == [("a", 10), ("b", 20), ("c", 30), ("d", 40)]


def test_timeout_value_is_sent_back_into_the_process() -> None:
    sim = Simulation()
    got: list[object] = []

    def proc() -> Generator[Event, Any, None]:
        got.append((yield sim.timeout(5, value="payload")))

    sim.process(proc(), "p")
    sim.run()
    assert got == ["payload"]


def test_negative_delay_is_rejected() -> None:
    sim = Simulation()
    with pytest.raises(ValueError):
        sim.timeout(-1)


def test_cancelled_timeout_neither_fires_nor_moves_the_clock() -> None:
    sim = Simulation()
    fired: list[int] = []
    timeout = sim.timeout(50)
    timeout.callbacks.append(lambda ev: fired.append(sim.now))  # type: ignore[union-attr]
    sim.timeout(10)
    timeout.cancel()
    assert sim.peek() == 10
    sim.run()
    assert fired == []
    assert sim.now == 10  # the run ended at the last live event, not at the cancelled one


def test_only_a_cancelled_timeout_leaves_the_clock_at_zero() -> None:
    sim = Simulation()
    sim.timeout(SECOND).cancel()
    assert sim.peek() is None
    sim.run()
    assert sim.now == 0


def test_run_until_a_time_stops_there_and_can_resume() -> None:
    sim = Simulation()
    fired: list[int] = []

    def proc() -> Generator[Event, Any, None]:
        for _ in range(3):
            yield sim.timeout(10)
            fired.append(sim.now)

    sim.process(proc(), "p")
    sim.run(until=15)
    assert sim.now == 15
    assert fired == [10]
    sim.run(until=20)  # an event exactly at the limit is processed
    assert fired == [10, 20]
    sim.run()
    assert fired == [10, 20, 30]


def test_run_until_a_time_past_the_last_event_advances_the_clock() -> None:
    sim = Simulation()
    sim.timeout(5)
    sim.run(until=100)
    assert sim.now == 100


def test_run_until_a_time_does_not_overshoot_past_a_cancelled_timeout() -> None:
    sim = Simulation()
    fired: list[int] = []
    sim.timeout(5).cancel()

    def proc() -> Generator[Event, Any, None]:
        yield sim.timeout(20)
        fired.append(sim.now)

    sim.process(proc(), "p")
    sim.run(until=10)
    assert fired == []
    assert sim.now == 10


# -- processes -------------------------------------------------------------------------------


def test_process_waits_for_another_and_gets_its_return_value() -> None:
    sim = Simulation()
    log: list[tuple[str, int, object]] = []

    def child() -> Generator[Event, Any, int]:
        yield sim.timeout(7)
        return 42

    def parent() -> Generator[Event, Any, str]:
        value = yield sim.process(child(), "child")
        log.append(("parent resumed", sim.now, value))
        return f"got {value}"

    proc = sim.process(parent(), "parent")
    assert proc.is_alive
    sim.run()
    assert log == [("parent resumed", 7, 42)]
    assert not proc.is_alive
    assert proc.ok
    assert proc.value == "got 42"


def test_waiting_on_a_finished_process_resumes_at_once_with_its_value() -> None:
    sim = Simulation()
    child = sim.process((yield_nothing_and_return(sim, "done")), "child")
    sim.run()
    assert child.processed
    got: list[tuple[object, int]] = []

    def late() -> Generator[Event, Any, None]:
        yield sim.timeout(100)
        got.append(((yield child), sim.now))

    sim.process(late(), "late")
    sim.run()
    assert got == [("done", 100)]


def yield_nothing_and_return(sim: Simulation, value: object) -> Generator[Event, Any, object]:
    yield sim.timeout(0)
    return value


def test_failure_propagates_into_the_waiting_process() -> None:
    sim = Simulation()
    caught: list[tuple[str, int]] = []

    def failing() -> Generator[Event, Any, None]:
        yield sim.timeout(3)
        raise Boom("broken")

    def waiter() -> Generator[Event, Any, str]:
        try:
            yield sim.process(failing(), "failing")
        except Boom as exc:
            caught.append((str(exc), sim.now))
            return "handled"
        return "not reached"

    proc = sim.process(waiter(), "waiter")
    sim.run()  # handled: the run does not crash
    assert caught == [("broken", 3)]
    assert proc.value == "handled"


def test_unhandled_failure_in_a_waiter_fails_it_in_turn() -> None:
    sim = Simulation()

    def failing() -> Generator[Event, Any, None]:
        yield sim.timeout(1)
        raise Boom("deep")

    def middle() -> Generator[Event, Any, None]:
        yield sim.process(failing(), "failing")

    outcome: list[str] = []

    def top() -> Generator[Event, Any, None]:
        try:
            yield sim.process(middle(), "middle")
        except Boom as exc:
            outcome.append(f"top saw {exc}")

    sim.process(top(), "top")
    sim.run()
    assert outcome == ["top saw deep"]


def test_failure_nobody_waits_for_crashes_run() -> None:
    sim = Simulation()

    def failing() -> Generator[Event, Any, None]:
        yield sim.timeout(4)
        raise Boom("unobserved")

    proc = sim.process(failing(), "failing")
    with pytest.raises(Boom, match="unobserved"):
        sim.run()
    assert sim.now == 4
    assert not proc.ok
    assert isinstance(proc.value, Boom)
    assert sim.live_processes == []


def test_defused_failure_does_not_crash_run() -> None:
    sim = Simulation()
    event = sim.event()
    event.fail(Boom("ignored"))
    event.defuse()
    sim.run()
    assert event.processed and not event.ok


def test_yielding_a_non_event_fails_the_process_with_type_error() -> None:
    sim = Simulation()

    def bad() -> Generator[Any, Any, None]:
        yield 5

    caught: list[BaseException] = []

    def watcher() -> Generator[Event, Any, None]:
        try:
            yield sim.process(bad(), "bad")
        except TypeError as exc:
            caught.append(exc)

    sim.process(watcher(), "watcher")
    sim.run()
    assert len(caught) == 1
    assert "bad" in str(caught[0])


def test_yielding_a_non_event_unobserved_crashes_run_with_type_error() -> None:
    sim = Simulation()

    def bad() -> Generator[Any, Any, None]:
        yield "not an event"

    sim.process(bad(), "bad")
    with pytest.raises(TypeError):
        sim.run()


def test_live_processes_lists_unfinished_processes_oldest_first() -> None:
    sim = Simulation()

    def sleeper(delay: int) -> Generator[Event, Any, None]:
        yield sim.timeout(delay)

    first = sim.process(sleeper(10), "first")
    second = sim.process(sleeper(20), "second")
    assert sim.live_processes == [first, second]
    sim.run(until=15)
    assert sim.live_processes == [second]
    sim.run()
    assert sim.live_processes == []


def test_event_succeeds_only_once_and_value_needs_a_trigger() -> None:
    sim = Simulation()
    event = sim.event()
    with pytest.raises(RuntimeError):
        _ = event.value
    event.succeed(1)
    with pytest.raises(RuntimeError):
        event.succeed(2)
    with pytest.raises(RuntimeError):
        event.fail(Boom())
    assert event.value == 1


# -- run(until=event) ------------------------------------------------------------------------


def test_run_until_event_returns_its_value_and_stops_there() -> None:
    sim = Simulation()

    def worker() -> Generator[Event, Any, str]:
        yield sim.timeout(25)
        return "result"

    def background() -> Generator[Event, Any, None]:
        yield sim.timeout(1_000)

    sim.process(background(), "background")
    assert sim.run(until=sim.process(worker(), "worker")) == "result"
    assert sim.now == 25  # the later background timeout has not been reached


def test_run_until_failed_event_raises_its_exception() -> None:
    sim = Simulation()
    event = sim.event()

    def trigger() -> Generator[Event, Any, None]:
        yield sim.timeout(2)
        event.fail(Boom("awaited failure"))

    sim.process(trigger(), "trigger")
    with pytest.raises(Boom, match="awaited failure"):
        sim.run(until=event)


def test_run_until_event_that_never_triggers_is_an_error() -> None:
    sim = Simulation()
    sim.timeout(5)
    with pytest.raises(RuntimeError):
        sim.run(until=sim.event())


# -- conditions ------------------------------------------------------------------------------


def test_all_of_waits_for_every_event_and_lists_them_in_given_order() -> None:
    sim = Simulation()
    slow, fast = sim.timeout(30, "slow"), sim.timeout(10, "fast")
    result: list[tuple[int, list[object]]] = []

    def proc() -> Generator[Event, Any, None]:
        done = yield sim.all_of([slow, fast])
        result.append((sim.now, [e.value for e in done]))

    sim.process(proc(), "p")
    sim.run()
    assert result == [(30, ["slow", "fast"])]


def test_any_of_triggers_at_the_first_event() -> None:
    sim = Simulation()
    slow, fast = sim.timeout(30, "slow"), sim.timeout(10, "fast")
    result: list[tuple[int, list[object]]] = []

    def proc() -> Generator[Event, Any, None]:
        done = yield sim.any_of([slow, fast])
        result.append((sim.now, [e.value for e in done]))

    sim.process(proc(), "p")
    sim.run()
    assert result == [(10, ["fast"])]


def test_empty_conditions_trigger_immediately() -> None:
    sim = Simulation()
    results: list[tuple[int, object]] = []

    def proc() -> Generator[Event, Any, None]:
        results.append((sim.now, (yield sim.all_of([]))))
        results.append((sim.now, (yield sim.any_of([]))))

    sim.process(proc(), "p")
    sim.run()
    assert results == [(0, []), (0, [])]


def test_all_of_fails_as_soon_as_one_event_fails() -> None:
    sim = Simulation()

    def failing() -> Generator[Event, Any, None]:
        yield sim.timeout(5)
        raise Boom("part failed")

    caught: list[tuple[str, int]] = []

    def proc() -> Generator[Event, Any, None]:
        try:
            yield sim.all_of([sim.timeout(100), sim.process(failing(), "failing")])
        except Boom as exc:
            caught.append((str(exc), sim.now))

    sim.process(proc(), "p")
    sim.run()  # the failure was handled through the condition: no crash
    assert caught == [("part failed", 5)]
    assert sim.now == 100


def test_a_failure_after_any_of_triggered_is_not_swallowed() -> None:
    sim = Simulation()

    def failing() -> Generator[Event, Any, None]:
        yield sim.timeout(50)
        raise Boom("too late")

    got: list[object] = []

    def proc() -> Generator[Event, Any, None]:
        done = yield sim.any_of([sim.timeout(5, "first"), sim.process(failing(), "failing")])
        got.append([e.value for e in done])

    sim.process(proc(), "p")
    # The condition had decided already: the late failure is nobody's, so the run crashes.
    with pytest.raises(Boom, match="too late"):
        sim.run()
    assert got == [["first"]]
    assert sim.now == 50


def test_all_of_accepts_already_processed_events() -> None:
    sim = Simulation()
    early = sim.timeout(1, "early")
    sim.run()
    assert early.processed
    got: list[tuple[int, list[object]]] = []

    def proc() -> Generator[Event, Any, None]:
        done = yield sim.all_of([early, sim.timeout(4, "late")])
        got.append((sim.now, [e.value for e in done]))

    sim.process(proc(), "p")
    sim.run()
    assert got == [(5, ["early", "late"])]


# -- ties and the choice source --------------------------------------------------------------


def _record_starts(sim: Simulation, labels: list[str], order: list[str]) -> None:
    def proc(label: str) -> Generator[Event, Any, None]:
        order.append(label)
        yield sim.timeout(10)
        order.append(label + "'")

    for label in labels:
        sim.process(proc(label), label)


def test_fifo_runs_ties_in_scheduling_order() -> None:
    sim = Simulation(FifoChoices())
    order: list[str] = []
    _record_starts(sim, ["a", "b", "c"], order)
    sim.run()
    assert order == ["a", "b", "c", "a'", "b'", "c'"]


def test_ties_consult_the_choice_source_at_site_schedule() -> None:
    choices = ScriptedChoices([2, 1])
    sim = Simulation(choices)
    order: list[str] = []
    _record_starts(sim, ["a", "b", "c"], order)
    sim.run()
    # ready [a, b, c]: pick index 2 -> c; ready [a, b]: pick index 1 -> b; then a alone.
    assert order[:3] == ["c", "b", "a"]
    assert choices.asked, "ties must be decided by the choice source"
    assert {site for site, _ in choices.asked} == {"schedule"}
    assert choices.asked[:2] == [("schedule", 3), ("schedule", 2)]
    assert all(n > 1 for _, n in choices.asked)  # a lone ready event is not a choice


def test_sequence_choices_force_a_non_fifo_order_of_same_instant_timeouts() -> None:
    fifo_order: list[str] = []
    _record_starts(fifo_sim := Simulation(), ["a", "b"], fifo_order)
    fifo_sim.run()

    forced_order: list[str] = []
    sim = Simulation(SequenceChoices([1], strict=False))
    _record_starts(sim, ["a", "b"], forced_order)
    sim.run()
    assert fifo_order[:2] == ["a", "b"]
    assert forced_order[:2] == ["b", "a"]
    assert forced_order != fifo_order
    assert sorted(forced_order) == sorted(fifo_order)  # same events, another interleaving


def test_choice_source_is_not_asked_without_ties() -> None:
    choices = ScriptedChoices([])
    sim = Simulation(choices)

    def proc() -> Generator[Event, Any, None]:
        for delay in (1, 2, 3):
            yield sim.timeout(delay)

    sim.process(proc(), "alone")
    sim.run()
    assert choices.asked == []
    assert sim.now == 6


def test_waiting_on_a_cancelled_timeout_never_resumes() -> None:
    sim = Simulation()
    cancelled = sim.timeout(5)
    cancelled.cancel()
    woke: list[int] = []

    def sleeper() -> Generator[Event, Any, None]:
        yield sim.any_of([cancelled, sim.timeout(100)])
        woke.append(sim.now)

    sim.process(sleeper(), "sleeper")
    sim.run()
    assert woke == [100]


def test_cancelling_a_zero_delay_timeout_stops_it_firing() -> None:
    sim = Simulation()
    fired: list[int] = []
    timer = sim.timeout(0)
    timer.callbacks.append(lambda event: fired.append(sim.now))  # type: ignore[union-attr]
    timer.cancel()
    sim.run()
    assert fired == []


def test_ctrl_c_in_a_process_leaves_the_run_at_once_and_is_no_process_failure() -> None:
    """A KeyboardInterrupt (or any BaseException that is not an Exception) is the run's end:
    a process waiting on the interrupted one never gets it as that process's error."""
    sim = Simulation()
    seen: list[str] = []

    def interrupted() -> Generator[Any, Any, None]:
        yield sim.timeout(5)
        raise KeyboardInterrupt

    target = sim.process(interrupted(), "interrupted")

    def waiter() -> Generator[Any, Any, None]:
        try:
            yield target
        except BaseException as caught:  # what a careless containment would do
            seen.append(type(caught).__name__)

    sim.process(waiter(), "waiter")
    with pytest.raises(KeyboardInterrupt):
        sim.run()
    assert seen == [] and sim.now == 5 and not target.triggered
