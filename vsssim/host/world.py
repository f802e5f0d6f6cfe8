"""A simulated host: the simulation, its namespace and volumes, the coordinator, writers,
application workloads and backup agents, wired together and run.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from vsssim.errors import ConfigurationError, Livelock, ReplayError, VssError, describe
from vsssim.requesters.agent import BackupAgent
from vsssim.requesters.archive import BackupArchive
from vsssim.requesters.backup_options import AgentOptions
from vsssim.requesters.backup_result import BackupResult, Outcome, verify_copy
from vsssim.requesters.instant_recovery import InstantRecoveryAgent, InstantRecoveryResult
from vsssim.requesters.restore import ChainRestore, RestoreStep, reboot, restore_plan
from vsssim.requesters.restore_agent import RestoreAgent
from vsssim.requesters.restore_result import RestoredFile, RestoreOptions, RestoreResult
from vsssim.requesters.selection import ComponentSelector
from vsssim.sim import vocabulary as V
from vsssim.sim.choices import ChoiceSource, FifoChoices, RecordingChoices, SeededChoices
from vsssim.sim.kernel import MILLISECOND, Event, Process, ProcessGenerator, Simulation
from vsssim.sim.tokens import ReplayToken
from vsssim.vss.coordinator.service import CoordinatorConfig
from vsssim.vss.coordinator.session import Coordinator
from vsssim.vss.documents.backup_document import BackedUpComponent
from vsssim.vss.hooks import FaultHooks
from vsssim.vss.metadata import ComponentKey
from vsssim.vss.namespace import File, Namespace
from vsssim.vss.providers.xp import ReplicaOptions, XpProvider
from vsssim.vss.providers.xp.array import XpArray
from vsssim.vss.volumes import DEFAULT_BLOCK_SIZE, Volume
from vsssim.vss.workload import Workload
from vsssim.vss.writers.base import Writer


@attrs.frozen
class RestoreRun:
    """A restore a world ran: the archive, what the agent reports, and the components of the
    archive it was asked to restore (its selection, in document order)."""

    archive: BackupArchive
    result: RestoreResult
    chosen: tuple[BackedUpComponent, ...]
    #: A restore of a chain (:func:`~vsssim.requesters.restore.restore_chain`) after its first: per
    #: component it continues, the files the earlier restores of its chain left on disk.
    continues: tuple[tuple[ComponentKey, frozenset[str]], ...] = ()
    #: The components it told more restores of them follow (``SetAdditionalRestores``).
    additional_restores: frozenset[ComponentKey] = frozenset()
    #: The last restore of a chain :meth:`World.restore_backups` ran: the commit record of
    #: the backup point it completes (what its files must then hold). None: not a point.
    point_seq: int | None = None


#: The trace actor and actions of a run the model itself ended (not a VSS party's).
RUN_ACTOR = V.RUN_ACTOR
MODEL_ERROR = V.MODEL_ERROR
LIVELOCK = V.LIVELOCK


@attrs.frozen
class RunCrash:
    """Why a run stopped early: the model raised (a bug) or made no progress (a livelock).

    ``kind`` is :data:`MODEL_ERROR` or :data:`LIVELOCK`; ``error`` names the exception type
    and its message; ``where`` is the innermost frame the error came from
    (:func:`~vsssim.errors.describe`).
    """

    kind: str
    error: str
    where: str
    now_us: int

    def __str__(self) -> str:
        return f"{self.kind} at {self.now_us / 1_000_000:.6f} s: {self.error} ({self.where})"


@attrs.define(eq=False)
class World:
    """Everything of one run. Build it, then :meth:`run` it once."""

    sim: Simulation
    namespace: Namespace
    coordinator: Coordinator
    workloads: list[Workload] = attrs.field(factory=list)
    agents: list[tuple[BackupAgent, int]] = attrs.field(factory=list)
    recorder: RecordingChoices | None = None
    #: What the run is, for its token: a header without choices (see :meth:`token`).
    origin: ReplayToken | None = None
    results: list[BackupResult] = attrs.field(factory=list)
    arrays: list[XpArray] = attrs.field(factory=list)
    #: Every restore run by :meth:`restore` or :meth:`restore_backups`, in order.
    restores: list[RestoreRun] = attrs.field(factory=list)
    _restoring: Process | None = attrs.field(default=None, init=False, repr=False)
    #: Set when the model raised or livelocked: the run stopped there (see :meth:`_drive`).
    crash: RunCrash | None = attrs.field(default=None, init=False)
    #: Per agent name: the agents whose backups its history is made of (:meth:`add_agent`).
    _builds_on: dict[str, tuple[str, ...]] = attrs.field(factory=dict, init=False, repr=False)

    @classmethod
    def create(
        cls,
        seed: int | None = None,
        *,
        choices: ChoiceSource | None = None,
        config: CoordinatorConfig | None = None,
        faults: FaultHooks | None = None,
    ) -> World:
        """A new empty world. ``seed`` draws choices from a PRNG; ``choices`` replays a source.

        Choices are recorded either way (in ``choices`` itself if it is a
        :class:`~vsssim.sim.choices.RecordingChoices`), so :meth:`token` can replay the run.
        ``faults`` injects a :class:`~vsssim.faults.FaultPlan` (or any
        :class:`~vsssim.vss.hooks.FaultHooks`).
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
        """The replay token of the run so far: :attr:`origin` says what the run is (without
        one, the token carries the choices alone); a run drawn from the seed its origin names
        needs no choices, so its token is the header alone."""
        recorder = self.recorder
        if recorder is None:
            raise ConfigurationError("this world does not record its choices")
        origin = self.origin
        if origin is None:
            return recorder.token()
        inner = recorder.inner
        seeded = isinstance(inner, SeededChoices) and origin.fields.get("seed") == inner.seed
        choices = None if seeded else tuple(recorder.recorded)
        return attrs.evolve(origin, choices=choices).encode()

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
        builds_on: Sequence[str] = (),
    ) -> BackupAgent:
        """A backup agent that starts its backup at ``start_us``.

        ``builds_on`` names agents added before it whose backups its own builds on (a chain:
        a full, then incrementals...), oldest first: the agent starts once they finished (and
        not before ``start_us``), its :attr:`AgentOptions.history
        <vsssim.requesters.backup_options.AgentOptions.history>` the documents of those of
        their backups that succeeded (whole or in part), in that order; failed ones are skipped.
        """
        if any(a.name == name for a, _ in self.agents):
            raise ConfigurationError(f"an agent is named {name!r} already")
        earlier = [a.name for a, _ in self.agents]
        for base in builds_on:
            if base == name:
                raise ConfigurationError(f"agent {name!r} cannot build on itself")
            if base not in earlier:
                known = ", ".join(repr(n) for n in earlier) or "none"
                raise ConfigurationError(
                    f"agent {name!r} builds on {base!r}, which is not an agent added before it "
                    f"(earlier agents: {known})"
                )
        if len(set(builds_on)) != len(builds_on):
            raise ConfigurationError(f"agent {name!r} builds on {list(builds_on)}: a repeat")
        if options is not None and options.history and builds_on:
            raise ConfigurationError(
                f"agent {name!r} has a history already; builds_on would replace it"
            )
        selectors = [
            s if isinstance(s, ComponentSelector) else ComponentSelector.parse(s) for s in selection
        ]
        agent = BackupAgent(self.coordinator, name, selectors, options or AgentOptions())
        self.agents.append((agent, start_us))
        if builds_on:
            self._builds_on[name] = tuple(builds_on)
        return agent

    def builds_on(self, agent: str) -> tuple[str, ...]:
        """The agents whose backups ``agent``'s builds on (see :meth:`add_agent`)."""
        return self._builds_on.get(agent, ())

    # -- running -------------------------------------------------------------------------
    def run(self, limit_us: int | None = None) -> list[BackupResult]:
        """Run workloads and agents until every agent has finished and the workloads stopped.

        ``limit_us`` bounds the simulated time (the clock then stands at the limit): a writer
        that never stops scheduling work would otherwise keep the run going for ever. Agents
        still running at the limit have no result; :attr:`finished` tells.
        """
        self.start()
        self._drive(limit_us)
        self.results = [agent.result for agent, _ in self.agents if agent.result is not None]
        return list(self.results)

    def start(self, agents: Sequence[tuple[BackupAgent, int]] | None = None) -> Event:
        """Start the workloads and ``agents`` (agent, start time; default: every agent added).

        The event triggers once those agents have finished; the workloads then stop. A caller
        that runs rounds of backups on one world starts each round's agents this way.
        An agent that builds on others (:meth:`add_agent`) waits for those started with it; one
        it builds on that is not started with it must have run before.
        """
        sim = self.sim
        done = sim.event()
        started = list(self.agents if agents is None else agents)
        position = {agent.name: n for n, (agent, _) in enumerate(started)}
        for n, (agent, _) in enumerate(started):
            for base in self.builds_on(agent.name):
                if base not in position and self._agent(base).result is None:
                    raise ConfigurationError(
                        f"agent {agent.name!r} builds on {base!r}, which neither starts with it "
                        "nor has run"
                    )
                if position.get(base, -1) > n:
                    raise ConfigurationError(
                        f"agent {agent.name!r} builds on {base!r}, which comes after it in the "
                        "agents started: list it first"
                    )
        for workload in self.workloads:
            workload.start(sim, self.namespace, done)
        runs: dict[str, Process] = {}
        for agent, start in started:
            bases = self.builds_on(agent.name)
            if bases:
                waits = [runs[b] for b in bases if b in runs]
                process = self._after_bases(agent, start, bases, waits)
            else:
                process = self._delayed(agent, start)
            runs[agent.name] = sim.process(process, agent.name)
        sim.process(self._stop_when_done(list(runs.values()), done), "stopper")
        return done

    def _agent(self, name: str) -> BackupAgent:
        return next(agent for agent, _ in self.agents if agent.name == name)

    def _delayed(self, agent: BackupAgent, start_us: int) -> ProcessGenerator:
        if start_us:
            yield self.sim.timeout(start_us)
        result = yield from agent.run()
        return result

    def _after_bases(
        self, agent: BackupAgent, start_us: int, bases: tuple[str, ...], waits: list[Process]
    ) -> ProcessGenerator:
        """Start ``agent`` once the agents it builds on finished, with their documents."""
        if start_us:
            yield self.sim.timeout(start_us)
        if waits:
            yield self.sim.all_of(waits)
        kept = [
            (b, r.document)
            for b, r in ((b, self._agent(b).result) for b in bases)
            if r is not None and r.document is not None and r.succeeded
        ]
        history = tuple(document for _, document in kept)
        self.sim.trace.record(
            None, agent.name, V.BUILDS_ON, agents=list(bases), history=[b for b, _ in kept]
        )
        agent.options = attrs.evolve(agent.options, history=history)
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
        self.coordinator.hooks.heal()
        self._drive(self.sim.now + within_us)
        return self.crash is None and self.sim.peek() is None

    def _drive(self, until: int | Event | None) -> None:
        """Run the simulation; an exception of the model ends the run as :attr:`crash`.

        So a fuzzed run always ends with a verdict: a model bug (any exception escaping a
        process) or a livelock is recorded in the trace and kept, never raised past the run.
        A replay token that does not fit the run is the caller's mistake and is raised.
        After a crash the world runs no more.
        """
        if self.crash is not None:
            return
        try:
            self.sim.run(until=until)
        except ReplayError:
            raise
        except Exception as exc:
            self.crash = _crash_of(exc, self.sim.now)
            self.sim.trace.record(
                None, RUN_ACTOR, self.crash.kind, error=self.crash.error, where=self.crash.where
            )

    # -- after a backup: damage, restore, reboot -------------------------------------------
    def run_workloads(self, duration_us: int) -> None:
        """Let the applications write for ``duration_us`` more, with no backup running."""
        sim = self.sim
        stop = sim.event()
        for workload in self.workloads:
            workload.start(sim, self.namespace, stop)
        sim.process(self._stop_after(duration_us, stop), "stopper")
        self._drive(None)

    def _stop_after(self, duration_us: int, stop: Event) -> ProcessGenerator:
        yield self.sim.timeout(duration_us)
        stop.succeed()

    def delete_file(self, path: str, by: str) -> File:
        """``by`` deletes the file at ``path`` (a user's mistake, an attack): a trace record."""
        file = self.namespace.delete_file(path)
        self.sim.trace.record(None, by, V.DELETE_FILE, path=file.path, volume=file.volume.label)
        return file

    def restore(
        self,
        archive: BackupArchive,
        selection: Sequence[str | ComponentSelector] | None = None,
        options: RestoreOptions | None = None,
        *,
        name: str = "VSSBAR restore",
    ) -> RestoreResult:
        """Run a :class:`~vsssim.requesters.restore_agent.RestoreAgent` of ``archive`` to its
        end (kept in :attr:`restores`)."""
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
        part) is restored, in the order the agents were added, by ``restore-1``,
        ``restore-2``... (each kept in :attr:`restores`). Faults stay as they are; every agent
        must have finished (:class:`~vsssim.errors.ConfigurationError` otherwise).

        A backup that builds on none is restored from its archive. One that builds on earlier
        ones (an incremental or differential of a chain, :meth:`add_agent`'s ``builds_on``)
        is restored as its own point in time: the restores of its chain
        (:class:`~vsssim.requesters.restore.ChainRestore`, as
        :func:`~vsssim.requesters.restore.restore_chain` runs
        them), oldest first, one agent each, the last marked with the point's commit record
        (:attr:`RestoreRun.point_seq`). So every backup of a chain is restored as a point, not
        only the last, and each step is checked by the "restore honest" invariant.

        ``limit_us`` bounds the simulated time it may take; True if it finished in time
        (:attr:`restoring` tells later).
        """
        running = [agent.name for agent, _ in self.agents if agent.result is None]
        if running:
            raise ConfigurationError(
                f"restore the backups once they are done: {', '.join(running)} still running"
            )
        results = [agent.result for agent, _ in self.agents if agent.result is not None]
        points = [
            (r, BackupArchive.of(r))
            for r in results
            if r.document is not None and r.outcome in (Outcome.SUCCEEDED, Outcome.PARTIAL)
        ]
        step = self.sim.process(
            self._restore_step(points, write_for_us, tuple(delete)), "restore step"
        )
        self._restoring = step
        if limit_us is None:
            self._drive(step)
        else:
            deadline = self.sim.timeout(limit_us)
            self._drive(self.sim.any_of([step, deadline]))
            deadline.cancel()
        return step.triggered

    def _restore_step(
        self,
        points: list[tuple[BackupResult, BackupArchive]],
        write_for_us: int,
        delete: tuple[str, ...],
    ) -> ProcessGenerator:
        sim = self.sim
        if write_for_us:
            stop = sim.event()
            for workload in self.workloads:
                workload.start(sim, self.namespace, stop)
            yield sim.timeout(write_for_us)
            stop.succeed()
        for path in delete:
            if self.namespace.find(path) is not None:
                self.delete_file(path, "user")
        for at, (backup, archive) in enumerate(points):
            try:
                steps = restore_plan([a for _, a in points[: at + 1]], archive)
            except VssError:  # a base is missing: restored alone, its partial files refused
                steps = ()
            if len(steps) > 1:
                yield from self._restore_chain(steps, backup.commit_seq)
                continue
            name = f"restore-{len(self.restores) + 1}"
            agent = RestoreAgent(self.coordinator, name, archive, None, RestoreOptions())
            result = yield from agent.run()
            self.restores.append(RestoreRun(archive, result, agent.chosen))

    def _restore_chain(
        self, steps: Sequence[RestoreStep], point_seq: int | None
    ) -> ProcessGenerator:
        """The restores of a backup's chain, oldest first, each kept in :attr:`restores`."""
        chain = ChainRestore(self.coordinator)
        for at, step in enumerate(steps):
            name = f"restore-{len(self.restores) + 1}"
            agent = chain.agent(step, name)
            if agent is None:
                continue
            result = yield from agent.run()
            chain.finished(agent, result)
            self.restores.append(
                RestoreRun(
                    step.archive,
                    result,
                    agent.chosen,
                    tuple(agent.continues.items()),
                    step.additional_restores,
                    point_seq if at == len(steps) - 1 else None,
                )
            )

    @property
    def restoring(self) -> bool:
        """True while the step of :meth:`restore_backups` has not finished."""
        return self._restoring is not None and not self._restoring.triggered

    def instant_recovery(
        self, backup: BackupResult, *, name: str = "VSSBAR instant recovery"
    ) -> InstantRecoveryResult:
        """Put the replica ``backup`` kept back onto its volumes (see
        :mod:`vsssim.requesters.instant_recovery`), run to its end."""
        agent = InstantRecoveryAgent(self.coordinator, name, backup)
        result: InstantRecoveryResult = self.sim.run(until=self.sim.process(agent.run(), name))
        return result

    def reboot(self) -> tuple[RestoredFile, ...]:
        """Restart the host: the pending file operations are applied (see
        :func:`vsssim.requesters.restore.reboot`)."""
        return reboot(self.sim, self.namespace)

    def verify(self, result: BackupResult) -> list[str]:
        """Mismatches between what ``result`` copied and the volumes at its commit instant."""
        return verify_copy(self.namespace, result)


def _crash_of(exc: Exception, now_us: int) -> RunCrash:
    """What a run's crash says: the exception and the innermost frame it was raised in."""
    error, where = describe(exc)
    return RunCrash(
        V.LIVELOCK if isinstance(exc, Livelock) else V.MODEL_ERROR, error, where, now_us
    )
