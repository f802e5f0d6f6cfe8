"""The volume names AddToSnapshotSet and IsVolumeSupported take, and the system provider's
limits at AddToSnapshotSet."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import vsssim
from vsssim import BackupComponents, HResult, VssError, World
from vsssim.host.scenario_file import ScenarioFileError, parse_scenario
from vsssim.sim import vocabulary as V
from vsssim.testing.invariants import check_all
from vsssim.vss.constants import Context
from vsssim.vss.volume_names import NameForm, check_volume_name, form_of, resolve
from vsssim.vss.volumes import Volume

from .conftest import DB_WRITER_ID, small_world

GIB = 1024**3


def _world() -> World:
    """``small_world`` plus a volume mounted in a folder of ``D:`` and a FAT32 ``F:``."""
    world = small_world(0, workload=False)
    world.add_volume("D:\\Mounts\\Archive\\", "Archive", GIB)
    world.add_volume("F:\\", "F:", GIB, file_system="FAT32")
    return world


def _defining(world: World, context: Context | None = None) -> BackupComponents:
    """A backup components object with a shadow copy set started."""
    bc = world.coordinator.create_backup_components("requester")
    bc.initialize_for_backup()
    if context is not None:
        bc.set_context(context)
    bc.set_backup_state(True, False, vsssim.BackupType.FULL)
    world.sim.run(until=bc.gather_writer_metadata())
    bc.add_component(DB_WRITER_ID, "Inst", "Db")
    bc.start_snapshot_set()
    return bc


def _unchanged(world: World, bc: BackupComponents, volumes: list[str]) -> None:
    """A refused AddToSnapshotSet left the set and the marks as they were."""
    assert bc.snapshot_set is not None
    assert [v.label for v in bc.snapshot_set.volumes] == volumes
    for volume in world.namespace.volumes:
        assert (volume.marked_by is not None) == (volume.label in volumes)


WORLD = _world()


def _forms(volume: Volume) -> list[str]:
    """Every documented name of ``volume``: where it is mounted and its GUID path."""
    return [WORLD.namespace.mount_point_of(volume), volume.name]


def test_every_volume_has_a_stable_guid_path() -> None:
    """GetVolumeNameForVolumeMountPoint page: a volume's unique name is ``\\\\?\\Volume{GUID}\\``;
    here the GUID comes from the scenario (the volume's label), the same in every run."""
    again = _world()
    for volume, twin in zip(WORLD.namespace.volumes, again.namespace.volumes, strict=True):
        assert form_of(volume.name) is NameForm.VOLUME_GUID_PATH
        assert volume.name == twin.name
        assert uuid.UUID(volume.name[len("\\\\?\\Volume{") : -2])
    names = [v.name for v in WORLD.namespace.volumes]
    assert len(set(names)) == len(names)


_LETTERS = st.lists(st.booleans(), min_size=80, max_size=80)


def _recased(name: str, upper: list[bool]) -> str:
    return "".join(c.upper() if u else c.lower() for c, u in zip(name, upper, strict=False))


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 10), st.integers(0, 1), _LETTERS)
def test_every_form_of_every_volume_names_it(index: int, form: int, upper: list[bool]) -> None:
    """AddToSnapshotSet page: a drive letter, a mounted folder and a volume GUID path, each with
    its trailing backslash, all name the volume; Windows compares them without case."""
    volumes = WORLD.namespace.volumes
    volume = volumes[index % len(volumes)]
    name = _forms(volume)[form]
    name = name[:4] + _recased(name[4:], upper) if name.startswith("\\\\?\\") else name
    name = _recased(name, upper) if not name.startswith("\\\\") else name
    assert check_volume_name("volume_path", name) in set(NameForm) - {NameForm.FILE_SHARE}
    assert resolve(WORLD.namespace, name) is volume


