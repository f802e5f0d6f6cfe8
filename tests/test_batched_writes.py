"""A trace that batches the applications' writes (fuzzing and exploring run so): one ``writes``
record per volume and application between two other records, the same run underneath, the
same verdicts of every invariant and probe as a trace that records every write."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from vsssim import Writer
from vsssim.host.demo import build_demo_world
from vsssim.host.world import World
from vsssim.sim import vocabulary as V
from vsssim.sim.choices import RecordingChoices, SeededChoices
from vsssim.sim.trace import Trace, writes_in
from vsssim.testing.draw import draw_scenario
from vsssim.testing.fuzz.one_run import run_world
from vsssim.testing.invariants import check_all
from vsssim.testing.probes import probe_counts
from vsssim.vss.volumes import keeping_history


def _both(seed: int) -> tuple[World, World]:
    """The fuzzed run of ``seed`` twice: its writes batched, and every write recorded."""
    worlds = []
    for batched in (True, False):
        choices = RecordingChoices(SeededChoices(seed))
        scenario = draw_scenario(choices, misbehaviour=True)

        def mode(world: World, batched: bool = batched) -> None:
            world.sim.trace.batch_writes = batched

        with keeping_history():  # _history reads every write
            world, _ = run_world(scenario, choices, Writer, on_built=mode)
        worlds.append(world)
    return worlds[0], worlds[1]


def _history(world: World) -> list[tuple[str, int, int, bytes | None, str, int]]:
    """Every volume's writes, without their sequence numbers (what the two modes share)."""
    return [
        (volume.label, w.time_us, w.block, w.data, w.origin, w.issue)
        for volume in world.namespace.volumes
        for w in volume.history
    ]


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32))
def test_batched_and_every_write_traces_give_the_same_verdicts(seed: int) -> None:
    batched, every = _both(seed)
    assert _history(batched) == _history(every)  # the same run underneath
    found_batched, found_every = check_all(batched), check_all(every)
    assert {n for n, v in found_batched.items() if v} == {n for n, v in found_every.items() if v}
    assert probe_counts(batched) == probe_counts(every)
    assert [r.outcome for r in batched.results] == [r.outcome for r in every.results]
    counted = sum(writes_in(r) for r in batched.sim.trace if r.action in (V.WRITE, V.WRITES))
    assert counted == len(every.sim.trace.find(action=V.WRITE))
    assert not batched.sim.trace.find(action=V.WRITE) or any(
        r.details.get("origin") != "users" and not r.details.get("origin", "").startswith("app-")
        for r in batched.sim.trace.find(action=V.WRITE)
    )  # a write of its own is no application's (a writer's, a restore's, a held one landing)


def test_a_batch_record_counts_the_writes_since_the_record_before() -> None:
    world = build_demo_world(2)
    world.sim.trace.batch_writes = True
    world.run()
    trace = world.sim.trace
    batches = trace.find(action=V.WRITES)
    assert batches and len(trace) < 700  # every write recorded: about 2,100 records
    for batch in batches:
        details = batch.details
        assert details["writes"] >= 1 and details["first_issue"] <= details["last_issue"]
        assert details["since_us"] <= details["until_us"] <= batch.time_us
    seqs = [r.seq for r in trace]
    assert seqs == list(range(len(trace)))
    times = [r.time_us for r in trace]
    assert times == sorted(times)  # a batch stands where its last write was, in time order
    assert not any(check_all(world).values())
    again = build_demo_world(2)
    again.sim.trace.batch_writes = True
    again.run()
    assert again.sim.trace.to_jsonl() == trace.to_jsonl()  # same seed, same bytes


def test_readers_see_the_batches_as_they_stand_and_reading_changes_nothing() -> None:
    trace = Trace(batch_writes=True)
    assert trace.batched("X:", V.WRITES, "app", 1) == 0
    assert trace.batched("X:", V.WRITES, "app", 2) == 0
    assert trace.batched("Y:", V.WRITES, "app", 3) == 0
    [first, second] = trace.records
    assert (first.actor, first.details["writes"], first.details["last_issue"]) == ("X:", 2, 2)
    assert (second.seq, second.actor, second.details["writes"]) == (1, "Y:", 1)
    assert len(trace) == 2 and trace.final_records == []
    assert trace.batched("X:", V.WRITES, "app", 4) == 0  # the same batch: nothing came between
    record = trace.record(None, "VSS", V.HOLD_WRITES, volumes=["X:"])
    assert record.seq == 2 and trace.records[0].details["writes"] == 3
    assert [r.seq for r in trace.final_records] == [0, 1, 2]
    assert trace.batched("X:", V.WRITES, "app", 5) == 3  # a new batch after the record
