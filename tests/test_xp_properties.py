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

from hypothesis import event, given, note, settings
from hypothesis import strategies as st

from vsssim import SECOND, World
from vsssim.invariants import check_all
from vsssim.providers.xp.pairs import COPYING, PairState
from vsssim.providers.xp.provider import ReplicaMode, XpProvider
from vsssim.scenario import Scenario
from vsssim.strategies import describe, scenarios
from vsssim.trace import TraceRecord

SETTLE_US = 3600 * SECOND
#: Deterministic CI: the same examples on every run, nothing read from or written to a database.
CI = settings(derandomize=True, database=None, deadline=None)
SEEDS = st.integers(0, 2**16)
#: What the array does to a pair by itself, not a command anyone sent.
_ARRAY_MOVES = ("copy done", "image taken", "suspend")
#: The commands the array records, by their RAID Manager names.
_COMMANDS = (
    "paircreate",
    "pairsplit",
    "pairsplit -fq quick",
    "pairresync",
    "pairresync -restore",
    "pairsplit -S",
)


def _run(scenario: Scenario, seed: int) -> World:
    note(describe(scenario))
    world = scenario.build(seed)
    world.run()
    assert world.finished, "an agent has no result"
    assert world.heal_and_settle(SETTLE_US), f"no rest: {world.token()}"
    _events(world)
    return world


def _events(world: World) -> None:
    """What the run went through (``--hypothesis-show-statistics`` counts them)."""
    trace = world.sim.trace
    for result in world.results:
        event(f"outcome: {result.outcome.value} ({result.hresult.name})")
    if any(
        "did not synchronise" in str(r.details.get("reason")) for r in trace.find(action="abort")
    ):
        event("a set aborted: mirrors slower than the sync wait")
    for action in (
        "pairs split",
        "pairsplit -S",
        "pairresync",
        "replica lost",
        "provider fallback",
    ):
        if any(True for _ in trace.find(action=action)):
            event(f"trace has {action}")
    if any(True for _ in trace.find(action="AbortSnapshots")):
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
    ``pairdisplay`` may come between)."""
    records = list(world.sim.trace)
    set_of = {
        r.details["snapshot_id"]: str(r.details["set_id"])
        for r in records
        if r.action == "AddToSnapshotSet"
    }
    found: dict[str, list[TraceRecord]] = {}
    for index, record in enumerate(records):
        if record.action != "BeginPrepareSnapshot" or record.actor != provider.name:
            continue
        following = (r for r in records[index + 1 :] if r.action != "pairdisplay")
        command = next(following, None)
        if command is not None and command.action in ("paircreate", "pairresync"):
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
    aborts = {str(r.details["set_id"]): r for r in trace.find(action="abort", actor="VSS")}
    undone = {str(r.details["set_id"]) for r in trace.find(action="AbortSnapshots")}
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
            if command.action == "pairresync" and command.details["before"] != "PSUS":
                continue
            deleted_by_the_set = any(
                r.action == "pairsplit -S" and r.details.get("pair") == pair
                for r in trace
                if command.seq < r.seq < aborted.seq
            )
            later = _commands_after(world, aborted.seq, pair)
            undo = "pairsplit -S" if command.action == "paircreate" else "pairsplit"
            assert deleted_by_the_set or later[:1] == [undo], (set_id, pair, later)
    for split in trace.find(action="pairs split"):
        set_id = str(split.details["set_id"])
        if set_id not in aborts:
            _check_made(world, provider, set_id, split)


def _check_made(world: World, provider: XpProvider, set_id: str, split: TraceRecord) -> None:
    """A set made: in VSS compliant mode each of its pairs is deleted once split (a clone);
    in resync mode it stays split until a set resyncs it."""
    replicas = provider.replicas(uuid.UUID(set_id))
    images = split.details["images"]
    assert isinstance(images, list)
    for image in images:
        assert isinstance(image, dict)
        pair = str(image["pair"])
        mode = next((r.mode for r in replicas if r.svol.volume.label == image["svol"]), None)
        later = _commands_after(world, split.seq, pair)
        if mode is ReplicaMode.VSS_COMPLIANT:
            assert later[:1] == ["pairsplit -S"], (pair, later)
        elif mode is ReplicaMode.RESYNC:
            assert later[:1] in ([], ["pairresync"]), (pair, later)


@settings(CI, max_examples=120)
@given(scenarios(faults=False, array=True, max_agents=3, max_volumes=3), SEEDS)
def test_backups_on_an_array_keep_every_invariant_and_failed_sets_give_back_their_pairs(
    scenario: Scenario, seed: int
) -> None:
    world = _run(scenario, seed)
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
    world = _run(scenario, seed)
    assert {name: found for name, found in check_all(world).items() if found} == {}
    _check_array(world)
