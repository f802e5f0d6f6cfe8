"""What every call of a backup components object works on: :class:`SessionBase`, the
session's state (the requester's choices, the writers' metadata, the selection, the stamps, the
shadow copies) and the small helpers the calls share (the state check, the trace record, the
asynchronous start, the notification of the writers taking part).

:class:`~vsssim.vss.coordinator.session.BackupComponents` adds the calls themselves; the parts it
hands work to (:mod:`~vsssim.vss.coordinator.snapshot_set`,
:mod:`~vsssim.vss.coordinator.restore_calls`, :mod:`~vsssim.vss.coordinator.document`) take a
``SessionBase``, so they sit under the session instead of importing it back. The underscored
helpers are the package's own: the parts use them, requesters do not.
"""

from __future__ import annotations

import uuid

from vsssim.errors import HResult, VssError
from vsssim.sim.kernel import Process, ProcessGenerator
from vsssim.vss import _args
from vsssim.vss.constants import BackupType, Context, RestoreStatus, SnapshotAttr
from vsssim.vss.coordinator.service import SnapshotSet, VssService
from vsssim.vss.coordinator.vss_async import Cancellable, CancelSteps, VssAsync
from vsssim.vss.documents.backup_document import (
    BackupComponentsDocument,
    DifferencedFiles,
    PartialFile,
)
from vsssim.vss.metadata import Component, ComponentKey, Documents, WriterMetadata
from vsssim.vss.providers.base import ShadowCopy
from vsssim.vss.states import SESSION_TRANSITIONS, SessionState
from vsssim.vss.volumes import Volume
from vsssim.vss.writers.base import Writer


