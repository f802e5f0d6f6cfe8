"""What must be over by the end: an application frozen for a session is thawed in its window,
and the world comes to rest (quiescence)."""

from __future__ import annotations

from collections.abc import Sequence

from vsssim.host.world import World
from vsssim.sim import vocabulary as V
from vsssim.sim.trace import TraceRecord
from vsssim.testing.invariants.violation import Violation
from vsssim.vss.constants import WriterState
from vsssim.vss.states import FAILED_STATES
from vsssim.vss.writers.base import ApplicationHold

#: Writer records that end a session's freeze window: the writer handled VSS's thaw or abort,
#: or its own freeze timeout (``CVssWriter`` calls OnAbort then).
_WINDOW_ENDS = (V.ON_ABORT_DONE, V.ON_ABORT_LATE_REPLY_IGNORED, V.FREEZE_TIMEOUT_HANDLED)


def _ends_window(record: TraceRecord) -> bool:
    if record.action == V.ON_THAW_DONE:  # a thaw handled, or vetoed (VSS goes on)
        return record.details.get("result") == "S_OK" or bool(record.details.get("vetoed"))
    return record.action in _WINDOW_ENDS


def application_thawed(world: World) -> list[Violation]:
    """A writer's application frozen for a backup session is thawed by the end of that
    session's freeze window, and is not left frozen for it afterwards.

    The window runs from the writer's receipt of Freeze until it has handled VSS's thaw or
    abort for the session, or its freeze timeout (counted from its receipt of Freeze) has passed and
    its OnAbort ran. A freeze made after the window (a late OnFreeze: VSS gave up and aborted
    already) must be undone at the instant it is made, before the writer answers. Read from
    each writer's holds of its application
    (:attr:`~vsssim.vss.writers.base.Writer.application_holds`)
    placed among the writer's trace records.
    """
    name = "application thawed"
    writers = {w.name for w in world.coordinator.writers if w.application_holds}
    by_writer: dict[str, dict[str, list[TraceRecord]]] = {}
    for record in world.sim.trace:
        if record.actor not in writers:
            continue
        session = record.details.get("session")
        if session is not None:
            by_writer.setdefault(record.actor, {}).setdefault(str(session), []).append(record)
    violations = []
    for writer in world.coordinator.writers:
        sessions = by_writer.get(writer.name, {})
        for hold in writer.application_holds:
            if hold.kind != "freeze":
                continue
            problem = _hold_problem(
                world, writer.freeze_timeout_us, hold, sessions.get(hold.holder, [])
            )
            if problem is not None:
                message, records = problem
                violations.append(
                    Violation(
                        name,
                        f"{writer.name}'s application {message} (session {hold.holder})",
                        records,
                        writer.name,
                    )
                )
    return violations


def _hold_problem(
    world: World, timeout_us: int, hold: ApplicationHold, records: Sequence[TraceRecord]
) -> tuple[str, tuple[int, ...]] | None:
    """What is wrong with one hold of an application for a session (None if nothing)."""
    thawed = hold.thawed_at
    end = next((r for r in records if _ends_window(r)), None)
    if end is not None and hold.frozen_at <= end.seq:
        if thawed is None or thawed > end.seq:
            return f"was still frozen when the writer finished {end.action}", (end.seq,)
        return None
    if end is not None:
        answer = next((r for r in records if r.seq >= hold.frozen_at), None)
        answered = answer is not None and (thawed is None or answer.seq < thawed)
        if thawed is None or hold.thawed_us != hold.frozen_us or answered:
            shown = (end.seq,) + ((answer.seq,) if answer is not None else ())
            return "was frozen after its freeze window ended and left frozen", shown
        return None
    reply = next((r for r in records if r.action == V.ON_FREEZE), None)
    if reply is None:
        return None  # no freeze received and no thaw or abort yet: the window is open
    deadline = reply.time_us + timeout_us
    last = hold.thawed_us if hold.thawed_us is not None else world.sim.now
    if last > deadline:
        return f"was still frozen {timeout_us / 1_000_000:g} s after the freeze", (reply.seq,)
    return None


def quiescence(world: World) -> list[Violation]:
    """At the end nothing is locked, marked, held or frozen, writers are stable or failed, and
    every process has finished (no deadlock, no leak)."""
    name = "quiescence"
    violations = []
    coordinator = world.coordinator
    if coordinator.creating is not None:
        violations.append(
            Violation(name, f"set {coordinator.creating.set_id} still holds the set lock")
        )
    for volume in world.namespace.volumes:
        if volume.marked_by is not None:
            violations.append(Violation(name, f"volume {volume.label} still marked by a set"))
        if volume.held or volume.pending_writes:
            violations.append(
                Violation(name, f"volume {volume.label} still holds {volume.pending_writes} writes")
            )
    for writer in coordinator.writers:
        if writer.application_frozen:
            violations.append(
                Violation(name, f"{writer.name} left its application frozen", (), writer.name)
            )
        for session in writer.sessions:
            if session.state != WriterState.STABLE and session.state not in FAILED_STATES:
                violations.append(
                    Violation(
                        name,
                        f"{writer.name} ended session {session.session_id} in "
                        f"{session.state.vss_name}",
                    )
                )
            if session.thaw_signal is not None:
                violations.append(
                    Violation(
                        name, f"{writer.name}'s freeze timer still runs in {session.session_id}"
                    )
                )
    for process in world.sim.live_processes:
        violations.append(Violation(name, f"process {process.name!r} never finished"))
    for ticker in world.sim.live_tickers:
        violations.append(Violation(name, f"{ticker.name!r} never stopped writing"))
    return violations
