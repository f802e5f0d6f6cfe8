"""The ``vsssim explore`` command: its report as text or as one JSON object.

The JSON object (``--format json``) is documented in docs/reference/explore.md;
tests parse it. Progress (runs, states per second, frontier) goes to standard error on a
terminal only; Ctrl-C prints the partial report, in either format, and exits 130.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

import attrs

from vsssim.cli.fuzz import INTERRUPTED, input_file
from vsssim.cli.progress import Progress
from vsssim.cli.reports import invariant_report, sequence_diagram
from vsssim.errors import ReplayError
from vsssim.host.replay_origins import EXPLORE, kind_of, scenario_origin
from vsssim.host.scenario_file import load_scenario
from vsssim.render.text import WIDTH, render_text
from vsssim.sim.tokens import CHOICES, ReplayToken, decode_token, read_token
from vsssim.testing.explore import (
    ExploreOptions,
    ExploreReport,
    ExploreStatus,
    explore,
    replay_explored,
)

#: The version of the JSON object ``vsssim explore --format json`` prints.
EXPLORE_JSON_SCHEMA = 1


def _width(args: argparse.Namespace) -> int | None:
    return None if args.wide else WIDTH


def explore_token(args: argparse.Namespace, choices: str) -> str:
    """The self-describing token of an explored run (the explorer's token of ``choices``
    alone, with the file and ``--faults`` the run needs)."""
    return attrs.evolve(_origin(args), choices=decode_token(choices)).encode()


def _origin(args: argparse.Namespace) -> ReplayToken:
    """An explored run's token header: the file, ``--faults`` and, with faults on,
    ``--faults-per-run`` (a token without it is older: its runs had no cap)."""
    if args.faults == "off":
        return scenario_origin(EXPLORE, args.file, faults=args.faults)
    return scenario_origin(
        EXPLORE, args.file, faults=args.faults, faults_per_run=args.faults_per_run
    )


def _replay_command(token: str) -> str:
    return f"vsssim replay {token}"


def explore_replay(args: argparse.Namespace, shown: str = "text") -> int:
    """One explored run again from ``args.replay`` (an explore token of this file and
    ``--faults``, or choices alone), narrated or ``shown`` as its trace (``json``) or a
    diagram (``mermaid``); 1 if it breaks an invariant."""
    token = read_token(args.replay)
    loaded = load_scenario(input_file(args.file, "the scenario file"))
    if token.kind != CHOICES:
        origin = _origin(args)
        if token.kind != EXPLORE:
            raise ReplayError(
                f"the token replays {kind_of(token)}, not an explored one: replay it with "
                "vsssim replay TOKEN"
            )
        for key in ("sha256", "faults", "faults_per_run"):
            if token.fields.get(key) != origin.fields.get(key):
                raise ReplayError(
                    f"the token's run had {key} {token.fields.get(key)!r}, this one "
                    f"{origin.fields.get(key)!r}: replay it with vsssim replay TOKEN"
                )
    world = replay_explored(loaded.scenario, args.replay, faults=args.faults == "on")
    if shown == "json":
        sys.stdout.write(world.sim.trace.to_jsonl())
    elif shown == "mermaid":
        sys.stdout.write(sequence_diagram(world.sim.trace, args.participants))
    else:
        sys.stdout.write(render_text(world.sim.trace, width=_width(args)))
    lines, violated = invariant_report(world)
    if shown == "text":
        sys.stdout.write("\n".join(lines) + "\n")
    if violated:
        print("vsssim: an invariant was violated", file=sys.stderr)
    return 1 if violated else 0


def run_explore(args: argparse.Namespace) -> int:
    """``vsssim explore``: the search, its report, and the shortest counterexample told."""
    if args.replay:
        return explore_replay(args)
    loaded = load_scenario(input_file(args.file, "the scenario file"))
    faults = args.faults == "on"
    options = ExploreOptions(
        max_choices=args.max_choices,
        preemption_bound=args.preemption_bound,
        faults=faults,
        fingerprints=args.fingerprints,
        max_runs=args.max_runs,
        order=args.order,
        reduction=not args.no_reduction,
        timings=args.timings,
        faults_per_run=args.faults_per_run,
    )
    shown = Progress(args.max_runs)
    started = time.perf_counter()  # reported only; nothing in the model reads the wall clock

    def progress(status: ExploreStatus) -> None:
        elapsed = max(time.perf_counter() - started, 1e-9)
        rate = (status.distinct_states or status.transitions) / elapsed
        unit = "states" if status.distinct_states else "transitions"
        shown.update(
            status.runs,
            f"{status.violating_runs} violating, {rate:,.0f} {unit}/s, frontier {status.frontier}",
        )

    try:
        report = explore(loaded.scenario, options, progress=progress)
    finally:
        shown.done()
    seconds = time.perf_counter() - started
    if args.format == "json":
        document = explore_json(report, seconds, args)
        sys.stdout.write(json.dumps(document, indent=2, sort_keys=True) + "\n")
    else:
        sys.stdout.write("\n".join(_text_report(report, seconds, args, faults)) + "\n")
    if report.interrupted:
        print("vsssim: interrupted", file=sys.stderr)
        return INTERRUPTED
    if report.violating_runs:
        print(f"vsssim: {report.violating_runs} violating runs", file=sys.stderr)
        return 1
    return 0


def explore_json(report: ExploreReport, seconds: float, args: argparse.Namespace) -> dict[str, Any]:
    """The report as the JSON object of ``--format json`` (each key: docs/reference/explore.md)."""
    options = report.options
    return {
        "schema": EXPLORE_JSON_SCHEMA,
        "file": args.file,
        "faults": options.faults,
        "faults_per_run": options.faults_per_run if options.faults else None,
        "order": options.order,
        "runs": report.runs,
        "complete_runs": report.complete_runs,
        "pruned_runs": report.pruned_runs,
        "distinct_states": report.distinct_states if options.fingerprints else None,
        "transitions": report.transitions,
        "reduction": {
            "enabled": options.reduction,
            "schedule_ways_met": report.offered_ways,
            "left_out_as_commuting": report.reduced_ways,
        },
        "timings": options.timings,
        "max_depth": report.max_depth,
        "complete": report.complete,
        "bounds": report.bounds,
        "abstractions": list(report.abstractions),
        "interrupted": report.interrupted,
        "violating_runs": report.violating_runs,
        "violations": [
            {
                "invariant": example.invariant,
                "message": dict(example.found)[example.invariant],
                "token": explore_token(args, example.token),
                "depth": example.depth,
                "choices": example.choices,
                "replay": _replay_command(explore_token(args, example.token)),
            }
            for example in report.counterexamples
        ],
        "seconds": round(seconds, 3),
    }


def _reduction_line(report: ExploreReport) -> str:
    if not report.options.reduction:
        return "off (every order of commuting steps run)"
    return (
        f"{report.reduced_ways} of {report.offered_ways} other orders at schedule decisions "
        "left out (they only reorder commuting steps)"
    )


def _text_report(
    report: ExploreReport, seconds: float, args: argparse.Namespace, faults: bool
) -> list[str]:
    options = report.options
    stopped = f" (interrupted after {report.runs} runs)" if report.interrupted else ""
    states = report.distinct_states if options.fingerprints else "not tracked"
    if report.complete:
        verdict = ["  complete: every run within the model's choices was covered"]
    else:
        verdict = ["  incomplete, cut by (not a proof beyond these bounds):"]
        verdict += [f"    - {line}" for line in report.bounds]
    lines = [
        f"vsssim explore {args.file}: faults {args.faults}, {options.order}{stopped}",
        f"  runs explored:    {report.runs} ({report.complete_runs} complete, "
        f"{report.pruned_runs} cut at a state seen before)",
        f"  distinct states:  {states}",
        f"  transitions:      {report.transitions}",
        f"  reduction:        {_reduction_line(report)}",
        f"  max depth:        {report.max_depth} decisions in one run",
        f"  time:             {seconds:.1f} s",
        *verdict,
        *[f"  abstraction: {line}" for line in report.abstractions],
        f"{report.violating_runs} violating runs",
    ]
    example = report.counterexample
    if example is not None:
        loaded = load_scenario(input_file(args.file, "the scenario file"))
        world = replay_explored(loaded.scenario, example.token, faults=faults)
        lines += [
            "",
            f"Shortest counterexample (decided by its first {example.depth} decisions, "
            f"{example.choices} in all):",
            *[f"  {v}" for v in example.violations],
            f"Replay it: {_replay_command(explore_token(args, example.token))}",
            "",
            render_text(world.sim.trace, width=_width(args)).rstrip("\n"),
        ]
    return lines
