"""Scenarios: a whole simulated host described as a value, built into a :class:`World` on demand.

A :class:`Scenario` lists volumes, files, writers (their metadata), application workloads,
agents, the fault plan and, optionally, a restore after the backups (:class:`RestoreSpec`).
It is what a fuzz campaign draws from a seed (:func:`~vsssim.testing.draw.draw_scenario`),
what hypothesis strategies generate, and what a failing run is written down as (plain
JSON-able data: :mod:`vsssim.host.scenario_codec`). This module holds the values only; the drawing
and the codec build on it, never the other way round.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping

import attrs

from vsssim.errors import ConfigurationError, VssError, VssimError
from vsssim.faults import FaultPlan
from vsssim.host.world import World
from vsssim.requesters.backup_options import AgentOptions
from vsssim.sim.choices import ChoiceSource
from vsssim.sim.kernel import MILLISECOND
from vsssim.vss.coordinator.service import CoordinatorConfig
from vsssim.vss.metadata import WriterMetadata
from vsssim.vss.providers.xp import ReplicaOptions
from vsssim.vss.workload import Workload
from vsssim.vss.writers.base import Writer

GIB = 1024**3

#: Builds a writer from its metadata (``Writer`` itself, or a user's subclass).
WriterFactory = Callable[[WriterMetadata], Writer]


@attrs.frozen
class VolumeSpec:
    """A volume to mount: a local disk, or with ``ldev`` an LDEV of the scenario's XP array
    (``CU:LDEV``, like ``01:10``) whose ``replicas`` are LDEVs made the same size and reserved
    as its S-VOLs, in rotation order."""

    mount_point: str
    label: str
    size_bytes: int = 10 * GIB
    file_system: str = "NTFS"
    ldev: str | None = None
    replicas: tuple[str, ...] = ()


@attrs.frozen
class PoolSpec:
    """A Snapshot pool of the XP array (for snapshot replicas, an extension)."""

    pool_id: int
    capacity_bytes: int


@attrs.frozen
class ArraySpec:
    """The host's XP disk array and its VSS hardware provider.

    ``replica``: the provider's own options, for sets whose agent hands it none (an agent's
    :attr:`AgentOptions.replica <vsssim.requesters.backup_options.AgentOptions.replica>` wins).
    """

    serial: int = 10053
    track_bytes: int = 256 * 1024
    track_copy_us: int = 2 * MILLISECOND
    replica: ReplicaOptions | None = None
    pools: tuple[PoolSpec, ...] = ()


@attrs.frozen
class FileSpec:
    """A file to create, ``initial_blocks`` of its ``blocks`` written at time 0."""

    path: str
    blocks: int
    initial_blocks: int = 0


@attrs.frozen
class WorkloadSpec:
    """An application writing to ``files``; linked to ``writer`` (a name) it pauses while frozen."""

    name: str
    files: tuple[str, ...]
    interval_us: tuple[int, int] = (20 * MILLISECOND, 200 * MILLISECOND)
    writer: str | None = None


@attrs.frozen
class AgentSpec:
    """A backup agent: what it selects, how it runs, when it starts.

    ``builds_on`` names earlier agents of the scenario whose backups this one's builds on, oldest
    first (a chain: a full, then an incremental...): it starts once they finished, its history
    the documents of their backups that succeeded (see :meth:`World.add_agent
    <vsssim.host.world.World.add_agent>`).
    """

    name: str
    selection: tuple[str, ...]
    options: AgentOptions = attrs.field(factory=AgentOptions)
    start_us: int = 0
    builds_on: tuple[str, ...] = ()


@attrs.frozen
class FaultSpec:
    """The fault plan of a scenario, as data (see :class:`~vsssim.faults.FaultPlan`)."""

    kinds: tuple[str, ...]
    activation_percent: int = 30
    fire_percents: tuple[int, ...] = (10, 30, 100)
    sites: tuple[str, ...] = ()
    limit: int | None = None
    #: The most faults that fire in one run, in all (None: no cap).
    per_run: int | None = None

    def plan(self) -> FaultPlan:
        """A fresh plan (plans keep per-run state, so each run needs its own)."""
        return FaultPlan(
            self.kinds,
            self.activation_percent,
            self.fire_percents,
            self.sites,
            self.limit,
            self.per_run,
        )


@attrs.frozen
class RestoreSpec:
    """What happens after the backups of a scenario: the applications write on for
    ``write_for_us``, a user deletes the files at ``delete``, then every backup that succeeded
    (whole or in part) is restored from its archive, faults still active (see
    :meth:`World.restore_backups <vsssim.host.world.World.restore_backups>`)."""

    write_for_us: int = 0
    delete: tuple[str, ...] = ()

    def run(self, world: World, limit_us: int | None = None) -> bool:
        """Run the step on ``world`` once its backups finished; True if it finished in time."""
        return world.restore_backups(
            write_for_us=self.write_for_us, delete=self.delete, limit_us=limit_us
        )


@attrs.frozen
class Scenario:
    """A whole host: build it with :meth:`build`, run the world, check the invariants."""

    volumes: tuple[VolumeSpec, ...]
    files: tuple[FileSpec, ...] = ()
    writers: tuple[WriterMetadata, ...] = ()
    workloads: tuple[WorkloadSpec, ...] = ()
    agents: tuple[AgentSpec, ...] = ()
    faults: FaultSpec | None = None
    config: CoordinatorConfig = attrs.field(factory=CoordinatorConfig)
    array: ArraySpec | None = None
    restore: RestoreSpec | None = None

    def build(
        self,
        seed: int | None = None,
        *,
        choices: ChoiceSource | None = None,
        writer_factory: WriterFactory = Writer,
    ) -> World:
        """A new world of this scenario, ready to :meth:`~vsssim.World.run`."""
        world = World.create(
            seed,
            choices=choices,
            config=self.config,
            faults=self.faults.plan() if self.faults is not None else None,
        )
        if self.array is not None:
            with _item("array"):
                self._add_array(world, self.array)
        for i, volume in enumerate(self.volumes):
            with _item(f"volumes[{i}]"):
                self._add_volume(world, volume)
        for i, file in enumerate(self.files):
            with _item(f"files[{i}]"):
                world.add_file(file.path, file.blocks, initial_blocks=file.initial_blocks)
        writers: dict[str, Writer] = {}
        for i, metadata in enumerate(self.writers):
            with _item(f"writers[{i}]"):
                writers[metadata.writer_name] = world.add_writer(writer_factory(metadata))
        for i, spec in enumerate(self.workloads):
            with _item(f"workloads[{i}]"):
                _add_workload(world, spec, writers)
        for i, agent in enumerate(self.agents):
            with _item(f"agents[{i}]"):
                world.add_agent(
                    agent.name,
                    agent.selection,
                    agent.options,
                    start_us=agent.start_us,
                    builds_on=agent.builds_on,
                )
        return world

    @staticmethod
    def _add_array(world: World, wanted: ArraySpec) -> None:
        array = world.add_array(
            wanted.serial,
            options=wanted.replica,
            track_bytes=wanted.track_bytes,
            track_copy_us=wanted.track_copy_us,
        )
        for pool in wanted.pools:
            array.add_pool(pool.pool_id, pool.capacity_bytes)

    def _add_volume(self, world: World, volume: VolumeSpec) -> None:
        """A local disk, or with an LDEV a volume of the scenario's XP array."""
        if volume.ldev is not None:
            if self.array is None:
                raise ConfigurationError(
                    f"LDEV {volume.ldev} needs an XP array: the scenario has none"
                )
            world.add_array_volume(
                volume.mount_point,
                volume.ldev,
                volume.size_bytes,
                label=volume.label,
                replicas=volume.replicas,
                file_system=volume.file_system,
            )
            return
        if volume.replicas:
            raise ConfigurationError("only a volume on the XP array (with an LDEV) has replicas")
        world.add_volume(
            volume.mount_point,
            volume.label,
            volume.size_bytes,
            file_system=volume.file_system,
        )

    def without(self, *, agent: str | None = None, workload: str | None = None) -> Scenario:
        """This scenario less one agent or workload (what shrinking tries); the agents that
        built on a dropped agent no longer do."""
        return attrs.evolve(
            self,
            agents=tuple(
                attrs.evolve(a, builds_on=tuple(b for b in a.builds_on if b != agent))
                for a in self.agents
                if a.name != agent
            ),
            workloads=tuple(w for w in self.workloads if w.name != workload),
        )

    # -- plain data (:mod:`vsssim.host.scenario_codec`) ----------------------------------------


@contextlib.contextmanager
def _item(path: str) -> Iterator[None]:
    """Name the scenario item (``volumes[2]``) in a configuration error raised while building it."""
    try:
        yield
    except VssError as error:
        raise VssError(error.hresult, f"{path}: {error.message}") from None
    except VssimError as error:
        raise ConfigurationError(f"{path}: {error}") from None


def _add_workload(world: World, spec: WorkloadSpec, writers: Mapping[str, Writer]) -> None:
    """An application of the scenario, linked to its writer (one of ``writers``) if it names one."""
    if spec.writer is not None and spec.writer not in writers:
        raise ConfigurationError(f"no writer {spec.writer!r}")
    world.add_workload(
        Workload(
            spec.name,
            list(spec.files),
            spec.interval_us,
            writers[spec.writer] if spec.writer is not None else None,
        )
    )
