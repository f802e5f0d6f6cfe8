"""AbortBackup as the IVssBackupComponents::AbortBackup page has it: refused only before the object
is initialized (VSS_E_BAD_STATE), ignored when no backup is underway, and an Abort event (OnAbort
to each writer taking part) once StartSnapshotSet was called (PrepareForBackup comes after it)."""

from __future__ import annotations

import pytest

import vsssim
from vsssim import BackupComponents, HResult, VssError, World
from vsssim.sim import vocabulary as V
from vsssim.vss.states import SessionState

from .conftest import DB_WRITER_ID, small_world


def _gathered(world: World) -> BackupComponents:
    bc = world.coordinator.create_backup_components("requester")
    bc.initialize_for_backup()
    bc.set_backup_state(True, False, vsssim.BackupType.FULL)
    world.sim.run(until=bc.gather_writer_metadata())
    bc.add_component(DB_WRITER_ID, "Inst", "Db")
    return bc


def _on_aborts(world: World) -> int:
    return len(world.sim.trace.find(action=V.ON_ABORT))


def test_before_initialization_it_is_a_bad_state_and_changes_nothing() -> None:
    world = small_world(1, workload=False)
    bc = world.coordinator.create_backup_components("requester")
    records = len(world.sim.trace)
    with pytest.raises(VssError) as refused:
        bc.abort_backup()
    assert refused.value.hresult is HResult.VSS_E_BAD_STATE
    assert bc.state is SessionState.CREATED and len(world.sim.trace) == records


@pytest.mark.parametrize("after", ["initialize", "metadata", "backup complete"])
def test_with_no_backup_underway_it_is_ignored(after: str) -> None:
    world = small_world(1, workload=False)
    if after == "initialize":
        bc = world.coordinator.create_backup_components("requester")
        bc.initialize_for_backup()
    else:
        bc = _gathered(world)
    if after == "backup complete":
        bc.start_snapshot_set()
        bc.add_to_snapshot_set("D:\\")
        bc.add_to_snapshot_set("L:\\")
        world.sim.run(until=bc.prepare_for_backup())
        world.sim.run(until=bc.do_snapshot_set())
        world.sim.run(until=bc.backup_complete())
    state, aborts = bc.state, _on_aborts(world)
    world.sim.run(until=bc.abort_backup())
    assert bc.state is state and _on_aborts(world) == aborts
    [record] = world.sim.trace.find(action=V.ABORT_BACKUP)
    assert record.details["ignored"] == "no backup is underway"
    if after == "metadata":  # ignored means the backup can go on
        bc.start_snapshot_set()
        world.sim.run(until=bc.prepare_for_backup())
        assert bc.state is SessionState.PREPARED
    world.sim.run(until=bc.release())
    assert bc.state is SessionState.RELEASED


def test_once_prepared_the_writers_taking_part_hear_on_abort() -> None:
    world = small_world(1, workload=False)
    bc = _gathered(world)
    bc.start_snapshot_set()
    world.sim.run(until=bc.prepare_for_backup())
    world.sim.run(until=bc.abort_backup())
    assert bc.state is SessionState.ABORTED
    assert [r.actor for r in world.sim.trace.find(action=V.ON_ABORT)] == ["TestDbWriter"]
    [record] = world.sim.trace.find(action=V.ABORT_BACKUP)
    assert "ignored" not in record.details


def test_release_while_do_snapshot_set_runs_leaves_nothing_locked() -> None:
    """Release (the COM release of IVssBackupComponents) never fails: while DoSnapshotSet still
    runs, the object is run down as for a requester that went away."""
    world = small_world(1, workload=False)
    bc = _gathered(world)
    bc.start_snapshot_set()
    bc.add_to_snapshot_set("D:\\")
    bc.add_to_snapshot_set("L:\\")
    world.sim.run(until=bc.prepare_for_backup())
    bc.do_snapshot_set()
    assert bc.call_in_progress
    world.sim.run(until=bc.release())
    assert bc.state is SessionState.RELEASED and not bc.call_in_progress
    assert world.sim.trace.find(action=V.REQUESTER_GONE)
    coordinator = world.coordinator
    assert coordinator.creating is None
    assert not any(v.held or v.marked_by for v in world.namespace.volumes)
    assert not any(w.application_frozen for w in coordinator.writers)
    world.sim.run()  # nothing left pending raises
