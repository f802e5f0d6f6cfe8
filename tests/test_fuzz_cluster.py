"""A fuzz campaign on any ``concurrent.futures``-style executor and on dask.distributed gives the
summary of ``--jobs 1``, byte for byte; a chunk the executor loses, one that hangs and an
executor that refuses work are failed-run reports, never a traceback; without dask,
``--cluster`` is refused in one line saying how to install it."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import attrs
import pytest

from vsssim.cli.fuzz import fuzz_report
from vsssim.cli.main import main
from vsssim.cli.summaries import dumps, fuzz_json
from vsssim.errors import ConfigurationError
from vsssim.testing.fuzz import (
    CampaignSummary,
    CampaignTotals,
    campaign,
    cluster,
    executors,
    fuzz_one,
    fuzz_token,
    run_chunk,
    summarize,
)
from vsssim.testing.fuzz.cluster import INSTALL_HINT, dask_client, worker_threads

from .conftest import ctrl_c_after
from .planted_crashes import EXITING, SPINNING

ROOT = Path(__file__).resolve().parents[1]
SEED, RUNS = 3, 36


def as_json(summary: CampaignSummary) -> str:
    return json.dumps(attrs.asdict(summary), sort_keys=True)


def same(one: CampaignSummary, other: CampaignSummary) -> None:
    """The two summaries are equal, as values, as ``--format json`` and as the text tables."""
    assert one == other
    assert as_json(one) == as_json(other)
    assert dumps(fuzz_json(one, 1, RUNS, None)) == dumps(fuzz_json(other, 1, RUNS, None))
    assert fuzz_report(one, 1, RUNS) == fuzz_report(other, 1, RUNS)


@pytest.fixture(scope="module")
def one_job() -> CampaignSummary:
    return campaign(SEED, RUNS)


def test_a_thread_pool_gives_the_one_job_summary(one_job: CampaignSummary) -> None:
    with ThreadPoolExecutor(2) as pool:
        same(campaign(SEED, RUNS, executor=pool, jobs=2, chunk_runs=7), one_job)


def test_a_process_pool_gives_the_one_job_summary(one_job: CampaignSummary) -> None:
    with ProcessPoolExecutor(2) as pool:
        same(campaign(SEED, RUNS, executor=pool, jobs=2, chunk_runs=5), one_job)


def test_the_chunk_size_changes_nothing(one_job: CampaignSummary) -> None:
    same(campaign(SEED, RUNS, chunk_runs=1), one_job)
    same(campaign(SEED, RUNS, jobs=2, chunk_runs=RUNS + 5), one_job)


def test_chunk_totals_merged_in_any_order_give_the_one_job_summary(
    one_job: CampaignSummary,
) -> None:
    starts = range(0, RUNS, 5)
    chunks = [run_chunk(SEED, start, min(start + 5, RUNS), None, True) for start in starts]
    for order in (chunks, chunks[::-1], chunks[1::2] + chunks[::2]):
        totals = CampaignTotals(SEED)
        for chunk in order:
            totals.merge(chunk)
        same(totals.summary(), one_job)


def test_a_campaign_that_cannot_run_is_refused_before_it_runs() -> None:
    with ThreadPoolExecutor(1) as pool:
        with pytest.raises(ConfigurationError, match="in_process runs here"):
            campaign(SEED, 5, executor=pool, in_process=True)
        with pytest.raises(ConfigurationError, match="chunk_runs must be at least 1"):
            campaign(SEED, 5, executor=pool, chunk_runs=0)


# -- executors that fail: a stand-in that runs each task at once, then fails as told ------------


@attrs.define
class Done:
    """A finished future: the task's value, or the exception its result() raises."""

    value: Any = None
    error: BaseException | None = None
    cancelled: bool = False

    def result(self, timeout: float | None = None) -> Any:
        if self.error is not None:
            raise self.error
        return self.value

    def add_done_callback(self, fn: Callable[[Any], Any]) -> None:
        fn(self)


class Never(Done):
    """A future that never finishes (its task hangs)."""

    def add_done_callback(self, fn: Callable[[Any], Any]) -> None:
        pass

    def cancel(self) -> bool:
        self.cancelled = True
        return True


@attrs.define
class Failing:
    """Runs ``run_chunk`` here; ``error(start, stop)`` makes a chunk's future fail instead, and
    after ``refuse_after`` submissions ``submit`` raises (a shut-down executor)."""

    error: Callable[[int, int], BaseException | None] = lambda start, stop: None
    refuse_after: int | None = None
    hangs: Callable[[int, int], bool] = lambda start, stop: False
    submitted: list[tuple[int, int]] = attrs.Factory(list)
    futures: list[Done] = attrs.Factory(list)

    def submit(self, fn: Callable[..., Any], /, *args: Any) -> Done:
        if self.refuse_after is not None and len(self.submitted) >= self.refuse_after:
            raise RuntimeError("cannot schedule new futures after shutdown")
        _, start, stop, *_ = args
        self.submitted.append((start, stop))
        error = self.error(start, stop)
        if self.hangs(start, stop):
            future: Done = Never()
        else:
            future = Done(error=error) if error is not None else Done(fn(*args))
        self.futures.append(future)
        return future


