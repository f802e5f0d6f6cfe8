"""Hostile input to ``vsssim serve``: whatever a line holds, the server answers it (or, for a
notification, says nothing), never with an internal error, and goes on answering."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vsssim.host.demo import build_demo_world
from vsssim.rpc import framing
from vsssim.rpc.host import RpcHost
from vsssim.rpc.methods import METHODS

HOST = RpcHost(build_demo_world(0), METHODS)
# an object for the fuzzed calls to hit: IVssBackupComponents#1
HOST.handle_line(b'{"jsonrpc":"2.0","id":0,"method":"CreateVssBackupComponents"}')
KNOWN = {
    framing.PARSE_ERROR,
    framing.INVALID_REQUEST,
    framing.METHOD_NOT_FOUND,
    framing.INVALID_PARAMS,
    framing.VSS_ERROR,
}
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=20)
    | st.sampled_from(["IVssBackupComponents#1", "IVssAsync#2", "VSS_BT_FULL", "D:\\"]),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def _answers(line: bytes) -> list[dict[str, Any]]:
    return [json.loads(out) for out in HOST.handle_line(line)]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=200).filter(lambda b: b"\n" not in b))
def test_any_bytes_get_one_answer(line: bytes) -> None:
    answers = _answers(line)
    assert answers, "a line that is not a notification is answered"
    last = answers[-1]
    assert "result" in last or last["error"]["code"] in KNOWN


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(sorted(METHODS)),
    st.dictionaries(
        st.sampled_from(
            [
                "object",
                "writer",
                "volume_name",
                "backup_type",
                "select_components",
                "context",
                "path",
                "since",
                "milliseconds",
                "writer_id",
                "component_type",
            ]
        ),
        JSON,
        max_size=5,
    )
    | JSON,
)
def test_any_params_to_any_method_never_an_internal_error(method: str, params: Any) -> None:
    request = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
    answer = _answers(json.dumps(request).encode())[-1]
    assert "result" in answer or answer["error"]["code"] in KNOWN, answer
    assert _answers(b'{"jsonrpc":"2.0","id":2,"method":"vsssim.GetTime"}')[-1]["result"]


def test_a_line_buffer_drops_an_oversize_line_as_it_arrives() -> None:
    lines = framing.LineBuffer(limit=10)
    assert lines.feed(b"12345") == []
    (error,) = lines.feed(b"678901234")
    assert isinstance(error, framing.FramingError)
    assert lines.feed(b"more junk") == []  # still the oversize line: skipped, not kept
    assert lines.feed(b'\n{"a":1}\n') == [b'{"a":1}']
