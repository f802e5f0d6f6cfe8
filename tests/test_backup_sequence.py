"""The seven-phase backup: order of calls and events, states, point-in-time data, the write gate."""

from __future__ import annotations

import itertools

import pytest

import vsssim
from vsssim import HResult, World, WriterState
from vsssim.host.demo import build_demo_world
from vsssim.sim import vocabulary as V
from vsssim.vss.states import BACKUP_EVENTS
from vsssim.vss.volumes import keeping_history

from .conftest import actions

SOFTWARE = V.SOFTWARE_PROVIDER


def _run_demo(seed: int) -> tuple[World, vsssim.BackupResult]:
    """The demo's backup, its volumes keeping every write (some tests read them)."""
    with keeping_history():
        world = build_demo_world(seed)
    [result] = world.run()
    return world, result


def test_writer_state_values_are_microsofts() -> None:
    expected = {
        "UNKNOWN": 0,
        "STABLE": 1,
        "WAITING_FOR_FREEZE": 2,
        "WAITING_FOR_THAW": 3,
        "WAITING_FOR_POST_SNAPSHOT": 4,
        "WAITING_FOR_BACKUP_COMPLETE": 5,
        "FAILED_AT_IDENTIFY": 6,
        "FAILED_AT_PREPARE_BACKUP": 7,
        "FAILED_AT_PREPARE_SNAPSHOT": 8,
        "FAILED_AT_FREEZE": 9,
        "FAILED_AT_THAW": 10,
        "FAILED_AT_POST_SNAPSHOT": 11,
        "FAILED_AT_BACKUP_COMPLETE": 12,
        "FAILED_AT_PRE_RESTORE": 13,
        "FAILED_AT_POST_RESTORE": 14,
        "FAILED_AT_BACKUPSHUTDOWN": 15,
    }
    assert {s.name: int(s) for s in WriterState} == expected
    assert WriterState.WAITING_FOR_THAW.vss_name == "VSS_WS_WAITING_FOR_THAW"
    assert int(HResult.VSS_E_SNAPSHOT_SET_IN_PROGRESS) == 0x80042316
    assert str(HResult.VSS_E_BAD_STATE) == "VSS_E_BAD_STATE (0x80042301)"


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 11])
def test_demo_backup_succeeds_and_copies_the_commit_instant(seed: int) -> None:
    world, result = _run_demo(seed)
    assert result.succeeded, result.message
    assert world.verify(result) == []
    assert all(w.state == WriterState.STABLE for w in world.coordinator.writers)
    assert all(w.failure == HResult.S_OK for w in world.coordinator.writers)
    assert world.coordinator.snapshots == {}
    assert world.coordinator.creating is None
    assert not world.sim.live_processes


def test_copy_is_point_in_time_although_the_workload_kept_writing() -> None:
    world, result = _run_demo(4)
    sales = next(f for f in result.files if f.path.endswith("Sales.mdf"))
    volume = world.namespace.file(sales.path).volume
    blocks = world.namespace.file(sales.path).volume_blocks()
    assert result.commit_seq is not None
    later = [w for w in volume.history if w.seq > result.commit_seq and w.block in blocks]
    assert later, "the workload should have written Sales.mdf after the commit"
    # Each block rewritten later still reads in the backup as it was at the commit.
    at_commit = volume.content_at(result.commit_seq)
    for write in later:
        assert sales.data.get(write.block) == at_commit.get(write.block)
    live = {b: volume.read(b) for b in volume.written_blocks(blocks)}
    assert dict(sales.data) != live


