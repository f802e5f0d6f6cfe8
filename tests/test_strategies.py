"""The hypothesis strategies: what they draw is consistent, runs clean, and shrinks small."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import attrs
import hypothesis
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from vsssim import SECOND, World
from vsssim.faults import KINDS, MISBEHAVIOURS, SURVIVABLE
from vsssim.host.scenario import AgentSpec, FaultSpec, Scenario
from vsssim.host.scenario_codec import scenario_from_dict, scenario_to_dict
from vsssim.requesters.backup_result import Outcome
from vsssim.testing.invariants import check_all
from vsssim.testing.strategies import (
    Topology,
    agent_specs,
    describe,
    fault_specs,
    scenarios,
    selectors,
    topologies,
    writer_metadata,
)
from vsssim.vss.constants import SnapshotAttr
from vsssim.vss.coordinator.service import CONTEXT_ATTRIBUTES
from vsssim.vss.metadata import WriterMetadata
from vsssim.vss.providers.xp import ReplicaMode

ROOT = Path(__file__).resolve().parent.parent
SETTLE_US = 3600 * SECOND
#: Deterministic CI: the same examples on every run, nothing read from or written to a database.
CI = settings(derandomize=True, database=None, deadline=None)
SEEDS = st.integers(0, 2**16)


def _run(scenario: Scenario, seed: int) -> World:
    world = scenario.build(seed)
    world.run()
    assert world.heal_and_settle(SETTLE_US), f"no rest: {world.token()}"
    return world


# -- the parts -------------------------------------------------------------------------------


@settings(CI, max_examples=60)
@given(writer_metadata("W7", roots=("E:\\", "F:\\")))
def test_writer_metadata_names_literal_files_in_its_own_folders(metadata: WriterMetadata) -> None:
    assert metadata.writer_name == "W7"
    assert 1 <= len(metadata.components) <= 3
    assert [c.name for c in metadata.components] == [
        f"C{i}" for i in range(len(metadata.components))
    ]
    for component in metadata.components:
        assert 1 <= len(component.files) <= 2 and not component.dependencies
        for fd in component.files:
            assert fd.path in (f"E:\\W7\\{component.name}", f"F:\\W7\\{component.name}")
            assert not any(ch in fd.filespec for ch in "*?") and not fd.recursive


def test_writer_ids_depend_on_the_name_only() -> None:
    """So a shrunk counterexample still names the same writer (and its class id)."""
    small = hypothesis.find(writer_metadata("W7"), lambda _: True, settings=CI)
    large = hypothesis.find(
        writer_metadata("W7", roots=("E:\\",)),
        lambda m: len(m.components) == 3,
        settings=CI,
    )
    other = hypothesis.find(writer_metadata("W8"), lambda _: True, settings=CI)
    assert small.writer_class_id == large.writer_class_id != other.writer_class_id
    assert small.writer_instance_id == large.writer_instance_id


@settings(CI, max_examples=80)
@given(topologies())
def test_a_topology_is_consistent_and_builds(topology: Topology) -> None:
    volumes, files, writers = topology
    assert [v.mount_point for v in volumes][:1] == ["D:\\"]
    assert len({v.label for v in volumes}) == len(volumes)
    assert [m.writer_name for m in writers] == [f"W{i + 1}" for i in range(len(writers))]
    world = Scenario(volumes, files, writers).build(0)
    earlier: set[object] = set()
    for metadata in writers:
        for component in metadata.components:
            for fd in component.all_files:
                assert len(world.namespace.match(fd.path, fd.filespec, fd.recursive)) == 1
            # Dependencies point to earlier writers only: the graph has no cycle.
            assert all(key.writer_class_id in earlier for key in component.dependencies)
        earlier.add(metadata.writer_class_id)


@settings(CI, max_examples=60)
@given(agent_specs(["W1:C0", "W1:C1", "W2:C0"], writers=["W1", "W2"], max_agents=3))
def test_agents_select_some_of_the_given_components(agents: tuple[AgentSpec, ...]) -> None:
    assert 1 <= len(agents) <= 3
    for number, agent in enumerate(agents, 1):
        assert agent.name == f"A{number}"
        assert agent.selection and set(agent.selection) <= {"W1:C0", "W1:C1", "W2:C0"}
        assert agent.start_us % SECOND == 0
        assert set(agent.options.critical_writers) <= {"W1", "W2"}


@settings(CI, max_examples=80)
@given(fault_specs(("writer-veto", "agent-dies", "flush-timeout"), targets=("W1",)))
def test_fault_specs_draw_valid_plans_of_the_given_kinds(spec: FaultSpec) -> None:
    order = ("writer-veto", "agent-dies", "flush-timeout")
    assert list(spec.kinds) == [k for k in order if k in spec.kinds]
    for site in spec.sites:
        assert site == "W1.*" or any(
            site == f"*.{where}" for k in order for where in KINDS[k].where
        )
    plan = spec.plan()
    assert plan.kinds == spec.kinds and plan.fired == []


def test_fault_specs_with_no_kinds_is_no_plan_at_all() -> None:
    assert hypothesis.find(fault_specs(()), lambda _: True, settings=CI) == FaultSpec(())


# -- whole scenarios -------------------------------------------------------------------------


@settings(CI, max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios(), SEEDS)
def test_every_drawn_scenario_runs_to_rest_and_keeps_every_invariant(
    scenario: Scenario, seed: int
) -> None:
    note(describe(scenario))
    world = _run(scenario, seed)
    assert len(world.results) == len(scenario.agents)
    broken = {name: [str(v) for v in found] for name, found in check_all(world).items() if found}
    assert broken == {}, world.token()


@settings(CI, max_examples=100)
@given(scenarios(misbehaviour=True))
def test_a_drawn_scenario_survives_the_json_round_trip(scenario: Scenario) -> None:
    data = json.loads(json.dumps(scenario_to_dict(scenario)))
    assert scenario_from_dict(data) == scenario


@settings(CI, max_examples=80)
@given(scenarios(array=True, max_agents=3))
def test_array_scenarios_put_volumes_on_the_array_with_their_own_replica_ldevs(
    scenario: Scenario,
) -> None:
    assert scenario.array is not None
    assert scenario.volumes[0].ldev is not None, "the first volume is always on the array"
    addresses = [a for v in scenario.volumes if v.ldev for a in (v.ldev, *v.replicas)]
    assert len(addresses) == len(set(addresses))
    for volume in scenario.volumes:
        assert (1 <= len(volume.replicas) <= 3) if volume.ldev else not volume.replicas
    for agent in scenario.agents:
        replica = agent.options.replica
        if replica is None:
            continue
        if replica.keeps:  # the options accept it only in a context that keeps shadow copies
            assert CONTEXT_ATTRIBUTES[agent.options.context] & SnapshotAttr.NO_AUTO_RELEASE
        assert replica.mode is ReplicaMode.VSS_COMPLIANT or replica.replicas_rotated <= 3
    world = scenario.build(0)
    provider = world.xp_provider()
    for volume in scenario.volumes:
        ldev = provider.array.ldev_of(world.namespace.volume_of(volume.mount_point))
        assert (ldev and ldev.address) == volume.ldev
        if ldev is not None:
            assert [r.address for r in provider.replica_ldevs(ldev)] == list(volume.replicas)
    data = json.loads(json.dumps(scenario_to_dict(scenario)))
    assert scenario_from_dict(data) == scenario


def test_the_smallest_array_scenario_reads_at_a_glance() -> None:
    found = hypothesis.find(
        scenarios(faults=False, array=True), lambda _: True, settings=settings(CI)
    )
    assert describe(found).splitlines()[:2] == [
        "volumes: D:\\ on LDEV 01:10 (replicas 02:20)",
        "XP array 10053: a track copied in 1 ms",
    ]
    assert found.agents[0].options.provider_id is None  # VSS chooses: shrinks to the default


FIRED: list[str] = []


# 120: agents in a writerless context freeze no writer, so fewer runs can plant a freeze bug.
@settings(CI, max_examples=120, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios(faults=False), fault_specs(MISBEHAVIOURS), SEEDS)
def _misbehaviour_is_caught(scenario: Scenario, spec: FaultSpec, seed: int) -> None:
    world = _run(attrs.evolve(scenario, faults=spec), seed)
    found = check_all(world)
    assert world.coordinator.faults is not None
    for fired in world.coordinator.faults.misbehaved:
        FIRED.append(fired.kind)
        caught_by = KINDS[fired.kind].caught_by
        assert caught_by is not None and found[caught_by], (fired, world.token())


def test_every_planted_misbehaviour_that_fires_is_caught_by_its_invariant() -> None:
    FIRED.clear()
    _misbehaviour_is_caught()
    assert set(FIRED) == set(MISBEHAVIOURS), "the sample should plant both kinds of bug"


# -- shrinking -------------------------------------------------------------------------------


def _fails(scenario: Scenario) -> bool:
    return any(r.outcome is Outcome.FAILED for r in scenario.build(0).run())


def test_a_failing_backup_shrinks_to_one_writer_one_agent_and_one_fault() -> None:
    found = hypothesis.find(scenarios(), _fails, settings=settings(CI, max_examples=300))
    assert len(found.volumes) == 1 and len(found.files) == 1
    assert [m.writer_name for m in found.writers] == ["W1"]
    assert [c.name for c in found.writers[0].components] == ["C0"]
    assert [(a.name, a.selection) for a in found.agents] == [("A1", ("W1:C0",))]
    assert found.workloads == ()
    assert found.faults is not None and len(found.faults.kinds) == 1
    assert found.faults.kinds[0] in SURVIVABLE
    text = describe(found).splitlines()
    assert text[:4] == [
        "volumes: D:\\",
        "file D:\\W1\\C0\\f0.dat: 1 block(s), 0 written",
        "writer W1: C0 = D:\\W1\\C0\\f0.dat",
        "agent A1 at 0 s: W1:C0 [FULL, BACKUP, 0 retries 1 s apart]",
    ]
    assert text[4].startswith(f"faults: {found.faults.kinds[0]} (active 100%; fire 100%")


def test_the_smallest_two_writer_host_is_small_too() -> None:
    found = hypothesis.find(
        scenarios(faults=False),
        lambda s: len(s.writers) == 2 and len(s.agents) == 2,
        settings=settings(CI, max_examples=300),
    )
    assert selectors(found.writers) == ["W1:C0", "W2:C0"]
    assert [a.selection for a in found.agents] == [("W1:C0",), ("W1:C0",)]
    assert len(found.volumes) == 1 and found.faults is None
    assert "faults: none" in describe(found)


def test_the_module_says_how_to_get_hypothesis_when_it_is_missing() -> None:
    code = "import sys; sys.modules['hypothesis'] = None; import vsssim.testing.strategies"
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        check=False,
    )
    assert done.returncode != 0
    assert "vsssim.testing.strategies needs hypothesis: pip install 'vsssim[test]'" in done.stderr
