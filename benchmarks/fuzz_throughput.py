"""Fuzzed runs per second: random scenarios with faults, healed, settled, every invariant checked.

Run: python benchmarks/fuzz_throughput.py [--runs N] [--jobs J]
Measures one job, then J jobs (default 2) on the same campaign, and prints the speed-up.
Prints a table and writes benchmarks/fuzz_throughput.json.
"""

from __future__ import annotations

import argparse
import time

from _common import report

from vsssim.testing.fuzz import campaign


def measure(runs: int, jobs: int) -> dict[str, float]:
    started = time.perf_counter()
    summary = campaign(1, runs, jobs=jobs)
    elapsed = time.perf_counter() - started
    if summary.violations:
        raise SystemExit(f"the campaign found {summary.violations} failing runs")
    return {
        "runs": runs,
        "jobs": jobs,
        "seconds": elapsed,
        "runs_per_s": runs / elapsed,
        "faults_fired": sum(n for _, n in summary.fault_times),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    single = measure(args.runs, 1)
    figures = dict(single)
    if args.jobs > 1:
        parallel = measure(args.runs, args.jobs)
        figures[f"runs_per_s_jobs_{args.jobs}"] = parallel["runs_per_s"]
        figures[f"speedup_jobs_{args.jobs}"] = parallel["runs_per_s"] / single["runs_per_s"]
    report(__file__, figures)


if __name__ == "__main__":
    main()