def test_writer_events_and_provider_calls_follow_the_documented_order() -> None:
    world, _ = _run_demo(2)
    seen = actions(world)

    def first(action: str) -> int:
        return seen.index(action)

    def last(action: str) -> int:
        return len(seen) - 1 - seen[::-1].index(action)

    order = [
        V.INITIALIZE_FOR_BACKUP,
        V.SET_CONTEXT,
        V.SET_BACKUP_STATE,
        V.GATHER_WRITER_METADATA,
        V.ON_IDENTIFY,
        V.ADD_COMPONENT,
        V.START_SNAPSHOT_SET,
        V.ADD_TO_SNAPSHOT_SET,
        V.PREPARE_FOR_BACKUP,
        V.ON_PREPARE_BACKUP,
        V.GATHER_WRITER_STATUS,  # the agent checks writer status after each event
        V.DO_SNAPSHOT_SET,
        V.ON_PREPARE_SNAPSHOT,
        V.BEGIN_PREPARE_SNAPSHOT,
        V.END_PREPARE_SNAPSHOTS,
        V.ON_FREEZE,
        V.PRE_COMMIT_SNAPSHOTS,
        V.FLUSH_WRITES,
        V.HOLD_WRITES,
        V.COMMIT_SNAPSHOTS,
        V.RELEASE_WRITES,
        V.POST_COMMIT_SNAPSHOTS,
        V.ON_THAW,
        V.ON_POST_SNAPSHOT,
        V.DO_SNAPSHOT_SET_COMPLETE,
        V.GET_SNAPSHOT_PROPERTIES,
        V.SET_BACKUP_SUCCEEDED,
        V.BACKUP_COMPLETE,
        V.ON_BACKUP_COMPLETE,
        V.DELETE_SNAPSHOTS,
        V.RELEASE,
        V.ON_BACKUP_SHUTDOWN,
        V.RELEASE_COMPLETE,
    ]
    for before, after in itertools.pairwise(order):
        assert first(before) < first(after), (before, after)
    # ...and again once the set exists, before it reports what it backed up.
    after_set = seen[first(V.DO_SNAPSHOT_SET_COMPLETE) : first(V.SET_BACKUP_SUCCEEDED)]
    assert V.GATHER_WRITER_STATUS in after_set
    # Each writer event is answered by every writer before the next one is sent.
    for event, following in itertools.pairwise(BACKUP_EVENTS):
        assert last(V.done(event)) < first(following), (event, following)


def test_each_involved_writer_walks_the_state_machine() -> None:
    world, _ = _run_demo(6)
    sql = [
        r
        for r in world.sim.trace
        if r.actor == "SqlServerWriter" and r.action.endswith(V.DONE_SUFFIX)
    ]
    states = [(r.action, r.details["state"]) for r in sql]
    assert states == [
        (V.done(V.ON_IDENTIFY), "VSS_WS_STABLE"),
        (V.done(V.ON_PREPARE_BACKUP), "VSS_WS_STABLE"),
        (V.done(V.ON_PREPARE_SNAPSHOT), "VSS_WS_WAITING_FOR_FREEZE"),
        (V.ON_FREEZE_DONE, "VSS_WS_WAITING_FOR_THAW"),
        (V.ON_THAW_DONE, "VSS_WS_WAITING_FOR_POST_SNAPSHOT"),
        (V.done(V.ON_POST_SNAPSHOT), "VSS_WS_WAITING_FOR_BACKUP_COMPLETE"),
        (V.done(V.ON_BACKUP_COMPLETE), "VSS_WS_STABLE"),
        (V.done(V.ON_BACKUP_SHUTDOWN), "VSS_WS_STABLE"),
    ]
    # A writer with nothing selected only identifies itself.
    wmi = {r.action for r in world.sim.trace if r.actor == "WMI Writer"}
    assert wmi == {V.ON_IDENTIFY, V.done(V.ON_IDENTIFY)}


def test_phases_are_numbered_in_order() -> None:
    world, _ = _run_demo(0)
    phases = [r.phase for r in world.sim.trace if r.phase is not None]
    assert phases == sorted(phases)
    assert set(phases) == {1, 2, 3, 4, 5, 6, 7}


