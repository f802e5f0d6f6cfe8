"""``IVssAsync`` over JSON-RPC: the session's own :class:`~vsssim.VssAsync`, served as is.

Waiting is what moves the simulated clock: ``Wait`` runs the simulation until the call is done
or the timeout has passed (the clock then stands at the deadline). The one thing added here is
a bound on ``INFINITE``: a call that never finishes must not hang the server.
"""

from __future__ import annotations

from vsssim.errors import HResult
from vsssim.sim.kernel import Process
from vsssim.vss.coordinator.vss_async import VssAsync

#: How much simulated time an unbounded wait may run before it gives up (an hour).
WAIT_LIMIT_US = 3_600_000_000


def as_handle(call: Process) -> VssAsync:
    """The ``IVssAsync`` of an asynchronous call, defused: a failure is the answer of
    ``QueryStatus``, never an exception escaping the simulation."""
    assert isinstance(call, VssAsync), f"{call.name} is not an IVssAsync"
    call.defuse()
    return call


def wait(call: VssAsync, timeout_us: int | None) -> HResult:
    """``IVssAsync::Wait`` with ``None`` (INFINITE) bounded at :data:`WAIT_LIMIT_US`."""
    return call.wait(WAIT_LIMIT_US if timeout_us is None else min(timeout_us, WAIT_LIMIT_US))
