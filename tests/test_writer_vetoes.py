"""A writer's two ways to fail (a veto that lets the operation go on, a fatal failure that
aborts it), the agent's writer-status check after each event, and the freeze window."""

from __future__ import annotations

import runpy
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import NO_RETRY, db_metadata, small_world
from vsssim import SECOND, AgentOptions, HResult, World, Writer, WriterState
from vsssim.faults import FaultPlan
from vsssim.requesters.backup_options import RetryPolicy
from vsssim.requesters.backup_result import Outcome
from vsssim.requesters.writer_status_policy import WriterFailurePolicy
from vsssim.sim import vocabulary as V
from vsssim.testing.invariants import backup_honest, check_all
from vsssim.vss.writers.base import DEFAULT_TIMINGS

DB = "TestDbWriter:Inst\\Db"


def _run(world: World, options: AgentOptions = NO_RETRY, plan: FaultPlan | None = None) -> World:
    if plan is not None:
        world.coordinator.install_faults(plan)
    world.add_agent("agent", [DB], options)
    world.run()
    assert world.heal_and_settle(3600 * SECOND)
    assert {n: v for n, v in check_all(world).items() if v} == {}
    return world


def _decisions(world: World) -> list[tuple[object, object, object]]:
    return [
        (r.details["after"], r.details["state"], r.details["decision"])
        for r in world.sim.trace.find(action=V.WRITER_FAILURE_DECISION)
    ]


@pytest.mark.parametrize(
    ("event", "state"),
    [
        ("OnPrepareSnapshot", WriterState.FAILED_AT_PREPARE_SNAPSHOT),
        ("OnFreeze", WriterState.FAILED_AT_FREEZE),
        ("OnThaw", WriterState.FAILED_AT_THAW),
    ],
)
def test_a_veto_lets_do_snapshot_set_succeed_and_the_agent_skips_the_writer(
    event: str, state: WriterState
) -> None:
    """ "Writer Errors and Vetoes": SetWriterFailure and return true vetoes; the operation goes
    on, GatherWriterStatus shows VSS_WS_FAILED_AT_<event>, and the requester decides (here:
    the writer's components are left out, SetBackupSucceeded false)."""
    plan = FaultPlan.forced("writer-vetoes-nonretryable", f"TestDbWriter.{event}")
    world = _run(small_world(3), plan=plan)
    [result] = world.results
    assert not world.sim.trace.find(action=V.ABORT)
    assert world.sim.trace.find(action=V.DO_SNAPSHOT_SET_COMPLETE)
    [vetoed] = world.sim.trace.find(action=V.WRITER_VETOED)
    assert vetoed.details["event"] == event
    assert result.outcome is Outcome.PARTIAL and result.skipped == ("Inst\\Db",)
    [left_out] = result.left_out  # which, and why, as diskshadow says
    assert left_out.component == "Inst\\Db"
    assert left_out.reason == (
        f"its writer TestDbWriter is {state.vss_name} with VSS_E_WRITERERROR_NONRETRYABLE "
        "after DoSnapshotSet"
    )
    assert not result.files
    writer = world.coordinator.writer("TestDbWriter")
    assert (writer.state, writer.failure) == (state, HResult.VSS_E_WRITERERROR_NONRETRYABLE)
    assert _decisions(world) == [(V.DO_SNAPSHOT_SET, state.vss_name, "skip components")]
    assert result.document is not None
    assert [c.backup_succeeded for c in result.document.components] == [False]


def test_set_writer_failure_then_true_in_a_user_writer_is_a_veto() -> None:
    """CVssWriter::OnFreeze: a nonfatal error calls SetWriterFailure and returns true: no
    Abort event; the writer still gets Thaw and lets its application go."""

    class Vetoing(Writer):
        def on_freeze(self, ctx: Any) -> Any:
            yield from super().on_freeze(ctx)
            self.set_writer_failure(ctx, HResult.VSS_E_WRITERERROR_OUTOFRESOURCES, "no memory")
            return True

    world = _run(small_world(4, db_writer=Vetoing(db_metadata())))
    [result] = world.results
    writer = world.coordinator.writer("TestDbWriter")
    assert writer.state == WriterState.FAILED_AT_FREEZE
    assert writer.failure_reason == "no memory"
    assert world.sim.trace.find(action=V.ON_THAW, actor="TestDbWriter")
    assert not writer.application_frozen
    assert result.outcome is Outcome.PARTIAL


