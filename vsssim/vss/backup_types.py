"""Backup types (``VSS_BACKUP_TYPE``) and what they mean to writers and requesters.

A writer declares in its Writer Metadata Document which types it takes part in (its backup
schema, ``VSS_BACKUP_SCHEMA``). Microsoft's rules, as the ``VSS_BACKUP_TYPE`` and "Writer Role
in Backing Up Complex Stores" pages give them:

* **full** (``VSS_BT_FULL``): every file, whatever its backup history; every writer supports it;
  the backup history is updated (a base for incrementals and differentials) and a database may
  truncate its logs;
* **incremental** (``VSS_BS_INCREMENTAL``): what changed since the last full or incremental;
  the history is updated; logs may be truncated;
* **differential** (``VSS_BS_DIFFERENTIAL``): what changed since the last full; the history is
  not updated; logs are usually not truncated;
* **log** (``VSS_BS_LOG``): only the writer's log files (``AddDatabaseLogFiles``);
* **copy** (``VSS_BS_COPY``): like a full, but nothing of the writer's state changes: no backup
  history, no log truncation;
* a writer whose schema lacks the type is not refused by VSS: the requester backs that writer's
  data up **in full** instead (:func:`effective_type`).

Incrementals and differentials run on backup stamps: the writer sets one per component
(``IVssComponent::SetBackupStamp``, in OnPostSnapshot); the requester keeps the document and
hands the stamp of the backup the next one builds on back with
``IVssBackupComponents::SetPreviousBackupStamp`` (before PrepareForBackup); the writer reads it
(``IVssComponent::GetPreviousBackupStamp``) and says what changed since then, here as partial
files (``IVssComponent::AddPartialFile``: the byte ranges to copy). :class:`WriterComponents` is
a writer's handle on those calls during one event.

vsssim's writers stamp with the trace position of the shadow copy set's commit (the simulated
equivalent of a database's log sequence number at the freeze), and find what changed since a
stamp in what the volumes keep of their writes (the blocks written after each commit,
:mod:`vsssim.vss.volume_images`), which stands for the change tracking a real application
keeps (*assumption*: a real writer knows this from its own log or changed-block map).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, MutableMapping, Sequence
from typing import Protocol

import attrs

from vsssim.errors import HResult, VssError
from vsssim.sim import vocabulary as V
from vsssim.sim.kernel import Simulation
from vsssim.vss.constants import BackupSchema, BackupType
from vsssim.vss.documents.backup_document import (
    BackupComponentsDocument,
    DifferencedFiles,
    PartialFile,
)
from vsssim.vss.metadata import Component, ComponentKey, WriterMetadata
from vsssim.vss.namespace import File, Namespace
from vsssim.vss.volumes import Volume

__all__ = [
    "SCHEMA_FOR",
    "BackupSession",
    "WriterComponents",
    "block_ranges",
    "block_runs",
    "changed_blocks",
    "component_files",
    "effective_type",
    "keeps_backup_history",
    "last_modified_us",
    "partial_blocks",
    "previous_backup_stamp",
    "truncates_logs",
    "updates_backup_history",
]

#: The schema flag a writer needs for each backup type; a full needs none.
SCHEMA_FOR: Mapping[BackupType, BackupSchema] = {
    BackupType.INCREMENTAL: BackupSchema.INCREMENTAL,
    BackupType.DIFFERENTIAL: BackupSchema.DIFFERENTIAL,
    BackupType.LOG: BackupSchema.LOG,
    BackupType.COPY: BackupSchema.COPY,
}


def effective_type(schema: BackupSchema, requested: BackupType) -> BackupType:
    """The backup a writer with ``schema`` takes part in when ``requested`` is asked for.

    As ``VSS_BACKUP_TYPE`` documents, a requester whose type a writer's schema does not support
    backs that writer's data up in full. ``VSS_BT_OTHER`` has no schema flag: it is passed on
    as it is (*assumption*), and writers treat it like a copy.
    """
    needed = SCHEMA_FOR.get(requested)
    if needed is None or schema & needed:
        return requested
    return BackupType.FULL


def keeps_backup_history(schema: BackupSchema) -> bool:
    """Whether a writer takes part in incrementals or differentials, and so sets backup stamps
    (*assumption*: vsssim's writers stamp whenever their schema has either flag, whether or not
    it also says ``VSS_BS_TIMESTAMPED``)."""
    return bool(schema & (BackupSchema.INCREMENTAL | BackupSchema.DIFFERENTIAL))


def updates_backup_history(backup_type: BackupType) -> bool:
    """Whether a backup of this type marks the files backed up: a full or an incremental, the
    bases a later incremental or differential can build on (a differential, copy or log backup
    does not)."""
    return backup_type in (BackupType.FULL, BackupType.INCREMENTAL)


def truncates_logs(backup_type: BackupType) -> bool:
    """Whether a database writer truncates its logs after a backup of this type: after a full,
    an incremental or a log backup; never after a copy, and not after a differential
    (*assumption* for the incremental, which Microsoft says "may" truncate)."""
    return backup_type in (BackupType.FULL, BackupType.INCREMENTAL, BackupType.LOG)


def component_files(
    namespace: Namespace, metadata: WriterMetadata, component: Component, *, logs_only: bool = False
) -> list[File]:
    """The files of ``component`` and its component set (only their log files with
    ``logs_only``), each once, sorted by path: found at each file spec's alternate path where
    it has one (``AddFilesToFileGroup``: where the files actually are for the backup), less the
    writer's excluded files (``AddExcludeFiles``), which a requester leaves out of its copy."""
    excluded = {
        file.path.upper()
        for fd in metadata.excluded_files
        for file in namespace.match(fd.path, fd.filespec, fd.recursive)
    }
    found: dict[str, File] = {}
    for member in metadata.members(component):
        for fd in member.log_files if logs_only else member.all_files:
            for file in namespace.match(fd.source, fd.filespec, fd.recursive):
                if file.path.upper() not in excluded:
                    found.setdefault(file.path.upper(), file)
    return [found[k] for k in sorted(found)]


