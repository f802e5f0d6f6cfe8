"""The Backup Components Document of a backup session: the calls with which the requester
writes into it (SetPreviousBackupStamp, SetBackupSucceeded), and what SaveAsXML writes (and
GetWriterComponents reads back), put together from the session's selection, the requester's
results and what the writers set (backup stamps, partial files).

:class:`~vsssim.vss.coordinator.session.BackupComponents` keeps the calls (and their
documentation) and hands each to the function of the same name here (SaveAsXML's is
:func:`backup_document`), which takes the session as the
:class:`~vsssim.vss.coordinator.session_base.SessionBase` under it.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence

from vsssim.errors import HResult, VssError
from vsssim.sim import vocabulary as V
from vsssim.vss import _args
from vsssim.vss.constants import ComponentType, SnapshotAttr
from vsssim.vss.coordinator import component_calls
from vsssim.vss.coordinator.session_base import SessionBase
from vsssim.vss.documents.backup_document import (
    BackedUpComponent,
    BackupComponentsDocument,
    SnapshotDescription,
    document_to_xml,
)
from vsssim.vss.metadata import ComponentKey


def backup_document(
    session: SessionBase, files: Mapping[ComponentKey, Sequence[str]] | None = None
) -> BackupComponentsDocument:
    """SaveAsXML, as a value: the session's components as the writers left them, with the
    files the requester copied."""
    _check_files(files)
    session._check("save_as_xml")
    snapshot_set = session.snapshot_set
    assert snapshot_set is not None and snapshot_set.snapshots
    files = files or {}
    components = []
    for key in session.selected:
        assert key.writer_instance_id is not None  # made from a gathered document
        metadata = session.documents.of_instance(key.writer_instance_id)
        assert metadata is not None
        component = metadata.component(key.logical_path, key.name)
        components.append(
            BackedUpComponent(
                writer_class_id=metadata.writer_class_id,
                writer_instance_id=metadata.writer_instance_id,
                writer_name=metadata.writer_name,
                logical_path=component.logical_path,
                name=component.name,
                component_type=component.component_type,
                backup_succeeded=session.succeeded.get(key, False),
                files=tuple(_files_of(files, key)),
                backup_stamp=session.backup_stamps.get(key, ""),
                previous_backup_stamp=session.previous_backup_stamps.get(key, ""),
                partial_files=tuple(
                    partial for _, partial in sorted(session.partial_files.get(key, {}).items())
                ),
                differenced_files=tuple(session.differenced_files.get(key, ())),
            )
        )
    return BackupComponentsDocument(
        backup_type=session.backup_type,
        snapshot_set_id=snapshot_set.set_id,
        requester=session.requester,
        context=session.context,
        time_us=snapshot_set.snapshots[0].created_us or 0,
        select_components=session.select_components,
        bootable_system_state=session.bootable_system_state,
        components=tuple(components),
        partial_file_support=session.partial_file_support,
        snapshots=tuple(
            SnapshotDescription(s.snapshot_id, s.provider.provider_id, s.volume.name, s.attributes)
            for s in snapshot_set.snapshots
            if s.attributes & SnapshotAttr.TRANSPORTABLE
        ),
    )


def backup_xml(
    session: SessionBase, files: Mapping[ComponentKey, Sequence[str]] | None = None
) -> str:
    """SaveAsXML: :func:`backup_document` as VSS's ``BACKUP_COMPONENTS`` XML."""
    return document_to_xml(backup_document(session, files))


def _files_of(files: Mapping[ComponentKey, Sequence[str]], key: ComponentKey) -> Sequence[str]:
    """The paths ``files`` gives for ``key``'s component (a key without an instance id names
    the component of whichever instance)."""
    if key in files:
        return files[key]
    return next((paths for k, paths in files.items() if k.names(key)), ())


def _check_files(files: object) -> None:
    """SaveAsXML's ``files``: None, or a mapping of component keys to sequences of paths."""
    if files is None:
        return
    _args.check_instance("files", files, Mapping, "a mapping of component keys to paths")
    assert isinstance(files, Mapping)
    for key, paths in files.items():
        _args.check_instance("files", key, ComponentKey, "ComponentKey keys")
        for path in _args.check_items("files", paths, str, "paths (strings)"):
            _args.check_path("files", path)


def set_previous_backup_stamp(
    session: SessionBase,
    writer_class_id: uuid.UUID,
    logical_path: str,
    name: str,
    stamp: str,
    instance_id: uuid.UUID | None = None,
) -> None:
    """SetPreviousBackupStamp: note in the document the stamp of the backup this one builds on."""
    session._check_component(writer_class_id, logical_path, name)
    _args.check_str("stamp", stamp)
    if not stamp:
        raise VssError(HResult.E_INVALIDARG, "stamp: the previous backup stamp cannot be empty")
    if session.restore_document is not None or not session.allows("set_previous_backup_stamp"):
        raise VssError(
            HResult.VSS_E_BAD_STATE,
            f"set_previous_backup_stamp is not allowed now: {session.requester}'s "
            f"{'restore' if session.restore_document is not None else 'backup'} is "
            f"{session.state.value}; it comes after AddComponent, before PrepareForBackup",
        )
    session._check("set_previous_backup_stamp")  # a call still running refuses it too
    metadata = session._metadata_of(writer_class_id, instance_id)
    key = metadata.key(metadata.component(logical_path, name))
    if not session.is_selected(key):
        raise VssError(
            HResult.VSS_E_OBJECT_NOT_FOUND,
            f"{metadata.writer_name}: component {key.full_path!r} was not added",
        )
    session.previous_backup_stamps[key] = stamp
    session._record(
        3,
        V.SET_PREVIOUS_BACKUP_STAMP,
        writer=metadata.writer_name,
        component=key.full_path,
        stamp=stamp,
    )


def set_backup_succeeded(
    session: SessionBase,
    writer_class_id: uuid.UUID,
    logical_path: str,
    name: str,
    succeeded: bool,
    instance_id: uuid.UUID | None = None,
    component_type: ComponentType | int | None = None,
) -> None:
    """SetBackupSucceeded: note in the document whether the component was backed up (the
    writer instance id and component type checked as AddComponent checks them, when given)."""
    session._check_component(writer_class_id, logical_path, name)
    _args.check_bool("succeeded", succeeded)
    session._check("set_backup_succeeded")
    metadata = session._metadata_of(writer_class_id, instance_id)
    component = metadata.component(logical_path, name)
    component_calls.check_identity(metadata, component, instance_id, component_type)
    key = metadata.key(component)
    if not session.is_selected(key):
        raise VssError(HResult.VSS_E_OBJECT_NOT_FOUND, f"component {key.full_path!r} was not added")
    session.succeeded[key] = succeeded
    session._record(
        None,
        V.SET_BACKUP_SUCCEEDED,
        writer=metadata.writer_name,
        component=key.full_path,
        succeeded=succeeded,
        session=session.session_id,
    )
