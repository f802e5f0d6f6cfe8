"""State diagrams drawn from the transition tables the code runs on, so they cannot drift.

Each machine is a networkx graph (``vsssim.vss.states``); these functions only print it, as a
Mermaid ``stateDiagram-v2`` or as Graphviz DOT. Parallel edges between the same two states are
merged into one arrow whose label lists every event.

Unlike the renderers of a run (which read the trace and the vocabulary only), this module
imports the model's tables, the writer and session machines of ``vsssim.vss.states`` and the XP
pair table: drawing them is its job.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping

import networkx as nx

from vsssim.vss.constants import SnapshotState, WriterState
from vsssim.vss.providers.xp.pairs import PairState, pair_graph
from vsssim.vss.states import SessionState, session_graph, shadow_copy_graph, writer_graph


def state_name(state: object) -> str:
    """A state as the diagrams spell it: a writer state by its VSS name, others by name."""
    if isinstance(state, WriterState):
        return state.vss_name
    if isinstance(state, enum.Enum):
        return state.name
    return str(state)


def edge_labels(graph: nx.MultiDiGraph) -> dict[tuple[str, str], list[str]]:
    """Each arrow (source, target state names) and its labels: the events, ``... fails`` for a
    failure, each once, in the graph's edge order."""
    labels: dict[tuple[str, str], list[str]] = {}
    for source, target, data in graph.edges(data=True):
        label = str(data["event"])
        if data.get("outcome") == "failed":
            label += " fails"
        key = (state_name(source), state_name(target))
        if label not in labels.setdefault(key, []):
            labels[key].append(label)
    return labels


def to_mermaid(graph: nx.MultiDiGraph, initial: object) -> str:
    """The machine as a Mermaid state diagram."""
    lines = ["stateDiagram-v2", f"    [*] --> {state_name(initial)}"]
    for node in graph.nodes:
        lines.append(f"    state {state_name(node)}")
    for (source, target), labels in edge_labels(graph).items():
        lines.append(f"    {source} --> {target} : {', '.join(labels)}")
    return "\n".join(lines) + "\n"


def to_dot(graph: nx.MultiDiGraph, initial: object, name: str) -> str:
    """The machine as a Graphviz digraph."""
    lines = [
        f'digraph "{name}" {{',
        "    rankdir=LR;",
        "    node [shape=box, style=rounded];",
        '    "__start" [shape=point];',
        f'    "__start" -> "{state_name(initial)}";',
    ]
    for node in graph.nodes:
        lines.append(f'    "{state_name(node)}";')
    for (source, target), labels in edge_labels(graph).items():
        lines.append(f'    "{source}" -> "{target}" [label="{", ".join(labels)}"];')
    lines.append("}")
    return "\n".join(lines) + "\n"


#: The machines ``vsssim graph`` draws: name -> (graph builder, initial state).
MACHINES: Mapping[str, tuple[Callable[[], nx.MultiDiGraph], object]] = {
    "writer": (writer_graph, WriterState.STABLE),
    "session": (session_graph, SessionState.CREATED),
    "shadow-copy": (shadow_copy_graph, SnapshotState.PREPARING),
    "xp-pair": (pair_graph, PairState.SMPL),
}


def render_machine(name: str, fmt: str) -> str:
    """Draw machine ``name`` (see :data:`MACHINES`) as ``mermaid`` or ``dot``."""
    build, initial = MACHINES[name]
    graph = build()
    return to_mermaid(graph, initial) if fmt == "mermaid" else to_dot(graph, initial, name)
