"""ExposeSnapshot and UnexposeSnapshot, BreakSnapshotSet(Ex) and RevertToSnapshot, each test
after the Microsoft Learn page it follows, with its documented refusals: a refused call changes
nothing."""

from __future__ import annotations

import pytest

from vsssim import Context, HResult, VssError
from vsssim.sim import vocabulary as V
from vsssim.vss.constants import HardwareOptions, SnapshotAttr
from vsssim.vss.providers.xp import PairState

from .conftest import small_world
from .management_helpers import make_set, manager, refused

LOCALLY, REMOTELY = SnapshotAttr.EXPOSED_LOCALLY, SnapshotAttr.EXPOSED_REMOTELY
_H = HardwareOptions


def test_a_persistent_copy_is_exposed_locally_once_under_a_free_name() -> None:
    """IVssBackupComponents::ExposeSnapshot and "Exposing and Surfacing Shadow Copied Volumes":
    a drive letter or mounted folder (wszPathFromRoot NULL), only for persistent copies, read
    only; the exposed name comes back and is in VSS_SNAPSHOT_PROP. vsssim refuses a name in use
    and a second exposure with VSS_E_OBJECT_ALREADY_EXISTS (assumed)."""
    world = small_world(0, workload=False)
    _, _, ids = make_set(world, Context.NAS_ROLLBACK)
    mgr = manager(world, Context.NAS_ROLLBACK)
    refused(world, HResult.E_INVALIDARG, mgr.expose_snapshot, ids[0], "\\Data", LOCALLY, "X:")
    refused(world, HResult.E_INVALIDARG, mgr.expose_snapshot, ids[0], None, LOCALLY, None)
    refused(world, HResult.E_INVALIDARG, mgr.expose_snapshot, ids[0], None, 0, "X:")
    refused(world, HResult.E_INVALIDARG, mgr.expose_snapshot, ids[0], None, LOCALLY, "Q:\\Mnt")
    refused(
        world, HResult.VSS_E_OBJECT_ALREADY_EXISTS, mgr.expose_snapshot, ids[0], None, LOCALLY, "L:"
    )
    assert mgr.expose_snapshot(ids[0], None, LOCALLY, "X:") == "X:"
    props = mgr.get_snapshot_properties(ids[0])
    assert props.exposed_name == "X:" and props.attributes & LOCALLY
    (record,) = [r for r in world.sim.trace if r.action == V.EXPOSE_SNAPSHOT]
    assert record.details["read_only"] is True and record.details["exposed"] == "X:"
    refused(
        world, HResult.VSS_E_OBJECT_ALREADY_EXISTS, mgr.expose_snapshot, ids[0], None, LOCALLY, "Y:"
    )
    refused(
        world,
        HResult.VSS_E_OBJECT_ALREADY_EXISTS,
        mgr.expose_snapshot,
        ids[1],
        None,
        LOCALLY,
        "x:\\",
    )
    assert mgr.expose_snapshot(ids[1], None, LOCALLY, "D:\\Mounted\\Logs") == "D:\\Mounted\\Logs"
    mgr.unexpose_snapshot(ids[0])
    assert mgr.get_snapshot_properties(ids[0]).exposed_name is None
    refused(world, HResult.VSS_E_OBJECT_NOT_FOUND, mgr.unexpose_snapshot, ids[0])
    assert mgr.expose_snapshot(ids[1 - 1], None, LOCALLY, "X:") == "X:"  # the name is free again


def test_a_copy_is_exposed_remotely_as_a_share_and_a_nonpersistent_one_only_so() -> None:
    """IVssBackupComponents::ExposeSnapshot: VSS_VOLSNAP_ATTR_EXPOSED_REMOTELY shares the part
    wszPathFromRoot of the volume (no variables, no wildcards); with wszExpose NULL, VSS names
    the share. "Exposing and Surfacing Shadow Copied Volumes": only persistent copies are exposed
    locally (vsssim: E_INVALIDARG, assumed)."""
    world = small_world(0, workload=False)
    _, _, ids = make_set(world, Context.FILE_SHARE_BACKUP)
    mgr = manager(world, Context.FILE_SHARE_BACKUP)
    refused(world, HResult.E_INVALIDARG, mgr.expose_snapshot, ids[0], None, LOCALLY, "X:")
    refused(world, HResult.E_INVALIDARG, mgr.expose_snapshot, ids[0], "\\%TEMP%", REMOTELY, None)
    refused(world, HResult.E_INVALIDARG, mgr.expose_snapshot, ids[0], None, REMOTELY, "a/b")
    share = mgr.expose_snapshot(ids[0], "\\Data", REMOTELY, None)
    props = mgr.get_snapshot_properties(ids[0])
    assert props.exposed_name == share and props.exposed_path == "\\Data"
    assert share in props.snapshot_device_object and props.attributes & REMOTELY
    refused(
        world,
        HResult.VSS_E_OBJECT_ALREADY_EXISTS,
        mgr.expose_snapshot,
        ids[1],
        None,
        REMOTELY,
        share.lower(),
    )
    mgr.delete_snapshots(ids[0])
    assert mgr.expose_snapshot(ids[1], None, REMOTELY, share) == share


