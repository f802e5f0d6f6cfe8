"""The backup agent (the seed's VSSBAR agent): the seven phases on the requester API.

The agent never talks to writers: everything goes through :class:`BackupComponents`, exactly
as a harness author's own requester would. Its run is a process whose value is a
:class:`BackupResult`; a failure ends in a clean abort and a result that says what failed.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence

import attrs
import networkx as nx

from vsssim._kernel import SECOND, ProcessGenerator
from vsssim.constants import BackupType, Context
from vsssim.coordinator import BackupComponents, Coordinator, WriterStatus
from vsssim.errors import ConfigurationError, HResult, VssError
from vsssim.metadata import Component, ComponentKey, WriterMetadata
from vsssim.namespace import File, Namespace
from vsssim.volumes import Volume


@attrs.frozen
class ComponentSelector:
    """A component the user selects: writer (name or class id) and the component's full path."""

    writer: str
    path: str

    @classmethod
    def parse(cls, text: str) -> ComponentSelector:
        """Parse ``WRITER:PATH``, e.g. ``SqlServerWriter:SQLSRV01\\Sales``."""
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


def _find(
    metadata: Sequence[WriterMetadata], key: ComponentKey
) -> tuple[WriterMetadata, Component]:
    for writer in metadata:
        if writer.writer_class_id == key.writer_class_id:
            return writer, writer.component(key.logical_path, key.name)
    raise VssError(
        HResult.VSS_E_OBJECT_NOT_FOUND,
        f"component {key.full_path!r} of writer {key.writer_class_id} is needed but that writer "
        "did not answer GatherWriterMetadata",
    )


def component_files(
    namespace: Namespace, metadata: WriterMetadata, component: Component
) -> list[File]:
    """The files of ``component`` and of its component set, each once, sorted by path."""
    found: dict[str, File] = {}
    for member in metadata.members(component):
        for fd in member.all_files:
            for file in namespace.match(fd.path, fd.filespec, fd.recursive):
                found.setdefault(file.path.upper(), file)
    return [found[k] for k in sorted(found)]


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
    return [v for v in namespace.volumes if v.name in wanted]


def resolve_selection(
    namespace: Namespace,
    metadata: Sequence[WriterMetadata],
    selectors: Sequence[ComponentSelector],
) -> Selection:
    """Resolve selectors to components, pull dependencies in (networkx), derive the volumes.

    A non-selectable component that belongs to a selectable one's set cannot be picked alone;
    a dependency on such a component pulls its selectable parent in.
    """
    graph = nx.DiGraph()
    for writer in metadata:
        for component in writer.components:
            key = writer.key(component)
            graph.add_node(key)
            for dependency in component.dependencies:
                graph.add_edge(key, dependency)
    chosen: list[ComponentKey] = []
    for selector in selectors:
        writers = [m for m in metadata if selector.matches(m)]
        if not writers:
            raise VssError(
                HResult.VSS_E_OBJECT_NOT_FOUND,
                f"{selector}: no writer {selector.writer!r} answered",
            )
        writer = writers[0]
        logical_path, _, name = selector.path.rpartition("\\")
        component = writer.component(logical_path, name)
        writer.check_selectable(component)
        key = writer.key(component)
        if key not in chosen:
            chosen.append(key)
    closure: list[ComponentKey] = list(chosen)
    pulled: list[ComponentKey] = []
    for key in chosen:
        # Breadth first, in declaration order: nearest dependencies first, deterministically.
        for _, needed in nx.bfs_edges(graph, key):
            writer, component = _find(metadata, needed)
            parent = writer.selectable_ancestor(component)
            target = writer.key(parent) if not component.selectable and parent else needed
            if target not in closure:
                closure.append(target)
                pulled.append(target)
    wanted: set[str] = set()
    for key in closure:
        writer, component = _find(metadata, key)
        wanted.update(v.name for v in component_volumes(namespace, writer, component))
    volumes = tuple(v for v in namespace.volumes if v.name in wanted)
    return Selection(tuple(closure), volumes, tuple(pulled))


