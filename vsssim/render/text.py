"""A run told as a story: the seed's seven phases as headings, each protocol step a line.

Workload writes are not listed one by one (a busy server makes thousands); the holds and
releases that concern them are, and the summary counts them.
"""

from __future__ import annotations

from collections.abc import Mapping

from vsssim.trace import Json, Trace, TraceRecord

#: The seed's phases, in its own terms.
PHASE_TITLES: Mapping[int, str] = {
    1: "The agent tells the Volume Shadow Copy Service (backup coordinator) that a backup is "
    "about to start",
    2: "The coordinator identifies the writers and passes their Writer Metadata Documents back",
    3: "The agent examines the writer metadata and finds the volumes of the selected data; "
    "VSS informs the writers about the selected components",
    4: "The agent prepares the shadow copy set (the list of volumes) and passes it to the "
    "coordinator",
    5: "The writers are notified of the shadow copy creation; no writes reach the volumes "
    "while it is made",
    6: "The writers are prepared; the shadow copy is created while writes are held",
    7: "VSS returns the shadow copy information to the agent",
}
AFTER_TITLE = "After phase 7: the agent copies the data, reports completion and cleans up"

_QUIET_ACTIONS = frozenset({"write", "write held"})


def _value(value: Json) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_value(v)}" for k, v in value.items()) + "}"
    return str(value)


def describe(record: TraceRecord, *, width: int = 160) -> str:
    """One line for a record: time, actor, action and its details."""
    details = "  ".join(f"{k}={_value(v)}" for k, v in record.details.items())
    line = f"  {record.time_s:>12} s  {record.actor:<30} {record.action}"
    if details:
        line += f"  {details}"
    return line if len(line) <= width else line[: width - 3] + "..."


def render_text(trace: Trace, *, quiet_actions: frozenset[str] = _QUIET_ACTIONS) -> str:
    """Narrate ``trace`` under ``Phase 1`` ... ``Phase 7`` headings."""
    lines: list[str] = []
    current: object = object()
    started = False
    for record in trace:
        if record.action in quiet_actions:
            continue
        phase = record.phase
        if phase is None and not started:
            continue
        if phase is not None:
            started = True
        heading_key = phase if phase is not None else "after"
        if phase is None and current != "after" and isinstance(current, int) and current < 7:
            heading_key = current
        if heading_key != current:
            current = heading_key
            if lines:
                lines.append("")
            if isinstance(heading_key, int):
                lines.append(f"Phase {heading_key}: {PHASE_TITLES[heading_key]}")
            else:
                lines.append(AFTER_TITLE)
        lines.append(describe(record))
    return "\n".join(lines) + "\n"
