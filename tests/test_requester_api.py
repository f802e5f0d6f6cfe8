"""The IVssBackupComponents-like API: call order, the set lock, limits and the abort path."""

from __future__ import annotations

from collections.abc import Callable

import pytest

import vsssim
from vsssim import (
    SECOND,
    BackupComponents,
    Context,
    CoordinatorConfig,
    EventContext,
    HResult,
    VssError,
    World,
    Writer,
    WriterFailure,
    WriterState,
)
from vsssim.requesters.backup_result import Outcome
from vsssim.sim import vocabulary as V
from vsssim.sim.kernel import ProcessGenerator
from vsssim.vss.states import SessionState

from .conftest import DB_WRITER_ID, NO_RETRY, db_metadata, small_world


def _gathered(world: World, name: str = "requester") -> BackupComponents:
    bc = world.coordinator.create_backup_components(name)
    bc.initialize_for_backup()
    bc.set_backup_state(True, False, vsssim.BackupType.FULL)
    world.sim.run(until=bc.gather_writer_metadata())
    bc.add_component(DB_WRITER_ID, "Inst", "Db")
    return bc


def _define(bc: BackupComponents, volumes: tuple[str, ...] = ("D:\\", "L:\\")) -> None:
    bc.start_snapshot_set()
    for volume in volumes:
        bc.add_to_snapshot_set(volume)


def _assert_clean(world: World) -> None:
    """Nothing locked, marked, held or frozen; no shadow copy left over."""
    coordinator = world.coordinator
    assert coordinator.creating is None
    for volume in world.namespace.volumes:
        assert volume.marked_by is None
        assert not volume.held and volume.pending_writes == 0
    for writer in coordinator.writers:
        assert not writer.application_frozen


def test_the_set_is_started_before_prepare_for_backup() -> None:
    """IVssBackupComponents::StartSnapshotSet: it must be called before PrepareForBackup; the
    other order is refused with VSS_E_BAD_STATE and changes nothing."""
    world = small_world(3, workload=False)
    bc = _gathered(world)
    trace_len = len(world.sim.trace)
    with pytest.raises(VssError) as early:
        bc.prepare_for_backup()
    assert early.value.hresult == HResult.VSS_E_BAD_STATE
    assert bc.state == SessionState.METADATA_GATHERED and len(world.sim.trace) == trace_len
    _define(bc)
    world.sim.run(until=bc.prepare_for_backup())
    snapshot_set = world.sim.run(until=bc.do_snapshot_set())
    assert [v.label for v in snapshot_set.volumes] == ["D:", "L:"]
    assert bc.state == SessionState.SNAPSHOTS_CREATED
    assert world.coordinator.writer("TestDbWriter").state == WriterState.WAITING_FOR_BACKUP_COMPLETE
    world.sim.run(until=bc.backup_complete())
    world.sim.run(until=bc.release())
    assert world.coordinator.snapshots == {}
    _assert_clean(world)


# (StartSnapshotSet is allowed here: a writerless context needs no writer metadata.)
CALLS: dict[str, Callable[[BackupComponents], object]] = {
    "gather_writer_metadata": lambda bc: bc.gather_writer_metadata(),
    "prepare_for_backup": lambda bc: bc.prepare_for_backup(),
    "add_to_snapshot_set": lambda bc: bc.add_to_snapshot_set("D:\\"),
    "do_snapshot_set": lambda bc: bc.do_snapshot_set(),
    "backup_complete": lambda bc: bc.backup_complete(),
    "set_backup_succeeded": lambda bc: bc.set_backup_succeeded(DB_WRITER_ID, "Inst", "Db", True),
}


@pytest.mark.parametrize("call", sorted(CALLS))
def test_calls_out_of_order_raise_bad_state_and_change_nothing(call: str) -> None:
    world = small_world(0, workload=False)
    bc = world.coordinator.create_backup_components("requester")
    bc.initialize_for_backup()
    if call == "gather_writer_metadata":  # the one call allowed now: make it the second time
        world.sim.run(until=bc.gather_writer_metadata())
    trace_len = len(world.sim.trace)
    before = bc.state
    with pytest.raises(VssError) as caught:
        CALLS[call](bc)
    assert caught.value.hresult == HResult.VSS_E_BAD_STATE
    assert caught.value.message.startswith(f"{call} is not allowed now")
    assert bc.state == before
    assert len(world.sim.trace) == trace_len
    _assert_clean(world)


