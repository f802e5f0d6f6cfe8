"""Line-delimited JSON-RPC 2.0 framing: one JSON message a line, in both directions.

Hostile input never crashes or stalls the server: a line is read to at most
:data:`MAX_LINE_BYTES` (the rest of an oversize line is skipped, not buffered), its nesting is
counted before it is parsed (no recursion past :data:`MAX_DEPTH`), bytes that are not UTF-8 and
the non-standard ``NaN``/``Infinity`` are parse errors. What comes out is compact JSON with sorted
keys, so equal answers are equal bytes.
"""

from __future__ import annotations

import json
from typing import IO, Any

#: The longest request line accepted (bytes, without the newline).
MAX_LINE_BYTES = 1 << 20
#: The deepest nesting of arrays and objects accepted in a request.
MAX_DEPTH = 32

#: JSON-RPC 2.0's error codes.
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
#: The server's own code for a VSS call that returned a failing HRESULT.
VSS_ERROR = -32000


class FramingError(Exception):
    """A line that is not a JSON message the server can read: ``code`` says how."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __reduce__(self) -> tuple[type[FramingError], tuple[int, str]]:
        return (type(self), (self.code, self.message))


def read_line(stream: IO[bytes], limit: int = MAX_LINE_BYTES) -> bytes | None:
    """The next line of ``stream`` without its newline; None at the end of the stream.

    A line longer than ``limit`` is read to its end and dropped: :class:`FramingError`.
    """
    line = stream.readline(limit + 1)
    if not line:
        return None
    if len(line) <= limit or line.endswith(b"\n"):
        return line.rstrip(b"\r\n")
    while True:  # skip the rest of the oversize line in bounded pieces
        rest = stream.readline(limit + 1)
        if not rest or rest.endswith(b"\n"):
            break
    raise FramingError(INVALID_REQUEST, f"the line is longer than {limit} bytes")


def nesting_depth(text: str) -> int:
    """The deepest nesting of ``[`` and ``{`` in ``text`` outside strings."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse(line: bytes, max_depth: int = MAX_DEPTH) -> Any:
    """The JSON value of one line; :class:`FramingError` (parse error) if it is not one."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as error:
        raise FramingError(PARSE_ERROR, f"the line is not UTF-8: {error.reason}") from None
    opened = text.count("[") + text.count("{")  # counted in C: most lines stop here
    if opened > max_depth and nesting_depth(text) > max_depth:
        raise FramingError(PARSE_ERROR, f"the message nests deeper than {max_depth} levels")
    try:
        return json.loads(text, parse_constant=_no_constant)
    except (ValueError, RecursionError) as error:
        raise FramingError(PARSE_ERROR, f"the line is not JSON: {error}") from None


def encode(message: object) -> bytes:
    """One message as a line: compact JSON, keys sorted, ASCII only, newline-terminated."""
    return (json.dumps(message, sort_keys=True, separators=(",", ":")) + "\n").encode("ascii")


def error_response(
    request_id: object, code: int, message: str, data: object = None
) -> dict[str, Any]:
    """A JSON-RPC error response."""
    error: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    return {"jsonrpc": "2.0", "id": request_id, "error": error}


class LineBuffer:
    """The lines of a byte stream that arrives in pieces (a socket), bounded as
    :func:`read_line` is: an oversize line is dropped as it arrives, never held whole."""

    def __init__(self, limit: int = MAX_LINE_BYTES) -> None:
        self.limit = limit
        self._pending = bytearray()
        self._skipping = False

    def feed(self, data: bytes) -> list[bytes | FramingError]:
        """The complete lines ``data`` ends (an oversize one as a :class:`FramingError`)."""
        out: list[bytes | FramingError] = []
        while data:
            newline = data.find(b"\n")
            piece, data = (data, b"") if newline < 0 else (data[:newline], data[newline + 1 :])
            if not self._skipping:
                self._pending += piece
                if len(self._pending) > self.limit:
                    self._pending.clear()
                    self._skipping = True
                    out.append(
                        FramingError(INVALID_REQUEST, f"the line is longer than {self.limit} bytes")
                    )
            if newline >= 0:
                if not self._skipping:
                    out.append(bytes(self._pending).rstrip(b"\r"))
                self._pending.clear()
                self._skipping = False
        return out
