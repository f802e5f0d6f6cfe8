"""A fuzz campaign on a local dask.distributed cluster against the same campaign in one job:
the summaries must be identical (as JSON and as the printed tables), and the cluster's speed.

Run: python benchmarks/cluster_fuzz.py [--runs N] [--jobs J] [--chunk-runs C]
Needs dask.distributed (pip install 'vsssim[cluster]'); without it, says so and writes
``cluster_skipped``. Prints a table and writes benchmarks/cluster_fuzz.json.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import time
from typing import Any

import attrs
from _common import report

from vsssim.cli.fuzz import fuzz_report
from vsssim.cli.summaries import dumps, fuzz_json
from vsssim.testing.fuzz import CHUNK_RUNS, CampaignSummary, campaign


def as_bytes(summary: CampaignSummary) -> bytes:
    """The summary as ``vsssim fuzz --format json`` and ``--format text`` print it (one job's
    heading), and every field of it."""
    text = "\n".join(fuzz_report(summary, 1, summary.runs))
    document = dumps(fuzz_json(summary, 1, summary.runs, None))
    fields = json.dumps(attrs.asdict(summary), sort_keys=True)
    return "\n".join((document, text, fields)).encode()


def on_cluster(runs: int, jobs: int, chunk_runs: int) -> tuple[CampaignSummary, float, float]:
    """The campaign on a local cluster: its summary, the cluster's start-up and run seconds."""
    from vsssim.testing.fuzz.cluster import dask_client, worker_threads

    started = time.perf_counter()
    with dask_client("local", jobs) as client:
        ready = time.perf_counter()
        summary = campaign(
            1, runs, executor=client, jobs=worker_threads(client), chunk_runs=chunk_runs
        )
        done = time.perf_counter()
    return summary, ready - started, done - ready


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--chunk-runs", type=int, default=CHUNK_RUNS)
    args = parser.parse_args()
    figures: dict[str, Any] = {"runs": args.runs, "jobs": args.jobs, "chunk_runs": args.chunk_runs}
    if importlib.util.find_spec("distributed") is None:
        print("dask.distributed is not installed (pip install 'vsssim[cluster]'): skipped")
        report(__file__, figures | {"cluster_skipped": True})
        return
    started = time.perf_counter()
    alone = campaign(1, args.runs)
    one_job_s = time.perf_counter() - started
    summary, start_s, cluster_s = on_cluster(args.runs, args.jobs, args.chunk_runs)
    figures |= {
        "cluster_summary_identical": as_bytes(summary) == as_bytes(alone),
        "runs_per_s_jobs_1": args.runs / one_job_s,
        "runs_per_s_cluster": args.runs / cluster_s,
        "speedup_cluster": one_job_s / cluster_s,
        "cluster_start_seconds": start_s,
    }
    report(__file__, figures)
    if not figures["cluster_summary_identical"]:
        raise SystemExit("the cluster's summary differs from one job's")


if __name__ == "__main__":
    main()