def test_initialize_twice_is_a_bad_state() -> None:
    world = small_world(0, workload=False)
    bc = world.coordinator.create_backup_components("r")
    bc.initialize_for_backup()
    with pytest.raises(VssError, match="initialize_for_backup is not allowed now") as caught:
        bc.initialize_for_backup()
    assert caught.value.hresult == HResult.VSS_E_BAD_STATE


def test_a_second_set_while_one_is_being_created_is_refused() -> None:
    world = small_world(1, workload=False)
    first = _gathered(world, "agent 1")
    second = _gathered(world, "agent 2")
    first_set = first.start_snapshot_set()
    with pytest.raises(VssError) as caught:
        second.start_snapshot_set()
    assert caught.value.hresult == HResult.VSS_E_SNAPSHOT_SET_IN_PROGRESS
    assert "agent 1" in caught.value.message and str(first_set) in caught.value.message
    assert second.state == SessionState.METADATA_GATHERED and second.snapshot_set is None
    first.add_to_snapshot_set("D:\\")
    assert world.namespace.volume_of("D:\\").marked_by == str(first_set)
    world.sim.run(until=first.prepare_for_backup())
    world.sim.run(until=first.do_snapshot_set())
    # Once DoSnapshotSet returned, the lock and the marks are gone: the second agent goes on.
    assert world.namespace.volume_of("D:\\").marked_by is None
    second.start_snapshot_set()
    second.add_to_snapshot_set("D:\\")
    world.sim.run(until=second.prepare_for_backup())
    world.sim.run(until=second.do_snapshot_set())
    assert len(world.coordinator.snapshots) == 2


def test_adding_volumes_checks_duplicates_limits_and_support() -> None:
    world = small_world(0, workload=False, config=CoordinatorConfig(max_volumes_per_set=2))
    world.add_volume("X:\\", "X:", 1024**3, file_system="UDF")  # no provider copies UDF
    bc = _gathered(world)
    bc.start_snapshot_set()
    bc.add_to_snapshot_set("D:\\")
    with pytest.raises(VssError) as dup:
        bc.add_to_snapshot_set(world.namespace.volume_of("D:\\").name.lower())
    assert dup.value.hresult == HResult.VSS_E_OBJECT_ALREADY_EXISTS
    with pytest.raises(VssError) as fat:
        bc.add_to_snapshot_set("X:\\")
    assert fat.value.hresult == HResult.VSS_E_VOLUME_NOT_SUPPORTED
    with pytest.raises(VssError) as nowhere:
        bc.add_to_snapshot_set("Q:\\")
    assert nowhere.value.hresult == HResult.VSS_E_OBJECT_NOT_FOUND
    bc.add_to_snapshot_set("L:\\")
    with pytest.raises(VssError) as full:
        bc.add_to_snapshot_set("S:\\")
    assert full.value.hresult == HResult.VSS_E_MAXIMUM_NUMBER_OF_VOLUMES_REACHED
    assert [v.label for v in bc.snapshot_set.volumes] == ["D:", "L:"]  # type: ignore[union-attr]
    assert world.namespace.volume_of("S:\\").marked_by is None


def test_context_all_makes_no_set_and_components_are_added_once() -> None:
    world = small_world(0, workload=False)
    bc = _gathered(world)
    bc.set_context(Context.ALL)  # taken: a context for queries and deletions
    with pytest.raises(VssError) as ctx:
        bc.start_snapshot_set()
    assert ctx.value.hresult == HResult.VSS_E_UNSUPPORTED_CONTEXT
    assert bc.snapshot_set is None and world.coordinator.creating is None
    with pytest.raises(VssError) as again:
        bc.add_component(DB_WRITER_ID, "Inst", "Db")
    assert again.value.hresult == HResult.VSS_E_OBJECT_ALREADY_EXISTS
    with pytest.raises(VssError) as missing:
        bc.add_component(DB_WRITER_ID, "Inst", "Nope")
    assert missing.value.hresult == HResult.VSS_E_OBJECT_NOT_FOUND
    assert len(bc.selected) == 1


class FailingWriter(Writer):
    """Fails one event with a writer error."""

    def __init__(self, event: str, error: HResult) -> None:
        super().__init__(db_metadata())
        self.failing_event = event
        self.error = error

    def _maybe_fail(self, ctx: EventContext) -> ProcessGenerator:
        yield from self.take_time(ctx)
        if ctx.event == self.failing_event:
            raise WriterFailure(self.error, f"planted failure at {ctx.event}")

    def on_prepare_snapshot(self, ctx: EventContext) -> ProcessGenerator:
        yield from self._maybe_fail(ctx)

    def on_freeze(self, ctx: EventContext) -> ProcessGenerator:
        self.freeze_application(ctx)
        yield from self._maybe_fail(ctx)


