"""The writer base class: VSS_WS_* state keeping around overridable event handlers.

Like ``CVssWriter``, the base class keeps the writer's state and failure; a concrete writer only
overrides the handlers (``on_freeze``...). Handlers are generators run as simulated processes:
they ``yield`` events (``ctx.sim.timeout(...)``) to take time. A writer fails an event in one
of the two ways "Writer Errors and Vetoes" and the CVssWriter::On* pages document: a *veto*
(:meth:`Writer.set_writer_failure`, then return true or None): the operation goes on and
GatherWriterStatus shows ``VSS_WS_FAILED_AT_<event>``; or a *fatal* failure (raising
:class:`WriterFailure`, or returning ``False``, after ``set_writer_failure`` or without a code):
at Freeze and Thaw VSS then aborts the set. A handler may also
be a plain function (an instant reply). A handler that crashes (raises anything else, yields
what is not an event, returns what is not a bool) fails its writer with :data:`CRASH_FAILURE`
and a reason naming the bug; the backup goes on as VSS's does.

A writer may be linked to its *application* (the workload that writes its files). The default
``on_freeze`` stops the application's writes and ``on_thaw``/``on_abort`` let them go on, which is
what makes the shadow copy application-consistent. The application's state is the writer's own
business: the model never thaws it for the writer. A freeze a handler makes after VSS gave up on
the event (:attr:`EventContext.given_up`) is the writer's to undo, as the default ``on_freeze``
does; a writer that gets no Thaw within its freeze timeout (``dwTimeoutFreeze``, 60 s by default,
from its receipt of Freeze to its receipt of Thaw) fails with ``VSS_E_WRITERERROR_TIMEOUT``
and, as ``CVssWriter`` does, has its ``on_abort`` called then.

The event's context and the writer's state per session are :mod:`vsssim.vss.writers.handling`;
an injected fault is played out by :mod:`vsssim.vss.writers.misbehaviour`.
"""

from __future__ import annotations

import inspect
import uuid
from collections.abc import Callable, Generator, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from vsssim.errors import WRITER_ERRORS, HResult, WriterFailure
from vsssim.sim import vocabulary as V
from vsssim.sim.kernel import MILLISECOND, SECOND, Event, ProcessGenerator
from vsssim.sim.keyed import KeyedDict
from vsssim.vss.constants import WriterState
from vsssim.vss.metadata import WriterMetadata
from vsssim.vss.states import FAILED_AT, WRITER_TRANSITIONS, writer_next_state
from vsssim.vss.writers.backup_history import BackupPoint, report_backup
from vsssim.vss.writers.handling import EventContext, WriterSession, checked_handler, short_repr
from vsssim.vss.writers.misbehaviour import misbehave

if TYPE_CHECKING:
    from vsssim.sim.kernel import Simulation

#: The failure a handler that returns ``False`` without ``SetWriterFailure`` leaves (*assumption*:
#: VSS documents the veto, not the code it then reports).
VETO_FAILURE = HResult.VSS_E_WRITERERROR_NONRETRYABLE

#: The failure of a writer whose handler crashed: raised an exception other than
#: WriterFailure, yielded something that is not an event, or returned something that is not a
#: bool. *Assumption*: a C++ writer's exception escaping its handler is caught by the writer
#: framework (CVssWriter), which fails the event; Microsoft documents no code for it, and a
#: crashed handler will crash again on a retry, so the writer reports it non-retryable.
CRASH_FAILURE = HResult.VSS_E_WRITERERROR_NONRETRYABLE
#: The trace action of a handler that crashed (the fuzzer reports each as a writer bug).
HANDLER_CRASHED = V.HANDLER_CRASHED

