"""The restore agent: a requester that puts components of a backup back, writer by writer,
through ``IVssBackupComponents``' restore sequence (see :mod:`vsssim.requesters.restore`)."""

from __future__ import annotations

import itertools
from collections.abc import Generator, Mapping, Sequence
from typing import Any

import attrs

from vsssim.errors import ConfigurationError, HResult, VssError
from vsssim.requesters.archive import BackupArchive
from vsssim.requesters.backup_result import CopiedFile, Outcome
from vsssim.requesters.restore_methods import NotRestorable, plan_component, unrestorable
from vsssim.requesters.restore_result import (
    ComponentRestore,
    RestoredFile,
    RestoreOptions,
    RestoreResult,
)
from vsssim.requesters.selection import ComponentSelector
from vsssim.sim import vocabulary as V
from vsssim.sim.kernel import SECOND, Event, ProcessGenerator
from vsssim.vss import _args
from vsssim.vss.backup_types import partial_blocks
from vsssim.vss.constants import RestoreMethod, RestoreStatus
from vsssim.vss.coordinator.service import WriterStatus
from vsssim.vss.coordinator.session import BackupComponents, Coordinator
from vsssim.vss.documents.backup_document import BackedUpComponent, PartialFile
from vsssim.vss.metadata import ComponentKey, Documents, WriterMetadata, document_of
from vsssim.vss.namespace import File, PendingFileOperation, reads_as_zeros


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
        for continued, files in self.continues.items():
            if continued.names(key):
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
            documents = Documents((yield bc.gather_writer_metadata()))
            writer_of = {r: _writer_of(documents, r) for r in self._chosen}
            selected = self._select(bc, writer_of, outcomes)
            pre = yield bc.pre_restore()
            failed_pre = {
                w.instance_id: f"{w.name} failed OnPreRestore: "
                f"{w.state_in(bc.session_id).vss_name}, {hresult.name}"
                for w, hresult in pre.items()
                if hresult != HResult.S_OK
            }
            for _, group in itertools.groupby(selected, key=lambda c: c.writer_instance_id):
                records = list(group)
                writer = writer_of[records[0]]
                assert writer is not None  # selected: its writer answered
                yield from self.restore_writer(
                    bc, writer, records, failed_pre.get(writer.writer_instance_id), outcomes
                )
            post = yield bc.post_restore()
            for w, hresult in post.items():
                if hresult != HResult.S_OK:
                    reason = (
                        f"files restored, but {w.name} failed OnPostRestore: "
                        f"{w.state_in(bc.session_id).vss_name}, {hresult.name}"
                    )
                    for record, outcome in outcomes.items():
                        of = writer_of.get(record)
                        if (
                            of is not None
                            and of.writer_instance_id == w.instance_id
                            and outcome.status != RestoreStatus.NONE
                        ):
                            outcomes[record] = attrs.evolve(outcome, reason=reason)
            for writer in documents:
                restarted = writer.restore_method == RestoreMethod.RESTORE_STOP_START
                if restarted and any(
                    c.files for r, c in outcomes.items() if writer_of.get(r) is writer
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
        writer_of: Mapping[BackedUpComponent, WriterMetadata | None],
        outcomes: dict[BackedUpComponent, ComponentRestore],
    ) -> list[BackedUpComponent]:
        """SetSelectedForRestore for every chosen component the agent can restore."""
        selected = []
        for record in self._chosen:
            writer = writer_of[record]
            try:
                reason = unrestorable(
                    self.coordinator.namespace,
                    self.archive,
                    record,
                    writer,
                    self.continued_files(record.key) is not None,
                )
                if not reason:
                    # No writer of its class answered: SetSelectedForRestore refuses it.
                    instance = writer.writer_instance_id if writer is not None else None
                    bc.set_selected_for_restore(
                        record.writer_class_id,
                        record.logical_path,
                        record.name,
                        instance_id=instance,
                    )
                    if any(k.names(record.key) for k in self.additional_restores):
                        bc.set_additional_restores(
                            record.writer_class_id,
                            record.logical_path,
                            record.name,
                            True,
                            instance_id=instance,
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

    def restore_writer(
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
                outcome = yield from self.restore_component(record, writer)
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
                record.writer_class_id,
                record.logical_path,
                record.name,
                outcome.status,
                instance_id=writer.writer_instance_id,
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
        file.volume.keep_image(done.seq)  # verify_restore reads the file as restored
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
    def restore_component(
        self, record: BackedUpComponent, writer: WriterMetadata
    ) -> Generator[Event, Any, ComponentRestore]:
        """Check every file, then copy each back (or stage it for the reboot). A step a
        subclass may override (tests plant restore bugs here)."""
        method = writer.restore_method
        continued = self.continued_files(record.key) or frozenset()
        try:
            plan = plan_component(
                self.coordinator.namespace, self.archive, record, writer, continued
            )
        except NotRestorable as refused:
            return _not_restored(record, writer, str(refused))
        sim = self.coordinator.sim
        namespace = self.coordinator.namespace
        restored: list[RestoredFile] = []
        for copied, target in plan.files:
            partial = record.partial_file(copied.path)
            if partial is None and copied.ranges is not None:  # differenced, not copied
                partial = PartialFile(copied.path, copied.ranges)
            if partial is not None:
                file = self.put_ranges(target, copied, partial)
                restored.append(self._put_back(copied, target, file, method, partial.ranges))
                continue
            failed = yield from self._write_whole(
                record, writer, copied, target, plan.at_reboot, restored
            )
            if failed is not None:
                return failed
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

    def _write_whole(
        self,
        record: BackedUpComponent,
        writer: WriterMetadata,
        copied: CopiedFile,
        target: str,
        at_reboot: bool,
        restored: list[RestoredFile],
    ) -> Generator[Event, Any, ComponentRestore | None]:
        """Copy a whole file back to ``target`` (or stage it for the reboot), taking the time
        the copy takes, and add it to ``restored``; the value: the component's failed
        restore if the file could not be written, else None."""
        sim = self.coordinator.sim
        namespace = self.coordinator.namespace
        method = writer.restore_method
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
            return None
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
        return None

    def put_ranges(self, target: str, copied: CopiedFile, partial: PartialFile) -> File:
        """Write a partial file's ranges into the file at ``target`` (checked to be there, of
        the backed-up size): each block of the ranges gets the backed-up data, or zeros.

        The one step that writes a partial file: a harness that overrides it (in a subclass,
        or on the class) plants a restore that reports ranges it did not write, which the
        restore invariants must catch."""
        namespace = self.coordinator.namespace
        file = namespace.file(target)
        volume = file.volume
        content = copied.content
        for index in partial_blocks(partial.ranges, volume.block_size, file.block_count):
            address = file.block_address(index)
            wanted, current = content.get(index), volume.read(address)
            if wanted == current or (reads_as_zeros(wanted) and reads_as_zeros(current)):
                continue
            volume.write(address, wanted if wanted is not None else b"", self.name)
        return file

    # -- the end -------------------------------------------------------------------------
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


def _not_restored(
    record: BackedUpComponent, writer: WriterMetadata | None, reason: str
) -> ComponentRestore:
    method = writer.restore_method if writer is not None else RestoreMethod.UNDEFINED
    return ComponentRestore(
        record.writer_name, record.full_path, method, RestoreStatus.NONE, (), reason
    )


def _writer_of(
    documents: Sequence[WriterMetadata], record: BackedUpComponent
) -> WriterMetadata | None:
    """The running writer a backed-up component goes back to: the instance that backed it up,
    else (its instance id changed, as after a reinstall) the first instance of its class;
    None if no writer of its class answered."""
    return document_of(documents, record.writer_class_id, record.writer_instance_id) or document_of(
        documents, record.writer_class_id, None
    )
