"""AddComponent with the writer identity the IVssBackupComponents::AddComponent page gives it
(instanceId, writerId, ct, wszLogicalPath, wszComponentName): the instance id and the component
type, given as keywords, are checked; a refused call changes nothing."""

from __future__ import annotations

import uuid

import pytest

from vsssim import BackupComponents, HResult, VssError, World
from vsssim.vss.constants import BackupType, ComponentType
from vsssim.vss.states import SessionState

from .conftest import DB_WRITER_ID, small_world


def _gathered(world: World) -> BackupComponents:
    bc = world.coordinator.create_backup_components("requester")
    bc.initialize_for_backup()
    world.sim.run(until=bc.gather_writer_metadata())
    return bc


def test_the_vss_identity_selects_the_component() -> None:
    """IVssBackupComponents::AddComponent page: instanceId, writerId, ct, logical path, name."""
    world = small_world(1, workload=False)
    bc = _gathered(world)
    [metadata] = bc.writer_metadata
    bc.add_component(
        DB_WRITER_ID,
        "Inst",
        "Db",
        instance_id=metadata.writer_instance_id,
        component_type=ComponentType.FILEGROUP,
    )
    assert [k.name for k in bc.selected] == ["Db"]


@pytest.mark.parametrize(
    ("keywords", "code"),
    [
        ({"instance_id": uuid.UUID(int=7)}, HResult.VSS_E_OBJECT_NOT_FOUND),
        ({"instance_id": "not a guid"}, HResult.E_INVALIDARG),
        ({"component_type": ComponentType.DATABASE}, HResult.E_INVALIDARG),
        ({"component_type": ComponentType.UNDEFINED}, HResult.E_INVALIDARG),
        ({"component_type": 9}, HResult.E_INVALIDARG),
    ],
)
def test_a_wrong_identity_is_refused_and_changes_nothing(
    keywords: dict[str, object], code: HResult
) -> None:
    """IVssBackupComponents::AddComponent page: E_INVALIDARG for a bad parameter (a component
    type that is not the component's), VSS_E_OBJECT_NOT_FOUND for a writer instance that did not
    answer GatherWriterMetadata."""
    world = small_world(1, workload=False)
    bc = _gathered(world)
    records = len(world.sim.trace)
    with pytest.raises(VssError) as refused:
        bc.add_component(DB_WRITER_ID, "Inst", "Db", **keywords)  # type: ignore[arg-type]
    assert refused.value.hresult is code
    assert bc.selected == [] and bc.state is SessionState.METADATA_GATHERED
    assert len(world.sim.trace) == records


def _created(world: World) -> BackupComponents:
    """A component-mode backup of TestDbWriter's Db up to a finished DoSnapshotSet."""
    bc = world.coordinator.create_backup_components("requester")
    bc.initialize_for_backup()
    bc.set_backup_state(True, False, BackupType.FULL)
    world.sim.run(until=bc.gather_writer_metadata())
    bc.add_component(DB_WRITER_ID, "Inst", "Db")
    bc.start_snapshot_set()
    bc.add_to_snapshot_set("D:\\")
    bc.add_to_snapshot_set("L:\\")
    world.sim.run(until=bc.prepare_for_backup())
    world.sim.run(until=bc.do_snapshot_set())
    return bc


def test_set_backup_succeeded_checks_the_identity_as_add_component_does() -> None:
    """IVssBackupComponents::SetBackupSucceeded page: instanceId, writerId, ct, logical path,
    name, as AddComponent takes them; a wrong one is refused and nothing is noted."""
    world = small_world(1, workload=False)
    bc = _created(world)
    [metadata] = bc.writer_metadata
    for keywords, code in (
        ({"instance_id": uuid.UUID(int=7)}, HResult.VSS_E_OBJECT_NOT_FOUND),
        ({"component_type": ComponentType.DATABASE}, HResult.E_INVALIDARG),
    ):
        with pytest.raises(VssError) as refused:
            bc.set_backup_succeeded(DB_WRITER_ID, "Inst", "Db", True, **keywords)  # type: ignore[arg-type]
        assert refused.value.hresult is code
        assert not bc.succeeded
    bc.set_backup_succeeded(
        DB_WRITER_ID,
        "Inst",
        "Db",
        True,
        instance_id=metadata.writer_instance_id,
        component_type=ComponentType.FILEGROUP,
    )
    assert list(bc.succeeded.values()) == [True]


def test_set_selected_for_restore_checks_the_identity_as_add_component_does() -> None:
    """IVssBackupComponents::SetSelectedForRestore page: the same identity; a wrong one is
    refused and selects nothing."""
    world = small_world(1, workload=False)
    backup = _created(world)
    backup.set_backup_succeeded(DB_WRITER_ID, "Inst", "Db", True)
    world.sim.run(until=backup.backup_complete())
    document = backup.save_as_xml()
    bc = world.coordinator.create_backup_components("restorer")
    bc.initialize_for_restore(document)
    world.sim.run(until=bc.gather_writer_metadata())
    [metadata] = bc.writer_metadata
    for keywords, code in (
        ({"instance_id": uuid.UUID(int=7)}, HResult.VSS_E_OBJECT_NOT_FOUND),
        ({"component_type": ComponentType.DATABASE}, HResult.E_INVALIDARG),
    ):
        with pytest.raises(VssError) as refused:
            bc.set_selected_for_restore(DB_WRITER_ID, "Inst", "Db", **keywords)  # type: ignore[arg-type]
        assert refused.value.hresult is code
        assert not bc.selected
    bc.set_selected_for_restore(DB_WRITER_ID, "Inst", "Db", instance_id=metadata.writer_instance_id)
    assert [k.name for k in bc.selected] == ["Db"]
