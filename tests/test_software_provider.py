"""The software (copy-on-write) provider: point-in-time reads and its diff area."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Generator, Iterable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vsssim.errors import HResult, VssError
from vsssim.sim import vocabulary as V
from vsssim.sim.kernel import Event, ProcessGenerator, Simulation
from vsssim.vss.constants import SnapshotAttr, SnapshotState
from vsssim.vss.providers import ShadowCopy, SoftwareProvider
from vsssim.vss.volumes import Volume

BLOCK = 4096
_ids = itertools.count(1)


def make_volume(sim: Simulation, blocks: int = 64, label: str = "D", fs: str = "NTFS") -> Volume:
    return Volume(sim, label, blocks * BLOCK, file_system=fs)


def new_copy(provider: SoftwareProvider, volume: Volume, set_id: uuid.UUID) -> ShadowCopy:
    return ShadowCopy(
        snapshot_id=uuid.UUID(int=next(_ids)),
        set_id=set_id,
        volume=volume,
        provider=provider,
        attributes=SnapshotAttr(0),
        device_object=f"\\\\?\\GLOBALROOT\\Device\\HarddiskVolumeShadowCopy{next(_ids)}",
    )


def run_call(sim: Simulation, call: ProcessGenerator, name: str) -> Any:
    """Run one provider call as a process until it returns (raising what it raises)."""
    return sim.run(until=sim.process(call, name))


def create_set(
    sim: Simulation, provider: SoftwareProvider, volumes: Iterable[Volume]
) -> list[ShadowCopy]:
    """Drive one snapshot set through every provider call, one call at a time."""
    set_id = uuid.UUID(int=next(_ids))
    copies = [new_copy(provider, volume, set_id) for volume in volumes]
    for copy in copies:
        run_call(sim, provider.begin_prepare_snapshot(copy), "BeginPrepareSnapshot")
        assert copy.state == SnapshotState.PREPARED
    run_call(sim, provider.end_prepare_snapshots(set_id), "EndPrepareSnapshots")
    run_call(sim, provider.pre_commit_snapshots(set_id), "PreCommitSnapshots")
    assert all(c.state == SnapshotState.PRECOMMITTED for c in copies)
    run_call(sim, provider.commit_snapshots(set_id), "CommitSnapshots")
    assert all(c.state == SnapshotState.COMMITTED for c in copies)
    run_call(sim, provider.post_commit_snapshots(set_id), "PostCommitSnapshots")
    assert all(c.state == SnapshotState.CREATED and c.usable for c in copies)
    return copies


def create_one(sim: Simulation, provider: SoftwareProvider, volume: Volume) -> ShadowCopy:
    (copy,) = create_set(sim, provider, [volume])
    return copy


def live_content(volume: Volume) -> dict[int, bytes]:
    return {
        b: d
        for b in volume.written_blocks(range(volume.block_count))
        if (d := volume.read(b)) is not None
    }


# -- point-in-time reads ---------------------------------------------------------------------


def test_shadow_copy_reads_the_commit_instant_content() -> None:
    sim = Simulation()
    volume = make_volume(sim)
    provider = SoftwareProvider(sim)
    volume.write(0, b"a0", "app")
    volume.write(1, b"b0", "app")
    volume.write(5, b"c0", "app")
    at_commit = live_content(volume)
    commit_seq = len(sim.trace) - 1
    volume.keep_image(commit_seq)  # read below (the coordinator marks its commits so)

    copy = create_one(sim, provider, volume)
    volume.write(0, b"a1", "app")
    volume.write(0, b"a2", "app")  # a second overwrite: the first preserved content stays
    volume.write(7, b"new", "app")  # unwritten at commit
    volume.write(5, b"c1", "app")

    assert volume.read(0) == b"a2" and volume.read(7) == b"new"
    assert copy.read(0) == b"a0"
    assert copy.read(1) == b"b0"  # never overwritten: read from the live volume
    assert copy.read(5) == b"c0"
    assert copy.read(7) is None  # unwritten at commit, even though written since
    assert copy.read(63) is None
    assert copy.read_range(range(64)) == at_commit == volume.content_at(commit_seq)
    assert copy.read_range(range(1, 6)) == {1: b"b0", 5: b"c0"}
    assert copy.read_range(range(6, 8)) == {}


def test_writes_held_during_commit_are_not_in_the_shadow_copy() -> None:
    sim = Simulation()
    volume = make_volume(sim, 16)
    provider = SoftwareProvider(sim)
    volume.write(3, b"before", "app")
    set_id = uuid.UUID(int=next(_ids))
    copy = new_copy(provider, volume, set_id)
    committed = sim.event()

    def coordinator() -> Generator[Event, Any, None]:
        yield sim.process(provider.begin_prepare_snapshot(copy), "prepare")
        yield sim.process(provider.end_prepare_snapshots(set_id), "end prepare")
        yield sim.process(provider.pre_commit_snapshots(set_id), "pre-commit")
        volume.hold("coordinator")
        commit = sim.process(provider.commit_snapshots(set_id), "commit")
        committed.succeed()
        yield commit
        volume.release()
        yield sim.process(provider.post_commit_snapshots(set_id), "post-commit")

    def application() -> Generator[Event, Any, None]:
        yield committed
        assert volume.write(3, b"during", "app") is False  # the gate holds it
        assert volume.write(4, b"during", "app") is False

    sim.process(coordinator(), "coordinator")
    sim.process(application(), "application")
    sim.run()
    assert copy.state == SnapshotState.CREATED
    assert volume.read(3) == b"during" and volume.read(4) == b"during"
    assert copy.read(3) == b"before"
    assert copy.read(4) is None
    assert copy.read_range(range(16)) == {3: b"before"}


def test_snapshots_of_one_set_share_the_commit_instant() -> None:
    sim = Simulation()
    data, logs = make_volume(sim, 16, "D"), make_volume(sim, 16, "L")
    provider = SoftwareProvider(sim)
    data.write(0, b"d0", "db")
    logs.write(0, b"l0", "db")
    copy_d, copy_l = create_set(sim, provider, [data, logs])
    data.write(0, b"d1", "db")
    logs.write(0, b"l1", "db")
    assert (copy_d.read(0), copy_l.read(0)) == (b"d0", b"l0")
    assert provider.snapshots_of(data) == [copy_d]
    assert provider.snapshots_of(logs) == [copy_l]


def test_two_shadow_copies_of_a_volume_keep_their_own_instants() -> None:
    sim = Simulation()
    volume = make_volume(sim, 16)
    provider = SoftwareProvider(sim)
    provider.set_diff_area(volume, 16 * BLOCK)
    volume.write(0, b"v1", "app")
    old = create_one(sim, provider, volume)
    volume.write(0, b"v2", "app")
    volume.write(1, b"w2", "app")
    new = create_one(sim, provider, volume)
    volume.write(0, b"v3", "app")
    volume.write(1, b"w3", "app")
    assert old.read_range(range(16)) == {0: b"v1"}
    assert new.read_range(range(16)) == {0: b"v2", 1: b"w2"}
    assert provider.snapshots_of(volume) == [old, new]


def test_a_copy_is_not_readable_before_creation_or_after_deletion() -> None:
    sim = Simulation()
    volume = make_volume(sim, 16)
    provider = SoftwareProvider(sim)
    set_id = uuid.UUID(int=next(_ids))
    copy = new_copy(provider, volume, set_id)
    run_call(sim, provider.begin_prepare_snapshot(copy), "prepare")
    with pytest.raises(VssError) as info:
        copy.read(0)
    assert info.value.hresult == HResult.VSS_E_OBJECT_NOT_FOUND
    provider.abort_snapshots(set_id)
    assert copy.state == SnapshotState.ABORTED

    created = create_one(sim, provider, volume)
    provider.delete_snapshot(created)
    assert created.state == SnapshotState.DELETED
    with pytest.raises(VssError) as info:
        created.read_range(range(16))
    assert info.value.hresult == HResult.VSS_E_OBJECT_NOT_FOUND


def test_abort_after_commit_stops_the_copy_on_write() -> None:
    sim = Simulation()
    volume = make_volume(sim, 16)
    provider = SoftwareProvider(sim)
    volume.write(0, b"a", "app")
    set_id = uuid.UUID(int=next(_ids))
    copy = new_copy(provider, volume, set_id)
    run_call(sim, provider.begin_prepare_snapshot(copy), "prepare")
    run_call(sim, provider.end_prepare_snapshots(set_id), "end prepare")
    run_call(sim, provider.pre_commit_snapshots(set_id), "pre-commit")
    run_call(sim, provider.commit_snapshots(set_id), "commit")
    volume.write(0, b"b", "app")
    assert provider.diff_area(volume).used_bytes == BLOCK
    provider.abort_snapshots(set_id)
    assert copy.state == SnapshotState.ABORTED
    assert provider.diff_area(volume).used_bytes == 0
    assert provider.snapshots_of(volume) == []
    volume.write(0, b"c", "app")
    assert provider.diff_area(volume).used_bytes == 0
    run_call(sim, provider.post_commit_snapshots(set_id), "late post-commit")  # does nothing
    assert copy.state == SnapshotState.ABORTED


writes = st.lists(st.tuples(st.integers(0, 31), st.binary(min_size=1, max_size=3)), max_size=25)


@settings(max_examples=100, deadline=None)
@given(before=writes, after=writes)
def test_point_in_time_property(
    before: list[tuple[int, bytes]], after: list[tuple[int, bytes]]
) -> None:
    sim = Simulation()
    volume = make_volume(sim, 32)
    provider = SoftwareProvider(sim)
    provider.set_diff_area(volume, 32 * BLOCK)
    for block, data in before:
        volume.write(block, data, "before")
    expected = live_content(volume)
    commit_seq = len(sim.trace) - 1
    volume.keep_image(commit_seq)  # read below (the coordinator marks its commits so)
    copy = create_one(sim, provider, volume)
    for block, data in after:
        volume.write(block, data, "after")

    assert copy.read_range(range(32)) == expected
    assert volume.content_at(commit_seq) == expected
    assert all(copy.read(b) == expected.get(b) for b in range(32))
    assert copy.read_range(range(8, 20)) == {b: d for b, d in expected.items() if 8 <= b < 20}
    # only blocks that had content at commit and were overwritten since cost diff area room
    overwritten = {b for b, _ in after if b in expected}
    assert provider.diff_area(volume).used_bytes == BLOCK * len(overwritten)


# -- the diff area ---------------------------------------------------------------------------


def test_default_diff_area_is_a_fraction_of_the_volume() -> None:
    sim = Simulation()
    volume = make_volume(sim, 100)
    assert SoftwareProvider(sim).diff_area(volume).capacity_bytes == 10 * BLOCK
    assert SoftwareProvider(sim, diff_area_fraction=0.5).diff_area(volume).capacity_bytes == (
        50 * BLOCK
    )
    with pytest.raises(ValueError):
        SoftwareProvider(sim).set_diff_area(volume, -1)


def test_overflowing_diff_area_discards_the_copy() -> None:
    sim = Simulation()
    volume = make_volume(sim, 64)
    provider = SoftwareProvider(sim)
    provider.set_diff_area(volume, 2 * BLOCK)
    for block in range(4):
        volume.write(block, f"old{block}".encode(), "app")
    copy = create_one(sim, provider, volume)

    volume.write(0, b"new0", "app")
    volume.write(1, b"new1", "app")
    volume.write(10, b"fresh", "app")  # unwritten at commit: costs no room
    volume.write(0, b"newer0", "app")  # already preserved: costs no room
    assert provider.diff_area(volume).used_bytes == 2 * BLOCK
    assert copy.usable
    assert copy.read_range(range(64)) == {b: f"old{b}".encode() for b in range(4)}

    volume.write(2, b"new2", "app")  # the third preserved block does not fit
    assert volume.read(2) == b"new2"  # the volume itself is not stopped
    assert not copy.usable
    assert copy.invalid_reason
    for read in (lambda: copy.read(0), lambda: copy.read_range(range(64))):
        with pytest.raises(VssError) as info:
            read()
        assert info.value.hresult == HResult.VSS_E_INSUFFICIENT_STORAGE
    assert provider.diff_area(volume).used_bytes == 0
    assert provider.snapshots_of(volume) == []
    (discarded,) = sim.trace.find(action=V.SHADOW_COPY_DISCARDED)
    assert discarded.details["snapshot_id"] == str(copy.snapshot_id)
    volume.write(3, b"new3", "app")  # nothing watches the volume any more
    assert provider.diff_area(volume).used_bytes == 0


def test_begin_prepare_needs_diff_area_room() -> None:
    sim = Simulation()
    volume = make_volume(sim, 64)
    provider = SoftwareProvider(sim)
    provider.set_diff_area(volume, BLOCK - 1)
    copy = new_copy(provider, volume, uuid.UUID(int=next(_ids)))
    with pytest.raises(VssError) as info:
        run_call(sim, provider.begin_prepare_snapshot(copy), "prepare")
    assert info.value.hresult == HResult.VSS_E_INSUFFICIENT_STORAGE
    assert copy.state == SnapshotState.PREPARING


def test_begin_prepare_fails_when_existing_copies_filled_the_diff_area() -> None:
    """DoSnapshotSet page: VSS_E_INSUFFICIENT_STORAGE when the diff area has no room for a new
    copy; making a copy deletes none of the old ones."""
    sim = Simulation()
    volume = make_volume(sim, 64)
    provider = SoftwareProvider(sim)
    provider.set_diff_area(volume, BLOCK)
    volume.write(0, b"a", "app")
    first = create_one(sim, provider, volume)
    volume.write(0, b"a'", "app")  # the one block of room is used
    with pytest.raises(VssError) as info:
        create_one(sim, provider, volume)
    assert info.value.hresult == HResult.VSS_E_INSUFFICIENT_STORAGE
    assert first.usable


def test_full_diff_area_deletes_the_oldest_copies_first() -> None:
    """The "Volume Shadow Copy Service" FAQ (Windows Server): when the system provider runs out
    of diff area space its shadow copies are deleted, starting with the oldest; the newer ones keep
    their point in time and the deleted ones read as VSS_E_INSUFFICIENT_STORAGE."""
    sim = Simulation()
    volume = make_volume(sim, 64)
    provider = SoftwareProvider(sim)
    provider.set_diff_area(volume, 4 * BLOCK)
    for block in range(4):
        volume.write(block, f"old{block}".encode(), "app")
    oldest = create_one(sim, provider, volume)
    volume.write(0, b"v1", "app")  # oldest preserves block 0
    middle = create_one(sim, provider, volume)
    volume.write(1, b"v1", "app")  # both preserve block 1
    newest = create_one(sim, provider, volume)
    assert provider.diff_area(volume).used_bytes == 3 * BLOCK
    volume.write(2, b"v1", "app")  # three copies need block 2: the oldest makes way
    assert not oldest.usable and middle.usable and newest.usable
    (deleted,) = sim.trace.find(action=V.OLDEST_SHADOW_COPY_DELETED)
    assert deleted.details["snapshot_id"] == str(oldest.snapshot_id)
    assert provider.snapshots_of(volume) == [middle, newest]
    assert middle.read_range(range(4)) == {0: b"v1", 1: b"old1", 2: b"old2", 3: b"old3"}
    volume.write(3, b"v1", "app")  # now the middle copy is the oldest: it goes
    assert not middle.usable and newest.usable
    assert newest.read_range(range(4)) == {0: b"v1", 1: b"v1", 2: b"old2", 3: b"old3"}
    assert provider.snapshots_of(volume) == [newest]
    assert provider.diff_area(volume).used_bytes == 2 * BLOCK
    for gone in (oldest, middle):
        with pytest.raises(VssError) as info:
            gone.read(0)
        assert info.value.hresult == HResult.VSS_E_INSUFFICIENT_STORAGE


def test_maximum_number_of_snapshots_per_volume() -> None:
    sim = Simulation()
    volume, other = make_volume(sim, 64, "D"), make_volume(sim, 64, "E")
    provider = SoftwareProvider(sim, max_snapshots_per_volume=2)
    first = create_one(sim, provider, volume)
    create_one(sim, provider, volume)
    with pytest.raises(VssError) as info:
        create_one(sim, provider, volume)
    assert info.value.hresult == HResult.VSS_E_MAXIMUM_NUMBER_OF_SNAPSHOTS_REACHED
    create_one(sim, provider, other)  # the limit is per volume
    provider.delete_snapshot(first)
    assert len(provider.snapshots_of(volume)) == 1
    create_one(sim, provider, volume)  # room again once one is deleted
    assert len(provider.snapshots_of(volume)) == 2


def test_delete_snapshot_frees_its_diff_area_usage() -> None:
    sim = Simulation()
    volume = make_volume(sim, 64)
    provider = SoftwareProvider(sim)
    provider.set_diff_area(volume, 64 * BLOCK)
    for block in range(5):
        volume.write(block, b"old", "app")
    keep = create_one(sim, provider, volume)
    volume.write(0, b"x", "app")
    drop = create_one(sim, provider, volume)
    for block in (1, 2, 3):
        volume.write(block, b"y", "app")
    area = provider.diff_area(volume)
    # keep preserved 0, 1, 2, 3; drop preserved 1, 2, 3
    assert area.used_bytes == 7 * BLOCK
    provider.delete_snapshot(drop)
    assert area.used_bytes == 4 * BLOCK
    volume.write(4, b"z", "app")
    assert area.used_bytes == 5 * BLOCK  # only the kept copy preserves now
    assert keep.read_range(range(5)) == {b: b"old" for b in range(5)}
    provider.delete_snapshot(keep)
    assert area.used_bytes == 0


def test_supported_file_systems() -> None:
    """The "Shadow Copy Context Configurations" page: persistent shadow copies can be made
    only for NTFS volumes, nonpersistent ones for NTFS and non-NTFS volumes."""
    sim = Simulation()
    provider = SoftwareProvider(sim)
    persistent = SnapshotAttr.PERSISTENT | SnapshotAttr.NO_AUTO_RELEASE
    ntfs = make_volume(sim, 4, "N", "NTFS")
    assert provider.supports(ntfs, persistent) and provider.supports(ntfs, SnapshotAttr(0))
    for kind in ("ReFS", "FAT32", "FAT", "exFAT"):
        volume = make_volume(sim, 4, kind[0] + "x", kind)
        assert provider.is_volume_supported(volume)
        assert provider.supports(volume, SnapshotAttr(0))
        assert not provider.supports(volume, persistent)
    raw = make_volume(sim, 4, "U", "UDF")
    assert not provider.is_volume_supported(raw)
    assert not provider.supports(raw, SnapshotAttr(0))


def test_discarding_one_copy_does_not_blind_the_next_one() -> None:
    sim = Simulation()
    volume = make_volume(sim, 64)
    provider = SoftwareProvider(sim)
    provider.set_diff_area(volume, 2 * BLOCK)
    volume.write(0, b"old0", "app")
    volume.write(1, b"old1", "app")
    older = create_one(sim, provider, volume)
    volume.write(0, b"new0", "app")  # older preserves old0: one block used
    newer = create_one(sim, provider, volume)
    volume.write(0, b"newer0", "app")  # newer preserves new0: the area is full
    volume.write(1, b"new1", "app")  # older cannot preserve old1 and is discarded
    assert not older.usable
    # newer committed when block 1 held old1: it must give old1 back, or refuse to be read.
    try:
        data = newer.read(1)
    except VssError as exc:
        assert exc.hresult == HResult.VSS_E_INSUFFICIENT_STORAGE
    else:
        assert data == b"old1"
