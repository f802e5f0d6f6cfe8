"""The call order VSS enforces and the shadow copy contexts, each test after the Microsoft Learn
page it follows: a call out of order is VSS_E_BAD_STATE and changes nothing; the writerless
contexts make shadow copies without a writer event."""

from __future__ import annotations

import contextlib
import io
import runpy
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import vsssim
from vsssim import BackupComponents, Context, HResult, VssError, World
from vsssim.requesters.backup_options import AgentOptions
from vsssim.sim import vocabulary as V
from vsssim.testing.invariants.registry import check_all
from vsssim.vss.constants import SnapshotAttr
from vsssim.vss.states import BACKUP_EVENTS, SessionState

from .conftest import DB_WRITER_ID, NO_RETRY, small_world

WRITERLESS = (Context.FILE_SHARE_BACKUP, Context.NAS_ROLLBACK, Context.CLIENT_ACCESSIBLE)
#: The writer events DoSnapshotSet sends in a context with writers.
SNAPSHOT_EVENTS = (V.ON_PREPARE_SNAPSHOT, V.ON_FREEZE, V.ON_THAW, V.ON_POST_SNAPSHOT)


def _initialized(world: World, context: Context | None = None) -> BackupComponents:
    bc = world.coordinator.create_backup_components("requester")
    bc.initialize_for_backup()
    if context is not None:
        bc.set_context(context)
    return bc


def _refused(world: World, bc: BackupComponents, call: str, *args: object) -> VssError:
    """Make ``call``: it must be VSS_E_BAD_STATE and leave the session and the trace alone."""
    state, records = bc.state, len(world.sim.trace)
    with pytest.raises(VssError) as caught:
        getattr(bc, call)(*args)
    assert caught.value.hresult == HResult.VSS_E_BAD_STATE, caught.value
    assert bc.state == state and len(world.sim.trace) == records
    return caught.value


def _writer_events(world: World) -> list[str]:
    return [r.action for r in world.sim.trace if r.action in BACKUP_EVENTS]


# -- the order of a backup with writers --------------------------------------------------------


def test_set_backup_state_comes_before_prepare_for_backup() -> None:
    """IVssBackupComponents::PrepareForBackup: "Before PrepareForBackup can be called,
    IVssBackupComponents::SetBackupState must be called"."""
    world = small_world(0, workload=False)
    bc = _initialized(world)
    world.sim.run(until=bc.gather_writer_metadata())
    bc.add_component(DB_WRITER_ID, "Inst", "Db")
    bc.start_snapshot_set()
    bc.add_to_snapshot_set("D:\\")
    error = _refused(world, bc, "prepare_for_backup")
    assert "SetBackupState" in error.message
    bc.set_backup_state(True, False, vsssim.BackupType.FULL)  # still allowed before it
    world.sim.run(until=bc.prepare_for_backup())
    assert bc.state == SessionState.PREPARED
    _refused(world, bc, "set_backup_state", True, False, vsssim.BackupType.FULL)


def test_add_component_comes_before_start_snapshot_set() -> None:
    """"Shadow Copy Creation Details", shadow copies with writer participation: a requester
    that selects components must call AddComponent before StartSnapshotSet."""
    world = small_world(0, workload=False)
    bc = _initialized(world)
    bc.set_backup_state(True, False, vsssim.BackupType.FULL)
    world.sim.run(until=bc.gather_writer_metadata())
    bc.start_snapshot_set()
    _refused(world, bc, "add_component", DB_WRITER_ID, "Inst", "Db")
    assert bc.selected == []


@pytest.mark.parametrize("skipped", ["gather_writer_metadata", "prepare_for_backup"])
def test_do_snapshot_set_needs_the_prerequisite_calls_of_a_writer_context(skipped: str) -> None:
    """IVssBackupComponents::DoSnapshotSet: VSS_E_BAD_STATE when "the prerequisite calls for a
    given shadow copy context have not been made"; with writers ("Shadow Copy Creation
    Details") those are GatherWriterMetadata and PrepareForBackup."""
    world = small_world(0, workload=False)
    bc = _initialized(world)
    bc.set_backup_state(True, False, vsssim.BackupType.FULL)
    if skipped != "gather_writer_metadata":
        world.sim.run(until=bc.gather_writer_metadata())
    bc.start_snapshot_set()
    bc.add_to_snapshot_set("D:\\")
    if skipped != "prepare_for_backup":
        world.sim.run(until=bc.prepare_for_backup())
    error = _refused(world, bc, "do_snapshot_set")
    assert {"gather_writer_metadata": "GatherWriterMetadata"}.get(skipped, "PrepareForBackup") in (
        error.message
    )
    assert _writer_events(world).count(V.ON_PREPARE_SNAPSHOT) == 0


