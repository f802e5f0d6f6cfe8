"""Hypothesis strategies for vsssim values: writer metadata, hosts, agents, fault plans, scenarios.

Property tests draw whole :class:`~vsssim.host.scenario.Scenario` values from :func:`scenarios` and
check that every run keeps the invariants. The strategies are built to *shrink* well: fewer
volumes, writers, components, files, agents and fault kinds first, small numbers first, plain
names (``W1``, ``C0``, ``A1``, drive ``D:`` first), so a failure comes back as a small host that
can be read at a glance.

Every value they draw is accepted by :meth:`Scenario.build <vsssim.host.scenario.Scenario.build>`:
files exist for every file descriptor, dependencies only point to earlier writers (no cycles),
agents select existing components and workloads write sparsely (at least 50 ms apart), so a run
takes milliseconds. :func:`describe` prints a drawn scenario in a few lines; call
``hypothesis.note(describe(scenario))`` in a test to see a shrunk counterexample that way.

Needs hypothesis (``pip install 'vsssim[test]'``).
"""

from __future__ import annotations

try:
    import hypothesis  # noqa: F401
    from hypothesis import strategies as st
except ImportError:
    raise ImportError(
        "vsssim.testing.strategies needs hypothesis: pip install 'vsssim[test]'"
    ) from None

import uuid
from collections.abc import Sequence
from typing import TypeAlias

import attrs

from vsssim.faults import KINDS, MISBEHAVIOURS, SURVIVABLE
from vsssim.host.scenario import (
    AgentSpec,
    ArraySpec,
    FaultSpec,
    FileSpec,
    Scenario,
    VolumeSpec,
    WorkloadSpec,
)
from vsssim.requesters.backup_options import AgentOptions, RetryPolicy
from vsssim.sim.kernel import MILLISECOND, SECOND
from vsssim.vss.constants import BackupType, Context, SnapshotAttr
from vsssim.vss.coordinator.service import CONTEXT_ATTRIBUTES
from vsssim.vss.metadata import Component, ComponentKey, FileDescriptor, WriterMetadata
from vsssim.vss.providers.software import SOFTWARE_PROVIDER_ID
from vsssim.vss.providers.xp import (
    RESYNC_MAX_REPLICAS,
    XP_PROVIDER_ID,
    ReplicaMode,
    ReplicaOptions,
)
from vsssim.vss.states import RESTORE_EVENTS
from vsssim.vss.volumes import VSSSIM_NAMESPACE

__all__ = [
    "Topology",
    "agent_options",
    "agent_specs",
    "describe",
    "fault_specs",
    "replica_options",
    "scenarios",
    "selectors",
    "topologies",
    "volume_specs",
    "writer_metadata",
]

#: Volumes, the files on them and the writers whose components name those files.
Topology: TypeAlias = tuple[
    tuple[VolumeSpec, ...], tuple[FileSpec, ...], tuple[WriterMetadata, ...]
]

#: Drive letters, in the order volumes are made (the first shrinks best).
_LETTERS = "DEFGHIJK"
#: Where the optional folder-mounted volume goes, under the drive it is mounted on.
_MOUNT_FOLDER = "Mnt"
#: Workload intervals: sparse ones first (fewer writes make shorter traces).
_INTERVALS: tuple[tuple[int, int], ...] = (
    (500 * MILLISECOND, 5 * SECOND),
    (50 * MILLISECOND, 2 * SECOND),
    (50 * MILLISECOND, 500 * MILLISECOND),
)
#: Backup types an agent may ask for (a full backup first).
_BACKUP_TYPES = (
    BackupType.FULL,
    BackupType.COPY,
    BackupType.INCREMENTAL,
    BackupType.DIFFERENTIAL,
    BackupType.LOG,
)
#: Contexts a backup can create shadow copies in (the plain backup context first).
_CONTEXTS: tuple[Context, ...] = (
    Context.BACKUP,
    *(c for c in CONTEXT_ATTRIBUTES if c != Context.BACKUP),
)


def _class_id(name: str) -> uuid.UUID:
    """A stable writer class id for a drawn writer name."""
    return uuid.uuid5(VSSSIM_NAMESPACE, f"strategies-writer:{name}")


