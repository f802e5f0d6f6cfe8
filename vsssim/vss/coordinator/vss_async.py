"""``IVssAsync``: what the asynchronous calls of a backup components object return.

:class:`VssAsync` is a :class:`~vsssim.sim.kernel.Process` (``result = yield
bc.do_snapshot_set()`` inside a process, ``sim.run(until=...)``, ``.value``, ``defuse`` all work as
before) with the three methods of ``IVssAsync`` added for plain code outside the simulation, as a
requester's thread would call them. What a cancel does to each call is decided by the call (see
:mod:`vsssim.vss.coordinator.cancel`); this module only keeps the status.
"""

from __future__ import annotations

from collections.abc import Callable

from vsssim.errors import HResult, VssError
from vsssim.sim import vocabulary as V
from vsssim.sim.kernel import Event, Process, ProcessGenerator, Simulation

#: What a call does once a cancel reaches it: the steps that undo what it began (a generator),
#: and when (a predicate: False once the call is past the point it can be stopped at).
CancelSteps = Callable[[], ProcessGenerator]
Cancellable = Callable[[], bool]


class VssAsync(Process):
    """``IVssAsync``: one asynchronous call of a backup components object, still running or done.

    The methods, with the exact signatures a JSON-RPC front end calls:

    * ``wait(timeout_us: int | None = None) -> HResult`` (``IVssAsync::Wait``): run the
      simulation until the call finishes or ``timeout_us`` microseconds of *simulated* time have
      passed (``None``: no limit, VSS's ``INFINITE``). Waiting is what advances the clock. It
      returns ``S_OK`` when the call succeeded or the wait timed out (then ``query_status`` says
      ``VSS_S_ASYNC_PENDING``), ``VSS_S_ASYNC_CANCELLED`` for a cancelled call, and the call's
      own error code when it failed; it never raises for the call's failure.
    * ``query_status() -> tuple[HResult, HResult]`` (``IVssAsync::QueryStatus``): the method's own
      return (always ``S_OK``) and ``pHrResult``: ``VSS_S_ASYNC_PENDING``,
      ``VSS_S_ASYNC_FINISHED``, ``VSS_S_ASYNC_CANCELLED``, or the call's failure HRESULT.
    * ``cancel() -> HResult`` (``IVssAsync::Cancel``): ``S_OK`` when the cancel was taken (it
      acts at the call's next step), ``VSS_S_ASYNC_CANCELLED`` when it was cancelled before,
      ``VSS_S_ASYNC_FINISHED`` when the call had succeeded, the call's error when it had failed.

    ``wait`` is for plain code only; inside a process, ``yield`` the call instead.
    """

    __slots__ = (
        "_call",
        "_call_cancelled",
        "_cancel_requested",
        "_cancellable",
        "_kernel",
        "_on_cancel",
        "_requester",
    )

    def __init__(
        self,
        sim: Simulation,
        generator: ProcessGenerator,
        name: str,
        call: str,
        requester: str,
        on_cancel: CancelSteps | None = None,
        cancellable: Cancellable | None = None,
    ) -> None:
        self._call = call
        self._requester = requester
        self._on_cancel = on_cancel
        self._cancellable = cancellable
        self._cancel_requested = False
        self._call_cancelled = False
        self._kernel = sim  # the whole simulation (an event's ``sim`` is only its queues)
        super().__init__(sim, generator, name)

    @property
    def call(self) -> str:
        """The ``IVssBackupComponents`` call that returned this object (``DoSnapshotSet`` ...)."""
        return self._call

    @property
    def cancelled(self) -> bool:
        """Whether a cancel stopped the call."""
        return self._call_cancelled

    # -- IVssAsync -----------------------------------------------------------------------
    def wait(self, timeout_us: int | None = None) -> HResult:
        """``IVssAsync::Wait``: see the class docstring."""
        if timeout_us is not None and (
            isinstance(timeout_us, bool) or not isinstance(timeout_us, int) or timeout_us < 0
        ):
            raise VssError(
                HResult.E_INVALIDARG,
                f"timeout_us: a number of microseconds >= 0 or None (got {timeout_us!r})",
            )
        sim = self._kernel
        if sim.active_process is not None:
            raise RuntimeError("wait() is for plain code: inside a process, yield the call")
        self.defuse()  # the waiter reads the outcome from the status, as Wait's caller does
        until = None if timeout_us is None else sim.now + timeout_us
        if not sim.wait_for(self, until) and until is None:
            raise RuntimeError(f"the simulation ran out of events before {self.name} finished")
        return self._outcome(HResult.S_OK, HResult.S_OK)

    def query_status(self) -> tuple[HResult, HResult]:
        """``IVssAsync::QueryStatus``: ``(S_OK, pHrResult)``; see the class docstring."""
        return HResult.S_OK, self._outcome(
            HResult.VSS_S_ASYNC_PENDING, HResult.VSS_S_ASYNC_FINISHED
        )

    def cancel(self) -> HResult:
        """``IVssAsync::Cancel``: see the class docstring."""
        if self._call_cancelled:
            return HResult.VSS_S_ASYNC_CANCELLED
        if self.triggered:
            return self._outcome(HResult.S_OK, HResult.VSS_S_ASYNC_FINISHED)
        if not self._cancel_requested:
            self._cancel_requested = True
            self.defuse()  # the canceller reads the outcome from the status
            self._kernel.trace.record(None, self._requester, V.ASYNC_CANCEL, call=self._call)
        return HResult.S_OK

    def _outcome(self, pending: HResult, finished: HResult) -> HResult:
        if self._call_cancelled:
            return HResult.VSS_S_ASYNC_CANCELLED
        if not self.triggered:
            return pending
        if self.ok:
            # A call that succeeded in part says so in QueryStatus (ImportSnapshots'
            # VSS_S_SOME_SNAPSHOTS_NOT_IMPORTED): its value carries that success code.
            status = getattr(self.value, "async_status", None)
            if isinstance(status, HResult) and finished == HResult.VSS_S_ASYNC_FINISHED:
                return status
            return finished
        error = self.value
        return error.hresult if isinstance(error, VssError) else HResult.E_UNEXPECTED

    def _can_cancel(self) -> bool:
        return self._on_cancel is not None and (self._cancellable is None or self._cancellable())

    # -- the kernel's resume, with the cancel taken at the call's next step ----------------
    def _resume(self, event: Event) -> None:
        if self._cancel_requested and not self._call_cancelled and self.is_alive:
            if self._can_cancel():
                assert self._on_cancel is not None
                self._call_cancelled = True
                self._generator.close()
                self._generator = _cancelled(self._on_cancel())
                self._kernel.trace.record(None, self._requester, V.ASYNC_CANCELLED, call=self._call)
                event = Event(self.sim)  # a fresh event: ok, value None, as a start is
            else:
                self._cancel_requested = False  # past the point it can be stopped: it runs on
        super()._resume(event)


def _cancelled(steps: ProcessGenerator) -> ProcessGenerator:
    """Run the undo steps of a cancelled call, then fail the call as cancelled."""
    yield from steps
    raise VssError(HResult.VSS_S_ASYNC_CANCELLED, "the call was cancelled (IVssAsync::Cancel)")
