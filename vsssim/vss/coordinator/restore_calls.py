"""The restore calls of a backup components object (``IVssBackupComponents``): from
InitializeForRestore, which reads a stored Backup Components Document, to PostRestore.

:class:`~vsssim.vss.coordinator.restore_session.RestoreCalls` keeps the calls (and their
documentation) and hands each to the function of the same name here; the functions act on the
session as its methods would, knowing it as the
:class:`~vsssim.vss.coordinator.session_base.SessionBase` under them.
"""

from __future__ import annotations

import uuid

from vsssim.errors import HResult, VssError
from vsssim.sim import vocabulary as V
from vsssim.vss import _args
from vsssim.vss.constants import ComponentType, RestoreStatus
from vsssim.vss.coordinator import component_calls
from vsssim.vss.coordinator.session_base import SessionBase
from vsssim.vss.coordinator.vss_async import VssAsync
from vsssim.vss.documents.backup_document import (
    BackedUpComponent,
    BackupComponentsDocument,
    document_from_xml,
)
from vsssim.vss.metadata import ComponentKey, WriterMetadata

#: The largest Backup Components Document (XML) InitializeForRestore reads, in characters.
_MAX_DOCUMENT_CHARS = 64 * 1024 * 1024


def check_stored_document(document: object) -> None:
    """A stored Backup Components Document as the calls that take one accept it: the value,
    or its XML as text (bounded in length) or bytes (``E_INVALIDARG`` for anything else)."""
    if not isinstance(document, BackupComponentsDocument | bytes):
        _args.check_str("document", document, max_chars=_MAX_DOCUMENT_CHARS, empty=False)


def stored_document(document: BackupComponentsDocument | str | bytes) -> BackupComponentsDocument:
    """The document as a value, its XML parsed (``VSS_E_CORRUPT_XML_DOCUMENT``,
    ``VSS_E_INVALID_XML_DOCUMENT``)."""
    if isinstance(document, str | bytes):
        return document_from_xml(document)
    return document


def initialize_for_restore(
    session: SessionBase, document: BackupComponentsDocument | str | bytes
) -> None:
    """InitializeForRestore: read the document (its XML parsed) and start the restore."""
    check_stored_document(document)
    target = session._check("initialize_for_restore")
    document = stored_document(document)
    session.state = target
    session.restore_document = document
    session.backup_type = document.backup_type
    session._record(
        None,
        V.INITIALIZE_FOR_RESTORE,
        snapshot_set_id=str(document.snapshot_set_id) if document.snapshot_set_id else None,
        backup_type=document.backup_type,
        components=[c.full_path for c in document.components],
    )


def set_selected_for_restore(
    session: SessionBase,
    writer_class_id: uuid.UUID,
    logical_path: str,
    name: str,
    selected: bool = True,
    instance_id: uuid.UUID | None = None,
    component_type: ComponentType | int | None = None,
) -> None:
    """SetSelectedForRestore: select (or drop) a component of the document (the writer
    instance id and component type checked as AddComponent checks them, when given)."""
    session._check_component(writer_class_id, logical_path, name)
    _args.check_bool("selected", selected)
    target = session._check("set_selected_for_restore")
    assert session.restore_document is not None
    metadata, backed_up = _restore_target(session, writer_class_id, logical_path, name, instance_id)
    component = metadata.component(backed_up.logical_path, backed_up.name)
    component_calls.check_identity(metadata, component, instance_id, component_type)
    if selected and not component.selectable_for_restore:
        raise VssError(
            HResult.E_INVALIDARG,
            f"{metadata.writer_name}:{component.full_path}: the writer does not let the "
            "component be selected for restore",
        )
    key = metadata.key(component)
    session.state = target
    if selected != session.is_selected(key):
        session._select(key, selected)
    session._record(
        None,
        V.SET_SELECTED_FOR_RESTORE,
        writer=metadata.writer_name,
        component=key.full_path,
        selected=selected,
    )