# -- volumes and writers ---------------------------------------------------------------------


@st.composite
def _volume_specs(draw: st.DrawFn, max_volumes: int, mounted: bool) -> tuple[VolumeSpec, ...]:
    count = draw(st.integers(1, max_volumes))
    volumes = [VolumeSpec(f"{letter}:\\", f"{letter}:") for letter in _LETTERS[:count]]
    if mounted and draw(st.booleans()):
        host = draw(st.sampled_from(volumes))
        volumes.append(VolumeSpec(f"{host.mount_point}{_MOUNT_FOLDER}\\", "MNT"))
    return tuple(volumes)


def volume_specs(
    max_volumes: int = 3, *, mounted: bool = True
) -> st.SearchStrategy[tuple[VolumeSpec, ...]]:
    """1 to ``max_volumes`` drive volumes (``D:``, ``E:``...), plus, if ``mounted``, sometimes a
    volume mounted in a folder (``D:\\Mnt\\``) of one of them."""
    if not 1 <= max_volumes <= len(_LETTERS):
        raise ValueError(f"max_volumes must be between 1 and {len(_LETTERS)}")
    return _volume_specs(max_volumes, mounted)


@st.composite
def _writer_metadata(
    draw: st.DrawFn,
    name: str,
    roots: tuple[str, ...],
    depends_on: tuple[WriterMetadata, ...],
    max_components: int,
) -> WriterMetadata:
    targets = [m.key(c).any_instance for m in depends_on for c in m.components]
    components = []
    for index in range(draw(st.integers(1, max_components))):
        folders = draw(st.lists(st.sampled_from(roots), min_size=1, max_size=2))
        descriptors = tuple(
            FileDescriptor(f"{root}{name}\\C{index}", f"f{number}.dat")
            for number, root in enumerate(folders)
        )
        dependency: ComponentKey | None = (
            draw(st.none() | st.sampled_from(targets)) if targets else None
        )
        components.append(
            Component(
                f"C{index}",
                files=descriptors,
                dependencies=(dependency,) if dependency is not None else (),
            )
        )
    class_id = _class_id(name)
    return WriterMetadata(
        writer_class_id=class_id,
        writer_instance_id=uuid.uuid5(class_id, "instance"),
        writer_name=name,
        components=tuple(components),
    )


def writer_metadata(
    name: str = "W1",
    *,
    roots: Sequence[str] = ("D:\\",),
    depends_on: Sequence[WriterMetadata] = (),
    max_components: int = 3,
) -> st.SearchStrategy[WriterMetadata]:
    """The metadata of a writer called ``name``: 1 to ``max_components`` components ``C0``,
    ``C1``... each naming one or two literal files (``f0.dat``) in the folder
    ``<root><name>\\C<i>`` of one of ``roots``.

    A component may depend on one component of a writer in ``depends_on`` (give only writers
    made before this one, and the dependency graph has no cycles). The files themselves are
    not created: :func:`topologies` does that.
    """
    if not roots:
        raise ValueError("writer_metadata needs at least one root folder")
    if max_components < 1:
        raise ValueError("max_components must be at least 1")
    return _writer_metadata(name, tuple(roots), tuple(depends_on), max_components)


@st.composite
def _topologies(
    draw: st.DrawFn, max_volumes: int, max_writers: int, max_components: int, mounted: bool
) -> Topology:
    volumes = draw(volume_specs(max_volumes, mounted=mounted))
    roots = tuple(v.mount_point for v in volumes)
    writers: list[WriterMetadata] = []
    for number in range(1, draw(st.integers(1, max_writers)) + 1):
        writers.append(
            draw(
                writer_metadata(
                    f"W{number}",
                    roots=roots,
                    depends_on=writers,
                    max_components=max_components,
                )
            )
        )
    files = []
    for metadata in writers:
        for component in metadata.components:
            for fd in component.all_files:
                blocks = draw(st.integers(1, 16))
                initial = draw(st.integers(0, blocks))
                files.append(FileSpec(f"{fd.path}\\{fd.filespec}", blocks, initial))
    return volumes, tuple(files), tuple(writers)


