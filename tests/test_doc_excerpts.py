"""The output excerpts of the tutorials are what the lessons print: every line of each excerpt
(``...`` apart) is a line of its command's output, in the same order."""

from __future__ import annotations

import contextlib
import io
import re
import shlex
from pathlib import Path

import pytest

from vsssim.cli.main import main

ROOT = Path(__file__).resolve().parent.parent
TUTORIALS = sorted((ROOT / "docs" / "tutorials").glob("[0-9]*.md"))
EXCERPT = re.compile(r'```text title="(vsssim [^"]+)"\n(.*?)```', re.S)


def _excerpts() -> list[tuple[str, str, list[str]]]:
    found = []
    for page in TUTORIALS:
        for command, body in EXCERPT.findall(page.read_text(encoding="utf-8")):
            lines = [line for line in body.splitlines() if line != "..."]
            found.append((page.name, command, lines))
    return found


EXCERPTS = _excerpts()


def test_every_lesson_has_a_page_with_an_excerpt() -> None:
    lessons = sorted(p.name for p in (ROOT / "examples").glob("0*.toml"))
    commands = [command for _, command, _ in EXCERPTS]
    assert commands == [f"vsssim run examples/{name}" for name in lessons]


@pytest.mark.parametrize(("page", "command", "lines"), EXCERPTS, ids=[p for p, _, _ in EXCERPTS])
def test_an_excerpt_is_what_its_lesson_prints(
    page: str, command: str, lines: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(shlex.split(command)[1:]) == 0
    printed = out.getvalue().splitlines()
    position = 0
    for line in lines:
        assert line in printed[position:], f"{page}: not printed (in this order): {line}"
        position = printed.index(line, position) + 1
