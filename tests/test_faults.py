"""Every fault of the catalogue, forced at one site: its exact outcome and the cleanup after it."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.conftest import NO_RETRY, small_world
from vsssim import (
    SECOND,
    AgentOptions,
    Component,
    FileDescriptor,
    HResult,
    World,
    Writer,
    WriterMetadata,
    WriterState,
)
from vsssim.errors import ConfigurationError
from vsssim.faults import AGENT_STEPS, FAULT_KINDS, KINDS, FaultPlan
from vsssim.requesters.backup_options import RetryPolicy
from vsssim.requesters.backup_result import Outcome
from vsssim.sim import vocabulary as V
from vsssim.sim.choices import SequenceChoices, decode_token
from vsssim.sim.kernel import ProcessGenerator
from vsssim.testing.fuzz import judge
from vsssim.testing.invariants import INVARIANTS, check_all
from vsssim.vss.constants import SourceType, UsageType

DB = "TestDbWriter:Inst\\Db"
SETTLE_US = 3600 * SECOND


def _run(
    plan: FaultPlan,
    *,
    options: AgentOptions = NO_RETRY,
    workload: bool = False,
    selection: tuple[str, ...] = (DB,),
    world: World | None = None,
) -> World:
    world = world or small_world(1, workload=workload)
    world.coordinator.install_faults(plan)
    world.add_agent("agent", list(selection), options)
    world.run()
    assert world.heal_and_settle(SETTLE_US), "the world did not come to rest after healing"
    return world


def _violations(world: World, *, allowed: str | None = None) -> dict[str, list[str]]:
    return {
        name: [str(v) for v in found]
        for name, found in check_all(world).items()
        if found and name != allowed
    }


def _db_session(world: World) -> tuple[WriterState, HResult]:
    writer = world.coordinator.writer("TestDbWriter")
    return writer.state, writer.failure


def _assert_clean(world: World) -> None:
    coordinator = world.coordinator
    assert coordinator.creating is None
    assert not coordinator.snapshots
    for volume in world.namespace.volumes:
        assert volume.marked_by is None and not volume.held and not volume.pending_writes
    assert not any(w.application_frozen for w in coordinator.writers)
    assert _violations(world) == {}


# -- the catalogue itself --------------------------------------------------------------------


def test_every_kind_has_a_unique_name_a_place_to_fire_and_a_target() -> None:
    assert len(KINDS) == len(FAULT_KINDS)
    for kind in FAULT_KINDS:
        assert kind.where, kind.name
        assert kind.target in ("writer", "provider", "array", "agent", "timing")
    assert {k.name for k in FAULT_KINDS if k.misbehaviour} == {
        "writer-writes-while-frozen",
        "writer-keeps-late-freeze",
    }


def test_a_plan_rejects_unknown_kinds_and_bad_rates() -> None:
    with pytest.raises(ConfigurationError, match="unknown fault kinds"):
        FaultPlan(("writer-explodes",))
    with pytest.raises(ConfigurationError, match="between 0 and 100"):
        FaultPlan(activation_percent=120)


def test_a_plan_without_kinds_asks_nothing_and_changes_nothing() -> None:
    plain, planned = small_world(5), small_world(5)
    planned.coordinator.install_faults(FaultPlan(()))
    for world in (plain, planned):
        world.add_agent("agent", [DB])
        world.run()
    assert plain.sim.trace.to_jsonl() == planned.sim.trace.to_jsonl()
    assert plain.token() == planned.token()


# -- writers ---------------------------------------------------------------------------------

ERROR_KINDS = [k for k in FAULT_KINDS if k.effect.name == "FAIL"]
# Where a writer failure ends the backup, and what the agent reports. A fatal failure at
# Freeze or Thaw aborts the set ("Aborting VSS Operations"); at PrepareForBackup and
# PrepareForSnapshot it generates no Abort: the agent sees the writer's status and, its retries
# spent, leaves the writer's components out.
FAILING_EVENTS = {
    "OnPrepareBackup": (WriterState.FAILED_AT_PREPARE_BACKUP, Outcome.PARTIAL),
    "OnPrepareSnapshot": (WriterState.FAILED_AT_PREPARE_SNAPSHOT, Outcome.PARTIAL),
    "OnFreeze": (WriterState.FAILED_AT_FREEZE, Outcome.FAILED),
    "OnThaw": (WriterState.FAILED_AT_THAW, Outcome.FAILED),
    "OnPostSnapshot": (WriterState.FAILED_AT_POST_SNAPSHOT, Outcome.PARTIAL),
    "OnBackupComplete": (WriterState.FAILED_AT_BACKUP_COMPLETE, Outcome.SUCCEEDED),
    "OnBackupShutdown": (WriterState.FAILED_AT_BACKUPSHUTDOWN, Outcome.SUCCEEDED),
}


@pytest.mark.parametrize("kind", [k.name for k in ERROR_KINDS])
@pytest.mark.parametrize("event", list(FAILING_EVENTS))
def test_a_writer_error_moves_the_writer_to_failed_at_the_event(kind: str, event: str) -> None:
    """CVssWriter::OnFreeze, "Aborting VSS Operations": a fatal failure at Freeze or Thaw
    aborts the set; elsewhere the writer's status shows it and the backup goes on."""
    world = _run(FaultPlan.forced(kind, f"TestDbWriter.{event}"))
    state, outcome = FAILING_EVENTS[event]
    [result] = world.results
    kind_hresult = KINDS[kind].hresult
    assert kind_hresult is not None
    assert _db_session(world) == (state, kind_hresult)
    assert result.outcome is outcome
    if outcome is Outcome.FAILED:
        # A failure before the copies aborts: the partial set is gone, nothing is left behind.
        assert result.hresult == HResult.VSS_E_UNEXPECTED
        assert result.message == (
            f"TestDbWriter failed {event} fatally: {state.vss_name}, {kind_hresult.name}"
        )
        status = {s.writer_name: s for s in result.writer_status}["TestDbWriter"]
        assert (status.state, status.failure) == (state, kind_hresult)
    if outcome is Outcome.PARTIAL:
        assert result.skipped == ("Inst\\Db",) and not result.files
    _assert_clean(world)