def topologies(
    *,
    max_volumes: int = 3,
    max_writers: int = 3,
    max_components: int = 3,
    mounted: bool = True,
) -> st.SearchStrategy[Topology]:
    """A consistent host: ``(volumes, files, writers)``.

    Writers are ``W1``, ``W2``... (see :func:`writer_metadata`) with their folders on the drawn
    volumes, a file exists for every file descriptor, and a component may depend on a component
    of an earlier writer only.
    """
    if max_writers < 1:
        raise ValueError("max_writers must be at least 1")
    return _topologies(max_volumes, max_writers, max_components, mounted)


def selectors(writers: Sequence[WriterMetadata]) -> list[str]:
    """``WRITER:PATH`` selectors of every selectable component of ``writers``, in order."""
    return [f"{m.writer_name}:{c.full_path}" for m in writers for c in m.components if c.selectable]


# -- agents ----------------------------------------------------------------------------------


@st.composite
def _agent_options(draw: st.DrawFn, writers: tuple[str, ...]) -> AgentOptions:
    critical: tuple[str, ...] = ()
    skip = draw(st.booleans())
    if skip and writers:
        critical = tuple(draw(st.lists(st.sampled_from(writers), unique=True, max_size=2)))
    return AgentOptions(
        backup_type=draw(st.sampled_from(_BACKUP_TYPES)),
        context=draw(st.sampled_from(_CONTEXTS)),
        keep_snapshots=draw(st.booleans()),
        retry=RetryPolicy(
            retries=draw(st.integers(0, 2)),
            delay_us=draw(st.sampled_from((1 * SECOND, 30 * SECOND))),
        ),
        skip_failed_writers=skip,
        critical_writers=critical,
    )


def agent_options(writers: Sequence[str] = ()) -> st.SearchStrategy[AgentOptions]:
    """How an agent runs: backup type and context, whether it keeps its shadow copies, the
    order of its calls, a short retry policy (0-2 retries, 1 or 30 s apart), and whether it
    goes on without failed writers (some of ``writers`` critical). Shrinks to the defaults."""
    return _agent_options(tuple(writers))


@st.composite
def _agent_specs(
    draw: st.DrawFn, components: tuple[str, ...], writers: tuple[str, ...], max_agents: int
) -> tuple[AgentSpec, ...]:
    agents = []
    for number in range(1, draw(st.integers(1, max_agents)) + 1):
        picked = draw(st.sets(st.sampled_from(components), min_size=1, max_size=3))
        agents.append(
            AgentSpec(
                f"A{number}",
                tuple(c for c in components if c in picked),
                draw(agent_options(writers)),
                draw(st.integers(0, 5)) * SECOND,
            )
        )
    return tuple(agents)


def agent_specs(
    components: Sequence[str], *, writers: Sequence[str] = (), max_agents: int = 2
) -> st.SearchStrategy[tuple[AgentSpec, ...]]:
    """1 to ``max_agents`` agents ``A1``, ``A2``... each selecting 1 to 3 of ``components``
    (``WRITER:PATH`` selectors), with :func:`agent_options` and a start time of 0-5 s."""
    if not components:
        raise ValueError("agent_specs needs at least one component to select")
    if max_agents < 1:
        raise ValueError("max_agents must be at least 1")
    return _agent_specs(tuple(components), tuple(writers), max_agents)


# -- faults ----------------------------------------------------------------------------------


