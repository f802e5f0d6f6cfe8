"""The summaries for programs: ``vsssim fuzz --format json`` and ``--format summary`` of
``vsssim demo`` and ``vsssim run`` say what the text says, as one JSON object."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vsssim.cli.main import main
from vsssim.cli.summaries import FUZZ_JSON_SCHEMA, RUN_JSON_SCHEMA
from vsssim.testing.fuzz import campaign
from vsssim.testing.invariants import INVARIANTS

from .planted_crashes import RAISING

ROOT = Path(__file__).resolve().parents[1]


def _json_of(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, dict, str]:
    status = main(argv)
    captured = capsys.readouterr()
    return status, json.loads(captured.out), captured.err


def test_fuzz_json_holds_the_campaign_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["fuzz", "--runs", "40", "--seed", "4", "--out", str(tmp_path), "--format", "json"]
    status, document, err = _json_of(capsys, argv)
    summary = campaign(4, 40)
    assert status == 0 and err == ""
    assert document["schema"] == FUZZ_JSON_SCHEMA
    assert document["runs"] == document["requested_runs"] == summary.runs == 40
    assert document["outcomes"] == dict(summary.outcomes)
    assert document["fault_runs"] == dict(summary.fault_runs)
    assert document["probes"] == dict(summary.probes)
    assert document["planted"] == summary.planted and document["caught"] == summary.caught
    assert document["failures"] == [] and document["first_failure"] is None
    assert document["interrupted"] is False


def test_fuzz_json_names_the_first_failure_its_replay_command_and_its_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["fuzz", "--runs", "10", "--seed", "5", "--writer", RAISING, "--out", str(tmp_path)]
    status, document, err = _json_of(capsys, [*argv, "--format", "json"])
    assert status == 1 and err.startswith("vsssim: ") and "failing runs" in err
    assert document["failed"] == len(document["failures"]) > 0
    first = document["first_failure"]
    assert first["index"] == document["failures"][0]["index"]
    assert first["violations"] and first["token"]
    assert first["replay"] == f"vsssim replay {first['token']} --writer {RAISING}"
    assert Path(first["failure_file"]).is_file()
    assert first["failure_file"] in first["note"]


def test_run_summary_says_each_result_and_each_invariant(
    capsys: pytest.CaptureFixture[str],
) -> None:
    lesson = str(ROOT / "examples" / "03_writer_fails_at_freeze.toml")
    status, document, _ = _json_of(capsys, ["run", lesson, "--format", "summary"])
    assert status == 0 == document["exit_status"]
    assert document["schema"] == RUN_JSON_SCHEMA
    assert [i["name"] for i in document["invariants"]] == [i.name for i in INVARIANTS]
    assert document["violated"] == 0
    (result,) = document["results"]
    assert result["outcome"] == "failed" and result["hresult"].startswith("VSS_E_")
    assert int(result["hresult_code"], 16) & 0x80000000  # a failure HRESULT
    main(["run", lesson])
    text = capsys.readouterr().out
    assert f"{result['agent']}: {result['message']} ({result['hresult']})" in text


def test_run_summary_of_an_unexpected_outcome_carries_the_reason_and_status_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lesson = (ROOT / "examples" / "03_writer_fails_at_freeze.toml").read_text()
    wrong = tmp_path / "wrong.toml"
    wrong.write_text(lesson.replace('expect = "failed"', 'expect = "succeeded"'))
    status, document, err = _json_of(capsys, ["run", str(wrong), "--format", "summary"])
    assert status == 1 == document["exit_status"]
    assert document["unexpected"] == ["backup-agent: expected succeeded, got failed"]
    assert err == "vsssim: backup-agent: expected succeeded, got failed\n"


def test_demo_summary_carries_the_token_asked_for_and_the_restore(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, document, _ = _json_of(capsys, ["demo", "--format", "summary", "--show-token"])
    assert status == 0 and document["token"]
    assert all(r["outcome"] == "succeeded" for r in document["results"])
    assert all(w["state"] == "VSS_WS_STABLE" for w in document["writers"])
    status, restored, _ = _json_of(capsys, ["demo", "--restore", "--format", "summary"])
    assert status == 0 and restored["token"] is None
    (restore,) = restored["restores"]
    assert restore["components"]
    main(["demo", "--restore"])
    told = f"{restore['agent']}: {restore['outcome']}: {restore['message']}"
    assert told in capsys.readouterr().out
