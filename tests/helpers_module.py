"""Writers as users write them, importable by ``module:Class`` for fuzz campaigns and replays."""

from __future__ import annotations

from vsssim import EventContext, Writer
from vsssim.sim.kernel import ProcessGenerator


class HyperVWriter(Writer):
    """A user's writer with the Hyper-V integration daemon bug: its OnFreeze freezes the
    application and answers, with no care for a reply that comes after VSS gave up on it, so
    a late freeze is never thawed (VSS's abort came first)."""

    def on_freeze(self, ctx: EventContext) -> ProcessGenerator:
        yield from self.take_time(ctx)
        self.freeze_application(ctx)


class CarefulWriter(Writer):
    """The same writer, fixed: a freeze made after VSS gave up is undone before it answers."""

    def on_freeze(self, ctx: EventContext) -> ProcessGenerator:
        yield from self.take_time(ctx)
        self.freeze_application(ctx)
        if self.event_abandoned(ctx):
            self.thaw_application(ctx)
