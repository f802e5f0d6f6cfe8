"""Every invariant in report order (:data:`INVARIANTS`), and :func:`check_all` to run them."""

from __future__ import annotations

from collections.abc import Sequence

from vsssim.host.world import World
from vsssim.testing.invariants.arrays import array_settled, replicas_split_together
from vsssim.testing.invariants.backups import backup_honest
from vsssim.testing.invariants.liveness import application_thawed, quiescence
from vsssim.testing.invariants.restores import restore_honest
from vsssim.testing.invariants.safety import (
    application_consistency,
    no_write_during_hold,
    no_write_lost,
    one_set_at_a_time,
    point_in_time,
)
from vsssim.testing.invariants.violation import Invariant, Violation

#: Every invariant, in the order reports list them.
INVARIANTS: tuple[Invariant, ...] = (
    Invariant(
        "one set at a time",
        "at most one shadow copy set is created at a time, and no "
        "volume is in two sets being created",
        one_set_at_a_time,
    ),
    Invariant(
        "no write while held",
        "no write lands on a volume between the flush-and-hold and the release of its set",
        no_write_during_hold,
    ),
    Invariant(
        "point in time",
        "every shadow copy equals its volume at the commit instant, "
        "shared by all volumes of the set",
        point_in_time,
    ),
    Invariant(
        "no write lost",
        "every write issued is on its volume at the end, once, in issue order",
        no_write_lost,
    ),
    Invariant(
        "application consistency",
        "a frozen writer's application writes nothing between freeze and thaw",
        application_consistency,
    ),
    Invariant(
        "application thawed",
        "a writer's application frozen for a backup is thawed by the end of its freeze window "
        "(VSS's thaw or abort, or the writer's freeze timeout) and not frozen for it after",
        application_thawed,
    ),
    Invariant(
        "replicas split together",
        "the pairs of a set split at one instant inside its hold, each S-VOL then equal to its "
        "P-VOL",
        replicas_split_together,
    ),
    Invariant(
        "array settled",
        "at the end no pair is copying; snapshot pools add up and never exceeded capacity",
        array_settled,
    ),
    Invariant(
        "backup honest",
        "no component is reported backed up whose writer failed that backup before the copy "
        "(a veto in writer status)",
        backup_honest,
    ),
    Invariant(
        "restore honest",
        "every file a restore reports put back equals the backup; every component is reported "
        "restored, or not with a reason; a writer that failed OnPreRestore is left untouched",
        restore_honest,
    ),
    Invariant(
        "quiescence",
        "at the end nothing is locked, marked, held or frozen and every process has finished",
        quiescence,
    ),
)


def check_all(
    world: World, invariants: Sequence[Invariant] = INVARIANTS
) -> dict[str, list[Violation]]:
    """Run ``invariants`` over a finished world; maps each name to its violations."""
    return {inv.name: inv.check(world) for inv in invariants}