def test_set_writer_failure_refuses_a_code_that_is_not_a_writer_error() -> None:
    """CVssWriter::SetWriterFailure: only the VSS_E_WRITERERROR_* codes can be set."""

    class Wrong(Writer):
        def on_freeze(self, ctx: Any) -> Any:
            self.set_writer_failure(ctx, HResult.VSS_E_BAD_STATE)
            return True

    world = _run(small_world(5, db_writer=Wrong(db_metadata()), workload=False))
    # The writer's bug (a ValueError escaping its handler) fails the event fatally.
    assert world.sim.trace.find(action=V.HANDLER_CRASHED)
    assert world.results[0].outcome is Outcome.FAILED


def test_the_fail_policy_accepts_the_veto_and_aborts() -> None:
    """ "Writer Errors and Vetoes" (the requester can accept the veto) and "Aborting VSS
    Operations" (after a veto the requester calls AbortBackup)."""
    plan = FaultPlan.forced("writer-vetoes-retryable", "TestDbWriter.OnFreeze")
    options = AgentOptions(on_writer_failure=WriterFailurePolicy.FAIL)
    world = _run(small_world(6), options, plan)
    [result] = world.results
    assert result.outcome is Outcome.FAILED and len(result.attempts) == 1
    assert result.hresult == HResult.VSS_E_WRITERERROR_RETRYABLE
    assert _decisions(world) == [(V.DO_SNAPSHOT_SET, "VSS_WS_FAILED_AT_FREEZE", "fail backup")]
    assert world.sim.trace.find(action=V.ABORT_BACKUP)
    assert not world.coordinator.snapshots


def test_the_retry_policy_tries_a_retryable_veto_again() -> None:
    """ "Writer Errors and Vetoes": VSS_E_WRITERERROR_RETRYABLE says a retry may work."""
    plan = FaultPlan.forced("writer-vetoes-retryable", "TestDbWriter.OnFreeze", times=1)
    options = AgentOptions(retry=RetryPolicy(retries=1, delay_us=SECOND))
    world = _run(small_world(7), options, plan)
    [result] = world.results
    assert result.outcome is Outcome.SUCCEEDED and len(result.attempts) == 2
    assert _decisions(world) == [(V.DO_SNAPSHOT_SET, "VSS_WS_FAILED_AT_FREEZE", "retry")]


def test_a_critical_writer_s_veto_fails_the_backup() -> None:
    """ "Writer Errors and Vetoes": the requester decides; a writer it cannot do without
    fails the backup."""
    plan = FaultPlan.forced("writer-vetoes-nonretryable", "TestDbWriter.OnPrepareBackup")
    options = AgentOptions(critical_writers=("TestDbWriter",), retry=RetryPolicy(retries=0))
    world = _run(small_world(8), options, plan)
    [result] = world.results
    assert result.outcome is Outcome.FAILED
    assert _decisions(world) == [
        (V.PREPARE_FOR_BACKUP, "VSS_WS_FAILED_AT_PREPARE_BACKUP", "fail backup")
    ]


