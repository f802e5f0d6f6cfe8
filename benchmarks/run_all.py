"""Run every benchmark script, one after the other, and gather their JSON into results.json.

Each script runs in its own interpreter (``python benchmarks/NAME.py``, the package on
``PYTHONPATH``), writes its own ``benchmarks/NAME.json``, and is timed. ``results.json`` holds
the headline figures (``kernel_vs_simpy_ratio``, ``backups_per_s``, ``ns_per_event`` with
``bare_loop_ns_per_event`` (one kernel event in a demo backup against a bare heapq loop's),
``scaling_exponent``,
``sparse_bytes_16g``, ``sparse_bytes_16t``, ``fuzz_scenarios_per_s``, ``cluster_summary_identical``
(a campaign on a local dask cluster gives one job's summary byte for byte)...), the machine, each
script's figures, arguments and wall time, and the total. With ``--quick`` the scripts run at
small sizes (a smoke test: the figures are not comparable with a full run's).

Run: python benchmarks/run_all.py [--quick] [--only NAME ...]
Prints each script's table, then a summary; writes benchmarks/results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _common import machine, print_table, result_path, write_json

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

#: Scripts here that are not benchmarks.
NOT_BENCHMARKS = {"run_all", "hotspots"}

#: Arguments per script: (full run, quick run). A script not listed runs with its defaults.
ARGUMENTS: dict[str, tuple[list[str], list[str]]] = {
    "backup_throughput": ([], ["--runs", "10"]),
    "fuzz_throughput": ([], ["--runs", "100"]),
    "kernel_vs_simpy": ([], ["--pairs", "200", "--rounds", "50", "--repeats", "1"]),
    "scaling": ([], ["--sizes", "10", "100", "--repeats", "1"]),
    "sparse_memory": ([], ["--writes", "10000"]),
    "soak": ([], ["--runs", "200", "--seeds", "2"]),
    "memory_in_time": ([], ["--minutes", "1", "3", "--no-real-24h"]),
    "cluster_fuzz": ([], ["--runs", "100"]),
    "explore_reduction": ([], ["--plain-runs", "500", "--budget-runs", "100"]),
}

#: Headline figures: results.json key -> (script, key in that script's JSON).
HEADLINES: dict[str, tuple[str, str]] = {
    "kernel_vs_simpy_ratio": ("kernel_vs_simpy", "kernel_vs_simpy_ratio"),
    "backups_per_s": ("backup_throughput", "backups_per_s"),
    "backups_per_s_every_write": ("backup_throughput", "backups_per_s_every_write"),
    "ns_per_event": ("backup_throughput", "ns_per_event"),
    "bare_loop_ns_per_event": ("backup_throughput", "bare_loop_ns_per_event"),
    "scaling_exponent": ("scaling", "scaling_exponent"),
    "scaling_exponent_with_workload": ("scaling", "scaling_exponent_with_workload"),
    "scaling_seconds_1000": ("scaling", "seconds_1000"),
    "sparse_bytes_16g": ("sparse_memory", "sparse_bytes_16g"),
    "sparse_bytes_16t": ("sparse_memory", "sparse_bytes_16t"),
    "sparse_bytes_per_written_block_16t": ("sparse_memory", "bytes_per_written_block_16t"),
    "fuzz_scenarios_per_s": ("fuzz_throughput", "runs_per_s"),
    # Issue 18's name for the same figure (one process: one core).
    "fuzz_runs_per_s_per_core": ("fuzz_throughput", "runs_per_s"),
    "fuzz_speedup_jobs_2": ("fuzz_throughput", "speedup_jobs_2"),
    "soak_peak_bytes_24h": ("memory_in_time", "soak_peak_bytes_24h"),
    "soak_peak_bytes_24h_extrapolated": ("memory_in_time", "soak_peak_bytes_24h_extrapolated"),
    "memory_bytes_per_written_block": ("memory_in_time", "bytes_per_written_block"),
    "soak_runs": ("soak", "runs"),
    "soak_crashes": ("soak", "crashes"),
    "soak_false_verdicts": ("soak", "false_verdicts"),
    "cluster_summary_identical": ("cluster_fuzz", "cluster_summary_identical"),
    "fuzz_speedup_cluster_local": ("cluster_fuzz", "speedup_cluster"),
}

#: Targets: results.json key -> (comparison, bound).
TARGETS: dict[str, tuple[str, float]] = {
    "kernel_vs_simpy_ratio": (">=", 2.0),
    "scaling_exponent": ("<=", 1.1),
    "scaling_exponent_with_workload": ("<=", 1.1),
    "scaling_seconds_1000": ("<", 2.0),
    "backups_per_s": (">=", 1000.0),
    "fuzz_runs_per_s_per_core": (">=", 500.0),
    "soak_peak_bytes_24h": ("<=", 256 * 1024 * 1024),
    "soak_crashes": ("<=", 0.0),
    "soak_false_verdicts": ("<=", 0.0),
    "cluster_summary_identical": (">=", 1.0),  # True: the same summary as one job
}


def scripts() -> list[str]:
    """Every benchmark script: the listed ones in order, then any other ``benchmarks/*.py``."""
    found = {p.stem for p in HERE.glob("*.py") if not p.stem.startswith("_")} - NOT_BENCHMARKS
    return [n for n in ARGUMENTS if n in found] + sorted(found - ARGUMENTS.keys())


def run_script(name: str, quick: bool) -> dict[str, Any]:
    """Run one script; returns its arguments, wall time, exit code and figures."""
    full, small = ARGUMENTS.get(name, ([], []))
    args = small if quick else full
    script = HERE / f"{name}.py"
    out = result_path(str(script))
    out.unlink(missing_ok=True)  # never report a previous run's figures
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    print(f"\n=== {name} {' '.join(args)}".rstrip(), flush=True)
    started = time.perf_counter()
    code = subprocess.call([sys.executable, str(script), *args], cwd=ROOT, env=env)
    seconds = time.perf_counter() - started
    figures = json.loads(out.read_text(encoding="utf-8")) if code == 0 and out.exists() else {}
    return {"args": args, "seconds": seconds, "exit_code": code, "figures": figures}


def _met(value: float, comparison: str, bound: float) -> bool:
    return {">=": value >= bound, "<=": value <= bound, "<": value < bound}[comparison]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke test")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run only these scripts")
    args = parser.parse_args()
    names = [n for n in scripts() if not args.only or n in args.only]
    started = time.perf_counter()
    runs = {name: run_script(name, args.quick) for name in names}
    total = time.perf_counter() - started

    results: dict[str, Any] = {}
    for key, (script, field) in HEADLINES.items():
        if field in runs.get(script, {}).get("figures", {}):
            results[key] = runs[script]["figures"][field]
    results["targets"] = {
        key: {"target": f"{comparison} {bound:g}", "met": _met(results[key], comparison, bound)}
        for key, (comparison, bound) in TARGETS.items()
        if key in results and not args.quick  # small sizes say nothing about the targets
    }
    results["failed_scripts"] = [n for n, r in runs.items() if r["exit_code"] != 0]
    results["quick"] = args.quick
    results["total_seconds"] = total
    results["machine"] = machine()
    results["benchmarks"] = runs
    write_json(HERE / "results.json", results)

    print("\n=== summary (benchmarks/results.json)")
    print_table(
        {key: value for key, value in results.items() if key in HEADLINES}
        | {f"{key} {t['target']}": t["met"] for key, t in results["targets"].items()}
        | {f"{name} (s)": run["seconds"] for name, run in runs.items()}
        | {"total_seconds": total, "failed_scripts": len(results["failed_scripts"])}
    )
    if results["failed_scripts"]:
        raise SystemExit(f"failed: {', '.join(results['failed_scripts'])}")


if __name__ == "__main__":
    main()
