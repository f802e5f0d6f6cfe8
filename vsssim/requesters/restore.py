"""The restore, as VSS runs it: a requester puts components of a backup back, writer by writer.

A :class:`RestoreAgent` takes a :class:`~vsssim.requesters.archive.BackupArchive` (the Backup
Components
Document and the copied data) and walks ``IVssBackupComponents``' restore sequence:
``InitializeForRestore`` with the document, ``GatherWriterMetadata`` (the live writers and their
restore methods), ``SetSelectedForRestore`` for each component, ``PreRestore`` (writers get
OnPreRestore), the copy back by each writer's restore method, ``SetFileRestoreStatus`` per
component, ``PostRestore`` (OnPostRestore), ``GatherWriterStatus`` and release.

The restore methods (``VSS_RESTOREMETHOD_ENUM``), as Microsoft describes them:

* ``RESTORE_IF_NOT_THERE``: only if none of the component's files is on disk (else nothing, or
  the alternate location where a mapping exists and nothing is there);
* ``RESTORE_IF_CAN_REPLACE``: only if every file on disk can be replaced (else nothing, or the
  alternate location where a mapping exists); a file is in use while a process holds it
  (:attr:`vsssim.vss.namespace.File.in_use_by`);
* ``STOP_RESTORE_START``: the writer's service (its application: the workloads linked to the
  writer) is stopped, the files restored, the service started;
* ``RESTORE_STOP_START``: the files restored, then after PostRestore the service restarted;
* ``RESTORE_TO_ALTERNATE_LOCATION``: to the alternate location of each file (none defined is a
  writer error);
* ``RESTORE_AT_REBOOT``: staged and replaced at the next reboot (``MoveFileEx`` with
  ``MOVEFILE_DELAY_UNTIL_REBOOT``): see :func:`reboot`;
* ``RESTORE_AT_REBOOT_IF_CANNOT_REPLACE``: now if every file can be replaced, else all at reboot;
* ``CUSTOM``: the writer's own procedure, which this agent does not have: not restored.

A component is restored whole or reported: the checks run on every file before the first is
written, and the :class:`RestoreResult` names each component restored, each not restored and
why (a writer that failed OnPreRestore, a file in use...), and a writer that failed
OnPostRestore after its files were put back. A restored file holds exactly the backed-up
blocks: blocks written since the backup are zeroed
(:meth:`vsssim.vss.namespace.Namespace.put_file`).

A chain of backups (a full, then incrementals, or a differential) is restored by
:func:`restore_chain`: one restore per backup of the chain, oldest first (as
:func:`restore_plan` lays them out from the backup stamps), each component told with
``SetAdditionalRestores`` whether more of its chain follows. A file an incremental or
differential backed up as a partial file gets only its ranges written, into the file the earlier
restores put back; a file they put back that the later backup no longer lists is removed. An
incremental or differential restored on its own is refused for the components with partial
files (``VSS_RS_NONE``): its ranges only make sense on top of the backup it builds on.

Assumptions: VSS sends OnPreRestore and OnPostRestore to the writer of every component selected
for restore, whatever its ``VSS_WRITERRESTORE_ENUM`` (which tells the requester what the writer
needs); a reboot applies the pending file operations and nothing else (processes go on).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import attrs

from vsssim.errors import HResult, VssError
from vsssim.requesters.archive import BackupArchive
from vsssim.requesters.restore_agent import RestoreAgent
from vsssim.requesters.restore_result import RestoredFile, RestoreOptions, RestoreResult
from vsssim.requesters.selection import ComponentSelector
from vsssim.sim import vocabulary as V
from vsssim.sim.kernel import Simulation
from vsssim.vss import _args
from vsssim.vss.backup_types import partial_blocks
from vsssim.vss.coordinator.session import Coordinator
from vsssim.vss.documents.backup_document import BackedUpComponent
from vsssim.vss.metadata import ComponentKey
from vsssim.vss.namespace import Namespace, reads_as_zeros

#: The actor of the records of a reboot.
SESSION_MANAGER = V.SESSION_MANAGER


def reboot(sim: Simulation, namespace: Namespace) -> tuple[RestoredFile, ...]:
    """Restart the host: the Session Manager applies the pending file operations in order
    (``PendingFileRenameOperations``). Returns the files it put in place."""
    pending = namespace.take_pending_operations()
    sim.trace.record(None, SESSION_MANAGER, V.REBOOT, pending=len(pending))
    applied = []
    for op in pending:
        file = namespace.put_file(op.path, op.content, op.block_count, op.origin)
        done = sim.trace.record(
            None, SESSION_MANAGER, V.PENDING_FILE_OPERATION_APPLIED, path=op.path, by=op.origin
        )
        file.volume.keep_image(done.seq)  # verify_restore reads the file as put in place
        applied.append(
            RestoredFile(
                op.path, op.path, done.seq, file.volume.label, file.first_block, file.block_count
            )
        )
    sim.trace.record(None, SESSION_MANAGER, V.REBOOTED)
    return tuple(applied)


def verify_restore(
    namespace: Namespace, archive: BackupArchive, files: Iterable[RestoredFile]
) -> list[str]:
    """Compare every restored file, at the instant it was restored, with the backed-up data.

    The content is rebuilt from the volume's write history at the file's record, so later
    writes (an application started again) do not hide a bad restore. Returns the mismatches;
    a file still waiting for a reboot is one.
    """
    _args.check_instance("namespace", namespace, Namespace, "a Namespace")
    _args.check_instance("archive", archive, BackupArchive, "a BackupArchive")
    if isinstance(files, (str, bytes, Mapping)) or not isinstance(files, Iterable):
        raise _args.invalid("files", "expected RestoredFiles")
    files = tuple(files)
    _args.check_items("files", files, RestoredFile, "RestoredFiles")
    problems = []
    for restored in files:
        if restored.seq is None:
            problems.append(f"{restored.target}: still waits for a reboot")
            continue
        copied = archive.file(restored.path)
        if copied is None:
            problems.append(f"{restored.path}: the archive holds no data of it")
            continue
        volume = namespace.volume_labelled(restored.volume)
        first, count = restored.first_block, restored.block_count
        at = volume.content_at(restored.seq)
        got = {
            b - first: d
            for b, d in sorted(at.items())
            if first <= b < first + count and not reads_as_zeros(d)
        }
        expected = copied.content
        if restored.ranges is not None:  # a partial file: only its ranges were written
            size = namespace.volume_labelled(restored.volume).block_size
            written = set(partial_blocks(restored.ranges, size, count))
            got = {i: d for i, d in got.items() if i in written}
            expected = {i: d for i, d in expected.items() if i in written}
        if got != expected or count != copied.block_count:
            differing = sorted(
                set(got) ^ set(expected)
                | {i for i in got if i in expected and got[i] != expected[i]}
            )
            problems.append(f"{restored.target}: blocks {differing[:5]} differ from the backup")
    return problems


# -- chains of backups -------------------------------------------------------------------------


@attrs.frozen
class RestoreStep:
    """One restore of a chain: these components of this archive, and those of them whose
    chain goes on (``SetAdditionalRestores``)."""

    archive: BackupArchive
    components: tuple[BackedUpComponent, ...]
    additional_restores: frozenset[ComponentKey] = frozenset()


def restore_plan(
    archives: Sequence[BackupArchive], point: BackupArchive | None = None
) -> tuple[RestoreStep, ...]:
    """The restores that bring back the components of ``point`` (default: the last archive)
    as they were at its backup, from ``archives`` (oldest first, ``point`` among them).

    Each component's chain follows its previous backup stamps back: an incremental's to the
    full or incremental it builds on, and so on to a backup that builds on none (a full, a
    copy, a log backup, or a first backup); a differential's straight to its full. The steps
    are the archives of those chains, oldest first, each with the components it restores.
    A stamp no earlier archive set is ``VSS_E_OBJECT_NOT_FOUND``; so is a ``point`` not in
    ``archives``.
    """
    archives = list(_check_archives(archives))
    if point is not None:
        _args.check_instance("point", point, BackupArchive, "a BackupArchive or None")
    if not archives:
        raise VssError(HResult.VSS_E_OBJECT_NOT_FOUND, "no backup to restore")
    index = len(archives) - 1 if point is None else _index(archives, point)
    steps: dict[int, list[BackedUpComponent]] = {}
    for component in archives[index].document.components:
        chain = [(index, component)]
        while chain[0][1].previous_backup_stamp:
            chain.insert(0, _base(archives, *chain[0]))
        for at, record in chain:
            steps.setdefault(at, []).append(record)
    return tuple(
        RestoreStep(archives[at], tuple(records), frozenset(r.key for r in records if at < index))
        for at, records in sorted(steps.items())
    )


def _check_archives(archives: object) -> tuple[BackupArchive, ...]:
    """``archives``: a sequence of :class:`BackupArchive` (``E_INVALIDARG`` otherwise)."""
    items = _args.check_items("archives", archives, BackupArchive, "BackupArchives")
    return tuple(a for a in items if isinstance(a, BackupArchive))


def _index(archives: Sequence[BackupArchive], point: BackupArchive) -> int:
    for at, archive in enumerate(archives):
        if archive is point:
            return at
    for at, archive in enumerate(archives):
        if archive == point:
            return at
    raise VssError(
        HResult.VSS_E_OBJECT_NOT_FOUND,
        f"the backup of {point.document.time_us} us to restore is not among the archives",
    )


def _base(
    archives: Sequence[BackupArchive], at: int, record: BackedUpComponent
) -> tuple[int, BackedUpComponent]:
    """The earlier backup of ``record``'s component (logical path and name compared as VSS
    does, case-insensitively) whose stamp it builds on."""
    stamp = record.previous_backup_stamp
    key = record.key.folded
    for earlier in range(at - 1, -1, -1):
        for c in archives[earlier].document.components:
            if c.key.folded == key and c.backup_stamp == stamp:
                return earlier, c
    raise VssError(
        HResult.VSS_E_OBJECT_NOT_FOUND,
        f"{record.writer_name}:{record.full_path}: no earlier backup among the archives has "
        f"the stamp {stamp!r} its {archives[at].document.backup_type.vss_name} backup builds on",
    )


def restore_chain(
    coordinator: Coordinator,
    archives: Sequence[BackupArchive],
    point: BackupArchive | None = None,
    options: RestoreOptions | None = None,
    *,
    name: str = "VSSBAR restore",
) -> tuple[RestoreResult, ...]:
    """Run the restores of :func:`restore_plan` one after the other, each to its end; returns
    their results.

    Each restore after the first of a component's chain continues it
    (:attr:`RestoreAgent.continues`): its partial files are written into the files the
    earlier restores put back, and a file they put back that this backup's document no longer
    lists (deleted, or renamed, between the backups) is removed, so that the component's
    files are those of the point. (The document lists every file of each component an
    incremental or differential backed up: vsssim's requester records them.) A component a
    step did not restore is left out of the later steps (its partial files would complete the
    wrong file), and stays reported as not restored.
    """
    _args.check_instance("coordinator", coordinator, Coordinator, "a Coordinator")
    _check_archives(archives)
    if options is not None:
        _args.check_instance("options", options, RestoreOptions, "RestoreOptions or None")
    _args.check_str("name", name, empty=False)
    sim = coordinator.sim
    chain = ChainRestore(coordinator, options or RestoreOptions())
    results = []
    for step in restore_plan(archives, point):
        agent = chain.agent(step, name)
        if agent is None:
            continue
        result: RestoreResult = sim.run(until=sim.process(agent.run(), name))
        chain.finished(agent, result)
        results.append(result)
    return tuple(results)


@attrs.define(eq=False)
class ChainRestore:
    """The restores of one chain, one after the other (what :func:`restore_chain` runs, and
    :meth:`World.restore_backups <vsssim.host.world.World.restore_backups>` inside its process):
    each step's agent continues the components the earlier steps restored, and leaves out
    those a step did not."""

    coordinator: Coordinator
    options: RestoreOptions = attrs.field(factory=RestoreOptions)
    #: The components (folded keys) a step did not restore.
    _failed: set[ComponentKey] = attrs.field(factory=set, init=False)
    #: Per component (folded key): the files its chain's restores left on disk so far.
    _on_disk: dict[ComponentKey, frozenset[str]] = attrs.field(factory=dict, init=False)

    def agent(self, step: RestoreStep, name: str) -> RestoreAgent | None:
        """The agent of ``step`` (its components the earlier steps did not fail), or None if
        none is left."""
        records = [c for c in step.components if c.key.folded not in self._failed]
        if not records:
            return None
        selection = [ComponentSelector(str(c.writer_class_id), c.full_path) for c in records]
        return RestoreAgent(
            self.coordinator,
            name,
            step.archive,
            selection,
            self.options,
            step.additional_restores,
            {c.key: self._on_disk[c.key.folded] for c in records if c.key.folded in self._on_disk},
        )

    def finished(self, agent: RestoreAgent, result: RestoreResult) -> None:
        """Take note of what a step's agent restored."""
        for record, outcome in zip(agent.chosen, result.components, strict=True):
            if outcome.restored:
                self._on_disk[record.key.folded] = frozenset(f.target for f in outcome.files)
            else:
                self._failed.add(record.key.folded)
