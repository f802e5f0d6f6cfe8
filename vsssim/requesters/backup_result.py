"""What a backup did, as the agent reports it: the outcome, each attempt, the copied files,
and the check of the copies against the volumes at the commit instant."""

from __future__ import annotations

import enum
import uuid
from collections.abc import Mapping

import attrs

from vsssim.errors import HResult
from vsssim.requesters.selection import LeftOut
from vsssim.vss.backup_types import partial_blocks
from vsssim.vss.coordinator.service import WriterStatus
from vsssim.vss.documents.backup_document import BackupComponentsDocument
from vsssim.vss.namespace import Namespace, reads_as_zeros


class Outcome(enum.Enum):
    """How a backup ended, as the agent reports it."""

    SUCCEEDED = "succeeded"
    PARTIAL = "partial"
    FAILED = "failed"
    AGENT_DIED = "agent died"


@attrs.frozen
class CopiedFile:
    """A file the agent copied from a shadow copy: its written blocks (volume block -> data),
    and where it lay on its volume (``first_block``, ``block_count``).

    ``ranges`` are the byte ranges copied of a partial file (``AddPartialFile``): ``data``
    holds only the blocks they touch, and ``size_bytes`` counts those blocks. None: the whole
    file was copied."""

    path: str
    volume: str
    size_bytes: int
    data: Mapping[int, bytes] = attrs.field(eq=False, repr=False)
    first_block: int = 0
    block_count: int = 0
    ranges: tuple[tuple[int, int], ...] | None = None

    @property
    def content(self) -> dict[int, bytes]:
        """The copied data by file block index (0-based); blocks that read as zeros left out,
        as :meth:`vsssim.vss.namespace.File.content` gives a file's."""
        return {
            block - self.first_block: data
            for block, data in sorted(self.data.items())
            if not reads_as_zeros(data)
        }


@attrs.frozen
class Attempt:
    """One try at the backup: how it ended and which writers had failed."""

    number: int
    hresult: HResult
    message: str
    failed_writers: tuple[str, ...] = ()
    started_us: int = 0
    finished_us: int = 0


@attrs.frozen
class BackupResult:
    """What one backup did, as the agent reports it (the last attempt's details)."""

    agent: str
    outcome: Outcome
    hresult: HResult
    message: str
    components: tuple[str, ...] = ()
    volumes: tuple[str, ...] = ()
    snapshot_set_id: uuid.UUID | None = None
    commit_seq: int | None = None
    files: tuple[CopiedFile, ...] = ()
    writer_status: tuple[WriterStatus, ...] = ()
    started_us: int = 0
    finished_us: int = 0
    attempts: tuple[Attempt, ...] = ()
    skipped: tuple[str, ...] = ()
    document: BackupComponentsDocument | None = None
    #: The components in ``skipped``, each with why it was left out.
    left_out: tuple[LeftOut, ...] = ()

    @property
    def succeeded(self) -> bool:
        """True if the backup completed, with every component or some skipped."""
        return self.outcome in (Outcome.SUCCEEDED, Outcome.PARTIAL)

    @property
    def bytes_copied(self) -> int:
        """Sum of the copied files' sizes."""
        return sum(f.size_bytes for f in self.files)


def verify_copy(namespace: Namespace, result: BackupResult) -> list[str]:
    """Compare every copied file with its volume's content at the commit instant (a partial
    copy: the blocks of its ranges).

    The expected content is rebuilt from the volume's write history, not read through the
    shadow copy, so this checks the provider rather than trusting it. Returns the mismatches.
    """
    if result.commit_seq is None:
        return []
    problems = []
    for copied in result.files:
        # Where the file lay when it was copied: it may have been deleted or replaced since.
        volume = namespace.volume_labelled(copied.volume)
        at_commit = volume.content_at(result.commit_seq)
        first, end = copied.first_block, copied.first_block + copied.block_count
        expected = {b: d for b, d in at_commit.items() if first <= b < end}
        if copied.ranges is not None:  # a partial copy holds the blocks of its ranges only
            held = set(partial_blocks(copied.ranges, volume.block_size, copied.block_count))
            expected = {b: d for b, d in expected.items() if b - first in held}
        if dict(copied.data) != expected:
            differing = sorted(
                set(expected) ^ set(copied.data)
                | {b for b in expected if b in copied.data and expected[b] != copied.data[b]}
            )
            problems.append(f"{copied.path}: blocks {differing[:5]} differ from the commit instant")
    return problems
