"""State machines declared as data: writer states, the backup session and shadow copies.

The code runs on these tables and the diagrams are drawn from them. At import, networkx checks
each machine: one initial state, every state reachable from it, and no trap state (every state
can reach the final one(s)).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping

import networkx as nx

from vsssim.errors import StateTableError
from vsssim.sim import vocabulary as V
from vsssim.vss.constants import SnapshotState, WriterState

# -- writers ---------------------------------------------------------------------------------

#: Writer events, in the order a backup sends them, then the restore events.
BACKUP_EVENTS: tuple[str, ...] = (
    V.ON_IDENTIFY,
    V.ON_PREPARE_BACKUP,
    V.ON_PREPARE_SNAPSHOT,
    V.ON_FREEZE,
    V.ON_THAW,
    V.ON_POST_SNAPSHOT,
    V.ON_BACKUP_COMPLETE,
    V.ON_BACKUP_SHUTDOWN,
)
RESTORE_EVENTS: tuple[str, ...] = (V.ON_PRE_RESTORE, V.ON_POST_RESTORE)
WRITER_EVENTS: tuple[str, ...] = (*BACKUP_EVENTS, V.ON_ABORT, *RESTORE_EVENTS)

#: The failure state of each event a writer can fail (OnAbort cannot fail).
FAILED_AT: Mapping[str, WriterState] = {
    V.ON_IDENTIFY: WriterState.FAILED_AT_IDENTIFY,
    V.ON_PREPARE_BACKUP: WriterState.FAILED_AT_PREPARE_BACKUP,
    V.ON_PREPARE_SNAPSHOT: WriterState.FAILED_AT_PREPARE_SNAPSHOT,
    V.ON_FREEZE: WriterState.FAILED_AT_FREEZE,
    V.ON_THAW: WriterState.FAILED_AT_THAW,
    V.ON_POST_SNAPSHOT: WriterState.FAILED_AT_POST_SNAPSHOT,
    V.ON_BACKUP_COMPLETE: WriterState.FAILED_AT_BACKUP_COMPLETE,
    V.ON_BACKUP_SHUTDOWN: WriterState.FAILED_AT_BACKUPSHUTDOWN,
    V.ON_PRE_RESTORE: WriterState.FAILED_AT_PRE_RESTORE,
    V.ON_POST_RESTORE: WriterState.FAILED_AT_POST_RESTORE,
}

FAILED_STATES: frozenset[WriterState] = frozenset(FAILED_AT.values())
#: States a backup passes through between PrepareSnapshot and BackupComplete.
IN_BACKUP_STATES: tuple[WriterState, ...] = (
    WriterState.WAITING_FOR_FREEZE,
    WriterState.WAITING_FOR_THAW,
    WriterState.WAITING_FOR_POST_SNAPSHOT,
    WriterState.WAITING_FOR_BACKUP_COMPLETE,
)

_S = WriterState


def _writer_table() -> dict[tuple[WriterState, str], WriterState]:
    """(state, event) -> state after the event succeeded; failures go to ``FAILED_AT[event]``."""
    table: dict[tuple[WriterState, str], WriterState] = {}
    # A failure stays visible until the next backup starts (OnPrepareBackup resets it) or the
    # next restore starts; identify and shutdown leave the state as it is.
    for state in (_S.STABLE, *sorted(FAILED_STATES)):
        table[(state, V.ON_IDENTIFY)] = state
        table[(state, V.ON_PREPARE_BACKUP)] = _S.STABLE
        table[(state, V.ON_PRE_RESTORE)] = _S.STABLE
        table[(state, V.ON_BACKUP_SHUTDOWN)] = state
        table[(state, V.ON_ABORT)] = state
    table[(_S.STABLE, V.ON_PREPARE_SNAPSHOT)] = _S.WAITING_FOR_FREEZE
    table[(_S.WAITING_FOR_FREEZE, V.ON_FREEZE)] = _S.WAITING_FOR_THAW
    table[(_S.WAITING_FOR_THAW, V.ON_THAW)] = _S.WAITING_FOR_POST_SNAPSHOT
    table[(_S.WAITING_FOR_POST_SNAPSHOT, V.ON_POST_SNAPSHOT)] = _S.WAITING_FOR_BACKUP_COMPLETE
    table[(_S.WAITING_FOR_BACKUP_COMPLETE, V.ON_BACKUP_COMPLETE)] = _S.STABLE
    for state in IN_BACKUP_STATES:
        table[(state, V.ON_ABORT)] = _S.STABLE
        table[(state, V.ON_IDENTIFY)] = state
        # A requester released (or lost) without BackupComplete: the writer ends the session.
        table[(state, V.ON_BACKUP_SHUTDOWN)] = _S.STABLE
    # A frozen writer that times out fails at freeze and then may still get OnThaw/OnAbort.
    table[(_S.FAILED_AT_FREEZE, V.ON_THAW)] = _S.FAILED_AT_FREEZE
    table[(_S.STABLE, V.ON_POST_RESTORE)] = _S.STABLE
    return table


#: The writer state machine: (state, event) -> state on success.
WRITER_TRANSITIONS: Mapping[tuple[WriterState, str], WriterState] = _writer_table()


def writer_next_state(state: WriterState, event: str, ok: bool) -> WriterState | None:
    """The state after ``event`` in ``state``; None if the event is not expected there."""
    target = WRITER_TRANSITIONS.get((state, event))
    if target is None:
        return None
    if ok or event == V.ON_ABORT:
        return target
    return FAILED_AT[event]


def writer_graph() -> nx.MultiDiGraph:
    """The writer machine as a graph; edges carry ``event`` and ``outcome`` (ok / failed)."""
    graph = nx.MultiDiGraph()
    for state in WriterState:
        if state is not WriterState.UNKNOWN:
            graph.add_node(state)
    for (state, event), target in WRITER_TRANSITIONS.items():
        graph.add_edge(state, target, event=event, outcome="ok")
        if event in FAILED_AT and FAILED_AT[event] != target:
            graph.add_edge(state, FAILED_AT[event], event=event, outcome="failed")
    return graph


# -- the backup session (IVssBackupComponents) -----------------------------------------------


class SessionState(enum.Enum):
    """Where a backup components object is in its call sequence (a backup or a restore)."""

    CREATED = "created"
    INITIALIZED = "initialized"
    METADATA_GATHERED = "metadata gathered"
    SET_STARTED = "snapshot set started"
    PREPARED = "snapshot set started, prepared for backup"
    CREATING = "creating snapshot set"
    SNAPSHOTS_CREATED = "snapshots created"
    COMPLETED = "backup complete"
    ABORTED = "aborted"
    RESTORE_INITIALIZED = "initialized for restore"
    RESTORE_METADATA_GATHERED = "restore metadata gathered"
    PRE_RESTORED = "pre-restore done"
    POST_RESTORED = "restore complete"
    RELEASED = "released"


_SS = SessionState
_BEFORE_CREATION = (
    _SS.METADATA_GATHERED,
    _SS.SET_STARTED,
    _SS.PREPARED,
)


_AFTER_CREATION = (_SS.SNAPSHOTS_CREATED, _SS.COMPLETED, _SS.ABORTED)


#: Session states with no backup underway, where AbortBackup is ignored.
ABORT_IGNORED_IN: tuple[SessionState, ...] = (
    _SS.INITIALIZED,
    _SS.METADATA_GATHERED,
    _SS.COMPLETED,
)


#: The calls that manage shadow copies that exist, whichever object made them.
MANAGEMENT_CALLS: tuple[str, ...] = (
    "query",
    "get_snapshot_properties",
    "delete_snapshots",
    "expose_snapshot",
    "unexpose_snapshot",
    "break_snapshot_set",
    "revert_to_snapshot",
)


def _session_table() -> dict[tuple[SessionState, str], SessionState]:
    """The order VSS enforces (the IVssBackupComponents pages, "Shadow Copy Creation Details"):
    InitializeForBackup; SetContext and SetBackupState; GatherWriterMetadata; AddComponent
    before StartSnapshotSet; AddToSnapshotSet; PrepareForBackup after StartSnapshotSet; then
    DoSnapshotSet. The table is the union over contexts: what depends on the context (a
    writerless context skips the metadata and PrepareForBackup, a writer context needs them;
    SetContext once; SetBackupState before PrepareForBackup) the calls check themselves."""
    table: dict[tuple[SessionState, str], SessionState] = {
        (_SS.CREATED, "initialize_for_backup"): _SS.INITIALIZED,
        (_SS.INITIALIZED, "gather_writer_metadata"): _SS.METADATA_GATHERED,
        (_SS.METADATA_GATHERED, "start_snapshot_set"): _SS.SET_STARTED,
        # A writerless context needs no writer metadata (the call refuses a writer context).
        (_SS.INITIALIZED, "start_snapshot_set"): _SS.SET_STARTED,
        (_SS.SET_STARTED, "prepare_for_backup"): _SS.PREPARED,
        (_SS.PREPARED, "do_snapshot_set"): _SS.CREATING,
        # A writerless context has no PrepareForBackup (the call refuses a writer context).
        (_SS.SET_STARTED, "do_snapshot_set"): _SS.CREATING,
        (_SS.CREATING, "snapshot set created"): _SS.SNAPSHOTS_CREATED,
        (_SS.CREATING, "snapshot set failed"): _SS.ABORTED,
        (_SS.SNAPSHOTS_CREATED, "backup_complete"): _SS.COMPLETED,
    }
    for state in (_SS.INITIALIZED, _SS.METADATA_GATHERED):
        table[(state, "set_context")] = state
    for state in (_SS.INITIALIZED, _SS.METADATA_GATHERED, _SS.SET_STARTED):
        table[(state, "set_backup_state")] = state
    for state in (_SS.INITIALIZED, *_BEFORE_CREATION):
        table[(state, "is_volume_supported")] = state
    table[(_SS.METADATA_GATHERED, "add_component")] = _SS.METADATA_GATHERED
    # The stamp an incremental builds on: after AddComponent, read by the writers in
    # OnPrepareBackup.
    for state in (_SS.METADATA_GATHERED, _SS.SET_STARTED):
        table[(state, "set_previous_backup_stamp")] = state
    for state in (_SS.SET_STARTED, _SS.PREPARED):
        table[(state, "add_to_snapshot_set")] = state
    for state in (*_BEFORE_CREATION, _SS.SNAPSHOTS_CREATED, _SS.COMPLETED, _SS.ABORTED):
        table[(state, "gather_writer_status")] = state
    _add_management_calls(table)
    # ImportSnapshots: on an object InitializeForBackup gave a transportable set's document
    # (the call checks it), before anything else of a backup.
    table[(_SS.INITIALIZED, "import_snapshots")] = _SS.INITIALIZED
    table[(_SS.SNAPSHOTS_CREATED, "set_backup_succeeded")] = _SS.SNAPSHOTS_CREATED
    # SaveAsXML: the Backup Components Document, once the set exists.
    for state in (_SS.SNAPSHOTS_CREATED, _SS.COMPLETED):
        table[(state, "save_as_xml")] = state
    _add_restore_calls(table)
    # AbortBackup once a backup is underway (StartSnapshotSet called, or the copies made and
    # BackupComplete not yet): OnAbort to the writers. With nothing underway it is ignored
    # (the AbortBackup page): a self-loop that changes nothing.
    # After a failed DoSnapshotSet (ABORTED) the requester aborts as Microsoft asks, and the
    # writers hear OnAbort again.
    for state in (
        _SS.SET_STARTED,
        _SS.PREPARED,
        _SS.SNAPSHOTS_CREATED,
        _SS.ABORTED,
    ):
        table[(state, "abort_backup")] = _SS.ABORTED
    for state in ABORT_IGNORED_IN:
        table[(state, "abort_backup")] = state
    for state in _SS:
        if state is not _SS.RELEASED and state is not _SS.CREATING:
            table[(state, "release")] = _SS.RELEASED
    return table


def _add_management_calls(table: dict[tuple[SessionState, str], SessionState]) -> None:
    """The management calls, from any object initialized for backup (the Query page: after
    InitializeForBackup, never in a restore), also one that makes no shadow copies itself."""
    for state in (_SS.INITIALIZED, *_BEFORE_CREATION, *_AFTER_CREATION):
        for call in MANAGEMENT_CALLS:
            table[(state, call)] = state


def _add_restore_calls(table: dict[tuple[SessionState, str], SessionState]) -> None:
    """A restore: the stored document, the live writers, the components chosen, PreRestore,
    the requester copies files back and reports each component, PostRestore."""
    table[(_SS.CREATED, "initialize_for_restore")] = _SS.RESTORE_INITIALIZED
    table[(_SS.RESTORE_INITIALIZED, "gather_writer_metadata")] = _SS.RESTORE_METADATA_GATHERED
    table[(_SS.RESTORE_METADATA_GATHERED, "set_selected_for_restore")] = (
        _SS.RESTORE_METADATA_GATHERED
    )
    table[(_SS.RESTORE_METADATA_GATHERED, "pre_restore")] = _SS.PRE_RESTORED
    table[(_SS.PRE_RESTORED, "set_file_restore_status")] = _SS.PRE_RESTORED
    table[(_SS.PRE_RESTORED, "post_restore")] = _SS.POST_RESTORED
    for state in (_SS.RESTORE_METADATA_GATHERED, _SS.PRE_RESTORED, _SS.POST_RESTORED):
        table[(state, "gather_writer_status")] = state


#: The session machine: (state, call) -> state after the call.
SESSION_TRANSITIONS: Mapping[tuple[SessionState, str], SessionState] = _session_table()


def session_graph() -> nx.MultiDiGraph:
    """The session machine as a graph; edges carry the ``call``."""
    graph = nx.MultiDiGraph()
    graph.add_nodes_from(SessionState)
    for (state, call), target in SESSION_TRANSITIONS.items():
        graph.add_edge(state, target, event=call)
    return graph


# -- shadow copies ---------------------------------------------------------------------------

_C = SnapshotState
#: States a shadow copy is in while its set is being created: an abort can come in any, also
#: once the provider made it (a writer failing OnThaw fails the whole set).
_IN_CREATION = (_C.PREPARING, _C.PREPARED, _C.PRECOMMITTED, _C.COMMITTED, _C.CREATED)


def _shadow_copy_table() -> dict[tuple[SnapshotState, str], SnapshotState]:
    """(state, step) -> state after it. A step is the provider call (``VSS_SS_*`` moves as
    the provider answers) or VSS's own step: ``DoSnapshotSet complete`` marks the set's
    copies created, ``abort`` marks them aborted after the providers' AbortSnapshots."""
    table: dict[tuple[SnapshotState, str], SnapshotState] = {
        (_C.PREPARING, V.BEGIN_PREPARE_SNAPSHOT): _C.PREPARED,
        (_C.PREPARED, V.PRE_COMMIT_SNAPSHOTS): _C.PRECOMMITTED,
        (_C.PRECOMMITTED, V.COMMIT_SNAPSHOTS): _C.COMMITTED,
        (_C.COMMITTED, V.POST_COMMIT_SNAPSHOTS): _C.CREATED,
        (_C.COMMITTED, V.DO_SNAPSHOT_SET_COMPLETE): _C.CREATED,
        (_C.CREATED, V.DO_SNAPSHOT_SET_COMPLETE): _C.CREATED,
        (_C.CREATED, V.DELETE_SNAPSHOTS): _C.DELETED,
    }
    for state in _IN_CREATION:
        table[(state, V.ABORT_SNAPSHOTS)] = _C.ABORTED
    for state in (*_IN_CREATION, _C.ABORTED):
        table[(state, V.ABORT)] = _C.ABORTED
    table[(_C.ABORTED, V.ABORT_SNAPSHOTS)] = _C.ABORTED
    return table


