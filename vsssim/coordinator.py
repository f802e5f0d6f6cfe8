"""The coordinator (the VSS service) and the requester-facing backup components object.

:class:`Coordinator` owns the writer registry, the providers, the shadow-copy-set lock (one set
in creation at a time), volume marks, flush-and-hold and the abort path. Requesters talk to it
only through :class:`BackupComponents`, which mirrors ``IVssBackupComponents`` call for call
(snake_case). The calls that are asynchronous in VSS return a :class:`~vsssim.Process` the
caller waits on (``result = yield bc.do_snapshot_set()`` inside a process, or
``sim.run(until=bc.do_snapshot_set())`` from plain code); the others act at once.

Every call checks the session's state first and raises :class:`VssError` with
``VSS_E_BAD_STATE`` when it comes out of order; a refused call changes nothing.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterable, Mapping, Sequence

import attrs

from vsssim import _args
from vsssim import vocabulary as V
from vsssim._kernel import MILLISECOND, SECOND, Event, Process, ProcessGenerator, Simulation
from vsssim.backup_document import (
    BackedUpComponent,
    BackupComponentsDocument,
    PartialFile,
    document_from_xml,
    document_to_xml,
)
from vsssim.backup_types import WriterComponents
from vsssim.constants import (
    BackupType,
    Context,
    ProviderType,
    RestoreStatus,
    SnapshotAttr,
    SnapshotState,
    WriterState,
)
from vsssim.errors import HResult, VssError
from vsssim.hooks import NO_FAULTS, FaultHooks, WriterEffect
from vsssim.metadata import Component, ComponentKey, WriterMetadata, by_class_id
from vsssim.namespace import Namespace
from vsssim.providers.base import Provider, ShadowCopy
from vsssim.providers.software import SoftwareProvider
from vsssim.states import (
    FAILED_STATES,
    SESSION_TRANSITIONS,
    WRITER_TRANSITIONS,
    SessionState,
)
from vsssim.volumes import VSSSIM_NAMESPACE, Volume
from vsssim.writers.base import EventContext, Writer

#: The actor name of the coordinator in the trace.
VSS = V.VSS

#: Contexts a backup can create shadow copies in, with the attributes each implies.
CONTEXT_ATTRIBUTES: Mapping[Context, SnapshotAttr] = {
    Context.BACKUP: SnapshotAttr(0),
    Context.CLIENT_ACCESSIBLE: SnapshotAttr.PERSISTENT
    | SnapshotAttr.CLIENT_ACCESSIBLE
    | SnapshotAttr.NO_AUTO_RELEASE
    | SnapshotAttr.NO_WRITERS,
    Context.CLIENT_ACCESSIBLE_WRITERS: SnapshotAttr.PERSISTENT
    | SnapshotAttr.CLIENT_ACCESSIBLE
    | SnapshotAttr.NO_AUTO_RELEASE,
    Context.NAS_ROLLBACK: SnapshotAttr.PERSISTENT
    | SnapshotAttr.NO_AUTO_RELEASE
    | SnapshotAttr.NO_WRITERS,
    Context.APP_ROLLBACK: SnapshotAttr.PERSISTENT | SnapshotAttr.NO_AUTO_RELEASE,
}


@attrs.frozen
class CoordinatorConfig:
    """The documented limits, on the simulated clock (all times in microseconds).

    ``writer_reply_us`` bounds how long VSS waits for writers to answer one event before it
    counts the late ones as not responding, and ``provider_reply_us`` how long it waits for a
    provider's prepare or post-commit call (*assumptions*: VSS has such limits but documents no
    number; the freeze window itself is each writer's ``freeze_timeout_us``, the commit's the
    hold limit). ``rundown_us`` is how long COM takes to notice a requester process is gone and
    release its backup components object (three missed 2-minute pings).
    """

    writer_reply_us: int = 180 * SECOND
    flush_us: tuple[int, int] = (1 * MILLISECOND, 20 * MILLISECOND)
    flush_limit_us: int = 10 * SECOND
    hold_limit_us: int = 10 * SECOND
    max_volumes_per_set: int = 64
    status_query_us: int = 1 * MILLISECOND
    provider_reply_us: int = 30 * 60 * SECOND
    rundown_us: int = 6 * 60 * SECOND


@attrs.frozen
class WriterStatus:
    """One writer in ``GatherWriterStatus``: identity, ``VSS_WS_*`` state, failure HRESULT."""

    writer_name: str
    writer_class_id: uuid.UUID
    writer_instance_id: uuid.UUID
    state: WriterState
    failure: HResult
    failure_reason: str = ""

    @property
    def failed(self) -> bool:
        """True in a ``VSS_WS_FAILED_AT_*`` state."""
        return self.state in FAILED_STATES


@attrs.frozen
class SnapshotProperties:
    """``VSS_SNAPSHOT_PROP`` of a shadow copy."""

    snapshot_id: uuid.UUID
    snapshot_set_id: uuid.UUID
    snapshots_count: int
    snapshot_device_object: str
    original_volume_name: str
    original_volume_label: str
    originating_machine: str
    provider_id: uuid.UUID
    attributes: SnapshotAttr
    creation_time_us: int
    state: SnapshotState


@attrs.define(eq=False)
class SnapshotSet:
    """A shadow copy set: its volumes' shadow copies and who defines it."""

    set_id: uuid.UUID
    owner: BackupComponents
    context: Context
    snapshots: list[ShadowCopy] = attrs.field(factory=list)
    state: SnapshotState = SnapshotState.PREPARING
    _volumes: set[Volume] = attrs.field(factory=set, init=False, repr=False)

    @property
    def volumes(self) -> list[Volume]:
        """The set's volumes, in the order they were added."""
        return [s.volume for s in self.snapshots]

    def add(self, snapshot: ShadowCopy) -> None:
        """Add a shadow copy to the set."""
        self.snapshots.append(snapshot)
        self._volumes.add(snapshot.volume)

    def holds(self, volume: Volume) -> bool:
        """Whether the set has a shadow copy of ``volume``."""
        return volume in self._volumes

    def providers(self) -> list[Provider]:
        """The providers of the set, each once, in order of first use."""
        seen: dict[uuid.UUID, Provider] = {}
        for snapshot in self.snapshots:
            seen.setdefault(snapshot.provider.provider_id, snapshot.provider)
        return list(seen.values())


