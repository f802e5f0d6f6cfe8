"""Coverage probes: named rare paths of the protocol, counted in a finished run.

A fuzz campaign that never reached a path has not tested it; the campaign summary lists the
probes that were never hit so the gap is visible. Each probe counts trace records (the trace is
the one source of truth about what happened), so probes need no hooks in the model.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs

from vsssim.errors import HResult
from vsssim.host.world import World
from vsssim.sim import vocabulary as V
from vsssim.sim.trace import TraceRecord
from vsssim.vss.constants import WriterState
from vsssim.vss.states import FAILED_STATES


class TraceIndex:
    """A finished world's trace records grouped by action, in trace order: built in one pass,
    so that the probes together read the trace once instead of once each."""

    def __init__(self, world: World) -> None:
        self.world = world
        by_action: dict[str, list[TraceRecord]] = {}
        get = by_action.get
        for record in world.sim.trace.records:
            found = get(record.action)
            if found is None:
                by_action[record.action] = [record]
            else:
                found.append(record)
        self.by_action = by_action
        self.writers = frozenset(w.name for w in world.coordinator.writers)

    def of(self, *actions: str) -> list[TraceRecord]:
        """The records of these actions, in trace order."""
        if len(actions) == 1:
            return self.by_action.get(actions[0], [])
        found = [r for action in actions for r in self.by_action.get(action, ())]
        return sorted(found, key=_SEQ)

    def ending_with(self, *suffixes: str) -> list[TraceRecord]:
        """The records whose action ends with one of ``suffixes`` (grouped by action)."""
        return [
            r
            for action, records in self.by_action.items()
            if action.endswith(suffixes)
            for r in records
        ]


def _seq(record: TraceRecord) -> int:
    return record.seq


_SEQ = _seq


@attrs.frozen
class Probe:
    """A named path and how to count it in a finished world (from its :class:`TraceIndex`)."""

    name: str
    description: str
    count_in: Callable[[TraceIndex], int]

    def count(self, world: World) -> int:
        """How often the path was taken in ``world``."""
        return self.count_in(TraceIndex(world))


def _records(records: list[TraceRecord], predicate: Callable[[TraceRecord], bool]) -> int:
    return sum(1 for record in records if predicate(record))


def _writer_ended_in(state: WriterState) -> Callable[[TraceIndex], int]:
    def count(index: TraceIndex) -> int:
        names = index.writers
        ended = index.ending_with(V.DONE_SUFFIX, V.NOT_RESPONDING_SUFFIX)
        if not V.FREEZE_TIMEOUT.endswith((V.DONE_SUFFIX, V.NOT_RESPONDING_SUFFIX)):
            ended = ended + index.of(V.FREEZE_TIMEOUT)
        return _records(
            ended, lambda r: r.actor in names and r.details.get("state") == state.vss_name
        )

    return count


def _aborts(index: TraceIndex, *, after_freeze: bool) -> int:
    """VSS aborts of a set, split by whether some writer had frozen for that set."""
    frozen_sets: set[str] = set()
    current: str | None = None
    found = 0
    names = index.writers
    for record in index.of(V.DO_SNAPSHOT_SET, V.ON_FREEZE_DONE, V.ABORT):
        if record.actor == V.VSS and record.action == V.DO_SNAPSHOT_SET:
            current = str(record.details["set_id"])
        elif record.actor in names and record.action == V.ON_FREEZE_DONE and current:
            if record.details.get("result") == HResult.S_OK.name:
                frozen_sets.add(current)
        elif record.actor == V.VSS and record.action == V.ABORT and record.details.get("set_id"):
            found += (str(record.details["set_id"]) in frozen_sets) == after_freeze
    return found


def _abort_with(hresult: HResult) -> Callable[[TraceIndex], int]:
    return lambda index: _records(
        index.of(V.ABORT),
        lambda r: r.actor == V.VSS and r.details.get("result") == hresult.name,
    )


def _action(action: str, **details: object) -> Callable[[TraceIndex], int]:
    return lambda index: _records(
        index.of(action), lambda r: all(r.details.get(k) == v for k, v in details.items())
    )


def _suffix(suffix: str) -> Callable[[TraceIndex], int]:
    return lambda index: len(index.ending_with(suffix))


def _outcome(outcome: str) -> Callable[[TraceIndex], int]:
    return lambda index: sum(1 for r in index.world.results if r.outcome.value == outcome)


#: Every probe, in the order summaries list them.
PROBES: tuple[Probe, ...] = (
    *(
        Probe(
            f"writer {state.vss_name}",
            f"a writer ended an event in {state.vss_name}",
            _writer_ended_in(state),
        )
        for state in sorted(FAILED_STATES)
    ),
    Probe(
        "abort before freeze",
        "VSS aborted a set before any writer froze",
        lambda index: _aborts(index, after_freeze=False),
    ),
    Probe(
        "abort after freeze",
        "VSS aborted a set some writer had frozen for (frozen writers thawed by OnAbort)",
        lambda index: _aborts(index, after_freeze=True),
    ),
    Probe("AbortBackup", "a requester called AbortBackup", _action(V.ABORT_BACKUP)),
    Probe(
        "hold timeout",
        "writes were held 10 s without a commit",
        _abort_with(HResult.VSS_E_HOLD_WRITES_TIMEOUT),
    ),
    Probe(
        "flush timeout",
        "the flush outlasted its limit",
        _abort_with(HResult.VSS_E_FLUSH_WRITES_TIMEOUT),
    ),
    Probe(
        "provider veto",
        "a provider vetoed the set",
        _abort_with(HResult.VSS_E_PROVIDER_VETO),
    ),
    Probe(
        "writes held", "a write waited at a volume's gate during a commit", _action(V.WRITE_HELD)
    ),
    Probe("not responding", "VSS gave up waiting for a writer", _suffix(V.NOT_RESPONDING_SUFFIX)),
    Probe(
        "late reply",
        "a writer answered after VSS gave up on it",
        _suffix(V.LATE_REPLY_IGNORED_SUFFIX),
    ),
    Probe("freeze window timeout", "a writer's freeze window ran out", _action(V.FREEZE_TIMEOUT)),
    Probe(
        "set lock contention",
        "an agent waited for the set lock",
        _action(V.WAITING_FOR_THE_SET_LOCK),
    ),
    Probe("retry", "an agent tried a failed backup again", _action(V.RETRY)),
    Probe(
        "going on without a writer",
        "an agent left a failed writer's components out and went on",
        lambda index: _records(
            index.of(V.RETRY),
            lambda r: str(r.details.get("reason", "")).startswith("going on without"),
        ),
    ),
    Probe("agent died", "an agent's process ended mid-protocol", _action(V.AGENT_DIED)),
    Probe(
        "rundown while creating",
        "a requester died while its DoSnapshotSet ran",
        _action(V.REQUESTER_GONE, state="creating snapshot set"),
    ),
    Probe("rundown", "COM ran down a dead requester's session", _action(V.RUNDOWN)),
    Probe("partial backup", "a backup succeeded without some components", _outcome("partial")),
    Probe("backup succeeded", "a backup copied every component", _outcome("succeeded")),
    Probe("backup failed", "a backup failed after its retries", _outcome("failed")),
    Probe("restore", "a backup was restored (whole or in part)", _action(V.RESTORE_RESULT)),
    Probe(
        "component not restored",
        "a restore left a component out, or reported it not (cleanly) put back",
        _action(V.COMPONENT_NOT_RESTORED),
    ),
    Probe("file restored", "a restore put a file back", _action(V.FILE_RESTORED)),
    Probe(
        "differenced files",
        "a writer marked files differenced by last-modify time in an incremental or differential",
        _action(V.ADD_DIFFERENCED_FILES),
    ),
)


def probe_counts(world: World) -> dict[str, int]:
    """How often each probe's path was taken in a finished world (probes never hit: 0)."""
    index = TraceIndex(world)
    return {probe.name: probe.count_in(index) for probe in PROBES}
