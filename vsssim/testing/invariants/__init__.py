"""Invariant checkers: the seed's safety rules and the model's promises, checked after a run.

Each checker reads the trace and the final world and returns :class:`Violation` objects that
say what broke and name the trace records involved (their ``seq``). None of them trusts the
component it checks: the point-in-time check rebuilds volume contents from the write history,
the write-gate check reads the trace, not the gate.

``check_all(world)`` runs every checker in :data:`INVARIANTS`; each test suite that builds a
broken variant (a coordinator that skips the hold, a writer that keeps writing while frozen...)
shows the matching checker can fail. The checkers live by what they watch: :mod:`.safety`,
:mod:`.liveness`, :mod:`.arrays`, :mod:`.backups` and :mod:`.restores`; :mod:`.registry` lists them.
"""

from vsssim.testing.invariants.arrays import array_settled, replicas_split_together
from vsssim.testing.invariants.backups import backup_honest
from vsssim.testing.invariants.liveness import application_thawed, quiescence
from vsssim.testing.invariants.registry import INVARIANTS, check_all
from vsssim.testing.invariants.restores import restore_honest
from vsssim.testing.invariants.safety import (
    application_consistency,
    no_write_during_hold,
    no_write_lost,
    one_set_at_a_time,
    point_in_time,
)
from vsssim.testing.invariants.violation import Checker, Invariant, Violation

__all__ = [
    "INVARIANTS",
    "Checker",
    "Invariant",
    "Violation",
    "application_consistency",
    "application_thawed",
    "array_settled",
    "backup_honest",
    "check_all",
    "no_write_during_hold",
    "no_write_lost",
    "one_set_at_a_time",
    "point_in_time",
    "quiescence",
    "replicas_split_together",
    "restore_honest",
]
