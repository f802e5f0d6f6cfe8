"""The trace's vocabulary: every fixed actor and every action a record can carry, by name.

The parties write the trace and the invariants, probes, renderers and tests read it. Both sides
spell an action the same way only if both use these constants: a renamed record then renames
its readers too, instead of silently blinding an invariant that still matches the old string.
``tests/test_vocabulary.py`` holds the package to it (no literal action at a record site or in
a comparison, every action recorded in a run is named here, every name here is recorded).

Three families are built rather than listed:

* a writer event is itself an action (``OnFreeze``, :data:`WRITER_EVENTS`), and so is each of
  :data:`EVENT_SUFFIXES` after it (``OnFreeze done``: :func:`done` and its siblings);
* an XP pair command is recorded by its RAID Manager spelling (:data:`PAIR_COMMANDS`);
* a fired fault is recorded by actor :data:`FAULT` under its kind's name (the catalogue is
  ``vsssim.faults.FAULT_KINDS``, a higher layer: those names are not in :data:`ACTIONS`).

This module sits in the lowest layer: it imports nothing from vsssim.
"""

from __future__ import annotations

from typing import Final

# -- actors with a fixed name ------------------------------------------------------------------
VSS: Final[str] = "VSS"
FAULT: Final[str] = "fault"
#: The model itself, when it ends a run (a model error, a livelock).
RUN_ACTOR: Final[str] = "vsssim"
#: Applies the file operations a restore left pending until the reboot.
SESSION_MANAGER: Final[str] = "Session Manager"
SOFTWARE_PROVIDER: Final[str] = "Microsoft Software Shadow Copy provider 1.0"

ACTORS: Final[frozenset[str]] = frozenset(
    {VSS, FAULT, RUN_ACTOR, SESSION_MANAGER, SOFTWARE_PROVIDER}
)

# -- the coordinator, as VSS -------------------------------------------------------------------
DO_SNAPSHOT_SET: Final[str] = "DoSnapshotSet"
DO_SNAPSHOT_SET_COMPLETE: Final[str] = "DoSnapshotSet complete"
FLUSH_WRITES: Final[str] = "flush writes"
HOLD_WRITES: Final[str] = "hold writes"
RELEASE_WRITES: Final[str] = "release writes"
ABORT: Final[str] = "abort"
ABORT_DONE: Final[str] = "abort done"
#: A writer failed an event of the set and returned true (SetWriterFailure, a veto): VSS
#: notes it and goes on; the writer's status shows the failure.
WRITER_VETOED: Final[str] = "writer vetoed"

# -- the coordinator, calling a provider (the provider is the actor) ---------------------------
BEGIN_PREPARE_SNAPSHOT: Final[str] = "BeginPrepareSnapshot"
END_PREPARE_SNAPSHOTS: Final[str] = "EndPrepareSnapshots"
PRE_COMMIT_SNAPSHOTS: Final[str] = "PreCommitSnapshots"
COMMIT_SNAPSHOTS: Final[str] = "CommitSnapshots"
POST_COMMIT_SNAPSHOTS: Final[str] = "PostCommitSnapshots"
ABORT_SNAPSHOTS: Final[str] = "AbortSnapshots"
DELETE_SNAPSHOT: Final[str] = "DeleteSnapshot"

