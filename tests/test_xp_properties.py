"""Random hosts with an XP array: every run keeps the invariants, and a failed set gives back
what it took on the array.

Some volumes are LDEVs with 1-3 replica LDEVs; copies are instant, quick or slow and the
agents' sync waits generous, short or far too short (so sets fail in EndPrepareSnapshots and
abort); agents (1-3, possibly contending) ask for VSS's choice, the XP or the software
provider, with or without fallback, in resync or compliant mode, rotating, keeping and
tracking replicas at random, under random workloads, seeds and (survivable) faults.
"""

from __future__ import annotations

import uuid

import attrs
import pytest
from hypothesis import currently_in_test_context, event, given, note, settings
from hypothesis import strategies as st

from vsssim import MILLISECOND, SECOND, World
from vsssim.errors import HResult
from vsssim.host.scenario import AgentSpec, ArraySpec, FileSpec, Scenario, VolumeSpec
from vsssim.requesters.backup_options import AgentOptions, RetryPolicy
from vsssim.requesters.backup_result import Outcome
from vsssim.sim import vocabulary as V
from vsssim.sim.trace import TraceRecord
from vsssim.testing.invariants import check_all
from vsssim.testing.strategies import describe, scenarios
from vsssim.vss.metadata import Component, FileDescriptor, WriterMetadata
from vsssim.vss.providers.xp import XP_PROVIDER_ID, ReplicaMode, ReplicaOptions, XpProvider
from vsssim.vss.providers.xp.pairs import COPYING, PairState

SETTLE_US = 3600 * SECOND
WRITER_ID = uuid.uuid5(uuid.NAMESPACE_URL, "vsssim-tests:xp-properties:Db")
#: Deterministic CI: the same examples on every run, nothing read from or written to a database.
CI = settings(derandomize=True, database=None, deadline=None)
SEEDS = st.integers(0, 2**16)
#: The commands the array records, by their RAID Manager names.
_COMMANDS = (
    V.PAIRCREATE,
    V.PAIRSPLIT,
    V.PAIRSPLIT_QUICK,
    V.PAIRRESYNC,
    V.PAIRRESYNC_RESTORE,
    V.PAIRSPLIT_DELETE,
)


def _run(scenario: Scenario, seed: int) -> World:
    """Build and run ``scenario`` to its end, then let everything come to rest."""
    world = scenario.build(seed)
    world.run()
    assert world.finished, "an agent has no result"
    assert world.heal_and_settle(SETTLE_US), f"no rest: {world.token()}"
    return world


def _run_drawn(scenario: Scenario, seed: int) -> World:
    note(describe(scenario))
    world = _run(scenario, seed)
    _events(world)
    return world


def _event(text: str) -> None:
    if currently_in_test_context():
        event(text)


def _events(world: World) -> None:
    """What the run went through (``--hypothesis-show-statistics`` counts them)."""
    trace = world.sim.trace
    for result in world.results:
        event(f"outcome: {result.outcome.value} ({result.hresult.name})")
    if any(
        "did not synchronise" in str(r.details.get("reason")) for r in trace.find(action=V.ABORT)
    ):
        event("a set aborted: mirrors slower than the sync wait")
    for action in (
        V.PAIRS_SPLIT,
        V.PAIRSPLIT_DELETE,
        V.PAIRRESYNC,
        V.REPLICA_LOST,
        V.PROVIDER_FALLBACK,
    ):
        if any(True for _ in trace.find(action=action)):
            event(f"trace has {action}")
    if any(True for _ in trace.find(action=V.ABORT_SNAPSHOTS)):
        event("a provider undid a set")


def _commands_after(world: World, seq: int, pair: str) -> list[str]:
    """The commands sent to ``pair`` after trace record ``seq``, in order."""
    return [
        r.action
        for r in world.sim.trace
        if r.seq > seq and r.details.get("pair") == pair and r.action in _COMMANDS
    ]


