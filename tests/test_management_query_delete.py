"""Query, GetSnapshotProperties and DeleteSnapshots from any backup components object, each test
after the Microsoft Learn page it follows: an object sees the copies of its own context (or all,
in VSS_CTX_ALL), whichever object made them; a refused call changes nothing."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vsssim import Context, HResult, VssError
from vsssim.errors import DeleteSnapshotsError
from vsssim.sim import vocabulary as V
from vsssim.vss.constants import ObjectType, SnapshotState
from vsssim.vss.coordinator.management import ProviderProperties

from .conftest import small_world
from .management_helpers import make_set, manager, observe, refused


def test_query_lists_the_copies_of_the_callers_context_made_by_another_object() -> None:
    """IVssBackupComponents::Query: the completed shadow copies "that reside in the current
    context"; VSS_CTX_ALL sees every context; eReturnedObjectsType VSS_OBJECT_PROVIDER lists
    the providers."""
    world = small_world(0, workload=False)
    creator, set_id, ids = make_set(world, Context.NAS_ROLLBACK)
    world.sim.run(until=creator.release())  # persistent copies outlive their object
    other_set = make_set(world, Context.FILE_SHARE_BACKUP, ("S:\\",), "other")[1]
    same = manager(world, Context.NAS_ROLLBACK)
    found = same.query()
    assert [p.snapshot_id for p in found] == ids
    assert all(p.state == SnapshotState.CREATED and p.snapshot_set_id == set_id for p in found)
    assert {p.snapshot_id for p in manager(world, Context.ALL, "all").query()} >= set(ids)
    assert [p.snapshot_set_id for p in manager(world, Context.FILE_SHARE_BACKUP, "fs").query()] == [
        other_set
    ]
    assert same.query(snapshot_set_id=other_set) == []
    providers = same.query(ObjectType.PROVIDER)
    assert all(isinstance(p, ProviderProperties) for p in providers)
    assert [p.provider_id for p in providers] == [
        p.provider_id for p in world.coordinator.providers
    ]
    queries = [r for r in world.sim.trace if r.action == V.QUERY]
    assert [r.details["found"] for r in queries[-2:]] == [0, len(providers)]


def test_query_refuses_other_types_and_objects_not_initialized_for_backup() -> None:
    """IVssBackupComponents::Query: eReturnedObjectsType must be VSS_OBJECT_SNAPSHOT or
    VSS_OBJECT_PROVIDER (E_INVALIDARG); the object must be initialized for backup, and not in a
    restore (VSS_E_BAD_STATE)."""
    world = small_world(0, workload=False)
    make_set(world, Context.NAS_ROLLBACK)
    mgr = manager(world, Context.NAS_ROLLBACK)
    refused(world, HResult.E_INVALIDARG, mgr.query, ObjectType.SNAPSHOT_SET)
    fresh = world.coordinator.create_backup_components("fresh")
    refused(world, HResult.VSS_E_BAD_STATE, fresh.query)
    refused(world, HResult.VSS_E_BAD_STATE, fresh.delete_snapshots, uuid.uuid4())


def test_get_snapshot_properties_of_another_objects_copy_in_the_same_context() -> None:
    """IVssBackupComponents::GetSnapshotProperties: the VSS_SNAPSHOT_PROP of a shadow copy;
    VSS_E_OBJECT_NOT_FOUND for one the caller's context does not hold."""
    world = small_world(0, workload=False)
    creator, set_id, ids = make_set(world, Context.NAS_ROLLBACK)
    props = manager(world, Context.NAS_ROLLBACK).get_snapshot_properties(ids[0])
    assert props == creator.get_snapshot_properties(ids[0])
    assert props.snapshot_set_id == set_id and props.snapshots_count == 2
    assert props.exposed_name is None
    backup = manager(world, Context.BACKUP, "backup")
    refused(world, HResult.VSS_E_OBJECT_NOT_FOUND, backup.get_snapshot_properties, ids[0])
    refused(world, HResult.VSS_E_OBJECT_NOT_FOUND, backup.get_snapshot_properties, uuid.uuid4())


def test_auto_release_copies_die_with_the_object_that_made_them() -> None:
    """IVssBackupComponents::DeleteSnapshots (remarks): during a backup, shadow copies are
    released as soon as the IVssBackupComponents instance is released; until then another
    object of the context sees them."""
    world = small_world(0, workload=False)
    creator, set_id, ids = make_set(world, Context.FILE_SHARE_BACKUP)
    mgr = manager(world, Context.FILE_SHARE_BACKUP)
    assert [p.snapshot_id for p in mgr.query()] == ids
    world.sim.run(until=creator.release())
    assert mgr.query() == []
    refused(world, HResult.VSS_E_OBJECT_NOT_FOUND, mgr.delete_snapshots, set_id)


