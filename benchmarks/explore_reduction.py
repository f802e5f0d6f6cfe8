"""What partial-order reduction saves the explorer, and where complete searches stand.

Three searches, each with the reduction and without (the plain enumeration), on one core:

- ``two_agents``: ``examples/explore_two_agents.toml`` (two agents backing up one writer on
  one volume), no bound, fingerprints off, timings at their low end. The reduced search is
  complete; the plain one is stopped at ``--plain-runs`` runs (it does not finish in
  minutes) and says how far it got.
- ``default_2x2x2`` and ``default_2x2x2_faults``: ``examples/explore_2x2x2.toml`` with the
  explorer's default bounds (12 decisions, 2 preemptions), faults off and on. Neither is
  complete; the figures compare how much of the bounded tree each runs.

Issue 20's target: ``examples/explore_2x2x2.toml`` complete with no bound, faults off in 60 s
and faults on in 10 minutes. ``target_met`` says whether the unbounded 2x2x2 search with the
reduction finished within ``--budget-runs`` runs (it does not today).

Run: python benchmarks/explore_reduction.py [--plain-runs N] [--budget-runs N]
Prints a table and writes benchmarks/explore_reduction.json.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from _common import report

from vsssim.host.scenario import Scenario
from vsssim.host.scenario_file import load_scenario
from vsssim.testing.explore import ExploreOptions, explore

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "explore_2x2x2.toml"

TWO_AGENTS = ROOT / "examples" / "explore_two_agents.toml"


def _search(name: str, scenario: Scenario, options: ExploreOptions) -> dict[str, Any]:
    started = time.process_time()
    found = explore(scenario, options)
    return {
        f"{name}_runs": found.runs,
        f"{name}_complete": found.complete,
        f"{name}_exhausted": found.exhausted,
        f"{name}_cpu_s": round(time.process_time() - started, 3),
        f"{name}_left_out_as_commuting": found.reduced_ways,
    }


def measure(plain_runs: int, budget_runs: int) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    two = load_scenario(TWO_AGENTS).scenario
    unbounded = ExploreOptions(
        max_choices=None, preemption_bound=None, fingerprints=False, timings="low"
    )
    figures |= _search("two_agents_reduced", two, unbounded)
    plain = ExploreOptions(
        max_choices=None,
        preemption_bound=None,
        fingerprints=False,
        timings="low",
        reduction=False,
        max_runs=plain_runs,
    )
    figures |= _search("two_agents_plain", two, plain)
    example = load_scenario(EXAMPLE).scenario
    for faults in (False, True):
        name = "default_2x2x2" + ("_faults" if faults else "")
        figures |= _search(f"{name}_reduced", example, ExploreOptions(faults=faults))
        figures |= _search(f"{name}_plain", example, ExploreOptions(faults=faults, reduction=False))
    budget = ExploreOptions(
        max_choices=None, preemption_bound=None, fingerprints=False, max_runs=budget_runs
    )
    figures |= _search("unbounded_2x2x2_reduced", example, budget)
    figures["target_met"] = bool(figures["unbounded_2x2x2_reduced_complete"])
    return figures


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plain-runs", type=int, default=5000)
    parser.add_argument("--budget-runs", type=int, default=2000)
    args = parser.parse_args(argv)
    report(__file__, measure(args.plain_runs, args.budget_runs))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
