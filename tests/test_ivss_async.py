"""IVssAsync as the IVssAsync interface, IVssAsync::Wait, IVssAsync::QueryStatus and
IVssAsync::Cancel pages describe it: the object the asynchronous IVssBackupComponents calls
return, waited on from plain code (waiting advances the simulated clock), queried and cancelled."""

from __future__ import annotations

import pytest

import vsssim
from vsssim import BackupComponents, HResult, VssAsync, VssError, World
from vsssim.sim import vocabulary as V
from vsssim.sim.kernel import Process, ProcessGenerator
from vsssim.vss.states import SessionState

from .conftest import DB_WRITER_ID, small_world


def _gathered(world: World) -> BackupComponents:
    bc = world.coordinator.create_backup_components("requester")
    bc.initialize_for_backup()
    bc.set_backup_state(True, False, vsssim.BackupType.FULL)
    assert bc.gather_writer_metadata().wait() is HResult.S_OK
    bc.add_component(DB_WRITER_ID, "Inst", "Db")
    return bc


def _set_defined(world: World) -> BackupComponents:
    bc = _gathered(world)
    bc.start_snapshot_set()
    bc.add_to_snapshot_set("D:\\")
    bc.add_to_snapshot_set("L:\\")
    assert bc.prepare_for_backup().wait() is HResult.S_OK
    return bc


def _nothing_left(world: World) -> None:
    coordinator = world.coordinator
    assert coordinator.creating is None
    assert not any(v.held or v.marked_by for v in world.namespace.volumes)
    assert not any(w.application_frozen for w in coordinator.writers)


def test_the_asynchronous_calls_return_an_ivss_async() -> None:
    """IVssAsync interface page: the calls that return IVssAsync (GatherWriterMetadata,
    PrepareForBackup, DoSnapshotSet, GatherWriterStatus, BackupComplete) return one here."""
    world = small_world(1, workload=False)
    bc = world.coordinator.create_backup_components("requester")
    bc.initialize_for_backup()
    bc.set_backup_state(True, False, vsssim.BackupType.FULL)
    calls = [bc.gather_writer_metadata()]
    world.sim.run(until=calls[-1])
    bc.add_component(DB_WRITER_ID, "Inst", "Db")
    bc.start_snapshot_set()
    bc.add_to_snapshot_set("D:\\")
    calls.append(bc.prepare_for_backup())
    world.sim.run(until=calls[-1])
    calls.append(bc.do_snapshot_set())
    world.sim.run(until=calls[-1])
    calls.append(bc.gather_writer_status())
    world.sim.run(until=calls[-1])
    calls.append(bc.backup_complete())
    world.sim.run(until=calls[-1])
    assert all(isinstance(c, VssAsync) and isinstance(c, Process) for c in calls)
    assert [c.call for c in calls] == [
        V.GATHER_WRITER_METADATA,
        V.PREPARE_FOR_BACKUP,
        V.DO_SNAPSHOT_SET,
        V.GATHER_WRITER_STATUS,
        V.BACKUP_COMPLETE,
    ]
    assert all(c.query_status() == (HResult.S_OK, HResult.VSS_S_ASYNC_FINISHED) for c in calls)
    assert all(c.cancel() is HResult.VSS_S_ASYNC_FINISHED for c in calls)


def test_wait_advances_the_clock_only_until_the_call_finishes() -> None:
    """IVssAsync::Wait page: Wait returns when the operation finishes, or when its time is up;
    then QueryStatus says VSS_S_ASYNC_PENDING."""
    world = small_world(1, workload=False)
    bc = _set_defined(world)
    start = world.sim.now
    creating = bc.do_snapshot_set()
    assert creating.query_status() == (HResult.S_OK, HResult.VSS_S_ASYNC_PENDING)
    assert creating.wait(timeout_us=1) is HResult.S_OK
    assert world.sim.now == start + 1
    assert creating.query_status()[1] is HResult.VSS_S_ASYNC_PENDING
    assert creating.wait() is HResult.S_OK
    finished_at = world.sim.now
    assert creating.query_status()[1] is HResult.VSS_S_ASYNC_FINISHED
    assert bc.state is SessionState.SNAPSHOTS_CREATED
    assert creating.wait(timeout_us=10**9) is HResult.S_OK and world.sim.now == finished_at


def test_wait_refuses_a_negative_timeout_and_changes_nothing() -> None:
    """IVssAsync::Wait page: dwMilliseconds is a length of time (E_INVALIDARG otherwise)."""
    world = small_world(1, workload=False)
    bc = _set_defined(world)
    creating = bc.do_snapshot_set()
    now, records = world.sim.now, len(world.sim.trace)
    for bad in (-1, 1.5, True, "1"):
        with pytest.raises(VssError) as refused:
            creating.wait(bad)  # type: ignore[arg-type]
        assert refused.value.hresult is HResult.E_INVALIDARG
    assert world.sim.now == now and len(world.sim.trace) == records


def test_a_failed_call_reports_its_error_through_wait_and_query_status() -> None:
    """IVssAsync::Wait, QueryStatus and Cancel pages: a call that fails gives its own error code
    (Wait's return, QueryStatus's pHrResult, and Cancel's return afterwards)."""
    config = vsssim.CoordinatorConfig(flush_us=(2 * vsssim.MILLISECOND,) * 2, flush_limit_us=1)
    world = small_world(1, workload=False, config=config)
    bc = _set_defined(world)
    creating = bc.do_snapshot_set()
    assert creating.wait() is HResult.VSS_E_FLUSH_WRITES_TIMEOUT
    assert creating.query_status() == (HResult.S_OK, HResult.VSS_E_FLUSH_WRITES_TIMEOUT)
    assert creating.cancel() is HResult.VSS_E_FLUSH_WRITES_TIMEOUT
    assert bc.state is SessionState.ABORTED
    _nothing_left(world)