def test_the_freeze_window_runs_from_the_receipt_of_freeze() -> None:
    """CVssWriter::Initialize (dwTimeoutFreeze, 60 s) and CVssWriter::OnFreeze: no Thaw within
    60 s of the Freeze event and the writer fails with VSS_E_WRITERERROR_TIMEOUT, its OnAbort
    runs then, and VSS aborts ("Aborting VSS Operations"). An OnFreeze that itself takes 61 s
    runs out the window (counted from the reply, it would not)."""
    timings = dict(DEFAULT_TIMINGS, OnFreeze=(61 * SECOND, 61 * SECOND))
    world = _run(small_world(9, db_writer=Writer(db_metadata(), timings=timings)))
    [freeze] = world.sim.trace.find(action=V.ON_FREEZE, actor="TestDbWriter")
    [timeout] = world.sim.trace.find(action=V.FREEZE_TIMEOUT)
    [handled] = world.sim.trace.find(action=V.FREEZE_TIMEOUT_HANDLED)
    assert timeout.time_us == freeze.time_us + 60 * SECOND
    # The writer's own OnAbort runs between the two records; VSS's abort of the set follows.
    vss_abort = world.sim.trace.find(action=V.ABORT)[0]
    assert timeout.seq < handled.seq < vss_abort.seq
    writer = world.coordinator.writer("TestDbWriter")
    assert (writer.state, writer.failure) == (
        WriterState.FAILED_AT_FREEZE,
        HResult.VSS_E_WRITERERROR_TIMEOUT,
    )
    [result] = world.results
    assert result.outcome is Outcome.FAILED and result.hresult == HResult.VSS_E_UNEXPECTED


def test_a_thaw_within_the_window_from_receipt_keeps_the_writer_stable() -> None:
    """CVssWriter::Initialize (dwTimeoutFreeze): a 50 s OnFreeze whose Thaw comes within 60 s
    of the Freeze event is in time."""
    timings = dict(DEFAULT_TIMINGS, OnFreeze=(50 * SECOND, 50 * SECOND))
    world = _run(small_world(10, db_writer=Writer(db_metadata(), timings=timings)))
    assert not world.sim.trace.find(action=V.FREEZE_TIMEOUT)
    assert world.results[0].outcome is Outcome.SUCCEEDED


def test_the_check_writer_status_lesson_runs_and_leaves_the_vetoing_writer_out(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """ "Writer Errors and Vetoes": the lesson examples/check_writer_status.py checks writer
    status after a DoSnapshotSet that succeeded and leaves the vetoing writer out."""
    path = Path(__file__).parent.parent / "examples" / "check_writer_status.py"
    runpy.run_path(str(path), run_name="__main__")
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "DoSnapshotSet succeeded: 3 shadow copies"
    assert "SqlServerWriter: VSS_WS_FAILED_AT_FREEZE, VSS_E_WRITERERROR_NONRETRYABLE" in out
    assert "left out  SqlServerWriter: SQLSRV01\\Sales" in out
    assert "backed up Registry Writer: Registry" in out
    assert out[-1] == "shadow copies left: 0"


def test_backup_honest_catches_a_requester_that_ignores_a_veto() -> None:
    """ "Writer Errors and Vetoes": a requester checks writer status after each event; one
    that reports a vetoing writer's component backed up is caught by *backup honest*."""
    world = small_world(11, workload=False)
    world.coordinator.install_faults(
        FaultPlan.forced("writer-vetoes-nonretryable", "TestDbWriter.OnFreeze")
    )
    sim, bc = world.sim, world.coordinator.create_backup_components("careless")
    bc.initialize_for_backup()
    bc.set_backup_state(select_components=True)
    [db] = [
        m for m in sim.run(until=bc.gather_writer_metadata()) if m.writer_name == "TestDbWriter"
    ]
    [component] = [c for c in db.components if c.full_path == "Inst\\Db"]
    bc.add_component(db.writer_class_id, component.logical_path, component.name)
    bc.start_snapshot_set()
    for volume in ("D:\\", "L:\\"):
        bc.add_to_snapshot_set(volume)
    sim.run(until=bc.prepare_for_backup())
    sim.run(until=bc.do_snapshot_set())  # succeeds: the veto is only in writer status
    bc.set_backup_succeeded(db.writer_class_id, component.logical_path, component.name, True)
    sim.run(until=bc.backup_complete())
    sim.run(until=bc.release())
    [violation] = backup_honest(world)
    assert "VSS_WS_FAILED_AT_FREEZE" in violation.message and violation.subject == "TestDbWriter"
