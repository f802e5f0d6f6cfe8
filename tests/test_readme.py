"""Every Python snippet of the README runs on its own, in a fresh interpreter, without warnings.

A snippet that defines ``test_*`` functions (the pytest section) gets them called with the
fixture they name, as pytest would.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
SNIPPETS = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)

HARNESS = """
import sys
from vsssim.host.demo import build_demo_world
namespace = {"__name__": "readme_snippet"}
exec(compile(sys.stdin.read(), "README snippet", "exec"), namespace)
fixtures = {"vsssim_demo": lambda: build_demo_world(seed=1)}
for name, value in sorted(namespace.items()):
    if name.startswith("test_") and callable(value):
        code = value.__code__
        value(*(fixtures[arg]() for arg in code.co_varnames[: code.co_argcount]))
"""


def test_the_readme_has_snippets() -> None:
    assert len(SNIPPETS) >= 10


IDS = [f"snippet-{i}" for i in range(1, len(SNIPPETS) + 1)]


@pytest.mark.parametrize("snippet", SNIPPETS, ids=IDS)
def test_a_readme_snippet_runs_on_its_own(snippet: str) -> None:
    run = subprocess.run(
        [sys.executable, "-W", "error", "-c", HARNESS],
        input=snippet,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr[-2000:]
