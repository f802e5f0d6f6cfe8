"""The ``vsssim`` command line."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn, TypeAlias

from vsssim._version import __version__
from vsssim.cli.examples import run_examples
from vsssim.cli.explore import run_explore
from vsssim.cli.fuzz import (
    INTERRUPTED,
    MAX_CHUNK_RUNS,
    MAX_RUNS,
    SEED,
    run_fuzz,
    whole,
)
from vsssim.cli.help import INTERNAL_ERROR, epilog
from vsssim.cli.replay import run_replay
from vsssim.cli.reports import (
    add_participants_option,
    list_writers,
)
from vsssim.cli.runs import demo_command, run_command
from vsssim.cli.serve import add_serve
from vsssim.errors import ConfigurationError, VssimError
from vsssim.host.demo import (
    DEMO_PROVIDERS,
    build_demo_world,
)
from vsssim.host.scenario_file import STARTER_SCENARIO
from vsssim.render.diagrams import MACHINES, render_machine
from vsssim.render.text import WIDTH
from vsssim.testing.explore import ORDERS, TIMINGS, ExploreOptions
from vsssim.testing.fuzz import CHUNK_RUNS
from vsssim.vss.documents.wmd_xml import metadata_to_xml


def _writers(args: argparse.Namespace) -> int:
    world = build_demo_world(args.seed, agents=args.agents)
    world.run()
    if args.xml is None:
        sys.stdout.write(list_writers(world))
        return 0
    try:
        writer = world.coordinator.writer(args.xml)
    except VssimError:
        names = ", ".join(repr(w.name) for w in world.coordinator.writers)
        raise ConfigurationError(f"the demo server has no writer {args.xml!r} ({names})") from None
    sys.stdout.write(metadata_to_xml(writer.metadata))
    return 0


def _graph(args: argparse.Namespace) -> int:
    sys.stdout.write(render_machine(args.machine, args.format, full=args.full))
    return 0


def _wide_option(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--wide", action="store_true", help=f"text: never cut a line (default: at {WIDTH})"
    )


def _output_options(command: argparse.ArgumentParser) -> None:
    """--format, --replay, --show-token and --wide, shared by the commands that run a backup."""
    command.add_argument(
        "--format",
        choices=("text", "json", "summary", "mermaid"),
        default="text",
        help="narrated text, one JSON object per trace record, the run's summary as one JSON "
        "object (results, invariants, exit status), or a Mermaid sequence diagram",
    )
    command.add_argument(
        "--replay", metavar="TOKEN", help="replay the choices of a recorded run (see --show-token)"
    )
    command.add_argument(
        "--show-token",
        action="store_true",
        help="end the text output with the run's replay token (to stderr with --format json)",
    )
    _wide_option(command)
    add_participants_option(command)


def _init(args: argparse.Namespace) -> int:
    path = Path(args.file)
    if path.exists() or path.is_symlink():
        raise ConfigurationError(f"{path} exists already; choose another name")
    if not path.parent.is_dir():
        raise ConfigurationError(
            f"cannot write {path}: the folder {str(path.parent)!r} does not exist"
        )
    try:
        with path.open("x", encoding="utf-8") as file:
            file.write(STARTER_SCENARIO)
    except OSError as error:
        raise ConfigurationError(f"cannot write {path}: {error.strerror or error}") from None
    run = f"vsssim run {shlex.quote(str(path))}"
    print(f"Wrote {path}. Edit it, then: {run}  (or --format mermaid for a picture)")
    return 0


#: The object add_subparsers returns (argparse names it privately).
_Commands: TypeAlias = "argparse._SubParsersAction[_Parser]"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``vsssim``: one function adds each command."""
    parser = _Parser(
        prog="vsssim",
        description="A deterministic simulator of the VSS (Volume Shadow Copy Service) backup.",
        **epilog("vsssim"),
    )
    parser.add_argument("--version", action="version", version=f"vsssim {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_demo(commands)
    _add_run(commands)
    _add_explore(commands)
    _add_init(commands)
    _add_examples(commands)
    _add_writers(commands)
    _add_graph(commands)
    _add_fuzz(commands)
    _add_replay(commands)
    add_serve(commands)
    return parser


def _add_demo(commands: _Commands) -> None:
    """``vsssim demo``."""
    demo = commands.add_parser(
        "demo",
        help="back up the demo server and narrate the seven phases",
        **epilog("demo"),
    )
    demo.add_argument("--seed", type=SEED, default=0, help="the run's seed (default 0)")
    demo.add_argument(
        "--agents",
        type=whole(1, 8),
        default=1,
        metavar="N",
        help="backup agents running at once, 1 to 8 (default 1)",
    )
    demo.add_argument(
        "--restore",
        action="store_true",
        help="after the backup, let the applications damage the data (and a user delete "
        "files), restore it through VSS and check it equals the backup point",
    )
    demo.add_argument(
        "--instant-recovery",
        action="store_true",
        help="with --provider xp: keep the replica on the array, let the applications damage "
        "the data, put the whole replica back and check each volume equals its split instant",
    )
    demo.add_argument(
        "--provider",
        choices=DEMO_PROVIDERS,
        default="software",
        help="software: every volume on local disks (default); xp: SQL Server's volumes on an "
        "HP XP array, shadow-copied as split mirrors by its hardware provider",
    )
    _output_options(demo)
    demo.set_defaults(handler=demo_command)


def _add_run(commands: _Commands) -> None:
    """``vsssim run``."""
    run = commands.add_parser(
        "run",
        help="run a scenario file (TOML) and narrate it",
        **epilog("run"),
    )
    run.add_argument("file", help="the scenario file, e.g. examples/01_seven_phases.toml")
    run.add_argument("--seed", type=SEED, help="override the file's seed")
    _output_options(run)
    run.set_defaults(handler=run_command)


def _add_explore_faults(explore_cmd: argparse.ArgumentParser, defaults: ExploreOptions) -> None:
    explore_cmd.add_argument(
        "--faults",
        choices=("on", "off"),
        default="off",
        help="on: every survivable fault may fire, or not, at every site (default off: the "
        "file's own fault plan)",
    )
    explore_cmd.add_argument(
        "--faults-per-run",
        type=_bound,
        default=defaults.faults_per_run,
        metavar="N",
        help="with --faults on: at most N faults fire in a run, or 'none' (default "
        f"{defaults.faults_per_run})",
    )


def _add_explore(commands: _Commands) -> None:
    """``vsssim explore``."""
    explore_cmd = commands.add_parser(
        "explore",
        help="run every interleaving (and fault) of a small scenario file, bounded",
        **epilog("explore"),
    )
    explore_cmd.add_argument("file", help="the scenario file, e.g. examples/explore_2x2x2.toml")
    defaults = ExploreOptions()
    explore_cmd.add_argument(
        "--max-choices",
        type=_bound,
        default=defaults.max_choices,
        metavar="N",
        help=f"only the first N decisions of a run branch, or 'none' (default "
        f"{defaults.max_choices})",
    )
    explore_cmd.add_argument(
        "--preemption-bound",
        type=_bound,
        default=defaults.preemption_bound,
        metavar="K",
        help=f"at most K preemptions per run, or 'none' (default {defaults.preemption_bound})",
    )
    _add_explore_faults(explore_cmd, defaults)
    explore_cmd.add_argument(
        "--fingerprints",
        action=argparse.BooleanOptionalAction,
        default=defaults.fingerprints,
        help="cut runs at a state explored before (the whole state: sound with "
        "--no-reduction, which it can make complete; a heuristic with the reduction; "
        "default off)",
    )
    explore_cmd.add_argument(
        "--no-reduction",
        action="store_true",
        help="run every order of steps that commute (the plain enumeration)",
    )
    explore_cmd.add_argument(
        "--timings",
        choices=TIMINGS,
        default=defaults.timings,
        help="low: each writer's and provider's time to answer at its low end only (timings "
        "fixed, only orders and faults branch; the default); ends: at its two ends (each "
        "timing doubles the runs)",
    )
    explore_cmd.add_argument(
        "--max-runs", type=whole(1, MAX_RUNS), metavar="N", help="stop after N runs"
    )
    explore_cmd.add_argument(
        "--order",
        choices=ORDERS,
        default=defaults.order,
        help="breadth-first finds the shortest counterexamples (default); depth-first keeps "
        "only one branch in memory",
    )
    explore_cmd.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="the report as text, or as one JSON object (docs/reference/explore.md)",
    )
    explore_cmd.add_argument("--replay", metavar="TOKEN", help="narrate one explored run")
    _wide_option(explore_cmd)
    explore_cmd.set_defaults(handler=run_explore)