#: How long each event takes a writer by default: (shortest, longest) in microseconds.
DEFAULT_TIMINGS: Mapping[str, tuple[int, int]] = {
    "OnIdentify": (2 * MILLISECOND, 10 * MILLISECOND),
    "OnPrepareBackup": (5 * MILLISECOND, 30 * MILLISECOND),
    "OnPrepareSnapshot": (20 * MILLISECOND, 200 * MILLISECOND),
    "OnFreeze": (10 * MILLISECOND, 100 * MILLISECOND),
    "OnThaw": (5 * MILLISECOND, 30 * MILLISECOND),
    "OnPostSnapshot": (5 * MILLISECOND, 20 * MILLISECOND),
    "OnBackupComplete": (10 * MILLISECOND, 80 * MILLISECOND),
    "OnBackupShutdown": (1 * MILLISECOND, 5 * MILLISECOND),
    "OnAbort": (5 * MILLISECOND, 30 * MILLISECOND),
    "OnPreRestore": (10 * MILLISECOND, 50 * MILLISECOND),
    "OnPostRestore": (10 * MILLISECOND, 50 * MILLISECOND),
}

#: The freeze-to-thaw window a writer allows by default (``dwTimeoutFreeze``: 60 s).
DEFAULT_FREEZE_TIMEOUT_US = 60 * SECOND


@attrs.define(eq=False)
class ApplicationHold:
    """One time a writer's application was held (frozen for a backup session, or stopped).

    ``frozen_at``/``thawed_at`` are trace positions (the number of records then), so a checker
    can place the hold among the trace records; ``thawed_at`` is None while it is held.
    """

    holder: str
    kind: str
    frozen_at: int
    frozen_us: int
    thawed_at: int | None = None
    thawed_us: int | None = None