# -- the coordinator, for a requester's IVssBackupComponents call (the requester is the actor) --
#: Ends the actions recorded when an asynchronous call's work is done.
COMPLETE_SUFFIX: Final[str] = " complete"
INITIALIZE_FOR_BACKUP: Final[str] = "InitializeForBackup"
SET_BACKUP_STATE: Final[str] = "SetBackupState"
SET_CONTEXT: Final[str] = "SetContext"
GATHER_WRITER_METADATA: Final[str] = "GatherWriterMetadata"
GATHER_WRITER_METADATA_COMPLETE: Final[str] = "GatherWriterMetadata complete"
ADD_COMPONENT: Final[str] = "AddComponent"
SET_PREVIOUS_BACKUP_STAMP: Final[str] = "SetPreviousBackupStamp"
PREPARE_FOR_BACKUP: Final[str] = "PrepareForBackup"
PREPARE_FOR_BACKUP_COMPLETE: Final[str] = "PrepareForBackup complete"
START_SNAPSHOT_SET: Final[str] = "StartSnapshotSet"
ADD_TO_SNAPSHOT_SET: Final[str] = "AddToSnapshotSet"
GET_SNAPSHOT_PROPERTIES: Final[str] = "GetSnapshotProperties"
GATHER_WRITER_STATUS: Final[str] = "GatherWriterStatus"
GATHER_WRITER_STATUS_COMPLETE: Final[str] = "GatherWriterStatus complete"
SET_BACKUP_SUCCEEDED: Final[str] = "SetBackupSucceeded"
BACKUP_COMPLETE: Final[str] = "BackupComplete"
BACKUP_COMPLETE_COMPLETE: Final[str] = "BackupComplete complete"
INITIALIZE_FOR_RESTORE: Final[str] = "InitializeForRestore"
SET_SELECTED_FOR_RESTORE: Final[str] = "SetSelectedForRestore"
SET_ADDITIONAL_RESTORES: Final[str] = "SetAdditionalRestores"
PRE_RESTORE: Final[str] = "PreRestore"
PRE_RESTORE_COMPLETE: Final[str] = "PreRestore complete"
SET_FILE_RESTORE_STATUS: Final[str] = "SetFileRestoreStatus"
POST_RESTORE: Final[str] = "PostRestore"
POST_RESTORE_COMPLETE: Final[str] = "PostRestore complete"
DELETE_SNAPSHOTS: Final[str] = "DeleteSnapshots"
#: The management calls any backup components object may make (coordinator/management.py).
QUERY: Final[str] = "Query"
EXPOSE_SNAPSHOT: Final[str] = "ExposeSnapshot"
UNEXPOSE_SNAPSHOT: Final[str] = "UnexposeSnapshot"
BREAK_SNAPSHOT_SET: Final[str] = "BreakSnapshotSet"
REVERT_TO_SNAPSHOT: Final[str] = "RevertToSnapshot"
#: ImportSnapshots of a transportable set, and its end (the copies imported and those not).
IMPORT_SNAPSHOTS: Final[str] = "ImportSnapshots"
IMPORT_SNAPSHOTS_COMPLETE: Final[str] = "ImportSnapshots complete"
ABORT_BACKUP: Final[str] = "AbortBackup"
RELEASE: Final[str] = "Release"
RELEASE_COMPLETE: Final[str] = "Release complete"
#: The requester's process ended without Release; VSS runs the session down.
REQUESTER_GONE: Final[str] = "requester gone"
RUNDOWN: Final[str] = "rundown"
#: IVssAsync::Cancel of an asynchronous call, and the cancel taking effect at the call's next step.
ASYNC_CANCEL: Final[str] = "IVssAsync::Cancel"
ASYNC_CANCELLED: Final[str] = "call cancelled"

# -- writers (the writer is the actor) ---------------------------------------------------------
ON_IDENTIFY: Final[str] = "OnIdentify"
ON_PREPARE_BACKUP: Final[str] = "OnPrepareBackup"
ON_PREPARE_SNAPSHOT: Final[str] = "OnPrepareSnapshot"
ON_FREEZE: Final[str] = "OnFreeze"
ON_THAW: Final[str] = "OnThaw"
ON_POST_SNAPSHOT: Final[str] = "OnPostSnapshot"
ON_BACKUP_COMPLETE: Final[str] = "OnBackupComplete"
ON_BACKUP_SHUTDOWN: Final[str] = "OnBackupShutdown"
ON_ABORT: Final[str] = "OnAbort"
ON_PRE_RESTORE: Final[str] = "OnPreRestore"
ON_POST_RESTORE: Final[str] = "OnPostRestore"
#: Every writer event: a writer records the event when it takes it.
WRITER_EVENTS: Final[frozenset[str]] = frozenset(
    {
        ON_IDENTIFY,
        ON_PREPARE_BACKUP,
        ON_PREPARE_SNAPSHOT,
        ON_FREEZE,
        ON_THAW,
        ON_POST_SNAPSHOT,
        ON_BACKUP_COMPLETE,
        ON_BACKUP_SHUTDOWN,
        ON_ABORT,
        ON_PRE_RESTORE,
        ON_POST_RESTORE,
    }
)
#: After an event's name: the writer replied in time; replied after VSS gave up on it;
#: did not reply in time (the writer records these three); VSS did not send it (the writer's
#: state does not take it; VSS records it).
DONE_SUFFIX: Final[str] = " done"
LATE_REPLY_IGNORED_SUFFIX: Final[str] = " late reply ignored"
NOT_RESPONDING_SUFFIX: Final[str] = " not responding"
NOT_SENT_SUFFIX: Final[str] = " not sent"
EVENT_SUFFIXES: Final = (
    DONE_SUFFIX,
    LATE_REPLY_IGNORED_SUFFIX,
    NOT_RESPONDING_SUFFIX,
    NOT_SENT_SUFFIX,
)


