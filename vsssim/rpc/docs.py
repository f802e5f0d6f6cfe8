"""Write the generated part of docs/rpc.md from the method table:
``python -m vsssim.rpc.docs docs/rpc.md`` (a test fails while the page is stale)."""

from __future__ import annotations

import sys
from pathlib import Path

from vsssim.rpc.methods import METHODS
from vsssim.rpc.openrpc import markdown

BEGIN, END = "<!-- methods: generated -->\n", "<!-- end of generated -->\n"


def rewrite(page: str) -> str:
    """``page`` with the part between the markers written afresh."""
    head, _, rest = page.partition(BEGIN)
    _, _, tail = rest.partition(END)
    return head + BEGIN + markdown(METHODS) + END + tail


if __name__ == "__main__":
    path = Path(sys.argv[1])
    path.write_text(rewrite(path.read_text(encoding="utf-8")), encoding="utf-8")
