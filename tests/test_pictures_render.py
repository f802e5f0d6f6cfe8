"""The pictures render with the real tools people use: Graphviz's ``dot`` and mermaid-cli
(``mmdc``, with a Chromium). Where a tool is missing the test says so and skips: install them
with Debian's ``graphviz`` and ``chromium`` and npm's ``@mermaid-js/mermaid-cli`` (with
``PUPPETEER_SKIP_DOWNLOAD=1``)."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from vsssim.host.demo import build_demo_world
from vsssim.render.diagrams import MACHINES, render_machine
from vsssim.render.sequence import render_mermaid

#: The page width the pictures must read at.
PAGE_PX = 1200


def _png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    width, height = struct.unpack(">II", header[16:24])
    return width, height


def test_every_state_diagram_renders_with_graphviz(tmp_path: Path) -> None:
    """``dot`` draws every machine, summary and full, with no warning on stderr."""
    dot = shutil.which("dot")
    if dot is None:
        pytest.skip("Graphviz's dot is not installed: apt-get install graphviz")
    for machine in sorted(MACHINES):
        for full in (False, True):
            out = tmp_path / f"{machine}-{full}.png"
            done = subprocess.run(
                [dot, "-Tpng", "-o", str(out)],
                input=render_machine(machine, "dot", full=full),
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            assert done.returncode == 0 and not done.stderr.strip(), (machine, done.stderr)
            assert min(_png_size(out)) > 50


def test_mermaid_cli_renders_the_writer_summary_and_a_chosen_sequence_at_page_width(
    tmp_path: Path,
) -> None:
    """mermaid-cli draws the writer machine's summary and the demo's sequence diagram limited
    to the agent, one writer and the volumes, each at most a page wide (one browser run)."""
    mmdc, chromium = shutil.which("mmdc"), shutil.which("chromium")
    if mmdc is None or chromium is None:
        pytest.skip(
            "mermaid-cli (npm @mermaid-js/mermaid-cli) or Chromium (apt chromium) is missing"
        )
    world = build_demo_world(1)
    world.run()
    sequence = render_mermaid(world.sim.trace, participants=["agents", "SqlServerWriter"])
    source = tmp_path / "pictures.md"
    source.write_text(
        "\n".join(
            f"```mermaid\n{text}```\n"
            for text in (render_machine("writer", "mermaid", full=False), sequence)
        ),
        encoding="utf-8",
    )
    config = tmp_path / "puppeteer.json"
    config.write_text(json.dumps({"executablePath": chromium, "args": ["--no-sandbox"]}))
    command = [mmdc, "-p", str(config), "-i", str(source), "-o", str(tmp_path / "out.md")]
    done = subprocess.run(
        [*command, "-e", "png", "-w", str(PAGE_PX)],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    pictures = sorted(tmp_path.glob("out-*.png"))
    assert len(pictures) == 2, done.stdout
    for picture in pictures:
        width, height = _png_size(picture)
        assert 300 < width <= PAGE_PX and height > 100, (picture.name, width, height)
