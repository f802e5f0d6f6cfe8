"""What a writer's handling of an event works with: the event's context
(:class:`EventContext`, what a handler knows) and the writer's state in one backup session
(:class:`WriterSession`), and the check a handler's generator runs under
(:func:`checked_handler`). Kept under :mod:`vsssim.vss.writers.base` so that the code acting out
injected faults (:mod:`vsssim.vss.writers.misbehaviour`) needs nothing of the writer class.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

import attrs

from vsssim.errors import HResult
from vsssim.sim.kernel import Event, ProcessGenerator, Simulation
from vsssim.vss.backup_types import WriterComponents
from vsssim.vss.constants import BackupType, WriterState
from vsssim.vss.hooks import NO_FAULTS, FaultHooks, WriterFault
from vsssim.vss.metadata import Component
from vsssim.vss.volumes import Volume


@attrs.frozen
class EventContext:
    """What a handler knows about the event it handles.

    ``writer_components`` is the writer's handle on its selected components in the session's
    Backup Components Document (stamps, partial files); None in a restore and in OnIdentify.
    ``fault`` is how the fault hooks (``hooks``) have the writer misbehave at this event, acted
    out by :meth:`~vsssim.vss.writers.base.Writer.handle`; ``fault_target`` the block a writer
    that writes while frozen spoils (the first of its files).
    """

    sim: Simulation
    event: str
    phase: int | None
    session_id: str
    requester: str
    backup_type: BackupType
    components: tuple[Component, ...]
    snapshot_set_id: str | None = None
    volumes: tuple[str, ...] = ()
    fault: WriterFault | None = None
    hooks: FaultHooks = NO_FAULTS
    fault_target: tuple[Volume, int] | None = None
    writer_components: WriterComponents | None = None
    #: Asks whether VSS has given up on this event (set by
    #: :meth:`~vsssim.vss.writers.base.Writer.handle`).
    abandoned: Callable[[], bool] | None = attrs.field(default=None, eq=False, repr=False)

    def abandoned_when(self, abandoned: Callable[[], bool]) -> EventContext:
        """This context with ``abandoned`` set: what ``attrs.evolve(self, abandoned=...)``
        makes, made directly (every writer event makes one, and evolve's general path cost
        more than the rest of the event's handling; a test holds the two equal)."""
        return EventContext(
            sim=self.sim,
            event=self.event,
            phase=self.phase,
            session_id=self.session_id,
            requester=self.requester,
            backup_type=self.backup_type,
            components=self.components,
            snapshot_set_id=self.snapshot_set_id,
            volumes=self.volumes,
            fault=self.fault,
            hooks=self.hooks,
            fault_target=self.fault_target,
            writer_components=self.writer_components,
            abandoned=abandoned,
        )

    @property
    def given_up(self) -> bool:
        """True once VSS stopped waiting for this event's reply (the writer did not answer in
        time): whatever the handler does from then on is a late reply VSS ignores, so a freeze
        it makes now is the handler's to undo."""
        return self.abandoned is not None and self.abandoned()


@attrs.define(eq=False)
class WriterSession:
    """A writer's state in one backup session, as ``GatherWriterStatus`` of that session sees it.

    Since Windows Server 2008 a writer keeps its state per session, so two requesters' backups
    can involve the same writer one after the other without mixing up their states.
    """

    session_id: str
    state: WriterState = WriterState.STABLE
    failure: HResult = HResult.S_OK
    failure_reason: str = ""
    generation: int = 0
    handling: str | None = None
    thaw_signal: Event | None = attrs.field(default=None, repr=False)
    #: True once the writer has handled VSS's thaw or abort (or its own freeze timeout) in this
    #: session: its application must not be frozen for the session from then on.
    freeze_window_over: bool = False
    #: What the running handler set with ``SetWriterFailure`` (None if nothing).
    pending_failure: tuple[HResult, str] | None = None
    #: Whether the running handler's failure was fatal (set by ``run_handler``).
    reply_fatal: bool = False
    #: True when the session's last failure was fatal (the handler returned false, raised, or
    #: the freeze window passed): VSS aborts; False for a veto (SetWriterFailure, return true).
    fatal: bool = False
    _window_watchers: list[Callable[[], None]] = attrs.field(factory=list, repr=False)

    @property
    def frozen(self) -> bool:
        """True between a successful OnFreeze reply and the start of OnThaw or OnAbort."""
        return self.state == WriterState.WAITING_FOR_THAW and self.handling is None

    def fail(self, hresult: HResult, reason: str) -> None:
        """Record the session's failure."""
        self.failure, self.failure_reason = hresult, reason

    def end_freeze_window(self) -> None:
        """Stop the freeze timer, if one runs."""
        signal, self.thaw_signal = self.thaw_signal, None
        if signal is not None and not signal.triggered:
            signal.succeed()

    def close_freeze_window(self) -> None:
        """The writer finished handling a thaw or abort: the session's freeze window is over."""
        self.freeze_window_over = True
        watchers, self._window_watchers = self._window_watchers, []
        for watcher in watchers:
            watcher()

    def when_freeze_window_over(self, watcher: Callable[[], None]) -> None:
        """Call ``watcher`` once the freeze window is over (now, if it is already)."""
        if self.freeze_window_over:
            watcher()
        else:
            self._window_watchers.append(watcher)


class _HandlerBug(Exception):
    """A writer's handler broke the simulation's rules (yielded what it may not)."""


def checked_handler(handler: Generator[object, Any, Any], ctx: EventContext) -> ProcessGenerator:
    """Run a handler's generator, refusing what it may not yield: anything but an event of
    this simulation. Failures of the events it waits on are thrown into it, as the kernel
    does; an exception it lets out fails the writer
    (:meth:`~vsssim.vss.writers.base.Writer.run_handler`)."""
    sim = ctx.sim
    send: Any = None
    throw: BaseException | None = None
    while True:
        try:
            target = handler.send(send) if throw is None else handler.throw(throw)
        except StopIteration as stop:
            return stop.value
        if not isinstance(target, Event) or target.sim is not sim:
            handler.close()
            raise _HandlerBug(
                f"yielded {short_repr(target)}, not an event of this simulation "
                "(yield ctx.sim.timeout(...), or yield from a process)"
            )
        try:
            send, throw = (yield target), None
        except GeneratorExit:
            handler.close()
            raise
        except Exception as exc:
            send, throw = None, exc


def short_repr(value: object) -> str:
    """A value as a message shows it: its repr, cut to a line."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
