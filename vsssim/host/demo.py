"""The demo server: a Windows file and database server with in-box writers and SQL Server.

Volumes: ``C:`` (system), ``D:`` (SQL data), ``E:`` (SQL logs), ``F:`` (file shares) and an
archive volume mounted inside the shares at ``F:\\Shares\\Archive``. SQL Server's database
``Sales`` has its data on ``D:`` and its log on ``E:``; the replicated folder ``Shares`` spans
``F:`` and the archive volume. SQL Server and the registry write all the time (and pause while
their writers are frozen); file-share users and an archiver write without pausing, so their
writes meet the flush-and-hold.
"""

from __future__ import annotations

import attrs

from vsssim.errors import ConfigurationError
from vsssim.host.world import World
from vsssim.requesters.archive import BackupArchive
from vsssim.requesters.backup_options import AgentOptions
from vsssim.requesters.backup_result import BackupResult
from vsssim.requesters.instant_recovery import InstantRecoveryResult
from vsssim.requesters.restore import verify_restore
from vsssim.requesters.restore_result import RestoredFile, RestoreResult
from vsssim.sim.choices import ChoiceSource
from vsssim.sim.kernel import MILLISECOND, SECOND
from vsssim.vss.constants import Context, RestoreMethod, RestoreStatus
from vsssim.vss.providers.xp import XP_PROVIDER_ID, Replica, ReplicaMode, ReplicaOptions
from vsssim.vss.workload import Workload
from vsssim.vss.writers.catalogue import (
    complus_writer,
    dfsr_writer,
    registry_writer,
    sql_server_writer,
    system_writer,
    task_scheduler_writer,
    wmi_writer,
)

GIB = 1024**3
TIB = 1024**4
MIB = 1024**2
_BLOCK = 4096

#: What the demo agent backs up (its dependency pulls in the Registry Writer's component).
DEMO_SELECTION: tuple[str, ...] = (
    "SqlServerWriter:SQLSRV01\\Sales",
    "SqlServerWriter:SQLSRV01\\master",
    "COM+ REGDB Writer:COM+ REGDB",
    "DFS Replication service writer:Replicated folders\\Shares",
)

#: What further agents back up, in turn: selections that overlap the first agent's in volumes.
EXTRA_SELECTIONS: tuple[tuple[str, ...], ...] = (
    ("SqlServerWriter:SQLSRV01\\Sales",),
    ("DFS Replication service writer:Replicated folders\\Shares",),
    ("Registry Writer:Registry", "WMI Writer:WMI"),
    ("SqlServerWriter:SQLSRV01\\msdb", "SqlServerWriter:SQLSRV01\\model"),
    ("System Writer:System Files", "Task Scheduler Writer:TasksStore"),
)

_SQL_DATABASES = (
    ("master", "D:\\SQLData", "E:\\SQLLogs"),
    ("model", "D:\\SQLData", "E:\\SQLLogs"),
    ("msdb", "D:\\SQLData", "E:\\SQLLogs"),
    ("Sales", "D:\\SQLData", "E:\\SQLLogs"),
)

# (path, size in MiB)
_FILES: tuple[tuple[str, int], ...] = (
    ("C:\\Windows\\System32\\kernel32.dll", 1),
    ("C:\\Windows\\System32\\ntdll.dll", 2),
    ("C:\\Windows\\System32\\svchost.exe", 1),
    ("C:\\Windows\\System32\\drivers\\ntfs.sys", 3),
    ("C:\\Windows\\System32\\config\\SYSTEM", 16),
    ("C:\\Windows\\System32\\config\\SOFTWARE", 64),
    ("C:\\Windows\\System32\\config\\SECURITY", 1),
    ("C:\\Windows\\System32\\config\\SAM", 1),
    ("C:\\Windows\\System32\\config\\DEFAULT", 1),
    ("C:\\Windows\\Registration\\R000000000001.clb", 1),
    ("C:\\Windows\\System32\\wbem\\Repository\\OBJECTS.DATA", 32),
    ("C:\\Windows\\System32\\wbem\\Repository\\INDEX.BTR", 8),
    ("C:\\Windows\\System32\\Tasks\\Microsoft\\Windows\\Defrag\\ScheduledDefrag", 1),
    ("D:\\SQLData\\master.mdf", 8),
    ("D:\\SQLData\\model.mdf", 8),
    ("D:\\SQLData\\msdb.mdf", 16),
    ("D:\\SQLData\\Sales.mdf", 1024),
    ("E:\\SQLLogs\\master_log.ldf", 2),
    ("E:\\SQLLogs\\model_log.ldf", 2),
    ("E:\\SQLLogs\\msdb_log.ldf", 4),
    ("E:\\SQLLogs\\Sales_log.ldf", 256),
    ("F:\\Shares\\Projects\\plan.docx", 1),
    ("F:\\Shares\\Projects\\budget.xlsx", 2),
    ("F:\\Shares\\Archive\\2025\\q4-report.pdf", 4),
    ("F:\\Shares\\Archive\\2025\\contracts.zip", 128),
)


