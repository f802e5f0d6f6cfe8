"""Writers with planted crashes, for the tests that a campaign survives its runs.

They are loaded by module path (``--writer tests.planted_crashes:RaisingWriter``), as a user's
writer is. Which runs crash is drawn from the run's own choices, so it is the same in every
process and on every replay.
"""

from __future__ import annotations

import os
from collections.abc import Generator
from typing import Any

from vsssim import EventContext, Writer
from vsssim.sim.kernel import Event


class PlantedError(Exception):
    """An exception that cannot be unpickled (its constructor needs two arguments)."""

    def __init__(self, what: str, where: int) -> None:
        super().__init__(f"planted crash in {what} at {where}")


def _unlucky(ctx: EventContext, percent: int) -> bool:
    return ctx.sim.choices.chance("test/planted crash", percent)


class RaisingWriter(Writer):
    """OnFreeze raises an ordinary exception in some runs (one OnFreeze in ten)."""

    def on_freeze(self, ctx: EventContext) -> Generator[Event, Any, Any]:
        yield from super().on_freeze(ctx)
        if _unlucky(ctx, 10):
            raise PlantedError("OnFreeze", ctx.sim.now)


class PlantedEscape(BaseException):
    """Not an Exception, so no containment of writers' or the model's errors stops it: it
    leaves the run as only a bug in the simulator itself would (a crash of the run)."""

    def __init__(self, what: str, where: int) -> None:
        super().__init__(f"planted escape in {what} at {where}")


class EscapingWriter(Writer):
    """OnFreeze raises a BaseException in some runs (one OnFreeze in ten)."""

    def on_freeze(self, ctx: EventContext) -> Generator[Event, Any, Any]:
        yield from super().on_freeze(ctx)
        if _unlucky(ctx, 10):
            raise PlantedEscape("OnFreeze", ctx.sim.now)


class ExitingWriter(Writer):
    """OnFreeze kills its whole process (``os._exit``) in a few runs."""

    def on_freeze(self, ctx: EventContext) -> Generator[Event, Any, Any]:
        yield from super().on_freeze(ctx)
        if _unlucky(ctx, 4):
            os._exit(3)


RAISING = "tests.planted_crashes:RaisingWriter"
ESCAPING = "tests.planted_crashes:EscapingWriter"
EXITING = "tests.planted_crashes:ExitingWriter"


class SpinningWriter(Writer):
    """OnPrepareBackup loops for ever without yielding to the simulation."""

    def on_prepare_backup(self, ctx: EventContext) -> Generator[Event, Any, Any]:
        while True:
            pass
        yield from super().on_prepare_backup(ctx)


SPINNING = "tests.planted_crashes:SpinningWriter"