def test_a_writer_that_fails_identify_is_invisible_to_the_agent() -> None:
    world = _run(FaultPlan.forced("writer-nonretryable", "TestDbWriter.OnIdentify"))
    [result] = world.results
    assert result.hresult == HResult.VSS_E_OBJECT_NOT_FOUND
    assert "no writer 'TestDbWriter' answered" in result.message
    assert _db_session(world) == (
        WriterState.FAILED_AT_IDENTIFY,
        HResult.VSS_E_WRITERERROR_NONRETRYABLE,
    )
    _assert_clean(world)


def test_a_freeze_failure_aborts_the_set_as_vss_does() -> None:
    world = _run(FaultPlan.forced("writer-retryable", "TestDbWriter.OnFreeze"), workload=True)
    actions = [(r.actor, r.action) for r in world.sim.trace if r.action not in (V.WRITE,)]
    abort = actions.index((V.VSS, V.ABORT))
    after = actions[abort:]
    assert (V.SOFTWARE_PROVIDER, V.ABORT_SNAPSHOTS) in after
    assert ("TestDbWriter", V.ON_ABORT) in after
    assert after.index((V.VSS, V.ABORT_DONE)) > after.index(("TestDbWriter", V.ON_ABORT_DONE))
    _assert_clean(world)


def test_a_veto_without_a_failure_code_reads_as_nonretryable() -> None:
    world = _run(FaultPlan.forced("writer-veto", "TestDbWriter.OnFreeze"))
    [result] = world.results
    assert _db_session(world) == (
        WriterState.FAILED_AT_FREEZE,
        HResult.VSS_E_WRITERERROR_NONRETRYABLE,
    )
    assert result.outcome is Outcome.FAILED
    status = result.writer_status[0]
    assert "returned false" in status.failure_reason
    _assert_clean(world)