def _syncs(world: World, provider: XpProvider) -> dict[str, list[TraceRecord]]:
    """By set id: the ``paircreate`` and ``pairresync`` commands the provider sent to bring
    the set's pairs in sync. ``BeginPrepareSnapshot`` sends them before it yields, so each
    is the first array command after the provider's ``BeginPrepareSnapshot`` record (a
    ``pairdisplay``, or the ``replica lost`` of a reused replica, may come between)."""
    records = list(world.sim.trace)
    set_of = {
        r.details["snapshot_id"]: str(r.details["set_id"])
        for r in records
        if r.action == V.ADD_TO_SNAPSHOT_SET
    }
    found: dict[str, list[TraceRecord]] = {}
    for index, record in enumerate(records):
        if record.action != V.BEGIN_PREPARE_SNAPSHOT or record.actor != provider.name:
            continue
        skipped = (V.PAIRDISPLAY, V.REPLICA_LOST)
        following = (r for r in records[index + 1 :] if r.action not in skipped)
        command = next(following, None)
        if command is not None and command.action in (V.PAIRCREATE, V.PAIRRESYNC):
            found.setdefault(set_of[record.details["snapshot_id"]], []).append(command)
    return found


def _check_array(world: World) -> None:
    provider = world.xp_provider()
    array = provider.array
    trace = world.sim.trace
    # Nothing transitional at the end: no copy runs, every pair is in sync, split or suspended.
    for pair in array.pairs:
        assert pair.state not in COPYING, pair.name
        assert pair.state in (PairState.PAIR, PairState.PSUS, PairState.PSUE), pair.name
    aborts = {str(r.details["set_id"]): r for r in trace.find(action=V.ABORT, actor=V.VSS)}
    undone = {str(r.details["set_id"]) for r in trace.find(action=V.ABORT_SNAPSHOTS)}
    for set_id, commands in _syncs(world, provider).items():
        aborted = aborts.get(set_id)
        if aborted is None:
            continue
        # A failed set keeps no replica, and gives back every pair it touched: a pair it
        # created is deleted, a split pair it resynced is split again (nothing else first),
        # unless the set had deleted the pair itself (compliant mode, after the commit).
        assert set_id in undone
        assert provider.replicas(uuid.UUID(set_id)) == []
        for command in commands:
            pair = str(command.details["pair"])
            if command.action == V.PAIRRESYNC and command.details["before"] != "PSUS":
                continue
            deleted_by_the_set = any(
                r.action == V.PAIRSPLIT_DELETE and r.details.get("pair") == pair
                for r in trace
                if command.seq < r.seq < aborted.seq
            )
            later = _commands_after(world, aborted.seq, pair)
            undo = V.PAIRSPLIT_DELETE if command.action == V.PAIRCREATE else V.PAIRSPLIT
            assert deleted_by_the_set or later[:1] == [undo], (set_id, pair, later)
    for split in trace.find(action=V.PAIRS_SPLIT):
        set_id = str(split.details["set_id"])
        if set_id not in aborts:
            _check_made(world, provider, set_id, split)


def _check_made(world: World, provider: XpProvider, set_id: str, split: TraceRecord) -> None:
    """A set made: in VSS compliant mode each of its pairs is deleted once split (a clone);
    in resync mode it stays split until a set (its own deletion, a later backup reusing the
    replica) resyncs it."""
    (owner,) = {
        r.actor
        for r in world.sim.trace.find(action=V.START_SNAPSHOT_SET)
        if r.details["set_id"] == set_id
    }
    (agent,) = [a for a, _ in world.agents if a.name == owner]
    mode = (agent.options.replica or provider.options).mode
    images = split.details["images"]
    assert isinstance(images, list)
    for image in images:
        assert isinstance(image, dict)
        pair = str(image["pair"])
        later = _commands_after(world, split.seq, pair)
        if mode is ReplicaMode.VSS_COMPLIANT:
            assert later[:1] == [V.PAIRSPLIT_DELETE], (pair, later)
        else:
            assert later[:1] in ([], [V.PAIRRESYNC]), (pair, later)
        _event(f"a {mode} set made")


@settings(CI, max_examples=120)
@given(scenarios(faults=False, array=True, max_agents=3, max_volumes=3), SEEDS)
def test_backups_on_an_array_keep_every_invariant_and_failed_sets_give_back_their_pairs(
    scenario: Scenario, seed: int
) -> None:
    world = _run_drawn(scenario, seed)
    assert len(world.results) == len(scenario.agents)
    assert {name: found for name, found in check_all(world).items() if found} == {}
    _check_array(world)
    for result in world.results:
        if result.succeeded:
            assert not world.verify(result), result.agent


