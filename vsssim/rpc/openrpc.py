"""The protocol described from the method table: the OpenRPC document ``rpc.discover`` returns,
and the Markdown page docs/rpc.md (a test checks that the page is the one this writes).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from vsssim._version import __version__

if TYPE_CHECKING:
    from vsssim.rpc.host import Method

#: The error codes a client meets, and what each means.
ERRORS: tuple[tuple[int, str], ...] = (
    (-32700, "parse error: the line is not JSON (or not UTF-8, or nests too deep)"),
    (-32600, "invalid request: not a JSON-RPC 2.0 request object, or a line too long"),
    (-32601, "method not found"),
    (
        -32602,
        "invalid params: a missing, unknown or ill-typed parameter, a wrong handle, or "
        "E_INVALIDARG from VSS",
    ),
    (-32603, "internal error: a bug in vsssim (the server goes on)"),
    (-32000, "a VSS call failed: data.hresult, data.name (VSS_E_BAD_STATE...), data.message"),
)


def openrpc_document(methods: Mapping[str, Method]) -> dict[str, Any]:
    """The OpenRPC 1.2 document of ``methods``."""
    return {
        "openrpc": "1.2.6",
        "info": {"title": "vsssim VSS requester interface", "version": __version__},
        "methods": [
            {
                "name": m.name,
                "summary": m.summary,
                "paramStructure": "by-name",
                "params": [
                    {
                        "name": p.name,
                        "summary": p.doc,
                        "required": p.required,
                        "schema": p.schema(),
                    }
                    for p in m.params
                ],
                "result": {"name": "result", "schema": m.result},
            }
            for m in methods.values()
        ],
        "x-errors": [{"code": code, "message": text} for code, text in ERRORS],
    }


def _default(value: object) -> str:
    if hasattr(value, "vss_name"):
        return str(value.vss_name)
    return json.dumps(value if isinstance(value, bool | int | str | None) else str(value))


def markdown(methods: Mapping[str, Method]) -> str:
    """The reference section of docs/rpc.md: each method, its parameters and its result."""
    lines = ["## Methods", ""]
    for m in methods.values():
        lines += [f"### `{m.name}`", "", m.summary, ""]
        if m.params:
            lines += ["| parameter | kind | default | meaning |", "|---|---|---|---|"]
            for p in m.params:
                kind = p.interface or p.kind
                default = "required" if p.required else f"`{_default(p.default)}`"
                lines.append(f"| `{p.name}` | {kind} | {default} | {p.doc} |")
            lines.append("")
        props = m.result.get("properties")
        result = ", ".join(f"`{k}`" for k in props) if props else m.result.get("type", "object")
        lines += [f"Result: {result}.", ""]
    lines += ["## Errors", "", "| code | meaning |", "|---|---|"]
    lines += [f"| {code} | {text} |" for code, text in ERRORS]
    return "\n".join(lines) + "\n"