@pytest.mark.parametrize(
    ("event", "outcome"), [("on_prepare_snapshot", Outcome.PARTIAL), ("on_freeze", Outcome.FAILED)]
)
def test_a_handler_returning_false_fails_in_a_user_writer(event: str, outcome: Outcome) -> None:
    """"Aborting VSS Operations": OnFreeze returning false generates an Abort event; a failure
    to process PrepareForSnapshot does not (the set is made, the writer's components are left
    out)."""

    def refuse(self: Writer, ctx: Any) -> Any:
        yield from self.take_time(ctx)
        return False

    Refusing = type("Refusing", (Writer,), {event: refuse})
    from tests.conftest import db_metadata

    world = small_world(2, db_writer=Refusing(db_metadata()), workload=False)
    world.add_agent("agent", [DB], NO_RETRY)
    [result] = world.run()
    assert result.outcome is outcome
    failed_at = {"on_prepare_snapshot": WriterState.FAILED_AT_PREPARE_SNAPSHOT}
    assert _db_session(world)[0] == failed_at.get(event, WriterState.FAILED_AT_FREEZE)
    assert bool(world.sim.trace.find(action=V.ABORT)) is (outcome is Outcome.FAILED)


@pytest.mark.parametrize("kind", ["writer-slow", "writer-late-reply", "writer-hang"])
def test_a_writer_that_answers_too_late_is_given_up_on(kind: str) -> None:
    world = _run(FaultPlan.forced(kind, "TestDbWriter.OnFreeze"), workload=True)
    [result] = world.results
    assert _db_session(world) == (
        WriterState.FAILED_AT_FREEZE,
        HResult.VSS_E_WRITER_NOT_RESPONDING,
    )
    assert result.hresult == HResult.VSS_E_UNEXPECTED
    [given_up] = world.sim.trace.find(action=V.ON_FREEZE_NOT_RESPONDING)
    [late] = world.sim.trace.find(action=V.late_reply_ignored(V.ON_FREEZE))
    assert late.seq > given_up.seq
    # The late answer changes nothing: the writer stays failed, its application runs.
    assert late.details["state"] == "VSS_WS_FAILED_AT_FREEZE"
    _assert_clean(world)


def test_a_hung_writer_answers_only_once_healed() -> None:
    world = small_world(1, workload=False)
    plan = FaultPlan.forced("writer-hang", "TestDbWriter.OnPrepareSnapshot")
    world.coordinator.install_faults(plan)
    world.add_agent("agent", [DB], NO_RETRY)
    world.run()
    assert [p.name for p in world.sim.live_processes] == ["TestDbWriter OnPrepareSnapshot"]
    assert world.heal_and_settle(SETTLE_US)
    assert not world.sim.live_processes
    assert world.sim.trace.find(action=V.late_reply_ignored(V.ON_PREPARE_SNAPSHOT))
    _assert_clean(world)


def test_delayed_replies_come_back_in_a_shuffled_order_and_the_backup_succeeds() -> None:
    world = _run(FaultPlan.forced("writer-delayed-reply", "TestDbWriter.*"))
    [result] = world.results
    assert result.outcome is Outcome.SUCCEEDED
    fired = world.sim.trace.find(actor=V.FAULT)
    assert fired and all(0 < int(str(r.details["delay_us"])) <= 5 * SECOND for r in fired)
    _assert_clean(world)


def test_writing_while_frozen_is_caught_by_application_consistency() -> None:
    world = _run(FaultPlan.forced("writer-writes-while-frozen", "TestDbWriter.OnFreeze"))
    [fired] = world.coordinator.faults.misbehaved  # type: ignore[union-attr]
    found = check_all(world)
    [caught] = found["application consistency"]
    assert "TestDbWriter wrote to D:" in caught.message
    assert fired.seq in caught.records or fired.seq + 1 in caught.records
    assert _violations(world, allowed="application consistency") == {}


