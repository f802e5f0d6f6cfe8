"""How fast the fuzzer catches a user's writer with the Hyper-V daemon bug.

The writer (``tests.helpers_module:HyperVWriter``) freezes its application in OnFreeze with no
care for a reply VSS gave up on, so a late freeze is never thawed. Misbehaviour faults are off:
the only bug is the user's, and late OnFreeze replies come from the survivable fault kinds.
Per campaign seed it runs up to ``--runs`` runs (the runs of ``campaign(seed, runs)``), prints
how many it took to the first catch, that the catch is "application thawed", and that the
replay token reproduces it; ``--full`` runs every run and counts the failing ones.

Run: python benchmarks/hyperv_catch.py [--seeds 1 2 3 4 5] [--runs 1000] [--full]
Prints a table and writes benchmarks/hyperv_catch.json.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from _common import report

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.helpers_module

from vsssim.testing.fuzz import fuzz_one, replay

WRITER = "tests.helpers_module:HyperVWriter"


def hunt(seed: int, runs: int, full: bool) -> dict[str, object]:
    """Run campaign ``seed`` until its first catch (or every run with ``full``)."""
    first: int | None = None
    failing = 0
    done = 0
    reproduced = False
    for index in range(runs):
        done += 1
        found = fuzz_one(seed, index, writer=WRITER, misbehaviour=False)
        if not found.failed:
            continue
        failing += 1
        if first is None:
            first = index + 1
            if not any(v.startswith("application thawed:") for v in found.violations):
                raise SystemExit(f"seed {seed}: caught by something else: {found.violations}")
            _, again = replay(found.token, writer=WRITER, misbehaviour=False)
            reproduced = again.violations == found.violations
        if not full:
            break
    return {
        "runs_to_first_catch": first or 0,
        "runs": done,
        "failing_runs": failing,
        "replay_reproduces": reproduced,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--full", action="store_true")
    args = parser.parse_args()
    started = time.perf_counter()
    figures: dict[str, object] = {}
    caught = 0
    worst = 0
    for seed in args.seeds:
        result = hunt(seed, args.runs, args.full)
        figures[f"seed {seed}"] = result
        if result["runs_to_first_catch"]:
            caught += 1
            worst = max(worst, int(str(result["runs_to_first_catch"])))
    figures["seeds_caught"] = caught
    figures["seeds"] = len(args.seeds)
    figures["worst_runs_to_first_catch"] = worst
    figures["seconds"] = time.perf_counter() - started
    report(__file__, figures)
    if caught < len(args.seeds):
        raise SystemExit(f"the bug was not caught within {args.runs} runs on every seed")


if __name__ == "__main__":
    main()
