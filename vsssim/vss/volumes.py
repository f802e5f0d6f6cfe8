"""Volumes: sparse block devices with a write gate and copy-on-write hooks.

A volume stores only the blocks ever written (memory grows with writes, not with size). Its
*write gate* is open, or *held* during a shadow copy commit: held writes queue in issue order and
are applied at release, none lost. Copy-on-write observers (the software provider's diff areas)
see each block's old content before it is overwritten.

Of its past a volume keeps what something will read (:mod:`vsssim.vss.volume_images`): its image
at the instants marked with :meth:`Volume.keep_image` (commits, splits, restores), when each block
was last written, and the applied issue numbers as runs, so memory stays flat in simulated time.
Volumes made inside :func:`keeping_history` also keep every write (:attr:`Volume.history`) and
answer from it: the ground truth the bounded state is tested against.
"""

from __future__ import annotations

import contextlib
import functools
import uuid
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, NamedTuple, Protocol

import attrs

from vsssim.errors import ConfigurationError, ImageNotKept
from vsssim.sim import vocabulary as V
from vsssim.sim.trace import Json, TraceRecord
from vsssim.vss.volume_images import ImageLog, issue_problems, lay_back, stamps_back

if TYPE_CHECKING:
    from vsssim.sim.kernel import Simulation

#: The namespace all deterministic GUIDs of a run are derived from.
VSSSIM_NAMESPACE = uuid.UUID("6f1d6a3e-3a8f-5b6c-9d3e-7a2b4c5d6e7f")


@functools.lru_cache(maxsize=1 << 14)
def deterministic_guid(name: str) -> uuid.UUID:
    """``uuid5(VSSSIM_NAMESPACE, name)``, remembered: runs ask for the same names again and
    again (the n-th set, the n-th snapshot...), and a GUID is immutable."""
    return uuid.uuid5(VSSSIM_NAMESPACE, name)


#: Default cluster size, in bytes.
DEFAULT_BLOCK_SIZE = 4096

_new_tuple = tuple.__new__
#: The file systems a Windows volume may have (a scenario file names one of these).
FILE_SYSTEMS = ("NTFS", "ReFS", "FAT", "FAT32", "exFAT", "UDF", "CDFS")


#: Whether volumes made now keep every write (see :func:`keeping_history`).
_KEEP_HISTORY = [False]


@contextlib.contextmanager
def keeping_history() -> Iterator[None]:
    """Volumes made inside keep every write and answer every question from that full record.

    A testing and debugging mode: memory grows with the writes again, but the answers are the
    ground truth the bounded state (what volumes keep otherwise) must agree with."""
    before = _KEEP_HISTORY[0]
    _KEEP_HISTORY[0] = True
    try:
        yield
    finally:
        _KEEP_HISTORY[0] = before


def _keeping() -> bool:
    return _KEEP_HISTORY[0]


class CopyOnWrite(Protocol):
    """Something that must see a block's old content before the block is overwritten."""

    def before_write(self, block: int, old: bytes | None) -> None: ...


class AppliedWrite(NamedTuple):
    """A write as it landed on the volume: trace sequence number, block, content, who wrote it.

    ``data`` is None when the block was emptied (a storage array copied a never-written block
    of another volume over it). ``issue`` numbers the host's writes in issue order; it is 0
    for what a storage array wrote from below the host. A named tuple, not an attrs class:
    a volume keeping its history keeps one per write, so it is built as cheaply as Python
    builds anything.
    """

    seq: int
    time_us: int
    block: int
    data: bytes | None
    origin: str
    issue: int


@attrs.frozen
class _PendingWrite:
    block: int
    data: bytes
    origin: str
    issue: int
    issued_us: int