def test_a_late_freeze_left_in_place_is_caught_by_application_thawed() -> None:
    world = _run(FaultPlan.forced("writer-keeps-late-freeze", "TestDbWriter.OnFreeze"))
    faults = world.coordinator.faults
    assert faults is not None
    [fired] = faults.misbehaved
    assert fired.effective and faults.planted == [fired]
    found = check_all(world)
    [caught] = found["application thawed"]
    assert "frozen after its freeze window ended and left frozen" in caught.message
    [left] = found["quiescence"]
    assert left.message == "TestDbWriter left its application frozen"
    assert left.subject == caught.subject == fired.writer == "TestDbWriter"
    # The fuzzer's verdict: the planted bug caught, nothing else wrong.
    report = judge(world, True, 0, 0, "")
    assert report.caught == ("writer-keeps-late-freeze",) and report.violations == ()


def _stop_app_meanwhile(world: World) -> None:
    """Someone else holds the application across the late freeze (from the start to 1000 s)."""
    writer = world.coordinator.writer("TestDbWriter")
    writer.stop_application("maintenance")

    def start_later() -> ProcessGenerator:
        yield world.sim.timeout(1000 * SECOND)
        writer.start_application("maintenance")

    world.sim.process(start_later(), "maintenance")


def test_a_late_freeze_that_froze_nothing_is_not_expected_to_be_caught() -> None:
    # The late freeze lands while another holder has the application: it freezes nothing, so
    # the planted bug has no effect, and judging must not call it missed.
    world = small_world(1, workload=False)
    _stop_app_meanwhile(world)
    world = _run(FaultPlan.forced("writer-keeps-late-freeze", "TestDbWriter.OnFreeze"), world=world)
    faults = world.coordinator.faults
    assert faults is not None
    [planted] = faults.planted
    assert not planted.effective and faults.misbehaved == []
    assert world.sim.trace.find(action=V.late_reply_ignored(V.ON_FREEZE))
    report = judge(world, True, 0, 0, "")
    assert report.caught == () and report.violations == ()
    assert report.faults == (("writer-keeps-late-freeze", 1),)


def test_writing_while_frozen_is_effective_once_the_write_is_in() -> None:
    world = _run(FaultPlan.forced("writer-writes-while-frozen", "TestDbWriter.OnFreeze"))
    faults = world.coordinator.faults
    assert faults is not None
    [fired] = faults.fired
    assert fired.effective
    # Recorded only when the write is in (a writer no longer frozen writes nothing, records
    # nothing): the record names the block written.
    [record] = world.sim.trace.find(actor=V.FAULT)
    assert record.seq == fired.seq and "block" in record.details


def test_every_misbehaviour_kind_says_which_invariant_catches_it() -> None:
    names = {inv.name for inv in INVARIANTS}
    for kind in FAULT_KINDS:
        if kind.misbehaviour:
            assert kind.caught_by in names and set(kind.also_breaks) <= names, kind.name
        else:
            assert kind.also_breaks == (), kind.name


# -- providers -------------------------------------------------------------------------------

PROVIDER = V.SOFTWARE_PROVIDER


@pytest.mark.parametrize(
    ("kind", "call", "hresult"),
    [
        ("provider-veto", "BeginPrepareSnapshot", HResult.VSS_E_PROVIDER_VETO),
        ("provider-veto", "EndPrepareSnapshots", HResult.VSS_E_PROVIDER_VETO),
        ("provider-veto", "PreCommitSnapshots", HResult.VSS_E_PROVIDER_VETO),
        (
            "provider-insufficient-storage",
            "BeginPrepareSnapshot",
            HResult.VSS_E_INSUFFICIENT_STORAGE,
        ),
        ("provider-commit-failure", "CommitSnapshots", HResult.VSS_E_UNEXPECTED_PROVIDER_ERROR),
        (
            "provider-unexpected-error",
            "PostCommitSnapshots",
            HResult.VSS_E_UNEXPECTED_PROVIDER_ERROR,
        ),
        ("provider-slow-commit", "CommitSnapshots", HResult.VSS_E_HOLD_WRITES_TIMEOUT),
        ("provider-volume-not-supported", "AddToSnapshotSet", HResult.VSS_E_VOLUME_NOT_SUPPORTED),
    ],
)
def test_a_provider_fault_fails_the_whole_set_and_vss_cleans_up(
    kind: str, call: str, hresult: HResult
) -> None:
    world = _run(FaultPlan.forced(kind, f"{PROVIDER}.{call}"), workload=True)
    [result] = world.results
    assert result.outcome is Outcome.FAILED
    assert result.hresult == hresult
    assert not result.files
    # Writers are back to stable (OnAbort), no write was lost, nothing is held or locked.
    assert _db_session(world) == (WriterState.STABLE, HResult.S_OK)
    _assert_clean(world)


