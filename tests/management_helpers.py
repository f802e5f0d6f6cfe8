"""What the management tests share: a set made by one backup components object, a fresh object
that manages it, and a snapshot of everything a refused call must leave alone."""

from __future__ import annotations

import uuid

import pytest

from vsssim import BackupComponents, BackupType, Context, HResult, VssError, World
from vsssim.vss.coordinator.service import writers_take_part

from .conftest import DB_WRITER_ID


def make_set(
    world: World,
    context: Context,
    volumes: tuple[str, ...] = ("D:\\", "L:\\"),
    requester: str = "creator",
) -> tuple[BackupComponents, uuid.UUID, list[uuid.UUID]]:
    """A shadow copy set of ``volumes`` made in ``context`` by a new object (not released)."""
    sim = world.sim
    bc = world.coordinator.create_backup_components(requester)
    bc.initialize_for_backup()
    bc.set_context(context)
    writers = writers_take_part(context)
    if writers:
        bc.set_backup_state(True, False, BackupType.FULL)
        sim.run(until=bc.gather_writer_metadata())
        bc.add_component(DB_WRITER_ID, "Inst", "Db")
    set_id = bc.start_snapshot_set()
    ids = [bc.add_to_snapshot_set(v) for v in volumes]
    if writers:
        sim.run(until=bc.prepare_for_backup())
    sim.run(until=bc.do_snapshot_set())
    return bc, set_id, ids


def manager(world: World, context: Context, requester: str = "manager") -> BackupComponents:
    """A fresh object that only manages: InitializeForBackup and SetContext."""
    bc = world.coordinator.create_backup_components(requester)
    bc.initialize_for_backup()
    bc.set_context(context)
    return bc


def observe(world: World) -> object:
    """Everything a management call could change: the copies VSS knows (state, attributes,
    exposure), the volumes' blocks, the trace's length."""
    copies = {
        str(s.snapshot_id): (s.state, int(s.attributes), s.exposed_name, s.exposed_path)
        for s in world.coordinator.snapshots.values()
    }
    volumes = {v.label: (v.writes_issued, len(v.history)) for v in world.namespace.volumes}
    return copies, volumes, len(world.sim.trace)


def refused(world: World, hresult: HResult, call: object, *args: object, **kwargs: object) -> None:
    """``call(*args, **kwargs)`` fails with ``hresult`` and changes nothing."""
    before = observe(world)
    with pytest.raises(VssError) as caught:
        call(*args, **kwargs)  # type: ignore[operator]
    assert caught.value.hresult == hresult, caught.value
    assert observe(world) == before
