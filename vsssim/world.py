"""A simulated host: the simulation, its namespace and volumes, the coordinator, writers,
application workloads and backup agents, wired together and run.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from vsssim._kernel import MILLISECOND, Event, Process, ProcessGenerator, Simulation
from vsssim.agent import (
    AgentOptions,
    BackupAgent,
    BackupResult,
    ComponentSelector,
    Outcome,
    verify_copy,
)
from vsssim.archive import BackupArchive
from vsssim.backup_document import BackedUpComponent
from vsssim.choices import ChoiceSource, FifoChoices, RecordingChoices, SeededChoices
from vsssim.coordinator import Coordinator, CoordinatorConfig
from vsssim.errors import ConfigurationError
from vsssim.faults import FaultPlan
from vsssim.instant_recovery import InstantRecoveryAgent, InstantRecoveryResult
from vsssim.namespace import File, Namespace
from vsssim.providers.xp.array import XpArray
from vsssim.providers.xp.provider import ReplicaOptions, XpProvider
from vsssim.restore import RestoreAgent, RestoredFile, RestoreOptions, RestoreResult, reboot
from vsssim.volumes import DEFAULT_BLOCK_SIZE, Volume
from vsssim.workload import Workload
from vsssim.writers.base import Writer


@attrs.frozen
class RestoreRun:
    """A restore a world ran: the archive, what the agent reports, and the components of the
    archive it was asked to restore (its selection, in document order)."""

    archive: BackupArchive
    result: RestoreResult
    chosen: tuple[BackedUpComponent, ...]


@attrs.define(eq=False)
class World:
    """Everything of one run. Build it, then :meth:`run` it once."""

    sim: Simulation
    namespace: Namespace
    coordinator: Coordinator
    workloads: list[Workload] = attrs.field(factory=list)
    agents: list[tuple[BackupAgent, int]] = attrs.field(factory=list)
    recorder: RecordingChoices | None = None
    results: list[BackupResult] = attrs.field(factory=list)
    arrays: list[XpArray] = attrs.field(factory=list)
    #: Every restore run by :meth:`restore` or :meth:`restore_backups`, in order.
    restores: list[RestoreRun] = attrs.field(factory=list)
    _restoring: Process | None = attrs.field(default=None, init=False, repr=False)

    @classmethod
    def create(
        cls,
        seed: int | None = None,
        *,
        choices: ChoiceSource | None = None,
        config: CoordinatorConfig | None = None,
        faults: FaultPlan | None = None,
    ) -> World:
        """A new empty world. ``seed`` draws choices from a PRNG; ``choices`` replays a source.

        Choices are recorded either way (in ``choices`` itself if it is a
        :class:`~vsssim.choices.RecordingChoices`), so :meth:`token` can replay the run.
        ``faults`` injects a :class:`~vsssim.faults.FaultPlan`.
        """
        if choices is None:
            choices = SeededChoices(seed) if seed is not None else FifoChoices()
        recorder = choices if isinstance(choices, RecordingChoices) else RecordingChoices(choices)
        sim = Simulation(recorder)
        namespace = Namespace()
        coordinator = Coordinator(sim, namespace, config=config)
        if faults is not None:
            coordinator.install_faults(faults)
        return cls(sim, namespace, coordinator, recorder=recorder)

    def token(self) -> str:
        """The replay token of the choices made so far."""
        if self.recorder is None:
            raise ConfigurationError("this world does not record its choices")
        return self.recorder.token()

    # -- building ------------------------------------------------------------------------
    def add_volume(
        self,
        mount_point: str,
        label: str,
        size_bytes: int,
        *,
        file_system: str = "NTFS",
        block_size: int = DEFAULT_BLOCK_SIZE,
    ) -> Volume:
        """A new volume, mounted at a drive letter or a folder of a mounted volume."""
        if self.namespace.has_label(label):
            raise ConfigurationError(f"a volume is labelled {label!r} already")
        volume = Volume(self.sim, label, size_bytes, block_size, file_system)
        self.namespace.mount(mount_point, volume)
        return volume

    def add_array(
        self,
        serial: int = 10053,
        *,
        options: ReplicaOptions | None = None,
        track_bytes: int = 256 * 1024,
        track_copy_us: int = 2 * MILLISECOND,
    ) -> XpArray:
        """An XP disk array, with its VSS hardware provider registered (``options``: the
        product's replica options; ``track_bytes`` and ``track_copy_us``: how much a copy
        moves at a time, and how long each track takes)."""
        if any(a.serial == serial for a in self.arrays):
            raise ConfigurationError(f"an XP array has serial {serial} already")
        if self.arrays:
            raise ConfigurationError("one XP array per host: its provider serves one array")
        array = XpArray(self.sim, serial, track_bytes=track_bytes, track_copy_us=track_copy_us)
        self.arrays.append(array)
        self.coordinator.register_provider(XpProvider(self.sim, array, options=options))
        return array

    def xp_provider(self) -> XpProvider:
        """The registered XP hardware provider."""
        for provider in self.coordinator.providers:
            if isinstance(provider, XpProvider):
                return provider
        raise ConfigurationError("no XP array was added to this world")

    def add_array_volume(
        self,
        mount_point: str,
        address: str,
        size_bytes: int,
        *,
        label: str,
        replicas: Sequence[str] = (),
        file_system: str = "NTFS",
    ) -> Volume:
        """An LDEV of the world's XP array at ``address`` (``CU:LDEV``), presented to the host
        at ``mount_point``; ``replicas`` are LDEVs made for it and reserved as its S-VOLs."""
        provider = self.xp_provider()
        if self.namespace.has_label(label):
            raise ConfigurationError(f"a volume is labelled {label!r} already")
        array = provider.array
        made = [array.add_ldev(address, size_bytes, label=label, file_system=file_system)]
        try:
            for replica in replicas:
                made.append(array.add_ldev(replica, size_bytes, file_system=file_system))
            if replicas:
                provider.assign_replicas(address, replicas)
            self.namespace.mount(mount_point, made[0].volume)
        except ConfigurationError:
            for ldev in made:  # nothing half-built stays behind
                array.remove_ldev(ldev)
            raise
        return made[0].volume

    def add_file(self, path: str, blocks: int, *, initial_blocks: int = 0) -> File:
        """A new file of ``blocks`` blocks; its first ``initial_blocks`` get content at time 0."""
        file = self.namespace.create_file(path, blocks)
        for index in range(min(initial_blocks, blocks)):
            file.volume.write(
                file.block_address(index), f"initial:{file.path}#{index}".encode(), "setup"
            )
        return file

    def add_writer(self, writer: Writer) -> Writer:
        """Subscribe a writer to the coordinator."""
        self.coordinator.subscribe(writer)
        return writer

    def add_workload(self, workload: Workload) -> Workload:
        """An application that writes while the backups run."""
        for path in workload.files:
            self.namespace.file(path)
        self.workloads.append(workload)
        return workload

    def add_agent(
        self,
        name: str,
        selection: Sequence[str | ComponentSelector],
        options: AgentOptions | None = None,
        *,
        start_us: int = 0,
    ) -> BackupAgent:
        """A backup agent that starts its backup at ``start_us``."""
        if any(a.name == name for a, _ in self.agents):
            raise ConfigurationError(f"an agent is named {name!r} already")
        selectors = [
            s if isinstance(s, ComponentSelector) else ComponentSelector.parse(s) for s in selection
        ]
        agent = BackupAgent(self.coordinator, name, selectors, options or AgentOptions())
        self.agents.append((agent, start_us))
        return agent

    # -- running -------------------------------------------------------------------------
    def run(self, limit_us: int | None = None) -> list[BackupResult]:
        """Run workloads and agents until every agent has finished and the workloads stopped.

        ``limit_us`` bounds the simulated time (the clock then stands at the limit): a writer
        that never stops scheduling work would otherwise keep the run going for ever. Agents
        still running at the limit have no result; :attr:`finished` tells.
        """
        self.start()
        self.sim.run(until=limit_us)
        self.results = [agent.result for agent, _ in self.agents if agent.result is not None]
        return list(self.results)

    def start(self, agents: Sequence[tuple[BackupAgent, int]] | None = None) -> Event:
        """Start the workloads and ``agents`` (agent, start time; default: every agent added).

        The event triggers once those agents have finished; the workloads then stop. A caller
        that runs rounds of backups on one world starts each round's agents this way.
        """
        sim = self.sim
        done = sim.event()
        for workload in self.workloads:
            sim.process(workload.run(sim, self.namespace, done), f"workload {workload.name}")
        runs = [
            sim.process(self._delayed(agent, start), agent.name)
            for agent, start in (self.agents if agents is None else agents)
        ]
        sim.process(self._stop_when_done(runs, done), "stopper")
        return done

    def _delayed(self, agent: BackupAgent, start_us: int) -> ProcessGenerator:
        if start_us:
            yield self.sim.timeout(start_us)
        result = yield from agent.run()
        return result

    def _stop_when_done(self, runs: list[Process], done: Event) -> ProcessGenerator:
        yield self.sim.all_of(runs)
        done.succeed()

    @property
    def finished(self) -> bool:
        """True once every agent has a result."""
        return all(agent.result is not None for agent, _ in self.agents)

    def heal_and_settle(self, within_us: int) -> bool:
        """Heal every injected fault, then run ``within_us`` more at most; True if all is still.

        The liveness half of a fuzzed run: once faults stop, hung writers answer (late), and a
        correct system comes to rest (see the quiescence invariant) within a bounded time.
        """
        faults = self.coordinator.faults
        if faults is not None:
            faults.heal()
        self.sim.run(until=self.sim.now + within_us)
        return self.sim.peek() is None

    # -- after a backup: damage, restore, reboot -------------------------------------------
    def run_workloads(self, duration_us: int) -> None:
        """Let the applications write for ``duration_us`` more, with no backup running."""
        sim = self.sim
        stop = sim.event()
        for workload in self.workloads:
            sim.process(workload.run(sim, self.namespace, stop), f"workload {workload.name}")
        sim.process(self._stop_after(duration_us, stop), "stopper")
        sim.run()

    def _stop_after(self, duration_us: int, stop: Event) -> ProcessGenerator:
        yield self.sim.timeout(duration_us)
        stop.succeed()

    def delete_file(self, path: str, by: str) -> File:
        """``by`` deletes the file at ``path`` (a user's mistake, an attack): a trace record."""
        file = self.namespace.delete_file(path)
        self.sim.trace.record(None, by, "delete file", path=file.path, volume=file.volume.label)
        return file

    def restore(
        self,
        archive: BackupArchive,
        selection: Sequence[str | ComponentSelector] | None = None,
        options: RestoreOptions | None = None,
        *,
        name: str = "VSSBAR restore",
    ) -> RestoreResult:
        """Run a :class:`~vsssim.restore.RestoreAgent` of ``archive`` to its end (kept in
        :attr:`restores`)."""
        selectors = (
            None
            if selection is None
            else [
                s if isinstance(s, ComponentSelector) else ComponentSelector.parse(s)
                for s in selection
            ]
        )
        agent = RestoreAgent(
            self.coordinator, name, archive, selectors, options or RestoreOptions()
        )
        result: RestoreResult = self.sim.run(until=self.sim.process(agent.run(), name))
        self.restores.append(RestoreRun(archive, result, agent.chosen))
        return result

    def restore_backups(
        self,
        *,
        write_for_us: int = 0,
        delete: Sequence[str] = (),
        limit_us: int | None = None,
    ) -> bool:
        """After the backups: the applications write for ``write_for_us``, a user deletes the
        files at ``delete`` (those still there), then every backup that succeeded (whole or in
        part) is restored from its archive, in :attr:`results` order, by ``restore-1``,
        ``restore-2``... (kept in :attr:`restores`). Faults stay as they are.

        ``limit_us`` bounds the simulated time it may take; True if it finished in time
        (:attr:`restoring` tells later).
        """
        archives = [
            BackupArchive.of(r)
            for r in self.results
            if r.document is not None and r.outcome in (Outcome.SUCCEEDED, Outcome.PARTIAL)
        ]
        step = self.sim.process(
            self._restore_step(archives, write_for_us, tuple(delete)), "restore step"
        )
        self._restoring = step
        if limit_us is None:
            self.sim.run(until=step)
        else:
            deadline = self.sim.timeout(limit_us)
            self.sim.run(until=self.sim.any_of([step, deadline]))
            deadline.cancel()
        return step.triggered

    def _restore_step(
        self, archives: list[BackupArchive], write_for_us: int, delete: tuple[str, ...]
    ) -> ProcessGenerator:
        sim = self.sim
        if write_for_us:
            stop = sim.event()
            for workload in self.workloads:
                sim.process(workload.run(sim, self.namespace, stop), f"workload {workload.name}")
            yield sim.timeout(write_for_us)
            stop.succeed()
        for path in delete:
            if self.namespace.find(path) is not None:
                self.delete_file(path, "user")
        for archive in archives:
            name = f"restore-{len(self.restores) + 1}"
            agent = RestoreAgent(self.coordinator, name, archive, None, RestoreOptions())
            result = yield from agent.run()
            self.restores.append(RestoreRun(archive, result, agent.chosen))

    @property
    def restoring(self) -> bool:
        """True while the step of :meth:`restore_backups` has not finished."""
        return self._restoring is not None and not self._restoring.triggered

    def instant_recovery(
        self, backup: BackupResult, *, name: str = "VSSBAR instant recovery"
    ) -> InstantRecoveryResult:
        """Put the replica ``backup`` kept back onto its volumes (see
        :mod:`vsssim.instant_recovery`), run to its end."""
        agent = InstantRecoveryAgent(self.coordinator, name, backup)
        result: InstantRecoveryResult = self.sim.run(until=self.sim.process(agent.run(), name))
        return result

    def reboot(self) -> tuple[RestoredFile, ...]:
        """Restart the host: the pending file operations are applied (see
        :func:`vsssim.restore.reboot`)."""
        return reboot(self.sim, self.namespace)

    def verify(self, result: BackupResult) -> list[str]:
        """Mismatches between what ``result`` copied and the volumes at its commit instant."""
        return verify_copy(self.namespace, result)