def _add_init(commands: _Commands) -> None:
    """``vsssim init``."""
    init = commands.add_parser(
        "init", help="write a starter scenario file to edit", **epilog("init")
    )
    init.add_argument("file", help="where to write it (an existing file is not overwritten)")
    init.set_defaults(handler=_init)


def _add_examples(commands: _Commands) -> None:
    """``vsssim examples``."""
    examples = commands.add_parser(
        "examples",
        help="copy the example scenario files (the lessons) into a folder",
        **epilog("examples"),
    )
    examples.add_argument(
        "dir", metavar="DIR", help="where to copy them (made if missing; nothing is overwritten)"
    )
    examples.set_defaults(handler=run_examples)


def _add_writers(commands: _Commands) -> None:
    """``vsssim writers``."""
    writers = commands.add_parser(
        "writers",
        help="back up the demo server, then list its writers like vssadmin",
        **epilog("writers"),
    )
    writers.add_argument("--seed", type=SEED, default=0, help="the run's seed (default 0)")
    writers.add_argument(
        "--agents",
        type=whole(1, 8),
        default=1,
        metavar="N",
        help="backup agents to run first, 1 to 8 (default 1)",
    )
    writers.add_argument(
        "--xml",
        metavar="WRITER",
        help="print that writer's Writer Metadata Document, as VSS writes it",
    )
    writers.set_defaults(handler=_writers)


