"""Command output fit for CI and people: Ctrl-C, progress on terminals only, reasons on stderr."""

from __future__ import annotations

import importlib
import io
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ctrl_c_after
from vsssim.cli.main import main
from vsssim.cli.progress import Progress
from vsssim.cli.reports import human_size
from vsssim.host.scenario_file import load_scenario
from vsssim.testing.explore import ExploreOptions, ExploreStatus, explore
from vsssim.vss.constants import Context
from vsssim.vss.coordinator.service import SnapshotSet
from vsssim.vss.coordinator.session import BackupComponents, Coordinator

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "explore_2x2x2.toml"
#: The module (``vsssim.cli.main`` the name is the function the package exports).
cli = importlib.import_module("vsssim.cli.main")
#: The explore command's module, whose ``explore`` a test replaces.
explore_cli = importlib.import_module("vsssim.cli.explore")


def _without_the_set_lock(monkeypatch: pytest.MonkeyPatch) -> None:
    """A deliberately broken coordinator: StartSnapshotSet never refuses a second set."""

    def lock(self: Coordinator, owner: BackupComponents, context: Context) -> SnapshotSet:
        snapshot_set = SnapshotSet(self.new_id("snapshot-set"), owner, context)
        self.creating = snapshot_set
        return snapshot_set

    monkeypatch.setattr(Coordinator, "lock_set", lock)


def _ctrl_c_after(runs: int) -> Any:
    def progress(status: ExploreStatus) -> None:
        if status.runs == runs:
            raise KeyboardInterrupt

    return progress


def test_ctrl_c_ends_an_exploration_with_the_runs_finished_so_far() -> None:
    scenario = load_scenario(EXAMPLE).scenario
    report = explore(scenario, progress=_ctrl_c_after(7))
    assert report.interrupted and not report.exhausted
    assert report.runs == 7 == report.complete_runs + report.pruned_runs
    assert any("interrupted after 7 runs" in line for line in report.bounds)
    whole = explore(scenario, ExploreOptions(max_runs=7))
    assert not whole.interrupted and whole.runs == 7


def test_ctrl_c_in_vsssim_explore_prints_the_partial_report_and_exits_130(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _without_the_set_lock(monkeypatch)
    real = explore_cli.explore

    def interrupted(*args: Any, **kwargs: Any) -> Any:
        kwargs["progress"] = _ctrl_c_after(400)
        return real(*args, **kwargs)

    monkeypatch.setattr(explore_cli, "explore", interrupted)
    argv = ["explore", str(EXAMPLE), "--preemption-bound", "none", "--no-reduction"]
    assert main(argv) == 130
    captured = capsys.readouterr()
    assert "(interrupted after 400 runs)" in captured.out
    assert "runs explored:    400 " in captured.out
    assert "Shortest counterexample" in captured.out and "vsssim replay " in captured.out
    assert captured.err == "vsssim: interrupted\n"


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_drawn_on_a_terminal_only() -> None:
    redirected = io.StringIO()
    quiet = Progress(5, stream=redirected)
    quiet.update(1, force=True)
    quiet.done()
    assert redirected.getvalue() == ""
    terminal = _Terminal()
    shown = Progress(5, stream=terminal, bar=False)
    shown.update(1, "0 failing", force=True)
    shown.update(2)  # within the redraw interval: skipped
    shown.done()
    assert terminal.getvalue() == "\r  1/5 runs, 0 failing\033[K\n"


def test_a_line_written_during_progress_goes_above_it_and_always_reaches_the_stream() -> None:
    redirected = io.StringIO()
    quiet = Progress(5, stream=redirected)
    quiet.write("seed 1: 5 runs")
    assert redirected.getvalue() == "seed 1: 5 runs\n"
    terminal = _Terminal()
    shown = Progress(None, "runs", stream=terminal, bar=False)
    shown.update(3, force=True)
    shown.write("seed 1: 3 runs")
    assert terminal.getvalue() == "\r  3 runs\033[K\r\033[Kseed 1: 3 runs\n"


def test_the_tqdm_bar_shows_the_rate_and_the_time_left() -> None:
    pytest.importorskip("tqdm", reason="the progress extra is not installed")
    terminal = _Terminal()
    shown = Progress(200, stream=terminal)
    for done in (50, 100, 200):
        shown.update(done, "0 failing", force=True)
    drawn = terminal.getvalue()
    shown.done()
    assert "100/200" in drawn and "0 failing" in drawn
    assert "runs/s" in drawn  # the rate
    assert "<" in drawn  # elapsed<left, tqdm's time left


def _vsssim(*argv: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vsssim", *argv],
        capture_output=True,
        text=True,
        cwd=cwd,
        check=False,
        timeout=300,
    )


def test_a_redirected_fuzz_or_explore_prints_no_progress(tmp_path: Path) -> None:
    fuzzed = _vsssim("fuzz", "--runs", "30", "--seed", "3", "--out", str(tmp_path))
    assert fuzzed.returncode == 0 and fuzzed.stderr == ""
    explored = _vsssim("explore", str(EXAMPLE), "--max-runs", "50")
    assert explored.returncode == 0 and explored.stderr == ""


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_a_run_that_exits_1_says_why_on_stderr_in_every_format(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fmt: str
) -> None:
    lesson = (ROOT / "examples" / "03_writer_fails_at_freeze.toml").read_text()
    wrong = tmp_path / "wrong.toml"
    wrong.write_text(lesson.replace('expect = "failed"', 'expect = "succeeded"'))
    assert main(["run", str(wrong), "--format", fmt]) == 1
    err = capsys.readouterr().err
    assert err == "vsssim: backup-agent: expected succeeded, got failed\n"


def test_explore_that_finds_a_violation_says_so_on_stderr(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _without_the_set_lock(monkeypatch)
    assert main(["explore", str(EXAMPLE), "--preemption-bound", "none"]) == 1
    captured = capsys.readouterr()
    [line] = captured.err.splitlines()
    assert line.startswith("vsssim: ") and line.endswith(" violating runs")
    token = captured.out.split("vsssim replay ", 1)[1].split()[0]
    assert main(["explore", str(EXAMPLE), "--replay", token]) == 1
    assert capsys.readouterr().err == "vsssim: an invariant was violated\n"
    assert main(["explore", str(EXAMPLE), "--replay", token, "--wide"]) == 1
    assert capsys.readouterr().err == "vsssim: an invariant was violated\n"


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "no-such-file.toml"],
        ["explore", "no-such-file.toml"],
        ["init", "/no/such/folder/x.toml"],
        ["writers", "--xml", "NoSuchWriter"],
        ["graph", "nope"],
        ["demo", "--agents", "2", "--restore"],
        ["demo", "--replay", "not-a-token"],
        ["fuzz", "--out", "/no/such/folder"],
        ["replay"],
        ["replay", "not-a-token"],
    ],
)
def test_every_command_refusing_its_input_says_why_in_one_line(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("vsssim: error: ") and err.count("\n") == 1, err


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (0, "0 bytes"),
        (1023, "1023 bytes"),
        (1024, "1.00 KiB"),
        (2752512, "2.62 MiB"),
        (1582301184, "1.47 GiB"),
        (3 * 1024**4, "3.00 TiB"),
        (5 * 1024**5, "5120.00 TiB"),
    ],
)
def test_sizes_are_told_in_the_largest_unit_they_fill(size: int, text: str) -> None:
    assert human_size(size) == text


