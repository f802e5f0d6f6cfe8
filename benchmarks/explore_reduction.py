"""What partial-order reduction saves the explorer, and where complete searches stand.

Searches on one core, each with the reduction and, where it says so, without (the plain
enumeration, stopped at ``--plain-runs`` runs: it does not finish in minutes):

- ``two_agents``: ``examples/explore_two_agents.toml`` (two agents backing up one writer on
  one volume) with the explorer's defaults: no bound, fingerprints off, timings at their low
  end. The reduced search is complete.
- ``complete_2x2x2``: ``examples/explore_2x2x2.toml`` with the defaults, faults off: complete.
- ``complete_2x2x2_faults``: the same with ``faults=True`` (at most one fault per run, the
  default), stopped at ``--budget-runs`` runs.
- ``bounded_2x2x2``: the same model with the former default bounds (12 decisions, 2
  preemptions, fingerprints, timings at both ends), faults off: what the reduction saves there.

Issue 20's target: ``examples/explore_2x2x2.toml`` complete with no bound, faults off in 60 s
and faults on in 10 minutes, on one core: ``target_met_faults_off`` and ``target_met_faults_on``.

Run: python benchmarks/explore_reduction.py [--plain-runs N] [--budget-runs N]
Prints a table and writes benchmarks/explore_reduction.json.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import attrs
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
    example = load_scenario(EXAMPLE).scenario
    figures |= _search("two_agents_reduced", two, ExploreOptions())
    plain = ExploreOptions(reduction=False, max_runs=plain_runs)
    figures |= _search("two_agents_plain", two, plain)
    figures |= _search("complete_2x2x2_reduced", example, ExploreOptions())
    figures |= _search("complete_2x2x2_plain", example, plain)
    faults = ExploreOptions(faults=True, max_runs=budget_runs)
    figures |= _search("complete_2x2x2_faults_reduced", example, faults)
    bounded = ExploreOptions(max_choices=12, preemption_bound=2, fingerprints=True, timings="ends")
    figures |= _search("bounded_2x2x2_reduced", example, bounded)
    figures |= _search("bounded_2x2x2_plain", example, attrs.evolve(bounded, reduction=False))
    for name, seconds in (("complete_2x2x2", 60), ("complete_2x2x2_faults", 600)):
        met = figures[f"{name}_reduced_complete"] and figures[f"{name}_reduced_cpu_s"] <= seconds
        figures[f"target_met_{'faults_on' if 'faults' in name else 'faults_off'}"] = met
    return figures


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plain-runs", type=int, default=5000)
    parser.add_argument("--budget-runs", type=int, default=20000)
    args = parser.parse_args(argv)
    report(__file__, measure(args.plain_runs, args.budget_runs))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