#: The shadow copy machine: (state, step) -> state after the step.
SHADOW_COPY_TRANSITIONS: Mapping[tuple[SnapshotState, str], SnapshotState] = _shadow_copy_table()

#: A shadow copy set's own state: in creation until DoSnapshotSet completes or VSS aborts it.
SNAPSHOT_SET_TRANSITIONS: Mapping[tuple[SnapshotState, str], SnapshotState] = {
    (_C.PREPARING, V.DO_SNAPSHOT_SET_COMPLETE): _C.CREATED,
    (_C.PREPARING, V.ABORT): _C.ABORTED,
}


def shadow_copy_next_state(name: str, state: SnapshotState, step: str) -> SnapshotState:
    """The shadow copy's state after ``step``, or :class:`StateTableError`."""
    target = SHADOW_COPY_TRANSITIONS.get((state, step))
    if target is None:
        raise StateTableError("shadow copy", name, state.vss_name, step)
    return target


def snapshot_set_next_state(name: str, state: SnapshotState, step: str) -> SnapshotState:
    """The shadow copy set's state after ``step``, or :class:`StateTableError`."""
    target = SNAPSHOT_SET_TRANSITIONS.get((state, step))
    if target is None:
        raise StateTableError("shadow copy set", name, state.vss_name, step)
    return target


