"""The summaries the commands print for programs: one JSON object each, its schema versioned.

``vsssim fuzz --format json`` prints :func:`fuzz_json`; ``vsssim demo`` and ``vsssim run``
with ``--format summary`` print :func:`run_json` (``--format json`` stays the JSON-lines trace).
``vsssim explore --format json`` has its own object (:mod:`vsssim.cli.explore`).
docs/reference/command-output.md documents every key; a key is only ever added within a schema
version.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from vsssim.host.world import World
from vsssim.requesters.backup_result import BackupResult
from vsssim.testing.fuzz import CampaignSummary, RunReport
from vsssim.testing.invariants import INVARIANTS, check_all

#: The version of the object ``vsssim fuzz --format json`` prints.
FUZZ_JSON_SCHEMA = 1
#: The version of the object ``--format summary`` of ``vsssim demo`` and ``vsssim run`` prints.
RUN_JSON_SCHEMA = 1


def dumps(document: dict[str, Any]) -> str:
    """The object as the commands print it: sorted keys, indented, a final newline."""
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def fuzz_json(
    summary: CampaignSummary,
    jobs: int,
    requested: int,
    first_failure: dict[str, Any] | None,
) -> dict[str, Any]:
    """A campaign's summary; ``first_failure`` is what :func:`failure_json` made of its first
    failing run (its replay command and failure file), None if no run failed."""
    return {
        "schema": FUZZ_JSON_SCHEMA,
        "seed": summary.seed,
        "runs": summary.runs,
        "requested_runs": requested,
        "jobs": jobs,
        "interrupted": summary.interrupted,
        "stopped": summary.stopped or None,
        "fault_runs": dict(summary.fault_runs),
        "fault_times": dict(summary.fault_times),
        "kinds_never_fired": list(summary.kinds_never_fired),
        "outcomes": dict(summary.outcomes),
        "restores": dict(summary.restores),
        "probes": dict(summary.probes),
        "probes_never_hit": list(summary.never_hit),
        "planted": summary.planted,
        "caught": summary.caught,
        "double_checked": summary.double_checked,
        "mismatches": summary.mismatches,
        "crashed": summary.crashed,
        "failed": summary.failed,
        "violations": summary.violations,
        "failures": [_failing_run(report) for report in summary.failures],
        "first_failure": first_failure,
    }


def _failing_run(report: RunReport) -> dict[str, Any]:
    return {
        "index": report.index,
        "seed": report.seed,
        "violations": list(report.violations),
        "determinism_mismatch": report.determinism_mismatch,
        "token": report.token or None,
    }


def failure_json(
    report: RunReport, replay: str | None, file: str | None, file_note: str
) -> dict[str, Any]:
    """The first failing run: its replay command, and the failure file written (or why not)."""
    return {**_failing_run(report), "replay": replay, "failure_file": file, "note": file_note}


def run_json(
    world: World,
    results: Sequence[BackupResult],
    *,
    unexpected: Sequence[str],
    problems: Sequence[str],
    status: int,
    token: str | None,
) -> dict[str, Any]:
    """A finished demo or scenario run: each agent's result, each invariant's verdict, and
    the exit status with its reasons."""
    report = check_all(world)
    return {
        "schema": RUN_JSON_SCHEMA,
        "results": [_result(world, result) for result in results],
        "invariants": [
            {
                "name": invariant.name,
                "statement": invariant.statement,
                "violations": list(report[invariant.name]),
            }
            for invariant in INVARIANTS
        ],
        "violated": sum(1 for found in report.values() if found),
        "restores": [
            {
                "agent": run.result.agent,
                "outcome": run.result.outcome.value,
                "message": run.result.message,
                "components": [str(c) for c in run.result.components],
            }
            for run in world.restores
        ],
        "unexpected": list(unexpected),
        "problems": list(problems),
        "writers": [
            {"name": w.name, "state": w.state.vss_name, "failure": w.failure.name}
            for w in world.coordinator.writers
        ],
        "simulated_us": world.sim.now,
        "trace_records": len(world.sim.trace),
        "exit_status": status,
        "token": token,
    }


def _result(world: World, result: BackupResult) -> dict[str, Any]:
    return {
        "agent": result.agent,
        "outcome": result.outcome.value,
        "hresult": result.hresult.name,
        "hresult_code": f"0x{int(result.hresult) & 0xFFFFFFFF:08X}",
        "message": result.message,
        "attempts": len(result.attempts),
        "components": list(result.components),
        "left_out": [{"component": c.component, "reason": c.reason} for c in result.left_out],
        "volumes": list(result.volumes),
        "files": len(result.files),
        "bytes_copied": result.bytes_copied,
        "started_us": result.started_us,
        "finished_us": result.finished_us,
        "data_check": world.verify(result),
    }
