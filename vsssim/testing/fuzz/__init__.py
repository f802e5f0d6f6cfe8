"""Fuzz campaigns: many seeded random scenarios with faults, every invariant checked.

Each run draws its whole configuration from its seed (:func:`~vsssim.testing.draw.draw_scenario`):
volumes, writers, agents, a swarm fault mix and, in some runs, a restore of every backup that
succeeded (after the applications wrote on and maybe a file was deleted). The run goes in two
halves: *safety*, with faults firing (in the backups and in the restore), then *liveness*:
faults are healed and the world must come to rest within :data:`SETTLE_US`. Then every
invariant is checked. A misbehaviour fault (a writer bug planted
on purpose) must be caught by its invariant; it is a failure of the checkers if it is not.

About one run in twenty is run a second time from scratch and the two traces' hashes compared:
a difference is a determinism bug. A campaign split over ``jobs`` processes gives the same
summary as one process, because every run depends on its own seed only.

One run is :mod:`.one_run`, the campaign :mod:`.campaigns` (its totals :mod:`.totals`; on any
``concurrent.futures``-style executor :mod:`.executors`, on dask.distributed :mod:`.cluster`),
a failure written down and run again :mod:`.failure_files`.
"""

from vsssim.testing.fuzz.campaigns import CHUNK_RUNS, campaign
from vsssim.testing.fuzz.executors import Executor, chunk_failed_report, run_chunk
from vsssim.testing.fuzz.failure_files import (
    MAX_FAILURE_FILE_BYTES,
    run_failure_file,
    shrink,
    write_failure,
)
from vsssim.testing.fuzz.one_run import (
    CRASH,
    DOUBLE_CHECK_EVERY,
    RUN_EVENT_BUDGET,
    RUN_LIMIT_US,
    RUN_WALL_LIMIT_S,
    SETTLE_US,
    RunHung,
    RunReport,
    crash_report,
    fuzz_one,
    fuzz_token,
    is_crash,
    judge,
    replay,
    run_seed,
    run_world,
    wall_clock_limit,
    worker_died_report,
)
from vsssim.testing.fuzz.totals import (
    MAX_KEPT_FAILURES,
    CampaignSummary,
    CampaignTotals,
    summarize,
)
from vsssim.testing.fuzz.writer_loading import load_writer

__all__ = [
    "CHUNK_RUNS",
    "CRASH",
    "DOUBLE_CHECK_EVERY",
    "MAX_FAILURE_FILE_BYTES",
    "MAX_KEPT_FAILURES",
    "RUN_EVENT_BUDGET",
    "RUN_LIMIT_US",
    "RUN_WALL_LIMIT_S",
    "SETTLE_US",
    "CampaignSummary",
    "CampaignTotals",
    "Executor",
    "RunHung",
    "RunReport",
    "campaign",
    "chunk_failed_report",
    "crash_report",
    "fuzz_one",
    "fuzz_token",
    "is_crash",
    "judge",
    "load_writer",
    "replay",
    "run_chunk",
    "run_failure_file",
    "run_seed",
    "run_world",
    "shrink",
    "summarize",
    "wall_clock_limit",
    "worker_died_report",
    "write_failure",
]