@pytest.mark.parametrize(
    ("event", "state"),
    [("OnFreeze", WriterState.FAILED_AT_FREEZE)],
)
def test_a_writer_failing_before_the_commit_aborts_the_set_cleanly(
    event: str, state: WriterState
) -> None:
    """CVssWriter::OnFreeze: a fatal failure (SetWriterFailure, return false) generates an
    Abort event ("Aborting VSS Operations"); a failure at PrepareForSnapshot does not (see
    tests/test_writer_vetoes.py)."""
    writer = FailingWriter(event, HResult.VSS_E_WRITERERROR_RETRYABLE)
    world = small_world(2, db_writer=writer)
    agent = world.add_agent("agent", ["TestDbWriter:Inst\\Db"], NO_RETRY)
    [result] = world.run()
    assert not result.succeeded
    assert result.hresult == HResult.VSS_E_UNEXPECTED
    assert writer.state == state
    assert writer.failure == HResult.VSS_E_WRITERERROR_RETRYABLE
    status = {s.writer_name: s for s in result.writer_status}
    assert status["TestDbWriter"].state == state and status["TestDbWriter"].failed
    trace = world.sim.trace
    assert trace.find(action=V.ABORT) and trace.find(action=V.ON_ABORT, actor="TestDbWriter")
    assert not trace.find(action=V.COMMIT_SNAPSHOTS)
    assert world.coordinator.snapshots == {}
    assert agent.result is result
    _assert_clean(world)
    # Nothing issued was lost: every write of the applications landed.
    issued = sum(w.writes_issued for w in world.workloads)
    assert issued == sum(1 for r in trace.find(action=V.WRITE) if r.details["origin"] != "setup")


class SlowCommitProvider(vsssim.SoftwareProvider):
    """A software provider whose commit takes longer than writes may be held."""

    def commit_snapshots(self, set_id):  # type: ignore[no-untyped-def]
        yield from super().commit_snapshots(set_id)
        yield self.sim.timeout(11 * SECOND)


def test_a_hold_longer_than_ten_seconds_fails_the_set_and_loses_no_write() -> None:
    world = small_world(4)
    world.coordinator.software_provider = SlowCommitProvider(world.sim)
    world.add_agent("agent", ["TestDbWriter:Inst\\Db"], NO_RETRY)
    [result] = world.run()
    assert result.hresult == HResult.VSS_E_HOLD_WRITES_TIMEOUT
    hold = world.sim.trace.find(action=V.HOLD_WRITES)[0]
    abort = world.sim.trace.find(action=V.ABORT)[0]
    assert abort.time_us - hold.time_us == 10 * SECOND
    assert world.coordinator.writer("TestDbWriter").state == WriterState.STABLE  # OnAbort
    assert world.coordinator.software_provider.snapshots_of(world.namespace.volume_of("D:\\")) == []
    _assert_clean(world)
    issued = sum(w.writes_issued for w in world.workloads)
    trace = world.sim.trace
    assert issued == sum(1 for r in trace.find(action=V.WRITE) if r.details["origin"] != "setup")


class SlowPreCommitProvider(vsssim.SoftwareProvider):
    def pre_commit_snapshots(self, set_id):  # type: ignore[no-untyped-def]
        yield from super().pre_commit_snapshots(set_id)
        yield self.sim.timeout(3 * SECOND)


def test_a_writer_frozen_past_its_timeout_fails_at_freeze_and_the_set_aborts() -> None:
    """CVssWriter::Initialize (dwTimeoutFreeze): the window runs from the writer's receipt of
    Freeze; past it the writer fails with VSS_E_WRITERERROR_TIMEOUT and VSS aborts."""
    writer = Writer(db_metadata(), freeze_timeout_us=2 * SECOND)
    world = small_world(5, db_writer=writer)
    world.coordinator.software_provider = SlowPreCommitProvider(world.sim)
    world.add_agent("agent", ["TestDbWriter:Inst\\Db"], NO_RETRY)
    [result] = world.run()
    assert result.hresult == HResult.VSS_E_UNEXPECTED
    assert writer.state == WriterState.FAILED_AT_FREEZE
    assert writer.failure == HResult.VSS_E_WRITERERROR_TIMEOUT
    timeout = world.sim.trace.find(action=V.FREEZE_TIMEOUT)[0]
    freeze = world.sim.trace.find(action=V.ON_FREEZE, actor="TestDbWriter")[0]
    assert timeout.time_us - freeze.time_us == 2 * SECOND
    _assert_clean(world)


