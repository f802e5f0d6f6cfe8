"""The state machines are data; the import-time checks can fail; the runs follow the tables."""

from __future__ import annotations

import networkx as nx
import pytest

from vsssim.vss.constants import WriterState
from vsssim.vss.states import (
    FAILED_AT,
    SESSION_TRANSITIONS,
    SessionState,
    check_machine,
    session_graph,
    writer_graph,
    writer_next_state,
)


def test_every_writer_state_but_unknown_is_in_the_machine() -> None:
    graph = writer_graph()
    assert set(graph.nodes) == set(WriterState) - {WriterState.UNKNOWN}
    events = {data["event"] for _, _, data in graph.edges(data=True)}
    assert set(FAILED_AT) <= events


def test_failures_go_to_their_failed_at_state() -> None:
    assert writer_next_state(WriterState.WAITING_FOR_FREEZE, "OnFreeze", False) == (
        WriterState.FAILED_AT_FREEZE
    )
    assert writer_next_state(WriterState.WAITING_FOR_FREEZE, "OnFreeze", True) == (
        WriterState.WAITING_FOR_THAW
    )
    assert writer_next_state(WriterState.STABLE, "OnThaw", True) is None
    # A failure stays until the next backup begins.
    assert writer_next_state(WriterState.FAILED_AT_THAW, "OnIdentify", True) == (
        WriterState.FAILED_AT_THAW
    )
    assert writer_next_state(WriterState.FAILED_AT_THAW, "OnPrepareBackup", True) == (
        WriterState.STABLE
    )


def test_the_check_catches_unreachable_and_trap_states() -> None:
    graph = nx.MultiDiGraph()
    graph.add_edge("a", "b")
    graph.add_node("island")
    with pytest.raises(AssertionError, match=r"unreachable.*island"):
        check_machine("broken", graph, "a", {"b"})
    trap = nx.MultiDiGraph()
    trap.add_edge("a", "b")
    trap.add_edge("a", "stuck")
    trap.add_edge("b", "a")
    with pytest.raises(AssertionError, match=r"trap states.*stuck"):
        check_machine("broken", trap, "a", {"b"})


def test_the_session_machine_has_the_order_vss_enforces_and_ends_released() -> None:
    """IVssBackupComponents::StartSnapshotSet ("must be called before PrepareForBackup") and
    "Shadow Copy Creation Details" (AddComponent before StartSnapshotSet): the table has no
    way to PrepareForBackup before the set is started, nor to AddComponent after it."""
    graph = session_graph()
    assert nx.has_path(graph, SessionState.SET_STARTED, SessionState.PREPARED)
    assert not nx.has_path(graph, SessionState.PREPARED, SessionState.SET_STARTED)
    prepares = [s for (s, call) in SESSION_TRANSITIONS if call == "prepare_for_backup"]
    assert prepares == [SessionState.SET_STARTED]
    adds = [s for (s, call) in SESSION_TRANSITIONS if call == "add_component"]
    assert adds == [SessionState.METADATA_GATHERED]
    assert (SessionState.CREATING, "release") not in SESSION_TRANSITIONS
    # Nothing leads back to CREATED: a session object is used for one backup.
    assert all(
        target != SessionState.CREATED or state == SessionState.CREATED
        for (state, _), target in SESSION_TRANSITIONS.items()
    )
