"""Scenarios: a whole simulated host described as a value, built into a :class:`World` on demand.

A :class:`Scenario` lists volumes, files, writers (their metadata), application workloads,
agents, the fault plan and, optionally, a restore after the backups (:class:`RestoreSpec`).
It is what a fuzz campaign draws from a seed (:func:`draw_scenario`, "swarm" style: each run
picks its own numbers of volumes, writers and agents and its own fault mix), what hypothesis
strategies generate, and what a failing run is written down as (:meth:`Scenario.to_dict`,
plain JSON-able data).
"""

from __future__ import annotations

import contextlib
import enum
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import attrs

from vsssim._kernel import MILLISECOND, SECOND
from vsssim._typecheck import check_types
from vsssim.agent import AgentOptions, RetryPolicy
from vsssim.choices import ChoiceSource
from vsssim.constants import BackupSchema, BackupType, RestoreMethod
from vsssim.coordinator import CoordinatorConfig
from vsssim.errors import ConfigurationError, VssError, VssimError
from vsssim.faults import FaultPlan
from vsssim.metadata import Component, ComponentKey, FileDescriptor, WriterMetadata
from vsssim.providers.xp.provider import XP_PROVIDER_ID, ReplicaMode, ReplicaOptions
from vsssim.volumes import VSSSIM_NAMESPACE
from vsssim.workload import Workload
from vsssim.world import World
from vsssim.writers.base import Writer

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
    :attr:`AgentOptions.replica <vsssim.agent.AgentOptions.replica>` wins).
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
    <vsssim.world.World.add_agent>`).
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

    def plan(self) -> FaultPlan:
        """A fresh plan (plans keep per-run state, so each run needs its own)."""
        return FaultPlan(
            self.kinds, self.activation_percent, self.fire_percents, self.sites, self.limit
        )


@attrs.frozen
class RestoreSpec:
    """What happens after the backups of a scenario: the applications write on for
    ``write_for_us``, a user deletes the files at ``delete``, then every backup that succeeded
    (whole or in part) is restored from its archive, faults still active (see
    :meth:`World.restore_backups <vsssim.world.World.restore_backups>`)."""

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
                wanted = self.array
                array = world.add_array(
                    wanted.serial,
                    options=wanted.replica,
                    track_bytes=wanted.track_bytes,
                    track_copy_us=wanted.track_copy_us,
                )
                for pool in wanted.pools:
                    array.add_pool(pool.pool_id, pool.capacity_bytes)
        for i, volume in enumerate(self.volumes):
            with _item(f"volumes[{i}]"):
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
                    continue
                if volume.replicas:
                    raise ConfigurationError(
                        "only a volume on the XP array (with an LDEV) has replicas"
                    )
                world.add_volume(
                    volume.mount_point,
                    volume.label,
                    volume.size_bytes,
                    file_system=volume.file_system,
                )
        for i, file in enumerate(self.files):
            with _item(f"files[{i}]"):
                world.add_file(file.path, file.blocks, initial_blocks=file.initial_blocks)
        writers: dict[str, Writer] = {}
        for i, metadata in enumerate(self.writers):
            with _item(f"writers[{i}]"):
                writers[metadata.writer_name] = world.add_writer(writer_factory(metadata))
        for i, spec in enumerate(self.workloads):
            with _item(f"workloads[{i}]"):
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

    # -- plain data ----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The scenario as JSON-able data (``from_dict`` reads it back)."""
        return _to_data(self)  # type: ignore[no-any-return]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Scenario:
        """Read a scenario written by :meth:`to_dict`; every value is checked against its
        field's type (:class:`ConfigurationError` naming the first that is not)."""
        try:
            scenario = _scenario_from(data)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ConfigurationError(f"not a scenario: {exc!r}") from None
        check_types(scenario, "scenario")
        return scenario


@contextlib.contextmanager
def _item(path: str) -> Iterator[None]:
    """Name the scenario item (``volumes[2]``) in a configuration error raised while building it."""
    try:
        yield
    except VssError as error:
        raise VssError(error.hresult, f"{path}: {error.message}") from None
    except VssimError as error:
        raise ConfigurationError(f"{path}: {error}") from None


def _to_data(value: Any) -> Any:
    if attrs.has(type(value)):
        return {f.name: _to_data(getattr(value, f.name)) for f in attrs.fields(type(value))}
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, tuple | list):
        return [_to_data(v) for v in value]
    if isinstance(value, frozenset):
        return sorted(v.name for v in value)
    if isinstance(value, enum.Enum):
        return value.name
    return value


def _scenario_from(data: Mapping[str, Any]) -> Scenario:
    from vsssim.constants import Context
    from vsssim.errors import HResult

    def metadata(d: Mapping[str, Any]) -> WriterMetadata:
        return WriterMetadata(
            writer_class_id=uuid.UUID(d["writer_class_id"]),
            writer_instance_id=uuid.UUID(d["writer_instance_id"]),
            writer_name=d["writer_name"],
            restore_method=RestoreMethod[d.get("restore_method", "RESTORE_IF_CAN_REPLACE")],
            restore_service=d.get("restore_service", ""),
            backup_schema=schema(d.get("backup_schema", "UNDEFINED")),
            components=tuple(component(c) for c in d["components"]),
        )

    def schema(names: str) -> BackupSchema:
        flags = BackupSchema.UNDEFINED
        for name in names.split("|"):
            flags |= BackupSchema[name]
        return flags

    def files(items: list[Mapping[str, Any]]) -> tuple[FileDescriptor, ...]:
        return tuple(FileDescriptor(f["path"], f["filespec"], f["recursive"]) for f in items)

    def component(c: Mapping[str, Any]) -> Component:
        return Component(
            name=c["name"],
            logical_path=c["logical_path"],
            selectable=c["selectable"],
            files=files(c["files"]),
            database_files=files(c["database_files"]),
            log_files=files(c["log_files"]),
            dependencies=tuple(
                ComponentKey(uuid.UUID(k["writer_class_id"]), k["logical_path"], k["name"])
                for k in c["dependencies"]
            ),
        )

    def options(o: Mapping[str, Any]) -> AgentOptions:
        r = o["retry"]
        return AgentOptions(
            backup_type=BackupType[o["backup_type"]],
            context=Context[o["context"]],
            keep_snapshots=o["keep_snapshots"],
            copy_bytes_per_s=o["copy_bytes_per_s"],
            set_first=o["set_first"],
            lock_wait_us=o["lock_wait_us"],
            lock_retry_us=o["lock_retry_us"],
            retry=RetryPolicy(
                r["retries"], r["delay_us"], frozenset(HResult[n] for n in r["retryable"])
            ),
            skip_failed_writers=o["skip_failed_writers"],
            critical_writers=tuple(o["critical_writers"]),
            provider_id=uuid.UUID(o["provider_id"]) if o.get("provider_id") else None,
            allow_fallback=o.get("allow_fallback", True),
            replica=replica(o["replica"]) if o.get("replica") else None,
        )

    def replica(r: Mapping[str, Any]) -> ReplicaOptions:
        return ReplicaOptions(
            mode=ReplicaMode[r["mode"]],
            replicas_rotated=r["replicas_rotated"],
            keep_replica=r["keep_replica"],
            track_for_instant_recovery=r["track_for_instant_recovery"],
            sync_wait_us=r["sync_wait_us"],
            pool=r["pool"],
        )

    def volume(v: Mapping[str, Any]) -> VolumeSpec:
        return VolumeSpec(**{**v, "replicas": tuple(v.get("replicas", ()))})

    def array(a: Mapping[str, Any]) -> ArraySpec:
        return ArraySpec(
            a["serial"],
            a["track_bytes"],
            a["track_copy_us"],
            replica(a["replica"]) if a.get("replica") else None,
            tuple(PoolSpec(p["pool_id"], p["capacity_bytes"]) for p in a["pools"]),
        )

    faults = data.get("faults")
    restore = data.get("restore")
    config: dict[str, Any] = {
        k: tuple(v) if isinstance(v, list) else v for k, v in data["config"].items()
    }
    return Scenario(
        volumes=tuple(volume(v) for v in data["volumes"]),
        files=tuple(FileSpec(**f) for f in data["files"]),
        writers=tuple(metadata(m) for m in data["writers"]),
        workloads=tuple(
            WorkloadSpec(w["name"], tuple(w["files"]), tuple(w["interval_us"]), w["writer"])
            for w in data["workloads"]
        ),
        agents=tuple(
            AgentSpec(
                a["name"],
                tuple(a["selection"]),
                options(a["options"]),
                a["start_us"],
                tuple(a.get("builds_on", ())),
            )
            for a in data["agents"]
        ),
        faults=FaultSpec(
            tuple(faults["kinds"]),
            faults["activation_percent"],
            tuple(faults["fire_percents"]),
            tuple(faults["sites"]),
            faults["limit"],
        )
        if faults
        else None,
        config=CoordinatorConfig(**config),
        array=array(data["array"]) if data.get("array") else None,
        restore=RestoreSpec(restore["write_for_us"], tuple(restore["delete"])) if restore else None,
    )


# -- drawing a scenario from a seed ----------------------------------------------------------

_LETTERS = "DEFGH"


def draw_scenario(
    choices: ChoiceSource,
    *,
    writers: tuple[WriterMetadata, ...] = (),
    misbehaviour: bool = False,
) -> Scenario:
    """A random small host drawn from ``choices`` (every draw is a named choice, so a seed or a
    token gives the same scenario back).

    1-4 volumes (sometimes one mounted in a folder), 1-3 writers with 1-2 components of 1-2
    files each (a later writer's component may depend on an earlier one's), workloads linked
    to some writers plus an unlinked one, 1-3 agents with their own selections and policies,
    a swarm fault mix, sometimes a restore after the backups (:func:`_draw_restore`) and
    sometimes a chain of backups (:func:`_draw_chain`).
    Pass ``writers`` to fuzz given writers' metadata instead of drawn ones: their files are
    created on volumes made for them.
    """
    pick = choices.choose
    volumes = [
        VolumeSpec(f"{_LETTERS[i]}:\\", f"{_LETTERS[i]}:") for i in range(1 + pick("s/volumes", 4))
    ]
    if choices.chance("s/mounted", 30):
        volumes.append(VolumeSpec(f"{volumes[0].mount_point}Mnt\\", "MNT"))
    array = _draw_array(choices, volumes)
    roots = [v.mount_point for v in volumes]
    files: list[FileSpec] = []
    metadata: list[WriterMetadata] = list(writers)
    if writers:
        files.extend(_files_for(writers, roots, volumes))
    else:
        for w in range(1 + pick("s/writers", 3)):
            name = f"FuzzWriter{w + 1}"
            class_id = uuid.uuid5(VSSSIM_NAMESPACE, f"fuzz-writer:{name}")
            components = []
            for c in range(1 + pick(f"s/{name}/components", 2)):
                descriptors = []
                for f in range(1 + pick(f"s/{name}/{c}/files", 2)):
                    root = roots[pick(f"s/{name}/{c}/{f}/volume", len(roots))]
                    folder = f"{root}{name}\\C{c}"
                    filename = f"f{f}.dat"
                    blocks = 8 + pick(f"s/{name}/{c}/{f}/blocks", 57)
                    files.append(FileSpec(f"{folder}\\{filename}", blocks, blocks // 2))
                    descriptors.append(FileDescriptor(folder, filename))
                depends: tuple[ComponentKey, ...] = ()
                if metadata and choices.chance(f"s/{name}/{c}/depends", 25):
                    other = metadata[pick(f"s/{name}/{c}/on", len(metadata))]
                    target = other.components[0]
                    depends = (other.key(target),)
                components.append(
                    Component(
                        f"C{c}",
                        logical_path=name,
                        files=tuple(descriptors),
                        dependencies=depends,
                    )
                )
            metadata.append(
                WriterMetadata(
                    writer_class_id=class_id,
                    writer_instance_id=uuid.uuid5(class_id, "instance"),
                    writer_name=name,
                    components=tuple(components),
                )
            )
    workloads = []
    for m in metadata:
        folders = {
            fd.path.rstrip("\\").upper()
            for c in m.components
            for fd in (*c.files, *c.database_files, *c.log_files)
        }
        paths = tuple(f.path for f in files if f.path.rpartition("\\")[0].upper() in folders)
        if paths and choices.chance(f"s/{m.writer_name}/workload", 60):
            workloads.append(
                WorkloadSpec(
                    f"app-{m.writer_name}", paths, (50 * MILLISECOND, 2 * SECOND), m.writer_name
                )
            )
    users = tuple(f.path for f in files)
    if users and choices.chance("s/users", 50):
        workloads.append(WorkloadSpec("users", users[:3], (50 * MILLISECOND, 2 * SECOND)))
    all_components = [
        f"{m.writer_name}:{c.full_path}" for m in metadata for c in m.components if c.selectable
    ]
    agents = []
    for a in range(1 + pick("s/agents", 3)):
        name = f"agent-{a + 1}"
        chosen = tuple(
            sel for i, sel in enumerate(all_components) if choices.chance(f"s/{name}/{i}", 50)
        ) or (all_components[pick(f"s/{name}/one", len(all_components))],)
        ask_xp = array is not None and choices.chance(f"s/{name}/xp", 50)
        options = AgentOptions(
            set_first=choices.chance(f"s/{name}/set_first", 50),
            retry=RetryPolicy(retries=pick(f"s/{name}/retries", 3), delay_us=30 * SECOND),
            skip_failed_writers=choices.chance(f"s/{name}/skip", 50),
            provider_id=XP_PROVIDER_ID if ask_xp else None,
            allow_fallback=not ask_xp or choices.chance(f"s/{name}/fallback", 50),
        )
        agents.append(AgentSpec(name, chosen, options, pick(f"s/{name}/start", 3) * SECOND))
    plan = FaultPlan.swarm(choices, misbehaviour=misbehaviour)
    restore = _draw_restore(choices, files)
    if restore is not None and not writers:
        metadata = [
            attrs.evolve(
                m,
                restore_method=_RESTORE_METHODS[
                    pick(f"s/restore/{m.writer_name}/method", len(_RESTORE_METHODS))
                ],
            )
            for m in metadata
        ]
    agents, metadata, calm = _draw_chain(choices, agents, metadata, array, given=bool(writers))
    return Scenario(
        volumes=tuple(volumes),
        files=tuple(files),
        writers=tuple(metadata),
        workloads=tuple(workloads),
        agents=tuple(agents),
        faults=FaultSpec(() if calm else plan.kinds, plan.activation_percent, plan.fire_percents),
        array=array,
        restore=restore,
    )


#: The restore methods a drawn writer of a scenario that restores may have: the default
#: (``VSS_RME_RESTORE_IF_CAN_REPLACE``) most often, then each other one an agent can follow
#: now (or refuses: ``VSS_RME_CUSTOM``). A reboot is never drawn, so nothing waits for it.
_RESTORE_METHODS: tuple[RestoreMethod, ...] = (
    RestoreMethod.RESTORE_IF_CAN_REPLACE,
    RestoreMethod.RESTORE_IF_CAN_REPLACE,
    RestoreMethod.RESTORE_IF_NOT_THERE,
    RestoreMethod.STOP_RESTORE_START,
    RestoreMethod.RESTORE_STOP_START,
    RestoreMethod.CUSTOM,
)


#: The backup types of a drawn chain's later agents: incrementals most often.
_CHAIN_TYPES: tuple[BackupType, ...] = (
    BackupType.INCREMENTAL,
    BackupType.INCREMENTAL,
    BackupType.DIFFERENTIAL,
    BackupType.LOG,
    BackupType.COPY,
)
#: The backup schemas a drawn writer of a host with a chain may declare (none: it is backed
#: up in full whatever the agent asks).
_CHAIN_SCHEMAS: tuple[BackupSchema, ...] = (
    BackupSchema.UNDEFINED,
    BackupSchema.INCREMENTAL | BackupSchema.DIFFERENTIAL,
    BackupSchema.INCREMENTAL,
    BackupSchema.DIFFERENTIAL,
    BackupSchema.INCREMENTAL | BackupSchema.DIFFERENTIAL | BackupSchema.LOG | BackupSchema.COPY,
)


def _draw_chain(
    choices: ChoiceSource,
    agents: list[AgentSpec],
    metadata: list[WriterMetadata],
    array: ArraySpec | None,
    *,
    given: bool,
) -> tuple[list[AgentSpec], list[WriterMetadata], bool]:
    """Sometimes a chain of backups: drawn writers get backup schemas, and one or two agents
    (``chain-1``, ``chain-2``) are added that build on earlier ones (a drawn subset, the last
    otherwise), each an incremental, differential, log or copy backup of its last base's
    selection. Every draw has its own ``s/chain...`` or ``s/chain-N/...`` site, so hosts
    without a chain draw as before. Given writers keep their own schemas.

    Also whether the host is calm: half the hosts with a chain run with no fault kind (True),
    since a chain needs its bases to succeed, which most faulty runs' backups do not."""
    if not choices.chance("s/chain", 25):
        return agents, metadata, False
    pick = choices.choose
    if not given:
        metadata = [
            attrs.evolve(
                m,
                backup_schema=_CHAIN_SCHEMAS[
                    pick(f"s/chain/{m.writer_name}/schema", len(_CHAIN_SCHEMAS))
                ],
            )
            for m in metadata
        ]
    agents = list(agents)
    for n in range(1 + pick("s/chain/length", 2)):
        name = f"chain-{n + 1}"
        earlier = [a.name for a in agents]
        bases = tuple(
            b for i, b in enumerate(earlier) if choices.chance(f"s/{name}/on/{i}", 40)
        ) or (earlier[-1],)
        selection = next(a.selection for a in agents if a.name == bases[-1])
        ask_xp = array is not None and choices.chance(f"s/{name}/xp", 50)
        options = AgentOptions(
            backup_type=_CHAIN_TYPES[pick(f"s/{name}/type", len(_CHAIN_TYPES))],
            set_first=choices.chance(f"s/{name}/set_first", 50),
            retry=RetryPolicy(retries=pick(f"s/{name}/retries", 3), delay_us=30 * SECOND),
            skip_failed_writers=choices.chance(f"s/{name}/skip", 50),
            provider_id=XP_PROVIDER_ID if ask_xp else None,
            allow_fallback=not ask_xp or choices.chance(f"s/{name}/fallback", 50),
        )
        start = pick(f"s/{name}/start", 3) * SECOND
        agents.append(AgentSpec(name, selection, options, start, bases))
    return agents, metadata, not choices.chance("s/chain/faults", 50)


def _draw_restore(choices: ChoiceSource, files: list[FileSpec]) -> RestoreSpec | None:
    """Sometimes a restore after the backups: the applications write 0-3 s more and maybe a
    user deletes a file first. Every draw has its own ``s/restore...`` site (so do the writers'
    restore methods), so hosts that do not restore draw as before."""
    if not choices.chance("s/restore", 30):
        return None
    delete: tuple[str, ...] = ()
    if files and choices.chance("s/restore/delete", 50):
        delete = (files[choices.choose("s/restore/deleted", len(files))].path,)
    return RestoreSpec(choices.choose("s/restore/write_for", 4) * SECOND, delete)


def _draw_array(choices: ChoiceSource, volumes: list[VolumeSpec]) -> ArraySpec | None:
    """Sometimes an XP array: the first volume (and maybe others) become its LDEVs, with two
    replica LDEVs each, under a drawn mode, rotation and sync-wait limit (a short one makes
    sets fail). Every draw has its own site, so hosts without an array draw as before."""
    if not choices.chance("s/array", 25):
        return None
    for i, volume in enumerate(volumes):
        if i == 0 or choices.chance(f"s/array/{volume.label}", 50):
            replicas = (f"02:{i}0", f"02:{i}1")
            volumes[i] = attrs.evolve(volume, ldev=f"01:1{i}", replicas=replicas)
    modes = (ReplicaMode.RESYNC, ReplicaMode.VSS_COMPLIANT)
    waits = (10 * 60 * SECOND, 20 * MILLISECOND)
    return ArraySpec(
        replica=ReplicaOptions(
            mode=modes[choices.choose("s/array/mode", 2)],
            replicas_rotated=1 + choices.choose("s/array/rotated", 2),
            sync_wait_us=waits[choices.choose("s/array/sync_wait", 2)],
        )
    )


def _files_for(
    writers: tuple[WriterMetadata, ...], roots: list[str], volumes: list[VolumeSpec]
) -> list[FileSpec]:
    """A file for every file descriptor of given writers' metadata, on volumes made for them.

    A wildcard file specification gets a name it matches (``*.mdf`` -> ``data.mdf``); a folder
    not on a drive letter (``%SystemRoot%\\...``) is left out.
    """
    files = []
    for m in writers:
        for component in m.components:
            for fd in (*component.files, *component.database_files, *component.log_files):
                drive = fd.path[:3].upper()
                if len(drive) < 3 or not drive[0].isalpha() or drive[1:] != ":\\":
                    continue
                if drive not in roots:
                    volumes.append(VolumeSpec(drive, drive[:2]))
                    roots.append(drive)
                name = fd.filespec.replace("*", "data").replace("?", "x")
                files.append(FileSpec(f"{fd.path.rstrip(chr(92))}\\{name}", 16, 8))
    return files
