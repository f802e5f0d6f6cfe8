"""What a replay token says its run was: the kinds of run vsssim prints tokens for, and the
check that a scenario file a token names is still the file it ran.

A token names a scenario file by the path it was given and by a digest of its bytes, so that
a replay of an edited file says so instead of failing somewhere inside the run.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from vsssim.errors import ReplayError
from vsssim.host._files import read_bounded
from vsssim.host.scenario_limits import MAX_FILE_BYTES
from vsssim.sim.tokens import CHOICES, Json, ReplayToken

#: ``vsssim demo`` (its options in the header).
DEMO = "demo"
#: ``vsssim run FILE`` (the file by path and digest, the seed).
RUN = "run"
#: A run of ``vsssim explore FILE`` (the file, ``--faults``; always its choices).
EXPLORE = "explore"
#: A run of ``vsssim fuzz`` (campaign seed, run index, ``--writer``, misbehaviour).
FUZZ = "fuzz"
#: A :class:`~vsssim.testing.stateful.WriterProtocolMachine` failure (its class and every
#: rule it ran, with their arguments and draws).
STATEFUL = "stateful"
#: A world of a test using the pytest plugin (the test's id, its file relative to pytest's
#: rootdir and digest, the seed base).
PYTEST = "pytest"
#: Every kind a token may have, and what each is in a message.
KINDS: dict[str, str] = {
    CHOICES: "world built in Python",
    DEMO: "vsssim demo",
    RUN: "vsssim run",
    EXPLORE: "vsssim explore",
    FUZZ: "vsssim fuzz",
    STATEFUL: "state machine",
    PYTEST: "pytest",
}


def kind_of(token: ReplayToken) -> str:
    """What made ``token``'s run, as a message says it (``a run of vsssim fuzz``)."""
    return f"a run of {KINDS.get(token.kind, repr(token.kind))}"


#: Hex digits of a scenario file's SHA-256 a token keeps (64 bits: no edit collides by chance).
DIGEST_CHARS = 16


def file_digest(path: str | Path) -> str:
    """The first :data:`DIGEST_CHARS` hex digits of the SHA-256 of the file at ``path``."""
    data = read_bounded(Path(path), MAX_FILE_BYTES, "scenario file", ReplayError)
    return hashlib.sha256(data).hexdigest()[:DIGEST_CHARS]


def demo_origin(
    seed: int, *, agents: int = 1, provider: str = "software", story: str | None = None
) -> ReplayToken:
    """The header of a ``vsssim demo`` run (``story``: ``restore`` or ``instant-recovery``)."""
    fields: dict[str, Json] = {"seed": seed, "agents": agents, "provider": provider, "story": story}
    return ReplayToken(DEMO, fields)


def scenario_origin(kind: str, path: str | Path, **fields: str | int | bool | None) -> ReplayToken:
    """The header of a run of the scenario file at ``path`` (its path and digest, and
    ``fields``)."""
    return ReplayToken(kind, {"file": str(path), "sha256": file_digest(path), **fields})


def scenario_file_of(token: ReplayToken, path: str | None = None) -> Path:
    """The scenario file ``token`` ran (``path`` if given, else the one it names), refused if
    it is missing or its bytes are not those the token ran."""
    named = token.text("file")
    wanted = token.text("sha256")
    file = Path(path if path is not None else named)
    if not file.is_file():
        where = "" if path is not None else " (the token names it as the path it was given)"
        raise ReplayError(
            f"the token replays the scenario file {str(file)!r}, which is not a file here"
            f"{where}: give it with --scenario PATH"
        )
    found = file_digest(file)
    if found != wanted:
        raise ReplayError(
            f"the scenario file {str(file)!r} differs from the one the token ran (sha256 "
            f"{wanted}..., now {found}...): replay it with the file as it was"
        )
    return file
