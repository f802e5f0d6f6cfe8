"""``IVssAsync`` over an asynchronous call of the model: ``Wait``, ``QueryStatus``, ``Cancel``.

The three operations, and nothing else, so that they can be handed to the session's own
asynchronous object once it has one. Waiting is what moves the simulated clock: ``wait`` runs the
simulation until the call is done or ``timeout_us`` of simulated time has passed (the clock then
stands at the deadline). The call's process is defused here: its failure is the answer of
:meth:`AsyncCall.query_status`, never an exception escaping the simulation.
"""

from __future__ import annotations

from vsssim.errors import HResult, VssError
from vsssim.sim.kernel import Process

#: How much simulated time an unbounded wait may run before it gives up (an hour): a call that
#: never finishes must not hang the server.
WAIT_LIMIT_US = 3_600_000_000


class AsyncCall:
    """One ``IVssAsync`` object: the process of an asynchronous call."""

    def __init__(self, process: Process) -> None:
        self.process = process
        process.defuse()

    def wait(self, timeout_us: int | None = None) -> HResult:
        """``Wait``: S_OK once the call finished (or the timeout passed); the call's failure
        HRESULT if it failed while being waited on."""
        process = self.process
        sim = process.sim
        deadline = sim.now + (WAIT_LIMIT_US if timeout_us is None else timeout_us)
        while process.is_alive:
            upcoming = sim.peek()
            if upcoming is None or upcoming > deadline:
                sim.run(until=deadline)
                break
            sim.step()
        status, result = self.query_status()
        return result if status == HResult.VSS_S_ASYNC_FINISHED else HResult.S_OK

    def query_status(self) -> tuple[HResult, HResult]:
        """``QueryStatus``: (``VSS_S_ASYNC_PENDING`` or ``VSS_S_ASYNC_FINISHED``, the call's
        HRESULT: S_OK, or the failure it ended with)."""
        process = self.process
        if process.is_alive:
            return HResult.VSS_S_ASYNC_PENDING, HResult.S_OK
        if process.ok:
            return HResult.VSS_S_ASYNC_FINISHED, HResult.S_OK
        failure = process.value
        if isinstance(failure, VssError):
            return HResult.VSS_S_ASYNC_FINISHED, failure.hresult
        return HResult.VSS_S_ASYNC_FINISHED, HResult.VSS_E_UNEXPECTED

    def cancel(self) -> HResult:
        """``Cancel``: ``VSS_S_ASYNC_FINISHED`` for a call that completed, its failure for one
        that failed; the model cannot stop a running call, so one still running answers
        ``VSS_E_NOT_SUPPORTED`` and goes on (QueryStatus then still says pending)."""
        status, result = self.query_status()
        if status == HResult.VSS_S_ASYNC_PENDING:
            return HResult.VSS_E_NOT_SUPPORTED
        return HResult.VSS_S_ASYNC_FINISHED if result == HResult.S_OK else result
