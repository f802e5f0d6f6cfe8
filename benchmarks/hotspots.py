"""Where the package spends its time: cProfile of a benchmark workload, package functions only.

Workloads: ``backup`` (``--runs`` demo backups, as backup_throughput.py runs them: the writes
batched in the trace, or with ``--every-write`` one record per write), ``fuzz`` (``--runs``
fuzzed runs of campaign 1, in this process, as fuzz_throughput.py's worker runs them) and
``scaling`` (one backup of the ``--size`` host of scaling.py, world building included).
Prints the package's functions by cumulative time (share of the whole profiled run) with their
own time. Not a benchmark: it writes no JSON and run_all.py does not run it.

Run: python benchmarks/hotspots.py backup|fuzz|scaling [--runs N] [--every-write] [--size N]
     [--top K] [--sort own]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
from pathlib import Path
from typing import Any

import scaling

import vsssim
from vsssim.host.demo import build_demo_world
from vsssim.testing._pool import tune_gc
from vsssim.testing.fuzz.one_run import fuzz_one

PACKAGE = str(Path(vsssim.__file__).resolve().parent)


def backups(runs: int, batched: bool) -> None:
    """The backup_throughput workload."""
    for seed in range(runs):
        world = build_demo_world(seed)
        world.sim.trace.batch_writes = batched
        [result] = world.run()
        assert result.succeeded, result.message


def fuzzed(runs: int) -> None:
    """The fuzz_throughput workload, in this process (with a worker's garbage collection)."""
    tune_gc()
    for index in range(runs):
        assert not fuzz_one(1, index).failed


def scaling_point(size: int) -> None:
    """One point of the scaling workload."""
    scaling.one_backup(size)


def table(stats: pstats.Stats, top: int, by_own: bool) -> list[tuple[float, float, int, str]]:
    """(cumulative share, own share, calls, function) of the package's top functions."""
    raw: dict[tuple[str, int, str], Any] = stats.stats  # type: ignore[attr-defined]
    total: float = stats.total_tt  # type: ignore[attr-defined]
    rows = []
    for (filename, line, name), (_, calls, own, cumulative, _) in raw.items():
        if filename.startswith(PACKAGE):
            where = f"{filename[len(PACKAGE) + 1 :]}:{line}({name})"
            rows.append((cumulative / total, own / total, calls, where))
    rows.sort(key=lambda r: r[1] if by_own else r[0], reverse=True)
    return rows[:top]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("workload", choices=["backup", "fuzz", "scaling"])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--every-write", action="store_true", help="backup: a record a write")
    parser.add_argument("--size", type=int, default=1000)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--sort", choices=["cumulative", "own"], default="cumulative")
    args = parser.parse_args()
    profiler = cProfile.Profile()
    if args.workload == "backup":
        profiler.runcall(backups, args.runs, not args.every_write)
    elif args.workload == "fuzz":
        profiler.runcall(fuzzed, args.runs)
    else:
        profiler.runcall(scaling_point, args.size)
    stats = pstats.Stats(profiler)
    print(f"profiled: {stats.total_tt:.2f} s (under cProfile)")  # type: ignore[attr-defined]
    print(f"{'cum %':>6} {'own %':>6} {'calls':>9}  function (vsssim/...)")
    for cumulative, own, calls, where in table(stats, args.top, args.sort == "own"):
        print(f"{cumulative:>6.1%} {own:>6.1%} {calls:>9}  {where}")


if __name__ == "__main__":
    main()
