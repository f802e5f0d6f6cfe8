"""What a volume keeps of its past instead of every write: the images something will read.

A volume that kept every write forever grew without bound over simulated time (about 640 B a
write, some 24 GB for a day of the demo's applications). What its readers need of the past is
narrower: the volume at a few instants marked *before* they are read (a shadow copy set's
commit, an array pair's split, a file's restore), when a block was last written (differenced
files), which blocks were written between two marked instants (partial files, log
truncation), and whether every issued write landed once, in issue order (``no write lost``).

So a volume keeps its current image and, for each marked instant, a copy-on-write *undo map*:
the old content (and last-write time) of each block the first time it is written after that
instant and before the next one. The image at a marked instant is the current image with the
undo maps from the newest back to that instant laid over it. The applied issue numbers are
kept as runs of consecutive numbers (one run when nothing went wrong). Memory then grows with
the blocks written between marked instants, not with the writes.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Sequence

import attrs

from vsssim.errors import ImageNotKept

#: An undo entry: a block's content at the marked instant (None: none) and the time of its
#: last write by then (None: never written).
Undo = tuple[bytes | None, int | None]


@attrs.define(slots=True)
class KeptImage:
    """A marked instant ``seq`` and the undo map of the writes after it, until the next one.

    ``since`` is the sequence number of the last write at or before ``seq``, ``next_write``
    that of the first write after it: the volume is this image over ``[since, next_write)``,
    so any record in there can be answered."""

    seq: int
    since: int
    undo: dict[int, Undo] = attrs.field(factory=dict)
    next_write: int | None = None


@attrs.define
class ImageLog:
    """The marked instants of one volume, oldest first (see the module docstring)."""

    images: list[KeptImage] = attrs.field(factory=list)
    _seqs: list[int] = attrs.field(factory=list)

    def keep(self, seq: int, last_write: int) -> None:
        """Mark instant ``seq``: it can be read later. The writes applied so far must all be
        at or before it (``last_write``: the newest one's sequence number, -1 if none)."""
        if seq < last_write:
            raise ImageNotKept(
                f"instant {seq} is marked after a write at {last_write}: mark it before"
            )
        seqs = self._seqs
        if seqs and seqs[-1] >= seq:
            if seq not in seqs:  # no write since the newer mark: the same image
                at = bisect.bisect_left(seqs, seq)
                seqs.insert(at, seq)
                newer = self.images[at]
                self.images.insert(at, KeptImage(seq, last_write, {}, newer.next_write))
            return
        seqs.append(seq)
        self.images.append(KeptImage(seq, last_write))

    def late(self, seq: int, block: int, old: bytes | None, stamp: int | None) -> None:
        """A write at ``seq``, at or before the newest mark (a batch counting on after it
        was marked): it belongs to the interval of the newest mark before ``seq``."""
        at = bisect.bisect_left(self._seqs, seq)
        if at < len(self.images):  # the newer image holds from this write on
            newer = self.images[at]
            newer.since = max(newer.since, seq)
        if at == 0:
            return
        image = self.images[at - 1]
        if block not in image.undo:
            image.undo[block] = (old, stamp)
        if image.next_write is None or seq < image.next_write:
            image.next_write = seq

    def chain(self, seq: int, first_write: int | None, last_write: int) -> list[KeptImage] | None:
        """The undo maps that take the current image back to instant ``seq``, newest first
        (empty: it is the current image), or None if nothing kept answers for ``seq``."""
        if first_write is None or seq >= last_write:
            return []
        at = self._index(seq)
        return None if at is None else self.images[at:][::-1]

    def written_between(
        self, after: int, upto: int | None, first_write: int | None, last_write: int
    ) -> set[int] | None:
        """The blocks written after instant ``after`` and up to ``upto`` (None: now), or
        None if the marks kept do not tell."""
        if first_write is None or after >= last_write:
            return set()
        start = self._index(after)
        if start is None:
            return None
        end = len(self.images)
        if upto is not None and upto < last_write:
            stop = self._index(upto)
            if stop is None:
                return None
            end = stop
        blocks: set[int] = set()
        for image in self.images[start:end]:
            blocks.update(image.undo)
        return blocks

    def _index(self, seq: int) -> int | None:
        """The index of the mark whose image the volume is at ``seq``, or None."""
        at = bisect.bisect_right(self._seqs, seq) - 1
        if at >= 0:
            next_write = self.images[at].next_write
            if next_write is None or seq < next_write:
                return at
        if at + 1 < len(self.images) and self.images[at + 1].since <= seq:
            return at + 1  # no write between ``seq`` and the next mark
        return None


def lay_back(current: dict[int, bytes], chain: Sequence[KeptImage]) -> dict[int, bytes]:
    """The current image with the undo maps of ``chain`` (newest first) laid over it."""
    content = dict(current)
    for image in chain:
        for block, (data, _) in image.undo.items():
            if data is None:
                content.pop(block, None)
            else:
                content[block] = data
    return content


def stamps_back(current: dict[int, int], chain: Sequence[KeptImage]) -> dict[int, int]:
    """The blocks' last-write times at the instant ``chain`` leads back to."""
    stamps = dict(current)
    for image in chain:
        for block, (_, stamp) in image.undo.items():
            if stamp is None:
                stamps.pop(block, None)
            else:
                stamps[block] = stamp
    return stamps


def issue_problems(runs: Sequence[tuple[int, int]], issued: int) -> list[str] | None:
    """What went wrong with the applied issue numbers ``runs`` (runs ``[start, end)`` in
    applied order) against ``1..issued``: None if they are exactly that, else the parts of the
    ``no write lost`` verdict (lost, applied twice, out of order)."""
    if (issued == 0 and not runs) or list(runs) == [(1, issued + 1)]:
        return None
    total = sum(end - start for start, end in runs)
    covered = _union(runs)
    distinct = sum(end - start for start, end in covered)
    parts = []
    missing = issued - distinct
    if missing:
        first = 1
        for start, end in covered:
            if start > first:
                break
            first = max(first, end)
        parts.append(f"{missing} lost (first issue #{first})")
    if total - distinct:
        parts.append(f"{total - distinct} applied twice")
    if any(b[0] < a[1] - 1 for a, b in itertools.pairwise(runs)):
        parts.append("applied out of issue order")
    return parts


def _union(runs: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """Runs ``[start, end)`` merged, ascending."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(runs):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged
