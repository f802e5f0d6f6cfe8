"""Mermaid text: escaped so that no name breaks the diagram, and the short forms of a
record's details (UUIDs, byte counts, writers' results) the sequence diagram shows."""

from __future__ import annotations

import re
from collections.abc import Mapping

from vsssim.sim.trace import Json

_UUID = re.compile(r"\b([0-9a-f]{8})-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")
# What cannot appear raw in Mermaid text: ';' ends a statement, '#' starts a comment (and
# Mermaid's own entity codes), '%%' a comment, '<' '>' '&' would be read as HTML.
_ENTITIES: Mapping[str, str] = {
    "#": "#35;",
    ";": "#59;",
    "%": "#37;",
    "<": "#lt;",
    ">": "#gt;",
    "&": "#amp;",
    "{": "#123;",
    "}": "#125;",
    '"': "#quot;",
}
MAX_TEXT = 110


def escape(text: str, *, limit: int = MAX_TEXT) -> str:
    """``text`` made safe for a Mermaid message, note or alias: one line, entity-encoded.

    Whitespace runs become one space, long text is clipped to ``limit`` characters (before
    encoding, with an ellipsis) and the result is never empty. A leading ``wrap:`` or
    ``nowrap:`` (a Mermaid directive there) is defused.
    """
    flat = " ".join(text.split())
    if len(flat) > limit:
        flat = flat[: limit - 1].rstrip() + "\u2026"
    encoded = "".join(_ENTITIES.get(ch, ch) for ch in flat)
    if re.match(r"(?i)(no)?wrap:", encoded):
        encoded = f"#{ord(encoded[0])};{encoded[1:]}"
    return encoded or "#160;"


def shorten(text: str) -> str:
    """UUIDs shortened to their first group: ``5afb7c4f`` reads better than 36 characters."""
    return _UUID.sub(r"\1", text)


def detail(details: Mapping[str, Json], key: str) -> str:
    """A detail as plain text ('' when absent): lists joined with commas, objects as k: v."""
    value = details.get(key)
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(detail({"v": v}, "v") for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}: {detail(value, k)}" for k in value)
    return str(value)


def size_text(size: Json) -> str:
    """A byte count as MiB or GiB, the unit a file copy is read in."""
    if not isinstance(size, int) or isinstance(size, bool):
        return "?"
    mib = size / 1024**2
    return f"{mib / 1024:g} GiB" if mib >= 1024 else f"{mib:g} MiB"


def natural_order(name: str) -> list[tuple[int, str]]:
    """Sort key that puts ``agent 2`` before ``agent 10``."""
    return [(int(part), "") if part.isdigit() else (-1, part) for part in re.split(r"(\d+)", name)]


def safe_id(prefix: str, name: str, taken: set[str]) -> str:
    """A unique Mermaid id: letters, digits and '_' only, led by a prefix no keyword starts."""
    base = prefix + (re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_") or "x")
    pid, n = base, 2
    while pid in taken:
        pid, n = f"{base}_{n}", n + 1
    taken.add(pid)
    return pid


def results_text(call: str, results: Json) -> str:
    """The reply to a call that went to writers: how many said S_OK, or who failed with what."""
    if not isinstance(results, dict) or not results:
        return f"{call} complete"
    failed = [f"{w} {r}" for w, r in results.items() if r != "S_OK"]
    if not failed:
        return f"{call} complete: {len(results)} writers S_OK"
    return f"{call} complete: " + ", ".join(failed)


def status_text(writers: Json) -> str:
    """The GatherWriterStatus reply: the failed writers with state and error, if any."""
    if not isinstance(writers, dict):
        return "GatherWriterStatus complete"
    bad = []
    for name, status in writers.items():
        if not isinstance(status, dict):
            continue
        state, failure = str(status.get("state", "")), str(status.get("failure", ""))
        if failure != "S_OK" or "FAILED" in state:
            bad.append(f"{name} {state} {failure}")
    if not bad:
        return f"GatherWriterStatus complete: {len(writers)} writers, none failed"
    return "GatherWriterStatus complete: " + ", ".join(bad)
