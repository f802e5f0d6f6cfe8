"""Every replay command vsssim prints runs as printed, and replays its run byte for byte.

Each test runs a command that prints a token or a command (demo and run ``--show-token``,
explore's and fuzz's "Replay it", the state machine's failure, ``vsssim init``), takes what it
printed as a user would copy it, runs that, and compares the output with the first run's.
The pytest plugin's lines are run in ``test_writer_loop`` (they need a child pytest).
"""

from __future__ import annotations

import json
import shlex
import shutil
from pathlib import Path

import pytest

from tests.test_explore import _without_the_set_lock
from tests.test_stateful import AbortMachine
from tests.test_writer_loop import BROKEN
from vsssim.cli.main import main
from vsssim.faults import FaultPlan
from vsssim.host.demo import build_demo_world
from vsssim.host.scenario import AgentSpec
from vsssim.host.scenario_file import load_scenario
from vsssim.sim.choices import encode_token
from vsssim.sim.tokens import read_token
from vsssim.testing.explore import replay_explored
from vsssim.testing.fuzz import fuzz_one
from vsssim.testing.fuzz import replay as fuzz_replay

ROOT = Path(__file__).resolve().parent.parent
EXPLORE = ROOT / "examples" / "explore_2x2x2.toml"
TWO_AGENTS = ROOT / "examples" / "02_two_agents.toml"
TOKEN_LINE = "Replay token: "


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def _split_token(out: str) -> tuple[str, str]:
    """The output without its last line, and the token that line prints."""
    body, _, last = out.rstrip("\n").rpartition("\n")
    assert last.startswith(TOKEN_LINE), last
    return body + "\n", last.removeprefix(TOKEN_LINE)


def _command(line: str, prefix: str) -> list[str]:
    """The argument list of a printed ``vsssim ...`` command, without ``vsssim``."""
    argv = shlex.split(line.partition(prefix)[2])
    assert argv[0] == "vsssim", line
    return argv[1:]


