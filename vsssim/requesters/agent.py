"""The backup agent (the seed's VSSBAR agent): the seven phases on the requester API.

The agent never talks to writers: everything goes through :class:`BackupComponents`, exactly
as a harness author's own requester would. Its run is a process whose value is a
:class:`BackupResult`; a failure ends in a clean abort and a result that says what failed.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Generator, Mapping, Sequence
from functools import partial
from typing import Any

import attrs
import networkx as nx

from vsssim.errors import ConfigurationError, HResult, VssError
from vsssim.sim import vocabulary as V
from vsssim.sim.kernel import SECOND, Event, ProcessGenerator
from vsssim.vss import _args
from vsssim.vss.backup_types import (
    block_runs,
    component_files,
    effective_type,
    partial_blocks,
    previous_backup_stamp,
)
from vsssim.vss.constants import BackupType, Context, SnapshotAttr
from vsssim.vss.coordinator.service import CONTEXT_ATTRIBUTES, Coordinator, WriterStatus
from vsssim.vss.coordinator.session import BackupComponents
from vsssim.vss.documents.backup_document import BackupComponentsDocument
from vsssim.vss.metadata import Component, ComponentKey, WriterMetadata, by_class_id
from vsssim.vss.namespace import File, Namespace, reads_as_zeros
from vsssim.vss.providers.base import SetOptions
from vsssim.vss.volumes import Volume


@attrs.frozen
class ComponentSelector:
    """A component the user selects: writer (name or class id) and the component's full path."""

    writer: str
    path: str

    def __attrs_post_init__(self) -> None:
        _args.check_str("writer", self.writer, empty=False, config=True)
        _args.check_str("path", self.path, empty=False, config=True)

    @classmethod
    def parse(cls, text: str) -> ComponentSelector:
        """Parse ``WRITER:PATH``, e.g. ``SqlServerWriter:SQLSRV01\\Sales``."""
        _args.check_str("selector", text, config=True)
        writer, sep, path = text.partition(":")
        if not sep or not writer or not path:
            raise ConfigurationError(f"{text!r} is not WRITER:LOGICAL\\PATH\\NAME")
        return cls(writer, path)

    def matches(self, metadata: WriterMetadata) -> bool:
        """True if this selector names ``metadata``'s writer."""
        return self.writer in (metadata.writer_name, str(metadata.writer_class_id))

    def __str__(self) -> str:
        return f"{self.writer}:{self.path}"


@attrs.frozen
class Selection:
    """What a backup takes: the components (dependency closure included) and their volumes."""

    components: tuple[ComponentKey, ...]
    volumes: tuple[Volume, ...]
    pulled_in: tuple[ComponentKey, ...] = ()
    left_out: tuple[str, ...] = ()


def _find(
    writers: Mapping[uuid.UUID, WriterMetadata], key: ComponentKey
) -> tuple[WriterMetadata, Component]:
    writer = writers.get(key.writer_class_id)
    if writer is None:
        raise VssError(
            HResult.VSS_E_OBJECT_NOT_FOUND,
            f"component {key.full_path!r} of writer {key.writer_class_id} is needed but that "
            "writer did not answer GatherWriterMetadata",
        )
    return writer, writer.component(key.logical_path, key.name)


def component_volumes(
    namespace: Namespace, metadata: WriterMetadata, component: Component
) -> list[Volume]:
    """The volumes of a component's (and its set's) folders and files, in mount order."""
    wanted = {
        namespace.volume_of(fd.path).name
        for member in metadata.members(component)
        for fd in member.all_files
    }
    wanted.update(file.volume.name for file in component_files(namespace, metadata, component))
    return namespace.volumes_named(wanted)


