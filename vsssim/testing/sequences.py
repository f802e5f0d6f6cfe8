"""Assertions for tests of backup software run against vsssim: does a trace show a sequence?

A harness rarely cares about every record; it cares that, say, ``OnFreeze`` reached the SQL
writer, then the writes were held, then ``OnThaw`` came, in that order. :func:`assert_sequence`
checks exactly that (other records may come between the steps) and, when the trace does not
show it, says which step is missing, after which record, and where the missing action does
appear, so the failure explains itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import attrs

from vsssim.sim.trace import Json, Trace, TraceRecord

__all__ = ["Step", "assert_sequence", "find_sequence"]


@attrs.frozen
class Step:
    """What one record must show: its action, and if given its actor and some of its details."""

    action: str
    actor: str | None = None
    details: Mapping[str, Json] = attrs.field(factory=dict)

    def matches(self, record: TraceRecord) -> bool:
        """True if ``record`` is this step."""
        return (
            record.action == self.action
            and (self.actor is None or record.actor == self.actor)
            and all(record.details.get(k) == v for k, v in self.details.items())
        )

    def __str__(self) -> str:
        who = f" by {self.actor}" if self.actor is not None else ""
        what = f" with {dict(self.details)}" if self.details else ""
        return f"{self.action!r}{who}{what}"


def _step(step: str | Step) -> Step:
    return step if isinstance(step, Step) else Step(step)


def find_sequence(trace: Trace | Iterable[TraceRecord], *steps: str | Step) -> list[TraceRecord]:
    """The first records that show ``steps`` in order (a string step names an action).

    Returns as many records as steps were found in order: all of them if the trace shows the
    whole sequence.
    """
    wanted = [_step(s) for s in steps]
    found: list[TraceRecord] = []
    for record in trace:
        if len(found) == len(wanted):
            break
        if wanted[len(found)].matches(record):
            found.append(record)
    return found


def assert_sequence(trace: Trace | Iterable[TraceRecord], *steps: str | Step) -> list[TraceRecord]:
    """Assert the trace shows ``steps`` in this order, other records allowed between them.

    Returns the matching records (to check their times, say). Raises ``AssertionError`` naming
    the first missing step, the record after which it was looked for, and where records of
    that action do appear.
    """
    records = list(trace)
    wanted = [_step(s) for s in steps]
    found = find_sequence(records, *wanted)
    if len(found) == len(wanted):
        return found
    missing = wanted[len(found)]
    after = f" after seq {found[-1].seq} ({found[-1].actor}: {found[-1].action})" if found else ""
    elsewhere = [r for r in records if missing.matches(r)]
    same_action = [r for r in records if r.action == missing.action]
    if elsewhere:
        hint = f"it appears only earlier, at seq {', '.join(str(r.seq) for r in elsewhere[:5])}"
    elif same_action:
        shown = "; ".join(f"seq {r.seq} by {r.actor} {dict(r.details)}" for r in same_action[:3])
        hint = f"records with that action do not match: {shown}"
    else:
        hint = "no record has that action"
    raise AssertionError(
        f"the trace ({len(records)} records) shows {len(found)} of {len(wanted)} steps; "
        f"step {len(found) + 1}, {missing}, is missing{after}: {hint}"
    )