def shadow_copy_graph() -> nx.MultiDiGraph:
    """The shadow copy machine as a graph; edges carry the ``event`` (the step)."""
    graph = nx.MultiDiGraph()
    graph.add_nodes_from(sorted({s for s, _ in SHADOW_COPY_TRANSITIONS}))
    for (state, step), target in SHADOW_COPY_TRANSITIONS.items():
        graph.add_edge(state, target, event=step)
    return graph


def check_machine(
    name: str, graph: nx.MultiDiGraph, initial: object, finals: Iterable[object]
) -> None:
    """Raise if a state is unreachable from ``initial`` or cannot reach one of ``finals``."""
    finals = set(finals)
    unreachable = set(graph.nodes) - nx.descendants(graph, initial) - {initial}
    if unreachable:
        raise AssertionError(
            f"{name}: states unreachable from {initial}: {sorted(map(str, unreachable))}"
        )
    trapped = [
        node
        for node in graph.nodes
        if node not in finals and not (nx.descendants(graph, node) & finals)
    ]
    if trapped:
        raise AssertionError(f"{name}: trap states (cannot finish): {sorted(map(str, trapped))}")


check_machine("writer states", writer_graph(), WriterState.STABLE, {WriterState.STABLE})
check_machine("backup session", session_graph(), SessionState.CREATED, {SessionState.RELEASED})
check_machine("shadow copy", shadow_copy_graph(), SnapshotState.PREPARING, {_C.DELETED, _C.ABORTED})
