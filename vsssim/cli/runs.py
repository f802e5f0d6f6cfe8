"""``vsssim demo`` and ``vsssim run``: a backup narrated, its checks, and its replay token.

Each run's world carries its origin (what the run is), so the token ``--show-token`` prints
says how to run it again: ``vsssim replay TOKEN`` needs nothing else. ``--replay TOKEN`` takes
a token of the same kind of run (or of choices alone) and refuses one of another run.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from vsssim.cli.fuzz import input_file
from vsssim.cli.reports import (
    _summary,
    instant_recovery_demo_report,
    invariant_report,
    restore_demo_report,
    sequence_diagram,
)
from vsssim.cli.summaries import dumps, run_json
from vsssim.errors import ConfigurationError, ReplayError
from vsssim.host.demo import build_demo_world, run_instant_recovery_demo, run_restore_demo
from vsssim.host.replay_origins import RUN, demo_origin, kind_of, scenario_origin
from vsssim.host.scenario_file import load_scenario
from vsssim.host.scenario_limits import run_horizon_us
from vsssim.host.world import World
from vsssim.render.text import WIDTH, render_text
from vsssim.requesters.backup_result import BackupResult
from vsssim.sim.choices import ChoiceSource, SeededChoices, SequenceChoices
from vsssim.sim.tokens import CHOICES, ReplayToken, read_token
from vsssim.vss.constants import WriterState


def replayed_choices(
    text: str | None, origin: ReplayToken, matching: Sequence[str]
) -> tuple[ChoiceSource | None, int | None]:
    """The choices ``--replay TOKEN`` gives the run ``origin`` describes, and the seed of a
    token that is its header alone (the run is that seed's).

    The token must be of the same kind, with the same ``matching`` fields (or carry choices
    alone, as a world built in Python prints them): another run's token is refused, naming
    what differs."""
    if text is None:
        return None, None
    token = read_token(text)
    if token.kind != CHOICES:
        if token.kind != origin.kind:
            raise ReplayError(
                f"the token replays {kind_of(token)}, not {kind_of(origin)}: replay it with "
                "vsssim replay TOKEN"
            )
        for key in matching:
            if token.fields.get(key) != origin.fields.get(key):
                raise ReplayError(
                    f"the token's run had {key} {token.fields.get(key)!r}, this one "
                    f"{origin.fields.get(key)!r}: replay it with vsssim replay TOKEN"
                )
    if token.choices is None:
        if token.kind == CHOICES:
            raise ReplayError("the replay token is damaged: a choices token without choices")
        seed = token.number("seed")
        return SeededChoices(seed), seed
    return SequenceChoices(token.choices), None


def _machine_output(
    world: World,
    args: argparse.Namespace,
    results: Sequence[BackupResult],
    unexpected: Sequence[str],
    problems: Sequence[str],
    status: int,
) -> bool:
    """Write the run as JSON lines, its summary object (:func:`run_json`) or a Mermaid diagram
    if ``args.format`` asks; True if so (the replay token, asked for, goes to standard error
    beside JSON lines; the summary object carries it)."""
    if args.format == "summary":
        token = world.token() if args.show_token else None
        summary = run_json(
            world, results, unexpected=unexpected, problems=problems, status=status, token=token
        )
        sys.stdout.write(dumps(summary))
        return True
    if args.format == "json":
        sys.stdout.write(world.sim.trace.to_jsonl())
        if args.show_token:
            print(f"Replay token: {world.token()}", file=sys.stderr)
        return True
    if args.format == "mermaid":
        sys.stdout.write(sequence_diagram(world.sim.trace, args.participants))
        return True
    return False


def _report(
    world: World,
    results: Sequence[BackupResult],
    args: argparse.Namespace,
    unexpected: Callable[[Sequence[BackupResult]], list[str]],
) -> int:
    """Print a finished run in ``args.format``; 0 if it went as expected with no violation.

    ``unexpected`` names the agents whose outcome is not the one wanted (the demo wants every
    backup to succeed; a scenario file says what it expects of each agent).
    """
    lines, problems = _summary(world, results)
    report, violated = invariant_report(world)
    surprises = unexpected(results)
    status = 0 if not (violated or surprises or problems) else 1
    _tell([*problems, *surprises, *(["an invariant was violated"] if violated else [])])
    if _machine_output(world, args, results, surprises, problems, status):
        return status
    sys.stdout.write(render_text(world.sim.trace, width=_width(args)))
    for array in world.arrays:
        lines += ["", f"pairdisplay ({array.name}, at the end)"]
        lines += ["  " + line for line in array.render_pairdisplay().splitlines()]
    lines += report
    lines += [f"Unexpected outcome: {s}" for s in surprises]
    if args.show_token:
        lines.append(f"Replay token: {world.token()}")
    sys.stdout.write("\n".join(lines) + "\n")
    return status


def _tell(reasons: Sequence[str]) -> None:
    """Why a command exits 1, on standard error (the report itself is on standard output)."""
    for reason in reasons:
        print(f"vsssim: {reason}", file=sys.stderr)


def _demo_origin(args: argparse.Namespace) -> tuple[ReplayToken, ChoiceSource | None]:
    """What ``vsssim demo`` with ``args`` is, and its ``--replay`` choices (``args.seed`` set
    to the seed of a token that is its header alone)."""
    story = "instant-recovery" if args.instant_recovery else "restore" if args.restore else None

    def origin() -> ReplayToken:
        return demo_origin(args.seed, agents=args.agents, provider=args.provider, story=story)

    choices, seed = replayed_choices(args.replay, origin(), ("agents", "provider", "story"))
    if seed is not None:
        args.seed = seed
    return origin(), choices


def _demo_story(args: argparse.Namespace) -> int:
    """``--restore`` and ``--instant-recovery``: a backup, damage, and the data put back."""
    if args.agents != 1:
        raise ConfigurationError("this demo backs up with one agent; drop --agents")
    origin, choices = _demo_origin(args)
    if args.instant_recovery:
        if args.provider != "xp" or args.restore:
            raise ConfigurationError(
                "--instant-recovery puts an XP array replica back: use it with --provider xp "
                "and without --restore"
            )
        recovered = run_instant_recovery_demo(args.seed, choices=choices)
        story = instant_recovery_demo_report(recovered, width=_width(args))
        world, ok = recovered.world, recovered.ok
        failed = [] if recovered.recovery.succeeded else ["the instant recovery failed"]
        reasons, backup = [*failed, *recovered.problems], recovered.backup
    else:
        restored = run_restore_demo(args.seed, choices=choices, provider=args.provider)
        story = restore_demo_report(restored, width=_width(args))
        world, ok = restored.world, restored.ok
        reasons, backup = [*restored.problems, *restored.unexpected], restored.backup
    world.origin = origin
    if choices is not None:
        choices.check_consumed()  # choices left over: the token is another run's
    report, violated = invariant_report(world)
    status = 0 if ok and not violated else 1
    if not backup.succeeded:
        reasons.insert(0, f"the backup failed: {backup.outcome.value}")
    if not ok and not reasons:
        reasons.append("the demo did not go as expected")
    _tell([*reasons, *(["an invariant was violated"] if violated else [])] if status else [])
    if _machine_output(world, args, [backup], reasons, [], status):
        return status
    lines = story + report
    if args.show_token:
        lines.append(f"Replay token: {world.token()}")
    sys.stdout.write("\n".join(lines) + "\n")
    return status


def demo_command(args: argparse.Namespace) -> int:
    """``vsssim demo``: the demo server backed up (and restored), narrated."""
    if args.restore or args.instant_recovery:
        return _demo_story(args)
    origin, choices = _demo_origin(args)
    world = build_demo_world(args.seed, agents=args.agents, choices=choices, provider=args.provider)
    world.origin = origin

    def unexpected(results: Sequence[BackupResult]) -> list[str]:
        """The demo expects every backup to succeed and every writer to end stable."""
        failed = [f"{r.agent}: {r.outcome.value}" for r in results if not r.succeeded]
        return failed + [
            f"{w.name} ended in {w.state.vss_name}"
            for w in world.coordinator.writers
            if w.state != WriterState.STABLE
        ]

    results = world.run()
    if choices is not None:
        choices.check_consumed()  # choices left over: the token is another run's
    return _report(world, results, args, unexpected)


def run_command(args: argparse.Namespace) -> int:
    """``vsssim run FILE``: a scenario file run and narrated."""
    loaded = load_scenario(input_file(args.file, "the scenario file"))
    seed = loaded.seed if args.seed is None else args.seed
    origin = scenario_origin(RUN, args.file, seed=seed)
    choices, replayed_seed = replayed_choices(args.replay, origin, ("sha256",))
    if replayed_seed is not None:
        seed = replayed_seed
        origin = scenario_origin(RUN, args.file, seed=seed)
    world = loaded.scenario.build(seed, choices=choices)
    world.origin = origin
    # The worst case the file's limits allow: a run past it is stuck, and is said to be.
    horizon = run_horizon_us(loaded.scenario)
    results = world.run(limit_us=horizon)
    if loaded.scenario.restore is not None and world.finished and world.crash is None:
        loaded.scenario.restore.run(world, limit_us=horizon)
    if choices is not None:
        choices.check_consumed()  # choices left over: the token is another run's
    if args.format == "text":
        heading = loaded.title or Path(args.file).name
        sys.stdout.write(f"{heading} (seed {seed})\n")
        if loaded.about:
            sys.stdout.write(loaded.about.rstrip() + "\n")
        sys.stdout.write("\n")

    def unexpected(results: Sequence[BackupResult]) -> list[str]:
        return loaded.unexpected({r.agent: r.outcome for r in results})

    return _report(world, results, args, unexpected)


def _width(args: argparse.Namespace) -> int | None:
    """The longest narrated line: none with ``--wide``."""
    return None if args.wide else WIDTH
