"""A transacted database's writer: it truncates its logs after the backups that allow it.

After a full, incremental or log backup whose component the requester reported backed up
(``SetBackupSucceeded``), a database may free the log it no longer needs for recovery; after a
copy backup it must not (a copy changes nothing of the writer's state), and after a
differential it usually does not. :class:`DatabaseWriter` does this in OnBackupComplete, for
the log files its components declare (``AddDatabaseLogFiles``): the log the backup holds (the
blocks last written at or before the shadow copy set's commit) is zeroed, by the writer's own
process, which waits while another backup holds its application frozen. Log written after the
commit is in no backup yet: it stays, for the next one. The backup types it takes part in are
its backup schema's, as for any writer.
"""

from __future__ import annotations

import attrs

from vsssim.sim import vocabulary as V
from vsssim.sim.kernel import ProcessGenerator
from vsssim.vss.backup_types import changed_blocks, effective_type, truncates_logs
from vsssim.vss.namespace import reads_as_zeros
from vsssim.vss.writers.base import Writer
from vsssim.vss.writers.handling import EventContext


@attrs.define(eq=False)
class DatabaseWriter(Writer):
    """A writer of a transacted database (``VSS_ST_TRANSACTEDDB``) that truncates its logs."""

    def on_backup_complete(self, ctx: EventContext) -> ProcessGenerator:
        """The requester finished copying: truncate the logs if the backup type allows it."""
        yield from self.take_time(ctx)
        yield from self.truncate_logs(ctx)

    def truncate_logs(self, ctx: EventContext) -> ProcessGenerator:
        """After a backup whose type truncates logs
        (:func:`~vsssim.vss.backup_types.truncates_logs`),
        zero what the backup holds of each backed-up component's log files: the written blocks
        whose last write is at or before the commit (the backup point). A block written since
        is kept (the trace record counts them): the next backup must still copy it."""
        components = ctx.writer_components
        kind = effective_type(self.metadata.backup_schema, ctx.backup_type)
        point = components.backup_point if components is not None else None
        if components is None or point is None or not truncates_logs(kind):
            return
        for component in ctx.components:
            if not components.backup_succeeded(component):
                continue
            while self.application_frozen:  # another backup froze the database meanwhile
                yield self.application_resumed()
            truncated = kept = 0
            for file in components.files_of(component, logs_only=True):
                volume = file.volume
                since = set(changed_blocks(volume, file.volume_blocks(), point))
                for block in volume.written_blocks(file.volume_blocks()):
                    if reads_as_zeros(volume.read(block)):
                        continue
                    if block in since:  # written after the commit: in no backup yet
                        kept += 1
                        continue
                    volume.write(block, b"", self.name)
                    truncated += 1
            ctx.sim.trace.record(
                ctx.phase,
                self.name,
                V.LOG_TRUNCATED,
                component=component.full_path,
                backup_type=kind,
                blocks=truncated,
                kept=kept,
            )
