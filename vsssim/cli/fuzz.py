"""The ``vsssim fuzz`` and ``vsssim replay`` commands, and the checks of command-line values.

Every value is checked before anything runs, so a bad one costs nothing and gives one line
(``vsssim: error: ...``): an ``--out`` folder that does not exist is refused before the
campaign, not after it. A campaign always prints its summary: with failures, after a crash in
a run, and on Ctrl-C (exit status 130, with what it found so far). ``--cluster`` runs the
campaign on dask.distributed (:mod:`vsssim.testing.fuzz.cluster`), with the same summary.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shlex
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from vsssim.cli.progress import Progress
from vsssim.cli.summaries import dumps, failure_json, fuzz_json
from vsssim.errors import ConfigurationError, ReplayError
from vsssim.render.text import render_text
from vsssim.testing._pool import ignore_sigint, sigint_blocked
from vsssim.testing.fuzz import (
    CampaignSummary,
    Executor,
    RunReport,
    campaign,
    is_crash,
    replay,
    run_failure_file,
    write_failure,
)
from vsssim.testing.fuzz.cluster import dask_client, worker_threads

#: The most runs one ``vsssim fuzz`` takes (about a month of CPU at today's speed).
MAX_RUNS = 10**9
#: The most runs in one chunk (``--chunk-runs``): a chunk is one task, its runs done in a row.
MAX_CHUNK_RUNS = 10**6
#: Exit status of a command stopped by Ctrl-C (128 + SIGINT).
INTERRUPTED = 130


def whole(low: int, high: int | None = None) -> Callable[[str], int]:
    """An argparse type: a whole number in ``[low, high]``, refused in one line otherwise."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text[:40]!r} is not a whole number") from None
        if value < low or (high is not None and value > high):
            bounds = f"at least {low}" if high is None else f"from {low} to {high}"
            raise argparse.ArgumentTypeError(f"{value} is out of range (give {bounds})")
        return value

    parse.__name__ = "whole number"
    return parse


#: Seeds: any whole number from 0 to 2**64 - 1.
SEED = whole(0, 2**64 - 1)


def input_file(path: str, what: str) -> Path:
    """``path`` if it names a regular file (not missing, not a folder, not a device)."""
    file = Path(path)
    if not file.exists():
        raise ConfigurationError(f"cannot read {what} {path!r}: it does not exist")
    if not file.is_file():
        raise ConfigurationError(f"cannot read {what} {path!r}: it is not a regular file")
    return file


