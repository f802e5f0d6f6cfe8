"""Volumes keep bounded state, not every write (issue 18 item 5): the same answers, verdicts and
outcomes as a full history of every write (:func:`~vsssim.vss.volumes.keeping_history`), on
fuzzed runs with misbehaviour and on random write sequences."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from vsssim import Writer
from vsssim.errors import ImageNotKept
from vsssim.host.world import World
from vsssim.sim.choices import RecordingChoices, SeededChoices
from vsssim.sim.kernel import Simulation
from vsssim.sim.trace import Trace
from vsssim.testing.draw import draw_scenario
from vsssim.testing.fuzz.one_run import run_seed, run_world
from vsssim.testing.invariants import check_all
from vsssim.testing.probes import probe_counts
from vsssim.vss.volumes import Volume, keeping_history


def _run(seed: int, full: bool) -> tuple[World, bool]:
    """The fuzzed run of ``seed`` (misbehaviour on), its volumes keeping every write or not."""
    choices = RecordingChoices(SeededChoices(seed))
    scenario = draw_scenario(choices, misbehaviour=True)
    if not full:
        return run_world(scenario, choices, Writer)
    with keeping_history():
        return run_world(scenario, choices, Writer)


def _marks(volume: Volume) -> list[int]:
    """The instants the volume kept images of (what its readers registered)."""
    return [image.seq for image in volume._images.images]


def _kept_answers_match_the_history(world: World) -> None:
    """Every bounded answer a full-history volume can give equals the answer from history."""
    for volume in world.namespace.volumes:
        assert volume.keep_history
        assert volume.kept_issue_runs() == volume.applied_issue_runs()
        marks = _marks(volume)
        end = len(world.sim.trace)
        for seq in [*marks, end]:
            assert volume.kept_content_at(seq) == volume.content_at(seq), (volume.label, seq)
            whole = range(volume.block_count)
            assert volume.kept_last_written_us(whole, seq) == volume.last_written_us(whole, seq)
        for after, upto in zip(marks, [*marks[1:], None], strict=False):
            kept = volume.kept_written_between(after, upto)
            assert kept == volume.written_between(after, upto), (volume.label, after, upto)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**32))
def test_bounded_volumes_give_the_verdicts_and_outcomes_of_a_full_history(seed: int) -> None:
    bounded, settled = _run(seed, full=False)
    full, settled_full = _run(seed, full=True)
    assert settled == settled_full
    assert bounded.crash == full.crash
    assert bounded.sim.trace.to_jsonl() == full.sim.trace.to_jsonl()  # the same run
    assert check_all(bounded) == check_all(full)  # every violation, message and records
    assert probe_counts(bounded) == probe_counts(full)
    assert [r.outcome for r in bounded.results] == [r.outcome for r in full.results]
    assert [r.result for r in bounded.restores] == [r.result for r in full.restores]
    assert all(not v.history for v in bounded.namespace.volumes)  # nothing kept per write
    _kept_answers_match_the_history(full)


def test_caught_misbehaviour_reads_the_same_from_bounded_volumes() -> None:
    """Runs of fuzz campaign 7 whose planted writer bugs were caught (violations to compare,
    which a random seed rarely gives): the same violations, bounded or with every write."""
    for index in (42, 83, 95, 114, 118, 154):
        seed = run_seed(7, index)
        bounded, full = _run(seed, full=False)[0], _run(seed, full=True)[0]
        found = check_all(bounded)
        assert any(found.values()), index  # the campaign's catch: something to compare
        assert found == check_all(full), index
        _kept_answers_match_the_history(full)


_ops = st.lists(
    st.one_of(
        st.tuples(st.just("write"), st.integers(0, 15), st.binary(min_size=0, max_size=2)),
        st.tuples(st.just("mark"), st.just(0), st.just(b"")),
        st.tuples(st.just("mark now"), st.just(0), st.just(b"")),
        st.tuples(st.just("hold"), st.just(0), st.just(b"")),
        st.tuples(st.just("release"), st.just(0), st.just(b"")),
        st.tuples(st.just("empty"), st.integers(0, 15), st.just(b"")),
    ),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(_ops, st.booleans())
def test_a_volume_answers_for_its_marked_instants_as_its_history_does(
    ops: list[tuple[str, int, bytes]], batched: bool
) -> None:
    """``mark now`` marks the last record, which in a batched trace may be a batch still
    counting: the writes it counts on after the mark are part of the marked image."""
    sim = Simulation(trace=Trace(batch_writes=batched))
    volume = Volume(sim, "V", 16 * 4096, keep_history=True)
    for op, block, data in ops:
        sim.timeout(10)
        sim.run()
        if op == "write":
            volume.write(block, data, "prop", batch=bool(block % 2))
        elif op == "mark":
            sim.trace.record(None, "reader", "mark")
            volume.keep_image(len(sim.trace) - 1)
        elif op == "mark now" and len(sim.trace):
            volume.keep_image(len(sim.trace) - 1)
        elif op == "hold" and not volume.held:
            volume.hold("prop")
        elif op == "release":
            volume.release()
        elif op == "empty":
            volume.replace({block: None}, "array")
    marks = set(_marks(volume))
    for seq in range(-1, len(sim.trace) + 1):
        try:
            kept = volume.kept_content_at(seq)
        except ImageNotKept:
            assert seq not in marks
            continue
        assert kept == volume.content_at(seq), seq
        assert volume.kept_last_written_us(range(16), seq) == volume.last_written_us(range(16), seq)
    ordered = sorted(marks)
    for after, upto in zip(ordered, [*ordered[1:], None], strict=False):
        assert volume.kept_written_between(after, upto) == volume.written_between(after, upto)
    assert volume.kept_issue_runs() == volume.applied_issue_runs()


def test_an_instant_marked_after_a_later_write_is_refused() -> None:
    sim = Simulation()
    volume = Volume(sim, "V", 16 * 4096)
    volume.write(0, b"a", "t")
    sim.trace.record(None, "reader", "mark")
    volume.write(0, b"b", "t")
    try:
        volume.keep_image(1)
    except ImageNotKept:
        pass
    else:
        raise AssertionError("a mark after the fact must be refused")
    assert volume.content_at(len(sim.trace)) == {0: b"b"}  # now: always known
    assert volume.content_at(-1) == {}  # before the first write: always known
    try:
        volume.content_at(0)
    except ImageNotKept:
        pass
    else:
        raise AssertionError("an instant nobody marked is not kept")


def test_lost_doubled_and_reordered_writes_read_as_from_a_full_history() -> None:
    from vsssim.vss.volume_images import issue_problems

    def from_list(issues: list[int], issued: int) -> list[str] | None:
        runs: list[tuple[int, int]] = []
        for i in issues:
            if runs and runs[-1][1] == i:
                runs[-1] = (runs[-1][0], i + 1)
            else:
                runs.append((i, i + 1))
        return issue_problems(runs, issued)

    assert from_list([1, 2, 3], 3) is None and from_list([], 0) is None
    assert from_list([1, 3], 3) == ["1 lost (first issue #2)"]
    assert from_list([1, 2, 2, 3], 3) == ["1 applied twice"]
    assert from_list([2, 1, 3], 3) == ["applied out of issue order"]
    assert from_list([1, 3, 3], 4) == ["2 lost (first issue #2)", "1 applied twice"]