def resolve_selection(
    namespace: Namespace,
    metadata: Sequence[WriterMetadata],
    selectors: Sequence[ComponentSelector],
    excluded_writers: Sequence[str] = (),
) -> Selection:
    """Resolve selectors to components, pull dependencies in (networkx), derive the volumes.

    A non-selectable component that belongs to a selectable one's set cannot be picked alone;
    a dependency on such a component pulls its selectable parent in. A selected component that
    belongs to, or depends on, a writer in ``excluded_writers`` is left out (``left_out``).
    """
    graph = nx.DiGraph()
    for writer in metadata:
        for component in writer.components:
            key = writer.key(component)
            graph.add_node(key)
            for dependency in component.dependencies:
                graph.add_edge(key, dependency)
    names = {m.writer_class_id: m.writer_name for m in metadata}
    documents = by_class_id(metadata)
    # What ComponentSelector.matches accepts, first document first: the name or the class id.
    by_selector: dict[str, WriterMetadata] = {}
    for m in metadata:
        by_selector.setdefault(m.writer_name, m)
        by_selector.setdefault(str(m.writer_class_id), m)
    chosen: dict[ComponentKey, None] = {}
    for selector in selectors:
        if selector.writer not in by_selector:
            raise VssError(
                HResult.VSS_E_OBJECT_NOT_FOUND,
                f"{selector}: no writer {selector.writer!r} answered",
            )
        writer = by_selector[selector.writer]
        logical_path, _, name = selector.path.rpartition("\\")
        component = writer.component(logical_path, name)
        writer.check_selectable(component)
        chosen.setdefault(writer.key(component))
    needs: dict[ComponentKey, list[ComponentKey]] = {}
    left_out: list[str] = []
    for key in chosen:
        # Breadth first, in declaration order: nearest dependencies first, deterministically.
        needed_keys = []
        for _, needed in nx.bfs_edges(graph, key):
            writer, component = _find(documents, needed)
            parent = writer.selectable_ancestor(component)
            needed_keys.append(
                writer.key(parent) if not component.selectable and parent else needed
            )
        if any(names[k.writer_class_id] in excluded_writers for k in [key, *needed_keys]):
            left_out.append(key.full_path)
        else:
            needs[key] = needed_keys
    closure = dict.fromkeys(needs)
    pulled: list[ComponentKey] = []
    for needed_keys in needs.values():
        for target in needed_keys:
            if target not in closure:
                closure[target] = None
                pulled.append(target)
    wanted: set[str] = set()
    for key in closure:
        writer, component = _find(documents, key)
        wanted.update(v.name for v in component_volumes(namespace, writer, component))
    volumes = tuple(namespace.volumes_named(wanted))
    return Selection(tuple(closure), volumes, tuple(pulled), tuple(left_out))


#: The most retries a policy may ask for (each is a whole new backup session).
MAX_RETRIES = 1000

#: Failures worth a new attempt: transient by Microsoft's description ("wait and try again").
RETRYABLE: frozenset[HResult] = frozenset(
    {
        HResult.VSS_E_WRITERERROR_RETRYABLE,
        HResult.VSS_E_WRITERERROR_TIMEOUT,
        HResult.VSS_E_WRITERERROR_OUTOFRESOURCES,
        HResult.VSS_E_WRITER_NOT_RESPONDING,
        HResult.VSS_E_PROVIDER_VETO,
        HResult.VSS_E_UNEXPECTED_PROVIDER_ERROR,
        HResult.VSS_E_FLUSH_WRITES_TIMEOUT,
        HResult.VSS_E_HOLD_WRITES_TIMEOUT,
    }
)


@attrs.frozen
class RetryPolicy:
    """When the agent starts a backup again after a failure (with a new session: an
    ``IVssBackupComponents`` serves one backup only).

    The defaults follow Microsoft's advice for transient VSS errors: wait ten minutes and try
    again, up to three times. A writer's failure is retried when its code is in ``retryable``;
    ``VSS_E_UNEXPECTED_WRITER_ERROR`` is retried when every failed writer's code is.
    """

    retries: int = 3
    delay_us: int = 600 * SECOND
    retryable: frozenset[HResult] = RETRYABLE

    def __attrs_post_init__(self) -> None:
        _args.check_int("retries", self.retries, low=0, high=MAX_RETRIES, config=True)
        _args.check_int("delay_us", self.delay_us, low=0, config=True)
        codes = _args.check_items("retryable", self.retryable, HResult, "HRESULTs", config=True)
        object.__setattr__(self, "retryable", frozenset(codes))

    def allows(self, hresult: HResult, statuses: Sequence[WriterStatus]) -> bool:
        """Whether a backup that failed with ``hresult`` (writers as in ``statuses``) may retry."""
        if hresult == HResult.VSS_E_UNEXPECTED_WRITER_ERROR:
            failures = [s.failure for s in statuses if s.failed]
            return bool(failures) and all(f in self.retryable for f in failures)
        return hresult in self.retryable


