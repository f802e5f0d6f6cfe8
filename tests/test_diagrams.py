"""The state diagrams are drawn from the tables the code runs on and parse as their formats."""

from __future__ import annotations

import re

import pydot
import pytest

from vsssim.cli.main import main
from vsssim.render.diagrams import (
    FAILED_GROUP,
    MACHINES,
    edge_labels,
    render_machine,
    state_name,
    summarize,
)


@pytest.mark.parametrize("machine", sorted(MACHINES))
def test_dot_parses_and_holds_every_state_and_transition(machine: str) -> None:
    build, initial = MACHINES[machine]
    graph = build()
    [dot] = pydot.graph_from_dot_data(render_machine(machine, "dot"))
    nodes = {n.get_name().strip('"') for n in dot.get_nodes()} - {"node"}
    assert {state_name(s) for s in graph.nodes} <= nodes
    edges = {
        (e.get_source().strip('"'), e.get_destination().strip('"')): (e.get_label() or "").strip(
            '"'
        )
        for e in dot.get_edges()
    }
    assert ("__start", state_name(initial)) in edges
    for source, target, data in graph.edges(data=True):
        label = edges[(state_name(source), state_name(target))]
        assert str(data["event"]) in label.split(", ") or f"{data['event']} fails" in label


@pytest.mark.parametrize("machine", sorted(MACHINES))
def test_mermaid_is_a_state_diagram_with_every_transition(machine: str) -> None:
    build, initial = MACHINES[machine]
    graph = build()
    text = render_machine(machine, "mermaid")
    lines = text.splitlines()
    assert lines[0] == "stateDiagram-v2"
    assert lines[1] == f"    [*] --> {state_name(initial)}"
    arrow = re.compile(r"^    (\w+) --> (\w+) : (.+)$")
    drawn = {}
    for line in lines[2:]:
        if line.startswith("    state "):
            assert re.fullmatch(r"    state \w+", line)
            continue
        match = arrow.match(line)
        assert match, line
        drawn[(match[1], match[2])] = match[3].split(", ")
    assert drawn == edge_labels(graph)
    for state in graph.nodes:
        assert f"    state {state_name(state)}" in lines


def test_graph_command(capsys: pytest.CaptureFixture[str]) -> None:
    """``vsssim graph`` draws the summary; ``--full`` every arrow of the table."""
    assert main(["graph", "writer"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("stateDiagram-v2")
    assert "VSS_WS_WAITING_FOR_FREEZE --> VSS_WS_WAITING_FOR_THAW : OnFreeze" in out
    assert f"VSS_WS_WAITING_FOR_FREEZE --> {FAILED_GROUP} : OnFreeze fails" in out
    assert out == render_machine("writer", "mermaid", full=False)
    assert main(["graph", "writer", "--full"]) == 0
    full = capsys.readouterr().out
    assert "VSS_WS_WAITING_FOR_FREEZE --> VSS_WS_FAILED_AT_FREEZE : OnFreeze fails" in full
    assert main(["graph", "session", "--format", "dot"]) == 0
    assert capsys.readouterr().out.startswith('digraph "session"')


@pytest.mark.parametrize("machine", sorted(MACHINES))
def test_the_summary_keeps_every_transition_once_with_the_failure_states_grouped(
    machine: str,
) -> None:
    """The summary a person reads: every transition of the table is in it, once, as an arrow
    between the states that are not failure states, an arrow into or out of the group of
    failure states (the states a failed event leads to), or a note of the state it stays in."""
    graph = MACHINES[machine][0]()
    summary = summarize(graph)
    failed = set(summary.failed)
    assert failed == {
        state_name(t) for _, t, d in graph.edges(data=True) if d.get("outcome") == "failed"
    }
    assert set(summary.states) | failed == {state_name(n) for n in graph.nodes}
    for (source, target), labels in edge_labels(graph).items():
        if source == target:
            assert set(labels) <= set(summary.loops.get(source, labels)), (source, labels)
            continue
        if source in failed and target in failed:
            continue
        key = tuple(FAILED_GROUP if e in failed else e for e in (source, target))
        assert set(labels) <= set(summary.arrows[key]), (key, labels)  # type: ignore[index]
    assert all(FAILED_GROUP not in key or failed for key in summary.arrows)
    assert not any(source == target for source, target in summary.arrows)
    [dot] = pydot.graph_from_dot_data(render_machine(machine, "dot", full=False))
    assert dot.get_name().strip('"') == machine
    mermaid = render_machine(machine, "mermaid", full=False).splitlines()
    arrows = [line for line in mermaid if " --> " in line and "[*]" not in line]
    assert len(arrows) == len(summary.arrows)


def test_the_writer_summary_is_small_enough_to_read() -> None:
    """The writer machine (15 states, dozens of arrows) reads as its happy path: five states,
    the ten failure states in one group, at most 15 arrows."""
    summary = summarize(MACHINES["writer"][0]())
    assert len(summary.states) == 5 and len(summary.failed) == 10
    assert len(summary.arrows) <= 15
    happy = [
        ("VSS_WS_STABLE", "VSS_WS_WAITING_FOR_FREEZE"),
        ("VSS_WS_WAITING_FOR_FREEZE", "VSS_WS_WAITING_FOR_THAW"),
        ("VSS_WS_WAITING_FOR_THAW", "VSS_WS_WAITING_FOR_POST_SNAPSHOT"),
        ("VSS_WS_WAITING_FOR_POST_SNAPSHOT", "VSS_WS_WAITING_FOR_BACKUP_COMPLETE"),
        ("VSS_WS_WAITING_FOR_BACKUP_COMPLETE", "VSS_WS_STABLE"),
    ]
    assert all(step in summary.arrows for step in happy)
