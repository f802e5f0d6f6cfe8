"""The XP hardware provider: backups on the array, rotation, both modes, the sync-wait limit,
aborts, fallback, and instant recovery round trips."""

from __future__ import annotations

import subprocess
import sys
import uuid

import attrs
import pytest

from vsssim.errors import ConfigurationError, HResult, VssError
from vsssim.host.world import World
from vsssim.requesters.backup_options import AgentOptions, RetryPolicy
from vsssim.requesters.backup_result import BackupResult, Outcome
from vsssim.requesters.instant_recovery import InstantRecoveryAgent
from vsssim.sim import vocabulary as V
from vsssim.sim.kernel import MILLISECOND, SECOND
from vsssim.testing.invariants import check_all
from vsssim.vss.constants import Context, SnapshotState
from vsssim.vss.providers.xp import XP_PROVIDER_ID, PairState, ReplicaMode, ReplicaOptions
from vsssim.vss.volumes import Volume
from vsssim.vss.workload import Workload
from vsssim.vss.writers.catalogue import sql_server_writer

GIB = 1024**3
NO_RETRY = RetryPolicy(retries=0)
SALES = "SqlServerWriter:SQLSRV01\\Sales"


def _world(
    replica: ReplicaOptions,
    *,
    seed: int = 1,
    replicas: int = 3,
    track_copy_us: int = 2 * MILLISECOND,
    system_volume: bool = False,
    log_drive: str = "E:",
) -> World:
    """SQL Server's Sales database on two array LDEVs, each with ``replicas`` replica LDEVs."""
    world = World.create(seed)
    world.add_array(options=replica, track_copy_us=track_copy_us)
    if system_volume:
        world.add_volume("C:\\", "C:", GIB)
        world.add_file("C:\\Windows\\system.dat", 4, initial_blocks=2)
    world.add_array_volume(
        "D:\\", "01:10", GIB, label="D:", replicas=[f"01:2{n}" for n in range(replicas)]
    )
    world.add_array_volume(
        "E:\\", "01:11", GIB, label="E:", replicas=[f"01:3{n}" for n in range(replicas)]
    )
    world.add_file("D:\\SQLData\\Sales.mdf", 512, initial_blocks=200)
    world.add_file("E:\\SQLLogs\\Sales_log.ldf", 64, initial_blocks=16)
    log = f"{log_drive}\\SQLLogs"
    if log_drive != "E:":
        world.add_file(f"{log}\\Sales_log.ldf", 64, initial_blocks=16)
    sql = world.add_writer(sql_server_writer("SQLSRV01", [("Sales", "D:\\SQLData", log)]))
    world.add_workload(
        Workload(
            "sqlservr.exe",
            ["D:\\SQLData\\Sales.mdf", f"{log}\\Sales_log.ldf"],
            interval_us=(2 * MILLISECOND, 10 * MILLISECOND),
            writer=sql,
        )
    )
    return world


def _options(replica: ReplicaOptions, **more: object) -> AgentOptions:
    context = Context.APP_ROLLBACK if replica.keeps else Context.BACKUP
    return AgentOptions(
        provider_id=XP_PROVIDER_ID,
        replica=replica,
        context=context,
        **more,  # type: ignore[arg-type]
    )


def _backup(world: World, name: str, options: AgentOptions, selection: str = SALES) -> BackupResult:
    agent = world.add_agent(name, [selection], options)
    world.start([(agent, 0)])
    world.sim.run()
    assert agent.result is not None
    return agent.result


def _no_violation(world: World) -> None:
    violated = {k: [str(v) for v in vs] for k, vs in check_all(world).items() if vs}
    assert not violated


def _states(world: World) -> dict[str, PairState]:
    return {p.name: p.state for p in world.arrays[0].pairs}


