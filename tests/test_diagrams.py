"""The state diagrams are drawn from the tables the code runs on and parse as their formats."""

from __future__ import annotations

import re

import pydot
import pytest

from vsssim.cli.main import main
from vsssim.render.diagrams import MACHINES, edge_labels, render_machine, state_name


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
    assert main(["graph", "writer"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("stateDiagram-v2")
    assert "VSS_WS_WAITING_FOR_FREEZE --> VSS_WS_WAITING_FOR_THAW : OnFreeze" in out
    assert "VSS_WS_WAITING_FOR_FREEZE --> VSS_WS_FAILED_AT_FREEZE : OnFreeze fails" in out
    assert main(["graph", "session", "--format", "dot"]) == 0
    assert capsys.readouterr().out.startswith('digraph "session"')
