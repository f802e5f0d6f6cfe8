"""The XP array model: every pair transition, legal and refused, and what the data does."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from vsssim.errors import ConfigurationError
from vsssim.sim import vocabulary as V
from vsssim.sim.choices import FifoChoices
from vsssim.sim.kernel import Simulation
from vsssim.vss.providers.xp import (
    PAIR_TRANSITIONS,
    Pair,
    PairCommand,
    PairCommandError,
    PairState,
    XpArray,
)

GIB = 1024**3
_C, _P = PairCommand, PairState


def _array(size: int = 16 * GIB) -> tuple[Simulation, XpArray, Pair]:
    sim = Simulation(FifoChoices())
    array = XpArray(sim)
    pvol, svol = array.add_ldev("01:20", size), array.add_ldev("01:30", size)
    for i in range(40):
        pvol.volume.write(i * 97, f"v{i}".encode(), "app")
    return sim, array, array.paircreate(pvol, svol, 0)


def _in(state: PairState) -> tuple[Simulation, XpArray, Pair]:
    """A pair brought to ``state`` by the array's own commands (its copy not yet run)."""
    sim, array, pair = _array()
    steps: dict[PairState, list[Callable[[XpArray, Pair], object]]] = {
        _P.COPY_PD: [],
        _P.PAIR: [lambda a, p: sim.run()],
        _P.COPY_SP: [lambda a, p: a.pairsplit(p)],
        _P.PSUS_SP: [lambda a, p: sim.run(), lambda a, p: a.pairsplit(p, quick=True)],
        _P.PSUS: [lambda a, p: sim.run(), lambda a, p: a.pairsplit(p), lambda a, p: sim.run()],
        _P.PSUE: [lambda a, p: a.suspend(p, "test")],
    }
    steps[_P.COPY_RS] = [*steps[_P.PSUS], lambda a, p: a.pairresync(p)]
    steps[_P.COPY_RS_R] = [
        *steps[_P.PSUS],
        lambda a, p: p.pvol.volume.write(3, b"x", "app"),
        lambda a, p: a.pairrestore(p),
    ]
    for step in steps[state]:
        step(array, pair)
    assert pair.state is state
    return sim, array, pair


_COMMANDS: dict[PairCommand, Callable[[XpArray, Pair], object]] = {
    _C.SPLIT: lambda a, p: a.pairsplit(p),
    _C.QUICK_SPLIT: lambda a, p: a.pairsplit(p, quick=True),
    _C.RESYNC: lambda a, p: a.pairresync(p),
    _C.RESTORE: lambda a, p: a.pairrestore(p),
    _C.DELETE: lambda a, p: a.pairdelete(p),
    _C.SUSPEND: lambda a, p: a.suspend(p, "test"),
}
_STATES = [s for s in PairState if s is not _P.SMPL]


@pytest.mark.parametrize("state", _STATES, ids=str)
@pytest.mark.parametrize("command", list(_COMMANDS), ids=str)
def test_every_command_in_every_state_moves_as_the_table_says_or_is_refused(
    state: PairState, command: PairCommand
) -> None:
    sim, array, pair = _in(state)
    target = PAIR_TRANSITIONS.get((state, command))
    if target is None:
        with pytest.raises(PairCommandError) as refused:
            _COMMANDS[command](array, pair)
        message = str(refused.value)
        assert pair.name in message and str(state) in message and str(command) in message
        assert pair.state is state and pair in array.pairs  # nothing changed
        return
    _COMMANDS[command](array, pair)
    assert pair.state is target
    if command is _C.DELETE:
        assert pair not in array.pairs
        return
    sim.run()
    done = PAIR_TRANSITIONS.get((target, _C.COPY_DONE))
    assert pair.state is (done if done is not None else target)


def test_create_is_the_only_command_of_a_simplex_volume_and_every_transition_is_tested() -> None:
    assert {c for (s, c) in PAIR_TRANSITIONS if s is _P.SMPL} == {_C.CREATE}
    tested = {(s, c) for s in _STATES for c in _COMMANDS} | {(_P.SMPL, _C.CREATE)}
    copy_done = {(s, c) for (s, c) in PAIR_TRANSITIONS if c is _C.COPY_DONE}
    assert set(PAIR_TRANSITIONS) <= tested | copy_done
    _, array, pair = _array()
    with pytest.raises(ConfigurationError, match="has a BC pair on MU0"):
        array.paircreate(pair.pvol, array.add_ldev("01:31", 16 * GIB), 0)
    with pytest.raises(ConfigurationError, match=r"out of range 0\.\.2"):
        array.paircreate(pair.pvol, array.add_ldev("01:32", 16 * GIB), 3)
    with pytest.raises(ConfigurationError, match="not the size of P-VOL"):
        array.paircreate(pair.pvol, array.add_ldev("01:33", 32 * GIB), 1)
    with pytest.raises(ConfigurationError, match="not CU:LDEV"):
        array.add_ldev("1:2A3", GIB)


