"""Full seven-phase backups of the demo server per second, on one core.

Run: python benchmarks/backup_throughput.py [--runs N]
Prints a table and writes benchmarks/backup_throughput.json.
"""

from __future__ import annotations

import argparse
import time

from _common import report

from vsssim.host.demo import build_demo_world


def measure(runs: int) -> dict[str, float]:
    """Run ``runs`` demo backups (seeds 0, 1...), each in a new world."""
    records = 0
    started = time.perf_counter()
    for seed in range(runs):
        world = build_demo_world(seed)
        [result] = world.run()
        if not result.succeeded:
            raise SystemExit(f"seed {seed}: the backup failed: {result.message}")
        records += len(world.sim.trace)
    elapsed = time.perf_counter() - started
    return {
        "runs": runs,
        "seconds": elapsed,
        "backups_per_s": runs / elapsed,
        "trace_records_per_s": records / elapsed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    report(__file__, measure(args.runs))


if __name__ == "__main__":
    main()