_PIECES = st.sampled_from(
    [
        "\\",
        "\\\\",
        "?",
        "\\\\?\\",
        "Volume{",
        "}",
        "C:",
        "D:\\",
        "Mounts",
        ".",
        "..",
        "/",
        ":",
        "{",
        "0" * 8,
        "-",
        "a" * 12,
        "\x00",
        "é",
        " ",
        "\\\\server\\share\\",
        "Archive\\",
    ]
)
_HOSTILE = st.one_of(
    st.text(max_size=40),
    st.lists(_PIECES, max_size=10).map("".join),
    st.sampled_from([None, 0, b"D:\\", ["D:\\"], "D:\\" * 20_000]),
)


@settings(max_examples=100, deadline=None)
@given(_HOSTILE)
def test_a_hostile_volume_name_is_a_vss_error(name: object) -> None:
    """AddToSnapshotSet and IsVolumeSupported pages: a name that is not valid is E_INVALIDARG,
    one that names no volume VSS_E_OBJECT_NOT_FOUND; never another exception."""
    try:
        check_volume_name("volume_path", name)
        assert isinstance(name, str)
        found = resolve(WORLD.namespace, name)
    except VssError as refused:
        assert refused.hresult in (HResult.E_INVALIDARG, HResult.VSS_E_OBJECT_NOT_FOUND)
    else:
        assert found is None or found in WORLD.namespace.volumes


@settings(max_examples=40, deadline=None)
@given(_HOSTILE)
def test_a_hostile_name_refused_by_the_calls_changes_nothing(name: object) -> None:
    """IVssBackupComponents::AddToSnapshotSet page: a refused call adds nothing to the set."""
    world = _world()
    bc = _defining(world)
    try:
        supported = bc.is_volume_supported(name)  # type: ignore[arg-type]
        assert isinstance(supported, bool)
        bc.add_to_snapshot_set(name)  # type: ignore[arg-type]
    except VssError:
        _unchanged(world, bc, [])
    bc.add_to_snapshot_set("L:\\")  # the session carries on


def test_a_name_without_its_trailing_backslash_is_invalid() -> None:
    """AddToSnapshotSet and IsVolumeSupported pages: the name must include a trailing
    backslash; without it the parameter is not valid (E_INVALIDARG) and nothing changes."""
    world = _world()
    bc = _defining(world)
    archive = world.namespace.volume_labelled("Archive")
    for name in ("D:", "D:\\Mounts\\Archive", archive.name[:-1]):
        for call in (bc.add_to_snapshot_set, bc.is_volume_supported):
            with pytest.raises(VssError) as refused:
                call(name)
            assert refused.value.hresult == HResult.E_INVALIDARG
    _unchanged(world, bc, [])


def test_a_folder_that_is_no_mount_point_names_no_volume() -> None:
    """AddToSnapshotSet page: the name is a mount point (drive letter or mounted folder) or a
    GUID path; a folder inside a volume, or a letter or GUID no volume has, is
    VSS_E_OBJECT_NOT_FOUND."""
    world = _world()
    bc = _defining(world)
    unknown = "\\\\?\\Volume{" + str(uuid.UUID(int=7)) + "}\\"
    for name in ("D:\\Data\\", "D:\\Mounts\\", "Q:\\", unknown):
        with pytest.raises(VssError) as refused:
            bc.add_to_snapshot_set(name)
        assert refused.value.hresult == HResult.VSS_E_OBJECT_NOT_FOUND
        with pytest.raises(VssError) as asked:
            bc.is_volume_supported(name)
        assert asked.value.hresult == HResult.VSS_E_OBJECT_NOT_FOUND
    _unchanged(world, bc, [])


