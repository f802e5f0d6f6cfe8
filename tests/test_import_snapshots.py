"""Transportable shadow copy sets and ImportSnapshots, each test after the Microsoft Learn page
it follows ("Importing Transportable Shadow Copied Volumes", IVssBackupComponents::
ImportSnapshots, InitializeForBackup, BreakSnapshotSet): a refused call changes nothing."""

from __future__ import annotations

import uuid

import attrs
import pytest

from tests.rpc_client import Client, RpcFailed
from vsssim import BackupComponents, Context, HResult, VssError, World
from vsssim.sim import vocabulary as V
from vsssim.vss.constants import SnapshotAttr
from vsssim.vss.documents.backup_document import (
    BackupComponentsDocument,
    SnapshotDescription,
    document_from_xml,
    document_to_xml,
)
from vsssim.vss.states import SessionState

from .conftest import small_world
from .management_helpers import make_set, observe, refused

TRANSPORTABLE = SnapshotAttr.TRANSPORTABLE


def _transportable_set(world: World) -> tuple[BackupComponents, uuid.UUID, uuid.UUID, str]:
    """A writerless transportable set of the XP volume D: made by one object, its document
    saved with SaveAsXML, the object released (the copy stays on the array)."""
    creator = world.coordinator.create_backup_components("creator")
    creator.initialize_for_backup()
    creator.set_context(Context.NAS_ROLLBACK | TRANSPORTABLE)
    set_id = creator.start_snapshot_set()
    snapshot_id = creator.add_to_snapshot_set("D:\\")
    world.sim.run(until=creator.do_snapshot_set())
    xml = creator.save_as_xml()
    world.sim.run(until=creator.release())
    return creator, set_id, snapshot_id, xml


def _importer(
    world: World, document: object, requester: str = "backup server", context: Context | None = None
) -> BackupComponents:
    """An object initialized with ``document``, in ``context`` (the copies' own, to see them)."""
    bc = world.coordinator.create_backup_components(requester)
    bc.initialize_for_backup(document)  # type: ignore[arg-type]
    if context is not None:
        bc.set_context(context)
    return bc


def test_a_transportable_set_is_imported_from_the_document_its_creator_saved() -> None:
    """ "Importing Transportable Shadow Copied Volumes": the creator adds
    VSS_VOLSNAP_ATTR_TRANSPORTABLE to its context and saves the Backup Components Document
    (SaveAsXML, with the set's SNAPSHOT_SET_DESCRIPTION); the importer passes that document to
    InitializeForBackup and calls ImportSnapshots, whose IVssAsync ends VSS_S_ASYNC_FINISHED.
    The imported copy carries VSS_VOLSNAP_ATTR_IMPORTED (VSS_VOLUME_SNAPSHOT_ATTRIBUTES). The
    creator's Release does not delete a transportable copy: it waits for its import."""
    world = small_world(0, workload=False, array=True)
    _, set_id, snapshot_id, xml = _transportable_set(world)
    assert "<SNAPSHOT_SET_DESCRIPTION" in xml and str(snapshot_id) in xml
    (described,) = document_from_xml(xml).snapshots
    assert described.snapshot_id == snapshot_id and described.transportable
    assert snapshot_id in world.coordinator.snapshots  # survived the creator's Release
    importer = _importer(world, xml, context=Context.NAS_ROLLBACK)
    call = importer.import_snapshots()
    assert call.wait() == HResult.S_OK
    assert call.query_status() == (HResult.S_OK, HResult.VSS_S_ASYNC_FINISHED)
    assert call.value.imported == (snapshot_id,) and call.value.not_imported == ()
    importer_view = importer.get_snapshot_properties(snapshot_id)
    assert importer_view.attributes & SnapshotAttr.IMPORTED
    assert importer_view.attributes & TRANSPORTABLE
    (done,) = [r for r in world.sim.trace if r.action == V.IMPORT_SNAPSHOTS_COMPLETE]
    assert done.details["imported"] == [str(snapshot_id)] and done.details["set_id"] == str(set_id)


def test_the_document_may_be_given_as_a_value_or_as_utf16_bytes() -> None:
    """IVssBackupComponents::InitializeForBackup: bstrXML is "the original document generated
    when creating the saved shadow copy"; vsssim takes it as the value too, and as the bytes a
    Windows tool saves (UTF-16 with a byte order mark)."""
    for form in ("value", "bytes"):
        world = small_world(0, workload=False, array=True)
        _, _, snapshot_id, xml = _transportable_set(world)
        document = document_from_xml(xml) if form == "value" else xml.encode("utf-16")
        call = _importer(world, document).import_snapshots()
        assert call.wait() == HResult.S_OK, form
        assert world.coordinator.snapshots[snapshot_id].attributes & SnapshotAttr.IMPORTED