def output_folder(path: str, what: str) -> Path:
    """``path`` if it names a folder this process may write in."""
    folder = Path(path)
    if not folder.is_dir():
        raise ConfigurationError(f"{what} {path!r} is not an existing folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ConfigurationError(f"{what} {path!r} is not writable")
    return folder


def fuzz_report(summary: CampaignSummary, jobs: int, requested: int | None = None) -> list[str]:
    """The summary tables of a fuzz campaign."""
    heading = f"vsssim fuzz: seed {summary.seed}, {summary.runs} runs, {jobs} job(s)"
    if summary.interrupted:
        heading += f" (interrupted: {summary.runs} of {requested or '?'} runs finished)"
    elif summary.stopped:
        heading += f" (stopped early: {summary.runs} of {requested or '?'} runs finished)"
    lines = [heading, "", f"{'Faults fired (by kind)':<34}{'runs':>6}{'times':>8}"]
    times = dict(summary.fault_times)
    for kind, runs in summary.fault_runs:
        lines.append(f"  {kind:<32}{runs:>6}{times[kind]:>8}")
    never = summary.kinds_never_fired
    lines.append(f"  kinds never fired: {', '.join(never) if never else 'none'}")
    lines += ["", "Backup outcomes (one per agent)"]
    lines.append("  " + "  ".join(f"{name}: {n}" for name, n in summary.outcomes))
    lines += ["", "Restore outcomes (one per restore run: a chain restores in steps)"]
    restores = "  ".join(f"{name}: {n}" for name, n in summary.restores)
    lines.append("  " + (restores or "no run restored"))
    lines += ["", f"{'Coverage probes':<44}{'hits':>8}"]
    lines += [f"  {name:<42}{n:>8}" for name, n in summary.probes]
    missing = summary.never_hit
    lines.append(f"  never hit: {', '.join(missing) if missing else 'none'}")
    lines += [
        "",
        f"Planted writer bugs: {summary.planted} planted, "
        f"{summary.caught} caught by the invariants",
        f"Determinism: {summary.double_checked} runs run twice, "
        f"{summary.mismatches} trace mismatches",
    ]
    if summary.crashed:
        lines.append(f"Crashes: {summary.crashed} runs raised or killed their worker process")
    lines.append(f"{summary.violations} violations")
    return lines


def _replay_flags(writer: str | None) -> str:
    """What a replay command adds to the token: the writer, whose code only the user may say
    to run (the token names it, and carries the rest of the run)."""
    return f" --writer {shlex.quote(writer)}" if writer is not None else ""


def _write_failure_alone(
    path: Path, report: RunReport, writer: str | None, misbehaviour: bool
) -> str:
    """Write the failure file, shrinking in a child process (the shrink runs the failing code
    again: if it kills its process, the file is written unshrunk here); what happened."""
    ctx = multiprocessing.get_context()
    child = ctx.Process(
        target=_shrink_child, args=(path, report, writer, misbehaviour), daemon=True
    )
    with sigint_blocked():
        child.start()
    try:
        child.join()
    finally:
        if child.is_alive():
            child.terminate()
            child.join(timeout=2)
    if child.exitcode == 0 and path.is_file():
        if is_crash(report):
            return "The run crashed, so its drawn scenario (not shrunk) was written to"
        return "Shrunk scenario written to"
    write_failure(path, report, writer=writer, misbehaviour=misbehaviour, shrink_it=False)
    return "Shrinking it failed; the drawn scenario written to"


def _shrink_child(path: Path, report: RunReport, writer: str | None, misbehaviour: bool) -> None:
    ignore_sigint()
    try:
        write_failure(path, report, writer=writer, misbehaviour=misbehaviour)
    except Exception:  # the parent writes the file unshrunk, or says why it cannot
        sys.exit(1)


def _failure_lines(
    args: argparse.Namespace, summary: CampaignSummary
) -> tuple[list[str], dict[str, Any]]:
    """The first failing run told, its failure file written, and how to replay both; and the
    same as the ``first_failure`` of ``--format json``."""
    first = summary.failures[0]
    misbehaviour = not args.no_misbehaviour
    flags = _replay_flags(args.writer)
    lines = ["", f"First failing run: #{first.index} (seed {first.seed})"]
    lines += [f"  {v}" for v in first.violations[:10]]
    if first.determinism_mismatch:
        lines.append("  determinism bug: the same seed gave two different traces")
    replay_command = f"vsssim replay {first.token}{flags}" if first.token else None
    if replay_command:
        lines.append(f"Replay it:  {replay_command}")
    path = Path(args.out) / f"vsssim-failure-{first.seed}.json"
    try:
        done = _write_failure_alone(path, first, args.writer, misbehaviour)
    except KeyboardInterrupt:
        args.interrupted = True
        note = "Failure file not written: interrupted"
    except OSError as error:
        note = f"Failure file not written: {error}"
    else:
        file_flags = _replay_flags(args.writer)
        note = f"{done} {path} (vsssim replay --file {shlex.quote(str(path))}{file_flags})"
        lines.append(note)
        return lines, failure_json(first, replay_command, str(path), note)
    lines.append(note)
    return lines, failure_json(first, replay_command, None, note)


def cap_jobs(jobs: int) -> int:
    """``jobs``, at most the CPU count (said on standard error when it is cut)."""
    cpus = os.cpu_count() or 1
    if jobs > cpus:
        print(f"vsssim: note: --jobs {jobs} cut to {cpus}, the number of CPUs", file=sys.stderr)
        return cpus
    return jobs


def run_fuzz(args: argparse.Namespace) -> int:
    """``vsssim fuzz``: a campaign, its summary, and the first failure written down."""
    output_folder(args.out, "--out")
    jobs = cap_jobs(args.jobs)

    shown = Progress(args.runs)  # on a terminal only: never into a redirected standard error

    def progress(done: int, runs: int, failing: int) -> None:
        shown.update(done, f"{failing} failing", force=done == runs)

    def run(jobs: int, executor: Executor | None = None) -> CampaignSummary:
        return campaign(
            args.seed,
            args.runs,
            jobs=jobs,
            writer=args.writer,
            misbehaviour=not args.no_misbehaviour,
            progress=progress,
            executor=executor,
            chunk_runs=args.chunk_runs,
        )

    try:
        if args.cluster is None:
            summary = run(jobs)
        else:
            with dask_client(args.cluster, jobs) as client:
                jobs = worker_threads(client)
                summary = run(jobs, client)
    finally:
        shown.done()
    args.interrupted = summary.interrupted
    lines = fuzz_report(summary, jobs, args.runs)
    first_failure = None
    if summary.failures:
        told, first_failure = _failure_lines(args, summary)
        lines += told
    if args.format == "json":
        sys.stdout.write(dumps(fuzz_json(summary, jobs, args.runs, first_failure)))
    else:
        sys.stdout.write("\n".join(lines) + "\n")
    if args.interrupted:
        print("vsssim: interrupted", file=sys.stderr)
        return INTERRUPTED
    if summary.stopped:
        print(f"vsssim: the campaign stopped early: {summary.stopped}", file=sys.stderr)
        return 1
    if summary.failures:
        print(f"vsssim: {summary.failed} failing runs", file=sys.stderr)
        return 1
    return 0


def fuzz_replay(args: argparse.Namespace, token: str) -> int:
    """``vsssim replay`` of a fuzzed run: again, from its token or its failure file."""
    try:
        if args.file is not None:
            world, report = run_failure_file(input_file(args.file, "--file"), writer=args.writer)
        else:
            misbehaviour = False if args.no_misbehaviour else None
            world, report = replay(token, writer=args.writer, misbehaviour=misbehaviour)
    except (ReplayError, ConfigurationError, KeyboardInterrupt):
        raise
    except BaseException as crash:  # as fuzz_one reports it: whatever escaped the run
        # The replayed run crashed: that is the failure being reproduced, not bad input.
        print(f"vsssim: the replayed run crashed ({type(crash).__name__}):", file=sys.stderr)
        traceback.print_exception(crash, file=sys.stderr)
        return 1
    if args.format == "json":
        sys.stdout.write(world.sim.trace.to_jsonl())
    elif args.format == "mermaid":
        from vsssim.cli.reports import sequence_diagram

        sys.stdout.write(sequence_diagram(world.sim.trace, args.participants))
    else:
        from vsssim.cli.reports import invariant_report

        sys.stdout.write(render_text(world.sim.trace))
        lines, _ = invariant_report(world)
        lines.append(f"Faults fired: {dict(report.faults) or 'none'}")
        if report.caught:
            lines.append(f"Planted bugs caught: {', '.join(report.caught)}")
        lines += [f"VIOLATION {v}" for v in report.violations]
        lines.append(f"{len(report.violations)} violations")
        sys.stdout.write("\n".join(lines) + "\n")
    if report.failed:
        print(f"vsssim: the replayed run failed ({_failure(report)})", file=sys.stderr)
        return 1
    return 0


def _failure(report: RunReport) -> str:
    """What a failed run broke, in a few words."""
    if report.violations:
        return f"{len(report.violations)} violations"
    if report.determinism_mismatch:
        return "the same seed gave two different traces"
    return "it did not settle"