def test_an_empty_set_is_acceptable() -> None:
    """"Shadow Copy Creation Details": some writer components name no volume, and then a
    shadow copy set with no volumes is acceptable. DoSnapshotSet runs the writers' events and
    calls no provider."""
    world = small_world(0, workload=False)
    bc = _initialized(world)
    bc.set_backup_state(True, False, vsssim.BackupType.FULL)
    world.sim.run(until=bc.gather_writer_metadata())
    bc.add_component(DB_WRITER_ID, "Inst", "Db")
    bc.start_snapshot_set()
    world.sim.run(until=bc.prepare_for_backup())
    snapshot_set = world.sim.run(until=bc.do_snapshot_set())
    assert snapshot_set.snapshots == [] or tuple(snapshot_set.snapshots) == ()
    assert bc.state == SessionState.SNAPSHOTS_CREATED
    assert [e for e in _writer_events(world) if e in SNAPSHOT_EVENTS] == list(SNAPSHOT_EVENTS)
    assert not world.sim.trace.find(action=V.COMMIT_SNAPSHOTS)
    assert world.coordinator.creating is None
    world.sim.run(until=bc.backup_complete())
    world.sim.run(until=bc.release())


# -- SetContext --------------------------------------------------------------------------------


def test_set_context_is_called_once_after_initialization_and_before_the_set() -> None:
    """IVssBackupComponents::SetContext: VSS_E_BAD_STATE when the object is not initialized or
    the call is out of sequence; "SetContext can be called only once, and it must be called
    prior to calling most VSS functions"."""
    world = small_world(0, workload=False)
    bc = world.coordinator.create_backup_components("requester")
    _refused(world, bc, "set_context", Context.APP_ROLLBACK)
    bc.initialize_for_backup()
    bc.set_context(Context.APP_ROLLBACK)
    error = _refused(world, bc, "set_context", Context.BACKUP)
    assert "only once" in error.message and bc.context == Context.APP_ROLLBACK
    late = _initialized(small_world(0, workload=False))
    late.start_snapshot_set()
    with pytest.raises(VssError) as after_the_set:
        late.set_context(Context.APP_ROLLBACK)
    assert after_the_set.value.hresult == HResult.VSS_E_BAD_STATE


@pytest.mark.parametrize("context", [*WRITERLESS, Context.APP_ROLLBACK])
def test_attribute_bits_ored_into_a_context_reach_the_shadow_copies(context: Context) -> None:
    """IVssBackupComponents::SetContext: a _VSS_SNAPSHOT_CONTEXT value or one OR'd with
    _VSS_VOLUME_SNAPSHOT_ATTRIBUTES bits; the shadow copies carry both the context's own
    attributes and the added ones (GetSnapshotProperties)."""
    world = small_world(0, workload=False)
    bc = _initialized(world, context | SnapshotAttr.NO_AUTORECOVERY)  # type: ignore[arg-type]
    assert bc.context == context and bc.context_attributes == SnapshotAttr.NO_AUTORECOVERY
    if context == Context.APP_ROLLBACK:
        bc.set_backup_state(True, False, vsssim.BackupType.FULL)
        world.sim.run(until=bc.gather_writer_metadata())
    bc.start_snapshot_set()
    snapshot_id = bc.add_to_snapshot_set("D:\\")
    if context == Context.APP_ROLLBACK:
        world.sim.run(until=bc.prepare_for_backup())
    world.sim.run(until=bc.do_snapshot_set())
    attributes = bc.get_snapshot_properties(snapshot_id).attributes
    assert attributes & SnapshotAttr.NO_AUTORECOVERY
    assert bool(attributes & SnapshotAttr.NO_WRITERS) == (context in WRITERLESS)
    assert bool(attributes & SnapshotAttr.NO_AUTO_RELEASE) == (context != Context.FILE_SHARE_BACKUP)


@settings(max_examples=150, deadline=None)
@given(value=st.integers(-(2**33), 2**33))
def test_any_context_value_is_taken_or_refused_as_invalid(value: int) -> None:
    """IVssBackupComponents::SetContext: a value that is no context, alone or OR'd with
    attribute bits, is E_INVALIDARG (never another exception) and changes nothing."""
    world = small_world(0, workload=False)
    bc = _initialized(world)
    try:
        bc.set_context(value)
    except VssError as refused:
        assert refused.hresult == HResult.E_INVALIDARG
        assert bc.context == Context.BACKUP and not bc.context_set
    else:
        assert bc.context_set and int(bc.context.value) | int(bc.context_attributes) == value


def test_context_all_serves_no_shadow_copy_creation() -> None:
    """"Shadow Copy Context Configurations": VSS_CTX_ALL is a valid context for the
    management calls, but creating shadow copies in it (StartSnapshotSet, DoSnapshotSet) is
    not supported."""
    world = small_world(0, workload=False)
    bc = _initialized(world, Context.ALL)
    assert bc.context == Context.ALL
    with pytest.raises(VssError) as caught:
        bc.start_snapshot_set()
    assert caught.value.hresult == HResult.VSS_E_UNSUPPORTED_CONTEXT
    assert bc.snapshot_set is None and world.coordinator.creating is None
    assert bc.state == SessionState.INITIALIZED


