"""The vsssim pytest plugin (registered under ``pytest11``, so installing vsssim enables it).

Fixtures for people testing backup software against a simulated VSS:

- ``vsssim_seed``: a seed derived from the test's id, the same on every run and machine, so
  each test sees its own but reproducible interleavings; ``--vsssim-seed N`` shifts every
  test's seed at once, to sweep new interleavings.
- ``vsssim_world``: a fresh, empty :class:`~vsssim.World` on that seed.
- ``vsssim_demo``: the demo server (seven writers, five volumes, workloads), not yet run.
- ``vsssim_scenario``: a function that builds the world of a scenario file.

pytest's header names the seed base. When a test that used one of these fails, its report
gets a "vsssim" section with the seed, per world how to run it again exactly (for the demo and
scenario-file fixtures, the ``vsssim demo``/``vsssim run`` command, if the test only ran it),
and ``vsssim replay TOKEN``: the token names the test, its file relative to pytest's rootdir
(no absolute folder: a token printed on one machine replays in a clone at another path) and
the seed base, and replaying it runs the test again (its worlds are a function of their
seeds). To check a trace, use
:func:`vsssim.testing.assert_sequence`.
"""

from __future__ import annotations

import hashlib
import shlex
from collections.abc import Callable, Generator, Iterator
from pathlib import Path

import pytest

from vsssim._version import __version__
from vsssim.host.demo import build_demo_world
from vsssim.host.replay_origins import DIGEST_CHARS, PYTEST
from vsssim.host.scenario_file import load_scenario
from vsssim.host.world import World
from vsssim.sim.tokens import Json, ReplayToken

#: The test's worlds, each with the command that runs it again (None: no command does).
_WORLDS = pytest.StashKey[list[tuple[World, str | None]]]()
_SEED = pytest.StashKey[int]()


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--vsssim-seed``: the base mixed into every test's seed (default 0)."""
    parser.getgroup("vsssim").addoption(
        "--vsssim-seed",
        type=int,
        default=0,
        metavar="N",
        help="vsssim: base of the seeds derived from test ids (default 0)",
    )


def derive_seed(test_id: str, base: int = 0) -> int:
    """A 32-bit seed from a test id and a base, stable across processes and machines."""
    digest = hashlib.sha256(f"{base}:{test_id}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


def _test_file(test: str, path: Path, rootdir: Path) -> dict[str, Json]:
    """The test's file as a token names it: its path relative to pytest's rootdir (as the
    test's id has it: a clone of the project at another path finds it) and a digest of its
    bytes, so that a replay of an edited test can say so. Empty unless the id starts with
    that path (the replay then takes the id's file part)."""
    try:
        relative = path.resolve().relative_to(rootdir.resolve()).as_posix()
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:DIGEST_CHARS]
    except (ValueError, OSError):
        return {}
    if test != relative and not test.startswith(f"{relative}::"):
        return {}
    return {"file": relative, "sha256": digest}


def _track(request: pytest.FixtureRequest, world: World, command: str | None = None) -> World:
    """Keep ``world`` for the failure section, its token naming the test that builds it."""
    config = request.config
    test = request.node.nodeid
    fields: dict[str, Json] = {
        "test": test,
        "base": int(config.getoption("--vsssim-seed")),
        "seed": request.node.stash.get(_SEED, None),
        **_test_file(test, Path(request.node.path), config.rootpath),
    }
    world.origin = ReplayToken(PYTEST, fields)
    request.node.stash.setdefault(_WORLDS, []).append((world, command))
    return world


@pytest.fixture
def vsssim_seed(request: pytest.FixtureRequest) -> int:
    """This test's seed: derived from its id and ``--vsssim-seed``."""
    base = int(request.config.getoption("--vsssim-seed"))
    seed = derive_seed(request.node.nodeid, base)
    request.node.stash[_SEED] = seed
    return seed


@pytest.fixture
def vsssim_world(request: pytest.FixtureRequest, vsssim_seed: int) -> World:
    """An empty world on this test's seed: add volumes, files, writers and agents, then run."""
    return _track(request, World.create(vsssim_seed))


@pytest.fixture
def vsssim_demo(request: pytest.FixtureRequest, vsssim_seed: int) -> World:
    """The demo server with one agent, on this test's seed, ready to :meth:`~World.run`."""
    return _track(request, build_demo_world(vsssim_seed), f"vsssim demo --seed {vsssim_seed}")


@pytest.fixture
def vsssim_scenario(request: pytest.FixtureRequest) -> Callable[..., World]:
    """``vsssim_scenario(path, seed=None)``: the world of a scenario file (its seed by default)."""

    def build(path: str | Path, seed: int | None = None) -> World:
        loaded = load_scenario(path)
        used = loaded.seed if seed is None else seed
        world = loaded.scenario.build(used)
        request.node.stash[_SEED] = used
        return _track(request, world, f"vsssim run {shlex.quote(str(path))} --seed {used}")

    return build


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Add the seed and replay tokens of the test's worlds to a failing test's report."""
    report = yield
    if report.failed and call.when == "call":
        lines = list(_replay_lines(item))
        if lines:
            report.sections.append(("vsssim", "\n".join(lines)))
    return report


def pytest_report_header(config: pytest.Config) -> str:
    """The seed base in pytest's header, so that a log says how its seeds were made."""
    base = config.getoption("--vsssim-seed")
    return f"vsssim {__version__}: seeds derived from test ids, base {base} (--vsssim-seed)"


def _replay_lines(item: pytest.Item) -> Iterator[str]:
    """The failure section: the seed, per world the short command that runs it again if the
    test did nothing else with it, and the token that runs the test again (short: the test's
    worlds are functions of their seeds); each world's own token too with ``-v``."""
    seed = item.stash.get(_SEED, None)
    if seed is not None:
        base = item.config.getoption("--vsssim-seed")
        yield f"seed {seed} (test id {item.nodeid!r}, --vsssim-seed {base})"
    verbose = int(item.config.getoption("verbose")) > 0
    made = item.stash.get(_WORLDS, None) or []
    worlds = [(i, w, c) for i, (w, c) in enumerate(made) if w.recorder]
    for index, world, command in worlds:
        if command is not None:
            yield f"world {index}: if the test only ran it: {command}"
        else:
            yield f"world {index}: built on the seed: the same steps replay it exactly"
        if verbose:
            yield f"  replay token {world.token()}"
    if worlds:
        yield f"run the test again: vsssim replay {worlds[0][1].token()}"