def test_some_copies_not_imported_is_a_success_code_and_none_imported_a_failure() -> None:
    """IVssBackupComponents::ImportSnapshots' status through IVssAsync::QueryStatus: a copy the
    document describes that no longer exists is not imported, VSS_S_SOME_SNAPSHOTS_NOT_IMPORTED
    when others were; VSS_E_NO_SNAPSHOTS_IMPORTED when none were (a second import of the same
    set included: its copies are imported already)."""
    world = small_world(0, workload=False, array=True)
    _, _, snapshot_id, xml = _transportable_set(world)
    document = document_from_xml(xml)
    (described,) = document.snapshots
    gone = attrs.evolve(described, snapshot_id=uuid.UUID(int=7))
    padded = attrs.evolve(document, snapshots=(described, gone))
    call = _importer(world, padded).import_snapshots()
    assert call.wait() == HResult.S_OK
    assert call.query_status() == (HResult.S_OK, HResult.VSS_S_SOME_SNAPSHOTS_NOT_IMPORTED)
    assert call.value.imported == (snapshot_id,) and call.value.not_imported == (gone.snapshot_id,)
    again = _importer(world, xml, "second server").import_snapshots()
    assert again.wait() == HResult.VSS_E_NO_SNAPSHOTS_IMPORTED
    assert again.query_status() == (HResult.S_OK, HResult.VSS_E_NO_SNAPSHOTS_IMPORTED)
    assert "imported already" in str(again.value)


def test_import_snapshots_is_refused_out_of_sequence_or_for_a_nontransportable_set() -> None:
    """IVssBackupComponents::ImportSnapshots: VSS_E_BAD_STATE when "this method has not been
    called within the correct sequence" (no document given to InitializeForBackup, or after
    GatherWriterMetadata) or during a restore; a document of a set that is not transportable
    is VSS_E_NONTRANSPORTABLE_BCD (assumed: the code's name; the page lists none for it)."""
    world = small_world(0, workload=False, array=True)
    plain, _, _ = make_set(world, Context.NAS_ROLLBACK, ("L:\\",), requester="plain")
    plain_xml = plain.save_as_xml()
    assert "SNAPSHOT_SET_DESCRIPTION" not in plain_xml
    _, _, _, xml = _transportable_set(world)
    no_document = _importer(world, None)
    refused(world, HResult.VSS_E_BAD_STATE, no_document.import_snapshots)
    refused(world, HResult.VSS_E_NONTRANSPORTABLE_BCD, _importer(world, plain_xml).import_snapshots)
    late = _importer(world, xml, "late")
    late.set_context(Context.BACKUP)
    world.sim.run(until=late.gather_writer_metadata())
    refused(world, HResult.VSS_E_BAD_STATE, late.import_snapshots)
    restoring = world.coordinator.create_backup_components("restorer")
    restoring.initialize_for_restore(xml)
    refused(world, HResult.VSS_E_BAD_STATE, restoring.import_snapshots)


def test_initialize_for_backup_refuses_a_bad_document_and_stays_uninitialized() -> None:
    """IVssBackupComponents::InitializeForBackup: VSS_E_INVALID_XML_DOCUMENT for a document that
    is not valid (vsssim: VSS_E_CORRUPT_XML_DOCUMENT for text that is no XML at all); anything
    but a document is E_INVALIDARG. The object is left as it was: not initialized."""
    world = small_world(0, workload=False, array=True)
    bc = world.coordinator.create_backup_components("careless")
    for bad, code in (
        ("<BACKUP_COMPONENTS", HResult.VSS_E_CORRUPT_XML_DOCUMENT),
        ("<WRITER_METADATA/>", HResult.VSS_E_INVALID_XML_DOCUMENT),
        (42, HResult.E_INVALIDARG),
        ("", HResult.E_INVALIDARG),
    ):
        refused(world, code, bc.initialize_for_backup, bad)
        assert bc.state is SessionState.CREATED and bc.transported_document is None


