"""The Hyper-V daemon bug class for users' writers: a freeze made after VSS gave up on OnFreeze
and never thawed is the writer's bug, caught by the fuzzer, with a token that replays it."""

from __future__ import annotations

from tests.conftest import NO_RETRY, db_metadata, small_world
from tests.helpers_module import CarefulWriter, HyperVWriter
from vsssim import SECOND, EventContext, World, Writer
from vsssim.faults import FaultPlan
from vsssim.sim import vocabulary as V
from vsssim.sim.kernel import ProcessGenerator
from vsssim.testing.fuzz import campaign, replay
from vsssim.testing.invariants import check_all

HYPERV = "tests.helpers_module:HyperVWriter"
CAREFUL = "tests.helpers_module:CarefulWriter"
DB = "TestDbWriter:Inst\\Db"


def _late_freeze(writer: Writer) -> World:
    world = small_world(3, db_writer=writer, workload=False)
    world.coordinator.install_faults(FaultPlan.forced("writer-late-reply", "TestDbWriter.OnFreeze"))
    world.add_agent("agent", [DB], NO_RETRY)
    world.run()
    assert world.heal_and_settle(3600 * SECOND)
    return world


def test_the_model_leaves_a_late_freeze_to_the_writer() -> None:
    world = _late_freeze(HyperVWriter(db_metadata()))
    writer = world.coordinator.writer("TestDbWriter")
    [late] = world.sim.trace.find(action=V.late_reply_ignored(V.ON_FREEZE))
    # VSS aborted before the late freeze came (the agent's AbortBackup may come before or
    # after it): nothing but the writer itself can thaw it now.
    aborts = world.sim.trace.find(action=V.ON_ABORT_DONE, actor="TestDbWriter")
    assert len(aborts) == 2 and aborts[0].seq < late.seq
    abort = aborts[0]
    assert writer.application_frozen
    [hold] = writer.application_holds
    assert hold.thawed_at is None and hold.frozen_at > abort.seq


def test_the_default_writer_undoes_its_late_freeze_itself() -> None:
    for writer in (Writer(db_metadata()), CarefulWriter(db_metadata())):
        world = _late_freeze(writer)
        assert world.sim.trace.find(action=V.late_reply_ignored(V.ON_FREEZE))
        [hold] = writer.application_holds
        # Frozen and thawed at one instant, before the late reply: no time frozen for nothing.
        assert hold.thawed_us == hold.frozen_us and hold.thawed_at == hold.frozen_at
        assert {n: v for n, v in check_all(world).items() if v} == {}


class Probe(Writer):
    """Records whether VSS had given up on each OnFreeze when it froze."""

    seen: list[bool]

    def on_freeze(self, ctx: EventContext) -> ProcessGenerator:
        self.seen = [*getattr(self, "seen", []), ctx.given_up]
        yield from super().on_freeze(ctx)
        self.seen.append(self.event_abandoned(ctx))


def test_a_handler_can_tell_that_vss_gave_up_on_its_event() -> None:
    on_time, late = Probe(db_metadata()), Probe(db_metadata())
    world = small_world(1, db_writer=on_time, workload=False)
    world.add_agent("agent", [DB], NO_RETRY)
    world.run()
    _late_freeze(late)
    # On time: never given up. Late (started after VSS gave up): given up before and after.
    assert on_time.seen == [False, False]
    assert late.seen == [True, True]


def test_a_users_writer_with_the_bug_is_caught_by_a_short_campaign_and_replays() -> None:
    # Misbehaviour faults off: the only bug is the user's; late replies come from the
    # survivable fault kinds. Campaign 9 shows it at run 0 (benchmarks/hyperv_catch.py runs
    # 1,000-run campaigns over several seeds and prints how many runs each took).
    summary = campaign(9, 4, writer=HYPERV, misbehaviour=False)
    [failure] = summary.failures
    assert failure.index == 0
    thawed = [v for v in failure.violations if v.startswith("application thawed:")]
    assert thawed and "frozen after its freeze window ended" in thawed[0]
    world, again = replay(failure.token, writer=HYPERV, misbehaviour=False)
    assert again.violations == failure.violations
    assert again.trace_hash == failure.trace_hash
    assert any(w.application_frozen for w in world.coordinator.writers)


def test_the_same_campaign_passes_with_the_default_and_the_fixed_writer() -> None:
    assert campaign(9, 4, misbehaviour=False).violations == 0
    assert campaign(9, 4, writer=CAREFUL, misbehaviour=False).violations == 0
