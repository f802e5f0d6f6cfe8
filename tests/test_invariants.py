"""Each invariant holds on correct runs and catches its deliberately broken variant."""

from __future__ import annotations

import pytest

import vsssim
from tests.helpers_module import HyperVWriter
from vsssim import SECOND, EventContext, World, Writer
from vsssim.faults import FaultPlan
from vsssim.host.demo import build_demo_world
from vsssim.sim import vocabulary as V
from vsssim.sim.kernel import ProcessGenerator
from vsssim.testing.invariants import INVARIANTS, Violation, check_all
from vsssim.vss.coordinator.service import SnapshotSet
from vsssim.vss.coordinator.session import BackupComponents, Coordinator
from vsssim.vss.providers.base import ShadowCopy
from vsssim.vss.volumes import Volume

from .conftest import NO_RETRY, db_metadata, small_world


def _violated(world: World) -> dict[str, list[Violation]]:
    return {name: found for name, found in check_all(world).items() if found}


def _backup(world: World, *agents: str) -> World:
    for name in agents or ("agent",):
        world.add_agent(name, ["TestDbWriter:Inst\\Db"])
    world.run()
    return world


@pytest.mark.parametrize("seed", range(8))
def test_correct_runs_violate_nothing(seed: int) -> None:
    world = build_demo_world(seed)
    world.run()
    assert _violated(world) == {}
    assert len(INVARIANTS) >= 6


class NoLockCoordinator(Coordinator):
    """Test-only: lets a second set start while one is being created."""

    def lock_set(self, owner: BackupComponents, context: vsssim.Context) -> SnapshotSet:
        self.creating = None
        return super().lock_set(owner, context)


def test_one_set_at_a_time_catches_a_coordinator_without_the_lock() -> None:
    world = small_world(1)
    world.coordinator = NoLockCoordinator(world.sim, world.namespace)
    world.add_writer(Writer(db_metadata()))
    _backup(world, "agent 1", "agent 2")
    found = _violated(world)["one set at a time"]
    assert found and all(" while set " in v.message for v in found)
    assert all(len(v.records) == 2 for v in found)
    # The volume marks are the second layer: the later set could not take the marked volumes.
    assert sorted(r.hresult.name for r in world.results) == ["S_OK", "VSS_E_VOLUME_IN_USE"]


