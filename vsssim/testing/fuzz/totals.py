"""A campaign's totals: :class:`CampaignTotals` adds run reports (or other totals) up in memory
that does not grow with the number of runs, into a :class:`CampaignSummary` that is the same
whatever the order they came in."""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Iterable

import attrs

from vsssim.faults import KINDS
from vsssim.testing.fuzz.one_run import DOUBLE_CHECK_EVERY, RunReport, is_crash
from vsssim.testing.probes import PROBES

#: A campaign keeps this many failing reports in full (the lowest-numbered); it counts the rest.
MAX_KEPT_FAILURES = 100


@attrs.frozen
class CampaignSummary:
    """A campaign's totals: the same whatever the number of jobs.

    ``failures`` holds the :data:`MAX_KEPT_FAILURES` lowest-numbered failing runs; ``failed``
    counts them all. ``interrupted`` is True for the partial totals of a campaign stopped by
    Ctrl-C (``runs`` then counts the runs that finished). ``stopped`` says why a campaign on an
    executor ended early when the executor stopped taking work (``runs`` counts those that
    finished); it is empty otherwise.
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
    stopped: str = ""

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
    number of runs: counters, and the lowest-numbered failing reports. Picklable: a chunk of
    runs on another machine sends back its totals, not its reports."""

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

    def merge(self, other: CampaignTotals) -> None:
        """Add another part of the same campaign (a chunk's totals), as if its runs were added."""
        self.runs += other.runs
        self.caught += other.caught
        self.planted += other.planted
        self.double_checked += other.double_checked
        self.failed += other.failed
        self.crashed += other.crashed
        self.mismatches += other.mismatches
        # update(), not +=: a probe counted zero times must stay listed (never_hit).
        for mine, theirs in (
            (self.fault_runs, other.fault_runs),
            (self.fault_times, other.fault_times),
            (self.outcomes, other.outcomes),
            (self.restores, other.restores),
            (self.probes, other.probes),
        ):
            mine.update(theirs)
        for report in other.failures:
            bisect.insort(self.failures, report, key=lambda r: r.index)
        del self.failures[MAX_KEPT_FAILURES:]

    def summary(self, *, interrupted: bool = False, stopped: str = "") -> CampaignSummary:
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
            stopped=stopped,
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


