"""One connection's simulated host: the world it drives, the objects it handed out (by handle),
and the dispatch of one request line to the method table.

Each connection is its own host, so two clients never share a clock. A connection that ends
with a backup components object unreleased is a requester that went away: :meth:`RpcHost.close`
runs each such object down as COM does for a dead client (``requester_gone``) and lets the
simulation settle, so nothing is left locked, marked, held or frozen.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import attrs

from vsssim.errors import HResult, VssError
from vsssim.host.world import World
from vsssim.rpc import framing
from vsssim.rpc.params import Param, ParamError, decode_params
from vsssim.sim.kernel import Event, Process, ProcessGenerator


@attrs.frozen
class Method:
    """One method of the protocol: its name, what it does, its parameters, the JSON Schema of
    its result, and the handler that runs it on a host."""

    name: str
    summary: str
    params: tuple[Param, ...]
    result: dict[str, Any]
    handler: Callable[[RpcHost, dict[str, Any]], Any]


#: How long (simulated) a closing host runs for the rundown of its objects to finish.
SETTLE_US = 600_000_000


class RpcHost:
    """The simulated host behind one connection, and the objects its client holds."""

    def __init__(self, world: World, methods: Mapping[str, Method]) -> None:
        self.world = world
        self.sim = world.sim
        self.coordinator = world.coordinator
        self.methods = methods
        self._objects: dict[str, object] = {}
        self._made = 0
        self.requesters = 0
        #: True once the client asked for trace records as notifications.
        self.streaming = False
        self._streamed = 0
        self._stop_workloads: Event = self.sim.event()
        for workload in world.workloads:
            workload.start(self.sim, world.namespace, self._stop_workloads)

    # -- handles ---------------------------------------------------------------------------
    def add(self, interface: str, value: object) -> str:
        """A new handle for ``value``, an object of ``interface``."""
        self._made += 1
        handle = f"{interface}#{self._made}"
        self._objects[handle] = value
        return handle

    def get(self, handle: str, interface: str) -> Any:
        """The object of ``interface`` that ``handle`` names; :class:`ParamError` otherwise."""
        if handle.partition("#")[0] != interface or handle not in self._objects:
            raise ParamError(f"object: {handle[:60]!r} is not an {interface} this client holds")
        return self._objects[handle]

    def drop(self, handle: str) -> None:
        """Forget ``handle`` (the object was released)."""
        self._objects.pop(handle, None)

    def objects(self, interface: str) -> list[tuple[str, Any]]:
        """The handles of ``interface`` still held, oldest first."""
        return [(h, o) for h, o in self._objects.items() if h.partition("#")[0] == interface]

    # -- running the simulation ---------------------------------------------------------------
    def finish(self, process: Process, limit_us: int = SETTLE_US) -> None:
        """Run the simulation until ``process`` is done (a synchronous call's own work)."""
        process.defuse()
        deadline = self.sim.now + limit_us
        while process.is_alive:
            upcoming = self.sim.peek()
            if upcoming is None or upcoming > deadline:
                break
            self.sim.step()
        if not process.is_alive and not process.ok:
            raise process.value

    # -- one request -------------------------------------------------------------------------
    def handle_line(self, line: bytes) -> list[bytes]:
        """The lines to send for one request line: trace notifications, then the response
        (none for a notification)."""
        try:
            message = framing.parse(line)
        except framing.FramingError as error:
            return [framing.encode(framing.error_response(None, error.code, error.message))]
        response = self.handle(message)
        out = self.notifications()
        if response is not None:
            out.append(framing.encode(response))
        return out

    def handle(self, message: object) -> dict[str, Any] | None:
        """The response to one parsed message; None for a notification (a request without an
        id), which is run but never answered, not even with an error."""
        if not isinstance(message, dict) or message.get("jsonrpc") != "2.0":
            return framing.error_response(
                None, framing.INVALID_REQUEST, "not a JSON-RPC 2.0 request object"
            )
        request_id = message.get("id")
        notification = "id" not in message
        if not (request_id is None or isinstance(request_id, str | int)) or isinstance(
            request_id, bool
        ):
            return framing.error_response(None, framing.INVALID_REQUEST, "bad id")
        response = self._call(request_id, message.get("method"), message.get("params"))
        return None if notification else response

    def _call(self, request_id: object, name: object, params: object) -> dict[str, Any]:
        """Run one method; its response (a result, or the error it met)."""
        method = self.methods.get(name) if isinstance(name, str) else None
        if method is None:
            shown = name[:60] if isinstance(name, str) else repr(name)[:60]
            return framing.error_response(
                request_id, framing.METHOD_NOT_FOUND, f"no method {shown!r}"
            )
        try:
            result = method.handler(self, decode_params(method.params, params))
        except ParamError as error:
            return _vss_error(request_id, framing.INVALID_PARAMS, error.hresult, error.message)
        except VssError as error:
            invalid = error.hresult == HResult.E_INVALIDARG
            code = framing.INVALID_PARAMS if invalid else framing.VSS_ERROR
            return _vss_error(request_id, code, error.hresult, error.message)
        except Exception as error:  # a model bug: told, and the server goes on
            return framing.error_response(
                request_id, framing.INTERNAL_ERROR, f"{type(error).__name__}: {error}"[:500]
            )
        return {"jsonrpc": "2.0", "id": request_id, "result": result}

    def notifications(self) -> list[bytes]:
        """The trace records made since the last call, as ``vsssim.trace`` notifications."""
        records = self.sim.trace.records
        if not self.streaming:
            self._streamed = len(records)
            return []
        out = [
            framing.encode(
                {"jsonrpc": "2.0", "method": "vsssim.trace", "params": {"record": r.to_dict()}}
            )
            for r in records[self._streamed :]
        ]
        self._streamed = len(records)
        return out

    # -- the end of the connection ---------------------------------------------------------------
    def close(self) -> None:
        """The client went away: every backup components object it still holds is run down
        (``requester_gone``), the applications stop writing, the simulation settles."""
        rundowns = [o.bc.requester_gone() for _, o in self.objects("IVssBackupComponents")]
        self._objects.clear()
        if not self._stop_workloads.triggered:
            self._stop_workloads.succeed()
        done = self.sim.process(_all(self.sim, rundowns), "rpc client gone")
        self.finish(done)


def _all(sim: Any, processes: list[Process]) -> ProcessGenerator:
    if processes:
        yield sim.all_of(processes)


def _vss_error(request_id: object, code: int, hresult: HResult, message: str) -> dict[str, Any]:
    data = {"hresult": int(hresult), "name": hresult.name, "message": message}
    return framing.error_response(request_id, code, message, data)