def _add_graph(commands: _Commands) -> None:
    """``vsssim graph``."""
    graph = commands.add_parser(
        "graph",
        help="draw a state machine from the transition table the code runs on",
        **epilog("graph"),
    )
    graph.add_argument("machine", choices=sorted(MACHINES), help="which state machine")
    graph.add_argument(
        "--format",
        choices=("mermaid", "dot"),
        default="mermaid",
        help="Mermaid state diagram (default) or Graphviz DOT",
    )
    graph.add_argument(
        "--full",
        action="store_true",
        help="every arrow of the table (default: a summary with the failure states grouped "
        "and the arrows that stay in a state as notes)",
    )
    graph.set_defaults(handler=_graph)


def _add_fuzz(commands: _Commands) -> None:
    """``vsssim fuzz``."""
    fuzz = commands.add_parser(
        "fuzz",
        help="run random scenarios with injected faults and check every invariant",
        **epilog("fuzz"),
    )
    fuzz.add_argument("--seed", type=SEED, default=0, help="the campaign's seed (default 0)")
    fuzz.add_argument(
        "--runs",
        type=whole(1, MAX_RUNS),
        default=1000,
        help=f"how many runs, 1 to {MAX_RUNS} (default 1000)",
    )
    fuzz.add_argument(
        "--jobs",
        type=whole(1),
        default=1,
        help="processes to split the runs over, with --cluster local its workers (same results; "
        "at most the CPU count)",
    )
    fuzz.add_argument(
        "--cluster",
        metavar="local|ADDRESS",
        help="run on dask.distributed: 'local' starts a cluster of --jobs workers here, an "
        "address (tcp://host:8786) uses a running scheduler's (same results; needs "
        "pip install 'vsssim[cluster]')",
    )
    fuzz.add_argument(
        "--chunk-runs",
        type=whole(1, MAX_CHUNK_RUNS),
        metavar="N",
        default=CHUNK_RUNS,
        help=f"runs handed to a worker at a time, 1 to {MAX_CHUNK_RUNS} (default {CHUNK_RUNS}; "
        "same results)",
    )
    fuzz.add_argument(
        "--writer",
        metavar="MODULE:CLASS",
        help="fuzz your own Writer subclass (built from generated metadata)",
    )
    fuzz.add_argument(
        "--no-misbehaviour",
        action="store_true",
        help="do not plant writer bugs (by default some runs do, and the checkers must catch them)",
    )
    fuzz.add_argument("--out", default=".", help="where to write the failure file (default: here)")
    fuzz.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="the summary as tables, or as one JSON object (docs/reference/command-output.md)",
    )
    fuzz.set_defaults(handler=run_fuzz)


