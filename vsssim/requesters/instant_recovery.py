"""Instant recovery: a kept array replica goes back onto its volumes, whole, with the writers told.

A backup that kept its replica on the XP array (``ReplicaOptions(track_for_instant_recovery=
True)``) can be restored without copying files: the array puts every volume of the replica's
set back as it was at the split. The writers hear it as a restore: the agent initialises a
restore session from the backup's Backup Components Document, selects every component,
``PreRestore`` (OnPreRestore), stops the writers' applications, has the provider recover the
set, reports each component (``SetFileRestoreStatus``), ``PostRestore`` (OnPostRestore), starts
the applications again.

In resync mode the recovery is a reverse resync of each pair: the P-VOL is offline until the
copy is done and its old data is not kept, so a recovery the array stops half way leaves the
volume neither old nor restored: :class:`InstantRecoveryResult` says so (``lost``) instead of
hiding it. In compliant mode the disks are switched at once and the old data stays on the
replica LDEV.

*Assumption*: every volume of the set must be an array replica (a set that fell back to the
software provider for some volumes cannot be recovered this way, and is refused whole).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import attrs

from vsssim.errors import ConfigurationError, HResult, VssError
from vsssim.requesters.backup_result import BackupResult
from vsssim.sim import vocabulary as V
from vsssim.sim.kernel import ProcessGenerator
from vsssim.vss.constants import RestoreStatus
from vsssim.vss.coordinator.service import WriterStatus
from vsssim.vss.coordinator.session import BackupComponents, Coordinator
from vsssim.vss.providers.xp import Replica, ReplicaMode, XpProvider
from vsssim.vss.providers.xp.pairs import PairState


@attrs.frozen
class InstantRecoveryResult:
    """How an instant recovery ended.

    ``volumes``: the volumes the replica went back onto; ``lost``: volumes whose data before
    the recovery is gone without the replica's taking its place (an interrupted reverse
    resync); ``writer_status``: the writers after PostRestore.
    """

    set_id: uuid.UUID
    mode: ReplicaMode | None
    succeeded: bool
    hresult: HResult
    message: str
    volumes: tuple[str, ...] = ()
    lost: tuple[str, ...] = ()
    writer_status: tuple[WriterStatus, ...] = ()
    started_us: int = 0
    finished_us: int = 0


@attrs.define
class _Progress:
    """What an instant recovery has found so far (it ends in its result)."""

    mode: ReplicaMode | None = None
    volumes: Sequence[str] = ()
    lost: list[str] = attrs.field(factory=list)
    statuses: tuple[WriterStatus, ...] = ()
    hresult: HResult = HResult.S_OK
    message: str = "the replica is back on its volumes"


@attrs.define(eq=False)
class InstantRecoveryAgent:
    """Recovers the replica ``backup`` kept, through ``coordinator``, when its process runs."""

    coordinator: Coordinator
    name: str
    backup: BackupResult
    result: InstantRecoveryResult | None = attrs.field(default=None, init=False)

    def _replicas(self) -> tuple[XpProvider, list[Replica]]:
        set_id = self.backup.snapshot_set_id
        if set_id is None or self.backup.document is None or not self.backup.succeeded:
            raise ConfigurationError(f"{self.backup.agent}'s backup made no replica to recover")
        snapshots = [s for s in self.coordinator.snapshots.values() if s.set_id == set_id]
        if not snapshots:
            raise VssError(
                HResult.VSS_E_OBJECT_NOT_FOUND,
                f"shadow copy set {set_id} was not kept: nothing to recover from",
            )
        foreign = [s.volume.label for s in snapshots if not isinstance(s.provider, XpProvider)]
        if foreign:
            raise VssError(
                HResult.VSS_E_VOLUME_NOT_SUPPORTED_BY_PROVIDER,
                f"instant recovery needs the whole set on the array; {', '.join(foreign)} "
                "has a software shadow copy",
            )
        provider = snapshots[0].provider
        assert isinstance(provider, XpProvider)
        return provider, [provider.replica(s) for s in snapshots]

    def run(self) -> ProcessGenerator:
        """The agent's process; its value (and ``self.result``) is the result."""
        sim = self.coordinator.sim
        started = sim.now
        set_id = self.backup.snapshot_set_id or uuid.UUID(int=0)
        bc = self.coordinator.create_backup_components(self.name)
        out = _Progress()
        try:
            yield from self._recover(bc, set_id, out)
        except VssError as error:
            out.hresult, out.message = error.hresult, error.message
            sim.trace.record(
                None, self.name, V.INSTANT_RECOVERY_FAILED, result=out.hresult, reason=out.message
            )
        if bc.allows("release"):
            yield bc.release()
        self.result = InstantRecoveryResult(
            set_id,
            out.mode,
            out.hresult == HResult.S_OK,
            out.hresult,
            out.message,
            tuple(out.volumes),
            tuple(out.lost),
            out.statuses,
            started,
            sim.now,
        )
        sim.trace.record(
            None,
            self.name,
            V.INSTANT_RECOVERY_RESULT,
            succeeded=self.result.succeeded,
            result=out.hresult,
            lost=list(out.lost),
        )
        return self.result

    def _recover(self, bc: BackupComponents, set_id: uuid.UUID, out: _Progress) -> ProcessGenerator:
        """The restore sequence around the array step; a refusal raises ``VssError``."""
        sim = self.coordinator.sim
        provider, replicas = self._replicas()
        out.mode = replicas[0].mode
        out.volumes = [r.snapshot.volume.label for r in replicas]
        document = self.backup.document
        assert document is not None
        bc.initialize_for_restore(document)
        yield bc.gather_writer_metadata()
        components = [c for c in document.components if c.backup_succeeded]
        for c in components:
            bc.set_selected_for_restore(c.writer_class_id, c.logical_path, c.name)
        pre = yield bc.pre_restore()
        refused = [w for w, r in pre.items() if r != HResult.S_OK]
        if refused:
            raise VssError(
                HResult.VSS_E_UNEXPECTED_WRITER_ERROR,
                f"{refused[0].name} failed OnPreRestore: nothing on the volumes was changed",
            )
        writers = {
            c.writer_instance_id: self.coordinator.writer(c.writer_instance_id) for c in components
        }
        for writer in writers.values():
            writer.stop_application(self.name)
        sim.trace.record(
            None,
            self.name,
            V.INSTANT_RECOVERY,
            set_id=str(set_id),
            mode=str(out.mode),
            volumes=list(out.volumes),
        )
        yield from self._array_step(provider, set_id, replicas, out)
        failed = bool(out.lost) or out.hresult != HResult.S_OK
        status = RestoreStatus.FAILED if failed else RestoreStatus.ALL
        for c in components:
            bc.set_file_restore_status(c.writer_class_id, c.logical_path, c.name, status)
        yield bc.post_restore()
        for writer in writers.values():
            writer.start_application(self.name)
        out.statuses = tuple((yield bc.gather_writer_status()))
        if out.lost:
            out.hresult = HResult.VSS_E_UNEXPECTED_PROVIDER_ERROR
            out.message = (
                f"the reverse resync of {', '.join(out.lost)} stopped half way: their data "
                "before the recovery is lost and the replica is not in its place"
            )

    def _array_step(
        self, provider: XpProvider, set_id: uuid.UUID, replicas: Sequence[Replica], out: _Progress
    ) -> ProcessGenerator:
        """The array puts the replica back; a refusal changes nothing (the writers still hear
        the end); a reverse resync the array stopped (the pair suspended) lost the old data."""
        try:
            copies = provider.recover(set_id)
        except VssError as unrecoverable:
            out.hresult, out.message = unrecoverable.hresult, unrecoverable.message
            return
        if copies:
            yield self.coordinator.sim.all_of(copies)
        out.lost = [
            r.snapshot.volume.label
            for r in replicas
            if r.pair is not None and r.pair.state is PairState.PSUE
        ]