# -- a backup on the array ---------------------------------------------------------------------
def test_a_backup_splits_every_pair_of_the_set_at_one_instant_inside_the_hold() -> None:
    replica = ReplicaOptions()
    world = _world(replica)
    result = _backup(world, "agent", _options(replica))
    assert result.outcome is Outcome.SUCCEEDED
    assert world.verify(result) == []
    trace = world.sim.trace
    [split] = trace.find(action=V.PAIRS_SPLIT)
    seqs = [image["seq"] for image in split.details["images"]]  # type: ignore[index,union-attr]
    assert len(seqs) == 2
    assert {trace.records[s].time_us for s in seqs} == {split.time_us}
    [hold] = trace.find(action=V.HOLD_WRITES)
    release = trace.find(action=V.RELEASE_WRITES)[0]
    assert all(hold.seq < s < release.seq for s in seqs)
    # Created (COPY(PD)), waited for PAIR before the freeze, split; the deletion of the shadow
    # copy leaves them split (resync mode: a suspended mirror relationship after the backup).
    actions = [(r.action, r.details.get("state")) for r in trace.find(actor="XP array 10053")]
    assert (V.PAIRCREATE, "COPY(PD)") in actions
    assert (V.PAIRSPLIT_QUICK, "PSUS(SP)") in actions
    assert not any(action == V.PAIRRESYNC for action, _ in actions)
    freeze = trace.find(action=V.ON_FREEZE)[0].seq
    synced = [r.seq for r in trace.find(action=V.COPY_DONE) if r.details["before"] == "COPY(PD)"]
    assert synced and max(synced) < freeze
    assert set(_states(world).values()) == {PairState.PSUS}
    _no_violation(world)


def test_each_replica_holds_its_volume_at_the_split_while_the_workload_goes_on() -> None:
    replica = ReplicaOptions(keep_replica=True)
    world = _world(replica)
    result = _backup(world, "agent", _options(replica))
    world.run_workloads(SECOND)
    provider = world.xp_provider()
    for made in provider.replicas(result.snapshot_set_id):
        volume = made.snapshot.volume
        assert made.image_seq is not None
        image = made.snapshot.read_range(range(volume.block_count))
        assert image == volume.content_at(made.image_seq)
        assert image != volume.content_at(len(world.sim.trace))  # the volume moved on
    assert set(_states(world).values()) == {PairState.PSUS}
    _no_violation(world)


def test_resync_mode_rotates_over_the_mirror_units_and_reuses_the_oldest() -> None:
    replica = ReplicaOptions(replicas_rotated=2, keep_replica=True)
    world = _world(replica)
    options = _options(replica)
    first = _backup(world, "first", options)
    second = _backup(world, "second", options)
    pairs = world.arrays[0].pairs
    assert sorted((p.pvol.address, p.mu, p.state) for p in pairs) == [
        ("01:10", 0, PairState.PSUS),
        ("01:10", 1, PairState.PSUS),
        ("01:11", 0, PairState.PSUS),
        ("01:11", 1, PairState.PSUS),
    ]
    third = _backup(world, "third", options)
    assert all(r.succeeded for r in (first, second, third))
    provider = world.xp_provider()
    lost = [r for r in world.sim.trace.find(action=V.REPLICA_LOST)]
    assert len(lost) == 2 and all("reused" in str(r.details["reason"]) for r in lost)
    old = [world.coordinator.snapshots[s.snapshot_id] for s in _snapshots(world, first)]
    for snapshot in old:
        with pytest.raises(VssError) as gone:
            snapshot.read(0)
        assert gone.value.hresult == HResult.VSS_E_OBJECT_NOT_FOUND
    assert all(r.usable for r in provider.replicas(second.snapshot_set_id))
    assert all(r.usable for r in provider.replicas(third.snapshot_set_id))
    assert {r.pair.mu for r in provider.replicas(third.snapshot_set_id) if r.pair} == {0}
    _no_violation(world)


def _snapshots(world: World, result: BackupResult) -> list[object]:
    return [s for s in world.coordinator.snapshots.values() if s.set_id == result.snapshot_set_id]


def test_compliant_mode_deletes_the_pairs_and_rotates_clones_beyond_three() -> None:
    replica = ReplicaOptions(mode=ReplicaMode.VSS_COMPLIANT, replicas_rotated=4, keep_replica=True)
    world = _world(replica, replicas=4)
    results = [_backup(world, f"agent {n}", _options(replica)) for n in range(5)]
    assert all(r.succeeded for r in results)
    assert world.arrays[0].pairs == []  # every pair deleted: the replicas are clones
    provider = world.xp_provider()
    used = [
        sorted(r.svol.address for r in provider.replicas(res.snapshot_set_id))
        for res in results[:4]
    ]
    assert [u[0] for u in used] == ["01:20", "01:21", "01:22", "01:23"]
    # The fifth reused the oldest clone (the first backup's).
    assert not any(r.usable for r in provider.replicas(results[0].snapshot_set_id))
    assert sorted(r.svol.address for r in provider.replicas(results[4].snapshot_set_id)) == [
        "01:20",
        "01:30",
    ]
    for made in provider.replicas(results[4].snapshot_set_id):
        assert made.image_seq is not None
        clone = made.svol.volume
        assert clone.content_at(len(world.sim.trace)) == made.snapshot.volume.content_at(
            made.image_seq
        )
    _no_violation(world)