def done(event: str) -> str:
    """The action of a writer's in-time reply to ``event``."""
    return event + DONE_SUFFIX


def late_reply_ignored(event: str) -> str:
    """The action of a writer's reply to ``event`` after VSS gave up on it."""
    return event + LATE_REPLY_IGNORED_SUFFIX


def not_responding(event: str) -> str:
    """The action of a writer that gave no reply to ``event`` in time."""
    return event + NOT_RESPONDING_SUFFIX


def not_sent(event: str) -> str:
    """The action of VSS skipping a writer whose state does not take ``event``."""
    return event + NOT_SENT_SUFFIX


#: Members of those families that readers match one by one.
ON_FREEZE_DONE: Final[str] = ON_FREEZE + DONE_SUFFIX
ON_THAW_DONE: Final[str] = ON_THAW + DONE_SUFFIX
ON_ABORT_DONE: Final[str] = ON_ABORT + DONE_SUFFIX
ON_ABORT_LATE_REPLY_IGNORED: Final[str] = ON_ABORT + LATE_REPLY_IGNORED_SUFFIX
ON_FREEZE_NOT_RESPONDING: Final[str] = ON_FREEZE + NOT_RESPONDING_SUFFIX

#: A handler raised: a bug in the writer, the event fails.
HANDLER_CRASHED: Final[str] = "handler crashed"
FREEZE_TIMEOUT: Final[str] = "freeze timeout"
FREEZE_TIMEOUT_HANDLED: Final[str] = "freeze timeout handled"
PREVIOUS_BACKUP_STAMP_UNKNOWN: Final[str] = "previous backup stamp unknown"
LOG_TRUNCATED: Final[str] = "log truncated"
#: Recorded by a writer's backup-type calls on its component (the writer is the actor).
SET_BACKUP_STAMP: Final[str] = "SetBackupStamp"
ADD_PARTIAL_FILE: Final[str] = "AddPartialFile"
ADD_DIFFERENCED_FILES: Final[str] = "AddDifferencedFilesByLastModifyTime"
#: Recorded by a requester that leaves out a differenced file unchanged since its writer's time.
DIFFERENCED_FILE_UNCHANGED: Final[str] = "differenced file unchanged"

# -- providers ---------------------------------------------------------------------------------
SHADOW_COPY_DISCARDED: Final[str] = "shadow copy discarded"
#: The system provider deleted an older shadow copy to make diff area room for a newer one.
OLDEST_SHADOW_COPY_DELETED: Final[str] = "oldest shadow copy deleted"
PAIRS_SPLIT: Final[str] = "pairs split"
REPLICA_LOST: Final[str] = "replica lost"
#: The XP provider asks the array (the array is the actor).
PAIRDISPLAY: Final[str] = "pairdisplay"

# -- the XP array (the array is the actor) -----------------------------------------------------
DISKS_SWITCHED: Final[str] = "disks switched"
RESTORE_INTERRUPTED: Final[str] = "restore interrupted"
IMAGE_TAKEN: Final[str] = "image taken"
#: RAID Manager's commands and the array's own moves, recorded by the pair they moved.
PAIRCREATE: Final[str] = "paircreate"
PAIRSPLIT: Final[str] = "pairsplit"
PAIRSPLIT_QUICK: Final[str] = "pairsplit -fq quick"
PAIRRESYNC: Final[str] = "pairresync"
PAIRRESYNC_RESTORE: Final[str] = "pairresync -restore"
PAIRSPLIT_DELETE: Final[str] = "pairsplit -S"
COPY_DONE: Final[str] = "copy done"
SUSPEND: Final[str] = "suspend"
PAIR_COMMANDS: Final[frozenset[str]] = frozenset(
    {
        PAIRCREATE,
        PAIRSPLIT,
        PAIRSPLIT_QUICK,
        PAIRRESYNC,
        PAIRRESYNC_RESTORE,
        PAIRSPLIT_DELETE,
        COPY_DONE,
        SUSPEND,
    }
)