def test_cancel_before_it_runs_aborts_do_snapshot_set_cleanly() -> None:
    """IVssAsync::Cancel page (S_OK: cancelled) with the Aborting VSS Operations page: a
    DoSnapshotSet cancelled before the commit leaves the set aborted, the writers told OnAbort
    and nothing marked, locked, held or frozen."""
    world = small_world(1, workload=False)
    bc = _set_defined(world)
    creating = bc.do_snapshot_set()
    assert creating.cancel() is HResult.S_OK
    assert creating.wait() is HResult.VSS_S_ASYNC_CANCELLED
    assert creating.query_status() == (HResult.S_OK, HResult.VSS_S_ASYNC_CANCELLED)
    assert creating.cancel() is HResult.VSS_S_ASYNC_CANCELLED
    assert bc.state is SessionState.ABORTED and creating.cancelled
    assert [r.actor for r in world.sim.trace.find(action=V.ON_ABORT)] == ["TestDbWriter"]
    assert not world.sim.trace.find(action=V.COMMIT_SNAPSHOTS)
    assert not world.coordinator.snapshots
    _nothing_left(world)
    world.sim.run(until=bc.release())
    world.sim.run()


def test_a_requester_that_gives_up_waiting_cancels_then_aborts() -> None:
    """IVssAsync::Wait, QueryStatus and Cancel pages, as an open-source backup tool uses them:
    wait with a timeout, find the call still pending, cancel it, then AbortBackup and release
    (AbortBackup page). Nothing is left marked, locked, held or frozen."""
    world = small_world(3, workload=True)
    bc = _set_defined(world)
    creating = bc.do_snapshot_set()
    assert creating.wait(timeout_us=1) is HResult.S_OK
    assert creating.query_status()[1] is HResult.VSS_S_ASYNC_PENDING
    assert creating.cancel() is HResult.S_OK
    assert creating.wait() is HResult.VSS_S_ASYNC_CANCELLED
    [cancel] = world.sim.trace.find(action=V.ASYNC_CANCEL)
    [taken] = world.sim.trace.find(action=V.ASYNC_CANCELLED)
    assert cancel.details["call"] == taken.details["call"] == V.DO_SNAPSHOT_SET
    assert cancel.time_us < taken.time_us
    aborting = bc.abort_backup()
    assert aborting.wait() is HResult.S_OK
    assert bc.release().wait() is HResult.S_OK
    assert bc.state is SessionState.RELEASED
    _nothing_left(world)


def test_a_cancel_after_the_commit_began_lets_do_snapshot_set_finish() -> None:
    """IVssAsync::Cancel page: Cancel cancels an incomplete operation; once writes are held for
    the commit the shadow copies are made and the call's result stands (vsssim's rule, see
    vsssim.vss.coordinator.cancel)."""
    world = small_world(1, workload=False)
    bc = _set_defined(world)
    creating = bc.do_snapshot_set()
    while not world.sim.trace.find(action=V.HOLD_WRITES):
        assert creating.wait(timeout_us=1) is HResult.S_OK
    assert creating.cancel() is HResult.S_OK
    assert creating.wait() is HResult.S_OK
    assert creating.query_status()[1] is HResult.VSS_S_ASYNC_FINISHED and not creating.cancelled
    assert bc.state is SessionState.SNAPSHOTS_CREATED and world.coordinator.snapshots


def test_a_cancelled_gather_writer_metadata_can_be_called_again() -> None:
    """IVssAsync::Cancel page with the GatherWriterMetadata page: a cancelled query leaves the
    object where it was, nothing gathered, so the call can be made again."""
    world = small_world(1, workload=False)
    bc = world.coordinator.create_backup_components("requester")
    bc.initialize_for_backup()
    gathering = bc.gather_writer_metadata()
    assert gathering.cancel() is HResult.S_OK
    assert gathering.wait() is HResult.VSS_S_ASYNC_CANCELLED
    assert bc.state is SessionState.INITIALIZED and bc.writer_metadata == []
    assert bc.gather_writer_metadata().wait() is HResult.S_OK
    assert [m.writer_name for m in bc.writer_metadata] == ["TestDbWriter"]


def test_a_cancelled_prepare_for_backup_aborts_the_backup() -> None:
    """IVssAsync::Cancel page with the Aborting VSS Operations page: once PrepareForBackup has
    begun, stopping means an Abort event to the writers."""
    world = small_world(1, workload=False)
    bc = _gathered(world)
    bc.start_snapshot_set()
    bc.add_to_snapshot_set("D:\\")
    preparing = bc.prepare_for_backup()
    assert preparing.cancel() is HResult.S_OK
    assert preparing.wait() is HResult.VSS_S_ASYNC_CANCELLED
    assert bc.state is SessionState.ABORTED
    assert world.sim.trace.find(action=V.ON_ABORT)
    _nothing_left(world)


def test_inside_a_process_the_call_is_still_yielded() -> None:
    """IVssAsync interface page: the object is what the caller waits on; inside a simulated
    process that is ``yield``, and a cancelled call raises VSS_S_ASYNC_CANCELLED there."""
    world = small_world(1, workload=False)
    bc = _set_defined(world)
    outcome: list[HResult] = []

    def requester() -> ProcessGenerator:
        creating = bc.do_snapshot_set()
        creating.cancel()
        try:
            yield creating
        except VssError as exc:
            outcome.append(exc.hresult)
        with pytest.raises(RuntimeError):
            creating.wait()

    world.sim.run(until=world.sim.process(requester(), "requester"))
    assert outcome == [HResult.VSS_S_ASYNC_CANCELLED]