# -- the limits and the undo -------------------------------------------------------------------
def test_a_mirror_that_does_not_sync_in_time_fails_the_set_and_leaves_nothing_behind() -> None:
    replica = ReplicaOptions(sync_wait_us=100 * MILLISECOND)
    world = _world(replica, track_copy_us=50 * MILLISECOND)  # 200 tracks: 10 s to copy
    result = _backup(world, "agent", _options(replica))
    assert result.outcome is Outcome.FAILED
    assert result.hresult == HResult.VSS_E_PROVIDER_VETO
    assert "did not synchronise within 0.1 s" in result.message
    assert "01:10" in result.message and "COPY(PD)" in result.message
    assert world.arrays[0].pairs == []  # the pairs the set created are deleted again
    assert world.sim.trace.find(action=V.ON_FREEZE) == []
    assert world.sim.trace.find(action=V.ON_ABORT)
    assert world.coordinator.creating is None
    _no_violation(world)


def test_an_abort_returns_each_pair_to_the_state_it_had() -> None:
    replica = ReplicaOptions(replicas_rotated=1)
    world = _world(replica)
    assert _backup(world, "first", _options(replica)).succeeded  # pairs created, left PSUS
    for pair in world.arrays[0].pairs:  # the administrator resyncs them: in sync before the set
        world.arrays[0].pairresync(pair)
    world.run_workloads(SECOND)
    before = _states(world)
    assert set(before.values()) == {PairState.PAIR}
    world.coordinator.config = attrs.evolve(world.coordinator.config, hold_limit_us=1)
    failed = _backup(world, "second", _options(replica))
    assert failed.hresult == HResult.VSS_E_HOLD_WRITES_TIMEOUT
    assert _states(world) == before  # split at the commit, resynced by the abort
    _no_violation(world)


def test_an_aborted_set_splits_again_the_replica_it_had_resynced() -> None:
    replica = ReplicaOptions(keep_replica=True)
    world = _world(replica)
    assert _backup(world, "first", _options(replica)).succeeded
    assert set(_states(world).values()) == {PairState.PSUS}
    world.coordinator.config = attrs.evolve(world.coordinator.config, hold_limit_us=1)
    failed = _backup(world, "second", _options(replica))
    assert failed.outcome is Outcome.FAILED
    assert set(_states(world).values()) == {PairState.PSUS}
    _no_violation(world)


def test_without_fallback_a_volume_off_the_array_fails_with_the_real_hresult() -> None:
    replica = ReplicaOptions()
    world = _world(replica, system_volume=True, log_drive="C:")
    result = _backup(world, "agent", _options(replica, allow_fallback=False))
    assert result.outcome is Outcome.FAILED
    assert result.hresult == HResult.VSS_E_VOLUME_NOT_SUPPORTED_BY_PROVIDER
    assert "does not support volume C:" in result.message
    assert world.arrays[0].pairs == []
    assert all(v.marked_by is None and not v.held for v in world.namespace.volumes)
    _no_violation(world)

    fallback = _world(replica, system_volume=True, log_drive="C:")
    mixed = _backup(fallback, "agent", _options(replica))
    assert mixed.succeeded and fallback.verify(mixed) == []
    providers = {
        str(r.details["volume"]): str(r.details["provider"])
        for r in fallback.sim.trace.find(action=V.ADD_TO_SNAPSHOT_SET)
    }
    assert providers["C:"].startswith("Microsoft Software")
    assert providers["D:"].startswith("HP XP")
    _no_violation(fallback)


