"""The XP array against HP's documented tables: the status names RAID Manager's ``pairdisplay``
prints, the Business Copy commands each pair status accepts, and the pair a resync-mode backup
leaves behind."""

from __future__ import annotations

import pytest

from tests.test_xp_array import _in
from tests.test_xp_provider import _backup, _no_violation, _options, _states, _world
from vsssim.sim import vocabulary as V
from vsssim.vss.providers.xp import (
    PAIR_TRANSITIONS,
    PairCommand,
    PairCommandError,
    PairState,
    ReplicaOptions,
)

_C, _P = PairCommand, PairState

#: HP XP7 Business Copy User Guide, "RAID Manager pair status names": the status RAID Manager
#: prints for each Remote Web Console status, (P-VOL, S-VOL).
_RAID_MANAGER_NAMES = {
    _P.COPY_PD: ("COPY", "COPY"),
    _P.PAIR: ("PAIR", "PAIR"),
    _P.COPY_SP: ("COPY", "COPY"),
    _P.PSUS_SP: ("PSUS", "PSUS"),
    _P.PSUS: ("PSUS", "SSUS"),
    _P.COPY_RS: ("COPY", "COPY"),
    _P.COPY_RS_R: ("RCPY", "RCPY"),
    _P.PSUE: ("PSUE", "PSUE"),
}

#: HP XP7 Business Copy User Guide, "Pair status and supported pair user tasks": for each
#: status, whether it takes a split, a resync (normal copy), a resync (reverse copy), a delete.
_USER_TASKS = {
    _P.COPY_PD: (True, False, False, True),
    _P.PAIR: (True, False, False, True),
    _P.COPY_SP: (False, False, False, True),
    _P.PSUS_SP: (False, True, False, False),
    _P.PSUS: (False, True, True, True),
    _P.COPY_RS: (False, False, False, True),
    _P.COPY_RS_R: (False, False, False, True),
    _P.PSUE: (False, True, False, True),
}


@pytest.mark.parametrize("state", list(_RAID_MANAGER_NAMES), ids=str)
def test_pairdisplay_prints_raid_manager_status_names_with_the_finer_state_as_detail(
    state: PairState,
) -> None:
    """HP XP7 Business Copy User Guide, "RAID Manager pair status names" (and table 4 of the
    HP XP24000/XP20000 Snapshot User Guide: the same names for Snapshot pairs)."""
    _, array, _ = _in(state)
    [line] = array.pairdisplay()
    assert (line.status, line.svol_status) == _RAID_MANAGER_NAMES[state]
    assert line.state is state
    header, row = array.render_pairdisplay().splitlines()
    assert header.split()[5:] == ["Status", "S-Status", "%", "Detail"]
    assert row.split()[5:7] == list(_RAID_MANAGER_NAMES[state])
    assert row.split()[-1] == str(state)


def test_the_commands_each_status_accepts_follow_the_business_copy_table() -> None:
    """HP XP7 Business Copy User Guide, "Pair status and supported pair user tasks": a quick
    split still copying (PSUS(SP)) takes a resync but no split, reverse resync or delete; a
    resync under way (COPY(RS)) takes no split; every status but PSUE takes a suspend."""
    for state, (split, resync, restore, delete) in _USER_TASKS.items():
        accepted = {c for (s, c) in PAIR_TRANSITIONS if s is state}
        assert (_C.SPLIT in accepted or _C.QUICK_SPLIT in accepted) is split, state
        assert (_C.RESYNC in accepted) is resync, state
        assert (_C.RESTORE in accepted) is restore, state
        assert (_C.DELETE in accepted) is delete, state
        assert (_C.SUSPEND in accepted) is (state is not _P.PSUE), state


def test_a_quick_split_still_copying_is_resynced_and_a_running_resync_refuses_a_split() -> None:
    """HP XP7 Business Copy User Guide, "Pair status and supported pair user tasks" (PSUS(SP)
    and COPY(RS) rows); a refused command changes nothing."""
    sim, array, pair = _in(_P.PSUS_SP)
    pair.pvol.volume.write(5, b"after the split", "app")
    array.pairresync(pair)
    assert pair.state is _P.COPY_RS
    with pytest.raises(PairCommandError, match=r"COPY\(RS\): pairsplit is not accepted"):
        array.pairsplit(pair)
    assert pair.state is _P.COPY_RS
    sim.run()
    assert pair.state is _P.PAIR
    assert pair.svol.volume.read(5) == b"after the split"
    for refused in (_C.DELETE, _C.RESTORE, _C.SPLIT):
        _, other, quick = _in(_P.PSUS_SP)
        command = {
            _C.DELETE: other.pairdelete,
            _C.RESTORE: other.pairrestore,
            _C.SPLIT: other.pairsplit,
        }[refused]
        with pytest.raises(PairCommandError, match=rf"PSUS\(SP\): {refused} is not accepted"):
            command(quick)
        assert quick.state is _P.PSUS_SP and quick in other.pairs


def test_in_resync_mode_a_replica_not_kept_stays_split_until_the_next_backup() -> None:
    """HP Data Protector A.06.00 VSS integration guide, "Backup with the Disk Array XP VSS and
    VDS hardware provider" (and the Application Recovery Manager Administrator's Guide, "Backup
    with the XP VSS Hardware Provider"): in resync mode the P-VOL and its replica are in a
    suspended mirror relationship after the backup; the next backup resyncs the replica."""
    replica = ReplicaOptions()  # resync mode, one replica, not kept
    world = _world(replica)
    first = _backup(world, "first", _options(replica))
    assert first.succeeded
    assert set(_states(world).values()) == {PairState.PSUS}
    trace = world.sim.trace
    assert not list(trace.find(action=V.PAIRRESYNC))
    after = [r for r in trace.find(action=V.PAIRDISPLAY) if r.details["when"] == "after"]
    assert {(r.details["status"], r.details["svol_status"]) for r in after} == {("PSUS", "SSUS")}
    assert {r.details["detail"] for r in after} == {"PSUS"}
    second = _backup(world, "second", _options(replica))
    assert second.succeeded and world.verify(second) == []
    resyncs = list(trace.find(action=V.PAIRRESYNC))
    assert len(resyncs) == 2 and {r.details["before"] for r in resyncs} == {"PSUS"}
    assert set(_states(world).values()) == {PairState.PSUS}
    _no_violation(world)
