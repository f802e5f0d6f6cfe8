"""The fast paths of the trace, the choices and the probes give what the plain ones give.

Each fast path stands in for a simple definition (``json.dumps`` of a record, ``randrange`` on
the site's stream, a probe counting over the whole trace); these tests hold them to it.
"""

from __future__ import annotations

import enum
import hashlib
import json
import pickle
from collections.abc import Iterator
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vsssim.host.demo import build_demo_world
from vsssim.host.world import World
from vsssim.sim.choices import RecordingChoices, SeededChoices, splitmix64
from vsssim.sim.trace import Json, Trace, TraceRecord
from vsssim.testing.draw import draw_scenario
from vsssim.testing.fuzz.one_run import run_seed, run_world
from vsssim.testing.fuzz.writer_loading import load_writer
from vsssim.testing.probes import PROBES, probe_counts
from vsssim.vss.namespace import _folders_of
from vsssim.vss.volumes import keeping_history
from vsssim.vss.workload import Workload
from vsssim.vss.writers.handling import EventContext

_text = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x2FFF), max_size=8)
_json = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70) | _text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
    max_leaves=8,
)


def _plain_json(record: TraceRecord) -> str:
    return json.dumps(record.to_dict(), sort_keys=True, separators=(",", ":"))


class Phase(enum.IntEnum):
    TWO = 2


@settings(max_examples=80, deadline=None)
@given(
    seq=st.integers(min_value=0, max_value=10**9),
    time_us=st.integers(min_value=0, max_value=10**15),
    phase=st.none() | st.integers(min_value=1, max_value=7),
    actor=_text,
    action=_text,
    details=st.dictionaries(_text, _json, max_size=4),
)
def test_a_record_writes_what_json_dumps_writes(
    seq: int, time_us: int, phase: int | None, actor: str, action: str, details: dict[str, object]
) -> None:
    record = TraceRecord(seq, time_us, phase, actor, action, details)  # type: ignore[arg-type]
    assert record.to_json() == _plain_json(record)
    assert json.loads(record.to_json()) == record.to_dict()


def test_a_whole_trace_writes_what_json_dumps_writes() -> None:
    world = build_demo_world(4)
    world.run()
    trace = world.sim.trace
    assert trace.to_jsonl() == "".join(_plain_json(r) + "\n" for r in trace)


def test_a_record_is_an_immutable_value() -> None:
    trace = Trace()
    record = trace.record(2, "agent", "call", volume="C:\\", count=3)
    assert (record.seq, record.time_us, record.phase, record.actor, record.action) == (
        0,
        0,
        2,
        "agent",
        "call",
    )
    assert record.details == {"volume": "C:\\", "count": 3}
    twin = TraceRecord(0, 0, 2, "agent", "call", {"volume": "C:\\", "count": 3})
    assert record == twin and hash(record) == hash(twin)
    assert record != TraceRecord(0, 0, 2, "agent", "call", {"volume": "D:\\", "count": 3})
    assert pickle.loads(pickle.dumps(record)) == record
    assert TraceRecord(1, 2, None, "a", "b").details == {}
    with pytest.raises(AttributeError):
        record.seq = 5


class _SiteStream:
    """The stream a site draws from, as SeededChoices documents it: SplitMix64 (written out
    here from its published constants) started from an 8-byte BLAKE2b of "seed/site"."""

    def __init__(self, seed: int, site: str) -> None:
        digest = hashlib.blake2b(f"{seed}/{site}".encode(), digest_size=8).digest()
        self.state = int.from_bytes(digest, "big")

    def randrange(self, n: int) -> int:
        mask = (1 << 64) - 1
        self.state = (self.state + 0x9E3779B97F4A7C15) & mask
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
        return (z ^ (z >> 31)) % n


def _site_stream(seed: int, site: str) -> _SiteStream:
    return _SiteStream(seed, site)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=2**64),
    draws=st.lists(
        st.tuples(
            st.sampled_from(["a", "b", "schedule"]), st.integers(min_value=1, max_value=2**70)
        ),
        max_size=30,
    ),
)
def test_seeded_draws_are_the_next_number_of_the_sites_stream_modulo_n(
    seed: int, draws: list[tuple[str, int]]
) -> None:
    plain = SeededChoices(seed)
    recording = RecordingChoices(SeededChoices(seed))
    streams: dict[str, _SiteStream] = {}
    for site, n in draws:
        stream = streams.setdefault(site, _site_stream(seed, site))
        expected = stream.randrange(n) if n > 1 else 0
        assert plain.choose(site, n) == expected
    for site, n in draws:
        recording.choose(site, n)
    assert recording.recorded == [
        v for (site, n), v in zip(draws, _replayed(seed, draws), strict=True) if n > 1
    ]


def _replayed(seed: int, draws: list[tuple[str, int]]) -> list[int]:
    streams: dict[str, _SiteStream] = {}
    return [
        streams.setdefault(site, _site_stream(seed, site)).randrange(n) if n > 1 else 0
        for site, n in draws
    ]