def test_a_remote_file_share_is_not_supported() -> None:
    """AddToSnapshotSet and IsVolumeSupported pages: a UNC share path is a documented form;
    vsssim's providers copy no shares, so AddToSnapshotSet answers VSS_E_VOLUME_NOT_SUPPORTED
    (VSS_E_VOLUME_NOT_SUPPORTED_BY_PROVIDER for a named provider) and IsVolumeSupported FALSE."""
    world = _world()
    bc = _defining(world)
    software = world.coordinator.software_provider.provider_id
    share = "\\\\Clusterx\\Share1\\"
    assert not bc.is_volume_supported(share)
    assert not bc.is_volume_supported(share, software)
    with pytest.raises(VssError) as refused:
        bc.add_to_snapshot_set(share)
    assert refused.value.hresult == HResult.VSS_E_VOLUME_NOT_SUPPORTED
    with pytest.raises(VssError) as named:
        bc.add_to_snapshot_set(share, software)
    assert named.value.hresult == HResult.VSS_E_VOLUME_NOT_SUPPORTED_BY_PROVIDER
    with pytest.raises(VssError) as unknown:
        bc.add_to_snapshot_set(share, uuid.UUID(int=5))
    assert unknown.value.hresult == HResult.VSS_E_PROVIDER_NOT_REGISTERED
    _unchanged(world, bc, [])


def test_guid_path_and_mount_point_name_one_volume_in_the_set() -> None:
    """AddToSnapshotSet page (VSS_E_OBJECT_ALREADY_EXISTS) and VSS_SNAPSHOT_PROP page: a volume
    added by its GUID path is the one its mount point names, and GetSnapshotProperties gives
    the GUID path as the original volume name."""
    world = _world()
    bc = _defining(world)
    archive = world.namespace.volume_labelled("Archive")
    snapshot_id = bc.add_to_snapshot_set(archive.name)
    with pytest.raises(VssError) as twice:
        bc.add_to_snapshot_set("d:\\mounts\\archive\\")
    assert twice.value.hresult == HResult.VSS_E_OBJECT_ALREADY_EXISTS
    bc.add_to_snapshot_set("D:\\")
    bc.add_to_snapshot_set("L:\\")
    world.sim.run(until=bc.prepare_for_backup())
    world.sim.run(until=bc.do_snapshot_set())
    properties = bc.get_snapshot_properties(snapshot_id)
    assert properties.original_volume_name == archive.name
    assert resolve(world.namespace, properties.original_volume_name) is archive


def test_the_shadow_copy_limit_is_checked_at_add_to_snapshot_set() -> None:
    """AddToSnapshotSet page: VSS_E_MAXIMUM_NUMBER_OF_SNAPSHOTS_REACHED, the volume not added;
    IsVolumeSupported page: the volume is still reported as supported."""
    world = _world()
    software = world.coordinator.software_provider
    assert software.max_snapshots_per_volume == 512
    software.max_snapshots_per_volume = 1
    first = _defining(world)
    first.add_to_snapshot_set("D:\\")
    first.add_to_snapshot_set("L:\\")
    world.sim.run(until=first.prepare_for_backup())
    world.sim.run(until=first.do_snapshot_set())
    second = world.coordinator.create_backup_components("second")
    second.initialize_for_backup()
    second.set_backup_state(False, False, vsssim.BackupType.COPY)
    world.sim.run(until=second.gather_writer_metadata())
    second.start_snapshot_set()
    assert second.is_volume_supported("D:\\")
    with pytest.raises(VssError) as full:
        second.add_to_snapshot_set("D:\\")
    assert full.value.hresult == HResult.VSS_E_MAXIMUM_NUMBER_OF_SNAPSHOTS_REACHED
    _unchanged(world, second, [])
    second.add_to_snapshot_set("S:\\")  # the limit is per volume


def test_persistent_copies_need_ntfs() -> None:
    """The "Shadow Copy Context Configurations" page: persistent shadow copies only for NTFS
    volumes, nonpersistent ones for NTFS and non-NTFS; AddToSnapshotSet page: a volume no
    provider supports is VSS_E_VOLUME_NOT_SUPPORTED."""
    world = _world()
    backup = _defining(world)
    assert backup.is_volume_supported("F:\\")
    backup.add_to_snapshot_set("F:\\")
    rollback_world = _world()
    rollback = _defining(rollback_world, Context.APP_ROLLBACK)
    assert not rollback.is_volume_supported("F:\\")
    with pytest.raises(VssError) as refused:
        rollback.add_to_snapshot_set("F:\\")
    assert refused.value.hresult == HResult.VSS_E_VOLUME_NOT_SUPPORTED
    _unchanged(rollback_world, rollback, [])
    rollback.add_to_snapshot_set("D:\\")


