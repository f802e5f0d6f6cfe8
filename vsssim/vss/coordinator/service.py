"""The coordinator: the VSS service of one simulated host, and its value types.

:class:`VssService` owns the writer registry, the providers, the shadow-copy-set lock (one set
in creation at a time), volume marks, the write gates, the writer events and the shadow copies
created. Requesters talk to it only through a backup components object
(:class:`~vsssim.vss.coordinator.session.BackupComponents`), which the public
:class:`~vsssim.vss.coordinator.session.Coordinator` (this service with
``create_backup_components``) hands out from above; here a session is only the small
:class:`Session` protocol of what the service reads of one. What happens to a shadow copy set,
from AddToSnapshotSet to its creation, abort or deletion, is
:mod:`vsssim.vss.coordinator.snapshot_set`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

import attrs

from vsssim.errors import HResult, VssError
from vsssim.sim import vocabulary as V
from vsssim.sim.kernel import MILLISECOND, SECOND, Event, Process, ProcessGenerator, Simulation
from vsssim.sim.keyed import KeyedDict
from vsssim.vss.backup_types import BackupSession, WriterComponents
from vsssim.vss.constants import Context, SnapshotAttr, SnapshotState, WriterState
from vsssim.vss.documents.backup_document import BackupComponentsDocument
from vsssim.vss.hooks import NO_FAULTS, FaultHooks, WriterEffect
from vsssim.vss.metadata import Component, WriterMetadata
from vsssim.vss.namespace import Namespace
from vsssim.vss.providers.base import Provider, ShadowCopy
from vsssim.vss.providers.software import SoftwareProvider
from vsssim.vss.states import FAILED_STATES, WRITER_TRANSITIONS, snapshot_set_next_state
from vsssim.vss.volumes import Volume, deterministic_guid
from vsssim.vss.writers.base import Writer
from vsssim.vss.writers.handling import EventContext

#: The actor name of the coordinator in the trace.
VSS = V.VSS

#: Contexts a backup can create shadow copies in, with the attributes each implies.
CONTEXT_ATTRIBUTES: Mapping[Context, SnapshotAttr] = {
    Context.BACKUP: SnapshotAttr(0),
    Context.FILE_SHARE_BACKUP: SnapshotAttr.NO_WRITERS,
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


def writers_take_part(context: Context) -> bool:
    """Whether shadow copies of ``context`` are made with the writers ("Shadow Copy Context
    Configurations"): not in ``VSS_CTX_FILE_SHARE_BACKUP``, ``VSS_CTX_NAS_ROLLBACK`` or
    ``VSS_CTX_CLIENT_ACCESSIBLE``, whose attributes carry ``VSS_VOLSNAP_ATTR_NO_WRITERS``."""
    return not CONTEXT_ATTRIBUTES.get(context, SnapshotAttr(0)) & SnapshotAttr.NO_WRITERS


class Session(BackupSession, Protocol):
    """What the service reads of a backup session (the backup components object): who it is,
    whether it restores, and what each writer it notifies was selected for; with what a
    writer's handle on its components uses (:class:`~vsssim.vss.backup_types.BackupSession`).
    Kept here so that the service needs nothing of the session above it."""

    @property
    def session_id(self) -> str: ...

    @property
    def restore_document(self) -> BackupComponentsDocument | None: ...

    def components_of(self, writer: Writer) -> tuple[Component, ...]: ...

    def metadata_for(self, writer: Writer) -> WriterMetadata: ...


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


#: No snapshot attributes (a copy of no particular kind).
NO_ATTRIBUTES = SnapshotAttr(0)


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
    #: Where ExposeSnapshot exposed the copy, and the part of the volume a share shows.
    exposed_name: str | None = None
    exposed_path: str | None = None


@attrs.define(eq=False)
class SnapshotSet:
    """A shadow copy set: its volumes' shadow copies and who defines it."""

    set_id: uuid.UUID
    owner: Session
    context: Context
    snapshots: list[ShadowCopy] = attrs.field(factory=list)
    state: SnapshotState = SnapshotState.PREPARING
    _volumes: set[Volume] = attrs.field(factory=set, init=False, repr=False)

    @property
    def volumes(self) -> list[Volume]:
        """The set's volumes, in the order they were added."""
        return [s.volume for s in self.snapshots]

    def advance(self, step: str) -> None:
        """Move to the state ``step`` leads to in the set table
        (:data:`~vsssim.vss.states.SNAPSHOT_SET_TRANSITIONS`)."""
        self.state = snapshot_set_next_state(str(self.set_id), self.state, step)

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


class VssService:
    """The VSS service of one simulated host (less the factory of backup components objects,
    which :class:`~vsssim.vss.coordinator.session.Coordinator` adds)."""

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
        self._counters: KeyedDict[str, int] = KeyedDict()
        self._shadow_devices = 0
        #: What the writers, providers and agents ask where a fault can happen.
        self.hooks: FaultHooks = NO_FAULTS

    def install_faults(self, hooks: FaultHooks) -> None:
        """Inject faults into this coordinator's writers, providers and agents: from now on
        they ask ``hooks`` (a :class:`~vsssim.faults.FaultPlan`, or any
        :class:`~vsssim.vss.hooks.FaultHooks`) at every site."""
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

    def new_id(self, kind: str) -> uuid.UUID:
        """A deterministic GUID: the n-th of its kind in this run."""
        n = self._counters.get(kind, 0) + 1
        self._counters[kind] = n
        return deterministic_guid(f"{self.machine}:{kind}:{n}")

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

    def snapshot_properties(self, snapshot: ShadowCopy) -> SnapshotProperties:
        """The ``VSS_SNAPSHOT_PROP`` of a shadow copy (GetSnapshotProperties' answer)."""
        return SnapshotProperties(
            snapshot_id=snapshot.snapshot_id,
            snapshot_set_id=snapshot.set_id,
            snapshots_count=self.set_size(snapshot.set_id),
            snapshot_device_object=snapshot.device_object,
            original_volume_name=snapshot.volume.name,
            original_volume_label=snapshot.volume.label,
            originating_machine=self.machine,
            provider_id=snapshot.provider.provider_id,
            attributes=snapshot.attributes,
            creation_time_us=snapshot.created_us or 0,
            state=snapshot.state,
            exposed_name=snapshot.exposed_name,
            exposed_path=snapshot.exposed_path,
        )

    def provider_for(
        self,
        volume: Volume,
        provider_id: uuid.UUID | None,
        attributes: SnapshotAttr = NO_ATTRIBUTES,
    ) -> Provider:
        """The provider that will shadow-copy ``volume`` with ``attributes`` (a named one, or
        the first that can)."""
        if provider_id is not None:
            for provider in self.providers:
                if provider.provider_id == provider_id:
                    if not provider.supports(volume, attributes):
                        raise VssError(
                            HResult.VSS_E_VOLUME_NOT_SUPPORTED_BY_PROVIDER,
                            f"provider {provider.name!r} does not support volume {volume.label}",
                        )
                    return provider
            raise VssError(
                HResult.VSS_E_PROVIDER_NOT_REGISTERED, f"no provider {provider_id} is registered"
            )
        for provider in self.providers:
            if provider.supports(volume, attributes) and not self.hooks.refuses_volume(
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
        session: Session,
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
    def lock_set(self, owner: Session, context: Context) -> SnapshotSet:
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