def test_components_spanning_two_volumes_put_both_in_the_set() -> None:
    world, result = _run_demo(1)
    assert result.volumes == ("C:", "D:", "E:", "F:", "ARCHIVE")
    added = [r.details["volume"] for r in world.sim.trace.find(action=V.ADD_TO_SNAPSHOT_SET)]
    assert added == ["C:", "D:", "E:", "F:", "ARCHIVE"]
    copied = {f.path: f.volume for f in result.files}
    assert copied["D:\\SQLData\\Sales.mdf"] == "D:"
    assert copied["E:\\SQLLogs\\Sales_log.ldf"] == "E:"
    assert copied["F:\\Shares\\Archive\\2025\\contracts.zip"] == "ARCHIVE"
    assert copied["F:\\Shares\\Projects\\plan.docx"] == "F:"


def test_no_write_lands_on_a_set_volume_between_hold_and_release() -> None:
    world, _ = _run_demo(8)
    trace = world.sim.trace.records
    hold = next(r for r in trace if r.action == V.HOLD_WRITES)
    releases = [r for r in trace if r.action == V.RELEASE_WRITES]
    set_volumes = set(hold.details["volumes"])  # type: ignore[arg-type]
    first_release = releases[0].seq
    landed = [
        r
        for r in trace[hold.seq : first_release]
        if r.action == V.WRITE and r.details.get("volume", r.actor) in set_volumes
    ]
    assert landed == []


def test_held_writes_are_applied_at_release_in_issue_order_and_none_is_lost() -> None:
    for seed in range(6):
        world, result = _run_demo(seed)
        assert result.succeeded
        trace = world.sim.trace
        for record in trace.find(action=V.WRITE_HELD):
            landed = [
                r
                for r in trace.find(action=V.WRITE)
                if r.actor == record.actor and r.details["issue"] == record.details["issue"]
            ]
            assert len(landed) == 1 and landed[0].seq > record.seq
        for volume in world.namespace.volumes:
            issues = [w.issue for w in volume.history]
            assert issues == sorted(issues), "writes reordered on " + volume.label
            assert len(issues) == len(set(issues)), "a write applied twice"
            assert volume.pending_writes == 0 and not volume.held
        issued = sum(w.writes_issued for w in world.workloads)
        landed_total = sum(1 for r in trace.find(action=V.WRITE) if r.details["origin"] != "setup")
        assert issued == landed_total > 0


def test_the_hold_holds_writes_of_an_unfrozen_application() -> None:
    # Over several seeds the demo's file-share users write to F: during some commit.
    held_total = 0
    for seed in range(5):
        world, _ = _run_demo(seed)
        held = world.sim.trace.find(action=V.WRITE_HELD)
        held_total += len(held)
        assert all(r.details["origin"] in ("SMB clients", "archiver") for r in held)
        hold = next(r for r in world.sim.trace if r.action == V.HOLD_WRITES)
        release = next(r for r in world.sim.trace if r.action == V.RELEASE_WRITES)
        assert all(hold.seq < r.seq < release.seq for r in held)
        assert sum(
            int(r.details["applied"])
            for r in world.sim.trace.find(  # type: ignore[arg-type]
                action=V.RELEASE_WRITES
            )
        ) == len(held)
    assert held_total > 0


def test_frozen_application_issues_no_writes_between_freeze_and_thaw() -> None:
    world, _ = _run_demo(9)
    trace = world.sim.trace.records
    freeze_done = next(
        r for r in trace if r.actor == "SqlServerWriter" and r.action == V.ON_FREEZE_DONE
    )
    thaw = next(r for r in trace if r.actor == "SqlServerWriter" and r.action == V.ON_THAW)
    sql_writes = [
        r
        for r in trace[freeze_done.seq : thaw.seq]
        if r.action in (V.WRITE, V.WRITE_HELD) and r.details["origin"] == "sqlservr.exe"
    ]
    assert sql_writes == []


def test_the_coordinator_records_its_steps_as_vss() -> None:
    world, _ = _run_demo(0)
    vss_actions = set(actions(world, V.VSS))
    assert {
        V.DO_SNAPSHOT_SET,
        V.FLUSH_WRITES,
        V.HOLD_WRITES,
        V.RELEASE_WRITES,
        V.DO_SNAPSHOT_SET_COMPLETE,
    } <= vss_actions
    assert SOFTWARE in {r.actor for r in world.sim.trace}