@attrs.define(eq=False)
class Writer:
    """A VSS writer. Subclass it and override ``on_*`` handlers to change what it does."""

    metadata: WriterMetadata
    timings: Mapping[str, tuple[int, int]] = attrs.field(factory=lambda: dict(DEFAULT_TIMINGS))
    freeze_timeout_us: int = DEFAULT_FREEZE_TIMEOUT_US
    _frozen_by: str | None = attrs.field(default=None, init=False, repr=False)
    _identity: tuple[str, uuid.UUID, uuid.UUID] | None = attrs.field(
        default=None, init=False, repr=False
    )
    sim: Simulation | None = attrs.field(default=None, init=False, repr=False)
    #: Per session (keyed: two sessions' steps touch different entries, and commute).
    _sessions: KeyedDict[str, WriterSession] = attrs.field(
        factory=KeyedDict, init=False, repr=False
    )
    #: The session begun last: the one :attr:`state` and :attr:`failure` report.
    _latest: str | None = attrs.field(default=None, init=False, repr=False)
    _app_resumed: Event | None = attrs.field(default=None, init=False, repr=False)
    #: The backups this writer stamped, by stamp: its backup history (a database keeps it in
    #: its own catalogue, as SQL Server does in msdb).
    backup_history: dict[str, BackupPoint] = attrs.field(factory=dict, init=False, repr=False)
    #: Every hold of the application, oldest first (what the application lived through).
    application_holds: list[ApplicationHold] = attrs.field(factory=list, init=False, repr=False)

    # -- identity ------------------------------------------------------------------------
    @property
    def name(self) -> str:
        """The writer name (``SqlServerWriter``)."""
        return self._identity[0] if self._identity else self.metadata.writer_name

    @property
    def class_id(self) -> uuid.UUID:
        """The writer class id."""
        return self._identity[1] if self._identity else self.metadata.writer_class_id

    @property
    def instance_id(self) -> uuid.UUID:
        """The writer instance id."""
        return self._identity[2] if self._identity else self.metadata.writer_instance_id

    def attach(self, sim: Simulation) -> None:
        """Bind the writer to a simulation (done when it subscribes to the coordinator).

        Its identity (name, class id, instance id) is fixed from then on, as
        ``CVssWriter::Initialize`` fixes it; OnIdentify may change what it describes.
        """
        self.sim = sim
        self._identity = (self.name, self.class_id, self.instance_id)

    def _identity_kept(self, ctx: EventContext) -> tuple[HResult, str] | None:
        """After OnIdentify: a writer whose metadata now names another identity crashed (its
        identity is put back, so the run goes on under the one it subscribed with)."""
        metadata = self.metadata
        now = (metadata.writer_name, metadata.writer_class_id, metadata.writer_instance_id)
        if self._identity is None or now == self._identity:
            return None
        name, class_id, instance_id = self._identity
        self.metadata = attrs.evolve(
            metadata,
            writer_name=name,
            writer_class_id=class_id,
            writer_instance_id=instance_id,
        )
        return self._crashed(
            ctx,
            f"changed the writer's identity to {now[0]!r} ({now[1]}, {now[2]}); a writer's "
            "name, class and instance ids are fixed when it subscribes",
        )

    def _sim(self) -> Simulation:
        if self.sim is None:
            raise RuntimeError(f"writer {self.name!r} is not subscribed to a coordinator")
        return self.sim

    # -- handlers (override these) -------------------------------------------------------
    def take_time(self, ctx: EventContext) -> ProcessGenerator:
        """Spend the time this writer's ``timings`` give for ``ctx.event`` (drawn per run)."""
        low, high = self.timings.get(ctx.event, (0, 0))
        delay = ctx.sim.choices.between(f"writer/{self.name}/{ctx.event}", low, high)
        if delay:
            yield ctx.sim.timeout(delay)

    def on_identify(self, ctx: EventContext) -> ProcessGenerator:
        """Describe the writer (the base class returns ``metadata``)."""
        yield from self.take_time(ctx)

    def on_prepare_backup(self, ctx: EventContext) -> ProcessGenerator:
        """Learn which components were selected and what kind of backup it is."""
        yield from self.take_time(ctx)

    def on_prepare_snapshot(self, ctx: EventContext) -> ProcessGenerator:
        """Get ready for the freeze (a database checkpoints here)."""
        yield from self.take_time(ctx)

    def on_freeze(self, ctx: EventContext) -> ProcessGenerator:
        """Stop the application's writes; keep the freeze short.

        A freeze made after VSS gave up on the event (a late reply) is undone at once: VSS
        aborts without waiting for it, so nothing else would ever thaw it (the bug of a
        Hyper-V integration daemon that answered late and left its guest frozen).
        """
        yield from self.take_time(ctx)
        self.freeze_application(ctx)
        if self.event_abandoned(ctx):
            self.thaw_application(ctx)

    def on_thaw(self, ctx: EventContext) -> ProcessGenerator:
        """Let the application write again."""
        self.thaw_application(ctx)
        yield from self.take_time(ctx)

    def on_post_snapshot(self, ctx: EventContext) -> ProcessGenerator:
        """The shadow copies exist; a writer may fix up its files in them. The base class
        then reports its backup (:meth:`report_backup`)."""
        yield from self.take_time(ctx)
        self.report_backup(ctx)

    def on_backup_complete(self, ctx: EventContext) -> ProcessGenerator:
        """The requester finished copying (a database truncates its logs here after a full)."""
        yield from self.take_time(ctx)

    def on_backup_shutdown(self, ctx: EventContext) -> ProcessGenerator:
        """The backup components object was released."""
        yield from self.take_time(ctx)

    def on_abort(self, ctx: EventContext) -> ProcessGenerator:
        """The backup was aborted (by VSS, or by the writer's own freeze timeout): undo
        prepare/freeze work and let the application go on."""
        self.thaw_application(ctx)
        yield from self.take_time(ctx)

    def on_pre_restore(self, ctx: EventContext) -> ProcessGenerator:
        """A restore is about to copy files back."""
        yield from self.take_time(ctx)

    def on_post_restore(self, ctx: EventContext) -> ProcessGenerator:
        """Files were copied back; recover."""
        yield from self.take_time(ctx)

    def set_writer_failure(self, ctx: EventContext, hresult: HResult, reason: str = "") -> None:
        """``CVssWriter::SetWriterFailure``: the event fails with ``hresult`` (one of the
        ``VSS_E_WRITERERROR_*`` codes). A handler that then returns true (or None) vetoes the
        event and the operation goes on; one that returns false fails it fatally."""
        if hresult not in WRITER_ERRORS:
            raise ValueError(
                f"{hresult} is not a writer error; use one of the VSS_E_WRITERERROR_* values"
            )
        reason = reason or f"{ctx.event} set {hresult.name} (SetWriterFailure)"
        self.session(ctx.session_id).pending_failure = (hresult, reason)

    # -- backup types ----------------------------------------------------------------------
    def report_backup(self, ctx: EventContext) -> None:
        """Tell the requester, per selected component, what this backup must copy and when it
        took place, as a writer that keeps a backup history does in OnPostSnapshot: see
        :mod:`vsssim.vss.writers.backup_history` (differenced or partial files in an
        incremental or differential, a backup stamp after a full or an incremental)."""
        report_backup(self.name, self.metadata, self.backup_history, ctx)

    # -- the application link ------------------------------------------------------------
    @property
    def application_frozen(self) -> bool:
        """True while a session holds the application frozen."""
        return self._frozen_by is not None

    def application_held_by(self, holder: str) -> bool:
        """True while ``holder`` (a session id, or who stopped the application) holds it."""
        return self._frozen_by is not None and self._frozen_by == holder

    def event_abandoned(self, ctx: EventContext) -> bool:
        """True once VSS gave up waiting for the event ``ctx`` is about (see
        :attr:`EventContext.given_up`)."""
        return ctx.given_up

    def freeze_application(self, ctx: EventContext) -> None:
        """Hold the application's writes for ``ctx``'s session (a linked workload waits)."""
        self._hold_for(ctx.session_id)

    def stop_application(self, by: str) -> None:
        """Stop the application for ``by`` (a restore stopping the writer's service): a linked
        workload writes nothing until :meth:`start_application` with the same ``by``.

        An application already held (frozen by a backup) stays held by that one.
        """
        self._hold_for(by, "stop")

    def start_application(self, by: str) -> None:
        """Start the application :meth:`stop_application` stopped for ``by``."""
        self._thaw_for(by)

    def _hold_for(self, holder: str, kind: str = "freeze") -> None:
        if self._frozen_by is None:
            sim = self._sim()
            self._frozen_by = holder
            self._app_resumed = sim.event()
            self.application_holds.append(ApplicationHold(holder, kind, len(sim.trace), sim.now))

    def thaw_application(self, ctx: EventContext) -> None:
        """Let the application write again, if ``ctx``'s session is the one that froze it.

        Another session's thaw or abort leaves a freeze it did not make alone.
        """
        self._thaw_for(ctx.session_id)

    def _thaw_for(self, session_id: str) -> None:
        if self._frozen_by == session_id:
            self._frozen_by = None
            sim = self._sim()
            hold = self.application_holds[-1]
            hold.thawed_at, hold.thawed_us = len(sim.trace), sim.now
            resumed, self._app_resumed = self._app_resumed, None
            if resumed is not None:
                resumed.succeed()

    def application_resumed(self) -> Event:
        """An event that triggers when the application may write again."""
        if self._app_resumed is None:
            return self._sim().timeout(0)
        return self._app_resumed

    # -- what the coordinator runs -------------------------------------------------------
    def session(self, session_id: str) -> WriterSession:
        """The writer's state in one backup session (a fresh, stable one if it is new)."""
        found = self._sessions.get(session_id)
        if found is None:
            found = self._sessions[session_id] = WriterSession(session_id)
            self._latest = session_id
        return found

    def session_of(self, session_id: str) -> WriterSession | None:
        """The writer's state in a session it has taken part in (None otherwise)."""
        return self._sessions.get(session_id)

    def state_in(self, session_id: str) -> WriterState:
        """The writer's state in a session (``VSS_WS_STABLE`` if it has not taken part)."""
        found = self._sessions.get(session_id)
        return found.state if found is not None else WriterState.STABLE

    @property
    def sessions(self) -> list[WriterSession]:
        """The writer's sessions, oldest first."""
        return list(self._sessions.values())

    def _current(self) -> WriterSession | None:
        return self._sessions.get(self._latest) if self._latest is not None else None

    @property
    def state(self) -> WriterState:
        """The state in the writer's latest session (``VSS_WS_STABLE`` before any)."""
        current = self._current()
        return current.state if current is not None else WriterState.STABLE

    @property
    def failure(self) -> HResult:
        """The failure HRESULT in the writer's latest session."""
        current = self._current()
        return current.failure if current is not None else HResult.S_OK

    @property
    def failure_reason(self) -> str:
        """Why the latest session failed, in words."""
        current = self._current()
        return current.failure_reason if current is not None else ""

    def handle(self, ctx: EventContext) -> ProcessGenerator:
        """Run one event's handler and move the session's state; the value is the HRESULT.

        Only the coordinator calls this. A reply that comes after the coordinator gave up on
        the writer (see :meth:`give_up`) is recorded and changes nothing: what the handler did
        to the application meanwhile is the writer's own business (the handler can tell from
        :attr:`EventContext.given_up`), the model undoes none of it.
        """
        sim = ctx.sim
        event = ctx.event
        session = self.session(ctx.session_id)
        generation = session.generation
        ctx = ctx.abandoned_when(lambda: session.generation != generation)
        sim.trace.record(
            ctx.phase, self.name, event, session=session.session_id, state=session.state
        )
        session.handling = event
        if event in (V.ON_THAW, V.ON_ABORT):
            session.end_freeze_window()  # the window closes at the receipt of Thaw (or Abort)
        elif event == V.ON_FREEZE and (session.state, event) in WRITER_TRANSITIONS:
            session.thaw_signal = sim.event()  # and opens at the receipt of Freeze
            sim.process(
                self._freeze_watchdog(ctx, session, session.thaw_signal),
                f"{self.name} freeze timer",
            )
        if ctx.fault is not None:
            result, reason = yield from misbehave(self, ctx, ctx.fault)
        else:
            result, reason = yield from self.run_handler(ctx)
        if session.generation != generation:
            sim.trace.record(
                ctx.phase,
                self.name,
                V.late_reply_ignored(event),
                session=session.session_id,
                result=result,
                state=session.state,
            )
            if event == V.ON_ABORT:  # the writer's abort handling is over, late as it is
                session.close_freeze_window()
            failed = session.failure
            return failed if failed != HResult.S_OK else HResult.VSS_E_WRITER_NOT_RESPONDING
        session.handling = None
        ok = result == HResult.S_OK
        target = writer_next_state(session.state, event, ok)
        if target is None:
            raise RuntimeError(f"{self.name}: {event} is not expected in {session.state.vss_name}")
        session.state = target
        details: dict[str, object] = {
            "session": session.session_id,
            "state": session.state,
            "result": result,
        }
        if not ok:
            session.fail(result, reason)
            session.fatal = session.reply_fatal
            if not session.fatal:
                details["vetoed"] = True  # SetWriterFailure and return true: VSS goes on
        if reason:
            details["reason"] = reason
        sim.trace.record(ctx.phase, self.name, V.done(event), **details)
        if event == V.ON_ABORT or (event == V.ON_THAW and ok):
            session.close_freeze_window()
        return result

    def run_handler(
        self,
        ctx: EventContext,
        handler: Callable[[EventContext], ProcessGenerator] | None = None,
    ) -> Generator[Event, Any, tuple[HResult, str]]:
        """Run the handler of ``ctx.event`` (or ``handler``); the value is its (HRESULT, reason).

        ``WriterFailure`` gives its code; a handler that returns ``False`` vetoes the event.
        """
        if handler is None:
            handler = getattr(self, _HANDLERS[ctx.event])
        session = self.session(ctx.session_id)
        session.pending_failure, session.reply_fatal = None, True
        try:
            answer = handler(ctx)
            if inspect.isgenerator(answer):
                answer = yield from checked_handler(answer, ctx)
        except WriterFailure as failure:
            return failure.hresult, failure.reason
        except Exception as exc:  # a writer bug: the writer fails, VSS goes on
            return self._crashed(ctx, f"raised {type(exc).__name__}: {exc}")
        pending, session.pending_failure = session.pending_failure, None
        if answer is False:
            return pending or (VETO_FAILURE, f"{ctx.event} returned false (fatal), no code set")
        if answer is not None and answer is not True:
            return self._crashed(
                ctx, f"returned {short_repr(answer)}: a handler returns True, False or None"
            )
        if ctx.event == V.ON_IDENTIFY:
            return self._identity_kept(ctx) or (HResult.S_OK, "")
        session.reply_fatal = False
        return pending or (HResult.S_OK, "")

    def _crashed(self, ctx: EventContext, what: str) -> tuple[HResult, str]:
        """A handler bug: recorded (:data:`HANDLER_CRASHED`), and the event fails."""
        reason = f"{ctx.event} {what}"
        ctx.sim.trace.record(ctx.phase, self.name, V.HANDLER_CRASHED, event=ctx.event, error=what)
        return CRASH_FAILURE, reason

    def give_up(self, session_id: str, event: str, phase: int | None) -> None:
        """The coordinator stopped waiting for ``event``: the writer did not respond in time.

        The model does not touch the application: a freeze made by a handler that is still
        running is that handler's to undo when it sees :attr:`EventContext.given_up` (the
        default ``on_freeze`` does), and VSS's abort, which follows, calls ``on_abort``.
        """
        sim = self._sim()
        session = self.session(session_id)
        session.generation += 1
        session.handling = None
        session.state = FAILED_AT.get(event, session.state)
        session.fail(HResult.VSS_E_WRITER_NOT_RESPONDING, f"no reply to {event} in time")
        session.end_freeze_window()
        sim.trace.record(
            phase, self.name, V.not_responding(event), session=session_id, state=session.state
        )

    def _freeze_watchdog(
        self, freeze: EventContext, session: WriterSession, thawed: Event
    ) -> ProcessGenerator:
        """The writer's freeze timer (``dwTimeoutFreeze``): started at the receipt of Freeze;
        no Thaw (or Abort) received within ``freeze_timeout_us`` and the writer fails at
        freeze with ``VSS_E_WRITERERROR_TIMEOUT`` (a fatal failure: VSS aborts the set) and
        its own ``on_abort`` runs then, as ``CVssWriter`` calls ``OnAbort``. An OnFreeze
        still running then is cut off: its reply comes too late. The record ``freeze timeout
        handled`` marks the end of that abort: the end of the writer's freeze window."""
        sim = freeze.sim
        timer = sim.timeout(self.freeze_timeout_us)
        yield sim.any_of([timer, thawed])
        if thawed.triggered:
            timer.cancel()
            return
        session.thaw_signal = None
        if session.handling is not None:  # OnFreeze has not answered: its reply is ignored
            session.generation, session.handling = session.generation + 1, None
        session.state = WriterState.FAILED_AT_FREEZE
        session.fatal = True
        session.fail(
            HResult.VSS_E_WRITERERROR_TIMEOUT,
            f"no thaw within {self.freeze_timeout_us / SECOND:g} s of the freeze",
        )
        sim.trace.record(
            None,
            self.name,
            V.FREEZE_TIMEOUT,
            session=session.session_id,
            state=session.state,
            result=session.failure,
        )
        abort = attrs.evolve(freeze, event="OnAbort", phase=None, fault=None, abandoned=None)
        result, _ = yield from self.run_handler(abort)
        sim.trace.record(
            None,
            self.name,
            V.FREEZE_TIMEOUT_HANDLED,
            session=session.session_id,
            state=session.state,
            result=result,
        )
        session.close_freeze_window()


_HANDLERS: Mapping[str, str] = {
    "OnIdentify": "on_identify",
    "OnPrepareBackup": "on_prepare_backup",
    "OnPrepareSnapshot": "on_prepare_snapshot",
    "OnFreeze": "on_freeze",
    "OnThaw": "on_thaw",
    "OnPostSnapshot": "on_post_snapshot",
    "OnBackupComplete": "on_backup_complete",
    "OnBackupShutdown": "on_backup_shutdown",
    "OnAbort": "on_abort",
    "OnPreRestore": "on_pre_restore",
    "OnPostRestore": "on_post_restore",
}
