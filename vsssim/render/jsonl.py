"""The trace as JSON lines: one object per record, keys sorted, byte-stable."""

from __future__ import annotations

from vsssim.sim.trace import Trace


def render_jsonl(trace: Trace) -> str:
    """Every record of ``trace`` as one JSON line."""
    return trace.to_jsonl()