class Coordinator:
    """The VSS service of one simulated host."""

    def __init__(
        self,
        sim: Simulation,
        namespace: Namespace,
        *,
        config: CoordinatorConfig | None = None,
        machine: str = "SIMHOST",
    ) -> None:
        self.sim = sim
        self.namespace = namespace
        self.config = config or CoordinatorConfig()
        self.machine = machine
        self.writers: list[Writer] = []
        self._instance_ids: set[uuid.UUID] = set()
        self.software_provider = SoftwareProvider(sim)
        self._hardware_providers: list[Provider] = []
        self.creating: SnapshotSet | None = None
        self._lock_waiters: list[Event] = []
        self.snapshots: dict[uuid.UUID, ShadowCopy] = {}
        self._snapshots_of_set: dict[uuid.UUID, dict[uuid.UUID, ShadowCopy]] = {}
        self._counters: dict[str, int] = {}
        self._shadow_devices = 0
        #: What the writers, providers and agents ask where a fault can happen.
        self.hooks: FaultHooks = NO_FAULTS

    def install_faults(self, hooks: FaultHooks) -> None:
        """Inject faults into this coordinator's writers, providers and agents: from now on
        they ask ``hooks`` (a :class:`~vsssim.faults.FaultPlan`, or any
        :class:`~vsssim.hooks.FaultHooks`) at every site."""
        hooks.attach(self.sim)
        self.hooks = hooks
        for provider in self.providers:
            provider.hooks = hooks

    @property
    def faults(self) -> FaultHooks | None:
        """The installed fault hooks; None if none were installed."""
        return None if self.hooks is NO_FAULTS else self.hooks

    # -- registry ------------------------------------------------------------------------
    def subscribe(self, writer: Writer) -> None:
        """Register a writer (``CVssWriter::Subscribe``)."""
        if writer.instance_id in self._instance_ids:
            raise VssError(
                HResult.VSS_E_WRITER_ALREADY_SUBSCRIBED,
                f"writer {writer.name!r} instance {writer.instance_id} is subscribed already",
            )
        writer.attach(self.sim)
        self.writers.append(writer)
        self._instance_ids.add(writer.instance_id)

    def register_provider(self, provider: Provider) -> None:
        """Register a hardware or software provider; hardware providers are offered first."""
        for other in self.providers:
            if other.provider_id == provider.provider_id:
                raise VssError(
                    HResult.VSS_E_PROVIDER_ALREADY_REGISTERED,
                    f"provider {provider.name!r} ({provider.provider_id}) is registered already",
                )
        self._hardware_providers.append(provider)
        provider.hooks = self.hooks

    @property
    def providers(self) -> list[Provider]:
        """Providers in the order VSS offers volumes to them: hardware first, system last."""
        return [*self._hardware_providers, self.software_provider]

    def writer(self, name_or_id: str | uuid.UUID) -> Writer:
        """A subscribed writer by name, class id or instance id."""
        for writer in self.writers:
            if name_or_id in (writer.name, writer.class_id, writer.instance_id):
                return writer
        raise VssError(HResult.VSS_E_OBJECT_NOT_FOUND, f"no writer {name_or_id!r} is subscribed")

    def create_backup_components(self, requester: str) -> BackupComponents:
        """A new ``IVssBackupComponents`` for the requester named ``requester``."""
        return BackupComponents(self, requester)

    def new_id(self, kind: str) -> uuid.UUID:
        """A deterministic GUID: the n-th of its kind in this run."""
        n = self._counters.get(kind, 0) + 1
        self._counters[kind] = n
        return uuid.uuid5(VSSSIM_NAMESPACE, f"{self.machine}:{kind}:{n}")

    def next_shadow_device(self) -> str:
        """The next ``\\\\?\\GLOBALROOT\\Device\\HarddiskVolumeShadowCopyN`` name."""
        self._shadow_devices += 1
        return f"\\\\?\\GLOBALROOT\\Device\\HarddiskVolumeShadowCopy{self._shadow_devices}"

    def _keep_snapshot(self, snapshot: ShadowCopy) -> None:
        """Record a created shadow copy in :attr:`snapshots`."""
        self.snapshots[snapshot.snapshot_id] = snapshot
        self._snapshots_of_set.setdefault(snapshot.set_id, {})[snapshot.snapshot_id] = snapshot

    def _forget_snapshot(self, snapshot: ShadowCopy) -> None:
        """Drop a shadow copy from :attr:`snapshots` (nothing if it is not there)."""
        self.snapshots.pop(snapshot.snapshot_id, None)
        self._snapshots_of_set.get(snapshot.set_id, {}).pop(snapshot.snapshot_id, None)

    def set_size(self, set_id: uuid.UUID) -> int:
        """How many shadow copies of set ``set_id`` :attr:`snapshots` holds."""
        return len(self._snapshots_of_set.get(set_id, ()))

    def provider_for(self, volume: Volume, provider_id: uuid.UUID | None) -> Provider:
        """The provider that will shadow-copy ``volume`` (a named one, or the first that can)."""
        if provider_id is not None:
            for provider in self.providers:
                if provider.provider_id == provider_id:
                    if not provider.is_volume_supported(volume):
                        raise VssError(
                            HResult.VSS_E_VOLUME_NOT_SUPPORTED_BY_PROVIDER,
                            f"provider {provider.name!r} does not support volume {volume.label}",
                        )
                    return provider
            raise VssError(
                HResult.VSS_E_PROVIDER_NOT_REGISTERED, f"no provider {provider_id} is registered"
            )
        for provider in self.providers:
            if provider.is_volume_supported(volume) and not self.hooks.refuses_volume(
                provider.name, volume.label
            ):
                return provider
        raise VssError(
            HResult.VSS_E_VOLUME_NOT_SUPPORTED,
            f"no provider supports volume {volume.label} ({volume.file_system})",
        )

    # -- writer events -------------------------------------------------------------------
    def send(
        self,
        event: str,
        writers: Sequence[Writer],
        phase: int | None,
        session: BackupComponents,
        snapshot_set: SnapshotSet | None = None,
    ) -> ProcessGenerator:
        """Send ``event`` to ``writers`` at once and wait for their replies, within the limit.

        Writers that cannot take the event in their state are skipped. The process's value maps
        each writer that got the event to its HRESULT; a writer that did not answer in time is
        given up on and reported as ``VSS_E_WRITER_NOT_RESPONDING``.
        """
        sim = self.sim
        session_id = session.session_id
        targets = []
        for writer in writers:
            state = writer.state_in(session_id)
            if (state, event) in WRITER_TRANSITIONS:
                targets.append(writer)
            else:
                sim.trace.record(phase, VSS, V.not_sent(event), writer=writer.name, state=state)
        if not targets:
            return {}
        volumes = tuple(v.label for v in snapshot_set.volumes) if snapshot_set else ()
        procs: list[tuple[Writer, Process]] = []
        for writer in targets:
            ctx = EventContext(
                sim=sim,
                event=event,
                phase=phase,
                session_id=session_id,
                requester=session.requester,
                backup_type=session.backup_type,
                components=session.components_of(writer),
                snapshot_set_id=str(snapshot_set.set_id) if snapshot_set else None,
                volumes=volumes,
                hooks=self.hooks,
                writer_components=(
                    WriterComponents(session, session.metadata_for(writer), event, phase)
                    if session.restore_document is None and event != "OnIdentify"
                    else None
                ),
            )
            limit = self.config.writer_reply_us
            fault = self.hooks.writer_fault(writer.name, event, phase, limit)
            if fault is not None:
                target = None
                if fault.effect is WriterEffect.WRITE_WHILE_FROZEN:
                    target = _first_block(self.namespace, writer, ctx.components)
                ctx = attrs.evolve(ctx, fault=fault, fault_target=target)
            procs.append((writer, sim.process(writer.handle(ctx), f"{writer.name} {event}")))
        timer = sim.timeout(self.config.writer_reply_us)
        yield sim.any_of([sim.all_of([p for _, p in procs]), timer])
        timer.cancel()
        results: dict[Writer, HResult] = {}
        for writer, proc in procs:
            if proc.triggered:
                results[writer] = proc.value
            else:
                writer.give_up(session_id, event, phase)
                results[writer] = HResult.VSS_E_WRITER_NOT_RESPONDING
        return results

    def writer_statuses(self, writers: Iterable[Writer], session_id: str) -> list[WriterStatus]:
        """The status of ``writers`` in a session, as ``GatherWriterStatus`` returns it."""
        statuses = []
        for w in writers:
            s = w.session_of(session_id)
            if s is None:
                statuses.append(
                    WriterStatus(
                        w.name, w.class_id, w.instance_id, WriterState.STABLE, HResult.S_OK
                    )
                )
            else:
                statuses.append(
                    WriterStatus(
                        w.name, w.class_id, w.instance_id, s.state, s.failure, s.failure_reason
                    )
                )
        return statuses

    # -- the set lock and marks ----------------------------------------------------------
    def _lock(self, owner: BackupComponents, context: Context) -> SnapshotSet:
        if self.creating is not None:
            raise VssError(
                HResult.VSS_E_SNAPSHOT_SET_IN_PROGRESS,
                f"{self.creating.owner.requester} is creating shadow copy set "
                f"{self.creating.set_id}; only one set is created at a time",
            )
        snapshot_set = SnapshotSet(self.new_id("snapshot-set"), owner, context)
        self.creating = snapshot_set
        return snapshot_set

    def _unlock(self, snapshot_set: SnapshotSet) -> None:
        for volume in snapshot_set.volumes:
            if volume.marked_by == str(snapshot_set.set_id):
                volume.marked_by = None
        if self.creating is snapshot_set:
            self.creating = None
            waiters, self._lock_waiters = self._lock_waiters, []
            for waiter in waiters:
                waiter.succeed()

    def set_lock_released(self) -> Event:
        """An event that triggers the next time the shadow-copy-set lock is released."""
        waiter = self.sim.event()
        self._lock_waiters.append(waiter)
        return waiter

    def _release_writes(self, volume: Volume, snapshot_set: SnapshotSet, phase: int | None) -> None:
        """Open a volume's write gate; the record comes first, then the held writes land."""
        self.sim.trace.record(
            phase,
            VSS,
            V.RELEASE_WRITES,
            set_id=str(snapshot_set.set_id),
            volume=volume.label,
            applied=volume.pending_writes,
        )
        volume.release()

    # -- abort ---------------------------------------------------------------------------
    def abort_set(
        self,
        session: BackupComponents,
        snapshot_set: SnapshotSet | None,
        hresult: HResult,
        reason: str,
        phase: int | None,
    ) -> ProcessGenerator:
        """Abort as VSS does: release writes, undo providers, OnAbort, drop marks and lock."""
        sim = self.sim
        set_id = str(snapshot_set.set_id) if snapshot_set is not None else None
        sim.trace.record(phase, VSS, V.ABORT, set_id=set_id, result=hresult, reason=reason)
        if snapshot_set is not None:
            for volume in snapshot_set.volumes:
                if volume.held:
                    self._release_writes(volume, snapshot_set, phase)
            for provider in snapshot_set.providers():
                provider.abort_snapshots(snapshot_set.set_id)
                sim.trace.record(
                    phase, provider.name, V.ABORT_SNAPSHOTS, set_id=str(snapshot_set.set_id)
                )
            for snapshot in snapshot_set.snapshots:
                snapshot.state = SnapshotState.ABORTED
                self._forget_snapshot(snapshot)
            snapshot_set.state = SnapshotState.ABORTED
        yield from self.send(V.ON_ABORT, session.involved_writers, phase, session, snapshot_set)
        if snapshot_set is not None:
            self._unlock(snapshot_set)
        sim.trace.record(phase, VSS, V.ABORT_DONE, set_id=set_id, result=hresult)

    # -- creation ------------------------------------------------------------------------
    def create_set(self, session: BackupComponents, snapshot_set: SnapshotSet) -> ProcessGenerator:
        """DoSnapshotSet: phases 5 to 7 of the seed. Raises VssError after a clean abort."""
        sim = self.sim
        writers = session.involved_writers
        set_id = snapshot_set.set_id
        providers = snapshot_set.providers()

        # Phase 5: writers prepare and freeze; providers prepare each volume.
        sim.trace.record(
            5,
            VSS,
            V.DO_SNAPSHOT_SET,
            set_id=str(set_id),
            volumes=[v.label for v in snapshot_set.volumes],
        )
        results = yield from self.send(V.ON_PREPARE_SNAPSHOT, writers, 5, session, snapshot_set)
        yield from self._check_writers(session, snapshot_set, results, 5)
        for snapshot in snapshot_set.snapshots:
            sim.trace.record(
                5,
                snapshot.provider.name,
                V.BEGIN_PREPARE_SNAPSHOT,
                volume=snapshot.volume.label,
                snapshot_id=str(snapshot.snapshot_id),
            )
            yield from self._provider_call(
                session,
                snapshot_set,
                snapshot.provider,
                "BeginPrepareSnapshot",
                snapshot.provider.begin_prepare_snapshot(snapshot),
                5,
            )
        for provider in providers:
            sim.trace.record(5, provider.name, V.END_PREPARE_SNAPSHOTS, set_id=str(set_id))
            yield from self._provider_call(
                session,
                snapshot_set,
                provider,
                "EndPrepareSnapshots",
                provider.end_prepare_snapshots(set_id),
                5,
            )
        results = yield from self.send(V.ON_FREEZE, writers, 5, session, snapshot_set)
        yield from self._check_writers(session, snapshot_set, results, 5)

        # Phase 6: flush and hold writes, commit, release, thaw.
        for provider in providers:
            sim.trace.record(6, provider.name, V.PRE_COMMIT_SNAPSHOTS, set_id=str(set_id))
            yield from self._provider_call(
                session,
                snapshot_set,
                provider,
                "PreCommitSnapshots",
                provider.pre_commit_snapshots(set_id),
                6,
            )
        flush = sim.choices.between("vss/flush", *self.config.flush_us)
        flush = self.hooks.flush_time(flush, self.config.flush_limit_us)
        sim.trace.record(6, VSS, V.FLUSH_WRITES, volumes=[v.label for v in snapshot_set.volumes])
        if flush > self.config.flush_limit_us:
            yield sim.timeout(self.config.flush_limit_us)
            yield from self._fail(
                session,
                snapshot_set,
                HResult.VSS_E_FLUSH_WRITES_TIMEOUT,
                "the flush of file system buffers did not finish in time",
                6,
            )
        if flush:
            yield sim.timeout(flush)
        for volume in snapshot_set.volumes:
            volume.hold(str(set_id))
        sim.trace.record(
            6,
            VSS,
            V.HOLD_WRITES,
            set_id=str(set_id),
            volumes=[v.label for v in snapshot_set.volumes],
        )
        commits = []
        first_failure = sim.event()
        for provider in providers:
            sim.trace.record(6, provider.name, V.COMMIT_SNAPSHOTS, set_id=str(set_id))
            commit = self._commit(provider, set_id, first_failure)
            commits.append(sim.process(commit, f"{provider.name} commit"))
        commit_seq = len(sim.trace) - 1
        commit_time = sim.now
        timer = sim.timeout(self.config.hold_limit_us)
        all_commits = sim.all_of(commits)
        yield sim.any_of([all_commits, first_failure, timer])
        timer.cancel()
        if first_failure.triggered:
            error: VssError = first_failure.value
            yield from self._fail(session, snapshot_set, error.hresult, error.message, 6)
        if not all_commits.triggered:
            yield from self._fail(
                session,
                snapshot_set,
                HResult.VSS_E_HOLD_WRITES_TIMEOUT,
                f"writes were held {self.config.hold_limit_us / SECOND:g} s and the commit had "
                "not finished",
                6,
            )
        for snapshot in snapshot_set.snapshots:
            snapshot.created_us = commit_time
            snapshot.commit_seq = commit_seq
        for volume in snapshot_set.volumes:
            self._release_writes(volume, snapshot_set, 6)
        for provider in providers:
            sim.trace.record(6, provider.name, V.POST_COMMIT_SNAPSHOTS, set_id=str(set_id))
            yield from self._provider_call(
                session,
                snapshot_set,
                provider,
                "PostCommitSnapshots",
                provider.post_commit_snapshots(set_id),
                6,
            )
        results = yield from self.send(V.ON_THAW, writers, 6, session, snapshot_set)
        yield from self._check_writers(session, snapshot_set, results, 6)
        timed_out = [
            w for w in writers if w.state_in(session.session_id) == WriterState.FAILED_AT_FREEZE
        ]
        if timed_out:
            yield from self._fail(
                session,
                snapshot_set,
                HResult.VSS_E_UNEXPECTED_WRITER_ERROR,
                f"{timed_out[0].name} failed while frozen: VSS_E_WRITERERROR_TIMEOUT",
                6,
            )

        # Phase 7: the shadow copies exist; writers get PostSnapshot; VSS answers.
        for snapshot in snapshot_set.snapshots:
            snapshot.state = SnapshotState.CREATED
        snapshot_set.state = SnapshotState.CREATED
        yield from self.send(V.ON_POST_SNAPSHOT, writers, 7, session, snapshot_set)
        self._unlock(snapshot_set)
        sim.trace.record(
            7,
            VSS,
            V.DO_SNAPSHOT_SET_COMPLETE,
            set_id=str(set_id),
            commit_seq=commit_seq,
            snapshots=[
                {
                    "volume": s.volume.label,
                    "snapshot_id": str(s.snapshot_id),
                    "device": s.device_object,
                    "provider": s.provider.name,
                }
                for s in snapshot_set.snapshots
            ],
        )
        return snapshot_set

    def _commit(
        self, provider: Provider, set_id: uuid.UUID, first_failure: Event
    ) -> ProcessGenerator:
        """The provider's CommitSnapshots, with the faults that can strike it.

        A failure is the process's value, never a failed event: the providers of one set commit
        side by side, and several may fail at one instant, or after the hold timed out, when
        nobody waits for them any more. The first failure triggers ``first_failure``.
        """
        try:
            error = self.hooks.provider_error(provider.name, "CommitSnapshots", 6)
            if error is not None:
                raise VssError(error, f"{provider.name} failed CommitSnapshots: {error.name}")
            delay = self.hooks.commit_delay(provider.name, self.config.hold_limit_us)
            if delay:
                yield self.sim.timeout(delay)
            yield from provider.commit_snapshots(set_id)
        except VssError as exc:
            if not first_failure.triggered:
                first_failure.succeed(exc)
            return exc
        return None

    def _provider_call(
        self,
        session: BackupComponents,
        snapshot_set: SnapshotSet,
        provider: Provider,
        label: str,
        call: ProcessGenerator,
        phase: int,
    ) -> ProcessGenerator:
        sim = self.sim
        name = provider.name
        error = self.hooks.provider_error(name, label, phase)
        if error is not None:
            call.close()
            yield from self._fail(
                session, snapshot_set, error, f"{name} failed {label}: {error.name}", phase
            )
        proc = sim.process(_failure_of(call), f"{name} {label}")
        timer = sim.timeout(self.config.provider_reply_us)
        yield sim.any_of([proc, timer])
        timer.cancel()
        if proc.triggered and proc.value is not None:
            failure: VssError = proc.value
            yield from self._fail(session, snapshot_set, failure.hresult, failure.message, phase)
        if not proc.triggered:
            yield from self._fail(
                session,
                snapshot_set,
                HResult.VSS_E_UNEXPECTED_PROVIDER_ERROR,
                f"{name} did not return from {label} within "
                f"{self.config.provider_reply_us / SECOND:g} s",
                phase,
            )

    def _check_writers(
        self,
        session: BackupComponents,
        snapshot_set: SnapshotSet,
        results: Mapping[Writer, HResult],
        phase: int,
    ) -> ProcessGenerator:
        for writer, result in results.items():
            if result != HResult.S_OK:
                yield from self._fail(
                    session,
                    snapshot_set,
                    HResult.VSS_E_UNEXPECTED_WRITER_ERROR,
                    f"{writer.name} failed: {writer.state_in(session.session_id).vss_name}, "
                    f"{result.name}",
                    phase,
                )

    def _fail(
        self,
        session: BackupComponents,
        snapshot_set: SnapshotSet,
        hresult: HResult,
        reason: str,
        phase: int,
    ) -> ProcessGenerator:
        yield from self.abort_set(session, snapshot_set, hresult, reason, phase)
        raise VssError(hresult, reason)


