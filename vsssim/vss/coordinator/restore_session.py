"""The restore calls of ``IVssBackupComponents``, as methods: from InitializeForRestore to
PostRestore. :class:`~vsssim.vss.coordinator.session.BackupComponents` has them from
:class:`RestoreCalls`; each hands its work to the function of the same name in
:mod:`vsssim.vss.coordinator.restore_calls`.
"""

from __future__ import annotations

import uuid

import vsssim.vss.coordinator.restore_calls as coordinator_restore
from vsssim.vss.constants import ComponentType, RestoreStatus
from vsssim.vss.coordinator.session_base import SessionBase
from vsssim.vss.coordinator.vss_async import VssAsync
from vsssim.vss.documents.backup_document import BackupComponentsDocument

__all__ = ["RestoreCalls"]


class RestoreCalls(SessionBase):
    """The restore half of a backup components object."""

    def initialize_for_restore(self, document: BackupComponentsDocument | str | bytes) -> None:
        """``InitializeForRestore``: start a restore from a stored Backup Components Document
        (the value, or its XML as text or as UTF-8/UTF-16 bytes: malformed XML is
        ``VSS_E_CORRUPT_XML_DOCUMENT``, another document ``VSS_E_INVALID_XML_DOCUMENT``)."""
        coordinator_restore.initialize_for_restore(self, document)

    def set_selected_for_restore(
        self,
        writer_class_id: uuid.UUID,
        logical_path: str,
        name: str,
        selected: bool = True,
        *,
        instance_id: uuid.UUID | None = None,
        component_type: ComponentType | int | None = None,
    ) -> None:
        """``SetSelectedForRestore``: choose (or drop) a component of the document.

        The component must be in the Backup Components Document and its writer running (it
        answered GatherWriterMetadata), else ``VSS_E_OBJECT_NOT_FOUND``; a component its
        writer does not let be selected for restore is ``E_INVALIDARG``. ``instanceId`` and
        ``ct`` as AddComponent takes them.
        """
        coordinator_restore.set_selected_for_restore(
            self, writer_class_id, logical_path, name, selected, instance_id, component_type
        )

    def set_additional_restores(
        self,
        writer_class_id: uuid.UUID,
        logical_path: str,
        name: str,
        additional: bool,
        *,
        instance_id: uuid.UUID | None = None,
    ) -> None:
        """``SetAdditionalRestores``: whether more restores of a component selected for restore
        follow (the later incrementals or the differential of its chain), so that the writer
        does not recover it before the last. Only between SetSelectedForRestore and PreRestore
        (``VSS_E_BAD_STATE``), for a selected component (``VSS_E_OBJECT_NOT_FOUND``)."""
        coordinator_restore.set_additional_restores(
            self, writer_class_id, logical_path, name, additional, instance_id
        )

    def pre_restore(self) -> VssAsync:
        """``PreRestore``: OnPreRestore to the writers of the components selected for restore;
        value: each writer's HRESULT."""
        return coordinator_restore.pre_restore(self)

    def set_file_restore_status(
        self,
        writer_class_id: uuid.UUID,
        logical_path: str,
        name: str,
        status: RestoreStatus,
        *,
        instance_id: uuid.UUID | None = None,
    ) -> None:
        """``SetFileRestoreStatus``: whether all, none or some of a selected component's files
        were restored (between PreRestore and PostRestore)."""
        coordinator_restore.set_file_restore_status(
            self, writer_class_id, logical_path, name, status, instance_id
        )

    def post_restore(self) -> VssAsync:
        """``PostRestore``: OnPostRestore to the writers of the restore (a writer that failed
        OnPreRestore is not sent it); value: each writer's HRESULT."""
        return coordinator_restore.post_restore(self)
