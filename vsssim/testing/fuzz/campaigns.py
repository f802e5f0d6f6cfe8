"""Campaigns: many runs over worker processes, added up (:class:`CampaignTotals`) into a
:class:`CampaignSummary` that is the same whatever the number of jobs."""

from __future__ import annotations

import bisect
import functools
from collections import Counter
from collections.abc import Callable, Iterable, Iterator

import attrs

from vsssim.errors import ConfigurationError
from vsssim.faults import KINDS
from vsssim.testing._pool import Pool
from vsssim.testing.fuzz.one_run import (
    DOUBLE_CHECK_EVERY,
    RunReport,
    fuzz_one,
    fuzz_token,
    is_crash,
    run_seed,
    worker_died_report,
)
from vsssim.testing.fuzz.writer_loading import load_writer
from vsssim.testing.probes import PROBES

#: A campaign keeps this many failing reports in full (the lowest-numbered); it counts the rest.
MAX_KEPT_FAILURES = 100
#: Runs per chunk handed to a worker: small, so the work stays balanced across workers.
CHUNK_RUNS = 10


@attrs.frozen
class CampaignSummary:
    """A campaign's totals: the same whatever the number of jobs.

    ``failures`` holds the :data:`MAX_KEPT_FAILURES` lowest-numbered failing runs; ``failed``
    counts them all. ``interrupted`` is True for the partial totals of a campaign stopped by
    Ctrl-C (``runs`` then counts the runs that finished).
    """

    seed: int
    runs: int
    fault_runs: tuple[tuple[str, int], ...]
    fault_times: tuple[tuple[str, int], ...]
    outcomes: tuple[tuple[str, int], ...]
    probes: tuple[tuple[str, int], ...]
    restores: tuple[tuple[str, int], ...]
    caught: int
    planted: int
    double_checked: int
    failures: tuple[RunReport, ...]
    failed: int
    crashed: int
    mismatches: int
    interrupted: bool = False

    @property
    def violations(self) -> int:
        """Runs that found a bug."""
        return self.failed

    @property
    def never_hit(self) -> list[str]:
        """Probes no run reached."""
        return [name for name, n in self.probes if n == 0]

    @property
    def kinds_never_fired(self) -> list[str]:
        """Fault kinds no run fired."""
        fired = {k for k, _ in self.fault_times}
        return [k for k in KINDS if k not in fired]


class CampaignTotals:
    """Adds run reports up as they come, in any order, in memory that does not grow with the
    number of runs: counters, and the lowest-numbered failing reports."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.runs = self.caught = self.planted = self.double_checked = 0
        self.failed = self.crashed = self.mismatches = 0
        self.fault_runs: Counter[str] = Counter()
        self.fault_times: Counter[str] = Counter()
        self.outcomes: Counter[str] = Counter()
        self.restores: Counter[str] = Counter()
        self.probes: Counter[str] = Counter()
        self.failures: list[RunReport] = []

    def add(self, report: RunReport) -> None:
        """Count one run."""
        self.runs += 1
        for kind, n in report.faults:
            self.fault_runs[kind] += 1
            self.fault_times[kind] += n
        self.planted += len(report.planted)
        self.outcomes.update(report.outcomes)
        self.restores.update(report.restores)
        for name, n in report.probes:
            self.probes[name] += n
        self.caught += len(report.caught)
        self.double_checked += report.seed % DOUBLE_CHECK_EVERY == 0
        self.mismatches += report.determinism_mismatch
        if report.failed:
            self.failed += 1
            self.crashed += is_crash(report)
            bisect.insort(self.failures, report, key=lambda r: r.index)
            del self.failures[MAX_KEPT_FAILURES:]

    def summary(self, *, interrupted: bool = False) -> CampaignSummary:
        """The totals so far."""
        known = [p.name for p in PROBES if p.name in self.probes]
        probe_order = known + sorted(set(self.probes) - set(known))
        return CampaignSummary(
            seed=self.seed,
            runs=self.runs,
            fault_runs=_in_kind_order(self.fault_runs),
            fault_times=_in_kind_order(self.fault_times),
            outcomes=tuple(sorted(self.outcomes.items())),
            probes=tuple((name, self.probes[name]) for name in probe_order),
            restores=tuple(sorted(self.restores.items())),
            caught=self.caught,
            planted=self.planted,
            double_checked=self.double_checked,
            failures=tuple(self.failures),
            failed=self.failed,
            crashed=self.crashed,
            mismatches=self.mismatches,
            interrupted=interrupted,
        )


def _in_kind_order(counts: Counter[str]) -> tuple[tuple[str, int], ...]:
    known = [k for k in KINDS if k in counts]
    return tuple((k, counts[k]) for k in known + sorted(set(counts) - set(known)))


def summarize(seed: int, reports: Iterable[RunReport]) -> CampaignSummary:
    """Add up run reports (in any order) into a campaign summary."""
    totals = CampaignTotals(seed)
    for report in reports:
        totals.add(report)
    return totals.summary()


def _chunk(args: tuple[int, int, int, str | None, bool]) -> list[RunReport]:
    """The reports of runs ``start`` to ``stop`` (never raises: crashes are reports)."""
    seed, start, stop, writer, misbehaviour = args
    return [fuzz_one(seed, i, writer=writer, misbehaviour=misbehaviour) for i in range(start, stop)]


def _chunks(runs: int) -> Iterator[tuple[int, int]]:
    """The chunks of a campaign, produced as they are needed (``runs`` may be huge)."""
    return ((start, min(start + CHUNK_RUNS, runs)) for start in range(0, runs, CHUNK_RUNS))


def campaign(
    seed: int,
    runs: int,
    *,
    jobs: int = 1,
    writer: str | None = None,
    misbehaviour: bool = True,
    progress: Callable[[int, int, int], None] | None = None,
    in_process: bool = False,
) -> CampaignSummary:
    """Run ``runs`` fuzzed runs of campaign ``seed`` over ``jobs`` processes and sum them up.

    ``progress(done, runs, failures)`` is called as runs finish. Nothing a run does ends the
    campaign: a run that raises is a ``crash:`` failure, a run that kills its worker process
    is run again alone in a fresh one and, if it kills that too, reported as a failure (the
    campaign goes on with a new worker). Ctrl-C (:class:`KeyboardInterrupt`, also from
    ``progress``) stops the campaign: the summary of the runs finished so far comes back with
    ``interrupted`` set. ``in_process=True`` (with ``jobs=1``) runs in this process instead,
    for a debugger or profiler; a run that kills its process then kills the campaign.
    """
    if runs < 1 or jobs < 1:
        raise ConfigurationError("runs and jobs must be at least 1")
    if in_process and jobs != 1:
        raise ConfigurationError("in_process runs one job: drop jobs or in_process")
    load_writer(writer)  # fail early on a bad --writer
    totals = CampaignTotals(seed)

    def collect(report: RunReport) -> None:
        totals.add(report)
        if progress is not None:
            progress(totals.runs, runs, totals.failed)

    def died(index: int, reason: str) -> RunReport:
        token = fuzz_token(seed, index, writer=writer, misbehaviour=misbehaviour)
        return worker_died_report(index, run_seed(seed, index), reason, token)

    job = functools.partial(fuzz_one, seed, writer=writer, misbehaviour=misbehaviour)
    try:
        if in_process:
            for start, stop in _chunks(runs):
                for index in range(start, stop):
                    collect(job(index))
        else:
            Pool(job, jobs, collect, died).run(_chunks(runs))
    except KeyboardInterrupt:
        return totals.summary(interrupted=True)
    return totals.summary()