@st.composite
def _fault_specs(
    draw: st.DrawFn, kinds: tuple[str, ...], targets: tuple[str, ...], max_kinds: int
) -> FaultSpec:
    picked = set(draw(st.lists(st.sampled_from(kinds), unique=True, max_size=max_kinds)))
    chosen = tuple(k for k in kinds if k in picked)
    # Patterns come from the whole pool, not the kinds drawn, so that dropping a kind while
    # shrinking leaves the sites as they were. The hosts drawn here do not restore: no
    # restore event is a pattern.
    patterns = [
        *dict.fromkeys(
            f"*.{where}" for k in kinds for where in KINDS[k].where if where not in RESTORE_EVENTS
        )
    ]
    patterns += [f"{target}.*" for target in targets]
    sites: tuple[str, ...] = ()
    if draw(st.integers(0, 3)) == 3:  # one plan in four confined to a few sites
        sites = tuple(
            draw(st.lists(st.sampled_from(patterns), min_size=1, max_size=2, unique=True))
        )
    return FaultSpec(
        chosen,
        draw(st.sampled_from((100, 50, 25, 10))),
        draw(st.sampled_from(((100,), (10, 30, 100), (30,)))),
        sites,
        draw(st.none() | st.integers(1, 3)),
    )


def fault_specs(
    kinds: Sequence[str] = SURVIVABLE, *, targets: Sequence[str] = (), max_kinds: int = 4
) -> st.SearchStrategy[FaultSpec]:
    """A fault plan as data: up to ``max_kinds`` of ``kinds``, an activation percent, fire rates,
    a cap per site, and sometimes ``sites`` patterns that confine the faults to one event or
    call (``*.OnFreeze``) or to one of ``targets`` (``W1.*``).

    Shrinks to no faults at all, then to one kind firing every time it is reached.
    """
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        raise ValueError(f"unknown fault kinds {unknown}")
    if not kinds:
        return st.just(FaultSpec(()))
    return _fault_specs(tuple(dict.fromkeys(kinds)), tuple(targets), max_kinds)


# -- the XP array ----------------------------------------------------------------------------

#: How long the mirrors may take to synchronise: often too short for the slower copies below,
#: so that sets fail in EndPrepareSnapshots and abort (the generous one first, it shrinks so).
_SYNC_WAITS: tuple[int, ...] = (600 * SECOND, 50 * MILLISECOND, 1 * MILLISECOND)
#: Time to copy one track: instant, quick, slow.
_TRACK_COPIES: tuple[int, ...] = (1 * MILLISECOND, 0, 200 * MILLISECOND)
#: What an agent asks VSS for: VSS's choice, the XP provider, the software provider.
_PROVIDER_IDS: tuple[uuid.UUID | None, ...] = (None, XP_PROVIDER_ID, SOFTWARE_PROVIDER_ID)


@st.composite
def _replica_options(draw: st.DrawFn, keeping: bool, max_rotated: int) -> ReplicaOptions:
    mode = draw(st.sampled_from(ReplicaMode))
    most = (
        max_rotated if mode is ReplicaMode.VSS_COMPLIANT else min(max_rotated, RESYNC_MAX_REPLICAS)
    )
    return ReplicaOptions(
        mode=mode,
        replicas_rotated=draw(st.integers(1, most)),
        keep_replica=keeping and draw(st.booleans()),
        track_for_instant_recovery=keeping and draw(st.booleans()),
        sync_wait_us=draw(st.sampled_from(_SYNC_WAITS)),
    )


def replica_options(
    *, keeping: bool = False, max_rotated: int = RESYNC_MAX_REPLICAS
) -> st.SearchStrategy[ReplicaOptions]:
    """A backup product's options for XP array replicas: either mode, 1 to ``max_rotated``
    replicas rotated (3 at most in resync mode), a sync wait that is generous, short or far
    too short, and with ``keeping`` (the agent's context keeps shadow copies) sometimes a kept
    or tracked replica. Split mirrors only (no snapshot pool). Shrinks to resync mode, one
    replica, a 10 minute wait."""
    if max_rotated < 1:
        raise ValueError("max_rotated must be at least 1")
    return _replica_options(keeping, max_rotated)


def _persistent(context: Context) -> bool:
    return bool(CONTEXT_ATTRIBUTES[context] & SnapshotAttr.NO_AUTO_RELEASE)