def test_a_flush_that_overruns_fails_with_flush_writes_timeout() -> None:
    world = _run(FaultPlan.forced("flush-timeout", "VSS.flush"))
    [result] = world.results
    assert result.hresult == HResult.VSS_E_FLUSH_WRITES_TIMEOUT
    _assert_clean(world)


# -- agents ----------------------------------------------------------------------------------

# Steps only a failing backup passes through; the test pairs them with a writer failure.
CLEANUP_STEPS = ("AbortBackup",)


@pytest.mark.parametrize("step", [s for s in AGENT_STEPS if s not in CLEANUP_STEPS])
def test_an_agent_that_dies_is_cleaned_up_by_the_rundown(step: str) -> None:
    world = _run(FaultPlan.forced("agent-dies", f"agent.{step}"), workload=True)
    [result] = world.results
    assert result.outcome is Outcome.AGENT_DIED
    assert result.message == f"agent died before {step}"
    [gone] = world.sim.trace.find(action=V.REQUESTER_GONE)
    [died] = world.sim.trace.find(action=V.AGENT_DIED)
    assert gone.seq > died.seq
    if gone.details["state"] != "created":
        [rundown] = world.sim.trace.find(action=V.RUNDOWN)
        assert rundown.time_us - gone.time_us >= world.coordinator.config.rundown_us
    # Whatever the step, VSS leaves nothing behind: no lock, no shadow copy, writers stable.
    assert _db_session(world)[0] == WriterState.STABLE
    _assert_clean(world)


def test_an_agent_that_dies_while_aborting_is_cleaned_up_too() -> None:
    plan = FaultPlan(
        ("writer-nonretryable", "agent-dies"),
        100,
        (100,),
        ("TestDbWriter.OnFreeze", "agent.AbortBackup"),
    )
    world = _run(plan, workload=True)
    [result] = world.results
    assert result.outcome is Outcome.AGENT_DIED
    assert result.message == "agent died before AbortBackup"
    assert world.sim.trace.find(action=V.RUNDOWN)
    _assert_clean(world)


def test_while_a_dead_agent_holds_the_set_lock_the_next_agent_waits_for_the_rundown() -> None:
    world = small_world(4, workload=False)
    world.coordinator.install_faults(FaultPlan.forced("agent-dies", "first.AddToSnapshotSet"))
    world.add_agent("first", [DB], NO_RETRY)
    world.add_agent("second", [DB], NO_RETRY, start_us=1 * SECOND)
    first, second = world.run()
    assert first.outcome is Outcome.AGENT_DIED
    assert second.outcome is Outcome.SUCCEEDED
    [rundown] = world.sim.trace.find(action=V.RUNDOWN, actor="first")
    [started] = world.sim.trace.find(action=V.START_SNAPSHOT_SET, actor="second")
    assert started.seq > rundown.seq
    assert _violations(world) == {}


# -- the agent's policy ----------------------------------------------------------------------


def test_a_retryable_failure_is_retried_after_the_policy_delay() -> None:
    plan = FaultPlan.forced("writer-retryable", "TestDbWriter.OnFreeze", times=1)
    world = _run(plan, options=AgentOptions())
    [result] = world.results
    assert result.outcome is Outcome.SUCCEEDED
    first, second = result.attempts
    assert first.hresult == HResult.VSS_E_UNEXPECTED
    assert first.failed_writers == ("TestDbWriter",)
    assert second.hresult == HResult.S_OK
    assert second.started_us - first.finished_us == RetryPolicy().delay_us
    assert world.verify(result) == []
    _assert_clean(world)