def test_a_lost_chunk_is_run_again_alone_and_only_the_run_that_fails_alone_is_reported() -> None:
    def lost(start: int, stop: int) -> BaseException | None:
        return ConnectionError("worker lost") if start <= 13 < stop else None

    summary = campaign(SEED, RUNS, executor=Failing(lost), chunk_runs=5)
    assert summary.runs == RUNS and summary.failed == summary.crashed == 1
    [failure] = summary.failures
    assert failure.index == 13 and failure.token == fuzz_token(SEED, 13)
    assert failure.violations == (
        "crash: the executor failed running it: ConnectionError: worker lost, also when run alone",
    )
    # Every other run of the lost chunk was run again alone and counts as in one job.
    others = [fuzz_one(SEED, i) for i in range(RUNS) if i != 13]
    assert summary == summarize(SEED, [*others, failure])


def test_a_chunk_with_no_answer_in_time_has_its_runs_reported_and_is_not_run_again() -> None:
    executor = Failing(hangs=lambda start, stop: start == 10)
    summary = campaign(SEED, 30, executor=executor, chunk_runs=10, chunk_timeout_s=0.5)
    assert summary.runs == 30 and summary.failed == summary.crashed == 10
    assert [f.index for f in summary.failures] == list(range(10, 20))
    assert summary.failures[0].violations == (
        "crash: the executor failed running it: no answer within 0.5 s of real time "
        "(a run that hangs?)",
    )
    assert executor.submitted == [(0, 10), (10, 20), (20, 30)]
    assert [f.cancelled for f in executor.futures] == [False, True, False]


def test_an_executor_that_refuses_work_ends_the_campaign_with_what_finished() -> None:
    summary = campaign(SEED, 100, executor=Failing(refuse_after=3), chunk_runs=4)
    assert summary.runs == 12 and not summary.interrupted
    assert summary.stopped == (
        "the executor refused work at run 12: RuntimeError: cannot schedule new futures after "
        "shutdown"
    )
    assert "(stopped early: 12 of 100 runs finished)" in fuzz_report(summary, 1, 100)[0]


@attrs.define
class Closing(Failing):
    """A dask-like executor (it has a ``status``) that closes once asked for run 8 on: its
    scheduler is gone, and the futures out never finish."""

    status: str = "running"

    def submit(self, fn: Callable[..., Any], /, *args: Any) -> Done:
        if args[1] >= 8:
            self.status = "closed"
            return Never()
        return super().submit(fn, *args)


