"""What a writer that keeps a backup history tells the requester in OnPostSnapshot.

A writer whose schema has ``VSS_BS_INCREMENTAL`` or ``VSS_BS_DIFFERENTIAL`` remembers, per
backup stamp it set, where the backup's commit lies and where each file lay then
(:class:`BackupPoint`). In a later incremental or differential built on a stamp it knows, it
tells the requester what to copy, in one of the two ways of "Writer Role in VSS Incremental and
Differential Backups":

* *differenced files* (``AddDifferencedFilesByLastModifyTime``), when its schema has
  ``VSS_BS_LAST_MODIFY``: each file spec of the component, with the base backup's commit time;
  the requester copies whole the files modified since;
* *partial files* (``AddPartialFile``) otherwise, when the requester takes them: per file the
  blocks written since the base backup (a file created or moved since is left whole).
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping

import attrs

from vsssim.sim import vocabulary as V
from vsssim.vss.backup_types import (
    WriterComponents,
    block_ranges,
    changed_blocks,
    effective_type,
    keeps_backup_history,
    updates_backup_history,
)
from vsssim.vss.constants import BackupSchema, BackupType
from vsssim.vss.metadata import Component, WriterMetadata
from vsssim.vss.namespace import File
from vsssim.vss.writers.handling import EventContext

__all__ = ["BackupPoint", "report_backup"]


@attrs.frozen
class BackupPoint:
    """A backup a writer stamped: where its commit lies in the trace, when it was (simulated
    microseconds) and, per file (by path, upper case), where the file lay then (volume label,
    first block, block count)."""

    seq: int
    layouts: Mapping[str, tuple[str, int, int]]
    time_us: int = 0


def report_backup(
    name: str,
    metadata: WriterMetadata,
    history: MutableMapping[str, BackupPoint],
    ctx: EventContext,
) -> None:
    """Per selected component, what this backup must copy, and the stamp of this backup (see
    the module's docstring). ``history`` is the writer's backup history, updated after a full
    or an incremental. A stamp the writer does not know (another writer's, or from before its
    history) makes it leave the files whole, with a trace record saying so."""
    components = ctx.writer_components
    point = components.backup_point if components is not None else None
    schema = metadata.backup_schema
    if components is None or point is None or not keeps_backup_history(schema):
        return
    kind = effective_type(schema, ctx.backup_type)
    layouts: dict[str, tuple[str, int, int]] = {}
    stamp = f"{name}@{point}"
    for component in ctx.components:
        files = components.files_of(component)
        layouts.update({f.path.upper(): _layout(f) for f in files})
        previous = components.previous_backup_stamp(component)
        if kind not in (BackupType.INCREMENTAL, BackupType.DIFFERENTIAL) or not previous:
            pass
        elif previous not in history:
            ctx.sim.trace.record(
                ctx.phase,
                name,
                V.PREVIOUS_BACKUP_STAMP_UNKNOWN,
                component=component.full_path,
                stamp=previous,
            )
        elif schema & BackupSchema.LAST_MODIFY:
            _add_differenced(components, metadata, component, history[previous])
        elif components.partial_file_support:
            _add_partial(components, component, files, history[previous], point)
        if updates_backup_history(kind):
            components.set_backup_stamp(component, stamp)
    if updates_backup_history(kind):
        history[stamp] = BackupPoint(point, layouts, components.backup_time_us or 0)


def _add_differenced(
    components: WriterComponents,
    metadata: WriterMetadata,
    component: Component,
    base: BackupPoint,
) -> None:
    """Each file spec of the component (and of its set), as differenced files since ``base``."""
    for member in metadata.members(component):
        for fd in member.all_files:
            components.add_differenced_files(
                component, fd.source, fd.filespec, fd.recursive, base.time_us
            )


def _add_partial(
    components: WriterComponents,
    component: Component,
    files: list[File],
    base: BackupPoint,
    point: int,
) -> None:
    """Each file that lies where it lay at ``base`` as a partial file: the blocks written since
    (none for an unchanged file)."""
    for file in files:
        if base.layouts.get(file.path.upper()) != _layout(file):
            continue  # created or moved since: backed up whole
        blocks = changed_blocks(file.volume, file.volume_blocks(), base.seq, point)
        ranges = block_ranges((b - file.first_block for b in blocks), file.volume.block_size)
        components.add_partial_file(component, file.path, ranges)


def _layout(file: File) -> tuple[str, int, int]:
    return (file.volume.label, file.first_block, file.block_count)
