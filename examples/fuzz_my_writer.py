"""Fuzz your own writer against the VSS protocol; hypothesis finds a planted bug and shrinks it.

``ForgetfulWriter`` below is a writer as you might write it, with a bug planted on purpose: its
``on_abort`` undoes its work but forgets to let its application write again. As long as every
backup succeeds nothing shows; once a backup is aborted after the freeze, the application stays
frozen for good, and the *quiescence* invariant catches it.

The state machine of :mod:`vsssim.testing.stateful` runs backups (with faults) on writers of the
class
under test and checks every invariant after each step; hypothesis then shrinks the failing
sequence of steps to a minimal one. The run is derandomized: same output every time.

Run: python examples/fuzz_my_writer.py   (needs hypothesis: pip install 'vsssim[test]')
Exit status: 0 when the bug is found and printed, 1 when it is not.
"""

from __future__ import annotations

import sys
from collections.abc import Generator
from typing import Any

from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import run_state_machine_as_test

from vsssim import EventContext, Writer
from vsssim.sim.kernel import Event
from vsssim.testing.stateful import WriterProtocolMachine


class ForgetfulWriter(Writer):
    """A writer with a planted bug: an aborted backup leaves its application frozen."""

    def on_abort(self, ctx: EventContext) -> Generator[Event, Any, Any]:
        # Roll back what the prepare and freeze did... and forget self.thaw_application(ctx).
        yield from self.take_time(ctx)


class ForgetfulWriterMachine(WriterProtocolMachine):
    """The protocol state machine, with ``ForgetfulWriter`` writers."""

    writer_class = ForgetfulWriter


#: Fixed and derandomized, so the search and its output are the same on every run.
SETTINGS = settings(
    derandomize=True,
    database=None,
    max_examples=100,
    stateful_step_count=5,
    deadline=None,
    phases=(Phase.generate, Phase.shrink),
    suppress_health_check=[HealthCheck.too_slow],
)


def main() -> int:
    """Fuzz the writer; print the shrunk failing steps and the broken invariant."""
    try:
        run_state_machine_as_test(ForgetfulWriterMachine, settings=SETTINGS)
    except AssertionError as failure:
        print("hypothesis found the planted bug. The minimal failing case it shrank to:\n")
        for note in getattr(failure, "__notes__", []):
            print(note)
        print(f"\n{failure}")
        return 0
    print("the planted bug was NOT found: the fuzzing or the invariants missed it")
    return 1


if __name__ == "__main__":
    sys.exit(main())
