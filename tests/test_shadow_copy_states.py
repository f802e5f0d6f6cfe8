"""Shadow copies and their sets change state only through their tables (vsssim.vss.states)."""

from __future__ import annotations

import pickle
import uuid

import pytest

from tests.conftest import NO_RETRY, small_world
from vsssim import FaultPlan, Outcome
from vsssim.errors import StateTableError
from vsssim.host.demo import build_demo_world
from vsssim.sim import vocabulary as V
from vsssim.sim.kernel import ProcessGenerator
from vsssim.testing.invariants import check_all
from vsssim.vss.constants import SnapshotState
from vsssim.vss.providers.base import ShadowCopy
from vsssim.vss.providers.software import SoftwareProvider
from vsssim.vss.states import (
    SHADOW_COPY_TRANSITIONS,
    SNAPSHOT_SET_TRANSITIONS,
    shadow_copy_graph,
    shadow_copy_next_state,
)

S = SnapshotState
DB = "TestDbWriter:Inst\\Db"


def test_the_happy_path_is_the_providers_calls_in_vss_order() -> None:
    state = S.PREPARING
    for step in (
        V.BEGIN_PREPARE_SNAPSHOT,
        V.PRE_COMMIT_SNAPSHOTS,
        V.COMMIT_SNAPSHOTS,
        V.POST_COMMIT_SNAPSHOTS,
        V.DO_SNAPSHOT_SET_COMPLETE,
        V.DELETE_SNAPSHOTS,
    ):
        state = shadow_copy_next_state("D:", state, step)
    assert state is S.DELETED


@pytest.mark.parametrize("state", sorted({s for s, _ in SHADOW_COPY_TRANSITIONS} - {S.ABORTED}))
def test_an_abort_reaches_every_state_before_deletion(state: SnapshotState) -> None:
    assert shadow_copy_next_state("D:", state, V.ABORT_SNAPSHOTS) is S.ABORTED
    assert shadow_copy_next_state("D:", state, V.ABORT) is S.ABORTED


def test_a_step_out_of_order_is_refused_by_name_and_pickles() -> None:
    with pytest.raises(StateTableError) as refused:
        shadow_copy_next_state("D: 1234", S.PREPARING, V.COMMIT_SNAPSHOTS)
    assert (
        str(refused.value)
        == "shadow copy D: 1234: CommitSnapshots is not a step from VSS_SS_PREPARING"
    )
    again = pickle.loads(pickle.dumps(refused.value))
    assert str(again) == str(refused.value) and again.step == V.COMMIT_SNAPSHOTS
    with pytest.raises(StateTableError):
        shadow_copy_next_state("D:", S.DELETED, V.ABORT)  # deleted is final


def test_every_state_of_the_diagram_can_finish() -> None:
    graph = shadow_copy_graph()
    assert set(graph.nodes) == {s for s, _ in SHADOW_COPY_TRANSITIONS} | set(
        SHADOW_COPY_TRANSITIONS.values()
    )
    assert set(SNAPSHOT_SET_TRANSITIONS.values()) == {S.CREATED, S.ABORTED}


def test_a_backup_leaves_its_copies_created_and_release_deletes_them() -> None:
    world = build_demo_world(seed=3)
    [result] = world.run()
    assert result.outcome is Outcome.SUCCEEDED
    deleted = world.sim.trace.find(action=V.DELETE_SNAPSHOT)
    assert deleted and all(r.details["volume"] for r in deleted)
    assert not world.coordinator.snapshots  # auto-release: every copy went through DELETED


def test_a_failed_freeze_aborts_the_set_and_each_copy() -> None:
    world = small_world(1, workload=False)
    world.coordinator.install_faults(
        FaultPlan.forced("writer-nonretryable", "TestDbWriter.OnFreeze")
    )
    seen: list[ShadowCopy] = []
    provider = world.coordinator.software_provider
    begin = provider.begin_prepare_snapshot

    def spy(snapshot: ShadowCopy) -> ProcessGenerator:
        seen.append(snapshot)
        return begin(snapshot)

    provider.begin_prepare_snapshot = spy  # type: ignore[method-assign]
    world.add_agent("agent", [DB], NO_RETRY)
    [result] = world.run()
    assert result.outcome is Outcome.FAILED
    assert seen and {s.state for s in seen} == {S.ABORTED}
    assert {n: v for n, v in check_all(world).items() if v} == {}


class SkipsPreCommit(SoftwareProvider):
    """A user's provider with a bug: it marks its copies committed before PreCommitSnapshots."""

    def begin_prepare_snapshot(self, snapshot: ShadowCopy) -> ProcessGenerator:
        yield from super().begin_prepare_snapshot(snapshot)
        snapshot.advance(V.COMMIT_SNAPSHOTS)


def test_a_provider_that_breaks_the_table_ends_the_run_with_a_named_crash() -> None:
    world = small_world(1, workload=False)
    buggy = SkipsPreCommit(world.sim)
    buggy.provider_id, buggy.name = uuid.UUID(int=77), "Buggy Provider"
    world.coordinator.register_provider(buggy)
    world.add_agent("agent", [DB], NO_RETRY)
    world.run()
    assert world.crash is not None
    assert "StateTableError" in str(world.crash) and "CommitSnapshots" in str(world.crash)
