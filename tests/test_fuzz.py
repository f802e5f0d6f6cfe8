"""Fuzz campaigns: seeded, split over processes without changing results, replayable, and able
to find a real writer bug and write it down small."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import vsssim.testing.fuzz.one_run as one_run
from vsssim import Writer
from vsssim.cli.main import main
from vsssim.testing.fuzz import campaign, fuzz_one, replay, run_failure_file
from vsssim.testing.invariants import check_all
from vsssim.testing.probes import PROBES
from vsssim.vss.writers.handling import EventContext


class ForgetfulWriter(Writer):
    """A user's writer with a bug: OnThaw forgets to let the application write again."""

    def on_thaw(self, ctx: EventContext):  # type: ignore[no-untyped-def]
        yield from self.take_time(ctx)


FORGETFUL = "tests.test_fuzz:ForgetfulWriter"


def test_a_campaign_is_clean_covers_every_fault_kind_and_catches_every_planted_bug() -> None:
    summary = campaign(1, 400)
    assert summary.runs == 400
    assert summary.violations == 0, [f.violations for f in summary.failures]
    assert summary.kinds_never_fired == []
    assert summary.planted > 0 and summary.caught == summary.planted
    assert summary.double_checked > 0
    outcomes = dict(summary.outcomes)
    assert outcomes["succeeded"] > 0 and outcomes["failed"] > 0 and outcomes["agent died"] > 0
    assert {name for name, _ in summary.probes} == {p.name for p in PROBES}
    # Some runs restore their backups, and writers fail there (only faults make them) and
    # are survived: the campaign is clean.
    restores = dict(summary.restores)
    assert restores.get("succeeded", 0) > 0 and sum(restores.values()) < summary.runs
    probes = dict(summary.probes)
    assert probes["restore"] == sum(restores.values()) and probes["file restored"] > 0
    assert probes["writer VSS_WS_FAILED_AT_PRE_RESTORE"] > 0
    assert probes["writer VSS_WS_FAILED_AT_POST_RESTORE"] > 0


def test_splitting_a_campaign_over_processes_changes_nothing() -> None:
    assert campaign(7, 120, jobs=2) == campaign(7, 120, jobs=1)


def test_a_run_is_a_function_of_its_seed_and_its_token_replays_it() -> None:
    for index in range(6):
        first = fuzz_one(3, index)
        assert fuzz_one(3, index) == first
        world, again = replay(first.token)
        assert again.trace_hash == first.trace_hash
        assert again.faults == first.faults
        assert [r.outcome.value for r in world.results] == list(first.outcomes)


def test_a_planted_bug_the_checkers_miss_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    def blind(world):  # type: ignore[no-untyped-def]
        found = check_all(world)
        found["application consistency"] = []
        return found

    # A run is judged in vsssim.testing.fuzz.one_run: blind its checkers there.
    monkeypatch.setattr(one_run, "check_all", blind)
    summary = campaign(1, 400)
    missed = [v for f in summary.failures for v in f.violations]
    assert missed and all(
        v == "application consistency: missed the planted writer-writes-while-frozen"
        for v in missed
    )


def test_fuzz_cli_prints_tables_and_zero_violations(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fuzz", "--runs", "60", "--seed", "2"]) == 0
    out = capsys.readouterr().out
    assert "Faults fired (by kind)" in out and "Coverage probes" in out
    assert "Restore outcomes (one per restore run: a chain restores in steps)" in out
    assert out.rstrip().endswith("0 violations")


def test_fuzzing_a_buggy_writer_finds_it_writes_it_down_and_replays_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(
        ["fuzz", "--runs", "20", "--seed", "1", "--writer", FORGETFUL, "--out", str(tmp_path)]
    )
    out = capsys.readouterr().out
    assert status == 1
    assert "quiescence:" in out and "left its application frozen" in out
    token = out.split("vsssim replay ", 1)[1].split()[0]
    [path] = tmp_path.glob("vsssim-failure-*.json")
    data = json.loads(path.read_text())
    assert data["writer"] == FORGETFUL and data["token"] == token
    # The written scenario was shrunk to what the failure needs: one agent.
    assert len(data["scenario"]["agents"]) == 1
    world, report = run_failure_file(path, writer=FORGETFUL)
    assert report.failed
    assert any(w.application_frozen for w in world.coordinator.writers)
    # The printed commands name the writer, so they run as printed.
    assert f"vsssim replay {token} --writer {FORGETFUL}" in out
    assert f"vsssim replay --file {path} --writer {FORGETFUL}" in out
    assert main(["replay", token, "--writer", FORGETFUL]) == 1
    assert "VIOLATION quiescence" in capsys.readouterr().out
    assert main(["replay", "--file", str(path), "--writer", FORGETFUL]) == 1
    assert "VIOLATION quiescence" in capsys.readouterr().out
    # The file's own writer key never imports code: without --writer, a one-line refusal.
    assert main(["replay", "--file", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"add --writer {FORGETFUL}" in err


def test_the_same_writer_fixed_passes() -> None:
    summary = campaign(1, 20, writer="vsssim:Writer")
    assert summary.violations == 0


def test_bad_fuzz_arguments_are_refused_clearly(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fuzz", "--runs", "5", "--writer", "nosuchmodule:Writer"]) == 2
    assert "cannot load writer 'nosuchmodule:Writer'" in capsys.readouterr().err
    assert main(["fuzz", "--runs", "5", "--writer", "vsssim:World"]) == 2
    assert "is not a subclass of vsssim.Writer" in capsys.readouterr().err
    assert main(["replay"]) == 2
    assert "give a replay TOKEN or --file" in capsys.readouterr().err


class BusyWriter(Writer):
    """A user's writer with a bug: its OnPrepareSnapshot polls for ever and never answers."""

    def on_prepare_snapshot(self, ctx: EventContext):  # type: ignore[no-untyped-def]
        while True:
            yield ctx.sim.timeout(60 * 1_000_000)


def test_a_writer_that_never_stops_working_cannot_hang_the_fuzzer() -> None:
    reports = [
        fuzz_one(1, i, writer="tests.test_fuzz:BusyWriter", misbehaviour=False) for i in range(6)
    ]
    stuck = [r for r in reports if r.failed]
    assert stuck
    for report in stuck:
        assert not report.settled
        assert any(v.startswith("liveness:") for v in report.violations), report.violations


def test_a_run_can_be_bounded_in_simulated_time() -> None:
    from tests.conftest import small_world

    world = small_world(1, workload=False)
    world.add_agent("agent", ["TestDbWriter:Inst\\Db"])
    assert world.run(limit_us=1_000) == []
    assert not world.finished and world.sim.now == 1_000
    assert [p.name for p in world.sim.live_processes][:1] == ["agent"]