def _failure_of(call: ProcessGenerator) -> ProcessGenerator:
    """Run a provider call; its value is the VssError it raised, or None.

    A provider that fails after VSS stopped waiting for it (its reply limit passed) then fails
    nobody's wait: the late failure is dropped, as a late reply is.
    """
    try:
        yield from call
    except VssError as exc:
        return exc
    return None


#: The largest Backup Components Document (XML) InitializeForRestore reads, in characters.
_MAX_DOCUMENT_CHARS = 64 * 1024 * 1024


def _first_block(
    namespace: Namespace, writer: Writer, components: Iterable[Component]
) -> tuple[Volume, int] | None:
    """The first block of the first file of ``components`` (what a writer that writes while
    frozen spoils)."""
    for component in components:
        for member in writer.metadata.members(component):
            for fd in member.all_files:
                for file in namespace.match(fd.path, fd.filespec, fd.recursive):
                    return file.volume, file.block_address(0)
    return None


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


class BackupComponents:
    """``IVssBackupComponents``: one requester's backup session against the coordinator."""

    def __init__(self, coordinator: Coordinator, requester: str) -> None:
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
        self.writer_metadata: list[WriterMetadata] = []
        self._metadata_by_class: dict[uuid.UUID, WriterMetadata] = {}
        self.selected: list[ComponentKey] = []
        self._selected_of: dict[uuid.UUID, dict[ComponentKey, None]] = {}
        self.succeeded: dict[ComponentKey, bool] = {}
        #: The backup stamps: those the requester set for writers to read, those writers set,
        #: and the partial files writers added (by file path, upper case).
        self.previous_backup_stamps: dict[ComponentKey, str] = {}
        self.backup_stamps: dict[ComponentKey, str] = {}
        self.partial_files: dict[ComponentKey, dict[str, PartialFile]] = {}
        self.involved_writers: list[Writer] = []
        self.snapshot_set: SnapshotSet | None = None
        self._created: list[ShadowCopy] = []
        self._created_of: dict[Volume, list[ShadowCopy]] = {}
        self._busy: Process | None = None
        #: The stored document of a restore session (None in a backup session).
        self.restore_document: BackupComponentsDocument | None = None
        self.file_restore_status: dict[ComponentKey, RestoreStatus] = {}
        self.additional_restores: dict[ComponentKey, bool] = {}

    def _start(self, generator: ProcessGenerator, call: str) -> Process:
        """Run an asynchronous call; no other call is accepted until it is done."""
        self._busy = self.sim.process(generator, f"{self.requester} {call}")
        return self._busy

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

    def _status_phase(self) -> int | None:
        if self.restore_document is not None:
            return None  # a restore is outside the seven phases of a backup
        if self.state == SessionState.SNAPSHOTS_CREATED:
            return 7
        if self.state in (SessionState.COMPLETED, SessionState.ABORTED):
            return None
        return 3

    def components_of(self, writer: Writer) -> tuple[Component, ...]:
        """The components of ``writer`` this session selected."""
        _args.check_instance("writer", writer, Writer, "a Writer")
        metadata = self.metadata_for(writer)
        return tuple(
            metadata.component(k.logical_path, k.name)
            for k in self._selected_of.get(writer.class_id, ())
        )

    def metadata_for(self, writer: Writer) -> WriterMetadata:
        """The Writer Metadata Document ``writer`` gave this session's GatherWriterMetadata
        (its current one before that): what the session selected from, even if the writer
        describes itself differently at a later OnIdentify."""
        return self._metadata_by_class.get(writer.class_id, writer.metadata)

    def is_selected(self, key: ComponentKey) -> bool:
        """Whether the session selected the component ``key`` (``AddComponent`` in a backup,
        ``SetSelectedForRestore`` in a restore)."""
        _args.check_instance("key", key, ComponentKey, "a ComponentKey")
        return key in self._selected_of.get(key.writer_class_id, ())

    @staticmethod
    def _check_component(writer_class_id: object, logical_path: object, name: object) -> None:
        """The arguments that name a component: a writer class GUID, a logical path (may be
        empty) and a component name."""
        _args.check_id("writer_class_id", writer_class_id)
        _args.check_str("logical_path", logical_path)
        _args.check_str("name", name, empty=False)

    def _metadata_of(self, writer_class_id: uuid.UUID) -> WriterMetadata:
        try:
            return self._metadata_by_class[writer_class_id]
        except KeyError:
            raise VssError(
                HResult.VSS_E_OBJECT_NOT_FOUND,
                f"no writer with class id {writer_class_id} answered GatherWriterMetadata",
            ) from None

    # -- phase 1 -------------------------------------------------------------------------
    def initialize_for_backup(self) -> None:
        """``InitializeForBackup``: start a backup session."""
        self.state = self._check("initialize_for_backup")
        self._record(1, V.INITIALIZE_FOR_BACKUP)

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
        by the requester (see :func:`vsssim.backup_types.effective_type`).
        """
        _args.check_bool("select_components", select_components)
        _args.check_bool("bootable_system_state", bootable_system_state)
        backup_type = _args.check_enum("backup_type", backup_type, BackupType)
        _args.check_bool("partial_file_support", partial_file_support)
        if backup_type == BackupType.UNDEFINED:
            raise VssError(HResult.E_INVALIDARG, "backup_type: cannot be VSS_BT_UNDEFINED")
        target = self._check("set_backup_state")
        self.state = target
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
        session's shadow copies then carry too (``E_INVALIDARG`` for other bits); a context a
        backup cannot create shadow copies in is ``VSS_E_UNSUPPORTED_CONTEXT``.
        """
        base, extra = _args.split_context("context", context)
        target = self._check("set_context")
        if base not in CONTEXT_ATTRIBUTES:
            raise VssError(
                HResult.VSS_E_UNSUPPORTED_CONTEXT,
                f"{base.vss_name} is not a context a backup can create shadow copies in",
            )
        self.state = target
        self.context = base
        self.context_attributes = extra
        if extra:
            self._record(4, V.SET_CONTEXT, context=base, attributes=extra)
        else:
            self._record(4, V.SET_CONTEXT, context=base)

    # -- phase 2 -------------------------------------------------------------------------
    def gather_writer_metadata(self) -> Process:
        """``GatherWriterMetadata``: OnIdentify to every writer; value: the metadata list."""
        target = self._check("gather_writer_metadata")
        phase = 2 if self.restore_document is None else None
        self.state = target
        self._record(phase, V.GATHER_WRITER_METADATA)
        return self._start(self._gather_metadata(phase), "GatherWriterMetadata")

    def _gather_metadata(self, phase: int | None) -> ProcessGenerator:
        coordinator = self.coordinator
        results = yield from coordinator.send(V.ON_IDENTIFY, coordinator.writers, phase, self)
        self.writer_metadata = [
            w.metadata for w in coordinator.writers if results.get(w) == HResult.S_OK
        ]
        self._metadata_by_class = by_class_id(self.writer_metadata)
        self._record(
            phase,
            V.GATHER_WRITER_METADATA_COMPLETE,
            writers=[m.writer_name for m in self.writer_metadata],
        )
        return list(self.writer_metadata)

    # -- phase 3 -------------------------------------------------------------------------
    def add_component(self, writer_class_id: uuid.UUID, logical_path: str, name: str) -> None:
        """``AddComponent``: select a component (or a component set) for backup."""
        self._check_component(writer_class_id, logical_path, name)
        target = self._check("add_component")
        metadata = self._metadata_of(writer_class_id)
        component = metadata.component(logical_path, name)
        metadata.check_selectable(component)
        key = metadata.key(component)
        if self.is_selected(key):
            raise VssError(
                HResult.VSS_E_OBJECT_ALREADY_EXISTS,
                f"{metadata.writer_name}: component {component.full_path!r} is added already",
            )
        self.state = target
        self.selected.append(key)
        self._selected_of.setdefault(key.writer_class_id, {})[key] = None
        self._record(3, V.ADD_COMPONENT, writer=metadata.writer_name, component=component.full_path)

    def set_previous_backup_stamp(
        self, writer_class_id: uuid.UUID, logical_path: str, name: str, stamp: str
    ) -> None:
        """``SetPreviousBackupStamp``: the stamp of the earlier backup an incremental or
        differential builds on, taken from that backup's document (``GetBackupStamp``); the
        writer reads it in OnPrepareBackup (``GetPreviousBackupStamp``).

        Only in a backup, after the component was added and before PrepareForBackup
        (``VSS_E_BAD_STATE`` otherwise); the component must have been added
        (``VSS_E_OBJECT_NOT_FOUND``). The requester does not interpret the stamp.
        """
        self._check_component(writer_class_id, logical_path, name)
        _args.check_str("stamp", stamp)
        if not stamp:
            raise VssError(HResult.E_INVALIDARG, "stamp: the previous backup stamp cannot be empty")
        if self.restore_document is not None or not self.allows("add_component"):
            raise VssError(
                HResult.VSS_E_BAD_STATE,
                f"set_previous_backup_stamp is not allowed now: {self.requester}'s "
                f"{'restore' if self.restore_document is not None else 'backup'} is "
                f"{self.state.value}; it comes after AddComponent, before PrepareForBackup",
            )
        self._check("add_component")  # a call still running refuses it too
        metadata = self._metadata_of(writer_class_id)
        key = metadata.key(metadata.component(logical_path, name))
        if not self.is_selected(key):
            raise VssError(
                HResult.VSS_E_OBJECT_NOT_FOUND,
                f"{metadata.writer_name}: component {key.full_path!r} was not added",
            )
        self.previous_backup_stamps[key] = stamp
        self._record(
            3,
            V.SET_PREVIOUS_BACKUP_STAMP,
            writer=metadata.writer_name,
            component=key.full_path,
            stamp=stamp,
        )

    def prepare_for_backup(self) -> Process:
        """``PrepareForBackup``: OnPrepareBackup to the writers taking part."""
        target = self._check("prepare_for_backup")
        coordinator = self.coordinator
        answered = {m.writer_instance_id for m in self.writer_metadata}
        if self.select_components:
            chosen = {k.writer_class_id for k in self.selected}
            involved = [w for w in coordinator.writers if w.class_id in chosen]
        else:
            involved = list(coordinator.writers)
        self.involved_writers = [w for w in involved if w.instance_id in answered]
        self.state = target
        self._record(3, V.PREPARE_FOR_BACKUP, writers=[w.name for w in self.involved_writers])
        return self._start(
            self._notify(V.ON_PREPARE_BACKUP, V.PREPARE_FOR_BACKUP_COMPLETE, 3), "PrepareForBackup"
        )

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

    # -- phase 4 -------------------------------------------------------------------------
    def start_snapshot_set(self) -> uuid.UUID:
        """``StartSnapshotSet``: begin defining a set; only one set is created at a time."""
        target = self._check("start_snapshot_set")
        snapshot_set = self.coordinator._lock(self, self.context)
        self.state = target
        self.snapshot_set = snapshot_set
        self._record(4, V.START_SNAPSHOT_SET, set_id=str(snapshot_set.set_id))
        return snapshot_set.set_id

    def is_volume_supported(self, volume_path: str, provider_id: uuid.UUID | None = None) -> bool:
        """``IsVolumeSupported``: whether the provider (any, without one) can shadow-copy the
        volume holding ``volume_path``."""
        _args.check_path("volume_path", volume_path)
        _args.check_uuid("provider_id", provider_id, optional=True)
        self._check("is_volume_supported")
        try:
            volume = self.coordinator.namespace.volume_of(volume_path)
        except ValueError as exc:
            raise VssError(HResult.VSS_E_OBJECT_NOT_FOUND, str(exc)) from None
        try:
            self.coordinator.provider_for(volume, provider_id)
        except VssError as refused:
            if refused.hresult == HResult.VSS_E_PROVIDER_NOT_REGISTERED:
                raise
            return False
        return True

    def add_to_snapshot_set(
        self, volume_path: str, provider_id: uuid.UUID | None = None
    ) -> uuid.UUID:
        """``AddToSnapshotSet``: add the volume holding ``volume_path``; returns the snapshot id."""
        _args.check_path("volume_path", volume_path)
        _args.check_uuid("provider_id", provider_id, optional=True)
        target = self._check("add_to_snapshot_set")
        coordinator = self.coordinator
        snapshot_set = self.snapshot_set
        assert snapshot_set is not None
        try:
            volume = coordinator.namespace.volume_of(volume_path)
        except ValueError as exc:
            raise VssError(HResult.VSS_E_OBJECT_NOT_FOUND, str(exc)) from None
        if snapshot_set.holds(volume):
            raise VssError(
                HResult.VSS_E_OBJECT_ALREADY_EXISTS,
                f"volume {volume.label} is in shadow copy set {snapshot_set.set_id} already",
            )
        if len(snapshot_set.snapshots) >= coordinator.config.max_volumes_per_set:
            raise VssError(
                HResult.VSS_E_MAXIMUM_NUMBER_OF_VOLUMES_REACHED,
                f"a shadow copy set holds at most {coordinator.config.max_volumes_per_set} volumes",
            )
        if volume.marked_by is not None:
            raise VssError(
                HResult.VSS_E_VOLUME_IN_USE,
                f"volume {volume.label} is in shadow copy set {volume.marked_by}, being created",
            )
        provider = coordinator.provider_for(volume, provider_id)
        attributes = CONTEXT_ATTRIBUTES[self.context] | self.context_attributes
        if provider.provider_type == ProviderType.HARDWARE:
            attributes |= SnapshotAttr.HARDWARE_ASSISTED
        snapshot = ShadowCopy(
            snapshot_id=coordinator.new_id("snapshot"),
            set_id=snapshot_set.set_id,
            volume=volume,
            provider=provider,
            attributes=attributes,
            device_object=coordinator.next_shadow_device(),
        )
        volume.marked_by = str(snapshot_set.set_id)
        snapshot_set.add(snapshot)
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
    def do_snapshot_set(self) -> Process:
        """``DoSnapshotSet``: create the set (phases 5-7); value: the set."""
        target = self._check("do_snapshot_set")
        snapshot_set = self.snapshot_set
        assert snapshot_set is not None
        if not snapshot_set.snapshots:
            raise VssError(HResult.VSS_E_BAD_STATE, "the shadow copy set has no volumes")
        self.state = target
        return self._start(self._do_snapshot_set(snapshot_set), "DoSnapshotSet")

    def _do_snapshot_set(self, snapshot_set: SnapshotSet) -> ProcessGenerator:
        try:
            yield from self.coordinator.create_set(self, snapshot_set)
        except VssError:
            self.state = SESSION_TRANSITIONS[(self.state, "snapshot set failed")]
            raise
        self.state = SESSION_TRANSITIONS[(self.state, "snapshot set created")]
        for snapshot in snapshot_set.snapshots:
            self.coordinator._keep_snapshot(snapshot)
            self._created.append(snapshot)
            self._created_of.setdefault(snapshot.volume, []).append(snapshot)
        return snapshot_set

    def get_snapshot_properties(self, snapshot_id: uuid.UUID) -> SnapshotProperties:
        """``GetSnapshotProperties``."""
        _args.check_id("snapshot_id", snapshot_id)
        self._check("get_snapshot_properties")
        snapshot = self.coordinator.snapshots.get(snapshot_id)
        if snapshot is None:
            raise VssError(HResult.VSS_E_OBJECT_NOT_FOUND, f"no shadow copy {snapshot_id}")
        self._record(
            7,
            V.GET_SNAPSHOT_PROPERTIES,
            snapshot_id=str(snapshot_id),
            volume=snapshot.volume.label,
            device=snapshot.device_object,
        )
        return SnapshotProperties(
            snapshot_id=snapshot.snapshot_id,
            snapshot_set_id=snapshot.set_id,
            snapshots_count=self.coordinator.set_size(snapshot.set_id),
            snapshot_device_object=snapshot.device_object,
            original_volume_name=snapshot.volume.name,
            original_volume_label=snapshot.volume.label,
            originating_machine=self.coordinator.machine,
            provider_id=snapshot.provider.provider_id,
            attributes=snapshot.attributes,
            creation_time_us=snapshot.created_us or 0,
            state=snapshot.state,
        )

    def snapshot_for(self, volume: Volume) -> ShadowCopy:
        """This session's created shadow copy of ``volume``."""
        _args.check_instance("volume", volume, Volume, "a Volume")
        for snapshot in self._created_of.get(volume, ()):
            if snapshot.state == SnapshotState.CREATED:
                return snapshot
        raise VssError(
            HResult.VSS_E_OBJECT_NOT_FOUND, f"{self.requester} has no shadow copy of {volume.label}"
        )

    def gather_writer_status(self) -> Process:
        """``GatherWriterStatus``; value: a :class:`WriterStatus` per writer of the session."""
        self._check("gather_writer_status")
        phase = self._status_phase()
        self._record(phase, V.GATHER_WRITER_STATUS)
        return self._start(self._gather_status(phase), "GatherWriterStatus")

    def _gather_status(self, phase: int | None) -> ProcessGenerator:
        yield self.sim.timeout(self.coordinator.config.status_query_us)
        answered = {m.writer_instance_id for m in self.writer_metadata}
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
        self, writer_class_id: uuid.UUID, logical_path: str, name: str, succeeded: bool
    ) -> None:
        """``SetBackupSucceeded``: whether the requester backed the component up."""
        self._check_component(writer_class_id, logical_path, name)
        _args.check_bool("succeeded", succeeded)
        self._check("set_backup_succeeded")
        metadata = self._metadata_of(writer_class_id)
        key = metadata.key(metadata.component(logical_path, name))
        if not self.is_selected(key):
            raise VssError(
                HResult.VSS_E_OBJECT_NOT_FOUND, f"component {key.full_path!r} was not added"
            )
        self.succeeded[key] = succeeded
        self._record(
            None,
            V.SET_BACKUP_SUCCEEDED,
            writer=metadata.writer_name,
            component=key.full_path,
            succeeded=succeeded,
        )

    def backup_complete(self) -> Process:
        """``BackupComplete``: OnBackupComplete to the writers taking part."""
        self.state = self._check("backup_complete")
        self._record(None, V.BACKUP_COMPLETE)
        return self._start(
            self._notify(V.ON_BACKUP_COMPLETE, V.BACKUP_COMPLETE_COMPLETE, None, self.snapshot_set),
            "BackupComplete",
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
        _check_files(files)
        self._check("save_as_xml")
        snapshot_set = self.snapshot_set
        assert snapshot_set is not None and snapshot_set.snapshots
        files = files or {}
        components = []
        for key in self.selected:
            metadata = self._metadata_by_class[key.writer_class_id]
            component = metadata.component(key.logical_path, key.name)
            components.append(
                BackedUpComponent(
                    writer_class_id=metadata.writer_class_id,
                    writer_instance_id=metadata.writer_instance_id,
                    writer_name=metadata.writer_name,
                    logical_path=component.logical_path,
                    name=component.name,
                    component_type=component.component_type,
                    backup_succeeded=self.succeeded.get(key, False),
                    files=tuple(files.get(key, ())),
                    backup_stamp=self.backup_stamps.get(key, ""),
                    previous_backup_stamp=self.previous_backup_stamps.get(key, ""),
                    partial_files=tuple(
                        partial for _, partial in sorted(self.partial_files.get(key, {}).items())
                    ),
                )
            )
        return BackupComponentsDocument(
            backup_type=self.backup_type,
            snapshot_set_id=snapshot_set.set_id,
            requester=self.requester,
            context=self.context,
            time_us=snapshot_set.snapshots[0].created_us or 0,
            select_components=self.select_components,
            bootable_system_state=self.bootable_system_state,
            components=tuple(components),
            partial_file_support=self.partial_file_support,
        )

    def get_writer_components(self) -> tuple[BackedUpComponent, ...]:
        """``GetWriterComponents``: the selected components as the writers left them (backup
        stamps, partial files), once the shadow copy set exists; like SaveAsXML it leaves no
        trace record."""
        return self.save_as_document().components

    def save_as_xml(self, files: Mapping[ComponentKey, Sequence[str]] | None = None) -> str:
        """``SaveAsXML``: :meth:`save_as_document` as VSS's ``BACKUP_COMPONENTS`` XML."""
        return document_to_xml(self.save_as_document(files))

    # -- restore ---------------------------------------------------------------------------
    def initialize_for_restore(self, document: BackupComponentsDocument | str | bytes) -> None:
        """``InitializeForRestore``: start a restore from a stored Backup Components Document
        (the value, or its XML as text or as UTF-8/UTF-16 bytes: malformed XML is
        ``VSS_E_CORRUPT_XML_DOCUMENT``, another document ``VSS_E_INVALID_XML_DOCUMENT``)."""
        if not isinstance(document, BackupComponentsDocument | bytes):
            _args.check_str("document", document, max_chars=_MAX_DOCUMENT_CHARS, empty=False)
        target = self._check("initialize_for_restore")
        if isinstance(document, str | bytes):
            document = document_from_xml(document)
        self.state = target
        self.restore_document = document
        self.backup_type = document.backup_type
        self._record(
            None,
            V.INITIALIZE_FOR_RESTORE,
            snapshot_set_id=str(document.snapshot_set_id) if document.snapshot_set_id else None,
            backup_type=document.backup_type,
            components=[c.full_path for c in document.components],
        )

    def set_selected_for_restore(
        self, writer_class_id: uuid.UUID, logical_path: str, name: str, selected: bool = True
    ) -> None:
        """``SetSelectedForRestore``: choose (or drop) a component of the document.

        The component must be in the Backup Components Document and its writer running (it
        answered GatherWriterMetadata), else ``VSS_E_OBJECT_NOT_FOUND``; a component its
        writer does not let be selected for restore is ``E_INVALIDARG``.
        """
        self._check_component(writer_class_id, logical_path, name)
        _args.check_bool("selected", selected)
        target = self._check("set_selected_for_restore")
        assert self.restore_document is not None
        backed_up = self.restore_document.component(writer_class_id, logical_path, name)
        metadata = self._metadata_of(writer_class_id)
        component = metadata.component(backed_up.logical_path, backed_up.name)
        if selected and not component.selectable_for_restore:
            raise VssError(
                HResult.E_INVALIDARG,
                f"{metadata.writer_name}:{component.full_path}: the writer does not let the "
                "component be selected for restore",
            )
        key = metadata.key(component)
        self.state = target
        if selected and not self.is_selected(key):
            self.selected.append(key)
            self._selected_of.setdefault(key.writer_class_id, {})[key] = None
        elif not selected and self.is_selected(key):
            self.selected.remove(key)
            del self._selected_of[key.writer_class_id][key]
        self._record(
            None,
            V.SET_SELECTED_FOR_RESTORE,
            writer=metadata.writer_name,
            component=key.full_path,
            selected=selected,
        )

    def _selected_for_restore(
        self, writer_class_id: uuid.UUID, logical_path: str, name: str
    ) -> tuple[WriterMetadata, ComponentKey]:
        """The writer's metadata and the key of a component selected for restore
        (``VSS_E_OBJECT_NOT_FOUND`` if it is not)."""
        metadata = self._metadata_of(writer_class_id)
        key = metadata.key(metadata.component(logical_path, name))
        if not self.is_selected(key):
            raise VssError(
                HResult.VSS_E_OBJECT_NOT_FOUND,
                f"{metadata.writer_name}: component {key.full_path!r} is not selected for restore",
            )
        return metadata, key

    def set_additional_restores(
        self, writer_class_id: uuid.UUID, logical_path: str, name: str, additional: bool
    ) -> None:
        """``SetAdditionalRestores``: whether more restores of a component selected for restore
        follow (the later incrementals or the differential of its chain), so that the writer
        does not recover it before the last. Only between SetSelectedForRestore and PreRestore
        (``VSS_E_BAD_STATE``), for a selected component (``VSS_E_OBJECT_NOT_FOUND``)."""
        self._check_component(writer_class_id, logical_path, name)
        _args.check_bool("additional", additional)
        target = self._check("set_selected_for_restore")
        metadata, key = self._selected_for_restore(writer_class_id, logical_path, name)
        self.state = target
        self.additional_restores[key] = additional
        self._record(
            None,
            V.SET_ADDITIONAL_RESTORES,
            writer=metadata.writer_name,
            component=key.full_path,
            additional=additional,
        )

    def pre_restore(self) -> Process:
        """``PreRestore``: OnPreRestore to the writers of the components selected for restore;
        value: each writer's HRESULT."""
        target = self._check("pre_restore")
        chosen = {k.writer_class_id for k in self.selected}
        answered = {m.writer_instance_id for m in self.writer_metadata}
        self.involved_writers = [
            w
            for w in self.coordinator.writers
            if w.class_id in chosen and w.instance_id in answered
        ]
        self.state = target
        self._record(None, V.PRE_RESTORE, writers=[w.name for w in self.involved_writers])
        return self._start(
            self._notify(V.ON_PRE_RESTORE, V.PRE_RESTORE_COMPLETE, None), "PreRestore"
        )

    def set_file_restore_status(
        self, writer_class_id: uuid.UUID, logical_path: str, name: str, status: RestoreStatus
    ) -> None:
        """``SetFileRestoreStatus``: whether all, none or some of a selected component's files
        were restored (between PreRestore and PostRestore)."""
        self._check_component(writer_class_id, logical_path, name)
        status = _args.check_enum("status", status, RestoreStatus)
        if status == RestoreStatus.UNDEFINED:
            raise VssError(HResult.E_INVALIDARG, "status: cannot be VSS_RS_UNDEFINED")
        target = self._check("set_file_restore_status")
        metadata, key = self._selected_for_restore(writer_class_id, logical_path, name)
        self.state = target
        self.file_restore_status[key] = status
        self._record(
            None,
            V.SET_FILE_RESTORE_STATUS,
            writer=metadata.writer_name,
            component=key.full_path,
            status=status,
        )

    def post_restore(self) -> Process:
        """``PostRestore``: OnPostRestore to the writers of the restore (a writer that failed
        OnPreRestore is not sent it); value: each writer's HRESULT."""
        self.state = self._check("post_restore")
        self._record(None, V.POST_RESTORE, writers=[w.name for w in self.involved_writers])
        return self._start(
            self._notify(V.ON_POST_RESTORE, V.POST_RESTORE_COMPLETE, None), "PostRestore"
        )

    def delete_snapshots(self, snapshot_or_set_id: uuid.UUID) -> int:
        """``DeleteSnapshots`` of one shadow copy or a whole set; returns how many were deleted."""
        _args.check_id("snapshot_or_set_id", snapshot_or_set_id)
        self._check("delete_snapshots")
        coordinator = self.coordinator
        doomed = [
            s
            for s in coordinator.snapshots.values()
            if snapshot_or_set_id in (s.snapshot_id, s.set_id)
        ]
        if not doomed:
            raise VssError(
                HResult.VSS_E_OBJECT_NOT_FOUND, f"no shadow copy or set {snapshot_or_set_id}"
            )
        for snapshot in doomed:
            self._delete(snapshot)
        self._record(None, V.DELETE_SNAPSHOTS, id=str(snapshot_or_set_id), deleted=len(doomed))
        return len(doomed)

    def _delete(self, snapshot: ShadowCopy) -> None:
        snapshot.provider.delete_snapshot(snapshot)
        self.coordinator._forget_snapshot(snapshot)
        self.sim.trace.record(
            None,
            snapshot.provider.name,
            V.DELETE_SNAPSHOT,
            volume=snapshot.volume.label,
            snapshot_id=str(snapshot.snapshot_id),
        )

    def abort_backup(self) -> Process:
        """``AbortBackup``: OnAbort to the writers, the unfinished set deleted."""
        target = self._check("abort_backup")
        self.state = target
        self._record(None, V.ABORT_BACKUP)
        snapshot_set = self.snapshot_set
        if snapshot_set is not None and snapshot_set.state in (
            SnapshotState.CREATED,
            SnapshotState.ABORTED,
        ):
            snapshot_set = None  # nothing of the set to undo: writers only hear OnAbort
        return self._start(
            self.coordinator.abort_set(
                self, snapshot_set, HResult.S_OK, f"{self.requester} called AbortBackup", None
            ),
            "AbortBackup",
        )

    def release(self) -> Process:
        """Release the object: OnBackupShutdown; auto-release shadow copies are deleted."""
        target = self._check("release")
        previous = self.state
        self.state = target
        self._record(None, V.RELEASE)
        return self._start(self._release(previous), "Release")

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
            yield from coordinator.abort_set(
                self, snapshot_set, HResult.S_OK, f"{self.requester} went away", None
            )
        for snapshot in self._created:
            snapshot.in_use = False
            auto_release = not snapshot.attributes & SnapshotAttr.NO_AUTO_RELEASE
            if auto_release and snapshot.snapshot_id in coordinator.snapshots:
                self._delete(snapshot)
        if previous != SessionState.CREATED:
            yield from coordinator.send(V.ON_BACKUP_SHUTDOWN, self.involved_writers, None, self)
        self._record(None, V.RELEASE_COMPLETE)