class SilentWriter(Writer):
    def on_prepare_snapshot(self, ctx: EventContext) -> ProcessGenerator:
        yield ctx.sim.timeout(400 * SECOND)


def test_a_writer_that_does_not_answer_is_given_up_and_its_late_reply_ignored() -> None:
    """"Aborting VSS Operations": a writer that fails PrepareForSnapshot (here: no answer)
    generates no Abort event; the set is made and the agent leaves the writer out."""
    writer = SilentWriter(db_metadata())
    world = small_world(6, db_writer=writer)
    world.add_agent("agent", ["TestDbWriter:Inst\\Db"], NO_RETRY)
    [result] = world.run()
    assert result.outcome is Outcome.PARTIAL and result.skipped == ("Inst\\Db",)
    assert writer.state == WriterState.FAILED_AT_PREPARE_SNAPSHOT
    assert writer.failure == HResult.VSS_E_WRITER_NOT_RESPONDING
    assert world.sim.trace.find(action=V.late_reply_ignored(V.ON_PREPARE_SNAPSHOT))
    _assert_clean(world)
    assert not world.sim.live_processes


def test_insufficient_diff_area_fails_the_set_with_the_providers_error() -> None:
    world = small_world(7)
    world.coordinator.software_provider.set_diff_area(world.namespace.volume_of("L:\\"), 0)
    world.add_agent("agent", ["TestDbWriter:Inst\\Db"], NO_RETRY)
    [result] = world.run()
    assert result.hresult == HResult.VSS_E_INSUFFICIENT_STORAGE
    assert "L:" in result.message
    assert world.coordinator.writer("TestDbWriter").state == WriterState.STABLE
    _assert_clean(world)


def test_abort_backup_before_creation_releases_the_lock_and_marks() -> None:
    world = small_world(0, workload=False)
    bc = _gathered(world)
    _define(bc)
    world.sim.run(until=bc.prepare_for_backup())
    world.sim.run(until=bc.abort_backup())
    assert bc.state == SessionState.ABORTED
    _assert_clean(world)
    other = _gathered(world, "next")
    other.start_snapshot_set()


def test_release_deletes_auto_release_copies_and_keeps_persistent_ones() -> None:
    for context, left in ((Context.BACKUP, 0), (Context.APP_ROLLBACK, 2)):
        world = small_world(0, workload=False)
        bc = _gathered(world)
        bc.set_context(context)
        _define(bc)
        world.sim.run(until=bc.prepare_for_backup())
        world.sim.run(until=bc.do_snapshot_set())
        world.sim.run(until=bc.backup_complete())
        world.sim.run(until=bc.release())
        assert len(world.coordinator.snapshots) == left


def test_writer_subscription_is_unique() -> None:
    world = small_world(0, workload=False)
    with pytest.raises(VssError) as caught:
        world.add_writer(Writer(db_metadata()))
    assert caught.value.hresult == HResult.VSS_E_WRITER_ALREADY_SUBSCRIBED


def test_writer_failure_only_takes_writer_errors() -> None:
    with pytest.raises(ValueError, match="not a writer error"):
        WriterFailure(HResult.VSS_E_BAD_STATE)


# -- regressions found in review ---------------------------------------------------------------


class SlowCommit(vsssim.SoftwareProvider):
    """Commits in 2 s (under the 10 s hold limit): a freeze that lasts past another call."""

    def commit_snapshots(self, set_id):  # type: ignore[no-untyped-def]
        yield from super().commit_snapshots(set_id)
        yield self.sim.timeout(2 * SECOND)


def test_another_sessions_abort_does_not_thaw_a_freeze_it_did_not_make() -> None:
    world = small_world(0, workload=False)
    sim = world.sim
    world.coordinator.software_provider = SlowCommit(sim)
    writer = world.coordinator.writer("TestDbWriter")
    first = _gathered(world, "first")
    second = _gathered(world, "second")
    # The second session made its copies and is waiting for BackupComplete: a backup underway.
    _define(second)
    sim.run(until=second.prepare_for_backup())
    sim.run(until=second.do_snapshot_set())
    _define(first)
    sim.run(until=first.prepare_for_backup())
    creating = first.do_snapshot_set()
    while not writer.application_frozen:  # run until the first session's freeze
        sim.step()
    sim.run(until=second.abort_backup())
    assert writer.application_frozen, "the second session's OnAbort thawed the first's freeze"
    sim.run(until=creating)
    assert not writer.application_frozen
    assert first.state == SessionState.SNAPSHOTS_CREATED


