"""The lessons ship inside the wheel, and ``vsssim examples DIR`` copies them out to run."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from vsssim.cli.examples import lesson_files

ROOT = Path(__file__).resolve().parents[1]
LESSONS = lesson_files(ROOT / "examples")


def vsssim(
    *args: str, cwd: Path, pythonpath: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    return subprocess.run(
        [sys.executable, "-m", "vsssim", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env=env,
    )


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheel built from this checkout, the way pip builds one to install."""
    out = tmp_path_factory.mktemp("wheel")
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-q", "-w", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stderr
    (built,) = out.glob("vsssim-*.whl")
    return built


def test_the_lessons_and_their_metadata_are_what_is_copied() -> None:
    assert "01_seven_phases.toml" in LESSONS
    assert "metadata/SqlServerWriter.xml" in LESSONS
    assert all(name.endswith((".toml", ".xml")) for name in LESSONS)


def test_the_wheel_holds_the_lessons_and_the_type_marker(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "vsssim/py.typed" in names
    shipped = {n.removeprefix("vsssim/examples/") for n in names if "/examples/" in n}
    assert shipped == set(LESSONS)
    assert not [n for n in names if n.startswith(("examples/", "tests/", "benchmarks/"))]


def test_examples_from_the_wheel_are_copied_out_and_run(wheel: Path, tmp_path: Path) -> None:
    installed = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(installed)
    copied = vsssim("examples", "lessons/mine", cwd=tmp_path, pythonpath=installed)
    assert copied.returncode == 0, copied.stderr
    out = tmp_path / "lessons" / "mine"
    for name, source in LESSONS.items():
        assert (out / name).read_bytes() == source.read_bytes()
        assert f"Wrote {Path('lessons/mine') / name}" in copied.stdout
    # Lesson 6 loads metadata/SqlServerWriter.xml relative to itself: the copy must find it.
    run = vsssim("run", str(out / "06_captured_metadata.toml"), cwd=tmp_path, pythonpath=installed)
    assert run.returncode == 0, run.stderr
    assert "SqlServerWriter" in run.stdout


def test_examples_from_a_checkout_are_copied_too(tmp_path: Path) -> None:
    copied = vsssim("examples", str(tmp_path / "out"), cwd=ROOT)
    assert copied.returncode == 0, copied.stderr
    assert sorted(
        str(p.relative_to(tmp_path / "out")) for p in (tmp_path / "out").rglob("*") if p.is_file()
    ) == list(LESSONS)
    run = vsssim("run", str(tmp_path / "out" / "01_seven_phases.toml"), cwd=tmp_path)
    assert run.returncode == 0, run.stderr


def test_nothing_is_overwritten(tmp_path: Path) -> None:
    (tmp_path / "02_two_agents.toml").write_text("mine\n", encoding="utf-8")
    copied = vsssim("examples", str(tmp_path), cwd=ROOT)
    assert copied.returncode == 2
    assert copied.stdout == ""
    assert len(copied.stderr.splitlines()) == 1
    assert "02_two_agents.toml exists already" in copied.stderr
    assert (tmp_path / "02_two_agents.toml").read_text(encoding="utf-8") == "mine\n"
    assert [p.name for p in tmp_path.iterdir()] == ["02_two_agents.toml"]


def test_a_file_in_the_way_is_an_error_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("", encoding="utf-8")
    copied = vsssim("examples", str(tmp_path / "taken"), cwd=ROOT)
    assert (copied.returncode, copied.stdout) == (2, "")
    assert copied.stderr.startswith("vsssim: error: ") and len(copied.stderr.splitlines()) == 1