def changed_blocks(
    volume: Volume, blocks: range, after_seq: int, upto_seq: int | None = None
) -> list[int]:
    """The blocks of ``blocks`` written on ``volume`` after trace record ``after_seq`` and up
    to ``upto_seq`` (included; None: up to now), ascending: what changed between two backup
    points, or since one. Backup points are commits, whose instants every volume keeps
    (:meth:`Volume.keep_image <vsssim.vss.volumes.Volume.keep_image>`)."""
    return sorted(b for b in volume.written_between(after_seq, upto_seq) if b in blocks)


def block_runs(indices: Iterable[int]) -> list[tuple[int, int]]:
    """Block indices as runs of consecutive blocks, (first, end) with ``end`` excluded,
    ascending; duplicates count once."""
    runs: list[tuple[int, int]] = []
    for index in sorted(set(indices)):
        if runs and runs[-1][1] == index:
            runs[-1] = (runs[-1][0], index + 1)
        else:
            runs.append((index, index + 1))
    return runs


def block_ranges(indices: Iterable[int], block_size: int) -> tuple[tuple[int, int], ...]:
    """File block indices as ``AddPartialFile`` byte ranges, runs of blocks merged."""
    return tuple(
        (first * block_size, (end - first) * block_size) for first, end in block_runs(indices)
    )