def test_delete_snapshots_by_shadow_copy_and_by_set_from_another_object() -> None:
    """IVssBackupComponents::DeleteSnapshots: VSS_OBJECT_SNAPSHOT deletes one copy,
    VSS_OBJECT_SNAPSHOT_SET every copy of the set; plDeletedSnapshots is the count;
    VSS_E_OBJECT_NOT_FOUND when the copy does not exist (here: not as the type named, or not in
    the caller's context); another type is E_INVALIDARG."""
    world = small_world(0, workload=False)
    creator, set_id, ids = make_set(world, Context.NAS_ROLLBACK)
    world.sim.run(until=creator.release())
    mgr = manager(world, Context.NAS_ROLLBACK)
    refused(world, HResult.E_INVALIDARG, mgr.delete_snapshots, set_id, ObjectType.PROVIDER)
    refused(
        world, HResult.VSS_E_OBJECT_NOT_FOUND, mgr.delete_snapshots, set_id, ObjectType.SNAPSHOT
    )
    refused(
        world, HResult.VSS_E_OBJECT_NOT_FOUND, mgr.delete_snapshots, ids[0], ObjectType.SNAPSHOT_SET
    )
    other = manager(world, Context.CLIENT_ACCESSIBLE, "other context")
    refused(world, HResult.VSS_E_OBJECT_NOT_FOUND, other.delete_snapshots, set_id)
    assert mgr.delete_snapshots(ids[0], ObjectType.SNAPSHOT) == 1
    assert [p.snapshot_id for p in mgr.query()] == ids[1:]
    assert mgr.delete_snapshots(set_id, ObjectType.SNAPSHOT_SET, force_delete=True) == 1
    assert mgr.query() == [] and world.coordinator.snapshots == {}
    last = [r for r in world.sim.trace if r.action == V.DELETE_SNAPSHOTS][-1]
    assert last.details == {"id": str(set_id), "deleted": 1, "force": True}


def test_delete_snapshots_stops_at_the_first_copy_a_provider_cannot_delete(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """IVssBackupComponents::DeleteSnapshots (remarks): the copies of a set are deleted in
    order; on an error the call returns at once, deletes no more, and pNondeletedSnapshotID
    names the copy that could not be deleted (VSS_E_PROVIDER_VETO, the provider's error)."""
    world = small_world(0, workload=False)
    _, set_id, ids = make_set(world, Context.NAS_ROLLBACK, ("D:\\", "L:\\", "S:\\"))
    provider = world.coordinator.software_provider
    delete = provider.delete_snapshot

    def refuse_the_second(snapshot: object) -> None:
        if getattr(snapshot, "snapshot_id", None) == ids[1]:
            raise VssError(HResult.VSS_E_PROVIDER_VETO, "the diff area is busy")
        delete(snapshot)  # type: ignore[arg-type]

    monkeypatch.setattr(provider, "delete_snapshot", refuse_the_second)
    mgr = manager(world, Context.NAS_ROLLBACK)
    with pytest.raises(DeleteSnapshotsError) as stopped:
        mgr.delete_snapshots(set_id, ObjectType.SNAPSHOT_SET)
    assert stopped.value.hresult == HResult.VSS_E_PROVIDER_VETO
    assert stopped.value.deleted == 1 and stopped.value.non_deleted_snapshot_id == ids[1]
    assert list(world.coordinator.snapshots) == ids[1:]
    last = [r for r in world.sim.trace if r.action == V.DELETE_SNAPSHOTS][-1]
    assert last.details["not_deleted"] == str(ids[1]) and last.details["deleted"] == 1


@settings(max_examples=25, deadline=None)
@given(
    kind=st.sampled_from([None, *ObjectType]),
    target=st.sampled_from(["snapshot", "set", "unknown"]),
    context=st.sampled_from([Context.NAS_ROLLBACK, Context.CLIENT_ACCESSIBLE, Context.ALL]),
)
def test_delete_snapshots_deletes_what_it_is_asked_or_changes_nothing(
    kind: ObjectType | None, target: str, context: Context
) -> None:
    """IVssBackupComponents::DeleteSnapshots: whatever the arguments, the call deletes exactly
    the copy or the set named (counting them) or refuses and leaves everything as it was."""
    world = small_world(0, workload=False)
    _, set_id, ids = make_set(world, Context.NAS_ROLLBACK)
    source = {"snapshot": ids[0], "set": set_id, "unknown": uuid.UUID(int=7)}[target]
    mgr = manager(world, context)
    before = observe(world)
    try:
        deleted = mgr.delete_snapshots(source, kind)
    except VssError:
        assert observe(world) == before
        return
    expected = [ids[0]] if target == "snapshot" else ids
    assert deleted == len(expected)
    assert not set(expected) & set(world.coordinator.snapshots)
    assert kind in (None, ObjectType.SNAPSHOT, ObjectType.SNAPSHOT_SET)
    assert context in (Context.NAS_ROLLBACK, Context.ALL)