def test_retries_are_bounded_by_the_policy() -> None:
    plan = FaultPlan.forced("writer-out-of-resources", "TestDbWriter.OnFreeze")
    world = _run(plan, options=AgentOptions(retry=RetryPolicy(retries=2, delay_us=SECOND)))
    [result] = world.results
    assert result.outcome is Outcome.FAILED
    assert [a.hresult for a in result.attempts] == [HResult.VSS_E_UNEXPECTED] * 3
    assert len(world.sim.trace.find(action=V.RETRY)) == 2
    _assert_clean(world)


def test_a_nonretryable_failure_is_not_retried() -> None:
    plan = FaultPlan.forced("writer-nonretryable", "TestDbWriter.OnFreeze")
    world = _run(plan, options=AgentOptions())
    [result] = world.results
    assert len(result.attempts) == 1 and result.outcome is Outcome.FAILED


def _two_writer_world() -> World:
    world = small_world(6, workload=False)
    share_id = uuid.UUID("66666666-2222-3333-4444-555555555555")
    world.add_writer(
        Writer(
            WriterMetadata(
                writer_class_id=share_id,
                writer_instance_id=uuid.uuid5(share_id, "instance"),
                writer_name="TestShareWriter",
                usage_type=UsageType.USERDATA,
                source_type=SourceType.NONTRANSACTEDDB,
                components=(
                    Component(
                        "Docs", logical_path="Shares", files=(FileDescriptor("S:\\Share", "*"),)
                    ),
                ),
            )
        )
    )
    return world


def test_the_agent_can_go_on_without_a_failed_noncritical_writer() -> None:
    plan = FaultPlan.forced("writer-nonretryable", "TestDbWriter.OnFreeze")
    options = AgentOptions(skip_failed_writers=True)
    world = _run(
        plan,
        options=options,
        world=_two_writer_world(),
        selection=(DB, "TestShareWriter:Shares\\Docs"),
    )
    [result] = world.results
    assert result.outcome is Outcome.PARTIAL
    assert result.skipped == ("Inst\\Db",)
    assert [(c.component, c.reason) for c in result.left_out] == [
        ("Inst\\Db", "its writer TestDbWriter failed in an earlier attempt and is excluded")
    ]
    assert [f.path for f in result.files] == ["S:\\Share\\doc.txt"]
    assert "without Inst\\Db" in result.message
    [retry] = world.sim.trace.find(action=V.RETRY)
    assert retry.details["reason"] == "going on without TestDbWriter"
    _assert_clean(world)


def test_a_critical_writer_failure_fails_the_backup() -> None:
    plan = FaultPlan.forced("writer-nonretryable", "TestDbWriter.OnFreeze")
    options = AgentOptions(skip_failed_writers=True, critical_writers=("TestDbWriter",))
    world = _run(
        plan,
        options=options,
        world=_two_writer_world(),
        selection=(DB, "TestShareWriter:Shares\\Docs"),
    )
    [result] = world.results
    assert result.outcome is Outcome.FAILED and len(result.attempts) == 1


# -- swarm -----------------------------------------------------------------------------------


def test_a_swarm_plan_is_drawn_from_the_choices_and_replays_from_the_token() -> None:
    def build(world: World) -> World:
        world.coordinator.install_faults(FaultPlan.swarm(world.sim.choices))
        world.add_agent("agent", [DB])
        world.run()
        return world

    mixes = set()
    for seed in range(12):
        first = build(small_world(seed, workload=False))
        mixes.add(first.coordinator.faults.kinds)  # type: ignore[union-attr]
        replayed = build(
            small_world(choices=SequenceChoices(decode_token(first.token())), workload=False)
        )
        assert replayed.sim.trace.to_jsonl() == first.sim.trace.to_jsonl()
    assert len(mixes) > 6, "runs should differ in which kinds of faults they combine"