#: The demo's providers: ``software`` puts every volume on local disks; ``xp`` puts SQL
#: Server's volumes (``D:``, ``E:``) on an XP array, each with two replica LDEVs.
DEMO_PROVIDERS: tuple[str, ...] = ("software", "xp")

#: The XP demo's array LDEVs: (mount point, P-VOL, replica LDEVs, size).
XP_DEMO_LDEVS: tuple[tuple[str, str, tuple[str, ...], int], ...] = (
    ("D:", "01:10", ("01:20", "01:21"), 500 * GIB),
    ("E:", "01:11", ("01:22", "01:23"), 100 * GIB),
)

#: The XP demo's product options: resync mode, replicas rotated over two mirror units.
XP_DEMO_REPLICAS = ReplicaOptions(mode=ReplicaMode.RESYNC, replicas_rotated=2)


def build_demo_world(
    seed: int | None = 0,
    *,
    agents: int = 1,
    choices: ChoiceSource | None = None,
    provider: str = "software",
) -> World:
    """The demo server with ``agents`` backup agents (1 to 8).

    The first backs up :data:`DEMO_SELECTION`, the others :data:`EXTRA_SELECTIONS` in turn, all
    starting at the same instant so that they contend for the shadow-copy-set lock.
    ``choices`` (a replayed sequence, say) replaces the seeded source. ``provider``: one of
    :data:`DEMO_PROVIDERS`; with ``xp`` the agents ask for the XP provider and fall back to
    the software provider for the volumes not on the array.
    """
    if not 1 <= agents <= 8:
        raise ConfigurationError(f"the demo runs 1 to 8 agents, not {agents}")
    if provider not in DEMO_PROVIDERS:
        raise ConfigurationError(
            f"the demo has no provider {provider!r} (one of {', '.join(DEMO_PROVIDERS)})"
        )
    world = World.create(seed, choices=choices)
    options = _demo_disks(world, provider)
    _demo_applications(world)
    for n in range(agents):
        selection = DEMO_SELECTION if n == 0 else EXTRA_SELECTIONS[(n - 1) % len(EXTRA_SELECTIONS)]
        world.add_agent(f"VSSBAR agent {n + 1}", selection, options, start_us=100 * MILLISECOND)
    return world