class SessionBase:
    """One requester's session against the coordinator: its state and the calls' helpers."""

    def __init__(self, coordinator: VssService, requester: str) -> None:
        _args.check_str("requester", requester, empty=False)
        self.coordinator = coordinator
        self.sim = coordinator.sim
        self.requester = requester
        self.session_id = str(coordinator.new_id("session"))
        self.state = SessionState.CREATED
        self.select_components = True
        self.bootable_system_state = False
        self.backup_type = BackupType.FULL
        self.partial_file_support = False
        self.context = Context.BACKUP
        #: The ``VSS_VOLSNAP_ATTR_*`` bits SetContext OR'd onto the context.
        self.context_attributes = SnapshotAttr(0)
        #: What the call order depends on besides the state: SetContext is taken once,
        #: PrepareForBackup needs SetBackupState, a writer context's DoSnapshotSet needs
        #: GatherWriterMetadata.
        self.context_set = False
        self.backup_state_set = False
        self.metadata_gathered = False
        #: The documents GatherWriterMetadata gathered, indexed by class and instance id.
        self.documents = Documents()
        #: What is selected, in order and by writer instance.
        self.selected: list[ComponentKey] = []
        self._selected_of: dict[uuid.UUID, dict[ComponentKey, None]] = {}
        self.succeeded: dict[ComponentKey, bool] = {}
        #: The backup stamps: those the requester set for writers to read, those writers set,
        #: and the partial files writers added (by file path, upper case).
        self.previous_backup_stamps: dict[ComponentKey, str] = {}
        self.backup_stamps: dict[ComponentKey, str] = {}
        self.partial_files: dict[ComponentKey, dict[str, PartialFile]] = {}
        #: The differenced files writers added (AddDifferencedFilesByLastModifyTime).
        self.differenced_files: dict[ComponentKey, list[DifferencedFiles]] = {}
        self.involved_writers: list[Writer] = []
        self.snapshot_set: SnapshotSet | None = None
        self._created: list[ShadowCopy] = []
        self._created_of: dict[Volume, list[ShadowCopy]] = {}
        self._busy: Process | None = None
        #: The document InitializeForBackup was given: a transportable set's, to import.
        self.transported_document: BackupComponentsDocument | None = None
        #: The stored document of a restore session (None in a backup session).
        self.restore_document: BackupComponentsDocument | None = None
        self.file_restore_status: dict[ComponentKey, RestoreStatus] = {}
        self.additional_restores: dict[ComponentKey, bool] = {}

    @property
    def writer_metadata(self) -> list[WriterMetadata]:
        """The documents GatherWriterMetadata gathered, in order (a new list; look them up in
        :attr:`documents`)."""
        return list(self.documents)

    @property
    def call_in_progress(self) -> bool:
        """Whether an asynchronous call (a returned process) is still running: until it is
        done the session refuses every other call with ``VSS_E_BAD_STATE``."""
        return self._busy is not None and self._busy.is_alive

    def _start(
        self,
        generator: ProcessGenerator,
        call: str,
        on_cancel: CancelSteps | None = None,
        cancellable: Cancellable | None = None,
    ) -> VssAsync:
        """Run an asynchronous call (its ``IVssAsync``); no other call is accepted until it is
        done. ``on_cancel`` undoes what the call began when a cancel reaches it (None: the call
        cannot be cancelled), while ``cancellable`` holds."""
        busy = VssAsync(
            self.sim,
            generator,
            f"{self.requester} {call}",
            call,
            self.requester,
            on_cancel,
            cancellable,
        )
        self._busy = busy
        return busy

    # -- helpers -------------------------------------------------------------------------
    def _check(self, call: str) -> SessionState:
        busy = self._busy
        if busy is not None and busy.is_alive:
            raise VssError(
                HResult.VSS_E_BAD_STATE,
                f"{call} is not allowed now: {self.requester} still waits for {busy.name}",
            )
        target = SESSION_TRANSITIONS.get((self.state, call))
        if target is None:
            raise VssError(
                HResult.VSS_E_BAD_STATE,
                f"{call} is not allowed now: {self.requester}'s backup is {self.state.value}",
            )
        return target

    def allows(self, call: str) -> bool:
        """Whether ``call`` is allowed in the session's current state."""
        _args.check_str("call", call)
        return (self.state, call) in SESSION_TRANSITIONS

    def _record(self, phase: int | None, call: str, **details: object) -> None:
        self.sim.trace.record(phase, self.requester, call, **details)

    def components_of(self, writer: Writer) -> tuple[Component, ...]:
        """The components of ``writer`` this session selected."""
        _args.check_instance("writer", writer, Writer, "a Writer")
        metadata = self.metadata_for(writer)
        return tuple(
            metadata.component(k.logical_path, k.name)
            for k in self._selected_of.get(writer.instance_id, ())
        )

    def metadata_for(self, writer: Writer) -> WriterMetadata:
        """The Writer Metadata Document ``writer`` gave this session's GatherWriterMetadata
        (its current one before that): what the session selected from, even if the writer
        describes itself differently at a later OnIdentify."""
        gathered = self.documents.of_instance(writer.instance_id)
        return writer.metadata if gathered is None else gathered

    def is_selected(self, key: ComponentKey) -> bool:
        """Whether the session selected the component ``key`` (``AddComponent`` in a backup,
        ``SetSelectedForRestore`` in a restore): of ``key``'s writer instance, or of any
        instance of its class if it names none."""
        _args.check_instance("key", key, ComponentKey, "a ComponentKey")
        if key.writer_instance_id is not None:
            return key in self._selected_of.get(key.writer_instance_id, ())
        return any(k.any_instance == key for k in self.selected)

    def _select(self, key: ComponentKey, selected: bool = True) -> None:
        """Add ``key`` (a key of a document this session gathered) to the selection, or drop
        it."""
        assert key.writer_instance_id is not None
        if selected:
            self.selected.append(key)
            self._selected_of.setdefault(key.writer_instance_id, {})[key] = None
        else:
            self.selected.remove(key)
            del self._selected_of[key.writer_instance_id][key]

    @staticmethod
    def _check_component(writer_class_id: object, logical_path: object, name: object) -> None:
        """The arguments that name a component: a writer class GUID, a logical path (may be
        empty) and a component name."""
        _args.check_id("writer_class_id", writer_class_id)
        _args.check_str("logical_path", logical_path)
        _args.check_str("name", name, empty=False)

    def _metadata_of(
        self, writer_class_id: uuid.UUID, instance_id: object = None
    ) -> WriterMetadata:
        """The document a writer of class ``writer_class_id`` gave GatherWriterMetadata: that
        of instance ``instance_id`` (``VSS_E_OBJECT_NOT_FOUND`` if no such instance answered),
        or, with None, of the one instance of the class that answered (two or more are
        ``E_INVALIDARG``: the call must then name the instance, as ``instanceId`` does)."""
        instance = None if instance_id is None else _args.check_id("instance_id", instance_id)
        found = self.documents.of_class(writer_class_id)
        if not found:
            raise VssError(
                HResult.VSS_E_OBJECT_NOT_FOUND,
                f"no writer with class id {writer_class_id} answered GatherWriterMetadata",
            )
        if instance is None:
            if len(found) == 1:
                return found[0]
            raise VssError(
                HResult.E_INVALIDARG,
                f"{len(found)} instances of writer {found[0].writer_name} ({writer_class_id}) "
                "answered GatherWriterMetadata: name the instance (instance_id)",
            )
        document = self.documents.find(writer_class_id, instance)
        if document is None:
            raise VssError(
                HResult.VSS_E_OBJECT_NOT_FOUND,
                f"no instance {instance_id} of writer {found[0].writer_name} answered "
                "GatherWriterMetadata",
            )
        return document

    def _notify(
        self, event: str, completed: str, phase: int | None, snapshot_set: SnapshotSet | None = None
    ) -> ProcessGenerator:
        """Send ``event`` to the writers taking part; record ``completed`` with their
        results. The process's value maps each writer that got the event to its HRESULT."""
        results = yield from self.coordinator.send(
            event, self.involved_writers, phase, self, snapshot_set
        )
        self._record(phase, completed, results={w.name: r for w, r in results.items()})
        return results
