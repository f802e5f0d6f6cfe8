"""The backup agent (the seed's VSSBAR agent): the seven phases on the requester API.

The agent never talks to writers: everything goes through :class:`BackupComponents`, exactly
as a harness author's own requester would, in the order VSS enforces (README, "The seven
phases and the VSS calls"). Its run is a process whose value is a :class:`BackupResult`; a
failure ends in a clean abort and a result that says what failed. In a writerless context
(``VSS_CTX_FILE_SHARE_BACKUP``, ``NAS_ROLLBACK``, ``CLIENT_ACCESSIBLE``) it copies the selected
components' files from shadow copies made without the writers: no AddComponent,
PrepareForBackup, SetBackupSucceeded or BackupComplete, which such a context refuses.
"""

from __future__ import annotations

import uuid
from collections.abc import Generator, Mapping, Sequence
from typing import Any

import attrs

from vsssim.errors import HResult, VssError
from vsssim.requesters.backup_options import AgentOptions
from vsssim.requesters.backup_result import Attempt, BackupResult, CopiedFile, Outcome
from vsssim.requesters.selection import (
    ComponentSelector,
    LeftOut,
    Selection,
    find_component,
    resolve_selection,
)
from vsssim.requesters.writer_status_policy import WriterStatusFailure, check_writer_status
from vsssim.sim import vocabulary as V
from vsssim.sim.kernel import SECOND, Event, ProcessGenerator
from vsssim.vss import _args
from vsssim.vss.backup_types import (
    block_runs,
    component_files,
    effective_type,
    last_modified_us,
    partial_blocks,
    previous_backup_stamp,
)
from vsssim.vss.constants import BackupType
from vsssim.vss.coordinator.service import SnapshotSet, WriterStatus
from vsssim.vss.coordinator.session import BackupComponents, Coordinator
from vsssim.vss.documents.backup_document import BackedUpComponent, BackupComponentsDocument
from vsssim.vss.metadata import ComponentKey, Documents, WriterMetadata
from vsssim.vss.namespace import File


@attrs.define
class _Progress:
    """What a backup attempt has gathered so far, for the result whatever happens next."""

    started_us: int
    components: tuple[str, ...] = ()
    volumes: tuple[str, ...] = ()
    snapshot_set_id: uuid.UUID | None = None
    commit_seq: int | None = None
    files: tuple[CopiedFile, ...] = ()
    writer_status: tuple[WriterStatus, ...] = ()
    skipped: list[LeftOut] = attrs.field(factory=list)
    document: BackupComponentsDocument | None = None
    #: The attempt ended on a writer status the agent will not retry (its policy said fail).
    final: bool = False


class _AgentDied(Exception):
    """The agent's process ends here (a fault): no further call, no cleanup of its own."""


