"""Several agents at once: they take turns for the set lock, and every invariant holds."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import vsssim
from vsssim import (
    MILLISECOND,
    SECOND,
    AgentOptions,
    Component,
    FileDescriptor,
    HResult,
    World,
    Writer,
    WriterMetadata,
)
from vsssim.host.demo import build_demo_world
from vsssim.sim import vocabulary as V
from vsssim.testing.invariants import INVARIANTS, check_all
from vsssim.vss.workload import Workload

ROOT = Path(__file__).resolve().parents[1]


def _cli(*args: str, hashseed: str) -> str:
    env = dict(os.environ, PYTHONHASHSEED=hashseed, PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, "-m", "vsssim", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=True,
    )
    return done.stdout


def test_three_agents_take_turns_and_the_json_is_stable_across_processes() -> None:
    first = _cli("demo", "--agents", "3", "--seed", "5", "--format", "json", hashseed="11")
    second = _cli("demo", "--agents", "3", "--seed", "5", "--format", "json", hashseed="22")
    assert first == second
    records = [json.loads(line) for line in first.splitlines()]
    turns = [
        (r["actor"], r["action"])
        for r in records
        if r["action"] in (V.START_SNAPSHOT_SET, V.DO_SNAPSHOT_SET_COMPLETE, V.ABORT_DONE)
    ]
    starts = [actor for actor, action in turns if action == V.START_SNAPSHOT_SET]
    assert sorted(starts) == ["VSSBAR agent 1", "VSSBAR agent 2", "VSSBAR agent 3"]
    # Strict alternation: every set is finished before the next one starts.
    assert [action for _, action in turns] == [V.START_SNAPSHOT_SET, V.DO_SNAPSHOT_SET_COMPLETE] * 3
    assert any(r["action"] == V.WAITING_FOR_THE_SET_LOCK for r in records)


def test_the_replay_token_reproduces_a_multi_agent_run() -> None:
    world = build_demo_world(9, agents=4)
    world.run()
    token = world.token()
    replayed = _cli("demo", "--agents", "4", "--replay", token, "--format", "json", hashseed="3")
    assert replayed == world.sim.trace.to_jsonl()


def test_text_output_ends_with_the_invariant_lines() -> None:
    out = _cli("demo", "--agents", "3", hashseed="0").splitlines()
    assert out[-1].startswith(f"Invariants: {len(INVARIANTS)} checked, 0 violated")
    assert sum(1 for line in out if line.startswith("  ") and " ok " in line) >= 6


def test_an_agent_that_waits_too_long_gives_up_cleanly() -> None:
    world = build_demo_world(2, agents=1)
    sim, vss = world.sim, world.coordinator

    def hog() -> vsssim.sim.kernel.ProcessGenerator:
        """A requester that takes the set lock at once (no writer metadata needed for that)
        and sits on it for a second."""
        bc = vss.create_backup_components("hog")
        bc.initialize_for_backup()
        bc.start_snapshot_set()
        yield sim.timeout(1 * SECOND)
        yield bc.release()

    sim.process(hog(), "hog")
    patient = world.agents[0][0]
    world.add_agent(
        "impatient",
        ["SqlServerWriter:SQLSRV01\\Sales"],
        AgentOptions(lock_wait_us=50 * MILLISECOND, lock_retry_us=10 * MILLISECOND),
    )
    results = {r.agent: r for r in world.run()}
    impatient = results["impatient"]
    assert impatient.hresult == HResult.VSS_E_SNAPSHOT_SET_IN_PROGRESS
    assert "waited 0.05 s for its turn" in impatient.message and "hog" in impatient.message
    waits = world.sim.trace.find(action=V.WAITING_FOR_THE_SET_LOCK, actor="impatient")
    assert len(waits) >= 2  # it retried before giving up
    # The patient agent (10 minutes of patience by default) got its turn after the hog.
    assert results[patient.name].succeeded
    assert {name: found for name, found in check_all(world).items() if found} == {}


@pytest.mark.parametrize("agents", [2, 5, 8])
def test_many_demo_agents_all_succeed(agents: int) -> None:
    world = build_demo_world(agents, agents=agents)
    results = world.run()
    assert len(results) == agents and all(r.succeeded for r in results)
    assert {name: found for name, found in check_all(world).items() if found} == {}


# -- random scenarios -------------------------------------------------------------------------

GIB = 1024**3


@st.composite
def scenarios(draw: st.DrawFn) -> World:
    """A random host: volumes (some nested), files, writers with components, busy applications,
    and 2 to 8 agents with overlapping selections, under a random seed (so a random interleaving).
    """
    world = World.create(draw(st.integers(0, 2**32)))
    letters = "DEFGH"
    n_volumes = draw(st.integers(1, 4))
    roots = []
    for i in range(n_volumes):
        nested = bool(i) and draw(st.booleans())
        mount = f"{roots[0]}Mnt{i}\\" if nested else f"{letters[i]}:\\"
        world.add_volume(mount, f"V{i}", GIB)
        roots.append(mount)
    files = []
    for i in range(draw(st.integers(1, 6))):
        root = roots[draw(st.integers(0, n_volumes - 1))]
        files.append(
            world.add_file(
                f"{root}App\\f{i}.dat",
                draw(st.integers(1, 8)),
                initial_blocks=draw(st.integers(0, 2)),
            ).path
        )
    selectors: list[str] = []
    writers = []
    for w in range(draw(st.integers(1, 4))):
        class_id = uuid.uuid5(uuid.NAMESPACE_DNS, f"writer{w}")
        components = []
        for c in range(draw(st.integers(1, 3))):
            picked = draw(st.lists(st.sampled_from(files), min_size=1, max_size=3, unique=True))
            fds = tuple(FileDescriptor(p.rsplit("\\", 1)[0], p.rsplit("\\", 1)[1]) for p in picked)
            components.append(Component(f"C{c}", files=fds))
            selectors.append(f"W{w}:C{c}")
        writer = world.add_writer(
            Writer(
                WriterMetadata(
                    writer_class_id=class_id,
                    writer_instance_id=class_id,
                    writer_name=f"W{w}",
                    components=tuple(components),
                )
            )
        )
        writers.append(writer)
    for a in range(draw(st.integers(0, 3))):
        linked = draw(st.sampled_from([None, *writers]))
        world.add_workload(
            Workload(
                f"app{a}",
                draw(st.lists(st.sampled_from(files), min_size=1, max_size=3, unique=True)),
                interval_us=(1 * MILLISECOND, 20 * MILLISECOND),
                writer=linked,
            )
        )
    for n in range(draw(st.integers(2, 8))):
        chosen = draw(st.lists(st.sampled_from(selectors), min_size=1, max_size=3, unique=True))
        world.add_agent(
            f"agent {n}",
            chosen,
            AgentOptions(),
            start_us=draw(st.integers(0, 300)) * MILLISECOND,
        )
    return world


# 400 examples keep the suite within its five minutes; the soak (benchmarks/soak.py, in CI)
# runs thousands of multi-agent fuzz runs more.
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_random_multi_agent_scenarios_hold_every_invariant(world: World) -> None:
    results = world.run()
    violations = {name: found for name, found in check_all(world).items() if found}
    assert violations == {}
    # With the default patience nobody gives up: every backup succeeds.
    assert all(r.succeeded for r in results), [r.message for r in results if not r.succeeded]
    assert world.sim.now < 3600 * SECOND
