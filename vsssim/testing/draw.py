"""Scenarios drawn from a seed: the random small hosts a fuzz campaign runs.

"Swarm" style: each run picks its own numbers of volumes, writers and agents and its own fault
mix. Every draw is a named choice of a :class:`~vsssim.sim.choices.ChoiceSource`, so a seed or a
replay token gives the same scenario back; the order and names of the draws are part of the
replay format (a new kind of draw gets its own sites, so older hosts draw as before).
"""

from __future__ import annotations

import uuid

import attrs

from vsssim.faults import FaultPlan
from vsssim.host.scenario import (
    AgentSpec,
    ArraySpec,
    FaultSpec,
    FileSpec,
    RestoreSpec,
    Scenario,
    VolumeSpec,
    WorkloadSpec,
)
from vsssim.requesters.backup_options import AgentOptions, RetryPolicy
from vsssim.sim.choices import ChoiceSource
from vsssim.sim.kernel import MILLISECOND, SECOND
from vsssim.vss.constants import BackupSchema, BackupType, RestoreMethod
from vsssim.vss.metadata import Component, ComponentKey, FileDescriptor, WriterMetadata
from vsssim.vss.providers.xp import XP_PROVIDER_ID, ReplicaMode, ReplicaOptions
from vsssim.vss.volumes import VSSSIM_NAMESPACE

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
            metadata.append(_draw_writer(choices, f"FuzzWriter{w + 1}", roots, files, metadata))
    workloads = _draw_workloads(choices, metadata, files)
    agents = _draw_agents(choices, metadata, array)
    plan = FaultPlan.swarm(choices, misbehaviour=misbehaviour)
    restore = _draw_restore(choices, files)
    if restore is not None and not writers:
        metadata = _draw_restore_methods(choices, metadata)
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


def _draw_writer(
    choices: ChoiceSource,
    name: str,
    roots: list[str],
    files: list[FileSpec],
    earlier: list[WriterMetadata],
) -> WriterMetadata:
    """A drawn writer with 1-2 components of 1-2 files each, its files added to ``files``; a
    component may depend on the first component of an ``earlier`` writer."""
    pick = choices.choose
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
        if earlier and choices.chance(f"s/{name}/{c}/depends", 25):
            other = earlier[pick(f"s/{name}/{c}/on", len(earlier))]
            target = other.components[0]
            depends = (other.key(target).any_instance,)
        components.append(
            Component(
                f"C{c}",
                logical_path=name,
                files=tuple(descriptors),
                dependencies=depends,
            )
        )
    return WriterMetadata(
        writer_class_id=class_id,
        writer_instance_id=uuid.uuid5(class_id, "instance"),
        writer_name=name,
        components=tuple(components),
    )


def _draw_workloads(
    choices: ChoiceSource, metadata: list[WriterMetadata], files: list[FileSpec]
) -> list[WorkloadSpec]:
    """Sometimes an application per writer, writing that writer's files, and sometimes users
    writing the first three files, unlinked to any writer."""
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
    return workloads


def _draw_agents(
    choices: ChoiceSource, metadata: list[WriterMetadata], array: ArraySpec | None
) -> list[AgentSpec]:
    """1-3 agents, each selecting a drawn subset of the selectable components (one at least)
    with its own policies; with an array, some ask for the XP provider."""
    pick = choices.choose
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
            retry=RetryPolicy(retries=pick(f"s/{name}/retries", 3), delay_us=30 * SECOND),
            skip_failed_writers=choices.chance(f"s/{name}/skip", 50),
            provider_id=XP_PROVIDER_ID if ask_xp else None,
            allow_fallback=not ask_xp or choices.chance(f"s/{name}/fallback", 50),
        )
        agents.append(AgentSpec(name, chosen, options, pick(f"s/{name}/start", 3) * SECOND))
    return agents


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


def _draw_restore_methods(
    choices: ChoiceSource, metadata: list[WriterMetadata]
) -> list[WriterMetadata]:
    """The drawn writers of a host that restores, each with a drawn restore method."""
    return [
        attrs.evolve(
            m,
            restore_method=_RESTORE_METHODS[
                choices.choose(f"s/restore/{m.writer_name}/method", len(_RESTORE_METHODS))
            ],
        )
        for m in metadata
    ]


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
    # Differenced files (AddDifferencedFilesByLastModifyTime) instead of partial files.
    BackupSchema.INCREMENTAL | BackupSchema.DIFFERENTIAL | BackupSchema.LAST_MODIFY,
    BackupSchema.INCREMENTAL | BackupSchema.LAST_MODIFY,
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