# -- volumes, as the workload writes them (the volume is the actor) ----------------------------
WRITE: Final[str] = "write"
WRITE_HELD: Final[str] = "write held"
#: An application's writes to a volume since the previous record, counted in one record (a trace
#: in batched mode, :attr:`vsssim.sim.trace.Trace.batch_writes`: fuzzing, exploring, benchmarks).
WRITES: Final[str] = "writes"
BLOCKS_REPLACED: Final[str] = "blocks replaced"

# -- backup agents (the requester process is the actor) ----------------------------------------
COMPONENTS_SELECTED: Final[str] = "components selected"
BACKUP_TYPE_NOT_SUPPORTED: Final[str] = "backup type not supported"
WAITING_FOR_THE_SET_LOCK: Final[str] = "waiting for the set lock"
PROVIDER_FALLBACK: Final[str] = "provider fallback"
REPLICA_TRACKED_FOR_INSTANT_RECOVERY: Final[str] = "replica tracked for instant recovery"
FILE_COPIED: Final[str] = "file copied"
PARTIAL_FILE_COPIED: Final[str] = "partial file copied"
RETRY: Final[str] = "retry"
#: What the agent decided about a writer whose status showed a failure (skip its
#: components, retry the backup, fail the backup).
WRITER_FAILURE_DECISION: Final[str] = "writer failure decision"
AGENT_DIED: Final[str] = "agent died"
BACKUP_FAILED: Final[str] = "backup failed"
BACKUP_RESULT: Final[str] = "backup result"

# -- restore and instant recovery (the restoring process is the actor) -------------------------
COMPONENTS_SELECTED_FOR_RESTORE: Final[str] = "components selected for restore"
STOP_SERVICE: Final[str] = "stop service"
START_SERVICE: Final[str] = "start service"
FILE_RESTORED: Final[str] = "file restored"
PARTIAL_FILE_RESTORED: Final[str] = "partial file restored"
FILE_REMOVED: Final[str] = "file removed"
FILE_STAGED_FOR_REBOOT: Final[str] = "file staged for reboot"
COMPONENT_NOT_RESTORED: Final[str] = "component not restored"
RESTORE_FAILED: Final[str] = "restore failed"
RESTORE_RESULT: Final[str] = "restore result"
INSTANT_RECOVERY: Final[str] = "instant recovery"
INSTANT_RECOVERY_FAILED: Final[str] = "instant recovery failed"
INSTANT_RECOVERY_RESULT: Final[str] = "instant recovery result"
#: By :data:`SESSION_MANAGER`.
REBOOT: Final[str] = "reboot"
PENDING_FILE_OPERATION_APPLIED: Final[str] = "pending file operation applied"
REBOOTED: Final[str] = "rebooted"

# -- the world: history, mistakes, and the model's own end of a run ----------------------------
BUILDS_ON: Final[str] = "builds on"
DELETE_FILE: Final[str] = "delete file"
#: By :data:`RUN_ACTOR`: the model raised, or made no progress.
MODEL_ERROR: Final[str] = "model error"
LIVELOCK: Final[str] = "livelock"

