"""Where files are backed up from (a file spec's alternate path) is not where they are restored
to (an alternate location mapping); a writer's excluded files are left out of the copy."""

from __future__ import annotations

import uuid

from vsssim import Component, FileDescriptor, World
from vsssim.requesters.archive import BackupArchive
from vsssim.requesters.backup_options import AgentOptions, RetryPolicy
from vsssim.vss.backup_types import component_files
from vsssim.vss.constants import RestoreMethod
from vsssim.vss.documents.wmd_xml import metadata_from_xml, metadata_to_xml
from vsssim.vss.metadata import AlternateLocationMapping, WriterMetadata
from vsssim.vss.writers.base import Writer

GIB = 1024**3
APP_ID = uuid.uuid5(uuid.NAMESPACE_URL, "vsssim-tests:alternate-paths:App")
NO_RETRY = AgentOptions(retry=RetryPolicy(retries=0))


def _world(
    files: FileDescriptor,
    *,
    method: RestoreMethod = RestoreMethod.RESTORE_IF_CAN_REPLACE,
    mappings: tuple[AlternateLocationMapping, ...] = (),
    excluded: tuple[FileDescriptor, ...] = (),
) -> tuple[World, WriterMetadata]:
    """``D:`` with ``D:\\App\\a.dat``, ``D:\\App\\scratch.tmp``; ``S:`` with the staging copy
    ``S:\\Stage\\a.dat``; AppWriter's one component names ``files``."""
    world = World.create(3)
    world.add_volume("D:\\", "D:", GIB)
    world.add_volume("S:\\", "S:", GIB)
    world.add_volume("R:\\", "R:", GIB)
    for path in ("D:\\App\\a.dat", "D:\\App\\scratch.tmp", "S:\\Stage\\a.dat"):
        world.add_file(path, 8, initial_blocks=2)
    metadata = WriterMetadata(
        APP_ID,
        uuid.uuid5(APP_ID, "instance"),
        "AppWriter",
        restore_method=method,
        excluded_files=excluded,
        components=(Component("Data", logical_path="App", files=(files,)),),
        alternate_location_mappings=mappings,
    )
    world.add_writer(Writer(metadata))
    world.add_agent("agent", ["AppWriter:App\\Data"], NO_RETRY)
    return world, metadata


def test_files_are_backed_up_from_the_alternate_path_of_their_file_spec() -> None:
    """IVssCreateWriterMetadata::AddFilesToFileGroup: ``wszAlternateLocation`` is the alternate
    path that actually holds the files to back up (and is not an alternate location mapping)."""
    world, metadata = _world(FileDescriptor("D:\\App", "*.dat", alternate_path="S:\\Stage"))
    [found] = component_files(world.namespace, metadata, metadata.components[0])
    assert found.path == "S:\\Stage\\a.dat"
    [result] = world.run()
    assert result.succeeded, result.message
    assert [f.path for f in result.files] == ["S:\\Stage\\a.dat"]
    assert "S:" in result.volumes and "D:" not in result.volumes


def test_an_alternate_path_is_no_alternate_location_mapping_for_the_restore() -> None:
    """IVssCreateWriterMetadata::AddFilesToFileGroup ("should not be confused with an alternate
    location mapping") and VSS_RESTOREMETHOD_ENUM (VSS_RME_RESTORE_TO_ALTERNATE_LOCATION needs
    IVssCreateWriterMetadata::AddAlternateLocationMapping)."""
    spec = FileDescriptor("D:\\App", "*.dat", alternate_path="S:\\Stage")
    world, _ = _world(spec, method=RestoreMethod.RESTORE_TO_ALTERNATE_LOCATION)
    [result] = world.run()
    restored = world.restore(BackupArchive.of(result))
    [component] = restored.not_restored
    assert "alternate location mapping" in component.reason

    mapping = AlternateLocationMapping("S:\\Stage", "*.dat", False, "R:\\Restored")
    world, _ = _world(spec, method=RestoreMethod.RESTORE_TO_ALTERNATE_LOCATION, mappings=(mapping,))
    [result] = world.run()
    restored = world.restore(BackupArchive.of(result))
    assert [f.target for f in restored.files] == ["R:\\Restored\\a.dat"]


def test_excluded_files_are_left_out_of_the_requesters_copy() -> None:
    """IVssCreateWriterMetadata::AddExcludeFiles: files the writer excludes are not backed up,
    even where a component's file spec names them."""
    world, metadata = _world(
        FileDescriptor("D:\\App", "*"), excluded=(FileDescriptor("D:\\App", "*.tmp"),)
    )
    names = [f.path for f in component_files(world.namespace, metadata, metadata.components[0])]
    assert names == ["D:\\App\\a.dat"]
    [result] = world.run()
    assert result.succeeded and [f.path for f in result.files] == ["D:\\App\\a.dat"]


def test_alternate_paths_and_mappings_round_trip_through_the_writer_metadata_xml() -> None:
    """Writer Metadata Document (``alternatePath`` on a file spec, ``ALTERNATE_LOCATION_MAPPING``
    under ``RESTORE_METHOD``, ``EXCLUDE_FILES``): each comes back where it was."""
    mapping = AlternateLocationMapping("D:\\App", "*.dat", True, "R:\\Restored")
    _, metadata = _world(
        FileDescriptor("D:\\App", "*.dat", alternate_path="S:\\Stage"),
        mappings=(mapping,),
        excluded=(FileDescriptor("D:\\App", "*.tmp"),),
    )
    text = metadata_to_xml(metadata)
    assert 'alternatePath="S:\\Stage"' in text and "<ALTERNATE_LOCATION_MAPPING" in text
    assert metadata_from_xml(text) == metadata