def test_a_backup_of_a_few_mebibytes_is_not_reported_as_zero_gibibytes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    main(["run", str(ROOT / "examples" / "01_seven_phases.toml")])
    copied = [line for line in capsys.readouterr().out.splitlines() if "files copied:" in line]
    assert copied and not any("0.00 GiB" in line for line in copied)


@pytest.mark.parametrize(
    "command",
    [[], *([c] for c in ("demo", "run", "explore", "init", "examples", "writers", "graph", "fuzz",
                         "replay", "serve"))],
)  # fmt: skip
def test_help_ends_with_examples_that_parse_and_the_exit_statuses(
    command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*command, "--help"]) == 0
    out = capsys.readouterr().out
    examples, statuses = out.split("\nexamples:\n", 1)[1].split("\n\nexit status:\n")
    codes = [line.split()[0] for line in statuses.splitlines()]
    assert codes == ["0", "1", "2", str(cli.INTERNAL_ERROR), str(cli.INTERRUPTED)]
    parser = cli.build_parser()
    for example in examples.splitlines():
        for part in example.split("&&"):
            argv = part.split(">")[0].split("|")[0].split("(")[0].split()  # only vsssim's
            assert argv[0] == "vsssim"
            parser.parse_args(argv[1:])


@pytest.mark.parametrize("argv", [["demo"], ["demo", "--restore"], ["run", str(EXAMPLE)]])
def test_wide_text_cuts_no_line_and_changes_nothing_else(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    main(argv)
    cut = capsys.readouterr().out
    main([*argv, "--wide"])
    wide = capsys.readouterr().out
    cut_lines, wide_lines = cut.splitlines(), wide.splitlines()
    assert len(cut_lines) == len(wide_lines) and wide != cut
    for short, full in zip(cut_lines, wide_lines, strict=True):
        if short.startswith("  time:"):
            continue  # wall-clock seconds
        assert short == full or (short.endswith("...") and full.startswith(short[:-3]))


def test_a_real_ctrl_c_stops_vsssim_explore_with_its_report_and_no_traceback() -> None:
    explore_all = [
        *("explore", str(EXAMPLE), "--faults", "on", "--preemption-bound", "none"),
        "--no-fingerprints",
        "--no-reduction",
    ]
    # Long enough to start and explore some runs; the search takes far longer.
    done = ctrl_c_after(5, *explore_all)
    out, err = done.stdout, done.stderr
    assert done.returncode == 130, err
    assert err == "vsssim: interrupted\n"
    assert "(interrupted after " in out.splitlines()[0] and "the search is incomplete" in out


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
def test_fuzz_on_a_terminal_shows_its_progress_and_still_prints_its_summary(
    tmp_path: Path,
) -> None:
    pytest.importorskip("tqdm", reason="the progress extra is not installed")
    import fcntl
    import pty
    import select
    import struct
    import termios

    main_fd, terminal_fd = pty.openpty()
    # A new pseudo-terminal is 0 columns wide: give it a real terminal's size.
    fcntl.ioctl(terminal_fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    drawn = b""
    try:
        child = subprocess.Popen(
            [sys.executable, "-m", "vsssim", "fuzz", "--runs", "40", "--out", str(tmp_path)],
            stdout=subprocess.PIPE,
            stderr=terminal_fd,
            cwd=ROOT,
        )
        # Read the terminal while the child runs (its buffer is small), then what is left.
        while child.poll() is None or select.select([main_fd], [], [], 0)[0]:
            if select.select([main_fd], [], [], 0.05)[0]:
                drawn += os.read(main_fd, 65536)
        out = child.stdout.read().decode() if child.stdout is not None else ""
    finally:
        os.close(terminal_fd)
        os.close(main_fd)
    assert child.returncode == 0
    assert "vsssim fuzz: seed 0, 40 runs" in out and "runs/s" not in out
    shown = drawn.decode(errors="replace")
    assert "/40" in shown and "runs/s" in shown  # the count of the total and the rate