def test_an_abort_after_post_commit_leaves_no_copy_on_write_behind() -> None:
    writer = Writer(db_metadata(), freeze_timeout_us=2 * SECOND)
    world = small_world(5, db_writer=writer)

    class SlowPostCommit(vsssim.SoftwareProvider):
        def post_commit_snapshots(self, set_id):  # type: ignore[no-untyped-def]
            yield from super().post_commit_snapshots(set_id)
            yield self.sim.timeout(3 * SECOND)

    provider = world.coordinator.software_provider = SlowPostCommit(world.sim)
    world.add_agent("agent", ["TestDbWriter:Inst\\Db"], NO_RETRY)
    [result] = world.run()
    assert result.hresult == HResult.VSS_E_UNEXPECTED
    for volume in world.namespace.volumes:
        assert provider.snapshots_of(volume) == []
        assert provider.diff_area(volume).used_bytes == 0


class FreezeFailsAbortHangs(Writer):
    def on_freeze(self, ctx: EventContext) -> ProcessGenerator:
        yield from self.take_time(ctx)
        raise WriterFailure(HResult.VSS_E_WRITERERROR_RETRYABLE)

    def on_abort(self, ctx: EventContext) -> ProcessGenerator:
        yield ctx.sim.timeout(400 * SECOND)


def test_a_writer_that_does_not_answer_on_abort_is_given_up_without_a_crash() -> None:
    writer = FreezeFailsAbortHangs(db_metadata())
    world = small_world(1, db_writer=writer)
    world.add_agent("agent", ["TestDbWriter:Inst\\Db"], NO_RETRY)
    [result] = world.run()
    assert result.hresult == HResult.VSS_E_UNEXPECTED
    assert world.sim.trace.find(action=V.not_responding(V.ON_ABORT))
    assert writer.state == WriterState.FAILED_AT_FREEZE
    _assert_clean(world)


class LateFreezer(Writer):
    careful = False

    def on_freeze(self, ctx: EventContext) -> ProcessGenerator:
        yield ctx.sim.timeout(400 * SECOND)
        self.freeze_application(ctx)
        if self.careful and ctx.given_up:
            self.thaw_application(ctx)


@pytest.mark.parametrize("careful", [False, True])
def test_a_freeze_made_after_vss_gave_up_is_the_writers_to_undo(careful: bool) -> None:
    writer = LateFreezer(db_metadata())
    writer.careful = careful
    world = small_world(2, db_writer=writer)
    world.add_agent("agent", ["TestDbWriter:Inst\\Db"], NO_RETRY)
    [result] = world.run()
    assert not result.succeeded
    assert world.sim.trace.find(action=V.late_reply_ignored(V.ON_FREEZE))
    # The model thaws nothing for the writer: only a writer that undoes its late freeze is clean.
    assert writer.application_frozen is not careful
    if careful:
        _assert_clean(world)


def test_no_call_is_accepted_while_an_asynchronous_one_runs() -> None:
    world = small_world(0, workload=False)
    bc = _gathered(world)
    _define(bc)
    preparing = bc.prepare_for_backup()
    with pytest.raises(VssError, match="still waits for requester PrepareForBackup") as caught:
        bc.do_snapshot_set()
    assert caught.value.hresult == HResult.VSS_E_BAD_STATE
    world.sim.run(until=preparing)
    world.sim.run(until=bc.do_snapshot_set())
    assert bc.state == SessionState.SNAPSHOTS_CREATED


class HangingProvider(vsssim.SoftwareProvider):
    def end_prepare_snapshots(self, set_id):  # type: ignore[no-untyped-def]
        yield self.sim.event()  # never triggered


def test_a_provider_that_never_returns_fails_the_set_after_the_limit() -> None:
    config = CoordinatorConfig(provider_reply_us=60 * SECOND)
    world = small_world(3, config=config)
    world.coordinator.software_provider = HangingProvider(world.sim)
    world.add_agent("agent", ["TestDbWriter:Inst\\Db"], NO_RETRY)
    [result] = world.run()
    assert result.hresult == HResult.VSS_E_UNEXPECTED_PROVIDER_ERROR
    assert "did not return from EndPrepareSnapshots within 60 s" in result.message
    _assert_clean(world)
    # VSS cannot cancel the provider's call: it is left hanging.
    assert [p.name for p in world.sim.live_processes] == [
        "Microsoft Software Shadow Copy provider 1.0 EndPrepareSnapshots"
    ]
