"""Two instances of one writer class (as Exchange runs a store writer and a replica writer
under one class id): IVssBackupComponents::AddComponent, SetBackupSucceeded and the restore
calls take the writer instance id beside the class id, so each instance's components are
selected, reported and restored apart; naming the class alone is ambiguous then.

Pages followed: "IVssBackupComponents::AddComponent" (instanceId, writerId), "IVssBackupComponents::
SetBackupSucceeded", "IVssBackupComponentsEx::SetSelectedForRestoreEx" (instanceId),
"IVssCreateWriterMetadata::AddComponentDependency" (a dependency names the class only).
"""

from __future__ import annotations

import uuid
from typing import ClassVar

import pytest

from vsssim import (
    AgentOptions,
    BackupComponents,
    BackupType,
    Component,
    ComponentKey,
    EventContext,
    FileDescriptor,
    HResult,
    Outcome,
    VssError,
    World,
    Writer,
    WriterMetadata,
)
from vsssim.requesters.archive import BackupArchive
from vsssim.sim import vocabulary as V
from vsssim.sim.kernel import ProcessGenerator
from vsssim.testing.invariants import check_all
from vsssim.vss.documents.backup_document import document_from_xml
from vsssim.vss.states import SessionState

MAIL_ID = uuid.UUID("5e5e5e5e-1111-4222-8333-944444444444")
STORE = uuid.UUID(int=0x51)
REPLICA = uuid.UUID(int=0x52)
FILES = {STORE: "D:\\Store\\mail.edb", REPLICA: "E:\\Replica\\mail.edb"}


def _metadata(instance: uuid.UUID) -> WriterMetadata:
    folder = FILES[instance].rpartition("\\")[0]
    return WriterMetadata(
        MAIL_ID,
        instance,
        "MailWriter",
        components=(Component("Mailbox", logical_path="Db", files=(FileDescriptor(folder, "*"),)),),
    )


class _Noting(Writer):
    """Notes the instances that got OnPrepareBackup."""

    prepared: ClassVar[list[uuid.UUID]] = []

    def on_prepare_backup(self, ctx: EventContext) -> ProcessGenerator:
        self.prepared.append(self.instance_id)
        yield from super().on_prepare_backup(ctx)


def _world() -> World:
    _Noting.prepared = []
    world = World.create(5)
    world.add_volume("D:\\", "D:", 1024**3)
    world.add_volume("E:\\", "E:", 1024**3)
    for instance, path in FILES.items():
        world.add_file(path, 8, initial_blocks=3)
        world.add_writer(_Noting(_metadata(instance)))
    return world


def _gathered(world: World) -> BackupComponents:
    bc = world.coordinator.create_backup_components("requester")
    bc.initialize_for_backup()
    bc.set_backup_state(True, False, BackupType.FULL)
    world.sim.run(until=bc.gather_writer_metadata())
    return bc


def test_naming_the_class_alone_is_ambiguous_and_changes_nothing() -> None:
    world = _world()
    bc = _gathered(world)
    records = len(world.sim.trace)
    with pytest.raises(VssError) as ambiguous:
        bc.add_component(MAIL_ID, "Db", "Mailbox")
    assert ambiguous.value.hresult == HResult.E_INVALIDARG
    assert "2 instances of writer MailWriter" in ambiguous.value.message
    assert "instance_id" in ambiguous.value.message
    with pytest.raises(VssError) as unknown:
        bc.add_component(MAIL_ID, "Db", "Mailbox", instance_id=uuid.UUID(int=0x99))
    assert unknown.value.hresult == HResult.VSS_E_OBJECT_NOT_FOUND
    assert bc.selected == [] and bc.state is SessionState.METADATA_GATHERED
    assert len(world.sim.trace) == records


def test_each_instance_is_selected_reported_and_documented_apart() -> None:
    world = _world()
    bc = _gathered(world)
    bc.add_component(MAIL_ID, "Db", "Mailbox", instance_id=REPLICA)
    replica = ComponentKey(MAIL_ID, "Db", "Mailbox", REPLICA)
    store = ComponentKey(MAIL_ID, "Db", "Mailbox", STORE)
    assert bc.selected == [replica]
    assert bc.is_selected(replica) and not bc.is_selected(store)
    assert bc.is_selected(replica.any_instance)  # a key of no instance: of whichever
    with pytest.raises(VssError) as again:
        bc.add_component(MAIL_ID, "Db", "Mailbox", instance_id=REPLICA)
    assert again.value.hresult == HResult.VSS_E_OBJECT_ALREADY_EXISTS
    bc.add_component(MAIL_ID, "Db", "Mailbox", instance_id=STORE)  # the same component, apart
    assert bc.selected == [replica, store]
    bc.start_snapshot_set()
    bc.add_to_snapshot_set("D:\\")
    bc.add_to_snapshot_set("E:\\")
    world.sim.run(until=bc.prepare_for_backup())
    world.sim.run(until=bc.do_snapshot_set())
    bc.set_backup_succeeded(MAIL_ID, "Db", "Mailbox", True, instance_id=STORE)
    bc.set_backup_succeeded(MAIL_ID, "Db", "Mailbox", False, instance_id=REPLICA)
    assert bc.succeeded == {store: True, replica: False}
    document = document_from_xml(bc.save_as_xml())
    assert {(c.writer_instance_id, c.backup_succeeded) for c in document.components} == {
        (STORE, True),
        (REPLICA, False),
    }
    assert document.component(MAIL_ID, "Db", "Mailbox", REPLICA).backup_succeeded is False


def test_only_the_selected_instance_takes_part() -> None:
    """The agent selects by instance id; PrepareForBackup goes to that instance only."""
    world = _world()
    agent = world.add_agent("agent", [f"{REPLICA}:Db\\Mailbox"], AgentOptions())
    world.start([(agent, 0)])
    world.sim.run()
    result = agent.result
    assert result is not None and result.outcome is Outcome.SUCCEEDED, result
    assert [f.path for f in result.files] == [FILES[REPLICA]]
    assert result.volumes == ("E:",)
    [prepare] = world.sim.trace.find(V.PREPARE_FOR_BACKUP)
    assert prepare.details["writers"] == ["MailWriter"]
    assert _Noting.prepared == [REPLICA]  # told apart by instance: both are "MailWriter"
    assert result.document is not None
    [component] = result.document.components
    assert component.writer_instance_id == REPLICA and component.backup_succeeded
    assert {name: v for name, v in check_all(world).items() if v} == {}


def test_a_restore_puts_each_instances_files_back_to_that_instance() -> None:
    world = _world()
    agent = world.add_agent(
        "agent", [f"{STORE}:Db\\Mailbox", f"{REPLICA}:Db\\Mailbox"], AgentOptions()
    )
    world.start([(agent, 0)])
    world.sim.run()
    assert agent.result is not None and agent.result.outcome is Outcome.SUCCEEDED
    archive = BackupArchive.of(agent.result)
    for path in FILES.values():
        world.delete_file(path, "user")
    result = world.restore(archive)
    assert result.outcome is Outcome.SUCCEEDED, result
    assert {f.target for f in result.files} == set(FILES.values())
    selected = [r for r in world.sim.trace if r.action == V.SET_FILE_RESTORE_STATUS]
    assert len(selected) == 2
    for path in FILES.values():
        assert world.namespace.file(path).content()
