"""What a backup reports: no component is called backed up whose writer failed the backup.

"Writer Errors and Vetoes": a writer that vetoes lets the operation go on, and only its status
says the shadow copy does not hold its data consistently. A requester that reports such a
writer's component backed up (``SetBackupSucceeded`` true) hands on a backup the writer
disowned.
"""

from __future__ import annotations

from vsssim.host.world import World
from vsssim.sim import vocabulary as V
from vsssim.testing.invariants.violation import Violation
from vsssim.vss.constants import WriterState

#: The failures before the requester's copy that disown the shadow copy's data (a failure at
#: BackupComplete or at shutdown comes after the backup was made).
DISOWNING: frozenset[str] = frozenset(
    s.vss_name
    for s in (
        WriterState.FAILED_AT_PREPARE_BACKUP,
        WriterState.FAILED_AT_PREPARE_SNAPSHOT,
        WriterState.FAILED_AT_FREEZE,
        WriterState.FAILED_AT_THAW,
        WriterState.FAILED_AT_POST_SNAPSHOT,
    )
)


def backup_honest(world: World) -> list[Violation]:
    """No SetBackupSucceeded(true) for a component whose writer, in that backup session, was
    failed at an event before the copy (as the writer's own records show it then)."""
    name = "backup honest"
    writers = {w.name for w in world.coordinator.writers}
    latest: dict[tuple[str, str], tuple[str, int]] = {}
    violations = []
    for record in world.sim.trace:
        details = record.details
        session = details.get("session")
        if record.actor in writers and session is not None and "state" in details:
            latest[(record.actor, str(session))] = (str(details["state"]), record.seq)
        elif record.action == V.SET_BACKUP_SUCCEEDED and details.get("succeeded") is True:
            writer = str(details["writer"])
            state, seq = latest.get((writer, str(session)), ("", -1))
            if state in DISOWNING:
                violations.append(
                    Violation(
                        name,
                        f"{record.actor} reported {details['component']} backed up though "
                        f"{writer} was {state}",
                        (seq, record.seq),
                        writer,
                    )
                )
    return violations