def test_is_volume_supported_answers_for_one_provider_or_any() -> None:
    world = _world(ReplicaOptions(), system_volume=True)
    bc = world.coordinator.create_backup_components("requester")
    bc.initialize_for_backup()
    assert bc.is_volume_supported("D:\\", XP_PROVIDER_ID)
    assert not bc.is_volume_supported("C:\\", XP_PROVIDER_ID)
    assert bc.is_volume_supported("C:\\")  # VSS's own choice: the software provider
    with pytest.raises(VssError) as unknown:
        bc.is_volume_supported("C:\\", uuid.UUID(int=5))
    assert unknown.value.hresult == HResult.VSS_E_PROVIDER_NOT_REGISTERED


def test_with_fallback_a_mixed_set_uses_the_software_provider_off_the_array() -> None:
    from vsssim.host.demo import build_demo_world

    world = build_demo_world(0, provider="xp")
    [result] = world.run()
    assert result.succeeded and world.verify(result) == []
    added = {
        str(r.details["volume"]): str(r.details["provider"])
        for r in world.sim.trace.find(action=V.ADD_TO_SNAPSHOT_SET)
    }
    assert added["D:"].startswith("HP XP") and added["E:"].startswith("HP XP")
    assert added["C:"].startswith("Microsoft Software") and added["F:"].startswith("Microsoft")
    fallbacks = {str(r.details["volume"]) for r in world.sim.trace.find(action=V.PROVIDER_FALLBACK)}
    assert fallbacks == {"C:", "F:", "ARCHIVE"}
    _no_violation(world)


def test_the_options_refuse_what_the_product_refuses() -> None:
    with pytest.raises(ConfigurationError, match="at most 3 replicas"):
        ReplicaOptions(replicas_rotated=4)
    with pytest.raises(ConfigurationError, match="replicas_rotated must be at least 1"):
        ReplicaOptions(replicas_rotated=0)
    with pytest.raises(ConfigurationError, match="snapshots need resync mode"):
        ReplicaOptions(mode=ReplicaMode.VSS_COMPLIANT, pool=1)
    with pytest.raises(ConfigurationError, match="persistent context"):
        AgentOptions(replica=ReplicaOptions(track_for_instant_recovery=True))
    assert ReplicaOptions(track_for_instant_recovery=True).keeps  # tracking forces keeping


def test_replica_ldevs_must_fit_their_p_vol() -> None:
    world = World.create(0)
    array = world.add_array()
    world.add_array_volume("D:\\", "01:10", GIB, label="D:")
    array.add_ldev("01:20", 2 * GIB)
    array.add_ldev("01:21", GIB)
    provider = world.xp_provider()
    with pytest.raises(ConfigurationError, match="not the size of P-VOL 01:10"):
        provider.assign_replicas("01:10", ["01:20"])
    with pytest.raises(ConfigurationError, match="cannot be a replica"):
        provider.assign_replicas("01:10", ["01:10"])
    provider.assign_replicas("01:10", ["01:21"])
    with pytest.raises(ConfigurationError, match="a volume is labelled 'D:' already"):
        world.add_array_volume("G:\\", "01:30", GIB, label="D:")
    with pytest.raises(ConfigurationError, match="has LDEV 01:21 already"):
        world.add_array_volume("G:\\", "01:31", GIB, label="G:", replicas=["01:21"])
    assert "01:31" not in array.ldevs  # nothing half-built stays behind
    assert not world.namespace.has_label("G:")


def test_only_the_arrays_ldevs_are_supported() -> None:
    world = _world(ReplicaOptions(), system_volume=True)
    provider = world.xp_provider()
    assert provider.is_volume_supported(world.namespace.volume_labelled("D:"))
    assert not provider.is_volume_supported(world.namespace.volume_labelled("C:"))
    assert not provider.is_volume_supported(Volume(world.sim, "USB", GIB))


# -- snapshot pairs (an extension) -------------------------------------------------------------
def test_a_full_pool_invalidates_the_snapshot_as_out_of_storage() -> None:
    replica = ReplicaOptions(pool=7, keep_replica=True)
    world = _world(replica)
    world.arrays[0].add_pool(7, 64 * 4096)
    result = _backup(world, "agent", _options(replica))
    assert result.succeeded
    world.run_workloads(2 * SECOND)  # the workload overwrites more than 64 blocks
    snapshot = next(s for s in world.coordinator.snapshots.values() if s.volume.label == "D:")
    with pytest.raises(VssError) as lost:
        snapshot.read(0)
    assert lost.value.hresult == HResult.VSS_E_INSUFFICIENT_STORAGE
    assert "pool 7 is full" in lost.value.message
    pool = world.arrays[0].pools[7]
    assert pool.peak_bytes <= pool.capacity_bytes
    _no_violation(world)


