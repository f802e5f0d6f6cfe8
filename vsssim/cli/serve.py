"""``vsssim serve``: the simulated VSS as a JSON-RPC 2.0 server, one JSON message a line, over
standard input and output (``--stdio``) or TCP (``--listen 127.0.0.1:PORT``).

Every connection is its own simulated host, built afresh (the demo server, or the scenario
file's world, with ``--seed``), so a client's run depends only on its own calls. The TCP server
serves its connections one line at a time in one thread (no thread touches a model).
The protocol's modules are imported when the command runs, so that every other command starts
as fast as before.
"""

from __future__ import annotations

import argparse
import selectors
import socket
import sys
from collections.abc import Callable
from typing import IO, TYPE_CHECKING, Any

from vsssim.cli.fuzz import SEED, input_file
from vsssim.cli.help import epilog
from vsssim.errors import ConfigurationError
from vsssim.host.demo import build_demo_world
from vsssim.host.scenario_file import load_scenario
from vsssim.host.world import World

if TYPE_CHECKING:
    from vsssim.rpc.host import RpcHost


def add_serve(commands: Any) -> None:
    """``vsssim serve``."""
    serve = commands.add_parser(
        "serve",
        help="drive the simulated VSS from any language: JSON-RPC 2.0, one message a line",
        **epilog("serve"),
    )
    serve.add_argument("file", nargs="?", help="a scenario file (default: the demo server)")
    where = serve.add_mutually_exclusive_group(required=True)
    where.add_argument("--stdio", action="store_true", help="serve standard input and output")
    where.add_argument(
        "--listen", metavar="HOST:PORT", help="serve TCP connections, e.g. 127.0.0.1:8765"
    )
    serve.add_argument("--seed", type=SEED, help="the seed (default: the file's, or 0)")
    serve.set_defaults(handler=run_serve)


def world_factory(file: str | None, seed: int | None) -> Callable[[], World]:
    """What builds each connection's host: read (and checked) once, built per connection."""
    if file is None:
        return lambda: build_demo_world(0 if seed is None else seed)
    loaded = load_scenario(input_file(file, "the scenario file"))
    chosen = loaded.seed if seed is None else seed
    loaded.scenario.build(chosen)  # a file that cannot be built is told before serving
    return lambda: loaded.scenario.build(chosen)


def run_serve(args: argparse.Namespace) -> int:
    make = world_factory(args.file, args.seed)
    if args.stdio:
        serve_stream(make(), sys.stdin.buffer, sys.stdout.buffer)
        return 0
    host, _, port = args.listen.rpartition(":")
    if not host or not port.isdigit() or int(port) > 65535:
        raise ConfigurationError(f"--listen {args.listen!r}: expected HOST:PORT")
    serve_tcp(make, host, int(port))
    return 0


def _host(world: World) -> RpcHost:
    from vsssim.rpc.host import RpcHost
    from vsssim.rpc.methods import METHODS

    return RpcHost(world, METHODS)


def serve_stream(world: World, reader: IO[bytes], writer: IO[bytes]) -> None:
    """Serve one client on a pair of streams until its input ends (the client went away)."""
    from vsssim.rpc import framing

    host = _host(world)
    try:
        while True:
            try:
                line = framing.read_line(reader)
            except framing.FramingError as error:
                _send(
                    writer,
                    [framing.encode(framing.error_response(None, error.code, error.message))],
                )
                continue
            if line is None:
                break
            if line.strip():
                _send(writer, host.handle_line(line))
    except (BrokenPipeError, ConnectionError):
        pass
    finally:
        host.close()


def _send(writer: IO[bytes], lines: list[bytes]) -> None:
    for line in lines:
        writer.write(line)
    writer.flush()


class _Client:
    """One TCP connection: its host and its partial line."""

    def __init__(self, world: World) -> None:
        from vsssim.rpc import framing

        self.host = _host(world)
        self.lines = framing.LineBuffer()


def serve_tcp(make: Callable[[], World], address: str, port: int) -> None:
    """Serve TCP connections until interrupted; each connection its own host."""
    selector = selectors.DefaultSelector()
    server = socket.create_server((address, port))
    server.setblocking(False)
    selector.register(server, selectors.EVENT_READ, None)
    bound = server.getsockname()
    print(f"vsssim serve: listening on {bound[0]}:{bound[1]}", file=sys.stderr, flush=True)
    try:
        while True:
            for key, _ in selector.select():
                if key.data is None:
                    connection, _ = server.accept()
                    selector.register(connection, selectors.EVENT_READ, _Client(make()))
                else:
                    _serve_ready(selector, key.fileobj, key.data)  # type: ignore[arg-type]
    finally:
        for key in list(selector.get_map().values()):
            if isinstance(key.data, _Client):
                key.data.host.close()
            key.fileobj.close()  # type: ignore[union-attr]
        selector.close()


def _serve_ready(
    selector: selectors.BaseSelector, connection: socket.socket, client: _Client
) -> None:
    from vsssim.rpc import framing

    try:
        data = connection.recv(1 << 16)
    except ConnectionError:
        data = b""
    if not data:
        selector.unregister(connection)
        connection.close()
        client.host.close()
        return
    out: list[bytes] = []
    for line in client.lines.feed(data):
        if isinstance(line, framing.FramingError):
            out.append(framing.encode(framing.error_response(None, line.code, line.message)))
        elif line.strip():
            out += client.host.handle_line(line)
    try:
        connection.sendall(b"".join(out))
    except ConnectionError:
        selector.unregister(connection)
        connection.close()
        client.host.close()