def _add_replay(commands: _Commands) -> None:
    """``vsssim replay``."""
    replay_cmd = commands.add_parser(
        "replay",
        help="run a run again, exactly, from the replay token vsssim printed (or a failure file)",
        **epilog("replay"),
    )
    replay_cmd.add_argument(
        "token",
        nargs="?",
        help="a replay token: demo --show-token, run --show-token, explore, fuzz, the state "
        "machine or the pytest plugin printed it",
    )
    replay_cmd.add_argument("--file", help="a failure file vsssim fuzz wrote")
    replay_cmd.add_argument(
        "--writer",
        metavar="MODULE:CLASS",
        help="the writer class the token or failure file names (module:Class or "
        "path/file.py:Class, the current folder importable): its code runs only if you say so",
    )
    replay_cmd.add_argument(
        "--machine",
        metavar="MODULE:CLASS",
        help="the state machine class a state machine's token names (a WriterProtocolMachine "
        "subclass, module:Class or path/file.py:Class): its code runs only if you say so",
    )
    replay_cmd.add_argument(
        "--scenario",
        metavar="PATH",
        help="the scenario file a token names, found at another path (its digest is checked)",
    )
    replay_cmd.add_argument(
        "--no-misbehaviour",
        action="store_true",
        help="as given to vsssim fuzz (a fuzz token says it: this only checks)",
    )
    replay_cmd.add_argument("--format", choices=("text", "json", "mermaid"), default="text")
    _wide_option(replay_cmd)
    add_participants_option(replay_cmd)
    replay_cmd.set_defaults(handler=run_replay)


class _Parser(argparse.ArgumentParser):
    """argparse, with a usage mistake told in one line: ``vsssim: error: ...`` (exit 2)."""

    def error(self, message: str) -> NoReturn:
        command = self.prog.removeprefix("vsssim").strip()
        hint = f" (see vsssim {command + ' ' if command else ''}--help)"
        self.exit(2, f"vsssim: error: {' '.join(message.split())}{hint}\n")


#: The largest --max-choices and --preemption-bound of ``vsssim explore``.
MAX_EXPLORE_BOUND = 1000


def _bound(text: str) -> int | None:
    """``none``, or a whole number from 0 to :data:`MAX_EXPLORE_BOUND`."""
    if text == "none":
        return None
    try:
        return whole(0, MAX_EXPLORE_BOUND)(text)
    except argparse.ArgumentTypeError as error:
        raise argparse.ArgumentTypeError(f"{error}, or 'none'") from None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status.

    Bad input gives one line on standard error and status 2; Ctrl-C status 130. An exception
    of another kind is a bug in vsssim: one line naming it, status 70 (``VSSSIM_TRACEBACK=1``
    prints the traceback).
    """
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as done:  # --help (0), or a usage mistake already told in one line (2)
        return done.code if isinstance(done.code, int) else 0 if done.code is None else 2
    try:
        status: int = args.handler(args)
    except VssimError as error:
        print(f"vsssim: error: {_one_line(str(error))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("vsssim: interrupted", file=sys.stderr)
        return INTERRUPTED
    except BrokenPipeError:
        return 1
    except (OSError, RecursionError, MemoryError) as error:
        print(f"vsssim: error: {_one_line(str(error)) or type(error).__name__}", file=sys.stderr)
        return 2
    except Exception as error:
        if os.environ.get("VSSSIM_TRACEBACK"):
            raise
        name = type(error).__name__
        print(f"vsssim: internal error: {name}: {_one_line(str(error))}", file=sys.stderr)
        return INTERNAL_ERROR
    return status


def _one_line(text: str, limit: int = 500) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "..."