def test_a_scenario_file_names_a_known_file_system() -> None:
    """A volume's file_system in a scenario file is one Windows mounts, read without case;
    another is refused in one line naming the key (the default, NTFS, keeps old files as
    they were)."""
    base = "[[volumes]]\nmount_point = 'D:\\'\n"
    assert parse_scenario(base, source="ok.toml").scenario.volumes[0].file_system == "NTFS"
    fat = parse_scenario(base + "file_system = 'fat32'\n", source="ok.toml")
    assert fat.scenario.volumes[0].file_system == "FAT32"
    for bad in ("'ext4'", "'" + "N" * 40 + "'", "3"):
        with pytest.raises(ScenarioFileError) as caught:
            parse_scenario(base + f"file_system = {bad}\n", source="bad.toml")
        assert "volumes[0].file_system" in str(caught.value)
        assert "\n" not in str(caught.value)


def test_a_copy_deleted_for_a_newer_one_is_unreadable_and_the_run_stays_sound() -> None:
    """The "Volume Shadow Copy Service" FAQ: when the diff area runs out the system provider
    deletes the oldest shadow copies first. A requester still holding one reads
    VSS_E_INSUFFICIENT_STORAGE; the newer copy keeps its point in time; every invariant holds."""
    world = _world()
    software = world.coordinator.software_provider
    volume = world.namespace.volume_of("D:\\")
    software.set_diff_area(volume, 2 * volume.block_size)
    copies = []
    for name in ("older", "newer"):
        bc = world.coordinator.create_backup_components(name)
        bc.initialize_for_backup()
        bc.set_backup_state(False, False, vsssim.BackupType.COPY)
        world.sim.run(until=bc.gather_writer_metadata())
        bc.start_snapshot_set()
        snapshot_id = bc.add_to_snapshot_set("D:\\")
        world.sim.run(until=bc.prepare_for_backup())
        world.sim.run(until=bc.do_snapshot_set())
        copies.append((bc, bc.snapshot_for(volume)))
        assert copies[-1][1].snapshot_id == snapshot_id
        world.namespace.write_file("D:\\Data\\Db.mdf", len(copies) - 1, b"changed", "app")
    (older_bc, older), (newer_bc, newer) = copies
    assert not older.usable and newer.usable
    with pytest.raises(VssError) as gone:
        older.read_range(range(volume.block_count))
    assert gone.value.hresult == HResult.VSS_E_INSUFFICIENT_STORAGE
    (deleted,) = world.sim.trace.find(action=V.OLDEST_SHADOW_COPY_DELETED)
    assert deleted.details["snapshot_id"] == str(older.snapshot_id)
    assert newer.read_range(range(volume.block_count)) == volume.content_at(newer.commit_seq or 0)
    for bc in (older_bc, newer_bc):
        world.sim.run(until=bc.backup_complete())
        world.sim.run(until=bc.release())
    assert {name: found for name, found in check_all(world).items() if found} == {}


def test_is_volume_supported_answers_in_vss_ctx_all_as_in_any_context() -> None:
    """VSS_CTX_ALL serves queries: StartSnapshotSet refuses it, but IsVolumeSupported in it asks
    whether a provider could shadow-copy the volume at all (it once raised a KeyError)."""
    world = _world()
    bc = world.coordinator.create_backup_components("requester")
    bc.initialize_for_backup()
    bc.set_context(Context.ALL)
    backup = _defining(_world())
    for name in ("D:\\", "F:\\", "D:\\Mounts\\Archive\\"):
        assert bc.is_volume_supported(name) is backup.is_volume_supported(name)
    with pytest.raises(VssError) as refused:
        bc.start_snapshot_set()
    assert refused.value.hresult == HResult.VSS_E_UNSUPPORTED_CONTEXT