@pytest.mark.parametrize(
    "argv",
    [
        ["demo", "--seed", "3"],
        ["demo", "--seed", "5", "--agents", "3"],
        ["demo", "--restore"],
        ["demo", "--provider", "xp", "--instant-recovery", "--seed", "2"],
        ["run", str(TWO_AGENTS), "--seed", "7"],
        ["run", str(ROOT / "examples" / "03_writer_fails_at_freeze.toml")],
    ],
    ids=["demo", "demo-agents", "restore", "instant-recovery", "run-seed", "run"],
)
def test_a_shown_token_replays_its_run_byte_for_byte(
    capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    status, out, _ = _run(capsys, *argv, "--show-token")
    body, token = _split_token(out)
    assert read_token(token).choices is None and len(token) < 300  # the seed decides the run
    assert _run(capsys, "replay", token) == (status, body, _run(capsys, *argv)[2])
    # JSON: the trace on standard output, the token on standard error
    status, trace, err = _run(capsys, *argv, "--format", "json", "--show-token")
    assert err.endswith(f"{TOKEN_LINE}{token}\n")
    assert _run(capsys, "replay", token, "--format", "json")[:2] == (status, trace)
    # --replay takes the token too, on the command that printed it
    assert _run(capsys, *argv, "--replay", token, "--format", "json")[:2] == (status, trace)


def test_a_replayed_demo_token_carries_its_choices_and_replays_again(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, first, _ = _run(capsys, "demo", "--seed", "4", "--show-token")
    _, seeded = _split_token(first)
    world = build_demo_world(4)
    world.run()
    assert world.recorder is not None
    choices = encode_token(world.recorder.recorded)
    _, out, _ = _run(capsys, "demo", "--replay", choices, "--seed", "4", "--show-token")
    body, token = _split_token(out)
    assert body == _split_token(first)[0]
    assert read_token(token).choices == tuple(world.recorder.recorded)
    assert _run(capsys, "replay", token)[:2] == (0, body)
    assert token != seeded and _run(capsys, "replay", seeded)[:2] == (0, body)


def test_a_scenario_token_checks_the_file_and_finds_it_elsewhere(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    shutil.copyfile(TWO_AGENTS, "mine.toml")
    status, out, _ = _run(capsys, "run", "mine.toml", "--show-token")
    body, token = _split_token(out)
    assert read_token(token).fields["file"] == "mine.toml"
    assert _run(capsys, "replay", token)[:2] == (status, body)
    Path("moved").mkdir()
    Path("mine.toml").rename("moved/mine.toml")
    status2, _, err = _run(capsys, "replay", token)
    assert status2 == 2 and "not a file here" in err and "--scenario" in err
    assert _run(capsys, "replay", token, "--scenario", "moved/mine.toml")[:2] == (status, body)
    with Path("moved/mine.toml").open("a", encoding="utf-8") as file:
        file.write("\n# edited\n")
    status3, out3, err = _run(capsys, "replay", token, "--scenario", "moved/mine.toml")
    assert status3 == 2 and out3 == "" and err.count("\n") == 1
    assert "differs from the one the token ran" in err


def test_the_explore_replay_command_runs_as_printed(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _without_the_set_lock(monkeypatch)
    status, out, _ = _run(capsys, "explore", str(EXPLORE), "--preemption-bound", "none")
    assert status == 1
    [line] = [x for x in out.splitlines() if x.startswith("Replay it: ")]
    argv = _command(line, "Replay it: ")
    assert argv[0] == "replay" and len(argv) == 2
    status, replayed, _ = _run(capsys, *argv)
    assert status == 1 and "one set at a time          VIOLATED" in replayed
    # the narrated counterexample is the replayed run, byte for byte
    told = out.split("Replay it: ", 1)[1].split("\n", 2)[2]
    assert replayed.startswith(told.rstrip("\n"))
    assert _run(capsys, "explore", str(EXPLORE), "--replay", argv[1])[:2] == (1, replayed)
    world = replay_explored(load_scenario(EXPLORE).scenario, argv[1])
    assert _run(capsys, *argv, "--format", "json")[:2] == (1, world.sim.trace.to_jsonl())
    status, text, _ = _run(
        capsys, "explore", str(EXPLORE), "--preemption-bound", "none", "--format", "json"
    )
    [violation, *_] = json.loads(text)["violations"]
    assert violation["replay"] == f"vsssim replay {violation['token']}"
    assert _run(capsys, *shlex.split(violation["replay"])[1:])[:2] == (1, replayed)
    # the token of another --faults is refused on explore --replay, naming the difference
    status, _, err = _run(capsys, "explore", str(EXPLORE), "--faults", "on", "--replay", argv[1])
    assert status == 2 and "faults 'off'" in err


def test_the_fuzz_replay_commands_run_as_printed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("broken writer.py").write_text(BROKEN, encoding="utf-8")
    spec = "broken writer.py:BrokenWriter"
    argv = ["fuzz", "--runs", "3", "--seed", "4", "--writer", spec, "--no-misbehaviour"]
    status, out, _ = _run(capsys, *argv)
    assert status == 1
    [line] = [x for x in out.splitlines() if x.startswith("Replay it:")]
    replay = _command(line, "Replay it:")
    token = read_token(replay[1])
    assert token.kind == "fuzz" and token.choices is None and len(replay[1]) < 300
    assert token.fields["writer"] == spec and token.fields["misbehaviour"] is False
    status, replayed, err = _run(capsys, *replay)
    first = next(x for x in out.splitlines() if x.startswith("  writer bug:"))
    assert status == 1 and f"VIOLATION {first.strip()}" in replayed, err
    # byte for byte: the replayed trace is the fuzzed run's
    index = token.fields["index"]
    assert isinstance(index, int)
    report = fuzz_one(4, index, writer=spec, misbehaviour=False)
    world, again = fuzz_replay(replay[1], writer=spec, misbehaviour=False)
    assert again.trace_hash == report.trace_hash
    _, trace, _ = _run(capsys, *replay, "--format", "json")
    assert trace == world.sim.trace.to_jsonl()
    # without --writer the replay says how to give it, and runs nothing
    status, none, err = _run(capsys, "replay", replay[1])
    assert status == 2 and none == "" and "add --writer" in err and shlex.quote(spec) in err
    [hint] = [x for x in out.splitlines() if "(vsssim replay --file " in x]
    from_file = shlex.split(hint.rpartition("(")[2].removesuffix(")"))
    status, text, _ = _run(capsys, *from_file[1:])
    assert status == 1 and "writer bug:" in text


def test_the_state_machine_replay_command_runs_as_printed(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)  # tests.test_stateful imports from here
    machine = AbortMachine()
    machine.build_world(0)
    found = None
    for n in range(1, 4):
        machine.last_step = f"round {n}"
        try:
            machine.run_round(
                [AgentSpec(machine.next_agent(), ("W1:C0",))],
                _abort_after_freeze(),
            )
            machine.invariants_hold()
        except AssertionError as failure:
            found = str(failure)
            break
    assert found is not None, "the machine's writer bug did not show"
    [line] = [x for x in found.splitlines() if x.startswith("replay it: ")]
    argv = _command(line, "replay it: ")
    assert argv[-2:] == ["--machine", "tests.test_stateful:AbortMachine"]
    status, out, err = _run(capsys, *argv)
    assert status == 1 and "The state machine fails:" in out
    assert found in out  # the same failure, token and all
    status, trace, _ = _run(capsys, *argv, "--format", "json")
    assert status == 1 and trace == machine.world.sim.trace.to_jsonl()
    status, _, err = _run(capsys, *argv[:2])
    assert status == 2 and "add --machine tests.test_stateful:AbortMachine" in err


def _abort_after_freeze() -> FaultPlan:
    """A fault after the freeze, so the backup aborts with the writers frozen."""
    return FaultPlan.forced("writer-retryable", "*.OnThaw")


def test_init_prints_a_run_command_that_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    status, out, _ = _run(capsys, "init", "my scenario.toml")
    assert status == 0
    argv = _command(out.split("(")[0], "Edit it, then: ")
    assert _run(capsys, *argv)[0] == 0


def test_examples_prints_a_run_command_that_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    status, out, _ = _run(capsys, "examples", "my lessons")
    assert status == 0
    [line] = [x for x in out.splitlines() if x.startswith("Run one: ")]
    assert _run(capsys, *_command(line, "Run one: "))[0] == 0


@pytest.mark.parametrize(
    "argv",
    [
        ["replay", "v1.eNpjZGIGAAANAAc"],
        ["demo", "--replay", "v1.eNpjZGIGAAANAAc"],
        ["run", str(TWO_AGENTS), "--replay", "v1.eNpjZGIGAAANAAc"],
        ["explore", str(EXPLORE), "--replay", "v1.eNpjZGIGAAANAAc"],
    ],
    ids=["replay", "demo", "run", "explore"],
)
def test_an_old_token_is_refused_at_every_door_naming_who_made_it(
    capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    status, out, err = _run(capsys, *argv)
    assert status == 2 and out == "" and err.count("\n") == 1
    assert "token format v1, which vsssim 0.1.0 and earlier wrote" in err


def test_a_token_of_another_run_is_refused_naming_both(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = _run(capsys, "demo", "--seed", "3", "--agents", "2", "--show-token")
    _, token = _split_token(out)
    status, _, err = _run(capsys, "run", str(TWO_AGENTS), "--replay", token)
    assert status == 2 and "a run of vsssim demo, not a run of vsssim run" in err
    status, _, err = _run(capsys, "demo", "--replay", token)
    assert status == 2 and "agents 2, this one 1" in err
    status, _, err = _run(capsys, "replay", token, "--scenario", str(TWO_AGENTS))
    assert status == 2 and "--scenario is for a scenario file's token" in err
