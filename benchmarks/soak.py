"""Soak: many fuzzed runs over many campaign seeds, counting what must never happen.

Run: python benchmarks/soak.py [--runs N] [--seeds S] [--first F] [--jobs J] [--writer M:C]
Runs N fuzzed runs (default 100,000) spread over S campaign seeds (default 10: seeds F..F+S-1),
every invariant, probe and determinism re-run on, misbehaviour faults planted. Prints a table
and writes benchmarks/soak.json. Exits 1 if anything below is not zero.

What it counts:
- ``crashes``: runs that raised past every containment, livelocked, hung or killed their
  worker (the model must never do any of these);
- ``violations``: other failing runs (an invariant broken, a planted bug missed, a liveness
  failure, a writer bug in a user's ``--writer``);
- ``false_verdicts``: verdicts that are not what they claim: a planted bug whose effect took
  place but no invariant caught (a false negative), a failing run whose replay token does not
  reproduce the same violations, a determinism mismatch.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from _common import report

from vsssim.cli.progress import Progress
from vsssim.testing.fuzz import CampaignSummary, campaign, is_crash, replay


def _irreproducible(summary: CampaignSummary, writer: str | None) -> int:
    """How many of the kept failures a replay of their token does not reproduce."""
    count = 0
    for failure in summary.failures:
        if not failure.token or is_crash(failure):
            continue  # a crash replays to the crash itself (the CLI shows it)
        _, again = replay(failure.token, writer=writer)
        count += tuple(again.violations) != tuple(failure.violations)
    return count


def _soak_seed(
    seed: int, count: int, jobs: int, writer: str | None, shown: Progress, before: int
) -> CampaignSummary:
    """One seed's campaign, its runs counted on after the ``before`` runs of earlier seeds."""

    def progress(done: int, _runs: int, failing: int) -> None:
        shown.update(before + done, f"seed {seed}, {failing} failing")

    return campaign(seed, count, jobs=jobs, writer=writer, progress=progress)


def soak(runs: int, seeds: list[int], jobs: int, writer: str | None) -> dict[str, object]:
    """Run the soak and return its figures."""
    per_seed = [runs // len(seeds) + (i < runs % len(seeds)) for i in range(len(seeds))]
    totals = {"runs": 0, "crashes": 0, "violations": 0, "missed": 0, "irreproducible": 0}
    mismatches = planted = caught = 0
    started = time.perf_counter()
    shown = Progress(runs)  # rate and time left, on a terminal only
    try:
        for seed, count in zip(seeds, per_seed, strict=True):
            summary = _soak_seed(seed, count, jobs, writer, shown, totals["runs"])
            missed = sum(
                1 for f in summary.failures for v in f.violations if "missed the planted" in v
            )
            totals["runs"] += summary.runs
            totals["crashes"] += summary.crashed
            totals["violations"] += summary.failed - summary.crashed
            totals["missed"] += missed
            totals["irreproducible"] += _irreproducible(summary, writer)
            mismatches += summary.mismatches
            planted += summary.planted
            caught += summary.caught
            shown.write(
                f"seed {seed}: {summary.runs} runs, {summary.crashed} crashes, "
                f"{summary.failed - summary.crashed} violations"
            )
    finally:
        shown.done()
    elapsed = time.perf_counter() - started
    false_verdicts = totals["missed"] + totals["irreproducible"] + mismatches
    return {
        "runs": totals["runs"],
        "seeds": len(seeds),
        "first_seed": seeds[0],
        "jobs": jobs,
        "crashes": totals["crashes"],
        "violations": totals["violations"],
        "false_verdicts": false_verdicts,
        "planted_bugs_missed": totals["missed"],
        "irreproducible_failures": totals["irreproducible"],
        "determinism_mismatches": mismatches,
        "planted_bugs": planted,
        "planted_bugs_caught": caught,
        "seconds": elapsed,
        "runs_per_s": totals["runs"] / elapsed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--first", type=int, default=1000)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--writer", default=None, help="a writer class as module:Class")
    args = parser.parse_args()
    if args.runs < args.seeds or args.seeds < 1:
        parser.error("--runs must be at least --seeds, and --seeds at least 1")
    seeds = list(range(args.first, args.first + args.seeds))
    figures = soak(args.runs, seeds, args.jobs, args.writer)
    report(__file__, figures)
    bad = figures["crashes"] or figures["false_verdicts"]
    if args.writer is None:
        bad = bad or figures["violations"]
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