@st.composite
def _with_array(draw: st.DrawFn, scenario: Scenario) -> Scenario:
    """``scenario`` with some of its volumes moved onto an XP array, and its agents asking for
    a provider, with or without fallback, some with their own replica options."""
    volumes = []
    replica_ldev = 0x20
    for number, volume in enumerate(scenario.volumes):
        if number and not draw(st.booleans()):  # the first volume is always on the array
            volumes.append(volume)
            continue
        count = draw(st.integers(1, RESYNC_MAX_REPLICAS))
        replicas = tuple(f"02:{replica_ldev + i:02X}" for i in range(count))
        replica_ldev += count
        volumes.append(attrs.evolve(volume, ldev=f"01:{0x10 + number:02X}", replicas=replicas))
    most = max((len(v.replicas) for v in volumes), default=1) or 1
    array = ArraySpec(
        track_copy_us=draw(st.sampled_from(_TRACK_COPIES)),
        replica=draw(st.none() | replica_options(max_rotated=most)),
    )
    agents = []
    for agent in scenario.agents:
        options = agent.options
        replica = draw(
            st.none() | replica_options(keeping=_persistent(options.context), max_rotated=most)
        )
        options = attrs.evolve(
            options,
            provider_id=draw(st.sampled_from(_PROVIDER_IDS)),
            allow_fallback=draw(st.booleans()),
            replica=replica,
        )
        agents.append(attrs.evolve(agent, options=options))
    return attrs.evolve(scenario, volumes=tuple(volumes), agents=tuple(agents), array=array)


# -- whole scenarios -------------------------------------------------------------------------


@st.composite
def _scenarios(
    draw: st.DrawFn,
    faults: bool,
    misbehaviour: bool,
    max_volumes: int,
    max_writers: int,
    max_agents: int,
    array: bool,
) -> Scenario:
    volumes, files, writers = draw(
        topologies(max_volumes=max_volumes, max_writers=max_writers, max_components=2)
    )
    paths = [f.path for f in files]
    workloads = []
    for metadata in writers:
        own = tuple(f"{fd.path}\\{fd.filespec}" for c in metadata.components for fd in c.all_files)
        if draw(st.booleans()):
            workloads.append(
                WorkloadSpec(
                    f"app-{metadata.writer_name}",
                    own,
                    draw(st.sampled_from(_INTERVALS)),
                    metadata.writer_name,
                )
            )
    if draw(st.booleans()):
        picked = draw(st.sets(st.sampled_from(paths), min_size=1, max_size=3))
        workloads.append(
            WorkloadSpec(
                "users",
                tuple(p for p in paths if p in picked),
                draw(st.sampled_from(_INTERVALS)),
            )
        )
    names = tuple(m.writer_name for m in writers)
    agents = draw(agent_specs(selectors(writers), writers=names, max_agents=max_agents))
    plan: FaultSpec | None = None
    if faults:
        kinds = (*SURVIVABLE, *MISBEHAVIOURS) if misbehaviour else SURVIVABLE
        targets = (*names, *(a.name for a in agents))
        plan = draw(fault_specs(kinds, targets=targets))
    scenario = Scenario(
        volumes=volumes,
        files=files,
        writers=writers,
        workloads=tuple(workloads),
        agents=agents,
        faults=plan,
    )
    return draw(_with_array(scenario)) if array else scenario


def scenarios(
    faults: bool = True,
    misbehaviour: bool = False,
    *,
    max_volumes: int = 3,
    max_writers: int = 3,
    max_agents: int = 2,
    array: bool = False,
) -> st.SearchStrategy[Scenario]:
    """Whole hosts: a :func:`topologies` host, sometimes an application workload per writer
    and an unlinked ``users`` workload, :func:`agent_specs` agents over its components and,
    with ``faults``, a :func:`fault_specs` plan (misbehaviour kinds too with ``misbehaviour``).

    With ``array``, an XP disk array too: the first volume is one of its LDEVs (``01:10``...),
    the others may be, each with 1 to 3 replica LDEVs (``02:20``...); copies are instant,
    quick or slow, and each agent asks for VSS's choice, the XP or the software provider,
    with or without fallback, with :func:`replica_options` of its own or the array's.
    (Without ``array`` nothing more is drawn, so the other scenarios are what they were.)

    Shrinks towards one volume, one writer with one component and one file, no workload,
    one agent with default options and an empty fault plan.
    """
    if max_agents < 1 or max_writers < 1:
        raise ValueError("a scenario needs at least one writer and one agent")
    return _scenarios(faults, misbehaviour, max_volumes, max_writers, max_agents, array)


