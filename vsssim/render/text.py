"""A run told as a story: the seed's seven phases as headings, each protocol step a line.

Workload writes are not listed one by one (a busy server makes thousands); the holds and
releases that concern them are, and the summary counts them.
"""

from __future__ import annotations

from collections.abc import Mapping

from vsssim.sim import vocabulary as V
from vsssim.sim.trace import Json, Trace, TraceRecord

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

_QUIET_ACTIONS = frozenset({V.WRITE, V.WRITE_HELD, V.WRITES})


def _value(value: Json) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_value(v)}" for k, v in value.items()) + "}"
    return str(value)


#: The longest line :func:`describe` writes unless told otherwise (``None``: no limit).
WIDTH = 160


def describe(record: TraceRecord, *, width: int | None = WIDTH) -> str:
    """One line for a record: time, actor, action and its details (cut at ``width``)."""
    details = "  ".join(f"{k}={_value(v)}" for k, v in record.details.items())
    line = f"  {record.time_s:>12} s  {record.actor:<30} {record.action}"
    if details:
        line += f"  {details}"
    return line if width is None or len(line) <= width else line[: width - 3] + "..."


def section_of(phase: int | None, running: object) -> object:
    """The block of the narration a record belongs to, given the block ``running`` (None at
    the start): its phase; without one, the phase running (up to 7), else ``"after"`` (after
    phase 7), or ``"before"`` when no phase has started yet. Every renderer groups this way."""
    if phase is not None:
        return phase
    if running is None or running == "before":
        return "before"
    if isinstance(running, int) and running < 7:
        return running
    return "after"


def render_text(
    trace: Trace, *, quiet_actions: frozenset[str] = _QUIET_ACTIONS, width: int | None = WIDTH
) -> str:
    """Narrate ``trace`` under ``Phase 1`` ... ``Phase 7`` headings (records before the first
    phase, such as the setup, are left out); each line cut at ``width`` (None: never)."""
    lines: list[str] = []
    current: object = None
    for record in trace:
        if record.action in quiet_actions:
            continue
        section = section_of(record.phase, current)
        if section == "before":
            continue
        if section != current:
            current = section
            if lines:
                lines.append("")
            if isinstance(section, int):
                lines.append(f"Phase {section}: {PHASE_TITLES[section]}")
            else:
                lines.append(AFTER_TITLE)
        lines.append(describe(record, width=width))
    return "\n".join(lines) + "\n"
