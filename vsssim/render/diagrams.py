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

import attrs
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


#: The name of the box the summary draws a machine's failure states in.
FAILED_GROUP = "FAILURE_STATES"
#: How many self-loop labels a summary puts on one line of a state's note.
_PER_LINE = 4
#: A line break inside a DOT label.
_DOT_BREAK = "\\n"


@attrs.frozen
class Summary:
    """A machine as its summary draws it: the arrows between the states that are not failure
    states (self-loops left out), the failure states (grouped in one box, with one arrow into
    it per state and one out of it per target), and each state's self-loop labels (a note)."""

    states: tuple[str, ...]
    arrows: dict[tuple[str, str], list[str]]
    failed: tuple[str, ...]
    loops: dict[str, list[str]]


def summarize(graph: nx.MultiDiGraph) -> Summary:
    """The summary of ``graph``: failure states are those a ``failed`` outcome leads to."""
    failed = {state_name(t) for _, t, d in graph.edges(data=True) if d.get("outcome") == "failed"}
    arrows: dict[tuple[str, str], list[str]] = {}
    loops: dict[str, list[str]] = {}
    for (source, target), labels in edge_labels(graph).items():
        if source == target:
            loops.setdefault(source, []).extend(labels)
            continue
        if source in failed and target in failed:
            continue
        key = (
            FAILED_GROUP if source in failed else source,
            FAILED_GROUP if target in failed else target,
        )
        merged = arrows.setdefault(key, [])
        merged.extend(label for label in labels if label not in merged)
    states = tuple(state_name(n) for n in graph.nodes if state_name(n) not in failed)
    in_order = tuple(state_name(n) for n in graph.nodes if state_name(n) in failed)
    return Summary(states, arrows, in_order, {k: v for k, v in loops.items() if k not in failed})


def _lines_of(labels: list[str], separator: str) -> str:
    """``labels`` a few to a line, for a note or a node label."""
    rows = [", ".join(labels[i : i + _PER_LINE]) for i in range(0, len(labels), _PER_LINE)]
    return separator.join(rows)


def summary_mermaid(graph: nx.MultiDiGraph, initial: object) -> str:
    """The summary (:func:`summarize`) as a Mermaid state diagram: the failure states in one
    composite state, the self-loops as notes."""
    summary = summarize(graph)
    lines = ["stateDiagram-v2", f"    [*] --> {state_name(initial)}"]
    # No plain ``state X`` lines: mermaid-cli refuses one before a composite state, and the
    # arrows name every state anyway.
    if summary.failed:
        lines.append(f"    state {FAILED_GROUP} {{")
        lines += [f"        {state}" for state in summary.failed]
        lines.append("    }")
    for (source, target), labels in summary.arrows.items():
        lines.append(f"    {source} --> {target} : {_lines_of(labels, '<br/>')}")
    for state, labels in summary.loops.items():
        lines.append(f"    note right of {state}")
        lines.append("        also, staying here:")
        lines += [f"        {row}" for row in _lines_of(labels, "\n").split("\n")]
        lines.append("    end note")
    return "\n".join(lines) + "\n"


def summary_dot(graph: nx.MultiDiGraph, initial: object, name: str) -> str:
    """The summary (:func:`summarize`) as a Graphviz digraph: the failure states in a cluster,
    the self-loops in their state's label."""
    summary = summarize(graph)
    lines = [
        f'digraph "{name}" {{',
        "    rankdir=LR;",
        "    compound=true;",
        "    node [shape=box, style=rounded];",
        '    "__start" [shape=point];',
        f'    "__start" -> "{state_name(initial)}";',
    ]
    for state in summary.states:
        loops = summary.loops.get(state)
        label = state if not loops else f"{state}{_DOT_BREAK}(also: {_lines_of(loops, _DOT_BREAK)})"
        lines.append(f'    "{state}" [label="{label}"];')
    anchor = summary.failed[0] if summary.failed else ""
    if summary.failed:
        lines.append(f'    subgraph "cluster_{FAILED_GROUP}" {{')
        lines.append('        label="failure states";')
        lines += [f'        "{state}";' for state in summary.failed]
        lines.append("    }")
    for (source, target), labels in summary.arrows.items():
        ends = [f'"{anchor if e == FAILED_GROUP else e}"' for e in (source, target)]
        clip = [] if FAILED_GROUP not in (source, target) else ["style=dashed", "color=gray40"]
        if source == FAILED_GROUP:
            clip.append(f'ltail="cluster_{FAILED_GROUP}"')
        if target == FAILED_GROUP:
            clip.append(f'lhead="cluster_{FAILED_GROUP}"')
        attributes = ", ".join([f'label="{_lines_of(labels, _DOT_BREAK)}"', *clip])
        lines.append(f"    {ends[0]} -> {ends[1]} [{attributes}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


#: The machines ``vsssim graph`` draws: name -> (graph builder, initial state).
MACHINES: Mapping[str, tuple[Callable[[], nx.MultiDiGraph], object]] = {
    "writer": (writer_graph, WriterState.STABLE),
    "session": (session_graph, SessionState.CREATED),
    "shadow-copy": (shadow_copy_graph, SnapshotState.PREPARING),
    "xp-pair": (pair_graph, PairState.SMPL),
}


def render_machine(name: str, fmt: str, *, full: bool = True) -> str:
    """Draw machine ``name`` (see :data:`MACHINES`) as ``mermaid`` or ``dot``: every arrow
    (``full``), or the summary people read (:func:`summarize`)."""
    build, initial = MACHINES[name]
    graph = build()
    if full:
        return to_mermaid(graph, initial) if fmt == "mermaid" else to_dot(graph, initial, name)
    return (
        summary_mermaid(graph, initial) if fmt == "mermaid" else summary_dot(graph, initial, name)
    )