def _restore_target(
    session: SessionBase,
    writer_class_id: uuid.UUID,
    logical_path: str,
    name: str,
    instance_id: object,
) -> tuple[WriterMetadata, BackedUpComponent]:
    """The running writer a component of the document is restored to, and its record:
    instance ``instance_id`` (as ``SetSelectedForRestoreEx`` names it; its own record if the
    document has one), or the instance that backed it up, or the class's one instance if that
    instance is gone (a new instance id)."""
    if instance_id is not None:
        _args.check_id("instance_id", instance_id)
        assert isinstance(instance_id, uuid.UUID)
    document = session.restore_document
    assert document is not None
    try:
        backed_up = document.component(writer_class_id, logical_path, name, instance_id)
    except VssError:
        if instance_id is None:
            raise
        backed_up = document.component(writer_class_id, logical_path, name)
    if instance_id is not None:
        return session._metadata_of(writer_class_id, instance_id), backed_up
    try:
        return session._metadata_of(writer_class_id, backed_up.writer_instance_id), backed_up
    except VssError:
        return session._metadata_of(writer_class_id), backed_up


def _selected_for_restore(
    session: SessionBase,
    writer_class_id: uuid.UUID,
    logical_path: str,
    name: str,
    instance_id: uuid.UUID | None,
) -> tuple[WriterMetadata, ComponentKey]:
    """The writer's metadata and the key of a component selected for restore
    (``VSS_E_OBJECT_NOT_FOUND`` if it is not)."""
    metadata = session._metadata_of(writer_class_id, instance_id)
    key = metadata.key(metadata.component(logical_path, name))
    if not session.is_selected(key):
        raise VssError(
            HResult.VSS_E_OBJECT_NOT_FOUND,
            f"{metadata.writer_name}: component {key.full_path!r} is not selected for restore",
        )
    return metadata, key


def set_additional_restores(
    session: SessionBase,
    writer_class_id: uuid.UUID,
    logical_path: str,
    name: str,
    additional: bool,
    instance_id: uuid.UUID | None = None,
) -> None:
    """SetAdditionalRestores: note whether more restores of a component follow."""
    session._check_component(writer_class_id, logical_path, name)
    _args.check_bool("additional", additional)
    target = session._check("set_selected_for_restore")
    metadata, key = _selected_for_restore(session, writer_class_id, logical_path, name, instance_id)
    session.state = target
    session.additional_restores[key] = additional
    session._record(
        None,
        V.SET_ADDITIONAL_RESTORES,
        writer=metadata.writer_name,
        component=key.full_path,
        additional=additional,
    )


def pre_restore(session: SessionBase) -> VssAsync:
    """PreRestore: the writers of the selected components take part; OnPreRestore to them."""
    target = session._check("pre_restore")
    chosen = {k.writer_instance_id for k in session.selected}
    session.involved_writers = [w for w in session.coordinator.writers if w.instance_id in chosen]
    session.state = target
    session._record(None, V.PRE_RESTORE, writers=[w.name for w in session.involved_writers])
    return session._start(
        session._notify(V.ON_PRE_RESTORE, V.PRE_RESTORE_COMPLETE, None), V.PRE_RESTORE
    )


def set_file_restore_status(
    session: SessionBase,
    writer_class_id: uuid.UUID,
    logical_path: str,
    name: str,
    status: RestoreStatus,
    instance_id: uuid.UUID | None = None,
) -> None:
    """SetFileRestoreStatus: note how much of a component's files came back."""
    session._check_component(writer_class_id, logical_path, name)
    status = _args.check_enum("status", status, RestoreStatus)
    if status == RestoreStatus.UNDEFINED:
        raise VssError(HResult.E_INVALIDARG, "status: cannot be VSS_RS_UNDEFINED")
    target = session._check("set_file_restore_status")
    metadata, key = _selected_for_restore(session, writer_class_id, logical_path, name, instance_id)
    session.state = target
    session.file_restore_status[key] = status
    session._record(
        None,
        V.SET_FILE_RESTORE_STATUS,
        writer=metadata.writer_name,
        component=key.full_path,
        status=status,
    )


def post_restore(session: SessionBase) -> VssAsync:
    """PostRestore: OnPostRestore to the writers of the restore."""
    session.state = session._check("post_restore")
    session._record(None, V.POST_RESTORE, writers=[w.name for w in session.involved_writers])
    return session._start(
        session._notify(V.ON_POST_RESTORE, V.POST_RESTORE_COMPLETE, None), V.POST_RESTORE
    )
