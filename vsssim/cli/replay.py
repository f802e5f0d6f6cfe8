"""``vsssim replay TOKEN``: any run vsssim printed a token for, run again byte for byte.

A token says what it replays (:mod:`vsssim.host.replay_origins`): the demo with its options,
a scenario file (checked against its digest) run or explored, a fuzzed run, a state machine's
rounds, a test's world. The replay runs through the same code as the command that printed it,
so its output is that command's. ``--file`` replays a fuzz failure file instead.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import os
import shlex
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

from vsssim.cli.explore import explore_replay
from vsssim.cli.fuzz import fuzz_replay
from vsssim.cli.runs import demo_command, run_command
from vsssim.errors import ConfigurationError, ReplayError
from vsssim.host.replay_origins import (
    DEMO,
    DIGEST_CHARS,
    EXPLORE,
    FUZZ,
    PYTEST,
    RUN,
    STATEFUL,
    scenario_file_of,
)
from vsssim.render.text import WIDTH, render_text
from vsssim.sim.tokens import CHOICES, ReplayToken, read_token
from vsssim.testing.fuzz.writer_loading import load_class

#: The stories ``vsssim demo`` tells after its backup, as a demo token names them.
_STORIES = {None: (False, False), "restore": (True, False), "instant-recovery": (False, True)}


def run_replay(args: argparse.Namespace) -> int:
    """``vsssim replay``: the run a token (or a failure file) names, again."""
    if (args.token is None) == (args.file is None):
        raise ConfigurationError("give a replay TOKEN or --file FAILURE.json (one of them)")
    if args.file is not None:
        for flag, given in (("--scenario", args.scenario), ("--machine", args.machine)):
            if given is not None:
                raise ConfigurationError(f"{flag} is for a token, not a failure file (--file)")
        return fuzz_replay(args, "")
    token = read_token(args.token)
    handler = _HANDLERS.get(token.kind)
    if handler is None:
        raise ReplayError(
            f"the token replays a {token.kind!r} run, a kind this vsssim does not know (it was "
            f"made by vsssim {token.made_by})"
        )
    if args.scenario is not None and token.kind not in (RUN, EXPLORE):
        raise ConfigurationError(f"--scenario is for a scenario file's token, not a {token.kind}")
    return handler(args, token)


def _shown(args: argparse.Namespace, **fields: object) -> argparse.Namespace:
    """The arguments of the command that printed the token, shown as ``replay`` asks."""
    return argparse.Namespace(
        format=args.format,
        participants=args.participants,
        wide=args.wide,
        show_token=False,
        replay=args.token,
        **fields,
    )


def _demo(args: argparse.Namespace, token: ReplayToken) -> int:
    story = token.optional_text("story")
    if story not in _STORIES:
        raise ReplayError(f"the replay token is damaged: its demo story is {story!r}")
    restore, instant_recovery = _STORIES[story]
    demo = _shown(
        args,
        seed=token.number("seed"),
        agents=token.number("agents"),
        provider=token.text("provider"),
        restore=restore,
        instant_recovery=instant_recovery,
    )
    return demo_command(demo)


def _run(args: argparse.Namespace, token: ReplayToken) -> int:
    file = scenario_file_of(token, args.scenario)
    return run_command(_shown(args, file=str(file), seed=token.number("seed")))


def _explore(args: argparse.Namespace, token: ReplayToken) -> int:
    file = scenario_file_of(token, args.scenario)
    faults = token.text("faults")
    if faults not in ("on", "off"):
        raise ReplayError(f"the replay token is damaged: its --faults is {faults!r}")
    per_run = token.fields.get("faults_per_run")  # absent: no cap (or faults off)
    if per_run is not None and (type(per_run) is not int or per_run < 0):
        raise ReplayError(f"the replay token is damaged: its --faults-per-run is {per_run!r}")
    shown = _shown(args, file=str(file), faults=faults, faults_per_run=per_run)
    return explore_replay(shown, args.format)


def _fuzz(args: argparse.Namespace, token: ReplayToken) -> int:
    named = token.optional_text("writer")
    if args.writer is not None and named is not None and args.writer != named:
        print(
            f"vsssim: note: the run fuzzed --writer {named}; replaying it with {args.writer}",
            file=sys.stderr,
        )
    return fuzz_replay(args, args.token)


def _machine_class(args: argparse.Namespace, token: ReplayToken) -> type[Any]:
    """The state machine class a token names: vsssim's own, or the one ``--machine`` names
    (importing a test module runs its code: only with the user's say-so)."""
    try:
        from vsssim.testing.stateful import BASE_MACHINE, WriterProtocolMachine
    except ImportError as missing:
        raise ConfigurationError(str(missing)) from None
    named = token.text("machine")
    if args.machine is not None:
        loaded: type[Any] = load_class(
            args.machine, WriterProtocolMachine, "machine", "WriterProtocolMachine"
        )
        return loaded
    if named == BASE_MACHINE:
        return WriterProtocolMachine
    load = token.optional_text("load") or named
    raise ConfigurationError(
        f"the token's run is the state machine {named}; replaying it runs that code, so say "
        f"so: add --machine {shlex.quote(load)}"
    )


def _stateful(args: argparse.Namespace, token: ReplayToken) -> int:
    """A state machine's rounds again, on the machine class the token names."""
    from vsssim.cli.reports import invariant_report, sequence_diagram
    from vsssim.testing.stateful import replay_machine

    machine, failure = replay_machine(_machine_class(args, token), token)
    trace = machine.world.sim.trace
    if args.format == "json":
        sys.stdout.write(trace.to_jsonl())
    elif args.format == "mermaid":
        sys.stdout.write(sequence_diagram(trace, args.participants))
    else:
        sys.stdout.write(render_text(trace, width=None if args.wide else WIDTH))
        lines, _ = invariant_report(machine.world)
        if failure is not None:
            lines += ["", "The state machine fails:", failure]
        sys.stdout.write("\n".join(lines) + "\n")
    if failure is not None:
        print(
            f"vsssim: the replayed state machine failed: {failure.splitlines()[0]}", file=sys.stderr
        )
        return 1
    return 0


#: The module of vsssim's pytest plugin, as ``-p`` names it where entry points are off.
_PLUGIN = "vsssim.testing.pytest_plugin"


def _plugin_loads_itself() -> bool:
    """True if the child pytest loads the plugin from its entry point (installed, not off)."""
    if os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD"):
        return False
    found = importlib.metadata.entry_points(group="pytest11")
    return any(point.value == _PLUGIN for point in found)


def _pytest(args: argparse.Namespace, token: ReplayToken) -> int:
    """A test's world: the test run again on the same seed base, in the folder here (or the
    nearest above it) that holds the test's file at the path the token names relative to
    pytest's rootdir, so that a token from another checkout (CI's) replays in this one."""
    test, base = token.text("test"), token.number("base")
    file = token.optional_text("file") or test.partition("::")[0]
    rootdir = _project_folder(test, file, base)
    wanted = token.optional_text("sha256")
    found = hashlib.sha256((rootdir / file).read_bytes()).hexdigest()[:DIGEST_CHARS]
    if wanted is not None and found != wanted:
        print(
            f"vsssim: note: {file} differs from the file the test ran from (sha256 {wanted}..., "
            f"now {found}...): the run may differ",
            file=sys.stderr,
        )
    command = [sys.executable, "-m", "pytest", test, "--vsssim-seed", str(base)]
    if not _plugin_loads_itself():
        command += ["-p", _PLUGIN]
    where = "" if rootdir == Path.cwd() else f" (in {rootdir})"
    print(f"vsssim: running the test again: {shlex.join(command[2:])}{where}", file=sys.stderr)
    sys.stdout.flush()
    done = subprocess.run(command, cwd=rootdir, check=False)
    return 0 if done.returncode == 0 else 1 if done.returncode == 1 else 2


def _project_folder(test: str, file: str, base: int) -> Path:
    """The current folder or the nearest folder above it holding ``file`` (the test's file,
    relative to pytest's rootdir); refused, naming the file, if none does."""
    path = PurePosixPath(file)
    if (
        not file
        or file.startswith("-")
        or path.is_absolute()
        or ".." in path.parts
        or (test != file and not test.startswith(f"{file}::"))
    ):
        raise ReplayError(f"the replay token is damaged: its test {test!r} is in {file!r}")
    here = Path.cwd()
    for folder in (here, *here.parents):
        if (folder / file).is_file():
            return folder
    raise ReplayError(
        f"the token's test is in {file!r} (relative to the folder pytest ran in), which is not "
        f"a file here ({here}) or in a folder above: run vsssim replay in a checkout of the "
        f"project, or pytest {shlex.quote(test)} --vsssim-seed {base} there"
    )


def _choices(args: argparse.Namespace, token: ReplayToken) -> int:
    raise ReplayError(
        "this token carries choices alone (a world built in Python prints it): nothing says "
        "which run they are; build the world the same way with "
        "choices=SequenceChoices(decode_token(TOKEN))"
    )


_HANDLERS: dict[str, Callable[[argparse.Namespace, ReplayToken], int]] = {
    CHOICES: _choices,
    DEMO: _demo,
    RUN: _run,
    EXPLORE: _explore,
    FUZZ: _fuzz,
    PYTEST: _pytest,
    STATEFUL: _stateful,
}