# -- reading a drawn scenario ----------------------------------------------------------------


def _options_text(options: AgentOptions) -> str:
    parts = [options.backup_type.name, options.context.name]
    retry = options.retry
    parts.append(f"{retry.retries} retries {retry.delay_us / SECOND:g} s apart")
    if options.keep_snapshots:
        parts.append("keeps its shadow copies")
    if options.skip_failed_writers:
        critical = ", ".join(options.critical_writers)
        parts.append("goes on without failed writers" + (f" but {critical}" if critical else ""))
    if options.provider_id is not None:
        name = {XP_PROVIDER_ID: "XP", SOFTWARE_PROVIDER_ID: "software"}.get(
            options.provider_id, str(options.provider_id)
        )
        parts.append(f"asks the {name} provider" + ("" if options.allow_fallback else " only"))
    if isinstance(options.replica, ReplicaOptions):
        parts.append(f"replicas: {_replica_text(options.replica)}")
    return ", ".join(parts)


def _replica_text(replica: ReplicaOptions) -> str:
    parts = [f"{replica.mode} mode", f"{replica.replicas_rotated} rotated"]
    parts.append(f"sync wait {replica.sync_wait_us / SECOND:g} s")
    if replica.keep_replica:
        parts.append("kept")
    if replica.track_for_instant_recovery:
        parts.append("tracked")
    if replica.pool is not None:
        parts.append(f"pool {replica.pool}")
    return " ".join(parts[:1]) + ", " + ", ".join(parts[1:])


def describe(scenario: Scenario) -> str:
    """A scenario in a few lines of text: shorter than its ``repr`` and what a shrunk
    counterexample is best read as (``hypothesis.note(describe(scenario))`` in a test)."""
    names = {m.writer_class_id: m.writer_name for m in scenario.writers}
    lines = [
        "volumes: "
        + ", ".join(
            (v.mount_point if v.mount_point[:2] == v.label else f"{v.mount_point} ({v.label})")
            + (f" on LDEV {v.ldev} (replicas {', '.join(v.replicas)})" if v.ldev else "")
            for v in scenario.volumes
        )
    ]
    if scenario.array is not None:
        array = scenario.array
        text = (
            f"XP array {array.serial}: a track copied in {array.track_copy_us / MILLISECOND:g} ms"
        )
        if array.replica is not None:
            text += f"; replicas by default: {_replica_text(array.replica)}"
        lines.append(text)
    lines += [
        f"file {f.path}: {f.blocks} block(s), {f.initial_blocks} written" for f in scenario.files
    ]
    for metadata in scenario.writers:
        components = []
        for c in metadata.components:
            text = f"{c.full_path} = " + " + ".join(str(fd) for fd in c.all_files)
            for key in c.dependencies:
                text += f" (needs {names.get(key.writer_class_id, key.writer_class_id)}:{key})"
            components.append(text)
        lines.append(f"writer {metadata.writer_name}: " + "; ".join(components))
    for w in scenario.workloads:
        owner = f" of {w.writer}" if w.writer else ""
        low, high = (t // MILLISECOND for t in w.interval_us)
        lines.append(f"workload {w.name}{owner} every {low}-{high} ms: {', '.join(w.files)}")
    for a in scenario.agents:
        lines.append(
            f"agent {a.name} at {a.start_us / SECOND:g} s: {', '.join(a.selection)} "
            f"[{_options_text(a.options)}]"
        )
    faults = scenario.faults
    if faults is None or not faults.kinds:
        lines.append("faults: none")
    else:
        fire = "/".join(map(str, faults.fire_percents))
        details = [f"active {faults.activation_percent}%", f"fire {fire}%"]
        if faults.sites:
            details.append(f"at {', '.join(faults.sites)}")
        if faults.limit is not None:
            details.append(f"at most {faults.limit} per site")
        lines.append(f"faults: {', '.join(faults.kinds)} ({'; '.join(details)})")
    return "\n".join(lines)