def test_the_system_provider_makes_no_transportable_copies() -> None:
    """IVssBackupComponents::ImportSnapshots: "supported only ... for Volume Shadow Copy Service
    hardware providers"; AddToSnapshotSet: VSS_E_VOLUME_NOT_SUPPORTED when no provider supports
    the volume (GUID_NULL), VSS_E_VOLUME_NOT_SUPPORTED_BY_PROVIDER when the named one does not.
    vsssim takes the system provider's refusal of TRANSPORTABLE to be so (assumed)."""
    world = small_world(0, workload=False)
    bc = world.coordinator.create_backup_components("sample")
    bc.initialize_for_backup()
    bc.set_context(Context.NAS_ROLLBACK | TRANSPORTABLE)
    bc.start_snapshot_set()
    system = world.coordinator.providers[-1].provider_id
    refused(world, HResult.VSS_E_VOLUME_NOT_SUPPORTED, bc.add_to_snapshot_set, "D:\\")
    refused(
        world,
        HResult.VSS_E_VOLUME_NOT_SUPPORTED_BY_PROVIDER,
        bc.add_to_snapshot_set,
        "D:\\",
        system,
    )


def test_a_transportable_set_is_broken_only_once_imported() -> None:
    """ "Importing Transportable Shadow Copied Volumes" and IVssBackupComponents::
    BreakSnapshotSet: a transportable set is used on the importing host, so it must be
    imported before it is broken; before, vsssim refuses with VSS_E_BAD_STATE (assumed: no
    page names a code)."""
    world = small_world(0, workload=False, array=True)
    _, set_id, snapshot_id, xml = _transportable_set(world)
    importer = _importer(world, xml, context=Context.NAS_ROLLBACK)
    refused(world, HResult.VSS_E_BAD_STATE, importer.break_snapshot_set, set_id)
    assert importer.import_snapshots().wait() == HResult.S_OK
    importer.break_snapshot_set(set_id)
    assert snapshot_id not in world.coordinator.snapshots


def test_the_set_description_round_trips_and_bad_descriptions_are_refused() -> None:
    """The SNAPSHOT_SET_DESCRIPTION element of the Backup Components Document: written for a
    transportable set and read back to an equal value; a hardware provider's LUN_MAPPING below
    a copy is accepted and skipped; attributes that are no VSS_VOLSNAP_ATTR_* bits, a copy
    listed twice or a description of another set are VSS_E_INVALID_XML_DOCUMENT."""
    set_id = uuid.UUID(int=1)
    copy = SnapshotDescription(uuid.UUID(int=2), uuid.UUID(int=3), "D:\\", TRANSPORTABLE)
    document = BackupComponentsDocument(snapshot_set_id=set_id, snapshots=(copy,))
    xml = document_to_xml(document)
    assert document_from_xml(xml) == document
    lun = xml.replace(
        'originalVolumeName="D:\\"/>',
        'originalVolumeName="D:\\"><LUN_MAPPING/></SNAPSHOT_DESCRIPTION>',
    )
    assert lun != xml and document_from_xml(lun) == document
    for bad in (
        xml.replace('attributes="32"', 'attributes="4294967296"'),
        xml.replace('attributes="32"', 'attributes="x"'),
        xml.replace(
            f'snapshotSetId="{set_id}" context', f'snapshotSetId="{uuid.UUID(int=9)}" context'
        ),
        document_to_xml(attrs.evolve(document, snapshots=(copy, copy))),
    ):
        assert bad != xml
        with pytest.raises(VssError) as caught:
            document_from_xml(bad)
        assert caught.value.hresult == HResult.VSS_E_INVALID_XML_DOCUMENT, bad


def test_import_snapshots_over_json_rpc() -> None:
    """ImportSnapshots over JSON-RPC: InitializeForBackup takes the creator's document as its
    xml parameter, ImportSnapshots returns an IVssAsync; a second import is
    VSS_E_NO_SNAPSHOTS_IMPORTED and a document-less one VSS_E_BAD_STATE."""
    world = small_world(0, workload=False, array=True)
    _, _, snapshot_id, xml = _transportable_set(world)
    client = Client(world=world)
    bc = client.call("CreateVssBackupComponents")["object"]
    client.call("InitializeForBackup", object=bc, xml=xml)
    assert client.wait(client.call("ImportSnapshots", object=bc)) == "VSS_S_ASYNC_FINISHED"
    client.call("SetContext", object=bc, context="VSS_CTX_NAS_ROLLBACK")
    (copy,) = client.call("Query", object=bc)["objects"]
    assert copy["snapshot_id"] == str(snapshot_id)
    empty = client.call("CreateVssBackupComponents")["object"]
    client.call("InitializeForBackup", object=empty)
    before = observe(world)
    with pytest.raises(RpcFailed) as caught:
        client.call("ImportSnapshots", object=empty)
    assert caught.value.name == "VSS_E_BAD_STATE"
    assert observe(world)[0] == before[0]
