"""The restore, as VSS runs it: a requester puts components of a backup back, writer by writer.

A :class:`RestoreAgent` takes a :class:`~vsssim.requesters.archive.BackupArchive` (the Backup
Components
Document and the copied data) and walks ``IVssBackupComponents``' restore sequence:
``InitializeForRestore`` with the document, ``GatherWriterMetadata`` (the live writers and their
restore methods), ``SetSelectedForRestore`` for each component, ``PreRestore`` (writers get
OnPreRestore), the copy back by each writer's restore method, ``SetFileRestoreStatus`` per
component, ``PostRestore`` (OnPostRestore), ``GatherWriterStatus`` and release.

The restore methods (``VSS_RESTOREMETHOD_ENUM``), as Microsoft describes them:

* ``RESTORE_IF_NOT_THERE``: only if none of the component's files is on disk (else nothing, or
  the alternate location where a mapping exists and nothing is there);
* ``RESTORE_IF_CAN_REPLACE``: only if every file on disk can be replaced (else nothing, or the
  alternate location where a mapping exists); a file is in use while a process holds it
  (:attr:`vsssim.vss.namespace.File.in_use_by`);
* ``STOP_RESTORE_START``: the writer's service (its application: the workloads linked to the
  writer) is stopped, the files restored, the service started;
* ``RESTORE_STOP_START``: the files restored, then after PostRestore the service restarted;
* ``RESTORE_TO_ALTERNATE_LOCATION``: to the alternate location of each file (none defined is a
  writer error);
* ``RESTORE_AT_REBOOT``: staged and replaced at the next reboot (``MoveFileEx`` with
  ``MOVEFILE_DELAY_UNTIL_REBOOT``): see :func:`reboot`;
* ``RESTORE_AT_REBOOT_IF_CANNOT_REPLACE``: now if every file can be replaced, else all at reboot;
* ``CUSTOM``: the writer's own procedure, which this agent does not have: not restored.

A component is restored whole or reported: the checks run on every file before the first is
written, and the :class:`RestoreResult` names each component restored, each not restored and
why (a writer that failed OnPreRestore, a file in use...), and a writer that failed
OnPostRestore after its files were put back. A restored file holds exactly the backed-up
blocks: blocks written since the backup are zeroed
(:meth:`vsssim.vss.namespace.Namespace.put_file`).

A chain of backups (a full, then incrementals, or a differential) is restored by
:func:`restore_chain`: one restore per backup of the chain, oldest first (as
:func:`restore_plan` lays them out from the backup stamps), each component told with
``SetAdditionalRestores`` whether more of its chain follows. A file an incremental or
differential backed up as a partial file gets only its ranges written, into the file the earlier
restores put back; a file they put back that the later backup no longer lists is removed. An
incremental or differential restored on its own is refused for the components with partial
files (``VSS_RS_NONE``): its ranges only make sense on top of the backup it builds on.

Assumptions: VSS sends OnPreRestore and OnPostRestore to the writer of every component selected
for restore, whatever its ``VSS_WRITERRESTORE_ENUM`` (which tells the requester what the writer
needs); a reboot applies the pending file operations and nothing else (processes go on).
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Generator, Iterable, Mapping, Sequence
from typing import Any

import attrs

from vsssim.errors import ConfigurationError, HResult, VssError
from vsssim.requesters.archive import BackupArchive
from vsssim.requesters.backup_result import CopiedFile, Outcome
from vsssim.requesters.selection import ComponentSelector
from vsssim.sim import vocabulary as V
from vsssim.sim.kernel import MILLISECOND, SECOND, Event, ProcessGenerator, Simulation
from vsssim.vss import _args
from vsssim.vss.backup_types import partial_blocks
from vsssim.vss.constants import BackupType, RestoreMethod, RestoreStatus
from vsssim.vss.coordinator.service import Coordinator, WriterStatus
from vsssim.vss.coordinator.session import BackupComponents
from vsssim.vss.documents.backup_document import BackedUpComponent, PartialFile
from vsssim.vss.metadata import ComponentKey, WriterMetadata, by_class_id
from vsssim.vss.namespace import File, Namespace, PendingFileOperation, normalize, reads_as_zeros

#: The actor of the records of a reboot.
SESSION_MANAGER = V.SESSION_MANAGER

#: Methods that replace the files on disk now, when nothing holds them.
_REPLACE_NOW = frozenset(
    {
        RestoreMethod.RESTORE_IF_CAN_REPLACE,
        RestoreMethod.STOP_RESTORE_START,
        RestoreMethod.RESTORE_STOP_START,
        RestoreMethod.RESTORE_AT_REBOOT_IF_CANNOT_REPLACE,
    }
)


@attrs.frozen
class RestoreOptions:
    """How the agent restores: copy speed, and how long stopping or starting a service takes."""

    copy_bytes_per_s: int = 400 * 1024 * 1024
    service_control_us: int = 500 * MILLISECOND

    def __attrs_post_init__(self) -> None:
        _args.check_int("copy_bytes_per_s", self.copy_bytes_per_s, low=1, config=True)
        _args.check_int("service_control_us", self.service_control_us, low=0, config=True)


@attrs.frozen
class RestoredFile:
    """A file put back: the backed-up ``path``, the ``target`` it went to, and where the target
    lies. ``seq`` is the trace record after which the target held the backed-up content; it is
    None while the file waits for a reboot. ``ranges`` are the byte ranges written of a partial
    file (None: the whole file)."""

    path: str
    target: str
    seq: int | None
    volume: str = ""
    first_block: int = 0
    block_count: int = 0
    ranges: tuple[tuple[int, int], ...] | None = None

    @property
    def pending_reboot(self) -> bool:
        """True while the file is staged for the next reboot."""
        return self.seq is None


@attrs.frozen
class ComponentRestore:
    """How one component of the document was restored.

    ``status`` is what the agent reported with ``SetFileRestoreStatus`` (``VSS_RS_NONE`` for a
    component it did not select): ``ALL`` restored (or staged for the reboot), ``NONE`` nothing
    written, ``FAILED`` some files written. ``reason`` says why a component is not restored,
    or what went wrong after its files were put back. ``removed`` are the files a restore that
    continues a chain took away: put back by the earlier restores of the chain, but gone by
    the time of this backup.
    """

    writer: str
    component: str
    method: RestoreMethod
    status: RestoreStatus
    files: tuple[RestoredFile, ...] = ()
    reason: str = ""
    removed: tuple[str, ...] = ()

    @property
    def restored(self) -> bool:
        """True if every file was put back (or staged) and the writer had no complaint."""
        return self.status == RestoreStatus.ALL and not self.reason

    def __str__(self) -> str:
        state = "restored" if self.restored else f"{self.status.vss_name}: {self.reason}"
        return f"{self.writer}:{self.component} ({self.method.vss_name}) {state}"


@attrs.frozen
class RestoreResult:
    """What one restore did, component by component."""

    agent: str
    outcome: Outcome
    message: str
    components: tuple[ComponentRestore, ...] = ()
    writer_status: tuple[WriterStatus, ...] = ()
    started_us: int = 0
    finished_us: int = 0

    @property
    def restored(self) -> tuple[ComponentRestore, ...]:
        """The components put back whole."""
        return tuple(c for c in self.components if c.restored)

    @property
    def not_restored(self) -> tuple[ComponentRestore, ...]:
        """The components not (or not wholly, or not cleanly) put back, each with its reason."""
        return tuple(c for c in self.components if not c.restored)

    @property
    def files(self) -> tuple[RestoredFile, ...]:
        """Every file written back or staged, in order."""
        return tuple(f for c in self.components for f in c.files)


class _NotRestorable(Exception):
    """A component the pre-checks refuse: nothing of it is written."""


@attrs.frozen
class _Plan:
    """What restoring one component does: each backed-up file and where it goes, whether all
    wait for the reboot, and the files to take away (a chain's files gone by this backup)."""

    files: list[tuple[CopiedFile, str]]
    at_reboot: bool
    removals: list[str]


@attrs.define(eq=False)
class RestoreAgent:
    """A requester that restores ``selection`` (default: every component) of ``archive``.

    The components in ``additional_restores`` are told (``SetAdditionalRestores``) that more
    restores of them follow: the later backups of their chain.

    ``continues`` names the components whose chain this restore continues: the earlier
    restores of the chain (:func:`restore_chain`) put their base back, and left these files
    (the targets) on disk. Only such a component's partial files are written (into the files
    the base put back); a component with partial files that continues nothing is not
    restored (``VSS_RS_NONE``): an incremental or differential alone would write its ranges
    into whatever file is on disk. A continued file the document of this backup no longer
    lists was gone at this backup: it is removed.
    """

    coordinator: Coordinator
    name: str
    archive: BackupArchive
    selection: Sequence[ComponentSelector] | None = None
    options: RestoreOptions = attrs.field(factory=RestoreOptions)
    additional_restores: frozenset[ComponentKey] = frozenset()
    continues: Mapping[ComponentKey, frozenset[str]] = attrs.field(factory=dict)
    result: RestoreResult | None = attrs.field(default=None, init=False)
    _chosen: tuple[BackedUpComponent, ...] = attrs.field(default=(), init=False, repr=False)

    @property
    def chosen(self) -> tuple[BackedUpComponent, ...]:
        """The components of the document this agent restores (its selection), in document
        order: :attr:`RestoreResult.components` follows this order."""
        return self._chosen

    def continued_files(self, key: ComponentKey) -> frozenset[str] | None:
        """The files the earlier restores of ``key``'s chain left on disk, or None if this
        restore continues no chain of that component."""
        folded = key.folded
        for continued, files in self.continues.items():
            if continued.folded == folded:
                return files
        return None

    def __attrs_post_init__(self) -> None:
        self._check_arguments()
        components = self.archive.document.components
        if self.selection is None:
            self._chosen = components
            return
        chosen = []
        for selector in self.selection:
            found = [
                c
                for c in components
                if selector.writer in (c.writer_name, str(c.writer_class_id))
                and c.full_path.upper() == selector.path.upper()
            ]
            if not found:
                raise VssError(
                    HResult.VSS_E_OBJECT_NOT_FOUND,
                    f"{selector}: the backup components document holds no such component",
                )
            chosen.append(found[0])
        self._chosen = tuple(c for c in components if c in chosen)

    def _check_arguments(self) -> None:
        """The agent's arguments, each of its type (``E_INVALIDARG`` naming it otherwise)."""
        _args.check_instance("coordinator", self.coordinator, Coordinator, "a Coordinator")
        _args.check_str("name", self.name, empty=False)
        _args.check_instance("archive", self.archive, BackupArchive, "a BackupArchive")
        if self.selection is not None:
            _args.check_items("selection", self.selection, ComponentSelector, "ComponentSelectors")
        _args.check_instance("options", self.options, RestoreOptions, "RestoreOptions")
        _args.check_items(
            "additional_restores", self.additional_restores, ComponentKey, "ComponentKeys"
        )
        _args.check_instance("continues", self.continues, Mapping, "a mapping")
        for key, files in self.continues.items():
            _args.check_instance("continues", key, ComponentKey, "ComponentKey keys")
            _args.check_items("continues", files, str, "file paths")

    # -- the run -------------------------------------------------------------------------
    def run(self) -> ProcessGenerator:
        """The agent's process; its value (and ``self.result``) is the :class:`RestoreResult`."""
        sim = self.coordinator.sim
        started = sim.now
        bc = self.coordinator.create_backup_components(self.name)
        outcomes: dict[BackedUpComponent, ComponentRestore] = {}
        statuses: tuple[WriterStatus, ...] = ()
        try:
            bc.initialize_for_restore(self.archive.document)
            metadata = by_class_id((yield bc.gather_writer_metadata()))
            selected = self._select(bc, metadata, outcomes)
            pre = yield bc.pre_restore()
            failed_pre = {
                w.class_id: f"{w.name} failed OnPreRestore: "
                f"{w.state_in(bc.session_id).vss_name}, {hresult.name}"
                for w, hresult in pre.items()
                if hresult != HResult.S_OK
            }
            for _, group in itertools.groupby(selected, key=lambda c: c.writer_instance_id):
                records = list(group)
                writer = metadata[records[0].writer_class_id]
                yield from self._restore_writer(
                    bc, writer, records, failed_pre.get(writer.writer_class_id), outcomes
                )
            post = yield bc.post_restore()
            for w, hresult in post.items():
                if hresult != HResult.S_OK:
                    self._writer_failed(
                        w.class_id,
                        f"files restored, but {w.name} failed OnPostRestore: "
                        f"{w.state_in(bc.session_id).vss_name}, {hresult.name}",
                        outcomes,
                    )
            for writer in metadata.values():
                restarted = writer.restore_method == RestoreMethod.RESTORE_STOP_START
                if restarted and any(
                    c.files
                    for r, c in outcomes.items()
                    if r.writer_class_id == writer.writer_class_id
                ):
                    yield from self._service(writer, V.STOP_SERVICE)
                    yield from self._service(writer, V.START_SERVICE)
            statuses = tuple((yield bc.gather_writer_status()))
        except VssError as error:
            sim.trace.record(
                None, self.name, V.RESTORE_FAILED, result=error.hresult, reason=error.message
            )
            for record in self._chosen:
                outcomes.setdefault(record, _not_restored(record, None, error.message))
        if bc.allows("release"):
            yield bc.release()
        return self._finish(outcomes, statuses, started)

    def _select(
        self,
        bc: BackupComponents,
        metadata: dict[uuid.UUID, WriterMetadata],
        outcomes: dict[BackedUpComponent, ComponentRestore],
    ) -> list[BackedUpComponent]:
        """SetSelectedForRestore for every chosen component the agent can restore."""
        selected = []
        for record in self._chosen:
            writer = metadata.get(record.writer_class_id)
            try:
                reason = self._unrestorable(record, writer)
                if not reason:
                    bc.set_selected_for_restore(
                        record.writer_class_id, record.logical_path, record.name
                    )
                    if record.key.folded in {k.folded for k in self.additional_restores}:
                        bc.set_additional_restores(
                            record.writer_class_id, record.logical_path, record.name, True
                        )
                    selected.append(record)
                    continue
            except VssError as refused:  # the writer does not know the component (any more)
                reason = refused.message
            outcomes[record] = _not_restored(record, writer, reason)
        self.coordinator.sim.trace.record(
            None,
            self.name,
            V.COMPONENTS_SELECTED_FOR_RESTORE,
            selected=[c.full_path for c in selected],
            left_out={c.full_path: o.reason for c, o in outcomes.items()},
        )
        return selected

    def _unrestorable(self, record: BackedUpComponent, writer: WriterMetadata | None) -> str:
        """Why this agent cannot restore ``record`` at all ("" if it can try)."""
        if not record.backup_succeeded:
            return "its backup did not succeed"
        if record.partial_files and self.continued_files(record.key) is None:
            kind = self.archive.document.backup_type
            return (
                f"{_a(kind)} backup restores on top of the backup it builds on: restore the "
                "chain with restore_chain"
            )
        missing = [p for p in record.files if self.archive.file(p) is None]
        if missing:
            return f"the archive holds no data of {missing[0]}"
        if writer is None:
            return ""  # SetSelectedForRestore says what is wrong
        method = writer.restore_method
        if method == RestoreMethod.CUSTOM:
            return (
                "VSS_RME_CUSTOM: the writer's own restore procedure is needed; this agent has none"
            )
        if method == RestoreMethod.UNDEFINED:
            return "writer error: its restore method is VSS_RME_UNDEFINED"
        if method == RestoreMethod.RESTORE_TO_ALTERNATE_LOCATION:
            component = writer.component(record.logical_path, record.name)
            for path in record.files:
                if self._alternate(writer, component.logical_path, component.name, path) is None:
                    return (
                        "writer error: VSS_RME_RESTORE_TO_ALTERNATE_LOCATION without an "
                        f"alternate location mapping for {path}"
                    )
        return ""

    def _restore_writer(
        self,
        bc: BackupComponents,
        writer: WriterMetadata,
        records: list[BackedUpComponent],
        failed_pre: str | None,
        outcomes: dict[BackedUpComponent, ComponentRestore],
    ) -> Generator[Event, Any, None]:
        """Restore one writer's selected components and report each with SetFileRestoreStatus."""
        stop = failed_pre is None and writer.restore_method == RestoreMethod.STOP_RESTORE_START
        if stop:
            yield from self._service(writer, V.STOP_SERVICE)
        for record in records:
            if failed_pre is not None:
                outcome = _not_restored(record, writer, failed_pre)
            else:
                outcome = yield from self._restore_component(record, writer)
            if not outcome.restored:
                self.coordinator.sim.trace.record(
                    None,
                    self.name,
                    V.COMPONENT_NOT_RESTORED,
                    component=record.full_path,
                    status=outcome.status,
                    reason=outcome.reason,
                )
            outcomes[record] = outcome
            bc.set_file_restore_status(
                record.writer_class_id, record.logical_path, record.name, outcome.status
            )
        if stop:
            yield from self._service(writer, V.START_SERVICE)

    def _service(self, writer: WriterMetadata, action: str) -> Generator[Event, Any, None]:
        """Stop or start the writer's service: its application (linked workloads) pauses."""
        sim = self.coordinator.sim
        application = self.coordinator.writer(writer.writer_instance_id)
        service = writer.restore_service or writer.writer_name
        sim.trace.record(None, self.name, action, service=service, writer=writer.writer_name)
        if action == V.STOP_SERVICE:
            application.stop_application(self.name)
        yield sim.timeout(self.options.service_control_us)
        if action == V.START_SERVICE:
            application.start_application(self.name)

    def _put_back(
        self,
        copied: CopiedFile,
        target: str,
        file: File,
        method: RestoreMethod,
        ranges: tuple[tuple[int, int], ...] | None,
    ) -> RestoredFile:
        """Record a file written back (whole, or the ``ranges`` of a partial file)."""
        details: dict[str, object] = {
            "path": copied.path,
            "target": target,
            "volume": file.volume.label,
        }
        if ranges is None:
            action, details["size"] = V.FILE_RESTORED, copied.size_bytes
        else:
            action, details["ranges"] = V.PARTIAL_FILE_RESTORED, len(ranges)
        done = self.coordinator.sim.trace.record(None, self.name, action, **details, method=method)
        return RestoredFile(
            copied.path,
            target,
            done.seq,
            file.volume.label,
            file.first_block,
            file.block_count,
            ranges,
        )

    # -- one component -------------------------------------------------------------------
    def _restore_component(
        self, record: BackedUpComponent, writer: WriterMetadata
    ) -> Generator[Event, Any, ComponentRestore]:
        """Check every file, then copy each back (or stage it for the reboot)."""
        method = writer.restore_method
        try:
            plan = self._plan(record, writer)
        except _NotRestorable as refused:
            return _not_restored(record, writer, str(refused))
        at_reboot = plan.at_reboot
        sim = self.coordinator.sim
        namespace = self.coordinator.namespace
        restored: list[RestoredFile] = []
        for copied, target in plan.files:
            partial = record.partial_file(copied.path)
            if partial is not None:
                file = _put_ranges(namespace, target, copied, partial, self.name)
                restored.append(self._put_back(copied, target, file, method, partial.ranges))
                continue
            duration = copied.size_bytes * SECOND // self.options.copy_bytes_per_s
            if duration:
                yield sim.timeout(duration)
            if at_reboot:
                namespace.schedule_at_reboot(
                    PendingFileOperation(target, copied.content, copied.block_count, self.name)
                )
                sim.trace.record(
                    None, self.name, V.FILE_STAGED_FOR_REBOOT, path=copied.path, target=target
                )
                restored.append(RestoredFile(copied.path, target, None))
                continue
            existed = namespace.find(target) is not None
            try:
                file = namespace.put_file(target, copied.content, copied.block_count, self.name)
            except ConfigurationError as error:
                status = RestoreStatus.FAILED if restored or existed else RestoreStatus.NONE
                return ComponentRestore(
                    writer.writer_name,
                    record.full_path,
                    method,
                    status,
                    tuple(restored),
                    f"{target} could not be written: {error}",
                )
            restored.append(self._put_back(copied, target, file, method, None))
        for path in plan.removals:
            namespace.delete_file(path)
            sim.trace.record(
                None,
                self.name,
                V.FILE_REMOVED,
                path=path,
                reason=f"not in the {record.full_path} backup of this point",
            )
        return ComponentRestore(
            writer.writer_name,
            record.full_path,
            method,
            RestoreStatus.ALL,
            tuple(restored),
            removed=tuple(plan.removals),
        )

    def _plan(self, record: BackedUpComponent, writer: WriterMetadata) -> _Plan:
        """Where each file goes, whether all wait for the reboot, and which continued files
        to remove; raises _NotRestorable (nothing written) when the method forbids the
        restore."""
        namespace = self.coordinator.namespace
        method = writer.restore_method
        released = {writer.restore_service} if method == RestoreMethod.STOP_RESTORE_START else set()

        def holder(path: str) -> str | None:
            file = namespace.find(path)
            if file is None or file.in_use_by in released:
                return None
            return file.in_use_by

        plan: list[tuple[CopiedFile, str]] = []
        at_reboot = method == RestoreMethod.RESTORE_AT_REBOOT
        for path in record.files:
            copied = self.archive.file(path)
            assert copied is not None  # checked before selection
            alternate = self._alternate(writer, record.logical_path, record.name, path)
            target = path
            if method == RestoreMethod.RESTORE_IF_NOT_THERE:
                if namespace.find(path) is not None:
                    if alternate is None or namespace.find(alternate) is not None:
                        where = f" and at its alternate location {alternate}" if alternate else ""
                        raise _NotRestorable(f"{method.vss_name}: {path} is on disk{where}")
                    target = alternate
            elif method == RestoreMethod.RESTORE_TO_ALTERNATE_LOCATION:
                assert alternate is not None  # checked before selection
                target = alternate
                if holder(target) is not None:
                    raise _NotRestorable(
                        f"{method.vss_name}: {target} is in use by {holder(target)}"
                    )
            elif method in _REPLACE_NOW and holder(path) is not None:
                if method == RestoreMethod.RESTORE_AT_REBOOT_IF_CANNOT_REPLACE:
                    at_reboot = True
                elif method == RestoreMethod.RESTORE_IF_CAN_REPLACE and alternate is not None:
                    target = alternate
                else:
                    raise _NotRestorable(f"{method.vss_name}: {path} is in use by {holder(path)}")
            plan.append((copied, target))
        for copied, target in plan:
            if record.partial_file(copied.path) is None:
                continue
            on_disk = namespace.find(target)
            if at_reboot:
                raise _NotRestorable(
                    f"{copied.path} is a partial file: it cannot wait for the reboot "
                    "(assumption: only whole files are staged)"
                )
            if on_disk is None or on_disk.block_count != copied.block_count:
                raise _NotRestorable(
                    f"{copied.path} is a partial file and {target} is not the file it "
                    "completes: restore the backup it builds on first"
                )
        kept = {normalize(target) for _, target in plan}
        continued = self.continued_files(record.key) or frozenset()
        removals = sorted(
            found.path
            for found in (namespace.find(p) for p in continued if normalize(p) not in kept)
            if found is not None
        )
        for path in removals:
            if at_reboot:
                raise _NotRestorable(
                    f"{path} is gone at this backup, and removing it cannot wait for the "
                    "reboot (assumption: only whole files are staged)"
                )
            if holder(path) is not None:
                raise _NotRestorable(
                    f"{path} is gone at this backup but cannot be removed: it is in use by "
                    f"{holder(path)}"
                )
        return _Plan(plan, at_reboot, removals)

    def _alternate(
        self, writer: WriterMetadata, logical_path: str, name: str, path: str
    ) -> str | None:
        """The alternate location the writer maps ``path`` to, or None."""
        namespace = self.coordinator.namespace
        component = writer.component(logical_path, name)
        for member in writer.members(component):
            for fd in member.all_files:
                if fd.alternate_location is None:
                    continue
                folder = namespace.expand(fd.path).rstrip("\\")
                if namespace.in_scope(path, folder, fd.filespec, fd.recursive):
                    rest = path[len(folder) :].lstrip("\\")
                    return namespace.expand(fd.alternate_location).rstrip("\\") + "\\" + rest
        return None

    # -- the end -------------------------------------------------------------------------
    def _writer_failed(
        self, class_id: uuid.UUID, reason: str, outcomes: dict[BackedUpComponent, ComponentRestore]
    ) -> None:
        """Mark the restored components of a writer that failed after the copy."""
        for record, outcome in outcomes.items():
            if record.writer_class_id == class_id and outcome.status != RestoreStatus.NONE:
                outcomes[record] = attrs.evolve(outcome, reason=reason)

    def _finish(
        self,
        outcomes: dict[BackedUpComponent, ComponentRestore],
        statuses: tuple[WriterStatus, ...],
        started_us: int,
    ) -> RestoreResult:
        sim = self.coordinator.sim
        components = tuple(outcomes[r] for r in self._chosen)
        restored = [c for c in components if c.restored]
        if len(restored) == len(components):
            outcome, message = Outcome.SUCCEEDED, "restore complete"
        else:
            outcome = Outcome.PARTIAL if restored else Outcome.FAILED
            message = (
                f"{len(restored)} of {len(components)} components restored; not restored: "
                + "; ".join(str(c) for c in components if not c.restored)
            )
        self.result = RestoreResult(
            self.name, outcome, message, components, statuses, started_us, sim.now
        )
        sim.trace.record(
            None,
            self.name,
            V.RESTORE_RESULT,
            outcome=outcome.value,
            restored=[c.component for c in restored],
            not_restored={c.component: c.reason for c in components if not c.restored},
            pending_reboot=[f.target for f in self.result.files if f.pending_reboot],
        )
        return self.result


def _a(kind: BackupType) -> str:
    """``kind`` with its article, as a message says it: "an incremental", "a differential"."""
    name = kind.name.lower()
    return f"{'an' if name[0] in 'aeiou' else 'a'} {name}"


def _not_restored(
    record: BackedUpComponent, writer: WriterMetadata | None, reason: str
) -> ComponentRestore:
    method = writer.restore_method if writer is not None else RestoreMethod.UNDEFINED
    return ComponentRestore(
        record.writer_name, record.full_path, method, RestoreStatus.NONE, (), reason
    )


def reboot(sim: Simulation, namespace: Namespace) -> tuple[RestoredFile, ...]:
    """Restart the host: the Session Manager applies the pending file operations in order
    (``PendingFileRenameOperations``). Returns the files it put in place."""
    pending = namespace.take_pending_operations()
    sim.trace.record(None, SESSION_MANAGER, V.REBOOT, pending=len(pending))
    applied = []
    for op in pending:
        file = namespace.put_file(op.path, op.content, op.block_count, op.origin)
        done = sim.trace.record(
            None, SESSION_MANAGER, V.PENDING_FILE_OPERATION_APPLIED, path=op.path, by=op.origin
        )
        applied.append(
            RestoredFile(
                op.path, op.path, done.seq, file.volume.label, file.first_block, file.block_count
            )
        )
    sim.trace.record(None, SESSION_MANAGER, V.REBOOTED)
    return tuple(applied)


def verify_restore(
    namespace: Namespace, archive: BackupArchive, files: Iterable[RestoredFile]
) -> list[str]:
    """Compare every restored file, at the instant it was restored, with the backed-up data.

    The content is rebuilt from the volume's write history at the file's record, so later
    writes (an application started again) do not hide a bad restore. Returns the mismatches;
    a file still waiting for a reboot is one.
    """
    _args.check_instance("namespace", namespace, Namespace, "a Namespace")
    _args.check_instance("archive", archive, BackupArchive, "a BackupArchive")
    if isinstance(files, (str, bytes, Mapping)) or not isinstance(files, Iterable):
        raise _args.invalid("files", "expected RestoredFiles")
    files = tuple(files)
    _args.check_items("files", files, RestoredFile, "RestoredFiles")
    problems = []
    for restored in files:
        if restored.seq is None:
            problems.append(f"{restored.target}: still waits for a reboot")
            continue
        copied = archive.file(restored.path)
        if copied is None:
            problems.append(f"{restored.path}: the archive holds no data of it")
            continue
        volume = namespace.volume_labelled(restored.volume)
        first, count = restored.first_block, restored.block_count
        at = volume.content_at(restored.seq)
        got = {
            b - first: d
            for b, d in sorted(at.items())
            if first <= b < first + count and not reads_as_zeros(d)
        }
        expected = copied.content
        if restored.ranges is not None:  # a partial file: only its ranges were written
            size = namespace.volume_labelled(restored.volume).block_size
            written = set(partial_blocks(restored.ranges, size, count))
            got = {i: d for i, d in got.items() if i in written}
            expected = {i: d for i, d in expected.items() if i in written}
        if got != expected or count != copied.block_count:
            differing = sorted(
                set(got) ^ set(expected)
                | {i for i in got if i in expected and got[i] != expected[i]}
            )
            problems.append(f"{restored.target}: blocks {differing[:5]} differ from the backup")
    return problems


def _put_ranges(
    namespace: Namespace, target: str, copied: CopiedFile, partial: PartialFile, origin: str
) -> File:
    """Write a partial file's ranges into the file at ``target`` (checked to be there, of the
    backed-up size): each block of the ranges gets the backed-up data, or zeros."""
    file = namespace.file(target)
    volume = file.volume
    content = copied.content
    for index in partial_blocks(partial.ranges, volume.block_size, file.block_count):
        address = file.block_address(index)
        wanted, current = content.get(index), volume.read(address)
        if wanted == current or (reads_as_zeros(wanted) and reads_as_zeros(current)):
            continue
        volume.write(address, wanted if wanted is not None else b"", origin)
    return file


# -- chains of backups -------------------------------------------------------------------------


@attrs.frozen
class RestoreStep:
    """One restore of a chain: these components of this archive, and those of them whose
    chain goes on (``SetAdditionalRestores``)."""

    archive: BackupArchive
    components: tuple[BackedUpComponent, ...]
    additional_restores: frozenset[ComponentKey] = frozenset()


def restore_plan(
    archives: Sequence[BackupArchive], point: BackupArchive | None = None
) -> tuple[RestoreStep, ...]:
    """The restores that bring back the components of ``point`` (default: the last archive)
    as they were at its backup, from ``archives`` (oldest first, ``point`` among them).

    Each component's chain follows its previous backup stamps back: an incremental's to the
    full or incremental it builds on, and so on to a backup that builds on none (a full, a
    copy, a log backup, or a first backup); a differential's straight to its full. The steps
    are the archives of those chains, oldest first, each with the components it restores.
    A stamp no earlier archive set is ``VSS_E_OBJECT_NOT_FOUND``; so is a ``point`` not in
    ``archives``.
    """
    archives = list(_check_archives(archives))
    if point is not None:
        _args.check_instance("point", point, BackupArchive, "a BackupArchive or None")
    if not archives:
        raise VssError(HResult.VSS_E_OBJECT_NOT_FOUND, "no backup to restore")
    index = len(archives) - 1 if point is None else _index(archives, point)
    steps: dict[int, list[BackedUpComponent]] = {}
    for component in archives[index].document.components:
        chain = [(index, component)]
        while chain[0][1].previous_backup_stamp:
            chain.insert(0, _base(archives, *chain[0]))
        for at, record in chain:
            steps.setdefault(at, []).append(record)
    return tuple(
        RestoreStep(archives[at], tuple(records), frozenset(r.key for r in records if at < index))
        for at, records in sorted(steps.items())
    )


def _check_archives(archives: object) -> tuple[BackupArchive, ...]:
    """``archives``: a sequence of :class:`BackupArchive` (``E_INVALIDARG`` otherwise)."""
    items = _args.check_items("archives", archives, BackupArchive, "BackupArchives")
    return tuple(a for a in items if isinstance(a, BackupArchive))


def _index(archives: Sequence[BackupArchive], point: BackupArchive) -> int:
    for at, archive in enumerate(archives):
        if archive is point:
            return at
    for at, archive in enumerate(archives):
        if archive == point:
            return at
    raise VssError(
        HResult.VSS_E_OBJECT_NOT_FOUND,
        f"the backup of {point.document.time_us} us to restore is not among the archives",
    )


def _base(
    archives: Sequence[BackupArchive], at: int, record: BackedUpComponent
) -> tuple[int, BackedUpComponent]:
    """The earlier backup of ``record``'s component (logical path and name compared as VSS
    does, case-insensitively) whose stamp it builds on."""
    stamp = record.previous_backup_stamp
    key = record.key.folded
    for earlier in range(at - 1, -1, -1):
        for c in archives[earlier].document.components:
            if c.key.folded == key and c.backup_stamp == stamp:
                return earlier, c
    raise VssError(
        HResult.VSS_E_OBJECT_NOT_FOUND,
        f"{record.writer_name}:{record.full_path}: no earlier backup among the archives has "
        f"the stamp {stamp!r} its {archives[at].document.backup_type.vss_name} backup builds on",
    )


def restore_chain(
    coordinator: Coordinator,
    archives: Sequence[BackupArchive],
    point: BackupArchive | None = None,
    options: RestoreOptions | None = None,
    *,
    name: str = "VSSBAR restore",
) -> tuple[RestoreResult, ...]:
    """Run the restores of :func:`restore_plan` one after the other, each to its end; returns
    their results.

    Each restore after the first of a component's chain continues it
    (:attr:`RestoreAgent.continues`): its partial files are written into the files the
    earlier restores put back, and a file they put back that this backup's document no longer
    lists (deleted, or renamed, between the backups) is removed, so that the component's
    files are those of the point. (The document lists every file of each component an
    incremental or differential backed up: vsssim's requester records them.) A component a
    step did not restore is left out of the later steps (its partial files would complete the
    wrong file), and stays reported as not restored.
    """
    _args.check_instance("coordinator", coordinator, Coordinator, "a Coordinator")
    _check_archives(archives)
    if options is not None:
        _args.check_instance("options", options, RestoreOptions, "RestoreOptions or None")
    _args.check_str("name", name, empty=False)
    sim = coordinator.sim
    chain = ChainRestore(coordinator, options or RestoreOptions())
    results = []
    for step in restore_plan(archives, point):
        agent = chain.agent(step, name)
        if agent is None:
            continue
        result: RestoreResult = sim.run(until=sim.process(agent.run(), name))
        chain.finished(agent, result)
        results.append(result)
    return tuple(results)


@attrs.define(eq=False)
class ChainRestore:
    """The restores of one chain, one after the other (what :func:`restore_chain` runs, and
    :meth:`World.restore_backups <vsssim.host.world.World.restore_backups>` inside its process):
    each step's agent continues the components the earlier steps restored, and leaves out
    those a step did not."""

    coordinator: Coordinator
    options: RestoreOptions = attrs.field(factory=RestoreOptions)
    #: The components (folded keys) a step did not restore.
    _failed: set[ComponentKey] = attrs.field(factory=set, init=False)
    #: Per component (folded key): the files its chain's restores left on disk so far.
    _on_disk: dict[ComponentKey, frozenset[str]] = attrs.field(factory=dict, init=False)

    def agent(self, step: RestoreStep, name: str) -> RestoreAgent | None:
        """The agent of ``step`` (its components the earlier steps did not fail), or None if
        none is left."""
        records = [c for c in step.components if c.key.folded not in self._failed]
        if not records:
            return None
        selection = [ComponentSelector(str(c.writer_class_id), c.full_path) for c in records]
        return RestoreAgent(
            self.coordinator,
            name,
            step.archive,
            selection,
            self.options,
            step.additional_restores,
            {c.key: self._on_disk[c.key.folded] for c in records if c.key.folded in self._on_disk},
        )

    def finished(self, agent: RestoreAgent, result: RestoreResult) -> None:
        """Take note of what a step's agent restored."""
        for record, outcome in zip(agent.chosen, result.components, strict=True):
            if outcome.restored:
                self._on_disk[record.key.folded] = frozenset(f.target for f in outcome.files)
            else:
                self._failed.add(record.key.folded)
