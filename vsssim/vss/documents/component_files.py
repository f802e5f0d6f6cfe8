"""The files of a backed-up component that were not simply copied whole: partial files
(``IVssComponent::AddPartialFile``) and differenced files
(``IVssComponent::AddDifferencedFilesByLastModifyTime``), as values of the Backup Components
Document (:mod:`vsssim.vss.documents.backup_document` writes and reads them)."""

from __future__ import annotations

import attrs

from vsssim.errors import HResult, VssError


@attrs.frozen
class PartialFile:
    """A file of which only some byte ranges were backed up (``IVssComponent::AddPartialFile``).

    ``ranges`` are (offset, length) pairs in bytes from the start of the file, ascending and
    not overlapping; none at all means nothing of the file changed, so nothing was copied
    (*assumption*: VSS asks for at least one range; vsssim lets a writer say "unchanged" this
    way so that the document still lists every file of the component). A restore writes these
    ranges into the file already on disk, restored from the earlier backups of the chain.
    ``metadata`` is the writer's own, opaque to the requester.
    """

    path: str
    ranges: tuple[tuple[int, int], ...] = ()
    metadata: str = ""

    def __attrs_post_init__(self) -> None:
        end = 0
        for offset, length in self.ranges:
            if offset < end or length <= 0:
                raise VssError(
                    HResult.E_INVALIDARG,
                    f"partial file {self.path!r}: the ranges {self.ranges_text()!r} are not "
                    "ascending, non-overlapping (offset, length) pairs with positive lengths",
                )
            end = offset + length

    @property
    def bytes(self) -> int:
        """How many bytes the ranges cover."""
        return sum(length for _, length in self.ranges)

    def ranges_text(self) -> str:
        """The ranges in ``AddPartialFile``'s syntax: ``offset:length,offset:length``."""
        return ",".join(f"{offset}:{length}" for offset, length in self.ranges)


@attrs.frozen
class DifferencedFiles:
    """Files to back up whole if they changed since a time
    (``IVssComponent::AddDifferencedFilesByLastModifyTime``, read back with
    ``GetDifferencedFile``): the files under ``path`` named by ``filespec`` (in the folders
    below too with ``recursive``) whose last modification is later than
    ``last_modify_time_us``, a time on the simulation's clock in microseconds (VSS's
    ``FILETIME``). A file the specification names that did not change since is not copied."""

    path: str
    filespec: str
    recursive: bool = False
    last_modify_time_us: int = 0