@attrs.define(eq=False)
class BackupAgent:
    """A VSSBAR agent: backs up ``selection`` through ``coordinator`` when its process runs."""

    coordinator: Coordinator
    name: str
    selection: Sequence[ComponentSelector]
    options: AgentOptions = attrs.field(factory=AgentOptions)
    result: BackupResult | None = attrs.field(default=None, init=False)
    _retries_left: bool = attrs.field(default=False, init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        _args.check_instance("coordinator", self.coordinator, Coordinator, "a Coordinator")
        _args.check_str("name", self.name, empty=False)
        _args.check_items("selection", self.selection, ComponentSelector, "ComponentSelectors")
        _args.check_instance("options", self.options, AgentOptions, "AgentOptions")

    def run(self) -> ProcessGenerator:
        """The agent's process; its value (and ``self.result``) is the :class:`BackupResult`."""
        sim = self.coordinator.sim
        options = self.options
        started = sim.now
        attempts: list[Attempt] = []
        excluded: list[str] = []
        while True:
            bc = self.coordinator.create_backup_components(self.name)
            progress = _Progress(started_us=sim.now)
            self._retries_left = len(attempts) < options.retry.retries
            try:
                hresult, message = yield from self._attempt(bc, progress, excluded)
            except _AgentDied as died:
                sim.trace.record(None, self.name, V.AGENT_DIED, before=str(died))
                bc.requester_gone()
                return self._finish(
                    progress,
                    attempts,
                    started,
                    Outcome.AGENT_DIED,
                    HResult.E_UNEXPECTED,
                    f"{self.name} died before {died}",
                )
            statuses = progress.writer_status
            failed = tuple(s.writer_name for s in statuses if s.failed)
            attempts.append(
                Attempt(len(attempts) + 1, hresult, message, failed, progress.started_us, sim.now)
            )
            if hresult == HResult.S_OK:
                partial = bool(progress.skipped)
                return self._finish(
                    progress,
                    attempts,
                    started,
                    Outcome.PARTIAL if partial else Outcome.SUCCEEDED,
                    hresult,
                    "backup complete"
                    + (
                        f" without {', '.join(c.component for c in progress.skipped)}"
                        if partial
                        else ""
                    ),
                )
            newly_failed = [w for w in failed if w not in excluded]
            if progress.final:
                return self._finish(progress, attempts, started, Outcome.FAILED, hresult, message)
            if len(attempts) <= options.retry.retries and options.retry.allows(hresult, statuses):
                reason = f"{hresult.name} is retryable"
                delay = options.retry.delay_us
            elif (
                options.skip_failed_writers
                and newly_failed
                and not set(newly_failed) & set(options.critical_writers)
            ):
                excluded.extend(newly_failed)
                reason = f"going on without {', '.join(newly_failed)}"
                delay = 0
            else:
                return self._finish(progress, attempts, started, Outcome.FAILED, hresult, message)
            sim.trace.record(
                None, self.name, V.RETRY, attempt=len(attempts) + 1, reason=reason, wait_us=delay
            )
            if delay:
                yield sim.timeout(delay)

    def _finish(
        self,
        progress: _Progress,
        attempts: Sequence[Attempt],
        started_us: int,
        outcome: Outcome,
        hresult: HResult,
        message: str,
    ) -> BackupResult:
        self.result = BackupResult(
            agent=self.name,
            outcome=outcome,
            hresult=hresult,
            message=message,
            components=progress.components,
            volumes=progress.volumes,
            snapshot_set_id=progress.snapshot_set_id,
            commit_seq=progress.commit_seq,
            files=progress.files,
            writer_status=progress.writer_status,
            started_us=started_us,
            finished_us=self.coordinator.sim.now,
            attempts=tuple(attempts),
            skipped=tuple(c.component for c in progress.skipped),
            left_out=tuple(progress.skipped),
            document=progress.document,
        )
        self.coordinator.sim.trace.record(
            None,
            self.name,
            V.BACKUP_RESULT,
            outcome=outcome.value,
            result=hresult,
            attempts=len(attempts),
        )
        return self.result

    def _step(self, step: str) -> None:
        """The point before ``step``: where an injected fault can end the agent's process."""
        if self.coordinator.hooks.agent_dies(self.name, step):
            raise _AgentDied(step)

    def _attempt(
        self, bc: BackupComponents, progress: _Progress, excluded: Sequence[str]
    ) -> Generator[Event, Any, tuple[HResult, str]]:
        """One try; the value is (HRESULT, message). A failed try is aborted and released."""
        sim = self.coordinator.sim
        try:
            yield from self._backup(bc, progress, excluded)
        except VssError as error:
            sim.trace.record(
                None, self.name, V.BACKUP_FAILED, result=error.hresult, reason=error.message
            )
            progress.final = isinstance(error, WriterStatusFailure) and not error.retry
            if bc.allows("abort_backup"):
                self._step("AbortBackup")
                yield bc.abort_backup()
            if bc.allows("gather_writer_status"):
                self._step("GatherWriterStatus")
                progress.writer_status = tuple((yield bc.gather_writer_status()))
            if bc.allows("release"):
                self._step("Release")
                yield bc.release()
            return error.hresult, error.message
        return HResult.S_OK, "backup complete"

    def _backup(
        self, bc: BackupComponents, progress: _Progress, excluded: Sequence[str]
    ) -> ProcessGenerator:
        """The seven phases, then the copy, the report and the cleanup."""
        metadata = yield from self._start(bc)
        selection, kinds = self._select(bc, metadata, progress, excluded)
        yield from self._prepare(bc, selection)
        snapshot_set = yield from self._create_set(bc, progress)
        copied_of = yield from self._copy_files(bc, metadata, selection, kinds, progress)
        yield from self._complete(bc, snapshot_set, copied_of, progress)

    def _start(self, bc: BackupComponents) -> Generator[Event, Any, Documents]:
        """Phases 1 and 2: tell VSS a backup is starting (and the kind of shadow copies it
        makes: SetContext comes before most calls); VSS returns the writers' metadata."""
        step = self._step
        options = self.options
        step("InitializeForBackup")
        bc.initialize_for_backup()
        step("SetContext")
        bc.set_context(options.context)
        step("SetBackupState")
        partial_file_support = options.backup_type in (
            BackupType.INCREMENTAL,
            BackupType.DIFFERENTIAL,
        )
        bc.set_backup_state(True, False, options.backup_type, partial_file_support)
        step("GatherWriterMetadata")
        metadata: list[WriterMetadata] = yield bc.gather_writer_metadata()
        return Documents(metadata)  # indexed once: looked up per component below

    def _select(
        self,
        bc: BackupComponents,
        metadata: Sequence[WriterMetadata],
        progress: _Progress,
        excluded: Sequence[str],
    ) -> tuple[Selection, dict[uuid.UUID, BackupType]]:
        """Phase 3: find the selected components and their volumes, add them to the document;
        also what each writer takes part in (the type asked for, or a full if its schema
        lacks it)."""
        selection = resolve_selection(
            self.coordinator.namespace, metadata, self.selection, excluded
        )
        progress.components = tuple(k.full_path for k in selection.components)
        progress.volumes = tuple(v.label for v in selection.volumes)
        progress.skipped = list(selection.left_out)
        self.coordinator.sim.trace.record(
            3,
            self.name,
            V.COMPONENTS_SELECTED,
            components=[k.full_path for k in selection.components],
            pulled_in=[k.full_path for k in selection.pulled_in],
            left_out=[c.component for c in selection.left_out],
            volumes=[v.label for v in selection.volumes],
        )
        if not selection.components:
            raise VssError(
                HResult.VSS_E_OBJECT_NOT_FOUND,
                f"nothing left to back up without {', '.join(excluded)}",
            )
        kinds = self._kinds(metadata, selection)
        if not bc.writers_take_part:
            return selection, kinds  # no component goes into the document
        for key in selection.components:
            self._step("AddComponent")
            instance = _instance(key)
            bc.add_component(key.writer_class_id, key.logical_path, key.name, instance_id=instance)
            kind = kinds[instance]
            stamp = previous_backup_stamp(self.options.history, key, kind)
            if stamp is not None:
                self._step("SetPreviousBackupStamp")
                bc.set_previous_backup_stamp(
                    key.writer_class_id, key.logical_path, key.name, stamp, instance_id=instance
                )
        return selection, kinds

    def _kinds(
        self, writers: Sequence[WriterMetadata], selection: Selection
    ) -> dict[uuid.UUID, BackupType]:
        """Per writer instance of the selection: the backup type it takes part in (traced
        when it is not the type asked for)."""
        asked = self.options.backup_type
        kinds: dict[uuid.UUID, BackupType] = {}
        for key in selection.components:
            writer, _ = find_component(writers, key)
            instance = writer.writer_instance_id
            kind = effective_type(writer.backup_schema, asked)
            if instance not in kinds and kind != asked:
                self.coordinator.sim.trace.record(
                    3,
                    self.name,
                    V.BACKUP_TYPE_NOT_SUPPORTED,
                    writer=writer.writer_name,
                    backup_type=asked,
                    backup_schema=writer.backup_schema,
                    instead=kind,
                )
            kinds[instance] = kind
        return kinds

    def _prepare(self, bc: BackupComponents, selection: Selection) -> ProcessGenerator:
        """Phase 4: the shadow copy set is defined, then the writers hear PrepareForBackup
        (StartSnapshotSet must come first; a writerless context has no PrepareForBackup)."""
        yield from self._define_set(bc, selection)
        if not bc.writers_take_part:
            return
        self._step("PrepareForBackup")
        yield bc.prepare_for_backup()
        yield from self._check_status(bc, V.PREPARE_FOR_BACKUP)

    def _create_set(
        self, bc: BackupComponents, progress: _Progress
    ) -> Generator[Event, Any, SnapshotSet]:
        """Phases 5-7: VSS creates the set; the agent asks what it made."""
        self._step("DoSnapshotSet")
        creating = bc.do_snapshot_set()
        self._step("DoSnapshotSet wait")
        snapshot_set: SnapshotSet = yield creating
        progress.snapshot_set_id = snapshot_set.set_id
        if snapshot_set.snapshots:
            progress.commit_seq = snapshot_set.snapshots[0].commit_seq
        for snapshot in snapshot_set.snapshots:
            self._step("GetSnapshotProperties")
            bc.get_snapshot_properties(snapshot.snapshot_id)
        return snapshot_set

    def _copy_files(
        self,
        bc: BackupComponents,
        metadata: Sequence[WriterMetadata],
        selection: Selection,
        kinds: Mapping[uuid.UUID, BackupType],
        progress: _Progress,
    ) -> Generator[Event, Any, dict[ComponentKey, list[str]]]:
        """After phase 7: copy the files of the components whose writers did not fail (the
        partial files writers asked for, of incrementals and differentials, in part); report
        each component's success. The value: each copied component's files."""
        step = self._step
        writers_take_part = bc.writers_take_part
        failed_writers: dict[uuid.UUID, str] = {}
        if writers_take_part:
            skipped = yield from self._check_status(bc, V.DO_SNAPSHOT_SET)
            failed_writers = {
                s.writer_instance_id: f"its writer {s.writer_name} is {s.state.vss_name} with "
                f"{s.failure.name} after {V.DO_SNAPSHOT_SET}"
                for s in skipped
            }
        # GetWriterComponents: the partial files writers asked for (incrementals, differentials).
        reported = {c.key: c for c in bc.get_writer_components()}
        copied: list[CopiedFile] = []
        copied_of: dict[ComponentKey, list[str]] = {}
        for key in selection.components:
            writer, component = find_component(metadata, key)
            ok = writer.writer_instance_id not in failed_writers
            if ok:
                step("copy")
                logs_only = kinds[writer.writer_instance_id] == BackupType.LOG
                files = component_files(
                    self.coordinator.namespace, writer, component, logs_only=logs_only
                )
                entry = reported.get(key)
                for file in files:
                    if entry is not None and self._unchanged(bc, entry, file):
                        copied.append(_not_copied(file))
                        continue
                    partial = entry.partial_file(file.path) if entry is not None else None
                    ranges = None if partial is None else partial.ranges
                    copied.append((yield from self._copy(bc, file, ranges)))
                copied_of[key] = [f.path for f in files]
            else:
                progress.skipped.append(
                    LeftOut(key.full_path, failed_writers[writer.writer_instance_id])
                )
            if not writers_take_part:
                continue  # no component was added: nothing to report
            step("SetBackupSucceeded")
            bc.set_backup_succeeded(
                key.writer_class_id,
                key.logical_path,
                key.name,
                ok,
                instance_id=writer.writer_instance_id,
            )
        progress.files = tuple(copied)
        return copied_of

    def _unchanged(self, bc: BackupComponents, component: BackedUpComponent, file: File) -> bool:
        """Whether ``file`` is one of ``component``'s differenced files (``GetDifferencedFile``)
        not modified, in its shadow copy, since the time its writer gave: a requester leaves
        it out of an incremental or differential (the trace says so)."""
        namespace = self.coordinator.namespace
        for spec in component.differenced_files:
            if file not in namespace.match(spec.path, spec.filespec, spec.recursive):
                continue
            modified = last_modified_us(file, bc.snapshot_for(file.volume).commit_seq)
            if modified > spec.last_modify_time_us:
                return False
            self.coordinator.sim.trace.record(
                None,
                self.name,
                V.DIFFERENCED_FILE_UNCHANGED,
                path=file.path,
                last_modified_us=modified,
                since_us=spec.last_modify_time_us,
            )
            return True
        return False

    def _check_status(
        self, bc: BackupComponents, after: str
    ) -> Generator[Event, Any, list[WriterStatus]]:
        """GatherWriterStatus after the call ``after`` ("Writer Errors and Vetoes"), and the
        agent's decision about each failed writer; the value is the writers left out."""
        self._step("GatherWriterStatus")
        statuses: list[WriterStatus] = yield bc.gather_writer_status()
        options = self.options
        return check_writer_status(
            self.coordinator.sim,
            self.name,
            after,
            statuses,
            options.on_writer_failure,
            critical=options.critical_writers,
            retryable=options.retry.retryable,
            retries_left=self._retries_left,
        )

    def _complete(
        self,
        bc: BackupComponents,
        snapshot_set: SnapshotSet,
        copied_of: Mapping[ComponentKey, list[str]],
        progress: _Progress,
    ) -> ProcessGenerator:
        """BackupComplete, the writers' last word, the document; then the set is kept or
        deleted, and the session released."""
        step = self._step
        options = self.options
        if bc.writers_take_part:
            step("BackupComplete")
            yield bc.backup_complete()
            step("GatherWriterStatus")
            progress.writer_status = tuple((yield bc.gather_writer_status()))
        progress.document = bc.save_as_document(copied_of)
        if options.replica is not None and options.replica.track_for_instant_recovery:
            self.coordinator.sim.trace.record(
                None,
                self.name,
                V.REPLICA_TRACKED_FOR_INSTANT_RECOVERY,
                set_id=str(snapshot_set.set_id),
                volumes=[s.volume.label for s in snapshot_set.snapshots],
            )
        if not options.keeps_snapshots:
            step("DeleteSnapshots")
            bc.delete_snapshots(snapshot_set.set_id)
        step("Release")
        yield bc.release()

    def _define_set(self, bc: BackupComponents, selection: Selection) -> ProcessGenerator:
        coordinator = self.coordinator
        sim = coordinator.sim
        deadline = sim.now + self.options.lock_wait_us
        while True:
            try:
                self._step("StartSnapshotSet")
                bc.start_snapshot_set()
                break
            except VssError as refused:
                if refused.hresult != HResult.VSS_E_SNAPSHOT_SET_IN_PROGRESS:
                    raise
                if sim.now >= deadline:
                    raise VssError(
                        refused.hresult,
                        f"{self.name} waited {self.options.lock_wait_us / SECOND:g} s for its "
                        f"turn to define a shadow copy set and gave up: {refused.message}",
                    ) from None
                sim.trace.record(4, self.name, V.WAITING_FOR_THE_SET_LOCK, reason=refused.message)
                released = coordinator.set_lock_released()
                timer = sim.timeout(min(self.options.lock_retry_us, deadline - sim.now))
                yield sim.any_of([released, timer])
                timer.cancel()
        wanted = self.options.provider_id
        for volume in selection.volumes:
            path = coordinator.namespace.mount_point_of(volume)
            provider_id = wanted
            if wanted is not None and self.options.allow_fallback:
                self._step("IsVolumeSupported")
                if not bc.is_volume_supported(path, wanted):
                    sim.trace.record(
                        4, self.name, V.PROVIDER_FALLBACK, volume=volume.label, provider=str(wanted)
                    )
                    provider_id = None
            self._step("AddToSnapshotSet")
            bc.add_to_snapshot_set(path, provider_id)
        if self.options.replica is not None and bc.snapshot_set is not None:
            for provider in bc.snapshot_set.providers():
                provider.configure_set(bc.snapshot_set.set_id, self.options.replica)

    def _copy(
        self, bc: BackupComponents, file: File, ranges: tuple[tuple[int, int], ...] | None = None
    ) -> Generator[Event, Any, CopiedFile]:
        """Copy ``file`` from its shadow copy (only the blocks ``ranges`` touch, for a partial
        file), taking the time the copy takes."""
        sim = self.coordinator.sim
        snapshot = bc.snapshot_for(file.volume)
        block_size = file.volume.block_size
        if ranges is None:
            data = snapshot.read_range(file.volume_blocks())
            size = file.size_bytes
        else:
            indices = partial_blocks(ranges, block_size, file.block_count)
            data = {}
            for first, end in block_runs(indices):
                start = file.first_block
                data.update(snapshot.read_range(range(start + first, start + end)))
            size = len(indices) * block_size
        duration = size * SECOND // self.options.copy_bytes_per_s
        if duration:
            yield sim.timeout(duration)
        details: dict[str, object] = {"path": file.path, "volume": file.volume.label}
        if ranges is not None:
            details["ranges"] = len(ranges)
        sim.trace.record(
            None,
            self.name,
            V.FILE_COPIED if ranges is None else V.PARTIAL_FILE_COPIED,
            **details,
            size=size,
            shadow=snapshot.device_object,
        )
        return CopiedFile(
            file.path,
            file.volume.label,
            size,
            data,
            file.first_block,
            file.block_count,
            ranges,
        )


def _not_copied(file: File) -> CopiedFile:
    """A differenced file unchanged since its writer's time, in the archive: nothing of it was
    copied (no ranges), so its restore keeps the file the earlier backups of the chain put
    back, as for a partial file without ranges."""
    return CopiedFile(
        file.path, file.volume.label, 0, {}, file.first_block, file.block_count, ranges=()
    )


def _instance(key: ComponentKey) -> uuid.UUID:
    """The writer instance of a key the selection made (from a gathered document)."""
    assert key.writer_instance_id is not None
    return key.writer_instance_id