@attrs.frozen
class AgentOptions:
    """How the agent runs a backup.

    ``set_first`` uses the order many real requesters use (StartSnapshotSet/AddToSnapshotSet
    before PrepareForBackup) instead of the seed's phase 3 before phase 4.

    Only one agent at a time defines a shadow copy set: an agent that finds the set lock taken
    (``VSS_E_SNAPSHOT_SET_IN_PROGRESS``) waits for its release, or ``lock_retry_us`` at most,
    and tries again, until ``lock_wait_us`` have passed; then it gives up with a clear error.
    """

    backup_type: BackupType = BackupType.FULL
    context: Context = Context.BACKUP
    keep_snapshots: bool = False
    copy_bytes_per_s: int = 400 * 1024 * 1024
    set_first: bool = False
    lock_wait_us: int = 600 * SECOND
    lock_retry_us: int = 5 * SECOND


@attrs.frozen
class CopiedFile:
    """A file the agent copied from a shadow copy: its written blocks (volume block -> data)."""

    path: str
    volume: str
    size_bytes: int
    data: Mapping[int, bytes] = attrs.field(eq=False, repr=False)


@attrs.frozen
class BackupResult:
    """What one backup did, as the agent reports it."""

    agent: str
    succeeded: bool
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

    @property
    def bytes_copied(self) -> int:
        """Sum of the copied files' sizes."""
        return sum(f.size_bytes for f in self.files)


@attrs.define
class _Progress:
    """What a backup has gathered so far, for the result whatever happens next."""

    started_us: int
    components: tuple[str, ...] = ()
    volumes: tuple[str, ...] = ()
    snapshot_set_id: uuid.UUID | None = None
    commit_seq: int | None = None
    files: tuple[CopiedFile, ...] = ()
    writer_status: tuple[WriterStatus, ...] = ()

    def result(self, agent: str, now: int, hresult: HResult, message: str) -> BackupResult:
        return BackupResult(
            agent=agent,
            succeeded=hresult == HResult.S_OK,
            hresult=hresult,
            message=message,
            components=self.components,
            volumes=self.volumes,
            snapshot_set_id=self.snapshot_set_id,
            commit_seq=self.commit_seq,
            files=self.files,
            writer_status=self.writer_status,
            started_us=self.started_us,
            finished_us=now,
        )