def test_a_software_set_cannot_be_broken() -> None:
    """IVssBackupComponents::BreakSnapshotSet: only for shadow copies of a hardware provider;
    one of a software provider is VSS_E_PROVIDER_VETO; an unknown set VSS_E_OBJECT_NOT_FOUND."""
    world = small_world(0, workload=False)
    _, set_id, _ = make_set(world, Context.NAS_ROLLBACK)
    mgr = manager(world, Context.NAS_ROLLBACK)
    refused(world, HResult.VSS_E_PROVIDER_VETO, mgr.break_snapshot_set, set_id)
    refused(
        world, HResult.VSS_E_OBJECT_NOT_FOUND, mgr.break_snapshot_set, mgr.coordinator.new_id("x")
    )
    refused(world, HResult.VSS_E_PROVIDER_VETO, mgr.break_snapshot_set_ex, set_id, 0)


def test_breaking_a_hardware_set_makes_vss_forget_it_and_the_array_keep_the_ldev() -> None:
    """IVssBackupComponents::BreakSnapshotSet and "Breaking Shadow Copies": the set is
    "forgotten" by VSS and its copies are volumes of their own, managed outside VSS (here: the
    replica LDEV leaves the rotation, so the next backup of the volume finds none free)."""
    world = small_world(0, workload=False, array=True)
    _, set_id, ids = make_set(world, Context.NAS_ROLLBACK, ("D:\\",))
    mgr = manager(world, Context.NAS_ROLLBACK)
    mgr.break_snapshot_set(set_id)
    assert mgr.query() == [] and ids[0] not in world.coordinator.snapshots
    (record,) = [r for r in world.sim.trace if r.action == V.BREAK_SNAPSHOT_SET]
    assert record.details["snapshots"] == [str(ids[0])] and record.details["read_write"] is False
    assert world.xp_provider().array.pairs_of(world.xp_provider().array.ldev("01:10")) == []
    refused(world, HResult.VSS_E_OBJECT_NOT_FOUND, mgr.break_snapshot_set, set_id)
    bc = world.coordinator.create_backup_components("next")
    bc.initialize_for_backup()
    bc.set_context(Context.NAS_ROLLBACK)
    bc.start_snapshot_set()
    bc.add_to_snapshot_set("D:\\")
    with pytest.raises(VssError) as no_replica:
        world.sim.run(until=bc.do_snapshot_set())
    assert no_replica.value.hresult == HResult.VSS_E_PROVIDER_VETO


def test_break_snapshot_set_ex_takes_its_flags_and_refuses_a_revert_of_identities() -> None:
    """IVssBackupComponentsEx2::BreakSnapshotSetEx and VSS_HARDWARE_OPTIONS: MAKE_READ_WRITE
    exposes the LUNs read-write; REVERT_IDENTITY_ALL fails with VSS_E_BREAK_REVERT_ID_FAILED
    when the original LUNs are on the system (in vsssim they always are), reverting none;
    other bits, or contradicting ones, are E_INVALIDARG (assumed)."""
    world = small_world(0, workload=False, array=True)
    _, set_id, _ = make_set(world, Context.NAS_ROLLBACK, ("D:\\",))
    mgr = manager(world, Context.NAS_ROLLBACK)
    revert = _H.BREAKEX_FLAG_REVERT_IDENTITY_ALL
    refused(world, HResult.VSS_E_BREAK_REVERT_ID_FAILED, mgr.break_snapshot_set_ex, set_id, revert)
    refused(world, HResult.E_INVALIDARG, mgr.break_snapshot_set_ex, set_id, 0x100)
    both = _H.BREAKEX_FLAG_MASK_LUNS | _H.BREAKEX_FLAG_MAKE_READ_WRITE
    refused(world, HResult.E_INVALIDARG, mgr.break_snapshot_set_ex, set_id, both)
    flags = _H.BREAKEX_FLAG_MAKE_READ_WRITE | _H.BREAKEX_FLAG_REVERT_IDENTITY_NONE
    world.sim.run(until=mgr.break_snapshot_set_ex(set_id, flags))
    (record,) = [r for r in world.sim.trace if r.action == V.BREAK_SNAPSHOT_SET]
    assert record.details["read_write"] is True and record.details["flags"] == [
        "VSS_BREAKEX_FLAG_MAKE_READ_WRITE",
        "VSS_BREAKEX_FLAG_REVERT_IDENTITY_NONE",
    ]
    assert world.coordinator.snapshots == {}