@settings(CI, max_examples=80)
@given(scenarios(faults=True, array=True, max_agents=3, max_volumes=2), SEEDS)
def test_with_faults_too_a_failed_backup_leaves_nothing_held_marked_or_copying(
    scenario: Scenario, seed: int
) -> None:
    world = _run_drawn(scenario, seed)
    assert {name: found for name, found in check_all(world).items() if found} == {}
    _check_array(world)


def test_the_array_checks_catch_a_provider_that_does_not_undo_a_failed_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The checks above are not vacuous: a provider whose abort leaves the pairs as they are
    (a pair created for a set that failed stays behind) is caught."""
    scenario = _too_slow_to_sync()
    world = _run(scenario, 1)
    _check_array(world)  # the real provider deletes the pair it created
    monkeypatch.setattr(XpProvider, "undo", lambda self, replica: None)
    broken = _run(scenario, 1)
    assert broken.arrays[0].pairs, "the pair stayed"
    with pytest.raises(AssertionError, match="VSSGRP 01:10->01:20 MU0"):
        _check_array(broken)


def _too_slow_to_sync() -> Scenario:
    """D: on the array, 64 tracks written, each taking 200 ms to copy; a 1 s sync wait."""
    writer = WriterMetadata(
        writer_class_id=WRITER_ID,
        writer_instance_id=uuid.uuid5(WRITER_ID, "instance"),
        writer_name="Db",
        components=(Component("Data", files=(FileDescriptor("D:\\Db", "*"),)),),
    )
    options = AgentOptions(
        provider_id=XP_PROVIDER_ID,
        retry=RetryPolicy(retries=0),
        replica=ReplicaOptions(sync_wait_us=1 * SECOND),
    )
    return Scenario(
        volumes=(VolumeSpec("D:\\", "D:", ldev="01:10", replicas=("01:20",)),),
        files=(FileSpec("D:\\Db\\data.mdf", 64 * 64, 64 * 64),),
        writers=(writer,),
        agents=(AgentSpec("A", ("Db:Data",), options),),
        array=ArraySpec(track_copy_us=200 * MILLISECOND),
    )


def test_a_backup_still_copying_keeps_its_replica_while_another_backup_rotates() -> None:
    world = _run(_reused_while_copying(), 1)
    a, b = world.results
    assert a.outcome is Outcome.SUCCEEDED, a.message
    assert not world.verify(a)
    assert b.outcome in (Outcome.SUCCEEDED, Outcome.FAILED)
    refused = [x for x in b.attempts if x.hresult == HResult.VSS_E_PROVIDER_VETO]
    assert refused and "still uses" in refused[0].message  # B waited its turn


def _reused_while_copying() -> Scenario:
    """D: on the array with one replica LDEV (01:20). Agent A backs up two files of D: at
    1 MiB/s (its copy lasts about 2 s); agent B starts 100 ms later and backs up a third: its
    set waits for A's set lock, then, while A is still copying, takes the only replica LDEV."""
    writer = WriterMetadata(
        writer_class_id=WRITER_ID,
        writer_instance_id=uuid.uuid5(WRITER_ID, "instance"),
        writer_name="Db",
        components=(
            Component(
                "Big", files=(FileDescriptor("D:\\Db", "a.mdf"), FileDescriptor("D:\\Db", "b.mdf"))
            ),
            Component("Small", files=(FileDescriptor("D:\\Db", "c.mdf"),)),
        ),
    )
    slow = AgentOptions(
        provider_id=XP_PROVIDER_ID, retry=RetryPolicy(retries=0), copy_bytes_per_s=1024 * 1024
    )
    return Scenario(
        volumes=(VolumeSpec("D:\\", "D:", ldev="01:10", replicas=("01:20",)),),
        files=(
            FileSpec("D:\\Db\\a.mdf", 256, 256),
            FileSpec("D:\\Db\\b.mdf", 256, 256),
            FileSpec("D:\\Db\\c.mdf", 4, 4),
        ),
        writers=(writer,),
        agents=(
            AgentSpec("A", ("Db:Big",), slow),
            AgentSpec(
                "B",
                ("Db:Small",),
                attrs.evolve(slow, copy_bytes_per_s=400 * 1024 * 1024),
                100 * MILLISECOND,
            ),
        ),
        array=ArraySpec(),
    )
