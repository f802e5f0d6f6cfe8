"""Same seed, same trace, across processes; replay tokens; the command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from vsssim import HResult, ReplayError
from vsssim.cli.main import main
from vsssim.host.demo import build_demo_world
from vsssim.render.text import PHASE_TITLES
from vsssim.sim import vocabulary as V
from vsssim.sim.choices import SequenceChoices, decode_token

ROOT = Path(__file__).resolve().parents[1]


def _cli(*args: str, hashseed: str = "0") -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONHASHSEED=hashseed, PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, "-m", "vsssim", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=False,
    )


def test_demo_json_is_byte_identical_across_processes_with_different_hash_seeds() -> None:
    first = _cli("demo", "--format", "json", "--seed", "3", hashseed="1")
    second = _cli("demo", "--format", "json", "--seed", "3", hashseed="2")
    assert first.returncode == 0 and second.returncode == 0, first.stderr
    assert first.stdout == second.stdout
    lines = first.stdout.splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["seq"] for r in records] == list(range(len(records)))
    assert all(
        line == json.dumps(r, sort_keys=True, separators=(",", ":"))
        for line, r in zip(lines, records, strict=True)
    )
    assert {"seq", "time_us", "phase", "actor", "action", "details"} == set(records[0])
    other = _cli("demo", "--format", "json", "--seed", "4")
    assert other.stdout != first.stdout


def test_a_token_replays_the_run_byte_for_byte() -> None:
    world = build_demo_world(seed=12)
    world.run()
    token = world.token()
    replayed = build_demo_world(choices=SequenceChoices(decode_token(token)))
    replayed.run()
    assert replayed.sim.trace.to_jsonl() == world.sim.trace.to_jsonl()
    assert replayed.token() == token
    # A token that does not belong to the run is caught, not silently replayed.
    with pytest.raises(ReplayError):
        build_demo_world(choices=SequenceChoices(decode_token(token)[:40])).run()


def test_text_narrates_the_seven_phases_in_order_then_a_summary(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["demo", "--seed", "2"]) == 0
    out = capsys.readouterr().out
    headings = [line for line in out.splitlines() if line.startswith("Phase ")]
    assert [h.split(":")[0] for h in headings] == [f"Phase {n}" for n in range(1, 8)]
    assert headings[4] == f"Phase 5: {PHASE_TITLES[5]}"
    assert "After phase 7" in out
    assert "copied data equals the data at the snapshot instant" in out
    assert "7 of 7 VSS_WS_STABLE" in out
    for step in (V.ON_FREEZE, V.HOLD_WRITES, V.COMMIT_SNAPSHOTS, V.RELEASE_WRITES, V.ON_THAW):
        assert step in out


def test_bad_arguments_give_a_one_line_error_and_no_traceback() -> None:
    bad = _cli("demo", "--seed", "many")
    assert bad.returncode == 2
    assert "Traceback" not in bad.stderr
    assert bad.stderr.startswith("vsssim: error: argument --seed: 'many' is not a whole number")
    assert bad.stderr.count("\n") == 1
    unknown = _cli("frobnicate")
    assert unknown.returncode == 2 and "Traceback" not in unknown.stderr
    assert unknown.stderr.startswith("vsssim: error: ") and unknown.stderr.count("\n") == 1


def test_python_dash_m_runs_the_demo() -> None:
    done = _cli("demo", "--seed", "1")
    assert done.returncode == 0, done.stderr
    assert "Phase 7:" in done.stdout


def test_examples_run() -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    for example in sorted((ROOT / "examples").glob("*.py")):
        done = subprocess.run(
            [sys.executable, str(example)], capture_output=True, text=True, env=env, check=False
        )
        assert done.returncode == 0, f"{example.name}: {done.stderr}"
        assert done.stdout.strip()


def test_writers_are_listed_like_vssadmin(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["writers", "--seed", "1"]) == 0
    out = capsys.readouterr().out
    blocks = [b for b in out.split("\n\n") if b.strip()]
    assert len(blocks) == 7
    sql = next(b for b in blocks if "'SqlServerWriter'" in b)
    assert "Writer Id: {a65faa63-5ea8-4ebc-9dbd-a0c4db26912a}" in sql
    assert "State: [1] Stable" in sql and "Last error: No error" in sql


def test_a_failed_writer_is_listed_with_its_state_number_and_error() -> None:
    from vsssim.cli.reports import list_writers

    from .conftest import small_world
    from .test_requester_api import FailingWriter

    writer = FailingWriter("OnFreeze", HResult.VSS_E_WRITERERROR_NONRETRYABLE)
    world = small_world(0, db_writer=writer)
    world.add_agent("agent", ["TestDbWriter:Inst\\Db"])
    world.run()
    listing = list_writers(world)
    assert "State: [9] Failed" in listing
    assert "Last error: Non-retryable error" in listing