@attrs.frozen
class AgentOptions:
    """How the agent runs a backup.

    ``set_first`` uses the order many real requesters use (StartSnapshotSet/AddToSnapshotSet
    before PrepareForBackup) instead of the seed's phase 3 before phase 4.

    Only one agent at a time defines a shadow copy set: an agent that finds the set lock taken
    (``VSS_E_SNAPSHOT_SET_IN_PROGRESS``) waits for its release, or ``lock_retry_us`` at most,
    and tries again, until ``lock_wait_us`` have passed; then it gives up with a clear error.

    A failed backup is tried again under ``retry``. With ``skip_failed_writers`` a backup that
    a writer failed for good is tried once more without that writer's components (and the
    components that depend on them), unless the writer is one of ``critical_writers``.

    ``provider_id`` asks VSS for one provider (``AddToSnapshotSet``'s ``ProviderId``); a volume
    it does not support goes to VSS's own choice when ``allow_fallback``, else the backup fails
    with ``VSS_E_VOLUME_NOT_SUPPORTED_BY_PROVIDER``. ``replica`` holds a provider's own
    options for the set (the XP provider's ``ReplicaOptions``, say), handed unread to the
    set's providers; the agent reads only what :class:`~vsssim.vss.providers.base.SetOptions`
    says. Keeping the copies needs a context whose shadow copies outlive the session
    (``VSS_CTX_APP_ROLLBACK``, say).
    """

    backup_type: BackupType = BackupType.FULL
    history: tuple[BackupComponentsDocument, ...] = ()
    context: Context = Context.BACKUP
    keep_snapshots: bool = False
    copy_bytes_per_s: int = 400 * 1024 * 1024
    set_first: bool = False
    lock_wait_us: int = 600 * SECOND
    lock_retry_us: int = 5 * SECOND
    retry: RetryPolicy = RetryPolicy()
    skip_failed_writers: bool = False
    critical_writers: tuple[str, ...] = ()
    provider_id: uuid.UUID | None = None
    allow_fallback: bool = True
    replica: SetOptions | None = None

    def __attrs_post_init__(self) -> None:
        self._check_fields()
        if self.replica is not None and self.replica.keeps:
            attributes = CONTEXT_ATTRIBUTES.get(self.context, SnapshotAttr(0))
            if not attributes & SnapshotAttr.NO_AUTO_RELEASE:
                raise ConfigurationError(
                    f"keeping the replica needs a persistent context: {self.context.vss_name} "
                    "shadow copies are deleted when the agent releases its session "
                    "(use VSS_CTX_APP_ROLLBACK)"
                )

    def _check_fields(self) -> None:
        """Refuse a field of the wrong type or out of range (``ConfigurationError`` naming it);
        an enum given as its int value is taken as the member."""
        set_ = partial(object.__setattr__, self)
        set_(
            "backup_type",
            _args.check_enum("backup_type", self.backup_type, BackupType, config=True),
        )
        if self.backup_type == BackupType.UNDEFINED:
            raise ConfigurationError("backup_type: cannot be VSS_BT_UNDEFINED")
        set_("context", _args.check_enum("context", self.context, Context, config=True))
        history = _args.check_items(
            "history",
            self.history,
            BackupComponentsDocument,
            "Backup Components Documents",
            config=True,
        )
        set_("history", history)
        for name in ("keep_snapshots", "set_first", "skip_failed_writers", "allow_fallback"):
            _args.check_bool(name, getattr(self, name), config=True)
        _args.check_int("copy_bytes_per_s", self.copy_bytes_per_s, low=1, config=True)
        _args.check_int("lock_wait_us", self.lock_wait_us, low=0, config=True)
        _args.check_int("lock_retry_us", self.lock_retry_us, low=1, config=True)
        _args.check_instance("retry", self.retry, RetryPolicy, "a RetryPolicy", config=True)
        writers = _args.check_items(
            "critical_writers", self.critical_writers, str, "writer names", config=True
        )
        set_("critical_writers", writers)
        _args.check_uuid("provider_id", self.provider_id, optional=True, config=True)
        if self.replica is not None:
            _args.check_instance(
                "replica", self.replica, SetOptions, "ReplicaOptions or None", config=True
            )

    @property
    def keeps_snapshots(self) -> bool:
        """Whether the agent leaves its shadow copies after the backup."""
        return self.keep_snapshots or (self.replica is not None and self.replica.keeps)


class Outcome(enum.Enum):
    """How a backup ended, as the agent reports it."""

    SUCCEEDED = "succeeded"
    PARTIAL = "partial"
    FAILED = "failed"
    AGENT_DIED = "agent died"