# -- instant recovery --------------------------------------------------------------------------
@pytest.mark.parametrize("mode", list(ReplicaMode))
def test_instant_recovery_puts_back_exactly_the_split_instant(mode: ReplicaMode) -> None:
    replica = ReplicaOptions(mode=mode, replicas_rotated=2, track_for_instant_recovery=True)
    world = _world(replica)
    first = _backup(world, "first", _options(replica))
    second = _backup(world, "second", _options(replica))  # rotated: the first stays kept
    assert first.succeeded and second.succeeded
    images = {
        r.snapshot.volume.label: (r.snapshot.volume, r.image_seq)
        for r in world.xp_provider().replicas(first.snapshot_set_id)
    }
    world.run_workloads(SECOND)
    damaged = {label: v.content_at(len(world.sim.trace)) for label, (v, _) in images.items()}
    assert all(damaged[label] != v.content_at(seq) for label, (v, seq) in images.items())  # type: ignore[arg-type]

    recovered = world.instant_recovery(first)
    assert recovered.succeeded, recovered.message
    assert sorted(recovered.volumes) == ["D:", "E:"] and recovered.lost == ()
    end = len(world.sim.trace)
    for volume, seq in images.values():
        assert seq is not None
        assert volume.content_at(end) == volume.content_at(seq)
    events = [r.action for r in world.sim.trace.find(actor="SqlServerWriter")]
    assert events.index(V.ON_PRE_RESTORE) < events.index(V.ON_POST_RESTORE)
    [start] = world.sim.trace.find(action=V.INSTANT_RECOVERY)
    pre = world.sim.trace.find(action=V.done(V.ON_PRE_RESTORE))[-1].seq
    post = world.sim.trace.find(action=V.ON_POST_RESTORE)[-1].seq
    assert pre < start.seq < post
    if mode is ReplicaMode.VSS_COMPLIANT:
        assert world.sim.trace.find(action=V.DISKS_SWITCHED)
        # The old data is not lost: it is on the replica LDEV now.
        clone = world.arrays[0].ldev("01:20").volume
        assert clone.content_at(end) == damaged["D:"]
    else:
        assert world.sim.trace.find(action=V.PAIRRESYNC_RESTORE)
    again = world.instant_recovery(first)  # the replica is used up
    assert not again.succeeded and again.hresult == HResult.VSS_E_OBJECT_NOT_FOUND
    _no_violation(world)


def test_an_interrupted_reverse_resync_reports_the_old_data_lost() -> None:
    replica = ReplicaOptions(track_for_instant_recovery=True)
    world = _world(replica)
    backup = _backup(world, "agent", _options(replica))
    world.run_workloads(SECOND)
    array = world.arrays[0]
    pair = next(p for p in array.pairs if p.pvol.address == "01:10")

    def fail_half_way() -> object:
        yield world.sim.timeout(1)
        while pair.state is not PairState.COPY_RS_R:
            yield world.sim.timeout(100)
        yield world.sim.timeout(1)
        array.suspend(pair, "link failure")

    world.sim.process(fail_half_way(), "array fault")
    result = world.instant_recovery(backup)
    assert not result.succeeded
    assert result.lost == ("D:",)
    assert "data before the recovery is lost" in result.message
    [interrupted] = world.sim.trace.find(action=V.RESTORE_INTERRUPTED)
    assert "lost" in str(interrupted.details["consequence"])
    status = {s.writer_name: s for s in result.writer_status}
    assert "SqlServerWriter" in status
    d = world.namespace.volume_labelled("D:")
    assert not d.held


def test_a_backup_without_a_kept_replica_cannot_be_recovered() -> None:
    replica = ReplicaOptions()
    world = _world(replica)
    backup = _backup(world, "agent", _options(replica))
    result = world.instant_recovery(backup)
    assert not result.succeeded
    assert result.hresult == HResult.VSS_E_OBJECT_NOT_FOUND
    assert "was not kept" in result.message


