"""Nothing raises past a run: simultaneous provider failures abort cleanly, a writer's crashing
handler is a traced writer failure, a loop in zero simulated time is a livelock verdict, and
any other model error ends the run as a recorded crash that the fuzzer reports."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import attrs
import pytest

from vsssim import (
    AgentOptions,
    EventContext,
    FaultPlan,
    HResult,
    Outcome,
    RetryPolicy,
    World,
    Writer,
    WriterState,
)
from vsssim.errors import Livelock
from vsssim.host.world import LIVELOCK, MODEL_ERROR
from vsssim.sim import vocabulary as V
from vsssim.sim.kernel import Simulation
from vsssim.testing.fuzz import judge
from vsssim.testing.invariants import check_all
from vsssim.vss.providers.xp import XP_PROVIDER_ID, ReplicaMode, ReplicaOptions
from vsssim.vss.writers.base import CRASH_FAILURE, HANDLER_CRASHED
from vsssim.vss.writers.catalogue import sql_server_writer

GIB = 1024**3
SALES = "SqlServerWriter:SQLSRV01\\Sales"
NO_RETRY = AgentOptions(retry=RetryPolicy(retries=0))


def _sales_world(writer_class: type[Writer] = Writer, *, faults: FaultPlan | None = None) -> World:
    """SQL Server's Sales database: data on D:, log on E:, software provider."""
    world = World.create(3, faults=faults)
    world.add_volume("D:\\", "D:", GIB)
    world.add_volume("E:\\", "E:", GIB)
    world.add_file("D:\\SQLData\\Sales.mdf", 64, initial_blocks=8)
    world.add_file("E:\\SQLLogs\\Sales_log.ldf", 16, initial_blocks=4)
    metadata = sql_server_writer("SQLSRV01", [("Sales", "D:\\SQLData", "E:\\SQLLogs")]).metadata
    world.add_writer(writer_class(metadata))
    return world


def _quiet(world: World) -> None:
    """Nothing locked, marked, held or frozen, and no invariant violated."""
    assert world.crash is None
    assert world.coordinator.creating is None
    assert all(not v.held and v.marked_by is None for v in world.namespace.volumes)
    assert all(not w.application_frozen for w in world.coordinator.writers)
    assert {k: [str(v) for v in vs] for k, vs in check_all(world).items() if vs} == {}


def test_two_providers_failing_commit_at_one_instant_abort_the_set_once() -> None:
    """Both providers of a mixed set fail CommitSnapshots at the same instant: the first
    failure aborts the set, the second has nobody waiting and is dropped, not raised."""
    world = World.create(1, faults=FaultPlan.forced("provider-commit-failure", "*.CommitSnapshots"))
    world.add_array(options=ReplicaOptions(mode=ReplicaMode.RESYNC))
    world.add_volume("C:\\", "C:", GIB)
    world.add_array_volume("D:\\", "01:10", GIB, label="D:", replicas=["01:20"])
    world.add_file("D:\\SQLData\\Sales.mdf", 64, initial_blocks=8)
    world.add_file("C:\\SQLLogs\\Sales_log.ldf", 16, initial_blocks=4)
    world.add_writer(sql_server_writer("SQLSRV01", [("Sales", "D:\\SQLData", "C:\\SQLLogs")]))
    options = AgentOptions(
        provider_id=XP_PROVIDER_ID,
        replica=ReplicaOptions(mode=ReplicaMode.RESYNC),
        retry=RetryPolicy(retries=0),
    )
    world.add_agent("agent", [SALES], options)
    [result] = world.run()
    failures = world.coordinator.faults.fired if world.coordinator.faults else []
    assert len({f.site for f in failures}) == 2, "both providers failed their commit"
    assert result.outcome is Outcome.FAILED
    assert result.hresult is HResult.VSS_E_UNEXPECTED_PROVIDER_ERROR
    assert len([r for r in world.sim.trace.find(action=V.ABORT) if r.details["set_id"]]) == 1
    _quiet(world)


class _Raises(Writer):
    def on_freeze(self, ctx: EventContext) -> Generator[Any, Any, Any]:
        yield from self.take_time(ctx)
        raise KeyError("no such database")


class _YieldsNumber(Writer):
    def on_prepare_snapshot(self, ctx: EventContext) -> Generator[Any, Any, Any]:
        yield 5


class _ReturnsNumber(Writer):
    def on_prepare_backup(self, ctx: EventContext) -> Any:
        return 42


class _PlainFunction(Writer):
    def on_prepare_backup(self, ctx: EventContext) -> Any:  # no yield: an instant reply
        return True


@pytest.mark.parametrize(
    ("writer_class", "state", "says"),
    [
        (_Raises, WriterState.FAILED_AT_FREEZE, "OnFreeze raised KeyError"),
        (_YieldsNumber, WriterState.FAILED_AT_PREPARE_SNAPSHOT, "yielded 5, not an event"),
        (_ReturnsNumber, WriterState.FAILED_AT_PREPARE_BACKUP, "returned 42"),
    ],
)
def test_a_crashing_handler_fails_its_writer_and_the_backup_cleans_up(
    writer_class: type[Writer], state: WriterState, says: str
) -> None:
    world = _sales_world(writer_class)
    world.add_agent("agent", [SALES], NO_RETRY)
    [result] = world.run()
    [writer] = world.coordinator.writers
    assert result.outcome is not Outcome.SUCCEEDED and not result.files
    [session] = writer.sessions
    assert session.state is state and session.failure is CRASH_FAILURE
    assert says in session.failure_reason
    [crash] = world.sim.trace.find(action=HANDLER_CRASHED)
    assert says.split(" ", 1)[1] in str(crash.details["error"])
    _quiet(world)
    report = judge(world, True, 0, 3, "")
    assert [v for v in report.violations if v.startswith("writer bug:")], report.violations