# -- all of them -------------------------------------------------------------------------------
_FIXED: Final = (
    # VSS
    DO_SNAPSHOT_SET,
    DO_SNAPSHOT_SET_COMPLETE,
    FLUSH_WRITES,
    HOLD_WRITES,
    RELEASE_WRITES,
    ABORT,
    ABORT_DONE,
    WRITER_VETOED,
    # provider calls
    BEGIN_PREPARE_SNAPSHOT,
    END_PREPARE_SNAPSHOTS,
    PRE_COMMIT_SNAPSHOTS,
    COMMIT_SNAPSHOTS,
    POST_COMMIT_SNAPSHOTS,
    ABORT_SNAPSHOTS,
    DELETE_SNAPSHOT,
    # requester calls
    INITIALIZE_FOR_BACKUP,
    SET_BACKUP_STATE,
    SET_CONTEXT,
    GATHER_WRITER_METADATA,
    GATHER_WRITER_METADATA_COMPLETE,
    ADD_COMPONENT,
    SET_PREVIOUS_BACKUP_STAMP,
    PREPARE_FOR_BACKUP,
    PREPARE_FOR_BACKUP_COMPLETE,
    START_SNAPSHOT_SET,
    ADD_TO_SNAPSHOT_SET,
    GET_SNAPSHOT_PROPERTIES,
    GATHER_WRITER_STATUS,
    GATHER_WRITER_STATUS_COMPLETE,
    SET_BACKUP_SUCCEEDED,
    BACKUP_COMPLETE,
    BACKUP_COMPLETE_COMPLETE,
    INITIALIZE_FOR_RESTORE,
    SET_SELECTED_FOR_RESTORE,
    SET_ADDITIONAL_RESTORES,
    PRE_RESTORE,
    PRE_RESTORE_COMPLETE,
    SET_FILE_RESTORE_STATUS,
    POST_RESTORE,
    POST_RESTORE_COMPLETE,
    DELETE_SNAPSHOTS,
    QUERY,
    EXPOSE_SNAPSHOT,
    UNEXPOSE_SNAPSHOT,
    BREAK_SNAPSHOT_SET,
    REVERT_TO_SNAPSHOT,
    IMPORT_SNAPSHOTS,
    IMPORT_SNAPSHOTS_COMPLETE,
    ABORT_BACKUP,
    RELEASE,
    RELEASE_COMPLETE,
    REQUESTER_GONE,
    RUNDOWN,
    ASYNC_CANCEL,
    ASYNC_CANCELLED,
    # writers
    HANDLER_CRASHED,
    FREEZE_TIMEOUT,
    FREEZE_TIMEOUT_HANDLED,
    PREVIOUS_BACKUP_STAMP_UNKNOWN,
    LOG_TRUNCATED,
    SET_BACKUP_STAMP,
    ADD_PARTIAL_FILE,
    ADD_DIFFERENCED_FILES,
    DIFFERENCED_FILE_UNCHANGED,
    # providers
    SHADOW_COPY_DISCARDED,
    OLDEST_SHADOW_COPY_DELETED,
    PAIRS_SPLIT,
    REPLICA_LOST,
    PAIRDISPLAY,
    # the XP array
    DISKS_SWITCHED,
    RESTORE_INTERRUPTED,
    IMAGE_TAKEN,
    # volumes
    WRITE,
    WRITE_HELD,
    WRITES,
    BLOCKS_REPLACED,
    # agents
    COMPONENTS_SELECTED,
    BACKUP_TYPE_NOT_SUPPORTED,
    WAITING_FOR_THE_SET_LOCK,
    PROVIDER_FALLBACK,
    REPLICA_TRACKED_FOR_INSTANT_RECOVERY,
    FILE_COPIED,
    PARTIAL_FILE_COPIED,
    RETRY,
    WRITER_FAILURE_DECISION,
    AGENT_DIED,
    BACKUP_FAILED,
    BACKUP_RESULT,
    # restore and instant recovery
    COMPONENTS_SELECTED_FOR_RESTORE,
    STOP_SERVICE,
    START_SERVICE,
    FILE_RESTORED,
    PARTIAL_FILE_RESTORED,
    FILE_REMOVED,
    FILE_STAGED_FOR_REBOOT,
    COMPONENT_NOT_RESTORED,
    RESTORE_FAILED,
    RESTORE_RESULT,
    INSTANT_RECOVERY,
    INSTANT_RECOVERY_FAILED,
    INSTANT_RECOVERY_RESULT,
    REBOOT,
    PENDING_FILE_OPERATION_APPLIED,
    REBOOTED,
    # the world
    BUILDS_ON,
    DELETE_FILE,
    MODEL_ERROR,
    LIVELOCK,
)

#: Every action a record can carry, except a fired fault's kind name (see the module's doc).
ACTIONS: Final[frozenset[str]] = frozenset(
    {
        *_FIXED,
        *WRITER_EVENTS,
        *(event + suffix for event in WRITER_EVENTS for suffix in EVENT_SUFFIXES),
        *PAIR_COMMANDS,
    }
)