def partial_blocks(
    ranges: Iterable[tuple[int, int]], block_size: int, block_count: int
) -> list[int]:
    """The file block indices byte ``ranges`` (a partial file's) touch (a range that ends
    inside a block takes the whole block), within the file's ``block_count`` blocks."""
    indices: set[int] = set()
    for offset, length in ranges:
        first = offset // block_size
        end = min(-(-(offset + length) // block_size), block_count)
        indices.update(range(first, end))
    return sorted(indices)


#: The writer events during which a writer may set stamps and add partial files
#: (``SetBackupStamp`` is refused in OnBackupComplete and OnBackupShutdown).
_WRITABLE_EVENTS = frozenset(
    {"OnPrepareBackup", "OnPrepareSnapshot", "OnFreeze", "OnThaw", "OnPostSnapshot"}
)


class _Committed(Protocol):
    """A shadow copy as a writer's handle sees it: where in the trace its set committed."""

    @property
    def commit_seq(self) -> int | None: ...

    @property
    def created_us(self) -> int | None: ...


class _SnapshotSetView(Protocol):
    """A shadow copy set as a writer's handle sees it: its shadow copies."""

    @property
    def snapshots(self) -> Sequence[_Committed]: ...


class _Host(Protocol):
    """The coordinator as a writer's handle sees it: the host's files."""

    @property
    def namespace(self) -> Namespace: ...


class BackupSession(Protocol):
    """What :class:`WriterComponents` uses of a requester's backup session (the backup
    components object): the requester's choices, the stamps and partial files it collects, and
    the trace. Kept here so that this module needs nothing of the coordinator."""

    @property
    def requester(self) -> str: ...

    @property
    def sim(self) -> Simulation: ...

    @property
    def coordinator(self) -> _Host: ...

    @property
    def backup_type(self) -> BackupType: ...

    @property
    def partial_file_support(self) -> bool: ...

    @property
    def snapshot_set(self) -> _SnapshotSetView | None: ...

    @property
    def previous_backup_stamps(self) -> Mapping[ComponentKey, str]: ...

    @property
    def succeeded(self) -> Mapping[ComponentKey, bool]: ...

    @property
    def backup_stamps(self) -> MutableMapping[ComponentKey, str]: ...

    @property
    def partial_files(self) -> MutableMapping[ComponentKey, dict[str, PartialFile]]: ...

    @property
    def differenced_files(self) -> MutableMapping[ComponentKey, list[DifferencedFiles]]: ...

    def is_selected(self, key: ComponentKey) -> bool: ...


@attrs.define(eq=False)
class WriterComponents:
    """A writer's view of its selected components in a backup session's Backup Components
    Document during one event (``IVssWriterComponents`` and its ``IVssComponent`` objects).

    Reading works in every event of a backup; :meth:`set_backup_stamp` and
    :meth:`add_partial_file` only from OnPrepareBackup to OnPostSnapshot, as VSS allows
    (``VSS_E_BAD_STATE`` otherwise). A component the session did not select is
    ``VSS_E_OBJECT_NOT_FOUND``. Each call the writer makes lands in the trace.
    """

    session: BackupSession = attrs.field(repr=False)
    metadata: WriterMetadata
    event: str
    phase: int | None

    # -- what the requester said ------------------------------------------------------
    @property
    def backup_type(self) -> BackupType:
        """The session's backup type (``CVssWriter::GetBackupType``)."""
        return self.session.backup_type

    @property
    def partial_file_support(self) -> bool:
        """Whether the requester takes partial files (``SetBackupState``'s last argument)."""
        return self.session.partial_file_support

    @property
    def backup_point(self) -> int | None:
        """The trace position of the shadow copy set's commit, once it has happened."""
        snapshot_set = self.session.snapshot_set
        if snapshot_set is None or not snapshot_set.snapshots:
            return None
        return snapshot_set.snapshots[0].commit_seq

    @property
    def backup_time_us(self) -> int | None:
        """When the shadow copy set committed (simulated microseconds), once it has."""
        snapshot_set = self.session.snapshot_set
        if snapshot_set is None or not snapshot_set.snapshots:
            return None
        return snapshot_set.snapshots[0].created_us

    def files_of(self, component: Component, *, logs_only: bool = False) -> list[File]:
        """The files of ``component`` (and of its set) on the host now."""
        return component_files(
            self.session.coordinator.namespace, self.metadata, component, logs_only=logs_only
        )

    def previous_backup_stamp(self, component: Component) -> str | None:
        """``GetPreviousBackupStamp``: the stamp the requester set, or None (``S_FALSE``)."""
        return self.session.previous_backup_stamps.get(self._key(component))

    def backup_succeeded(self, component: Component) -> bool:
        """``GetBackupSucceeded``: whether the requester reported the component backed up."""
        return self.session.succeeded.get(self._key(component), False)

    # -- what the writer says -----------------------------------------------------------
    def set_backup_stamp(self, component: Component, stamp: str) -> None:
        """``SetBackupStamp``: when this backup took place, in the writer's own terms."""
        key = self._key(component)
        self._check_writable("SetBackupStamp")
        if not stamp:
            raise VssError(HResult.E_INVALIDARG, f"{self.metadata.writer_name}: empty stamp")
        self.session.backup_stamps[key] = stamp
        self.session.sim.trace.record(
            self.phase,
            self.metadata.writer_name,
            V.SET_BACKUP_STAMP,
            component=key.full_path,
            stamp=stamp,
        )

    def add_partial_file(
        self,
        component: Component,
        path: str,
        ranges: tuple[tuple[int, int], ...],
        metadata: str = "",
    ) -> None:
        """``AddPartialFile``: of the file at ``path`` only ``ranges`` (byte offset, length)
        need backing up. The file must be one of the component's, the ranges inside it
        (``E_INVALIDARG`` otherwise); a second call for the same file replaces the first."""
        key = self._key(component)
        self._check_writable("AddPartialFile")
        file = next((f for f in self.files_of(component) if f.path.upper() == path.upper()), None)
        if file is None:
            raise VssError(
                HResult.E_INVALIDARG,
                f"{self.metadata.writer_name}:{key.full_path}: {path} is not a file of the "
                "component",
            )
        for spec in self.session.differenced_files.get(key, ()):
            if file in self.session.coordinator.namespace.match(
                spec.path, spec.filespec, spec.recursive
            ):
                raise VssError(
                    HResult.E_INVALIDARG,
                    f"{self.metadata.writer_name}:{key.full_path}: {file.path} is a differenced "
                    "file already; a file is either partial or differenced",
                )
        partial = PartialFile(file.path, ranges, metadata)
        if ranges and ranges[-1][0] + ranges[-1][1] > file.size_bytes:
            raise VssError(
                HResult.E_INVALIDARG,
                f"{self.metadata.writer_name}:{key.full_path}: the ranges "
                f"{partial.ranges_text()!r} reach past the end of {file.path} "
                f"({file.size_bytes} bytes)",
            )
        self.session.partial_files.setdefault(key, {})[file.path.upper()] = partial
        self.session.sim.trace.record(
            self.phase,
            self.metadata.writer_name,
            V.ADD_PARTIAL_FILE,
            component=key.full_path,
            path=file.path,
            ranges=len(ranges),
            bytes=partial.bytes,
        )

    def add_differenced_files(
        self,
        component: Component,
        path: str,
        filespec: str,
        recursive: bool,
        last_modify_time_us: int,
    ) -> None:
        """``AddDifferencedFilesByLastModifyTime``: of the files under ``path`` named by
        ``filespec``, the requester backs up (whole) those modified after
        ``last_modify_time_us``. Only a writer whose schema has ``VSS_BS_LAST_MODIFY`` may
        call it (``VSS_E_BAD_STATE`` otherwise, as for a call outside the backup's events;
        *assumption*: the page names no code for a writer without the schema); ``path`` holds
        no wildcard and ``filespec`` no backslash, and a file the writer added as a partial
        file cannot be differenced too (``E_INVALIDARG``)."""
        key = self._key(component)
        self._check_writable("AddDifferencedFilesByLastModifyTime")
        where = f"{self.metadata.writer_name}:{key.full_path}"
        if not self.metadata.backup_schema & BackupSchema.LAST_MODIFY:
            raise VssError(
                HResult.VSS_E_BAD_STATE,
                f"{where}: AddDifferencedFilesByLastModifyTime needs VSS_BS_LAST_MODIFY in the "
                "writer's backup schema",
            )
        _check_differenced(where, path, filespec, recursive, last_modify_time_us)
        spec = DifferencedFiles(path, filespec, recursive, last_modify_time_us)
        partial = self.session.partial_files.get(key, {})
        for file in self.session.coordinator.namespace.match(path, filespec, recursive):
            if file.path.upper() in partial:
                raise VssError(
                    HResult.E_INVALIDARG,
                    f"{where}: {file.path} is a partial file already; a file is either "
                    "partial or differenced",
                )
        self.session.differenced_files.setdefault(key, []).append(spec)
        self.session.sim.trace.record(
            self.phase,
            self.metadata.writer_name,
            V.ADD_DIFFERENCED_FILES,
            component=key.full_path,
            path=path,
            filespec=filespec,
            recursive=recursive,
            last_modify_time_us=last_modify_time_us,
        )

    # -- checks ---------------------------------------------------------------------------
    def _key(self, component: Component) -> ComponentKey:
        key = self.metadata.key(component)
        if not self.session.is_selected(key):
            raise VssError(
                HResult.VSS_E_OBJECT_NOT_FOUND,
                f"{self.metadata.writer_name}: component {key.full_path!r} is not selected in "
                f"{self.session.requester}'s backup",
            )
        return key

    def _check_writable(self, call: str) -> None:
        if self.event not in _WRITABLE_EVENTS:
            raise VssError(
                HResult.VSS_E_BAD_STATE,
                f"{self.metadata.writer_name}: {call} is not allowed in {self.event}; a writer "
                "sets stamps and partial files from OnPrepareBackup to OnPostSnapshot",
            )


def _check_differenced(
    where: str, path: object, filespec: object, recursive: object, time_us: object
) -> None:
    """The arguments of ``AddDifferencedFilesByLastModifyTime`` (``E_INVALIDARG``)."""
    problem = None
    if not isinstance(path, str) or not path or any(c in path for c in "*?"):
        problem = f"the path {path!r} must be a folder without wildcards"
    elif not isinstance(filespec, str) or not filespec or "\\" in filespec:
        problem = f"the file spec {filespec!r} must be a file name (wildcards allowed)"
    elif not isinstance(recursive, bool):
        problem = f"recursive must be a bool, not {type(recursive).__name__}"
    elif not isinstance(time_us, int) or isinstance(time_us, bool) or time_us < 0:
        problem = f"the last modify time {time_us!r} must be a non-negative integer (µs)"
    if problem is not None:
        raise VssError(HResult.E_INVALIDARG, f"{where}: {problem}")


def last_modified_us(file: File, upto_seq: int | None = None) -> int:
    """When ``file`` was last written up to trace record ``upto_seq`` (None: up to now), in
    simulated microseconds; 0 if never. The model keeps no per-file times: a file's last
    modification is the last write to one of its blocks (*assumption*). ``upto_seq`` is a
    commit, an instant every volume keeps."""
    return file.volume.last_written_us(file.volume_blocks(), upto_seq)


def previous_backup_stamp(
    history: Sequence[BackupComponentsDocument], key: ComponentKey, kind: BackupType
) -> str | None:
    """The stamp a requester hands back (``SetPreviousBackupStamp``) for ``key`` in a backup
    of ``kind``, from the documents of its earlier backups (oldest first), or None.

    An incremental builds on the newest backup of the component that set a stamp (a full or
    an incremental: the backups that update the history); a differential on the newest that
    set a stamp without building on an earlier one (a full, or the first backup of a
    component). Only backups whose component succeeded count. Other types take none.
    """
    if kind not in (BackupType.INCREMENTAL, BackupType.DIFFERENTIAL):
        return None
    for document in reversed(history):
        for c in document.components:
            if not key.names(c.key):
                continue
            if not (c.backup_succeeded and c.backup_stamp):
                break
            if kind == BackupType.INCREMENTAL or not c.previous_backup_stamp:
                return c.backup_stamp
            break
    return None