def test_a_plain_function_handler_is_an_instant_reply() -> None:
    world = _sales_world(_PlainFunction)
    world.add_agent("agent", [SALES], NO_RETRY)
    [result] = world.run()
    assert result.succeeded, result.message
    assert world.sim.trace.find(action=HANDLER_CRASHED) == []
    _quiet(world)


class _SpinsInZeroTime(Writer):
    def on_prepare_snapshot(self, ctx: EventContext) -> Generator[Any, Any, Any]:
        while True:
            yield ctx.sim.timeout(0)


def test_a_loop_in_zero_simulated_time_is_a_livelock_verdict() -> None:
    world = _sales_world(_SpinsInZeroTime)
    world.sim.instant_budget = 20_000
    world.add_agent("agent", [SALES], NO_RETRY)
    world.run()
    assert world.crash is not None and world.crash.kind == LIVELOCK
    assert "SqlServerWriter OnPrepareSnapshot" in world.crash.error
    [record] = world.sim.trace.find(action=LIVELOCK)
    assert record.details["error"] == world.crash.error
    assert not world.heal_and_settle(1_000_000)
    report = judge(world, False, 0, 3, "token")
    assert report.violations == (f"crash: {world.crash}",)


def test_a_model_error_ends_the_run_as_a_recorded_crash() -> None:
    world = _sales_world()

    def broken() -> Generator[Any, Any, Any]:
        yield world.sim.timeout(5)
        raise ZeroDivisionError("planted")

    world.sim.process(broken(), "broken part")
    world.add_agent("agent", [SALES], NO_RETRY)
    world.run()
    assert world.crash is not None and world.crash.kind == MODEL_ERROR
    assert world.crash.error == "ZeroDivisionError: planted"
    assert world.crash.now_us == 5
    assert world.crash.where.startswith("test_run_containment.py:")
    assert [r.action for r in world.sim.trace.find(actor=V.RUN_ACTOR)] == [MODEL_ERROR]
    world.run_workloads(10)  # a crashed world runs no more
    assert world.sim.now == 5


def test_the_kernel_bounds_events_at_one_instant_and_in_a_run() -> None:
    sim = Simulation(instant_budget=100)

    def spin() -> Generator[Any, Any, Any]:
        while True:
            yield sim.timeout(0)

    sim.process(spin(), "spinner")
    with pytest.raises(Livelock, match="100 events at one instant") as caught:
        sim.run()
    assert caught.value.busiest == ("spinner",) and caught.value.now_us == 0

    sim = Simulation(event_budget=50)

    def tick() -> Generator[Any, Any, Any]:
        while True:
            yield sim.timeout(1)

    sim.process(tick(), "ticker")
    with pytest.raises(Livelock, match="50 events in the run"):
        sim.run()
    assert sim.events_processed == 50
    with pytest.raises(Livelock):
        sim.step()  # stepping counts the same budget


class _ChangesIdentity(Writer):
    def on_identify(self, ctx: EventContext) -> Generator[Any, Any, Any]:
        yield from self.take_time(ctx)
        self.metadata = attrs.evolve(self.metadata, writer_name="Impostor")


def test_a_writer_that_changes_its_identity_at_onidentify_fails_there() -> None:
    world = _sales_world(_ChangesIdentity)
    world.add_agent("agent", [SALES], NO_RETRY)
    [result] = world.run()
    [writer] = world.coordinator.writers
    assert writer.name == writer.metadata.writer_name == "SqlServerWriter"
    assert writer.sessions[0].state is WriterState.FAILED_AT_IDENTIFY
    assert "changed the writer's identity to 'Impostor'" in writer.sessions[0].failure_reason
    assert not result.succeeded
    _quiet(world)


class _ForgetsItsDatabase(Writer):
    """Describes its Sales database at the first OnIdentify only."""

    def on_identify(self, ctx: EventContext) -> Generator[Any, Any, Any]:
        yield from self.take_time(ctx)
        if self.sessions[0].session_id != ctx.session_id:
            self.metadata = attrs.evolve(self.metadata, components=())


def test_metadata_that_changes_between_sessions_is_read_per_session() -> None:
    """Each session selects from the document its own GatherWriterMetadata got: a component
    gone from a later document fails only the later session, cleanly."""
    world = _sales_world(_ForgetsItsDatabase)
    first = world.add_agent("first", [SALES], NO_RETRY)
    second = world.add_agent("second", [SALES], NO_RETRY)
    world.start([(first, 0), (second, 60_000_000)])
    world.sim.run()
    assert first.result is not None and first.result.succeeded, first.result
    assert second.result is not None and not second.result.succeeded
    assert "has no component" in second.result.message
    _quiet(world)


def test_fuzzed_runs_are_bounded_in_events() -> None:
    """A fuzzed run's world gets the runaway budget before it runs."""
    from vsssim.sim.choices import RecordingChoices, SeededChoices
    from vsssim.testing.draw import draw_scenario
    from vsssim.testing.fuzz import RUN_EVENT_BUDGET, run_world

    seen: list[int | None] = []
    recorder = RecordingChoices(SeededChoices(11))
    world, _ = run_world(
        draw_scenario(recorder), recorder, Writer, lambda w: seen.append(w.sim.event_budget)
    )
    assert seen == [RUN_EVENT_BUDGET]
    assert 0 < world.sim.events_processed < RUN_EVENT_BUDGET