def test_probes_counted_together_match_each_counted_alone() -> None:
    for index in range(6):
        recorder = RecordingChoices(SeededChoices(run_seed(5, index)))
        scenario = draw_scenario(recorder, misbehaviour=True)
        world, _ = run_world(scenario, recorder, load_writer(None))
        together = probe_counts(world)
        assert together == {probe.name: probe.count(world) for probe in PROBES}


@pytest.mark.parametrize("count", [1, 3])
def test_a_workloads_writes_are_the_draws_of_its_splitmix64_stream(count: int) -> None:
    # Workload._fire writes SplitMix64 out inline: file, block, next interval per write (with
    # one file the file's draw is a step of the stream whose value is not needed).
    world = World.create(3)
    with keeping_history():  # the volume keeps every write, to compare with the stream
        world.add_volume("D:\\", "D:", 10 * 1024**3)
    paths = ["D:\\a.dat", "D:\\b.dat", "D:\\c.dat"][:count]
    for blocks, path in zip((7, 50, 300), paths, strict=False):
        world.add_file(path, blocks)
    low, high = 1_000, 9_000
    world.add_workload(Workload("app", paths, interval_us=(low, high)))
    world.run_workloads(2_000_000)
    [volume] = world.namespace.volumes
    files = [world.namespace.file(path) for path in paths]
    state = SeededChoices(3).choose("workload/app/seed", 2**32)
    state, value = splitmix64(state)
    when = low + value % (high - low + 1)
    expected = []
    for issue in range(1, len(volume.history) + 1):
        state, value = splitmix64(state)
        file = files[value % len(files)]
        state, value = splitmix64(state)
        expected.append((when, file.first_block + value % file.block_count, issue))
        state, value = splitmix64(state)
        when += low + value % (high - low + 1)
    assert len(expected) > 100
    assert [(w.time_us, w.block, w.issue) for w in volume.history] == expected


def test_a_trace_digest_is_the_same_however_often_it_was_taken() -> None:
    taken: list[str] = []
    worlds = []
    for digests in (taken, None):  # the same run: digests taken along it, or not
        world = build_demo_world(4)
        world.sim.trace.batch_writes = True
        world.sim.process(_digests(world, digests), "digests")
        [result] = world.run()
        assert result.succeeded
        worlds.append(world)
    first, second = worlds
    assert first.sim.trace.to_jsonl() == second.sim.trace.to_jsonl()
    assert len(set(taken)) > 10  # mid-run digests, pending batches included, all different
    assert first.sim.trace.digest() == second.sim.trace.digest() == first.sim.trace.digest()
    assert taken[-1] != first.sim.trace.digest()


def _digests(world: World, taken: list[str] | None) -> Iterator[Any]:
    for _ in range(40):
        yield world.sim.timeout(50_000)
        if taken is not None:
            taken.append(world.sim.trace.digest())


def test_a_trace_digest_tells_records_apart_and_takes_what_marshal_cannot_write() -> None:
    def digest(*details: dict[str, Json]) -> str:
        trace = Trace()
        for n, detail in enumerate(details):
            trace.record_plain(n, "VSS", "event", detail)
        return trace.digest()

    assert digest({"a": 1}) == digest({"a": 1}) != digest({"a": 2}) != digest({"a": "2"})
    assert digest({"a": 1}, {}) != digest({"a": 1}) != digest({"a": True})
    odd: Any = Phase.TWO  # an IntEnum: marshal refuses it, the record's JSON line stands in
    assert digest({"a": odd}, {"b": 1}) == digest({"a": odd}, {"b": 1}) != digest({"a": 2})


def test_a_context_with_its_abandoned_check_is_what_attrs_evolve_makes() -> None:
    fields = attrs.fields(EventContext)
    # Every field a value of its own (no checks on types here): a field abandoned_when()
    # forgot would come out as its default.
    values: dict[str, Any] = {a.name: object() for a in fields}
    ctx = EventContext(**values)

    def check() -> bool:
        return False

    made = ctx.abandoned_when(check)
    evolved = attrs.evolve(ctx, abandoned=check)
    assert made.abandoned is check is evolved.abandoned
    assert all(getattr(made, a.name) is getattr(evolved, a.name) for a in fields)
    assert all(getattr(made, n) is v for n, v in values.items() if n != "abandoned")


def _folders_plainly(key: str) -> list[str]:
    """What namespace._folders_of gives, character by character."""
    return [
        key[:end]
        for end in range(len(key), -1, -1)
        if end == len(key) or key[end] == "\\" or key[end - 1 : end] == "\\"
    ]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="a:\\", max_size=12))
def test_the_folders_of_a_path_are_its_prefixes_at_backslashes(key: str) -> None:
    assert list(_folders_of(key)) == _folders_plainly(key)
    assert list(_folders_of("D:\\DATA\\SALES.MDF")) == _folders_plainly("D:\\DATA\\SALES.MDF")