def test_a_replica_can_be_tracked_without_instant_recovery_killing_the_agent() -> None:
    replica = ReplicaOptions(track_for_instant_recovery=True)
    world = _world(replica)
    result = _backup(world, "agent", _options(replica))
    [tracked] = world.sim.trace.find(action=V.REPLICA_TRACKED_FOR_INSTANT_RECOVERY)
    assert tracked.details["set_id"] == str(result.snapshot_set_id)
    assert all(
        s.state == SnapshotState.CREATED
        for s in world.coordinator.snapshots.values()
        if s.set_id == result.snapshot_set_id
    )


def test_the_cli_demo_on_the_array_shows_the_split_and_pairdisplay() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "vsssim", "demo", "--provider", "xp"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert V.PAIRSPLIT_QUICK in out and "state=PSUS(SP)  before=PAIR" in out
    assert V.PAIRDISPLAY in out and "when=after" in out
    assert "pairdisplay (XP array 10053, at the end)" in out
    assert "0 violated" in out


def test_the_agent_of_a_failed_recovery_leaves_the_applications_running() -> None:
    replica = ReplicaOptions(track_for_instant_recovery=True)
    world = _world(replica)
    backup = _backup(world, "agent", _options(replica))
    world.xp_provider().delete_snapshot(
        next(s for s in world.coordinator.snapshots.values() if s.volume.label == "E:")
    )
    result = world.instant_recovery(backup)
    assert not result.succeeded
    sql = world.coordinator.writer("SqlServerWriter")
    assert sql is not None and not sql.application_frozen
    assert world.arrays[0].pairs and all(
        p.state is PairState.PSUS or p.pvol.address == "01:11" for p in world.arrays[0].pairs
    )


def test_a_pair_the_array_suspends_during_the_sync_fails_the_set_cleanly() -> None:
    from vsssim.faults import FaultPlan

    replica = ReplicaOptions()
    world = _world(replica)
    world.coordinator.install_faults(FaultPlan.forced("array-pair-suspended", times=1))
    result = _backup(world, "agent", _options(replica))
    first, second = result.attempts  # the veto is retryable: the second attempt succeeds
    assert first.hresult == HResult.VSS_E_PROVIDER_VETO
    assert "PSUE" in first.message and "link failure" in first.message
    assert second.hresult == HResult.S_OK and result.succeeded
    [fired] = world.coordinator.faults.fired  # type: ignore[union-attr]
    assert fired.kind == "array-pair-suspended" and fired.site == "XP array 10053.sync"
    deleted = [r for r in world.sim.trace.find(action=V.PAIRSPLIT_DELETE) if r.seq > fired.seq]
    assert deleted and deleted[0].details["before"] == "PSUE"  # the abort deleted it again
    _no_violation(world)


# -- races and refusals found in review ----------------------------------------------------------
def test_a_backup_right_after_an_aborted_resync_still_gets_its_replica() -> None:
    replica = ReplicaOptions(keep_replica=True)
    world = _world(replica, track_copy_us=2 * SECOND)  # slow copies: the abort meets one
    assert _backup(world, "first", _options(replica)).succeeded
    world.run_workloads(SECOND)
    short = ReplicaOptions(keep_replica=True, sync_wait_us=1 * MILLISECOND)
    failing = world.add_agent("second", [SALES], _options(short, retry=NO_RETRY))
    later = world.add_agent("third", [SALES], _options(replica, retry=NO_RETRY))
    world.start([(failing, 0), (later, 500 * MILLISECOND)])
    world.sim.run()
    assert failing.result is not None and later.result is not None
    assert failing.result.hresult == HResult.VSS_E_PROVIDER_VETO
    # The abort split the resynced pairs again (COPY(SP) until the copy ends); the third
    # backup resyncs them once that split is done, instead of failing on a PSUS pair.
    assert later.result.succeeded, later.result.message
    _no_violation(world)