@attrs.define(eq=False)
class BackupAgent:
    """A VSSBAR agent: backs up ``selection`` through ``coordinator`` when its process runs."""

    coordinator: Coordinator
    name: str
    selection: Sequence[ComponentSelector]
    options: AgentOptions = attrs.field(factory=AgentOptions)
    result: BackupResult | None = attrs.field(default=None, init=False)

    def run(self) -> ProcessGenerator:
        """The agent's process; its value (and ``self.result``) is the :class:`BackupResult`."""
        sim = self.coordinator.sim
        bc = self.coordinator.create_backup_components(self.name)
        progress = _Progress(started_us=sim.now)
        try:
            yield from self._backup(bc, progress)
        except VssError as error:
            sim.trace.record(
                None, self.name, "backup failed", result=error.hresult, reason=error.message
            )
            if bc.allows("abort_backup"):
                yield bc.abort_backup()
            if bc.allows("gather_writer_status"):
                progress.writer_status = tuple((yield bc.gather_writer_status()))
            if bc.allows("release"):
                yield bc.release()
            self.result = progress.result(self.name, sim.now, error.hresult, error.message)
            return self.result
        self.result = progress.result(self.name, sim.now, HResult.S_OK, "backup complete")
        return self.result

    def _backup(self, bc: BackupComponents, progress: _Progress) -> ProcessGenerator:
        sim = self.coordinator.sim
        namespace = self.coordinator.namespace
        options = self.options
        trace = sim.trace

        # Phase 1: tell VSS a backup is starting.
        bc.initialize_for_backup()
        bc.set_backup_state(True, False, options.backup_type)

        # Phase 2: VSS finds the writers and returns their metadata.
        metadata = yield bc.gather_writer_metadata()

        # Phase 3: find the volumes of the selected components; VSS informs the writers.
        selection = resolve_selection(namespace, metadata, self.selection)
        progress.components = tuple(k.full_path for k in selection.components)
        progress.volumes = tuple(v.label for v in selection.volumes)
        trace.record(
            3,
            self.name,
            "components selected",
            components=[k.full_path for k in selection.components],
            pulled_in=[k.full_path for k in selection.pulled_in],
            volumes=[v.label for v in selection.volumes],
        )
        for key in selection.components:
            bc.add_component(key.writer_class_id, key.logical_path, key.name)
        if options.set_first:
            yield from self._define_set(bc, selection)
        results = yield bc.prepare_for_backup()
        failed = [w for w, r in results.items() if r != HResult.S_OK]
        if failed:
            raise VssError(
                HResult.VSS_E_UNEXPECTED_WRITER_ERROR,
                f"{failed[0].name} failed at PrepareForBackup: {results[failed[0]].name}",
            )

        # Phase 4: the shadow copy set.
        if not options.set_first:
            yield from self._define_set(bc, selection)

        # Phases 5-7: VSS creates the set; the agent collects what it returns.
        snapshot_set = yield bc.do_snapshot_set()
        progress.snapshot_set_id = snapshot_set.set_id
        progress.commit_seq = snapshot_set.snapshots[0].commit_seq
        for snapshot in snapshot_set.snapshots:
            bc.get_snapshot_properties(snapshot.snapshot_id)
        statuses = yield bc.gather_writer_status()
        failed_writers = {s.writer_class_id for s in statuses if s.failed}

        # After phase 7: copy the files from the shadow copies, report, clean up.
        copied: list[CopiedFile] = []
        for key in selection.components:
            writer, component = _find(metadata, key)
            ok = writer.writer_class_id not in failed_writers
            if ok:
                files = component_files(namespace, writer, component)
                copied.extend((yield from self._copy(bc, files)))
            bc.set_backup_succeeded(key.writer_class_id, key.logical_path, key.name, ok)
        progress.files = tuple(copied)
        yield bc.backup_complete()
        progress.writer_status = tuple((yield bc.gather_writer_status()))
        if not options.keep_snapshots:
            bc.delete_snapshots(snapshot_set.set_id)
        yield bc.release()

    def _define_set(self, bc: BackupComponents, selection: Selection) -> ProcessGenerator:
        coordinator = self.coordinator
        sim = coordinator.sim
        bc.set_context(self.options.context)
        deadline = sim.now + self.options.lock_wait_us
        while True:
            try:
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
                sim.trace.record(4, self.name, "waiting for the set lock", reason=refused.message)
                released = coordinator.set_lock_released()
                timer = sim.timeout(min(self.options.lock_retry_us, deadline - sim.now))
                yield sim.any_of([released, timer])
                timer.cancel()
        for volume in selection.volumes:
            bc.add_to_snapshot_set(self.coordinator.namespace.mount_point_of(volume))

    def _copy(self, bc: BackupComponents, files: Sequence[File]) -> ProcessGenerator:
        sim = self.coordinator.sim
        copied = []
        for file in files:
            snapshot = bc.snapshot_for(file.volume)
            data = snapshot.read_range(file.volume_blocks())
            duration = file.size_bytes * SECOND // self.options.copy_bytes_per_s
            if duration:
                yield sim.timeout(duration)
            sim.trace.record(
                None,
                self.name,
                "file copied",
                path=file.path,
                volume=file.volume.label,
                size=file.size_bytes,
                shadow=snapshot.device_object,
            )
            copied.append(CopiedFile(file.path, file.volume.label, file.size_bytes, data))
        return copied


def verify_copy(namespace: Namespace, result: BackupResult) -> list[str]:
    """Compare every copied file with its volume's content at the commit instant.

    The expected content is rebuilt from the volume's write history, not read through the
    shadow copy, so this checks the provider rather than trusting it. Returns the mismatches.
    """
    if result.commit_seq is None:
        return []
    problems = []
    for copied in result.files:
        file = namespace.file(copied.path)
        at_commit = file.volume.content_at(result.commit_seq)
        blocks = file.volume_blocks()
        expected = {b: d for b, d in at_commit.items() if b in blocks}
        if dict(copied.data) != expected:
            differing = sorted(
                set(expected) ^ set(copied.data)
                | {b for b in expected if b in copied.data and expected[b] != copied.data[b]}
            )
            problems.append(f"{copied.path}: blocks {differing[:5]} differ from the commit instant")
    return problems
