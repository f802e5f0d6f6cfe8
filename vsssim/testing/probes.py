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


@attrs.frozen
class Probe:
    """A named path and how to count it in a finished world."""

    name: str
    description: str
    count: Callable[[World], int]


def _records(world: World, predicate: Callable[[TraceRecord], bool]) -> int:
    return sum(1 for record in world.sim.trace if predicate(record))


def _writer_ended_in(state: WriterState) -> Callable[[World], int]:
    def count(world: World) -> int:
        names = {w.name for w in world.coordinator.writers}
        return _records(
            world,
            lambda r: (
                r.actor in names
                and r.details.get("state") == state.vss_name
                and (
                    r.action.endswith((V.DONE_SUFFIX, V.NOT_RESPONDING_SUFFIX))
                    or r.action == V.FREEZE_TIMEOUT
                )
            ),
        )

    return count


def _aborts(world: World, *, after_freeze: bool) -> int:
    """VSS aborts of a set, split by whether some writer had frozen for that set."""
    frozen_sets: set[str] = set()
    current: str | None = None
    found = 0
    names = {w.name for w in world.coordinator.writers}
    for record in world.sim.trace:
        if record.actor == V.VSS and record.action == V.DO_SNAPSHOT_SET:
            current = str(record.details["set_id"])
        elif record.actor in names and record.action == V.ON_FREEZE_DONE and current:
            if record.details.get("result") == HResult.S_OK.name:
                frozen_sets.add(current)
        elif record.actor == V.VSS and record.action == V.ABORT and record.details.get("set_id"):
            found += (str(record.details["set_id"]) in frozen_sets) == after_freeze
    return found


def _abort_with(hresult: HResult) -> Callable[[World], int]:
    return lambda world: _records(
        world,
        lambda r: (
            r.actor == V.VSS and r.action == V.ABORT and r.details.get("result") == hresult.name
        ),
    )


def _action(action: str, **details: object) -> Callable[[World], int]:
    return lambda world: _records(
        world,
        lambda r: r.action == action and all(r.details.get(k) == v for k, v in details.items()),
    )


def _suffix(suffix: str) -> Callable[[World], int]:
    return lambda world: _records(world, lambda r: r.action.endswith(suffix))


def _outcome(outcome: str) -> Callable[[World], int]:
    return lambda world: sum(1 for r in world.results if r.outcome.value == outcome)


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
        lambda w: _aborts(w, after_freeze=False),
    ),
    Probe(
        "abort after freeze",
        "VSS aborted a set some writer had frozen for (frozen writers thawed by OnAbort)",
        lambda w: _aborts(w, after_freeze=True),
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
        lambda w: _records(
            w,
            lambda r: (
                r.action == V.RETRY
                and str(r.details.get("reason", "")).startswith("going on without")
            ),
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
)


def probe_counts(world: World) -> dict[str, int]:
    """How often each probe's path was taken in a finished world (probes never hit: 0)."""
    return {probe.name: probe.count(world) for probe in PROBES}
