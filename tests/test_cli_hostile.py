"""The command line against hostile input: every bad value gives one line on standard error
(``vsssim: error: ...``) and a non-zero status, never a traceback, and nothing runs first."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import vsssim.cli.fuzz as cli_fuzz
from vsssim.cli.main import INTERNAL_ERROR, main
from vsssim.host.replay_origins import demo_origin
from vsssim.sim.tokens import ReplayToken
from vsssim.testing.fuzz import fuzz_token

from .planted_crashes import ESCAPING

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = str(ROOT / "examples" / "01_seven_phases.toml")


def _one_error_line(capsys: pytest.CaptureFixture[str], argv: list[str], status: int = 2) -> str:
    assert main(argv) == status
    captured = capsys.readouterr()
    assert captured.err.startswith("vsssim: error: "), captured.err
    assert captured.err.count("\n") == 1, captured.err
    assert "Traceback" not in captured.err
    return captured.err


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["fuzz", "--runs", str(10**30)], "out of range (give from 1 to 1000000000)"),
        (["fuzz", "--runs", "0"], "out of range"),
        (["fuzz", "--runs", "-5"], "out of range"),
        (["fuzz", "--runs", "many"], "'many' is not a whole number"),
        (["fuzz", "--jobs", "0"], "argument --jobs"),
        (["fuzz", "--seed", "-1"], "argument --seed"),
        (["fuzz", "--seed", "9" * 5000], "is not a whole number"),
        (["fuzz", "--runs", "1", "--writer", ":X"], "':X' is not module:Class"),
        (["fuzz", "--runs", "1", "--writer", "x:"], "'x:' is not module:Class"),
        (["fuzz", "--runs", "1", "--writer", "nosuchmod:X"], "cannot load writer"),
        (["fuzz", "--runs", "1", "--writer", "..x:X"], "cannot load writer"),
        (["fuzz", "--runs", "1", "--writer", "os:path"], "not a subclass of vsssim.Writer"),
        (["fuzz", "--runs", "1", "--out", "/no/such/folder"], "is not an existing folder"),
        (["fuzz", "--runs", "1", "--out", EXAMPLE], "is not an existing folder"),
        (["explore", EXAMPLE, "--preemption-bound", "abc"], "'abc' is not a whole number"),
        (["explore", EXAMPLE, "--preemption-bound", "-1"], "or 'none'"),
        (["explore", EXAMPLE, "--max-runs", "0"], "argument --max-runs"),
        (["explore", EXAMPLE, "--max-choices", "-3"], "argument --max-choices"),
        (["explore", "/no/such.toml"], "does not exist"),
        (["demo", "--agents", "0"], "argument --agents"),
        (["demo", "--agents", "99"], "argument --agents"),
        (["writers", "--agents", "-1"], "argument --agents"),
        (["run", "/no/such.toml"], "does not exist"),
        (["run", str(ROOT)], "is not a regular file"),
        (["run", "/dev/zero"], "is not a regular file"),
        (["init", "/no/such/folder/x.toml"], "the folder '/no/such/folder' does not exist"),
        (["init", EXAMPLE], "exists already"),
        (["replay"], "give a replay TOKEN or --file"),
        (["replay", "v1.AAAA", "--file", EXAMPLE], "give a replay TOKEN or --file"),
        (["replay", "garbage"], "not a vsssim replay token"),
        (["replay", "--file", str(ROOT)], "is not a regular file"),
        (["replay", "--file", "/no/such.json"], "does not exist"),
        (["graph", "nosuchmachine"], "argument machine"),
        (["frobnicate"], "argument COMMAND"),
        ([], "COMMAND"),
    ],
)
def test_a_bad_argument_is_one_line(
    capsys: pytest.CaptureFixture[str], argv: list[str], says: str
) -> None:
    assert says in _one_error_line(capsys, argv)


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"[1, 2, 3]", "a JSON list, not an object"),
        (b"[" * 100_000 + b"]" * 100_000, "not a vsssim failure file"),
        (b'{"seed": 1}', "no key 'scenario'"),
        (b'{"scenario": {}}', "no key 'seed'"),
        (b'{"seed": "12", "scenario": {}}', "'seed' is '12', not a whole number"),
        (b'{"seed": true, "scenario": {}}', "not a whole number"),
        (b'{"seed": 1, "scenario": [], "writer": null}', "'scenario' is not an object"),
        (b'{"seed": 1, "scenario": {}, "writer": 5}', "'writer' is 5"),
        (b'{"seed": 1, "scenario": {"agents": 7}}', "not a vsssim failure file"),
        (bytes(range(256)) * 4, "not a vsssim failure file"),
    ],
)
def test_a_bad_failure_file_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, says: str
) -> None:
    path = tmp_path / "failure.json"
    path.write_bytes(content)
    assert says in _one_error_line(capsys, ["replay", "--file", str(path)])


def test_a_huge_failure_file_is_refused_unread(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "huge.json"
    with path.open("wb") as file:
        file.truncate(64 * 1024 * 1024)  # sparse: costs no disk
    assert "too large: a failure file has at most" in _one_error_line(
        capsys, ["replay", "--file", str(path)]
    )


def test_a_bad_out_folder_is_refused_before_the_campaign_starts(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    def no_campaign(*args: object, **kwargs: object) -> None:
        raise AssertionError("the campaign started")

    monkeypatch.setattr(cli_fuzz, "campaign", no_campaign)
    missing = str(tmp_path / "missing")
    _one_error_line(capsys, ["fuzz", "--runs", "5", "--out", missing])


def test_too_many_jobs_are_cut_to_the_cpu_count_and_said(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["fuzz", "--runs", "2", "--jobs", "5000"]) == 0
    captured = capsys.readouterr()
    cpus = os.cpu_count() or 1
    assert f"vsssim: note: --jobs 5000 cut to {cpus}, the number of CPUs" in captured.err
    assert captured.out.startswith(f"vsssim fuzz: seed 0, 2 runs, {cpus} job(s)")


def test_a_crashing_writer_is_reported_and_the_printed_replay_command_runs(
    tmp_path: Path,
) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT))

    def vsssim(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "vsssim", *argv],
            capture_output=True,
            text=True,
            env=env,
            cwd=ROOT,
            check=False,
            timeout=120,
        )

    fuzzed = vsssim(
        "fuzz", "--runs", "10", "--seed", "5", "--writer", ESCAPING, "--out", str(tmp_path)
    )
    assert fuzzed.returncode == 1, fuzzed.stderr
    assert "Traceback" not in fuzzed.stderr
    out = fuzzed.stdout
    assert "crash: the run raised PlantedEscape" in out and out.count("Crashes: ") == 1
    [command] = [
        line.split(":", 1)[1] for line in out.splitlines() if line.startswith("Replay it:")
    ]
    argv = shlex.split(command)
    assert argv[:2] == ["vsssim", "replay"] and argv[-2:] == ["--writer", ESCAPING]
    replayed = vsssim(*argv[1:])
    assert replayed.returncode == 1
    assert "the replayed run crashed (PlantedEscape)" in replayed.stderr
    [path] = tmp_path.glob("vsssim-failure-*.json")
    assert json.loads(path.read_text())["writer"] == ESCAPING
    again = vsssim("replay", "--file", str(path), "--writer", ESCAPING)
    assert again.returncode == 1 and "PlantedEscape" in again.stderr


# -- the parser, fed generated argument lists ------------------------------------------------

_COMMANDS = ["demo", "run", "explore", "init", "writers", "graph", "fuzz", "replay", "nope"]
_FLAGS = [
    "--seed", "--agents", "--format", "--replay", "--show-token", "--restore", "--provider",
    "--instant-recovery", "--max-choices", "--preemption-bound", "--faults", "--max-runs",
    "--xml", "--jobs", "--writer", "--no-misbehaviour", "--out", "--file", "--help", "-h",
    "--machine", "--scenario", "--wide", "--chunk-runs",
]  # fmt: skip
BASE = "vsssim.testing.stateful:WriterProtocolMachine"
#: Tokens of each kind that runs quickly (the generated lists may give them to any command).
_TOKENS = [
    demo_origin(1).encode(),
    fuzz_token(1, 0),
    fuzz_token(1, 0, writer="vsssim:Writer", misbehaviour=False),
    ReplayToken(
        "stateful",
        {"machine": BASE, "seed": 0, "steps": [{"rule": "build_world", "args": {"seed": 0}}]},
    ).encode(),
]
_VALUES = st.one_of(
    st.sampled_from(
        ["0", "1", "-1", "3", "abc", "none", "", "1e9", str(10**30), "json", "xp", "on",
         ":X", "x:", "vsssim:Writer", "/dev/zero", "/no/such", "v1.", "v1.eNpjYAAAAAQAAQ",
         "coordinator", "writer", "text", "mermaid", "SqlServerWriter", *_TOKENS]
    ),
    st.text(max_size=12),
)  # fmt: skip
_ARG = st.one_of(st.sampled_from(_FLAGS), _VALUES)


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(command=st.sampled_from(_COMMANDS), rest=st.lists(_ARG, max_size=6))
def test_generated_argument_lists_never_raise(
    tmp_path: Path, command: str, rest: list[str]
) -> None:
    argv = [command, *rest]
    if command == "fuzz":  # keep it cheap: a campaign of at most 3 runs
        argv += ["--runs", "2", "--out", str(tmp_path)]
    if command == "explore":
        argv += ["--max-runs", "2"]
    if command == "init":
        argv = [command, str(tmp_path / "starter.toml"), *rest]
    try:
        status = main(argv)
    except SystemExit as done:  # --help, and argparse's own exits
        status = done.code if isinstance(done.code, int) else 2
    assert isinstance(status, int) and status in (0, 1, 2)
    assert status != INTERNAL_ERROR
    if command == "init":
        (tmp_path / "starter.toml").unlink(missing_ok=True)


def test_a_machine_readable_run_that_exits_1_says_why_on_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from vsssim.cli.main import main

    lesson = (ROOT / "examples" / "03_writer_fails_at_freeze.toml").read_text()
    wrong = tmp_path / "wrong.toml"
    wrong.write_text(lesson.replace('expect = "failed"', 'expect = "succeeded"'))
    assert main(["run", str(wrong), "--format", "json"]) == 1
    err = capsys.readouterr().err
    assert err.strip() == "vsssim: backup-agent: expected succeeded, got failed"