def _copy_time(size: int, writes: int) -> int:
    sim = Simulation(FifoChoices())
    array = XpArray(sim)
    pvol, svol = array.add_ldev("00:01", size), array.add_ldev("00:02", size)
    for i in range(writes):
        pvol.volume.write(i * array.blocks_per_track, b"d", "app")  # one track each
    array.paircreate(pvol, svol, 0)
    sim.run()
    return sim.now


def test_copies_take_time_by_differing_tracks_not_volume_size() -> None:
    assert _copy_time(16 * GIB, 10) == _copy_time(16 * 1024 * GIB, 10) == 10 * 2000
    assert _copy_time(16 * GIB, 20) == 2 * _copy_time(16 * GIB, 10)
    sim, array, pair = _in(_P.PSUS)
    for block in (0, 1, 2):  # one track, three writes
        pair.pvol.volume.write(block, b"later", "app")
    pair.svol.volume.write(10 * array.blocks_per_track, b"svol", "backup server")
    assert len(pair.differing_tracks()) == 2
    started = sim.now
    array.pairresync(pair)
    sim.run()
    assert sim.now - started == 2 * array.track_copy_us
    assert pair.read_range(range(pair.svol.volume.block_count)) == pair.pvol.volume.content_at(
        len(sim.trace) - 1
    )


def test_the_svol_keeps_the_split_instant_and_a_restore_brings_it_back() -> None:
    sim, array, pair = _in(_P.PAIR)
    pvol = pair.pvol.volume
    pvol.write(5, b"before split", "app")
    array.pairsplit(pair, quick=True)
    at_split = pvol.content_at(pair.split_seq or 0)
    pvol.write(5, b"after split", "app")
    pvol.write(6, b"new block", "app")
    sim.run()
    assert pair.read_range(range(pvol.block_count)) == at_split
    array.pairrestore(pair)
    pvol.write(7, b"host write during restore", "app")  # held: the P-VOL is offline
    assert pvol.read(7) is None
    sim.run()
    assert pair.state is _P.PAIR
    restored = dict(at_split)
    restored[7] = b"host write during restore"
    assert pvol.content_at(len(sim.trace)) == restored


def test_an_interrupted_restore_says_the_old_pvol_data_is_lost() -> None:
    sim, array, pair = _in(_P.PSUS)
    pvol = pair.pvol.volume
    for i in range(10):
        pvol.write(i * array.blocks_per_track, b"newer", "app")
    array.pairrestore(pair)
    sim.run(until=sim.now + 5 * array.track_copy_us)
    array.suspend(pair, "drive failure")
    assert pair.state is _P.PSUE and not pvol.held
    (record,) = sim.trace.find(action=V.RESTORE_INTERRUPTED)
    assert record.details["copied_percent"] == 50  # 5 of the 10 differing tracks
    assert "is lost" in str(record.details["consequence"])
    restored = sum(1 for i in range(10) if pvol.read(i * array.blocks_per_track) != b"newer")
    assert restored == 5  # the first half went back; the rest keeps the newer data


def test_a_snapshot_keeps_its_instant_in_the_pool_and_is_lost_when_the_pool_overflows() -> None:
    sim = Simulation(FifoChoices())
    array = XpArray(sim)
    pvol, svol = array.add_ldev("02:00", 16 * GIB), array.add_ldev("02:01", 16 * GIB)
    pool = array.add_pool(1, 3 * 4096)
    for block in range(5):
        pvol.volume.write(block, b"old", "app")
    pair = array.paircreate(pvol, svol, 0, pool=pool)
    assert pair.state is _P.PAIR and pair.kind == "SS"
    array.pairsplit(pair, quick=True)
    sim.run()
    for block in range(3):
        pvol.volume.write(block, b"new", "app")
    assert pool.used_bytes == 3 * 4096 <= pool.capacity_bytes
    assert [pair.read(b) for b in range(5)] == [b"old"] * 5
    pvol.volume.write(3, b"new", "app")  # no room for block 3's old content
    assert pair.state is _P.PSUE and pair.invalid_reason == "pool 1 is full"
    assert pool.used_bytes == 0
    assert "PSUE" in array.render_pairdisplay()