def test_no_write_while_held_catches_a_gate_that_does_not_hold(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(Volume, "hold", lambda self, holder: None)
    world = build_demo_world(1)
    world.run()
    found = _violated(world)
    assert "no write while held" in found
    hold = world.sim.trace.find(action=V.HOLD_WRITES)[0].seq
    assert all(v.records[0] == hold for v in found["no write while held"])


class LiveReadingProvider(vsssim.SoftwareProvider):
    """Test-only: reads the live volume instead of the commit instant."""

    def read_range(self, snapshot: ShadowCopy, blocks: range) -> dict[int, bytes]:
        volume = snapshot.volume
        return {b: d for b in volume.written_blocks(blocks) if (d := volume.read(b)) is not None}


def test_point_in_time_catches_a_provider_that_reads_the_live_volume() -> None:
    world = small_world(2)
    world.coordinator.software_provider = LiveReadingProvider(world.sim)
    _backup(world)
    found = _violated(world)
    assert list(found) == ["point in time"]
    assert "differ from the commit instant" in found["point in time"][0].message


def test_no_write_lost_catches_a_release_that_drops_held_writes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def dropping_release(self: Volume) -> int:
        dropped = self.pending_writes
        self._held = None
        self._held_by = None
        return dropped

    monkeypatch.setattr(Volume, "release", dropping_release)
    for seed in range(10):  # find a run where a write met the hold
        world = build_demo_world(seed)
        world.run()
        if world.sim.trace.find(action=V.WRITE_HELD):
            break
    else:
        pytest.fail("no demo run met the hold")
    found = _violated(world)["no write lost"]
    assert any("lost" in v.message for v in found)


class ForgetfulWriter(Writer):
    """Test-only: reports a successful freeze but never stops its application."""

    def on_freeze(self, ctx: EventContext) -> ProcessGenerator:
        yield from self.take_time(ctx)


def test_application_consistency_catches_a_writer_that_does_not_freeze() -> None:
    world = small_world(3, db_writer=ForgetfulWriter(db_metadata()))
    _backup(world)
    found = _violated(world)
    assert list(found) == ["application consistency"]
    assert "while TestDbWriter was frozen" in found["application consistency"][0].message


class NeverThaws(Writer):
    """Test-only: freezes its application and forgets to let it go."""

    def on_thaw(self, ctx: EventContext) -> ProcessGenerator:
        yield from self.take_time(ctx)


def test_quiescence_catches_an_application_left_frozen() -> None:
    world = small_world(4, db_writer=NeverThaws(db_metadata()))
    _backup(world)
    found = _violated(world)["quiescence"]
    assert [v.message for v in found] == ["TestDbWriter left its application frozen"]
    [late] = _violated(world)["application thawed"]
    assert "still frozen when the writer finished OnThaw done" in late.message


def _late_freeze(writer: Writer) -> World:
    """A backup whose OnFreeze starts only after VSS gave up on it (a late reply)."""
    world = small_world(3, db_writer=writer, workload=False)
    world.coordinator.install_faults(FaultPlan.forced("writer-late-reply", "TestDbWriter.OnFreeze"))
    _backup(world)
    assert world.heal_and_settle(3600 * SECOND)
    return world


def test_application_thawed_catches_a_users_writer_that_keeps_a_late_freeze() -> None:
    world = _late_freeze(HyperVWriter(db_metadata()))
    found = _violated(world)
    [caught] = found["application thawed"]
    assert caught.message.startswith(
        "TestDbWriter's application was frozen after its freeze window ended and left frozen"
    )
    [abort, late] = [world.sim.trace.records[seq] for seq in caught.records]
    # The window, counted from the receipt of Freeze, ended with the writer's freeze timeout.
    assert (abort.action, late.action) == (
        V.FREEZE_TIMEOUT_HANDLED,
        V.late_reply_ignored(V.ON_FREEZE),
    )
    assert set(found) == {"application thawed", "quiescence"}
    # The default writer undoes the same late freeze itself: nothing to catch.
    assert _violated(_late_freeze(Writer(db_metadata()))) == {}


class ThawsOnlyAtShutdown(Writer):
    """Test-only: lets its application go on at OnBackupShutdown instead of OnThaw."""

    def on_thaw(self, ctx: EventContext) -> ProcessGenerator:
        yield from self.take_time(ctx)

    def on_backup_shutdown(self, ctx: EventContext) -> ProcessGenerator:
        self.thaw_application(ctx)
        yield from self.take_time(ctx)


def test_application_thawed_catches_a_thaw_after_the_window_that_quiescence_misses() -> None:
    world = small_world(4, db_writer=ThawsOnlyAtShutdown(db_metadata()))
    _backup(world)
    found = _violated(world)
    assert list(found) == ["application thawed"]  # thawed by the end: quiescence holds
    [caught] = found["application thawed"]
    assert world.sim.trace.records[caught.records[0]].action == V.ON_THAW_DONE


class SlowPreCommit(vsssim.SoftwareProvider):
    def pre_commit_snapshots(self, set_id):  # type: ignore[no-untyped-def]
        yield from super().pre_commit_snapshots(set_id)
        yield self.sim.timeout(3 * SECOND)


class ForgetsToThawOnAbort(Writer):
    """Test-only: its OnAbort does not let the application go on."""

    def on_abort(self, ctx: EventContext) -> ProcessGenerator:
        yield from self.take_time(ctx)


@pytest.mark.parametrize("cls", [Writer, ForgetsToThawOnAbort])
def test_a_freeze_timeout_calls_the_writers_own_on_abort(cls: type[Writer]) -> None:
    writer = cls(db_metadata(), freeze_timeout_us=2 * SECOND)
    world = small_world(5, db_writer=writer, workload=False)
    world.coordinator.software_provider = SlowPreCommit(world.sim)
    world.add_agent("agent", ["TestDbWriter:Inst\\Db"], NO_RETRY)
    world.run()
    trace = world.sim.trace
    [timeout] = trace.find(action=V.FREEZE_TIMEOUT)
    [handled] = trace.find(action=V.FREEZE_TIMEOUT_HANDLED)
    assert handled.seq > timeout.seq and handled.details["result"] == "S_OK"
    [hold] = writer.application_holds
    found = _violated(world)
    if cls is Writer:  # the writer's OnAbort thawed it when the timer fired
        assert hold.thawed_us == timeout.time_us and found == {}
    else:
        [caught] = found["application thawed"]
        assert caught.records == (handled.seq,)
        assert "still frozen when the writer finished freeze timeout handled" in caught.message


def test_quiescence_catches_a_process_that_never_finishes() -> None:
    world = small_world(5)
    _backup(world)

    def forever() -> ProcessGenerator:
        yield world.sim.event()

    world.sim.process(forever(), "stuck")
    world.sim.run()
    assert [v.message for v in _violated(world)["quiescence"]] == ["process 'stuck' never finished"]


def test_one_set_at_a_time_names_a_volume_in_two_sets_being_created() -> None:
    world = World.create(0)
    trace = world.sim.trace
    trace.record(4, "a", V.START_SNAPSHOT_SET, set_id="A")
    first = trace.record(4, "a", V.ADD_TO_SNAPSHOT_SET, set_id="A", volume="X:")
    trace.record(4, "b", V.START_SNAPSHOT_SET, set_id="B")
    second = trace.record(4, "b", V.ADD_TO_SNAPSHOT_SET, set_id="B", volume="X:")
    trace.record(7, V.VSS, V.DO_SNAPSHOT_SET_COMPLETE, set_id="A", commit_seq=0)
    trace.record(4, "b", V.ADD_TO_SNAPSHOT_SET, set_id="B", volume="Y:")
    found = check_all(world)["one set at a time"]
    assert [v.records for v in found] == [(0, 2), (first.seq, second.seq)]
    assert "volume X: added to set B while in set A" in found[1].message


def test_the_demo_exits_1_and_names_the_broken_invariant(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from vsssim.cli.main import main

    monkeypatch.setattr(Volume, "hold", lambda self, holder: None)
    for seed in range(10):
        if main(["demo", "--seed", str(seed)]) == 1:
            break
    else:
        pytest.fail("no run showed the broken hold")
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == f"Invariants: {len(INVARIANTS)} checked, 1 violated"
    assert any(line.startswith("  no write while held") and "VIOLATED" in line for line in out)