# -- the writerless contexts -------------------------------------------------------------------


@pytest.mark.parametrize("context", WRITERLESS)
def test_a_writerless_context_sends_no_writer_event(context: Context) -> None:
    """"Shadow Copy Creation Details", shadow copies without writer participation: only
    InitializeForBackup and StartSnapshotSet are needed; GatherWriterMetadata may be called;
    AddComponent, PrepareForBackup and BackupComplete return an error; no PrepareForSnapshot,
    Freeze, Thaw or PostSnapshot event is sent."""
    world = small_world(0, workload=False)
    bc = _initialized(world, context)
    world.sim.run(until=bc.gather_writer_metadata())  # allowed, not required
    _refused(world, bc, "add_component", DB_WRITER_ID, "Inst", "Db")
    bc.start_snapshot_set()
    bc.add_to_snapshot_set("D:\\")
    _refused(world, bc, "prepare_for_backup")
    snapshot_set = world.sim.run(until=bc.do_snapshot_set())
    assert [v.label for v in snapshot_set.volumes] == ["D:"]
    assert _writer_events(world) == [V.ON_IDENTIFY]
    assert world.coordinator.writer("TestDbWriter").state == vsssim.WriterState.STABLE
    _refused(world, bc, "backup_complete")
    world.sim.run(until=bc.release())
    persistent = context != Context.FILE_SHARE_BACKUP
    assert len(world.coordinator.snapshots) == (1 if persistent else 0)


@pytest.mark.parametrize("context", [Context.FILE_SHARE_BACKUP, Context.NAS_ROLLBACK])
def test_the_agent_backs_up_in_a_writerless_context(context: Context) -> None:
    """"Shadow Copy Creation Details" and _VSS_SNAPSHOT_CONTEXT: the agent copies the selected
    files from shadow copies made without writers, its trace still walks phases 1 to 7 in
    order, and no writer hears an event after OnIdentify."""
    world = small_world(3)
    world.add_agent("agent", ["TestDbWriter:Inst\\Db"], AgentOptions(context=context))
    [result] = world.run()
    assert result.succeeded, result.message
    assert sorted(f.path for f in result.files) == ["D:\\Data\\Db.mdf", "L:\\Logs\\Db.ldf"]
    assert _writer_events(world) == [V.ON_IDENTIFY]
    agent_calls = {r.action for r in world.sim.trace if r.actor == "agent"}
    assert not agent_calls & {V.ADD_COMPONENT, V.PREPARE_FOR_BACKUP, V.BACKUP_COMPLETE}
    phases = [r.phase for r in world.sim.trace if r.phase is not None]
    assert phases == sorted(phases) and set(phases) == set(range(1, 8))
    assert {name: v for name, v in check_all(world).items() if v} == {}


def test_the_default_agent_walks_the_seven_phases_in_the_order_vss_enforces() -> None:
    """IVssBackupComponents::StartSnapshotSet and "Simple Shadow Copy Creation for Backup":
    AddComponent, StartSnapshotSet, AddToSnapshotSet, then PrepareForBackup; the seed's seven
    phases stay in the trace, 1 to 7, in order."""
    world = small_world(1)
    world.add_agent("agent", ["TestDbWriter:Inst\\Db"], NO_RETRY)
    [result] = world.run()
    assert result.succeeded, result.message
    calls = [
        r.action
        for r in world.sim.trace
        if r.actor == "agent"
        and r.action
        in (V.SET_CONTEXT, V.ADD_COMPONENT, V.START_SNAPSHOT_SET, V.PREPARE_FOR_BACKUP)
    ]
    assert calls == [V.SET_CONTEXT, V.ADD_COMPONENT, V.START_SNAPSHOT_SET, V.PREPARE_FOR_BACKUP]
    phases = [r.phase for r in world.sim.trace if r.phase is not None]
    assert phases == sorted(phases) and set(phases) == set(range(1, 8))
    [prepare] = world.sim.trace.find(action=V.PREPARE_FOR_BACKUP)
    assert prepare.phase == 4


def test_the_writerless_lesson_runs_as_it_says() -> None:
    """"Shadow Copy Creation Details" (shadow copies without writer participation), as
    examples/writerless_copy.py teaches it: refused writer calls, no writer event, a
    persistent copy that outlives Release."""
    path = Path(__file__).parent.parent / "examples" / "writerless_copy.py"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        runpy.run_path(str(path), run_name="__main__")
    text = out.getvalue()
    assert "PrepareForBackup     refused: VSS_E_BAD_STATE" in text
    assert "BackupComplete       refused: VSS_E_BAD_STATE" in text
    assert "writer events during DoSnapshotSet: 0" in text
    assert "VSS_VOLSNAP_ATTR_NO_WRITERS        True" in text
    assert "shadow copies left after Release: 1" in text