def _demo_disks(world: World, provider: str) -> AgentOptions:
    """The demo's volumes and files (D: and E: on the XP array with ``xp``, their pairs
    created as the administrator did); the options the agents need for that provider."""
    options = AgentOptions()
    world.add_volume("C:\\", "C:", 120 * GIB)
    if provider == "xp":
        world.add_array(options=XP_DEMO_REPLICAS)
        for drive, pvol, replicas, size in XP_DEMO_LDEVS:
            world.add_array_volume(drive + "\\", pvol, size, label=drive, replicas=replicas)
        options = AgentOptions(provider_id=XP_PROVIDER_ID, replica=XP_DEMO_REPLICAS)
    else:
        world.add_volume("D:\\", "D:", 500 * GIB)
        world.add_volume("E:\\", "E:", 100 * GIB)
    world.add_volume("F:\\", "F:", 2 * TIB)
    world.add_volume("F:\\Shares\\Archive\\", "ARCHIVE", 4 * TIB)
    for path, mib in _FILES:
        world.add_file(path, mib * MIB // _BLOCK, initial_blocks=2)
    for array in world.arrays:  # the administrator paired each P-VOL with its first replica
        xp = world.xp_provider()
        for _, pvol, _, _ in XP_DEMO_LDEVS:
            first = xp.replica_ldevs(array.ldev(pvol))[0]
            array.paircreate(array.ldev(pvol), first, 0, group=xp.group)
    return options


def _demo_applications(world: World) -> None:
    """The demo's writers and the applications writing while the backups run."""
    for writer in (
        system_writer(),
        registry_writer(),
        complus_writer(),
        wmi_writer(),
        task_scheduler_writer(),
    ):
        world.add_writer(writer)
    registry = world.coordinator.writer("Registry Writer")
    sql = world.add_writer(sql_server_writer("SQLSRV01", _SQL_DATABASES))
    world.add_writer(dfsr_writer([("Shares", "F:\\Shares")]))

    world.add_workload(
        Workload(
            "sqlservr.exe",
            ["D:\\SQLData\\Sales.mdf", "E:\\SQLLogs\\Sales_log.ldf", "D:\\SQLData\\msdb.mdf"],
            interval_us=(5 * MILLISECOND, 40 * MILLISECOND),
            writer=sql,
        )
    )
    world.add_workload(
        Workload(
            "Configuration Manager",
            ["C:\\Windows\\System32\\config\\SOFTWARE"],
            interval_us=(50 * MILLISECOND, 300 * MILLISECOND),
            writer=registry,
        )
    )
    world.add_workload(
        Workload(
            "SMB clients",
            ["F:\\Shares\\Projects\\plan.docx", "F:\\Shares\\Projects\\budget.xlsx"],
            interval_us=(1 * MILLISECOND, 8 * MILLISECOND),
        )
    )
    world.add_workload(
        Workload(
            "archiver",
            ["F:\\Shares\\Archive\\2025\\contracts.zip"],
            interval_us=(2 * MILLISECOND, 10 * MILLISECOND),
        )
    )


#: What the damage of the restore demo deletes, after the applications wrote for a while.
DEMO_DELETIONS: tuple[str, ...] = ("F:\\Shares\\Projects\\plan.docx", "D:\\SQLData\\master.mdf")
#: How long the applications write between the backup and the restore.
DEMO_DAMAGE_US = 2 * SECOND


@attrs.frozen
class RestoreDemo:
    """The restore demo's run: the backup, the damage, the restore, and the checks.

    ``damaged`` are the backed-up files that differed from the backup (or were gone) before the
    restore; ``problems`` the restored files that did not equal the backup point when restored
    (rebuilt from the write history); ``unexpected`` the components not restored for another
    reason than needing their writer's custom restore procedure.
    """

    world: World
    backup: BackupResult
    archive: BackupArchive
    damaged: tuple[str, ...]
    restore: RestoreResult
    rebooted: tuple[RestoredFile, ...]
    problems: tuple[str, ...]

    @property
    def unexpected(self) -> tuple[str, ...]:
        """Components not restored for a reason other than a custom restore method."""
        return tuple(
            str(c)
            for c in self.restore.not_restored
            if not (c.method == RestoreMethod.CUSTOM and c.status == RestoreStatus.NONE)
        )

    @property
    def ok(self) -> bool:
        """True if every restored file equals the backup point and nothing else went wrong."""
        return self.backup.succeeded and not self.problems and not self.unexpected


def run_restore_demo(
    seed: int | None = 0, *, choices: ChoiceSource | None = None, provider: str = "software"
) -> RestoreDemo:
    """Back the demo server up, let its applications write for :data:`DEMO_DAMAGE_US` and a
    user delete :data:`DEMO_DELETIONS`, restore every component, reboot (the registry is
    replaced at reboot), and check every restored file against the backup. ``provider`` as
    for :func:`build_demo_world`."""
    world = build_demo_world(seed, choices=choices, provider=provider)
    [backup] = world.run()
    archive = BackupArchive.of(backup)
    world.run_workloads(DEMO_DAMAGE_US)
    for path in DEMO_DELETIONS:
        world.delete_file(path, "user")
    damaged = []
    for copied in archive.files:
        file = world.namespace.find(copied.path)
        if file is None or file.content() != copied.content:
            damaged.append(copied.path)
    restore = world.restore(archive)
    rebooted = world.reboot()
    restored = [f for f in restore.files if not f.pending_reboot] + list(rebooted)
    problems = verify_restore(world.namespace, archive, restored)
    return RestoreDemo(world, backup, archive, tuple(damaged), restore, rebooted, tuple(problems))


#: What the instant recovery demo backs up: SQL Server's databases, all on the array.
INSTANT_RECOVERY_SELECTION: tuple[str, ...] = tuple(
    f"SqlServerWriter:SQLSRV01\\{name}" for name, _, _ in _SQL_DATABASES
)


@attrs.frozen
class InstantRecoveryDemo:
    """The instant recovery demo's run: a backup that keeps its replica on the array, the
    damage, the recovery, and the check of each volume against its split instant.

    ``replicas``: what the backup kept; ``damaged``: the volumes that differed from their
    replica before the recovery; ``problems``: the volumes that do not equal their split instant
    after it.
    """

    world: World
    backup: BackupResult
    replicas: tuple[Replica, ...]
    damaged: tuple[str, ...]
    recovery: InstantRecoveryResult
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        """True if the backup and the recovery succeeded and every volume is its split."""
        return self.backup.succeeded and self.recovery.succeeded and not self.problems


def run_instant_recovery_demo(
    seed: int | None = 0, *, choices: ChoiceSource | None = None
) -> InstantRecoveryDemo:
    """Back SQL Server's databases up on the XP demo server keeping the replica for instant
    recovery, let the applications write for :data:`DEMO_DAMAGE_US`, recover the replica and
    check each volume equals its split instant (rebuilt from its write history)."""
    world = build_demo_world(seed, choices=choices, provider="xp")
    world.agents.clear()
    replica = attrs.evolve(XP_DEMO_REPLICAS, track_for_instant_recovery=True)
    options = AgentOptions(
        provider_id=XP_PROVIDER_ID, replica=replica, context=Context.APP_ROLLBACK
    )
    world.add_agent(
        "VSSBAR agent 1", INSTANT_RECOVERY_SELECTION, options, start_us=100 * MILLISECOND
    )
    [backup] = world.run()
    replicas = tuple(world.xp_provider().replicas(backup.snapshot_set_id))
    images = [(r.snapshot.volume, r.image_seq) for r in replicas if r.image_seq is not None]
    world.run_workloads(DEMO_DAMAGE_US)

    def differing() -> tuple[str, ...]:
        now = len(world.sim.trace)
        return tuple(v.label for v, seq in images if v.content_at(now) != v.content_at(seq))

    damaged = differing()
    recovery = world.instant_recovery(backup)
    problems = tuple(f"{label} differs from its split instant" for label in differing())
    return InstantRecoveryDemo(world, backup, replicas, damaged, recovery, problems)