def test_an_executor_that_closes_ends_the_campaign_with_what_finished(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(executors, "POLL_S", 0.05)
    summary = campaign(SEED, 100, executor=Closing(), chunk_runs=4, chunk_timeout_s=60)
    assert summary.runs == 8 and summary.failed == 0
    assert summary.stopped == "the executor is closed (its scheduler lost?)"


def test_ctrl_c_on_an_executor_gives_the_totals_of_the_chunks_that_finished() -> None:
    seen: list[int] = []

    def progress(done: int, runs: int, failing: int) -> None:
        seen.append(done)
        if done == 12:
            raise KeyboardInterrupt

    with ThreadPoolExecutor(2) as pool:
        summary = campaign(SEED, 10**30, executor=pool, jobs=2, chunk_runs=4, progress=progress)
    assert summary.interrupted and seen[:3] == [4, 8, 12]
    # The chunks already finished when Ctrl-C came count too, in order; the rest were cancelled.
    assert summary.runs >= 12 and summary.runs % 4 == 0


# -- dask.distributed -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dask_local() -> Iterator[Any]:
    pytest.importorskip(
        "distributed", reason="dask.distributed is not installed (pip install 'vsssim[cluster]')"
    )
    with dask_client("local", 2) as client:
        yield client


def test_a_local_dask_cluster_gives_the_one_job_summary(
    dask_local: Any, one_job: CampaignSummary
) -> None:
    assert worker_threads(dask_local) == 2
    same(campaign(SEED, RUNS, executor=dask_local, jobs=2, chunk_runs=4), one_job)


def test_a_run_that_kills_its_dask_worker_is_a_failed_run_and_the_rest_goes_on(
    dask_local: Any,
) -> None:
    pool = campaign(11, 40, writer=EXITING)
    dask = campaign(11, 40, writer=EXITING, executor=dask_local, jobs=2)
    assert [f.index for f in dask.failures] == [f.index for f in pool.failures]
    assert dask.failed == dask.crashed == pool.failed > 0
    assert all("KilledWorker" in f.violations[0] for f in dask.failures)
    assert all(f.violations[0].endswith("also when run alone") for f in dask.failures)
    assert attrs.evolve(dask, failures=()) == attrs.evolve(pool, failures=())


def test_a_run_that_hangs_on_a_dask_worker_is_given_up_and_the_cluster_still_stops() -> None:
    """A handler looping in plain Python on a worker's thread (where no real-time guard can
    stop it) costs its chunk's time limit, then is a failed run; closing the cluster ends the
    spinning worker."""
    pytest.importorskip(
        "distributed", reason="dask.distributed is not installed (pip install 'vsssim[cluster]')"
    )
    started = time.monotonic()
    with dask_client("local", 1) as client:
        summary = campaign(
            3, 2, writer=SPINNING, executor=client, chunk_runs=1, chunk_timeout_s=1
        )
    assert time.monotonic() - started < 60
    assert summary.runs == summary.failed == summary.crashed == 2
    assert summary.failures[0].violations == (
        "crash: the executor failed running it: no answer within 1 s of real time "
        "(a run that hangs?)",
    )


@pytest.mark.parametrize("output", ["text", "json"])
def test_fuzz_cluster_local_prints_what_jobs_1_prints_byte_for_byte(
    output: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip(
        "distributed", reason="dask.distributed is not installed (pip install 'vsssim[cluster]')"
    )
    command = ["fuzz", "--runs", "24", "--seed", "5", "--format", output, "--out", str(tmp_path)]
    assert main(command) == 0
    alone = capsys.readouterr().out
    assert main([*command, "--cluster", "local", "--chunk-runs", "5"]) == 0
    assert capsys.readouterr().out == alone


def test_fuzz_cluster_address_runs_on_a_running_scheduler(
    dask_local: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    command = ["fuzz", "--runs", "24", "--seed", "6"]
    assert main(command) == 0
    alone = capsys.readouterr().out.splitlines()
    address = dask_local.scheduler.address
    assert main([*command, "--cluster", address, "--chunk-runs", "3"]) == 0
    there = capsys.readouterr().out.splitlines()
    assert there[0] == "vsssim fuzz: seed 6, 24 runs, 2 job(s)"  # the cluster's two workers
    assert there[1:] == alone[1:]


def test_a_scheduler_with_no_worker_is_refused_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    distributed = pytest.importorskip(
        "distributed", reason="dask.distributed is not installed (pip install 'vsssim[cluster]')"
    )
    monkeypatch.setattr(cluster, "CONNECT_TIMEOUT_S", 1)
    with distributed.LocalCluster(
        n_workers=0, processes=False, dashboard_address="127.0.0.1:0"
    ) as empty:
        assert main(["fuzz", "--runs", "2", "--cluster", empty.scheduler_address]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"vsssim: error: the dask scheduler at {empty.scheduler_address!r} has no worker after "
        f"1 s: start some (dask worker {empty.scheduler_address})\n"
    )


def test_without_dask_cluster_is_refused_saying_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed: ImportError
    assert main(["fuzz", "--runs", "2", "--cluster", "local"]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"vsssim: error: --cluster needs dask.distributed, which is not installed: {INSTALL_HINT}\n"
    )
    assert INSTALL_HINT == "pip install 'vsssim[cluster]'"


def test_a_bad_scheduler_address_is_refused_in_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    pytest.importorskip(
        "distributed", reason="dask.distributed is not installed (pip install 'vsssim[cluster]')"
    )
    assert main(["fuzz", "--runs", "2", "--cluster", "no-port-here"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("vsssim: error: cannot reach the dask scheduler at 'no-port-here'")
    assert err.count("\n") == 1


@pytest.mark.parametrize("value", ["0", "-3", "x"])
def test_a_bad_chunk_size_is_refused(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fuzz", "--chunk-runs", value]) == 2
    assert "argument --chunk-runs" in capsys.readouterr().err


def test_ctrl_c_to_fuzz_on_a_local_cluster_prints_the_summary_and_exits_130() -> None:
    """Ctrl-C reaches the whole process group, the cluster's workers too: they ignore it, the
    campaign prints what finished, and no process prints a traceback."""
    pytest.importorskip(
        "distributed", reason="dask.distributed is not installed (pip install 'vsssim[cluster]')"
    )
    done = ctrl_c_after(6, "fuzz", "--runs", "100000", "--cluster", "local", "--jobs", "2")
    out, err = done.stdout, done.stderr
    assert done.returncode == 130, err
    assert "Traceback" not in err and "exception" not in err, err
    assert "(interrupted:" in out.splitlines()[0] and "of 100000 runs finished" in out
    assert out.rstrip().endswith("violations")
