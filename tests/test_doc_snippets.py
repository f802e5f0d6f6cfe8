"""Every Python block of the README and of the docs runs on its own: each in a fresh
interpreter, in an empty folder holding a copy of the lessons (``examples/``), warnings as errors.

A block that defines ``test_*`` functions (the pytest guides) gets them called with the fixtures
they name, as pytest would. A block meant as a fragment is marked by a ``<!-- no-run: why -->``
line right before it: rare, and each says why.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
BLOCK = re.compile(r"(<!-- no-run: [^>]+ -->\n)?```python[^\n]*\n(.*?)```", re.S)


def _blocks() -> list[tuple[str, str]]:
    found = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        blocks = [code for marker, code in BLOCK.findall(text) if not marker]
        name = page.relative_to(ROOT).as_posix()
        found += [(f"{name}-{n}", code) for n, code in enumerate(blocks, 1)]
    return found


BLOCKS = _blocks()

HARNESS = """
import sys
from vsssim.host.demo import build_demo_world
from vsssim.host.scenario_file import load_scenario
from vsssim.host.world import World
namespace = {"__name__": "doc_snippet"}
exec(compile(sys.stdin.read(), "doc snippet", "exec"), namespace)
SEED = 1
def scenario_world(path, seed=None):
    loaded = load_scenario(path)
    return loaded.scenario.build(loaded.seed if seed is None else seed)
fixtures = {
    "vsssim_seed": lambda: SEED,
    "vsssim_world": lambda: World.create(seed=SEED),
    "vsssim_demo": lambda: build_demo_world(seed=SEED),
    "vsssim_scenario": lambda: scenario_world,
}
for name, value in sorted(namespace.items()):
    if name.startswith("test_") and callable(value):
        code = value.__code__
        value(*(fixtures[arg]() for arg in code.co_varnames[: code.co_argcount]))
"""


def test_the_readme_and_the_docs_have_snippets() -> None:
    pages = {name.rsplit("-", 1)[0] for name, _ in BLOCKS}
    # The README keeps the quick start; the reference pages hold most of the examples.
    assert sum(name.startswith("README.md") for name, _ in BLOCKS) >= 5
    assert len(BLOCKS) >= 25
    assert len(pages) >= 6, pages


def test_no_run_markers_stay_rare() -> None:
    marked = sum(p.read_text(encoding="utf-8").count("<!-- no-run:") for p in PAGES)
    assert marked <= 3


@pytest.mark.parametrize("snippet", [code for _, code in BLOCKS], ids=[n for n, _ in BLOCKS])
def test_a_snippet_runs_on_its_own(snippet: str, tmp_path: Path) -> None:
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    run = subprocess.run(
        [sys.executable, "-W", "error", "-c", HARNESS],
        input=snippet,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr[-2000:]