def test_a_backup_and_an_instant_recovery_of_one_volume_do_not_overlap() -> None:
    keep = ReplicaOptions(replicas_rotated=2, track_for_instant_recovery=True)
    plain = ReplicaOptions(sync_wait_us=3600 * SECOND)
    world = _world(keep, track_copy_us=200 * MILLISECOND)
    _backup(world, "b1", _options(keep))  # MU0
    kept = _backup(world, "b2", _options(keep))  # MU1
    world.run_workloads(5 * SECOND)
    recovery = InstantRecoveryAgent(world.coordinator, "IR", kept)
    backup = world.add_agent("b3", [SALES], _options(plain, retry=NO_RETRY))
    world.sim.process(recovery.run(), "IR")
    world.start([(backup, 200 * MILLISECOND)])  # the reverse resync is running by then
    world.sim.run()
    assert recovery.result is not None and recovery.result.succeeded
    assert backup.result is not None
    assert backup.result.hresult == HResult.VSS_E_PROVIDER_VETO
    assert "is being restored" in backup.result.message
    _no_violation(world)

    # The other way round: a recovery while a set on the volume is being created is refused.
    world2 = _world(keep)
    first = _backup(world2, "b1", _options(keep))
    agent = world2.add_agent("b2", [SALES], _options(keep))
    world2.start([(agent, 0)])
    world2.sim.run(until=world2.sim.now + 150 * MILLISECOND)
    assert world2.namespace.volume_labelled("D:").marked_by is not None
    refused = world2.instant_recovery(first)
    assert refused.hresult == HResult.VSS_E_VOLUME_IN_USE and "being created" in refused.message
    world2.sim.run()
    _no_violation(world2)


def test_a_recovery_the_array_refuses_changes_nothing_and_loses_nothing() -> None:
    replica = ReplicaOptions(pool=7, track_for_instant_recovery=True)
    world = _world(replica)
    world.arrays[0].add_pool(7, 64 * 4096)
    backup = _backup(world, "agent", _options(replica))
    world.run_workloads(2 * SECOND)  # the pool overflows: the snapshot is lost (PSUE)
    d = world.namespace.volume_labelled("D:")
    before = d.content_at(len(world.sim.trace))
    result = world.instant_recovery(backup)
    assert not result.succeeded and result.lost == ()
    assert "pool 7 is full" in result.message
    assert d.content_at(len(world.sim.trace)) == before
    assert world.sim.trace.find(action=V.PAIRRESYNC_RESTORE) == []
    sql = world.coordinator.writer("SqlServerWriter")
    assert sql is not None and not sql.application_frozen


def test_a_switch_of_disks_needs_both_ldevs_simplex() -> None:
    clone = ReplicaOptions(mode=ReplicaMode.VSS_COMPLIANT, track_for_instant_recovery=True)
    world = _world(clone)
    backup = _backup(world, "clone", _options(clone))
    resync = ReplicaOptions(replicas_rotated=2, keep_replica=True)
    assert _backup(world, "mirror", _options(resync)).succeeded  # pairs D: with 01:21 now
    result = world.instant_recovery(backup)
    assert result.hresult == HResult.VSS_E_PROVIDER_VETO
    assert "needs both LDEVs simplex" in result.message
    assert world.sim.trace.find(action=V.DISKS_SWITCHED) == []
    _no_violation(world)


def test_a_missing_pool_or_a_pair_of_the_other_kind_is_a_veto() -> None:
    no_pool = ReplicaOptions(pool=9)
    world = _world(no_pool)
    result = _backup(world, "agent", _options(no_pool, retry=NO_RETRY))
    assert result.hresult == HResult.VSS_E_PROVIDER_VETO and "no pool 9" in result.message
    assert world.arrays[0].pairs == []

    mirror = ReplicaOptions(keep_replica=True)
    world2 = _world(mirror, replicas=1)
    world2.arrays[0].add_pool(3, 1024 * 4096)
    assert _backup(world2, "mirror", _options(mirror)).succeeded
    snap = ReplicaOptions(pool=3, keep_replica=True)
    refused = _backup(world2, "snap", _options(snap, retry=NO_RETRY))
    assert refused.hresult == HResult.VSS_E_PROVIDER_VETO
    assert "this set makes SS replicas" in refused.message
    assert all(r.usable for r in world2.xp_provider().replicas())  # the kept mirror survives
    _no_violation(world2)


def test_the_cli_instant_recovery_demo_puts_the_replica_back() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "vsssim", "demo", "--provider", "xp", "--instant-recovery"],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert V.PAIRRESYNC_RESTORE in run.stdout and V.ON_POST_RESTORE in run.stdout
    assert "D:, E: no longer equal their replica" in run.stdout
    assert "data check: D:, E: equal their split instant" in run.stdout
    refused = subprocess.run(
        [sys.executable, "-m", "vsssim", "demo", "--instant-recovery"],
        capture_output=True,
        text=True,
    )
    assert refused.returncode == 2 and "use it with --provider xp" in refused.stderr
