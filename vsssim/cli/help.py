"""The end of each ``--help``: examples to copy, then what the exit statuses mean."""

from __future__ import annotations

import argparse
from typing import Any

from vsssim.cli.fuzz import INTERRUPTED

#: Exit status of an error in vsssim itself (EX_SOFTWARE); the test suites assert it never comes.
INTERNAL_ERROR = 70

#: What the exit status of a command means (``vsssim.cli.main.main`` returns these).
EXIT_STATUSES = f"""exit status:
  0    done, as expected
  1    a violation, or a backup or restore that did not go as expected
  2    a usage mistake or bad input (told in one line on standard error)
  {INTERNAL_ERROR}   an internal error in vsssim (VSSSIM_TRACEBACK=1 shows its traceback)
  {INTERRUPTED}  interrupted by Ctrl-C (explore and fuzz print what they found so far)"""

#: Examples for the help of ``vsssim`` and of its commands, by command.
EXAMPLES: dict[str, tuple[str, ...]] = {
    "vsssim": (
        "vsssim demo --seed 3 --show-token",
        "vsssim init my.toml && vsssim run my.toml",
        "vsssim explore examples/explore_2x2x2.toml --faults on",
        "vsssim fuzz --runs 2000 --jobs 4",
    ),
    "demo": (
        "vsssim demo --seed 5 --agents 3",
        "vsssim demo --restore",
        "vsssim demo --provider xp --instant-recovery",
        "vsssim demo --format json --show-token > run.jsonl",
    ),
    "run": (
        "vsssim run examples/01_seven_phases.toml",
        "vsssim run examples/02_two_agents.toml --seed 7 --show-token",
        "vsssim run examples/02_two_agents.toml --format mermaid > run.mmd",
        "vsssim run examples/03_writer_fails_at_freeze.toml --format summary > result.json",
    ),
    "explore": (
        "vsssim explore examples/explore_2x2x2.toml   (complete: every order of two backups)",
        "vsssim explore examples/explore_2x2x2.toml --faults on   (and any one fault, anywhere)",
        "vsssim explore examples/01_seven_phases.toml --timings ends --max-choices 8",
        "vsssim replay TOKEN   (the token of a counterexample)",
    ),
    "serve": (
        "vsssim serve --stdio",
        "vsssim serve examples/01_seven_phases.toml --seed 3 --stdio",
        "vsssim serve --listen 127.0.0.1:8765",
    ),
    "fuzz": (
        "vsssim fuzz --runs 2000 --jobs 4",
        "vsssim fuzz --seed 9 --no-misbehaviour --out /tmp",
        "vsssim fuzz --runs 500 --format json > campaign.json",
        "vsssim fuzz --runs 10000000 --cluster tcp://host:8786   (pip install 'vsssim[cluster]')",
        "vsssim replay TOKEN   (the token a failing run printed)",
    ),
    "init": ("vsssim init my.toml && vsssim run my.toml",),
    "examples": ("vsssim examples lessons && vsssim run lessons/01_seven_phases.toml",),
    "writers": (
        "vsssim writers",
        "vsssim writers --agents 2 --seed 4",
        "vsssim writers --xml SqlServerWriter > sql.xml",
    ),
    "graph": (
        "vsssim graph writer > writer.mmd",
        "vsssim graph writer --full --format dot | dot -Tsvg > writer.svg",
        "vsssim graph session --format dot",
    ),
    "replay": (
        "vsssim replay TOKEN   (any token vsssim printed: demo, run, explore, fuzz, pytest...)",
        "vsssim replay TOKEN --writer mywriter.py:MyWriter",
        "vsssim replay TOKEN --machine tests/test_mywriter.py:MyWriterMachine   (state machine)",
        "vsssim replay TOKEN --scenario moved/scenario.toml",
        "vsssim replay --file vsssim-failure-123.json",
    ),
}


def epilog(command: str) -> dict[str, Any]:
    """The parser arguments that end ``command``'s help with its examples and the statuses."""
    lines = "\n".join(f"  {example}" for example in EXAMPLES[command])
    return {
        "epilog": f"examples:\n{lines}\n\n{EXIT_STATUSES}",
        "formatter_class": argparse.RawDescriptionHelpFormatter,
    }