@attrs.define(eq=False)
class Volume:
    """A block device. ``name`` is its ``\\\\?\\Volume{GUID}\\`` path; ``label`` a short name."""

    sim: Simulation = attrs.field(repr=False)
    label: str
    size_bytes: int
    block_size: int = DEFAULT_BLOCK_SIZE
    file_system: str = "NTFS"
    name: str = attrs.field(default="")
    marked_by: str | None = attrs.field(default=None, init=False)
    #: Whether the volume keeps every write in :attr:`history` (see :func:`keeping_history`).
    keep_history: bool = attrs.field(factory=_keeping, kw_only=True, repr=False)
    #: Every write, in the order it landed: kept only with :attr:`keep_history`.
    history: list[AppliedWrite] = attrs.field(factory=list, init=False, repr=False)
    _blocks: dict[int, bytes] = attrs.field(factory=dict, init=False, repr=False)
    _held: list[_PendingWrite] | None = attrs.field(default=None, init=False, repr=False)
    _held_by: str | None = attrs.field(default=None, init=False)
    _observers: list[CopyOnWrite] = attrs.field(factory=list, init=False, repr=False)
    _issued: int = attrs.field(default=0, init=False)
    _next_free: int = attrs.field(default=0, init=False)
    # What is kept of the past (vsssim.vss.volume_images): the marked images, each block's
    # last write time, the first and last writes' sequence numbers, the applied issue runs.
    _images: ImageLog = attrs.field(factory=ImageLog, init=False, repr=False)
    _stamps: dict[int, int] = attrs.field(factory=dict, init=False, repr=False)
    _first_write: int | None = attrs.field(default=None, init=False)
    _last_write: int = attrs.field(default=-1, init=False)
    _applied: int = attrs.field(default=0, init=False)
    _runs: list[tuple[int, int]] = attrs.field(factory=list, init=False, repr=False)
    _run_start: int = attrs.field(default=1, init=False)
    _run_end: int = attrs.field(default=1, init=False)

    def __attrs_post_init__(self) -> None:
        if self.size_bytes < self.block_size or self.size_bytes % self.block_size:
            raise ConfigurationError(
                f"volume {self.label!r}: size {self.size_bytes} is not a positive multiple "
                f"of the block size {self.block_size}"
            )
        if not self.name:
            guid = deterministic_guid(f"volume:{self.label}")
            self.name = f"\\\\?\\Volume{{{guid}}}\\"

    # -- geometry ------------------------------------------------------------------------
    @property
    def block_count(self) -> int:
        """How many blocks the volume has."""
        return self.size_bytes // self.block_size

    @property
    def blocks_in_use(self) -> int:
        """How many blocks hold data (what the volume costs in memory)."""
        return len(self._blocks)

    def allocate(self, count: int) -> int:
        """Reserve ``count`` contiguous blocks for a file; returns the first."""
        if count <= 0:
            raise ConfigurationError(f"a file needs at least one block (got {count})")
        start = self._next_free
        if start + count > self.block_count:
            raise ConfigurationError(
                f"volume {self.label!r} is full: {count} blocks asked, "
                f"{self.block_count - start} free"
            )
        self._next_free = start + count
        return start

    def _check_block(self, block: int) -> None:
        if not 0 <= block < self.block_count:
            raise ValueError(
                f"block {block} is outside volume {self.label!r} (0..{self.block_count - 1})"
            )

    # -- data ----------------------------------------------------------------------------
    def read(self, block: int) -> bytes | None:
        """The block's current content (None: never written, reads as zeros)."""
        self._check_block(block)
        return self._blocks.get(block)

    def written_blocks(self, blocks: range) -> list[int]:
        """The blocks of ``blocks`` that hold data, in ascending order."""
        if len(blocks) <= len(self._blocks):
            return [b for b in blocks if b in self._blocks]
        return sorted(b for b in self._blocks if b in blocks)

    def content_at(self, seq: int) -> dict[int, bytes]:
        """The volume's written blocks as they were once trace record ``seq`` had happened.

        Rebuilt from what the volume kept of its writes, independently of any shadow copy: the
        ground truth the point-in-time checks compare against. Answers for now, for before
        the first write, and for a marked instant until the next write after it
        (:meth:`keep_image`); anything else raises :class:`ImageNotKept` unless the volume keeps
        its history.
        """
        if self.keep_history:
            return self._history_content_at(seq)
        return self.kept_content_at(seq)

    def kept_content_at(self, seq: int) -> dict[int, bytes]:
        """:meth:`content_at` from the bounded state alone (what a volume keeps by default)."""
        if self._first_write is None or seq < self._first_write:
            return {}
        chain = self._images.chain(seq, self._first_write, self._last_write)
        if chain is None:
            raise ImageNotKept(f"volume {self.label!r} kept no image of instant {seq}")
        return lay_back(self._blocks, chain)

    def _history_content_at(self, seq: int) -> dict[int, bytes]:
        content: dict[int, bytes] = {}
        for write in self.history:
            if write.seq > seq:
                break
            if write.data is None:
                content.pop(write.block, None)
            else:
                content[write.block] = write.data
        return content

    def keep_image(self, seq: int) -> None:
        """Mark instant ``seq`` (a trace record, at or after every write applied so far): the
        volume as it is then will be read later (:meth:`content_at`, :meth:`written_between`,
        :meth:`last_written_us`). From now on each block's first write keeps its old content,
        until the next mark."""
        self._images.keep(seq, self._last_write)

    def written_between(self, after_seq: int, upto_seq: int | None = None) -> set[int]:
        """The blocks written after trace record ``after_seq`` (a marked instant) and up to
        ``upto_seq`` (included; a marked instant, or None: now)."""
        if self.keep_history:
            return {
                w.block
                for w in self.history
                if w.seq > after_seq and (upto_seq is None or w.seq <= upto_seq)
            }
        return self.kept_written_between(after_seq, upto_seq)

    def kept_written_between(self, after_seq: int, upto_seq: int | None = None) -> set[int]:
        """:meth:`written_between` from the bounded state alone."""
        found = self._images.written_between(
            after_seq, upto_seq, self._first_write, self._last_write
        )
        if found is None:
            raise ImageNotKept(
                f"volume {self.label!r} kept no record of the writes in ({after_seq}, {upto_seq}]"
            )
        return found

    def last_written_us(self, blocks: range, upto_seq: int | None = None) -> int:
        """When one of ``blocks`` was last written up to trace record ``upto_seq`` (None: now;
        else a marked instant), in simulated microseconds; 0 if never."""
        if self.keep_history:
            for write in reversed(self.history):
                if (upto_seq is None or write.seq <= upto_seq) and write.block in blocks:
                    return write.time_us
            return 0
        return self.kept_last_written_us(blocks, upto_seq)

    def kept_last_written_us(self, blocks: range, upto_seq: int | None = None) -> int:
        """:meth:`last_written_us` from the bounded state alone."""
        if self._first_write is None or (upto_seq is not None and upto_seq < self._first_write):
            return 0
        stamps = self._stamps
        if upto_seq is not None and upto_seq < self._last_write:
            chain = self._images.chain(upto_seq, self._first_write, self._last_write)
            if chain is None:
                raise ImageNotKept(f"volume {self.label!r} kept no image of instant {upto_seq}")
            stamps = stamps_back(stamps, chain)
        if len(blocks) <= len(stamps):
            times = [stamps[b] for b in blocks if b in stamps]
        else:
            times = [t for b, t in stamps.items() if b in blocks]
        return max(times, default=0)

    def write(self, block: int, data: bytes, origin: str, *, batch: bool = False) -> bool:
        """Issue a write. Returns True if it landed now, False if the gate held it.

        ``batch`` (an application's write): in a trace that batches writes
        (:attr:`Trace.batch_writes <vsssim.sim.trace.Trace.batch_writes>`) it lands counted in
        a ``writes`` record rather than in a ``write`` record of its own. A held write always
        has its own ``write held`` record, and its own ``write`` record when it lands."""
        if not 0 <= block < self.size_bytes // self.block_size:  # _check_block, inline
            self._check_block(block)
        if len(data) > self.block_size:
            raise ValueError(f"{len(data)} bytes do not fit a {self.block_size}-byte block")
        if type(origin) is not str:  # the trace takes it as it is (record_plain)
            raise TypeError(f"a write's origin is a str, not {type(origin).__name__}")
        self._issued = issue = self._issued + 1
        if self._held is not None:
            self._held.append(_PendingWrite(block, data, origin, issue, self.sim.now))
            self.sim.trace.record(
                None,
                self.label,
                V.WRITE_HELD,
                block=block,
                origin=origin,
                issue=issue,
                held_by=self._held_by,
            )
            return False
        self._apply(block, data, origin, issue, batch)
        return True

    def _apply(
        self,
        block: int,
        data: bytes | None,
        origin: str,
        issue: int,
        batch: bool = False,
        covered: TraceRecord | None = None,
    ) -> None:
        """Land a write (``data`` None: the block emptied): copy-on-write observers see the old
        content first; the trace records it, unless ``covered`` is the record that covers it
        (a storage array's copy); the volume keeps what its readers need (the module docstring
        says what). One function for both: it is the path of every write."""
        blocks = self._blocks
        old = blocks.get(block)
        if self._observers:
            for observer in tuple(self._observers):  # an observer may drop out meanwhile
                observer.before_write(block, old)
        if data is not None:
            blocks[block] = data
        else:
            blocks.pop(block, None)
        if covered is not None:
            seq, time_us = covered.seq, covered.time_us
        elif batch and self.sim.trace.batch_writes:
            seq, time_us = self.sim.trace.batched(self.label, V.WRITES, origin, issue), self.sim.now
        else:
            details: dict[str, Json] = {
                "block": block,
                "data": None if data is None else data.decode("latin-1"),
                "origin": origin,
                "issue": issue,
            }
            rec = self.sim.trace.record_plain(None, self.label, V.WRITE, details)
            seq, time_us = rec.seq, rec.time_us
        stamps = self._stamps
        images = self._images.images
        if images:
            top = images[-1]
            if seq > top.seq:
                if block not in top.undo:
                    top.undo[block] = (old, stamps.get(block))
                if top.next_write is None:
                    top.next_write = seq
            else:
                self._images.late(seq, block, old, stamps.get(block))
        stamps[block] = time_us
        if self._first_write is None:
            self._first_write = seq
        self._last_write = seq
        self._applied += 1
        if issue:
            if issue == self._run_end:
                self._run_end += 1
            else:  # a write lost, doubled or out of order: a new run
                if self._run_end > self._run_start:
                    self._runs.append((self._run_start, self._run_end))
                self._run_start, self._run_end = issue, issue + 1
        if self.keep_history:
            # AppliedWrite(...) without the call to its __new__.
            self.history.append(
                _new_tuple(AppliedWrite, (seq, time_us, block, data, origin, issue))
            )

    def replace(self, blocks: Mapping[int, bytes | None], origin: str) -> int:
        """Overwrite ``blocks`` from below the host, as a storage array copying tracks does.

        The write gate does not apply (it is the host's); copy-on-write observers still see
        the old contents, and the volume keeps every block as written (None: emptied), so
        ground-truth checks keep holding. One trace record covers the copy. Returns how many
        blocks changed.
        """
        changed = {b: d for b, d in sorted(blocks.items()) if self._blocks.get(b) != d}
        if not changed:
            return 0
        rec = self.sim.trace.record(
            None, self.label, V.BLOCKS_REPLACED, blocks=len(changed), origin=origin
        )
        for block, data in changed.items():
            self._check_block(block)
            self._apply(block, data, origin, 0, covered=rec)
        return len(changed)

    # -- the write gate ------------------------------------------------------------------
    @property
    def held(self) -> bool:
        """True while writes are being held."""
        return self._held is not None

    @property
    def writes_issued(self) -> int:
        """How many writes were issued to the volume (landed or held)."""
        return self._issued

    @property
    def writes_applied(self) -> int:
        """How many writes landed (a storage array's copy counts each block it changed)."""
        return self._applied

    def applied_issue_runs(self) -> list[tuple[int, int]]:
        """The issue numbers of the host's writes in the order they landed, as runs of
        consecutive numbers ``[start, end)`` (one run, ``(1, writes_issued + 1)``, when every
        write landed once in issue order)."""
        if self.keep_history:
            runs: list[tuple[int, int]] = []
            for write in self.history:
                if not write.issue:
                    continue
                if runs and runs[-1][1] == write.issue:
                    runs[-1] = (runs[-1][0], write.issue + 1)
                else:
                    runs.append((write.issue, write.issue + 1))
            return runs
        return self.kept_issue_runs()

    def kept_issue_runs(self) -> list[tuple[int, int]]:
        """:meth:`applied_issue_runs` from the bounded state alone."""
        runs = list(self._runs)
        if self._run_end > self._run_start:
            runs.append((self._run_start, self._run_end))
        return runs

    def lost_write_problems(self) -> list[str] | None:
        """None if every issued write landed once, in issue order; else what went wrong."""
        return issue_problems(self.applied_issue_runs(), self._issued)

    @property
    def pending_writes(self) -> int:
        """How many writes wait behind the gate."""
        return len(self._held) if self._held is not None else 0

    def hold(self, holder: str) -> None:
        """Close the gate: writes issued from now on wait until :meth:`release`."""
        if self._held is not None:
            raise RuntimeError(f"volume {self.label!r} is already held by {self._held_by}")
        self._held = []
        self._held_by = holder

    def release(self) -> int:
        """Open the gate and apply the held writes in issue order. Returns how many."""
        if self._held is None:
            return 0
        pending, self._held, self._held_by = self._held, None, None
        for write in pending:
            self._apply(write.block, write.data, write.origin, write.issue)
        return len(pending)

    # -- copy-on-write -------------------------------------------------------------------
    def add_observer(self, observer: CopyOnWrite) -> None:
        """Have ``observer`` see old block contents from now on."""
        self._observers.append(observer)

    def remove_observer(self, observer: CopyOnWrite) -> None:
        """Stop notifying ``observer``."""
        self._observers.remove(observer)
