"""A fuzz campaign survives whatever its runs do: a run that raises, a run that kills its
worker process, Ctrl-C; and its summary stays small whatever the number of runs."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import vsssim.testing.fuzz.one_run as one_run
from vsssim.errors import HResult, VssError
from vsssim.sim.tokens import read_token
from vsssim.testing.fuzz import (
    MAX_KEPT_FAILURES,
    RunReport,
    campaign,
    fuzz_one,
    replay,
    summarize,
)

from .conftest import ctrl_c_after
from .planted_crashes import ESCAPING, EXITING, RAISING, PlantedEscape

ROOT = Path(__file__).resolve().parents[1]


def test_a_writer_handler_that_raises_is_a_writer_bug_with_a_token_that_replays_it() -> None:
    """The writer's exception fails its event (a traced writer failure, the set cleaned up)
    and the fuzzer reports it as the user's writer bug, replayable from its token."""
    summary = campaign(5, 30, writer=RAISING, jobs=2)
    assert summary.runs == 30
    assert summary.failed == len(summary.failures) > 0 and summary.crashed == 0
    first = summary.failures[0]
    bugs = [v for v in first.violations if v.startswith("writer bug:")]
    assert bugs and "OnFreeze raised PlantedError: planted crash in OnFreeze" in bugs[0]
    _, again = replay(first.token, writer=RAISING)
    assert again.violations == first.violations
    assert campaign(5, 30, writer=RAISING, jobs=1) == summary


def test_a_run_that_raises_past_every_containment_is_a_crash_with_a_token() -> None:
    summary = campaign(5, 30, writer=ESCAPING, jobs=2)
    assert summary.runs == 30
    assert summary.failed == summary.crashed == len(summary.failures) > 0
    first = summary.failures[0]
    [violation] = first.violations
    assert violation.startswith("crash: the run raised PlantedEscape: planted escape in OnFreeze")
    assert "planted_crashes.py" in violation
    # The token of the choices made up to the crash replays the run to the same crash.
    with pytest.raises(PlantedEscape):
        replay(first.token, writer=ESCAPING)
    assert campaign(5, 30, writer=ESCAPING, jobs=1) == summary


@pytest.mark.parametrize(
    "crash",
    [
        TypeError("unsupported operand"),
        MemoryError(),
        RecursionError("maximum recursion depth exceeded"),
        SystemExit(4),
        VssError(HResult.VSS_E_UNEXPECTED_PROVIDER_ERROR, "two providers failed"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_any_exception_out_of_a_run_is_reported_with_its_type_and_message(
    monkeypatch: pytest.MonkeyPatch, crash: BaseException
) -> None:
    def crashing(scenario, choices, factory, on_built=None):  # type: ignore[no-untyped-def]
        choices.choose("test/before the crash", 3)
        raise crash

    # fuzz_one runs its world in vsssim.testing.fuzz.one_run: crash it there.
    monkeypatch.setattr(one_run, "run_world", crashing)
    report = fuzz_one(1, 0)
    assert report.failed and one_run.is_crash(report)
    [violation] = report.violations
    assert violation.startswith(f"crash: the run raised {type(crash).__name__}")
    assert str(crash).split(":")[0] in violation
    assert read_token(report.token).kind == "fuzz"  # the seed replays it to its crash


def test_a_run_that_kills_its_worker_is_run_alone_and_reported_and_the_rest_goes_on() -> None:
    two = campaign(11, 40, writer=EXITING, jobs=2)
    assert two.runs == 40
    died = [f for f in two.failures if "worker died" in f.violations[0]]
    assert died and len(died) == two.failed == two.crashed
    assert died[0].violations[0] == (
        "crash: worker died running it (exit status 3), also when run alone"
    )
    assert campaign(11, 40, writer=EXITING, jobs=1) == two
    # Its token (the seed decides the run) replays it: to the death of the replaying process.
    assert read_token(died[0].token).fields["index"] == died[0].index
    replayed = subprocess.run(
        [sys.executable, "-m", "vsssim", "replay", died[0].token, "--writer", EXITING],
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        capture_output=True,
        check=False,
        timeout=120,
    )
    assert replayed.returncode == 3


@pytest.mark.parametrize("jobs", [1, 2])
def test_ctrl_c_in_the_progress_callback_stops_the_campaign_with_what_it_found(jobs: int) -> None:
    seen: list[int] = []

    def progress(done: int, runs: int, failing: int) -> None:
        seen.append(done)
        if done == 12:
            raise KeyboardInterrupt

    # 10**30 runs: the chunks are made as they are needed, nothing is allocated up front.
    summary = campaign(5, 10**30, jobs=jobs, writer=RAISING, progress=progress)
    assert summary.interrupted and summary.runs == 12 == seen[-1]
    assert summary.failed == len(summary.failures) > 0


def test_the_summary_keeps_a_bounded_number_of_failures_in_any_order() -> None:
    def report(index: int) -> RunReport:
        return RunReport(index, index, "", (), (), (), (f"crash: {index}",))

    reports = [report(i) for i in range(3 * MAX_KEPT_FAILURES)]
    forwards = summarize(9, reports)
    assert forwards == summarize(9, reversed(reports))
    assert forwards.failed == forwards.violations == forwards.runs == len(reports)
    assert [r.index for r in forwards.failures] == list(range(MAX_KEPT_FAILURES))


def test_ctrl_c_to_the_fuzz_command_prints_the_summary_and_exits_130() -> None:
    # Far more runs than 4 s take, however fast the runs get.
    done = ctrl_c_after(4, "fuzz", "--runs", "1000000", "--jobs", "2")
    out, err = done.stdout, done.stderr
    assert done.returncode == 130, err
    assert "Traceback" not in err
    assert "(interrupted:" in out.splitlines()[0] and "of 1000000 runs finished" in out
    assert out.rstrip().endswith("violations")


def test_a_run_that_never_yields_is_reported_hung_after_its_wall_clock_limit() -> None:
    """Code looping in plain Python (not in simulated time) is stopped by the harness's real-time
    guard and reported as a crash of the run, with its token."""
    from .planted_crashes import SPINNING

    started = time.monotonic()
    report = fuzz_one(3, 0, writer=SPINNING, wall_limit_s=0.5)
    assert time.monotonic() - started < 30
    assert one_run.is_crash(report)
    [violation] = report.violations
    assert violation.startswith("crash: the run raised RunHung: the run took more than 0.5 s")
    assert read_token(report.token).fields["index"] == 0
