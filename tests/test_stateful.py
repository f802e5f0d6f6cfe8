"""The protocol state machine: clean with the base writer, failing with buggy ones."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Generator, Sequence
from pathlib import Path
from typing import Any, ClassVar

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import run_state_machine_as_test

from tests.conftest import DB_WRITER_ID, db_metadata, small_world
from vsssim import (
    MILLISECOND,
    SECOND,
    Component,
    EventContext,
    FileDescriptor,
    Writer,
    WriterMetadata,
)
from vsssim.faults import KINDS, FaultPlan
from vsssim.host.scenario import AgentSpec
from vsssim.requesters.backup_result import BackupResult
from vsssim.sim import vocabulary as V
from vsssim.sim.kernel import Event
from vsssim.testing.stateful import (
    DEFAULT_WRITERS,
    FORCED_FAULTS,
    WriterProtocolMachine,
    assert_invariants,
    host_scenario,
    violations,
)

ROOT = Path(__file__).resolve().parent.parent
Handler = Generator[Event, Any, Any]


def _settings(examples: int, steps: int) -> settings:
    return settings(
        derandomize=True,
        database=None,
        deadline=None,
        max_examples=examples,
        stateful_step_count=steps,
        phases=(Phase.generate, Phase.shrink),
        suppress_health_check=[HealthCheck.too_slow],
    )


# -- the documented way: a unittest TestCase for pytest --------------------------------------

TestBaseWriterKeepsTheProtocol = WriterProtocolMachine.TestCase
TestBaseWriterKeepsTheProtocol.settings = _settings(8, 5)


# -- the base writer -------------------------------------------------------------------------

#: (step, result, how many sessions W1 has taken part in so far) of every round.
ROUNDS: list[tuple[str, BackupResult, int]] = []


class RecordingMachine(WriterProtocolMachine):
    """Remembers what every round did, to show the machine exercises the protocol."""

    def run_round(
        self,
        agents: Sequence[AgentSpec],
        plan: FaultPlan | None = None,
        *,
        heal_after_us: int | None = None,
    ) -> list[BackupResult]:
        results = super().run_round(agents, plan, heal_after_us=heal_after_us)
        sessions = len(self.world.coordinator.writer("W1").sessions)
        ROUNDS.extend((self.last_step, r, sessions) for r in results)
        return results


def test_the_base_writer_passes_every_rule_and_the_rounds_vary() -> None:
    ROUNDS.clear()
    run_state_machine_as_test(RecordingMachine, settings=_settings(25, 6))
    outcomes = Counter(r.outcome.value for _, r, _ in ROUNDS)
    assert outcomes["succeeded"] and outcomes["failed"], outcomes
    steps = " ".join(step for step, _, _ in ROUNDS)
    assert " with " in steps and "ms apart" in steps and "under faults" in steps
    # A machine's writers live across rounds: W1 took part in several backup sessions.
    assert max(sessions for _, _, sessions in ROUNDS) >= 3


def test_every_forced_fault_names_a_survivable_kind_and_a_place_it_fires() -> None:
    assert len(set(FORCED_FAULTS)) == len(FORCED_FAULTS)
    for kind, where in FORCED_FAULTS:
        assert not KINDS[kind].misbehaviour and where in KINDS[kind].where
    # Every survivable kind, but the array's: the machine's hosts have no disk array.
    survivable = {k for k in KINDS if not KINDS[k].misbehaviour}
    assert {k for k, _ in FORCED_FAULTS} == {k for k in survivable if KINDS[k].target != "array"}


# -- buggy writers are caught ----------------------------------------------------------------


class ForgetsToThawOnAbort(Writer):
    """Bug: an abort after the freeze leaves the application frozen."""

    def on_abort(self, ctx: EventContext) -> Handler:
        yield from self.take_time(ctx)


class ForgetsItsSecondFreeze(Writer):
    """Bug: from its second freeze on, it reports frozen but lets the application write."""

    freezes: int = 0

    def on_freeze(self, ctx: EventContext) -> Handler:
        yield from self.take_time(ctx)
        self.freezes += 1
        if self.freezes == 1:
            self.freeze_application(ctx)


class AbortMachine(WriterProtocolMachine):
    writer_class = ForgetsToThawOnAbort


class SecondFreezeMachine(WriterProtocolMachine):
    writer_class = ForgetsItsSecondFreeze
    # Busy applications: a write in the short freeze window is likely.
    workload_interval_us = (50 * MILLISECOND, 100 * MILLISECOND)


def _steps(failure: BaseException) -> list[str]:
    notes = "\n".join(getattr(failure, "__notes__", []))
    return [line for line in notes.splitlines() if line.startswith("state.")]


def test_a_writer_that_stays_frozen_after_an_abort_fails_the_machine() -> None:
    with pytest.raises(AssertionError, match=r"quiescence: W\d left its application frozen") as e:
        run_state_machine_as_test(AbortMachine, settings=_settings(30, 5))
    assert "replay token: v2." in str(e.value)
    steps = _steps(e.value)
    assert steps[0] == "state.build_world(seed=0)"
    # Shrunk to a few steps, the last one a backup with faults that aborts after the freeze.
    rounds = [s for s in steps if s.startswith("state.backup")]
    assert 1 <= len(rounds) <= 3 and V.FAULT in rounds[-1]


def test_a_writer_that_forgets_its_second_freeze_fails_the_machine() -> None:
    with pytest.raises(AssertionError, match="application consistency: app-W1 wrote to") as e:
        run_state_machine_as_test(SecondFreezeMachine, settings=_settings(30, 8))
    assert "W1 was frozen" in str(e.value)
    # One freeze is not enough to show the bug: it takes a second agent on the same writers.
    first_line = str(e.value).splitlines()[0]
    assert max(int(n) for n in re.findall(r"\bA(\d+)\b", first_line)) >= 2


# -- a subclass with its own writers ---------------------------------------------------------


class SingleDbMachine(WriterProtocolMachine):
    """One database writer with its data on ``D:`` and its log on ``L:``."""

    writers: ClassVar[tuple[WriterMetadata, ...]] = (db_metadata(),)


def test_a_subclass_can_fuzz_its_own_metadata() -> None:
    ROUNDS.clear()
    machine = SingleDbMachine()
    machine.build_world(3)
    world = machine.world
    assert [v.label for v in world.namespace.volumes] == ["D:", "L:"]
    assert [w.name for w in world.coordinator.writers] == ["TestDbWriter"]
    [result] = machine.run_round([AgentSpec(machine.next_agent(), ("TestDbWriter:Inst\\Db",))])
    assert result.succeeded and [f.path for f in result.files] == [
        "D:\\Data\\Db.mdf",
        "L:\\Logs\\Db.ldf",
    ]
    assert violations(world) == []
    run_state_machine_as_test(SingleDbMachine, settings=_settings(5, 4))


def test_host_scenario_gives_every_writer_its_volumes_files_and_application() -> None:
    share_id = uuid.UUID("66666666-2222-3333-4444-555555555555")
    shares = WriterMetadata(
        writer_class_id=share_id,
        writer_instance_id=uuid.uuid5(share_id, "instance"),
        writer_name="Shares",
        components=(Component("Docs", files=(FileDescriptor("S:\\Share", "*.txt"),)),),
    )
    host = host_scenario((*DEFAULT_WRITERS, shares), interval_us=(SECOND, 2 * SECOND))
    assert [v.mount_point for v in host.volumes] == ["D:\\", "E:\\", "S:\\"]
    assert [f.path for f in host.files] == [
        "D:\\W1\\C0\\f0.dat",
        "E:\\W1\\C1\\f0.dat",
        "E:\\W2\\C0\\f0.dat",
        "S:\\Share\\data.txt",
        "D:\\Users\\notes.txt",
    ]
    assert [(w.name, w.writer) for w in host.workloads] == [
        ("app-W1", "W1"),
        ("app-W2", "W2"),
        ("app-Shares", "Shares"),
        ("users", None),
    ]
    assert host.agents == () and host.faults is None
    world = host.build(0)
    assert [f.path for f in world.namespace.match("S:\\Share", "*.txt", False)] == [
        "S:\\Share\\data.txt"
    ]


# -- the helpers -----------------------------------------------------------------------------


def test_assert_invariants_names_the_violation_and_gives_the_token() -> None:
    world = small_world(1, workload=False)
    world.coordinator.install_faults(
        FaultPlan.forced("writer-keeps-late-freeze", "TestDbWriter.OnFreeze")
    )
    world.add_agent("agent", ["TestDbWriter:Inst\\Db"])
    world.run()
    assert world.heal_and_settle(3600 * SECOND)
    assert [v.invariant for v in violations(world)] == ["application thawed", "quiescence"]
    with pytest.raises(AssertionError) as e:
        assert_invariants(world, after="a late freeze")
    message = str(e.value)
    assert message.startswith("2 invariant violation(s) after a late freeze:\n")
    assert "  application thawed: TestDbWriter's application was frozen after" in message
    assert "  quiescence: TestDbWriter left its application frozen" in message
    assert message.endswith(f"replay token: {world.token()}")


class Spinning(Writer):
    """Bug: OnPostSnapshot never returns (it polls forever)."""

    def on_post_snapshot(self, ctx: EventContext) -> Handler:
        while True:
            yield ctx.sim.timeout(10 * SECOND)


class SpinningMachine(WriterProtocolMachine):
    writer_class = Spinning
    writers: ClassVar[tuple[WriterMetadata, ...]] = (db_metadata(DB_WRITER_ID),)


def test_a_round_that_never_comes_to_rest_fails() -> None:
    machine = SpinningMachine()
    machine.build_world(0)
    with pytest.raises(AssertionError, match="did not come to rest within 3600 s") as e:
        machine.run_round([AgentSpec(machine.next_agent(), ("TestDbWriter:Inst\\Db",))])
    assert "replay token: v2." in str(e.value)


# -- the example -----------------------------------------------------------------------------


def test_the_fuzzing_example_finds_its_planted_bug() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "fuzz_my_writer.py")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "hypothesis found the planted bug" in done.stdout
    assert "state = ForgetfulWriterMachine()" in done.stdout
    assert "quiescence: W1 left its application frozen" in done.stdout