def test_revert_needs_a_persistent_copy_and_a_volume_that_can_be_locked() -> None:
    """IVssBackupComponents::RevertToSnapshot: only shadow copies of persistent contexts
    (VSS_E_UNSUPPORTED_CONTEXT); VSS_E_OBJECT_NOT_FOUND for no copy; VSS_E_VOLUME_IN_USE when
    the volume cannot be locked (here: a set being created holds it)."""
    world = small_world(0, workload=False)
    _, _, temporary = make_set(world, Context.FILE_SHARE_BACKUP, ("S:\\",), "temporary")
    _, _, kept = make_set(world, Context.NAS_ROLLBACK, ("D:\\",), "kept")
    mgr = manager(world, Context.ALL)
    refused(world, HResult.VSS_E_UNSUPPORTED_CONTEXT, mgr.revert_to_snapshot, temporary[0], False)
    refused(
        world,
        HResult.VSS_E_OBJECT_NOT_FOUND,
        mgr.revert_to_snapshot,
        mgr.coordinator.new_id("x"),
        True,
    )
    busy = manager(world, Context.NAS_ROLLBACK, "busy")
    busy.start_snapshot_set()
    busy.add_to_snapshot_set("D:\\")
    refused(world, HResult.VSS_E_VOLUME_IN_USE, mgr.revert_to_snapshot, kept[0], True)


def test_the_system_provider_reverts_a_persistent_copy_onto_its_volume() -> None:
    """IVssSoftwareSnapshotProvider::RevertToSnapshot and IVssBackupComponents::RevertToSnapshot:
    the volume is put back as the persistent shadow copy holds it; the copy still reads the
    same."""
    world = small_world(0, workload=False)
    _, _, ids = make_set(world, Context.NAS_ROLLBACK, ("D:\\",))
    snapshot = world.coordinator.snapshots[ids[0]]
    volume = snapshot.volume
    blocks = range(volume.block_count)
    image = snapshot.read_range(blocks)
    file = world.namespace.file("D:\\Data\\Db.mdf")
    world.namespace.write_file("D:\\Data\\Db.mdf", 0, b"after the copy", "user")
    world.namespace.write_file("D:\\Data\\Db.mdf", 9, b"grown", "user")
    assert volume.read(file.block_address(0)) == b"after the copy"
    manager(world, Context.NAS_ROLLBACK).revert_to_snapshot(ids[0], False)
    assert {b: d for b in volume.written_blocks(blocks) if (d := volume.read(b))} == image
    assert snapshot.read_range(blocks) == image
    (record,) = [r for r in world.sim.trace if r.action == V.REVERT_TO_SNAPSHOT]
    assert record.details["volume"] == volume.label and record.details["force_dismount"] is False


def test_the_xp_provider_reverts_a_replica_by_a_reverse_resync_one_at_a_time() -> None:
    """IVssBackupComponents::RevertToSnapshot: VSS_E_REVERT_IN_PROGRESS while the volume is
    still being reverted. The XP provider reverts a resync-mode replica by a reverse resync
    (COPY(RS-R), then PAIR) onto the P-VOL (vsssim's reading of the product: its instant
    recovery, per volume)."""
    world = small_world(0, workload=False, array=True)
    _, _, ids = make_set(world, Context.NAS_ROLLBACK, ("D:\\",))
    snapshot = world.coordinator.snapshots[ids[0]]
    volume = snapshot.volume
    blocks = range(volume.block_count)
    image = snapshot.read_range(blocks)
    world.namespace.write_file("D:\\Data\\Db.mdf", 1, b"changed later", "user")
    mgr = manager(world, Context.NAS_ROLLBACK)
    mgr.revert_to_snapshot(ids[0], True)
    array = world.xp_provider().array
    (pair,) = array.pairs_of(array.ldev("01:10"))
    assert pair.state is PairState.COPY_RS_R
    refused(world, HResult.VSS_E_REVERT_IN_PROGRESS, mgr.revert_to_snapshot, ids[0], True)
    world.sim.run()
    assert pair.state is PairState.PAIR
    assert {b: d for b in volume.written_blocks(blocks) if (d := volume.read(b))} == image
