"""Injected writer faults played out: what a writer does at an event when the fault hooks give
it a :class:`~vsssim.vss.hooks.WriterFault` (fail fatally or not, veto, hang, answer late or
slowly, write while frozen, keep a late freeze). :meth:`~vsssim.vss.writers.base.Writer.handle`
hands the event here instead of to the handler; the writer is only the
:class:`MisbehavingWriter` protocol of what the faults use, so this module sits under the
writer class.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from functools import partial
from typing import Any, Protocol

from vsssim.errors import HResult, WriterFailure
from vsssim.sim.kernel import Event, ProcessGenerator
from vsssim.vss.hooks import WriterEffect, WriterFault
from vsssim.vss.writers.handling import EventContext, WriterSession


class MisbehavingWriter(Protocol):
    """What an injected fault uses of a writer: its name, its handlers and their timing, its
    state per session and its application link."""

    @property
    def name(self) -> str: ...

    def take_time(self, ctx: EventContext) -> ProcessGenerator: ...

    def run_handler(
        self,
        ctx: EventContext,
        handler: Callable[[EventContext], ProcessGenerator] | None = None,
    ) -> Generator[Event, Any, tuple[HResult, str]]: ...

    def session_of(self, session_id: str) -> WriterSession | None: ...

    def freeze_application(self, ctx: EventContext) -> None: ...

    def event_abandoned(self, ctx: EventContext) -> bool: ...

    def application_held_by(self, holder: str) -> bool: ...


def misbehave(
    writer: MisbehavingWriter, ctx: EventContext, fault: WriterFault
) -> Generator[Event, Any, tuple[HResult, str]]:
    """Run ``ctx``'s event as ``fault`` says; the value is the (HRESULT, reason) answer."""
    sim = ctx.sim
    effect = fault.effect
    if effect is WriterEffect.FAIL:
        assert fault.hresult is not None
        return (yield from writer.run_handler(ctx, partial(_failing, writer, fault.hresult)))
    if effect is WriterEffect.VETO:
        return (yield from writer.run_handler(ctx, partial(_vetoing, writer)))
    if effect is WriterEffect.FAIL_NONFATAL:
        assert fault.hresult is not None
        answer = yield from writer.run_handler(ctx)
        session = writer.session_of(ctx.session_id)
        if answer[0] != HResult.S_OK or session is None:
            return answer
        session.reply_fatal = False  # the handler did its work, then SetWriterFailure, true
        return fault.hresult, f"injected fault at {ctx.event} (SetWriterFailure, return true)"
    if effect is WriterEffect.HANG:
        yield ctx.hooks.until_healed(sim)
    elif effect in (WriterEffect.LATE, WriterEffect.KEEP_LATE_FREEZE, WriterEffect.DELAY):
        yield sim.timeout(fault.delay_us)
    if effect is WriterEffect.KEEP_LATE_FREEZE:
        keeping = partial(_keeping_late_freeze, writer, fault)
        return (yield from writer.run_handler(ctx, keeping))
    answer = yield from writer.run_handler(ctx)
    if effect is WriterEffect.SLOW:
        yield sim.timeout(fault.delay_us)
    elif effect is WriterEffect.WRITE_WHILE_FROZEN and answer[0] == HResult.S_OK:
        sim.process(_write_while_frozen(writer, ctx, fault), f"{writer.name} misbehaves")
    return answer


def _failing(writer: MisbehavingWriter, hresult: HResult, ctx: EventContext) -> ProcessGenerator:
    yield from writer.take_time(ctx)
    raise WriterFailure(hresult, f"injected fault at {ctx.event}")


def _vetoing(writer: MisbehavingWriter, ctx: EventContext) -> ProcessGenerator:
    yield from writer.take_time(ctx)
    return False


def _write_while_frozen(
    writer: MisbehavingWriter, ctx: EventContext, fault: WriterFault
) -> ProcessGenerator:
    """Right after the freeze reply, write to a file of the writer's, if still frozen."""
    session = writer.session_of(ctx.session_id)
    if ctx.fault_target is None or session is None or not session.frozen:
        return
    volume, block = ctx.fault_target
    ctx.hooks.bug_effective(fault, volume=volume.label, block=block)
    volume.write(block, f"{writer.name} wrote while frozen".encode(), writer.name)
    yield from ()


def _keeping_late_freeze(
    writer: MisbehavingWriter, fault: WriterFault, ctx: EventContext
) -> ProcessGenerator:
    """The Hyper-V daemon bug as OnFreeze: it freezes the application and skips the undo a
    late freeze needs (see :meth:`~vsssim.vss.writers.base.Writer.on_freeze`).

    The bug takes effect when the application stays frozen for the session once the
    session's freeze window is over: at once if VSS's abort was already handled, else if
    the abort that ends the window does not thaw it. A freeze that landed while another
    session (or a restore) held the application froze nothing and has no effect.
    """
    yield from writer.take_time(ctx)
    writer.freeze_application(ctx)
    session = writer.session_of(ctx.session_id)
    if session is None or not writer.event_abandoned(ctx):
        return
    held_by, hooks = ctx.session_id, ctx.hooks

    def still_frozen() -> None:
        if writer.application_held_by(held_by):
            hooks.bug_effective(fault)

    if writer.application_held_by(held_by):
        session.when_freeze_window_over(still_frozen)
