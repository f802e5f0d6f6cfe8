"""The requester-facing backup components object: :class:`BackupComponents`
(``IVssBackupComponents``), one requester's session against the coordinator; and the
public :class:`Coordinator`, the VSS service that hands these objects out.

It mirrors ``IVssBackupComponents`` call for call (snake_case). The calls that are asynchronous
in VSS return a :class:`~vsssim.vss.coordinator.vss_async.VssAsync` (``IVssAsync``, a
:class:`~vsssim.sim.kernel.Process`) the caller waits on (``result = yield bc.do_snapshot_set()``
inside a process; ``sim.run(until=bc.do_snapshot_set())`` or ``.wait()`` from plain code); the
others act at once. Every call checks the session's state first and raises
:class:`VssError` with ``VSS_E_BAD_STATE`` when it comes out of order; a refused call changes
nothing; the prerequisite calls beyond the state table are checked by
:mod:`vsssim.vss.coordinator.prerequisites`. The session's state and the helpers the calls share are
:class:`~vsssim.vss.coordinator.session_base.SessionBase`; the backup calls live here; the restore
calls hand their work to :mod:`vsssim.vss.coordinator.restore_calls`, the calls that write the
Backup Components Document (and SaveAsXML) to :mod:`vsssim.vss.coordinator.document`, and the
shadow copy set's steps (adding a volume, DoSnapshotSet, the abort, deleting) to
:mod:`vsssim.vss.coordinator.snapshot_set`. Those parts know the session only as its
``SessionBase``, so they sit under this module.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Mapping, Sequence

import vsssim.vss.coordinator.cancel as coordinator_cancel
import vsssim.vss.coordinator.component_calls as component_calls
import vsssim.vss.coordinator.document as coordinator_document
import vsssim.vss.coordinator.prerequisites as prerequisites
import vsssim.vss.coordinator.restore_calls as coordinator_restore
import vsssim.vss.coordinator.snapshot_set as coordinator_set
from vsssim.errors import HResult, VssError
from vsssim.sim import vocabulary as V
from vsssim.sim.kernel import Process, ProcessGenerator
from vsssim.vss import _args, volume_names
from vsssim.vss.constants import (
    BackupType,
    ComponentType,
    Context,
    SnapshotAttr,
    SnapshotState,
)
from vsssim.vss.coordinator.management import ManagementCalls
from vsssim.vss.coordinator.restore_session import RestoreCalls
from vsssim.vss.coordinator.service import (
    SnapshotSet,
    VssService,
    writers_take_part,
)
from vsssim.vss.coordinator.vss_async import VssAsync
from vsssim.vss.documents.backup_document import (
    BackedUpComponent,
    BackupComponentsDocument,
)
from vsssim.vss.metadata import ComponentKey, Documents
from vsssim.vss.providers.base import ShadowCopy
from vsssim.vss.states import ABORT_IGNORED_IN, SESSION_TRANSITIONS, SessionState
from vsssim.vss.volumes import Volume


class BackupComponents(ManagementCalls, RestoreCalls):
    """``IVssBackupComponents``: one requester's backup session against the coordinator."""

    def _status_phase(self) -> int | None:
        if self.restore_document is not None:
            return None  # a restore is outside the seven phases of a backup
        if self.state == SessionState.SNAPSHOTS_CREATED:
            return 7
        if self.state in (SessionState.COMPLETED, SessionState.ABORTED):
            return None
        if self.state in (SessionState.SET_STARTED, SessionState.PREPARED):
            return 4
        return 3

    @property
    def writers_take_part(self) -> bool:
        """Whether the session's context makes shadow copies with the writers (not so
        ``VSS_CTX_FILE_SHARE_BACKUP``, ``NAS_ROLLBACK`` and ``CLIENT_ACCESSIBLE``)."""
        return writers_take_part(self.context)

    # -- phase 1 -------------------------------------------------------------------------
    def initialize_for_backup(
        self, document: BackupComponentsDocument | str | bytes | None = None
    ) -> None:
        """``InitializeForBackup``: start a backup session.

        ``document`` (``bstrXML``) is given only to import a transportable set: the Backup
        Components Document its creator saved (SaveAsXML), as a value or as XML; then
        :meth:`import_snapshots` may follow. Malformed XML is ``VSS_E_CORRUPT_XML_DOCUMENT``,
        another document ``VSS_E_INVALID_XML_DOCUMENT``; nothing changes then.
        """
        if document is not None:
            coordinator_restore.check_stored_document(document)
        target = self._check("initialize_for_backup")
        stored = None if document is None else coordinator_restore.stored_document(document)
        self.state = target
        self.transported_document = stored
        if stored is None:
            self._record(1, V.INITIALIZE_FOR_BACKUP)
        else:
            self._record(1, V.INITIALIZE_FOR_BACKUP, snapshot_set_id=str(stored.snapshot_set_id))

    def set_backup_state(
        self,
        select_components: bool = True,
        bootable_system_state: bool = False,
        backup_type: BackupType = BackupType.FULL,
        partial_file_support: bool = False,
    ) -> None:
        """``SetBackupState``: component mode, system state, backup type, and whether the
        requester takes partial files (writers may then ask for byte ranges of a file only).

        VSS accepts every backup type here; a writer whose schema lacks it is backed up in full
        by the requester (see :func:`vsssim.vss.backup_types.effective_type`).
        """
        _args.check_bool("select_components", select_components)
        _args.check_bool("bootable_system_state", bootable_system_state)
        backup_type = _args.check_enum("backup_type", backup_type, BackupType)
        _args.check_bool("partial_file_support", partial_file_support)
        if backup_type == BackupType.UNDEFINED:
            raise VssError(HResult.E_INVALIDARG, "backup_type: cannot be VSS_BT_UNDEFINED")
        target = self._check("set_backup_state")
        self.state = target
        self.backup_state_set = True
        self.select_components = select_components
        self.bootable_system_state = bootable_system_state
        self.backup_type = backup_type
        self.partial_file_support = partial_file_support
        self._record(
            1,
            V.SET_BACKUP_STATE,
            select_components=select_components,
            bootable_system_state=bootable_system_state,
            backup_type=backup_type,
            partial_file_support=partial_file_support,
        )

    def set_context(self, context: Context | int) -> None:
        """``SetContext``: what kind of shadow copies this session creates.

        A ``VSS_CTX_*`` value, possibly OR'd with ``VSS_VOLSNAP_ATTR_*`` bits, which the
        session's shadow copies then carry too (``E_INVALIDARG`` for other bits). Once only,
        after InitializeForBackup and before the set is started (``VSS_E_BAD_STATE``; the
        SetContext page); a writerless context once components are added is refused too.
        ``VSS_CTX_ALL`` is taken: it serves the management calls, and StartSnapshotSet
        refuses it.
        """
        base, extra = _args.split_context("context", context)
        target = self._check("set_context")
        prerequisites.check_set_context(self, base)
        self.state = target
        self.context = base
        self.context_attributes = extra
        self.context_set = True
        if extra:
            self._record(1, V.SET_CONTEXT, context=base, attributes=extra)
        else:
            self._record(1, V.SET_CONTEXT, context=base)

    # -- phase 2 -------------------------------------------------------------------------
    def gather_writer_metadata(self) -> VssAsync:
        """``GatherWriterMetadata``: OnIdentify to every writer; value: the metadata list."""
        target = self._check("gather_writer_metadata")
        phase = 2 if self.restore_document is None else None
        previous, self.state = self.state, target
        # The session the writers' records name: who reads the trace knows whose they are.
        self._record(phase, V.GATHER_WRITER_METADATA, session=self.session_id)
        return self._start(
            self._gather_metadata(phase),
            V.GATHER_WRITER_METADATA,
            coordinator_cancel.back_to(self, previous),
        )

    def _gather_metadata(self, phase: int | None) -> ProcessGenerator:
        coordinator = self.coordinator
        results = yield from coordinator.send(V.ON_IDENTIFY, coordinator.writers, phase, self)
        self.documents = Documents(
            w.metadata for w in coordinator.writers if results.get(w) == HResult.S_OK
        )
        self.metadata_gathered = True
        self._record(
            phase,
            V.GATHER_WRITER_METADATA_COMPLETE,
            writers=[m.writer_name for m in self.documents],
        )
        return list(self.documents)

    # -- phase 3 -------------------------------------------------------------------------
    def add_component(
        self,
        writer_class_id: uuid.UUID,
        logical_path: str,
        name: str,
        *,
        instance_id: uuid.UUID | None = None,
        component_type: ComponentType | int | None = None,
    ) -> None:
        """``AddComponent``: select a component (or a component set) for backup. VSS's
        ``instanceId`` and ``ct`` may be given as keywords and are then checked (see
        :mod:`vsssim.vss.coordinator.component_calls`)."""
        self._check_component(writer_class_id, logical_path, name)
        target = self._check("add_component")
        prerequisites.check_writers_take_part(self, "add_component")
        metadata = self._metadata_of(writer_class_id, instance_id)
        component = metadata.component(logical_path, name)
        component_calls.check_identity(metadata, component, instance_id, component_type)
        metadata.check_selectable(component)
        key = metadata.key(component)
        if self.is_selected(key):
            raise VssError(
                HResult.VSS_E_OBJECT_ALREADY_EXISTS,
                f"{metadata.writer_name}: component {component.full_path!r} is added already",
            )
        self.state = target
        self._select(key)
        self._record(3, V.ADD_COMPONENT, writer=metadata.writer_name, component=component.full_path)

    def set_previous_backup_stamp(
        self,
        writer_class_id: uuid.UUID,
        logical_path: str,
        name: str,
        stamp: str,
        *,
        instance_id: uuid.UUID | None = None,
    ) -> None:
        """``SetPreviousBackupStamp``: the stamp of the earlier backup an incremental or
        differential builds on, taken from that backup's document (``GetBackupStamp``); the
        writer reads it in OnPrepareBackup (``GetPreviousBackupStamp``).

        Only in a backup, after the component was added and before PrepareForBackup
        (``VSS_E_BAD_STATE`` otherwise); the component must have been added
        (``VSS_E_OBJECT_NOT_FOUND``). The requester does not interpret the stamp.
        """
        coordinator_document.set_previous_backup_stamp(
            self, writer_class_id, logical_path, name, stamp, instance_id
        )

    # -- phase 4 -------------------------------------------------------------------------
    def prepare_for_backup(self) -> VssAsync:
        """``PrepareForBackup``: OnPrepareBackup to the writers taking part.

        After StartSnapshotSet (the StartSnapshotSet page) and SetBackupState (the
        PrepareForBackup page), in a context with writers: ``VSS_E_BAD_STATE`` otherwise."""
        target = self._check("prepare_for_backup")
        prerequisites.check_prepare_for_backup(self)
        coordinator = self.coordinator
        answered = {m.writer_instance_id for m in self.documents}
        if self.select_components:
            chosen = {k.writer_instance_id for k in self.selected}
            involved = [w for w in coordinator.writers if w.instance_id in chosen]
        else:
            involved = list(coordinator.writers)
        self.involved_writers = [w for w in involved if w.instance_id in answered]
        self.state = target
        self._record(4, V.PREPARE_FOR_BACKUP, writers=[w.name for w in self.involved_writers])
        return self._start(
            self._notify(V.ON_PREPARE_BACKUP, V.PREPARE_FOR_BACKUP_COMPLETE, 4),
            V.PREPARE_FOR_BACKUP,
            coordinator_cancel.abort_backup(self),
        )

    def start_snapshot_set(self) -> uuid.UUID:
        """``StartSnapshotSet``: begin defining a set; only one set is created at a time.

        After the components are added, before PrepareForBackup. ``VSS_CTX_ALL`` creates no
        shadow copies ("Shadow Copy Context Configurations"): ``VSS_E_UNSUPPORTED_CONTEXT``."""
        target = self._check("start_snapshot_set")
        prerequisites.check_start_snapshot_set(self)
        snapshot_set = self.coordinator.lock_set(self, self.context)
        self.state = target
        self.snapshot_set = snapshot_set
        self._record(4, V.START_SNAPSHOT_SET, set_id=str(snapshot_set.set_id))
        return snapshot_set.set_id

    def is_volume_supported(self, volume_path: str, provider_id: uuid.UUID | None = None) -> bool:
        """``IsVolumeSupported``: whether the provider (any, without one) can shadow-copy the
        volume holding ``volume_path``."""
        volume_names.check_volume_name("volume_path", volume_path)
        _args.check_uuid("provider_id", provider_id, optional=True)
        self._check("is_volume_supported")
        return coordinator_set.volume_supported(self.coordinator, volume_path, provider_id, self)

    def add_to_snapshot_set(
        self, volume_path: str, provider_id: uuid.UUID | None = None
    ) -> uuid.UUID:
        """``AddToSnapshotSet``: add the volume holding ``volume_path``; returns the snapshot id."""
        volume_names.check_volume_name("volume_path", volume_path)
        _args.check_uuid("provider_id", provider_id, optional=True)
        target = self._check("add_to_snapshot_set")
        coordinator = self.coordinator
        snapshot_set = self.snapshot_set
        assert snapshot_set is not None
        snapshot = coordinator_set.add_volume(
            coordinator, self, snapshot_set, volume_path, provider_id
        )
        volume, provider = snapshot.volume, snapshot.provider
        self.state = target
        self._record(
            4,
            V.ADD_TO_SNAPSHOT_SET,
            set_id=str(snapshot_set.set_id),
            volume=volume.label,
            mount_point=coordinator.namespace.mount_point_of(volume),
            provider=provider.name,
            snapshot_id=str(snapshot.snapshot_id),
        )
        return snapshot.snapshot_id

    # -- phases 5 to 7 -------------------------------------------------------------------
    def do_snapshot_set(self) -> VssAsync:
        """``DoSnapshotSet``: create the set (phases 5-7); value: the set.

        The prerequisite calls of the context ("Shadow Copy Creation Details"): with writers,
        GatherWriterMetadata and PrepareForBackup must have been made (``VSS_E_BAD_STATE``);
        without, neither is needed and no writer hears an event. A set with no volumes is
        acceptable: the writers' events run, no provider is called."""
        target = self._check("do_snapshot_set")
        snapshot_set = self.snapshot_set
        assert snapshot_set is not None
        prerequisites.check_do_snapshot_set(self)
        self.state = target
        return self._start(
            self._do_snapshot_set(snapshot_set),
            V.DO_SNAPSHOT_SET,
            coordinator_cancel.abort_backup(self),
            coordinator_cancel.before_commit(snapshot_set),
        )

    def _do_snapshot_set(self, snapshot_set: SnapshotSet) -> ProcessGenerator:
        try:
            yield from coordinator_set.create_set(self.coordinator, self, snapshot_set)
        except VssError:
            self.state = SESSION_TRANSITIONS[(self.state, "snapshot set failed")]
            raise
        self.state = SESSION_TRANSITIONS[(self.state, "snapshot set created")]
        for snapshot in snapshot_set.snapshots:
            self.coordinator._keep_snapshot(snapshot)
            self._created.append(snapshot)
            self._created_of.setdefault(snapshot.volume, []).append(snapshot)
        return snapshot_set

    def snapshot_for(self, volume: Volume) -> ShadowCopy:
        """This session's created shadow copy of ``volume``."""
        _args.check_instance("volume", volume, Volume, "a Volume")
        for snapshot in self._created_of.get(volume, ()):
            if snapshot.state == SnapshotState.CREATED:
                return snapshot
        raise VssError(
            HResult.VSS_E_OBJECT_NOT_FOUND, f"{self.requester} has no shadow copy of {volume.label}"
        )

    def gather_writer_status(self) -> VssAsync:
        """``GatherWriterStatus``; value: a :class:`WriterStatus` per writer of the session."""
        self._check("gather_writer_status")
        phase = self._status_phase()
        self._record(phase, V.GATHER_WRITER_STATUS)
        return self._start(
            self._gather_status(phase),
            V.GATHER_WRITER_STATUS,
            coordinator_cancel.back_to(self, self.state),
        )

    def _gather_status(self, phase: int | None) -> ProcessGenerator:
        yield self.sim.timeout(self.coordinator.config.status_query_us)
        answered = {m.writer_instance_id for m in self.documents}
        statuses = self.coordinator.writer_statuses(
            (w for w in self.coordinator.writers if w.instance_id in answered), self.session_id
        )
        self._record(
            phase,
            V.GATHER_WRITER_STATUS_COMPLETE,
            writers={
                s.writer_name: {"state": s.state.vss_name, "failure": s.failure.name}
                for s in statuses
            },
        )
        return statuses

    # -- after phase 7 -------------------------------------------------------------------
    def set_backup_succeeded(
        self,
        writer_class_id: uuid.UUID,
        logical_path: str,
        name: str,
        succeeded: bool,
        *,
        instance_id: uuid.UUID | None = None,
        component_type: ComponentType | int | None = None,
    ) -> None:
        """``SetBackupSucceeded``: whether the requester backed the component up
        (``instanceId`` and ``ct`` as AddComponent takes them)."""
        coordinator_document.set_backup_succeeded(
            self, writer_class_id, logical_path, name, succeeded, instance_id, component_type
        )

    def backup_complete(self) -> VssAsync:
        """``BackupComplete``: OnBackupComplete to the writers taking part (a writerless
        context refuses it: ``VSS_E_BAD_STATE``)."""
        target = self._check("backup_complete")
        prerequisites.check_writers_take_part(self, "backup_complete")
        self.state = target
        self._record(None, V.BACKUP_COMPLETE)
        return self._start(
            self._notify(V.ON_BACKUP_COMPLETE, V.BACKUP_COMPLETE_COMPLETE, None, self.snapshot_set),
            V.BACKUP_COMPLETE,
        )

    # -- the Backup Components Document ----------------------------------------------------
    def save_as_document(
        self, files: Mapping[ComponentKey, Sequence[str]] | None = None
    ) -> BackupComponentsDocument:
        """``SaveAsXML``, as a value: this backup's Backup Components Document.

        Allowed once the shadow copy set exists. ``files`` names, per component, the files the
        requester copied (vsssim keeps them in the document; VSS does not know them). Like
        ``SaveAsXML`` it asks nothing of VSS, so it leaves no trace record.
        """
        return coordinator_document.backup_document(self, files)

    def get_writer_components(self) -> tuple[BackedUpComponent, ...]:
        """``GetWriterComponents``: the selected components as the writers left them (backup
        stamps, partial files), once the shadow copy set exists; like SaveAsXML it leaves no
        trace record."""
        return self.save_as_document().components

    def save_as_xml(self, files: Mapping[ComponentKey, Sequence[str]] | None = None) -> str:
        """``SaveAsXML``: :meth:`save_as_document` as VSS's ``BACKUP_COMPONENTS`` XML."""
        return coordinator_document.backup_xml(self, files)

    # -- aborting, releasing the object -----------------------------------------------------
    def abort_backup(self) -> VssAsync:
        """``AbortBackup``: OnAbort to the writers, the unfinished set deleted. With no backup
        underway (nothing prepared, no set, or BackupComplete done) it is ignored, as the
        AbortBackup page says: recorded, nothing sent, nothing changed."""
        target = self._check("abort_backup")
        if self.state in ABORT_IGNORED_IN:
            self._record(None, V.ABORT_BACKUP, ignored="no backup is underway")
            return self._start(_nothing(), V.ABORT_BACKUP)
        self.state = target
        self._record(None, V.ABORT_BACKUP)
        snapshot_set = self.snapshot_set
        if snapshot_set is not None and snapshot_set.state in (
            SnapshotState.CREATED,
            SnapshotState.ABORTED,
        ):
            snapshot_set = None  # nothing of the set to undo: writers only hear OnAbort
        return self._start(
            coordinator_set.abort_set(
                self.coordinator,
                self,
                snapshot_set,
                HResult.S_OK,
                f"{self.requester} called AbortBackup",
                None,
            ),
            V.ABORT_BACKUP,
        )

    def release(self) -> Process:
        """Release the object: OnBackupShutdown; auto-release shadow copies are deleted.

        Release never fails: called while an asynchronous call still runs (DoSnapshotSet
        included), it is the COM release of an object in use, run down as
        :meth:`requester_gone` does, leaving nothing locked, held or frozen."""
        if self.call_in_progress:
            return self.requester_gone()
        target = self._check("release")
        previous = self.state
        self.state = target
        self._record(None, V.RELEASE)
        return self._start(self._release(previous), V.RELEASE)

    def requester_gone(self) -> Process:
        """The requester's process ended without releasing the object (it crashed or was killed).

        As COM does for a dead client, the coordinator runs the object down after
        ``rundown_us``: it lets a running asynchronous call (DoSnapshotSet goes on inside VSS)
        finish, then releases the object as :meth:`release` would (an unfinished set aborted,
        auto-release shadow copies deleted, OnBackupShutdown to the writers).
        """
        self._record(None, V.REQUESTER_GONE, state=self.state.value)
        if self._busy is not None and self._busy.is_alive:
            self._busy.defuse()  # nobody waits for it now; the rundown reads its outcome
        return self.sim.process(self._rundown(), f"{self.requester} rundown")

    def _rundown(self) -> ProcessGenerator:
        yield self.sim.timeout(self.coordinator.config.rundown_us)
        busy = self._busy
        if busy is not None and busy.is_alive:
            with contextlib.suppress(VssError):
                yield busy
        if self.state == SessionState.RELEASED:
            return
        self._record(None, V.RUNDOWN, state=self.state.value)
        previous = self.state
        self.state = SessionState.RELEASED
        yield from self._release(previous)

    def _release(self, previous: SessionState) -> ProcessGenerator:
        coordinator = self.coordinator
        snapshot_set = self.snapshot_set
        if snapshot_set is not None and coordinator.creating is snapshot_set:
            yield from coordinator_set.abort_set(
                coordinator, self, snapshot_set, HResult.S_OK, f"{self.requester} went away", None
            )
        for snapshot in self._created:
            snapshot.in_use = False
            # A transportable copy waits on the array for its import elsewhere.
            kept = SnapshotAttr.NO_AUTO_RELEASE | SnapshotAttr.TRANSPORTABLE
            auto_release = not snapshot.attributes & kept
            if auto_release and snapshot.snapshot_id in coordinator.snapshots:
                coordinator_set.delete_snapshot(coordinator, snapshot)
        if previous != SessionState.CREATED:
            yield from coordinator.send(V.ON_BACKUP_SHUTDOWN, self.involved_writers, None, self)
        self._record(None, V.RELEASE_COMPLETE)


class Coordinator(VssService):
    """The VSS service of one simulated host: :class:`~vsssim.vss.coordinator.service.VssService`
    with the factory of the backup components objects requesters talk to it through. It lives
    over the session so that the service and the session's parts need not import the session."""

    def create_backup_components(self, requester: str) -> BackupComponents:
        """A new ``IVssBackupComponents`` for the requester named ``requester``."""
        return BackupComponents(self, requester)


def _nothing() -> ProcessGenerator:
    """A process that ends at once (an ignored asynchronous call)."""
    return
    yield
