"""Campaigns: many runs over worker processes (or any executor), added up
(:class:`CampaignTotals`) into a :class:`CampaignSummary` that is the same whatever the number
of jobs, the executor, or the size of the chunks."""

from __future__ import annotations

import functools
from collections.abc import Callable

from vsssim.errors import ConfigurationError
from vsssim.testing._pool import Pool
from vsssim.testing.fuzz.executors import (
    Executor,
    ExecutorCampaign,
    chunk_ranges,
    chunk_timeout,
)
from vsssim.testing.fuzz.one_run import (
    RunReport,
    fuzz_one,
    fuzz_token,
    run_seed,
    worker_died_report,
)
from vsssim.testing.fuzz.totals import CampaignSummary, CampaignTotals
from vsssim.testing.fuzz.writer_loading import load_writer

__all__ = ["CHUNK_RUNS", "campaign"]

#: Runs per chunk handed to a worker: small, so the work stays balanced across workers.
CHUNK_RUNS = 10
#: Chunks out on an executor per job (``jobs``): enough to keep every worker busy while the
#: oldest chunk is awaited, few enough that a huge campaign never piles up futures.
IN_FLIGHT_PER_JOB = 4


def campaign(
    seed: int,
    runs: int,
    *,
    jobs: int = 1,
    writer: str | None = None,
    misbehaviour: bool = True,
    progress: Callable[[int, int, int], None] | None = None,
    in_process: bool = False,
    executor: Executor | None = None,
    chunk_runs: int = CHUNK_RUNS,
    chunk_timeout_s: float | None = None,
) -> CampaignSummary:
    """Run ``runs`` fuzzed runs of campaign ``seed`` over ``jobs`` processes and sum them up.

    ``progress(done, runs, failures)`` is called as runs finish. Nothing a run does ends the
    campaign: a run that raises is a ``crash:`` failure, a run that kills its worker process
    is run again alone in a fresh one and, if it kills that too, reported as a failure (the
    campaign goes on with a new worker). Ctrl-C (:class:`KeyboardInterrupt`, also from
    ``progress``) stops the campaign: the summary of the runs finished so far comes back with
    ``interrupted`` set. ``in_process=True`` (with ``jobs=1``) runs in this process instead,
    for a debugger or profiler; a run that kills its process then kills the campaign.

    ``executor`` (anything with ``submit(fn, *args)`` returning a future: a
    ``concurrent.futures`` pool, a dask ``Client``) runs the campaign there instead, in chunks of
    ``chunk_runs`` runs, ``jobs`` telling how many workers it has (it keeps
    :data:`IN_FLIGHT_PER_JOB` chunks per job out at a time); a chunk without an answer in
    ``chunk_timeout_s`` of real time is reported failed. :mod:`.executors` says what that path
    guarantees. The summary is the same on every path, for every ``jobs`` and ``chunk_runs``.
    """
    _check(runs, jobs, chunk_runs, in_process, executor)
    load_writer(writer)  # fail early on a bad --writer
    totals = CampaignTotals(seed)

    def told() -> None:
        if progress is not None:
            progress(totals.runs, runs, totals.failed)

    def collect(report: RunReport) -> None:
        totals.add(report)
        told()

    def died(index: int, reason: str) -> RunReport:
        token = fuzz_token(seed, index, writer=writer, misbehaviour=misbehaviour)
        return worker_died_report(index, run_seed(seed, index), reason, token)

    job = functools.partial(fuzz_one, seed, writer=writer, misbehaviour=misbehaviour)
    chunks = chunk_ranges(runs, chunk_runs)
    stopped = ""
    try:
        if executor is not None:
            timeout = chunk_timeout(chunk_runs) if chunk_timeout_s is None else chunk_timeout_s
            stopped = ExecutorCampaign(
                executor,
                seed,
                (writer, misbehaviour),
                max(2, IN_FLIGHT_PER_JOB * jobs),
                timeout,
                totals.merge,
                told,
            ).run(chunks)
        elif in_process:
            for start, stop in chunks:
                for index in range(start, stop):
                    collect(job(index))
        else:
            Pool(job, jobs, collect, died).run(chunks)
    except KeyboardInterrupt:
        return totals.summary(interrupted=True)
    return totals.summary(stopped=stopped)


def _check(
    runs: int, jobs: int, chunk_runs: int, in_process: bool, executor: Executor | None
) -> None:
    """Refuse a campaign that cannot run, before anything runs."""
    if runs < 1 or jobs < 1 or chunk_runs < 1:
        raise ConfigurationError("runs, jobs and chunk_runs must be at least 1")
    if in_process and jobs != 1:
        raise ConfigurationError("in_process runs one job: drop jobs or in_process")
    if in_process and executor is not None:
        raise ConfigurationError("in_process runs here, not on an executor: give one of them")