@attrs.frozen
class CopiedFile:
    """A file the agent copied from a shadow copy: its written blocks (volume block -> data),
    and where it lay on its volume (``first_block``, ``block_count``).

    ``ranges`` are the byte ranges copied of a partial file (``AddPartialFile``): ``data``
    holds only the blocks they touch, and ``size_bytes`` counts those blocks. None: the whole
    file was copied."""

    path: str
    volume: str
    size_bytes: int
    data: Mapping[int, bytes] = attrs.field(eq=False, repr=False)
    first_block: int = 0
    block_count: int = 0
    ranges: tuple[tuple[int, int], ...] | None = None

    @property
    def content(self) -> dict[int, bytes]:
        """The copied data by file block index (0-based); blocks that read as zeros left out,
        as :meth:`vsssim.vss.namespace.File.content` gives a file's."""
        return {
            block - self.first_block: data
            for block, data in sorted(self.data.items())
            if not reads_as_zeros(data)
        }


@attrs.frozen
class Attempt:
    """One try at the backup: how it ended and which writers had failed."""

    number: int
    hresult: HResult
    message: str
    failed_writers: tuple[str, ...] = ()
    started_us: int = 0
    finished_us: int = 0


@attrs.frozen
class BackupResult:
    """What one backup did, as the agent reports it (the last attempt's details)."""

    agent: str
    outcome: Outcome
    hresult: HResult
    message: str
    components: tuple[str, ...] = ()
    volumes: tuple[str, ...] = ()
    snapshot_set_id: uuid.UUID | None = None
    commit_seq: int | None = None
    files: tuple[CopiedFile, ...] = ()
    writer_status: tuple[WriterStatus, ...] = ()
    started_us: int = 0
    finished_us: int = 0
    attempts: tuple[Attempt, ...] = ()
    skipped: tuple[str, ...] = ()
    document: BackupComponentsDocument | None = None

    @property
    def succeeded(self) -> bool:
        """True if the backup completed, with every component or some skipped."""
        return self.outcome in (Outcome.SUCCEEDED, Outcome.PARTIAL)

    @property
    def bytes_copied(self) -> int:
        """Sum of the copied files' sizes."""
        return sum(f.size_bytes for f in self.files)


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
    skipped: list[str] = attrs.field(factory=list)
    document: BackupComponentsDocument | None = None


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
                    + (f" without {', '.join(progress.skipped)}" if partial else ""),
                )
            newly_failed = [w for w in failed if w not in excluded]
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
            skipped=tuple(progress.skipped),
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
        sim = self.coordinator.sim
        namespace = self.coordinator.namespace
        options = self.options
        trace = sim.trace
        step = self._step

        # Phase 1: tell VSS a backup is starting.
        step("InitializeForBackup")
        bc.initialize_for_backup()
        step("SetBackupState")
        partial_file_support = options.backup_type in (
            BackupType.INCREMENTAL,
            BackupType.DIFFERENTIAL,
        )
        bc.set_backup_state(True, False, options.backup_type, partial_file_support)

        # Phase 2: VSS finds the writers and returns their metadata.
        step("GatherWriterMetadata")
        metadata = yield bc.gather_writer_metadata()

        # Phase 3: find the volumes of the selected components; VSS informs the writers.
        selection = resolve_selection(namespace, metadata, self.selection, excluded)
        progress.components = tuple(k.full_path for k in selection.components)
        progress.volumes = tuple(v.label for v in selection.volumes)
        progress.skipped = list(selection.left_out)
        trace.record(
            3,
            self.name,
            V.COMPONENTS_SELECTED,
            components=[k.full_path for k in selection.components],
            pulled_in=[k.full_path for k in selection.pulled_in],
            left_out=list(selection.left_out),
            volumes=[v.label for v in selection.volumes],
        )
        if not selection.components:
            raise VssError(
                HResult.VSS_E_OBJECT_NOT_FOUND,
                f"nothing left to back up without {', '.join(excluded)}",
            )
        writers = by_class_id(metadata)
        # What each writer takes part in: the type asked for, or a full if its schema lacks it.
        kinds: dict[uuid.UUID, BackupType] = {}
        for key in selection.components:
            writer = writers[key.writer_class_id]
            kind = effective_type(writer.backup_schema, options.backup_type)
            if key.writer_class_id not in kinds and kind != options.backup_type:
                trace.record(
                    3,
                    self.name,
                    V.BACKUP_TYPE_NOT_SUPPORTED,
                    writer=writer.writer_name,
                    backup_type=options.backup_type,
                    backup_schema=writer.backup_schema,
                    instead=kind,
                )
            kinds[key.writer_class_id] = kind
        for key in selection.components:
            step("AddComponent")
            bc.add_component(key.writer_class_id, key.logical_path, key.name)
            stamp = previous_backup_stamp(options.history, key, kinds[key.writer_class_id])
            if stamp is not None:
                step("SetPreviousBackupStamp")
                bc.set_previous_backup_stamp(key.writer_class_id, key.logical_path, key.name, stamp)
        if options.set_first:
            yield from self._define_set(bc, selection)
        step("PrepareForBackup")
        results = yield bc.prepare_for_backup()
        failed = [w for w, r in results.items() if r != HResult.S_OK]
        if failed:
            raise VssError(
                HResult.VSS_E_UNEXPECTED_WRITER_ERROR,
                f"{failed[0].name} failed: {failed[0].state_in(bc.session_id).vss_name}, "
                f"{results[failed[0]].name}",
            )

        # Phase 4: the shadow copy set.
        if not options.set_first:
            yield from self._define_set(bc, selection)

        # Phases 5-7: VSS creates the set; the agent collects what it returns.
        step("DoSnapshotSet")
        creating = bc.do_snapshot_set()
        step("DoSnapshotSet wait")
        snapshot_set = yield creating
        progress.snapshot_set_id = snapshot_set.set_id
        progress.commit_seq = snapshot_set.snapshots[0].commit_seq
        for snapshot in snapshot_set.snapshots:
            step("GetSnapshotProperties")
            bc.get_snapshot_properties(snapshot.snapshot_id)
        step("GatherWriterStatus")
        statuses = yield bc.gather_writer_status()
        failed_writers = {s.writer_class_id for s in statuses if s.failed}
        # GetWriterComponents: the partial files writers asked for (incrementals, differentials).
        reported = {c.key: c for c in bc.get_writer_components()}

        # After phase 7: copy the files from the shadow copies, report, clean up.
        copied: list[CopiedFile] = []
        copied_of: dict[ComponentKey, list[str]] = {}
        for key in selection.components:
            writer, component = _find(writers, key)
            ok = writer.writer_class_id not in failed_writers
            if ok:
                step("copy")
                logs_only = kinds[key.writer_class_id] == BackupType.LOG
                files = component_files(namespace, writer, component, logs_only=logs_only)
                for file in files:
                    partial = reported[key].partial_file(file.path)
                    ranges = None if partial is None else partial.ranges
                    copied.append((yield from self._copy(bc, file, ranges)))
                copied_of[key] = [f.path for f in files]
            else:
                progress.skipped.append(key.full_path)
            step("SetBackupSucceeded")
            bc.set_backup_succeeded(key.writer_class_id, key.logical_path, key.name, ok)
        progress.files = tuple(copied)
        step("BackupComplete")
        yield bc.backup_complete()
        step("GatherWriterStatus")
        progress.writer_status = tuple((yield bc.gather_writer_status()))
        progress.document = bc.save_as_document(copied_of)
        if options.replica is not None and options.replica.track_for_instant_recovery:
            trace.record(
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
        self._step("SetContext")
        bc.set_context(self.options.context)
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


def verify_copy(namespace: Namespace, result: BackupResult) -> list[str]:
    """Compare every copied file with its volume's content at the commit instant (a partial
    copy: the blocks of its ranges).

    The expected content is rebuilt from the volume's write history, not read through the
    shadow copy, so this checks the provider rather than trusting it. Returns the mismatches.
    """
    if result.commit_seq is None:
        return []
    problems = []
    for copied in result.files:
        # Where the file lay when it was copied: it may have been deleted or replaced since.
        volume = namespace.volume_labelled(copied.volume)
        at_commit = volume.content_at(result.commit_seq)
        first, end = copied.first_block, copied.first_block + copied.block_count
        expected = {b: d for b, d in at_commit.items() if first <= b < end}
        if copied.ranges is not None:  # a partial copy holds the blocks of its ranges only
            held = set(partial_blocks(copied.ranges, volume.block_size, copied.block_count))
            expected = {b: d for b, d in expected.items() if b - first in held}
        if dict(copied.data) != expected:
            differing = sorted(
                set(expected) ^ set(copied.data)
                | {b for b in expected if b in copied.data and expected[b] != copied.data[b]}
            )
            problems.append(f"{copied.path}: blocks {differing[:5]} differ from the commit instant")
    return problems
