"""What ``IVssAsync::Cancel`` does to each asynchronous call of a backup components object.

Microsoft documents Cancel's return codes, not what a cancelled call leaves behind, so vsssim
follows the rule the "Aborting VSS Operations" page gives for a backup that stops part way:

* the queries (GatherWriterMetadata, GatherWriterStatus) stop; the session is back where it
  was before the call, nothing gathered, and the call may be made again;
* PrepareForBackup, and DoSnapshotSet until writes are held for the commit, stop and the
  backup is aborted as AbortBackup aborts it: the unfinished set undone, OnAbort to the
  writers, nothing left marked, locked, held or frozen;
* DoSnapshotSet once writes are held, BackupComplete and the restore calls ("aborts are not
  supported for restore operations") run on to their end: the cancel is taken (``S_OK``) but
  the call's own result stands.

A cancel acts when the call next resumes (the step it waits on has finished), as a thread of
VSS checks for it between steps.
"""

from __future__ import annotations

from vsssim.errors import HResult
from vsssim.sim.kernel import ProcessGenerator
from vsssim.vss.constants import SnapshotState
from vsssim.vss.coordinator import snapshot_set as coordinator_set
from vsssim.vss.coordinator.service import SnapshotSet
from vsssim.vss.coordinator.session_base import SessionBase
from vsssim.vss.coordinator.vss_async import Cancellable, CancelSteps
from vsssim.vss.states import SessionState


def back_to(session: SessionBase, previous: SessionState) -> CancelSteps:
    """A cancelled query: the session returns to ``previous``."""

    def steps() -> ProcessGenerator:
        session.state = previous
        return
        yield

    return steps


def abort_backup(session: SessionBase) -> CancelSteps:
    """A cancelled PrepareForBackup or DoSnapshotSet: the backup aborted as AbortBackup does."""

    def steps() -> ProcessGenerator:
        snapshot_set = session.snapshot_set
        if snapshot_set is not None and snapshot_set.state in (
            SnapshotState.CREATED,
            SnapshotState.ABORTED,
        ):
            snapshot_set = None
        session.state = SessionState.ABORTED
        yield from coordinator_set.abort_set(
            session.coordinator,
            session,
            snapshot_set,
            HResult.VSS_S_ASYNC_CANCELLED,
            f"{session.requester} cancelled the call",
            None,
        )

    return steps


def before_commit(snapshot_set: SnapshotSet) -> Cancellable:
    """DoSnapshotSet can be stopped until writes are held for the commit."""

    def cancellable() -> bool:
        return not any(volume.held for volume in snapshot_set.volumes) and all(
            snapshot.created_us is None for snapshot in snapshot_set.snapshots
        )

    return cancellable
