"""An HP StorageWorks Disk Array XP: LDEVs, Business Copy pairs and Snapshot pairs.

LDEVs are addressed ``CU:LDEV`` (``01:2A``) and presented to the host as volumes; like every
volume they are sparse. A **Business Copy** pair mirrors a P-VOL onto an S-VOL of the same size
under a mirror unit (MU 0-2); while split, each side notes the *tracks* it changes (the
differential bitmap), so a resync copies only those, and copies take simulated time in
proportion to them, not to the volume's size. A **Snapshot** pair keeps copy-on-write data in a
pool of fixed capacity: when the pool overflows the pair is suspended (``PSUE``) and the
snapshot is lost.

Commands follow RAID Manager (``paircreate``, ``pairsplit``, ``pairresync``, ``pairresync
-restore``, ``pairsplit -S``); a command the pair's state does not accept raises
:class:`~vsssim.vss.providers.xp.pairs.PairCommandError`, and a refused command changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

import attrs

from vsssim.errors import ConfigurationError
from vsssim.sim import vocabulary as V
from vsssim.sim.kernel import MILLISECOND, Process, ProcessGenerator
from vsssim.vss.providers.xp.pairs import (
    COPYING,
    RAID_MANAGER_STATUS,
    PairCommand,
    PairState,
    pair_next_state,
)
from vsssim.vss.volumes import Volume

if TYPE_CHECKING:
    from vsssim.sim.kernel import Simulation

#: Mirror units of Business Copy (first-level S-VOLs per P-VOL).
BC_MIRROR_UNITS = 3
#: Snapshot pairs per P-VOL.
SNAPSHOT_MIRROR_UNITS = 64
#: Pairs an array holds.
MAX_PAIRS = 8192

_ADDRESS = re.compile(r"^[0-9A-F]{2}:[0-9A-F]{2}$")
_C = PairCommand
_P = PairState


@attrs.define(eq=False)
class Ldev:
    """A logical device of the array, seen by the host as ``volume``."""

    address: str
    volume: Volume

    def __str__(self) -> str:
        return self.address


@attrs.define(eq=False)
class Pool:
    """A Snapshot pool: where copy-on-write data of snapshot pairs goes."""

    pool_id: int
    capacity_bytes: int
    used_bytes: int = 0
    peak_bytes: int = 0  # the most it ever held


@attrs.frozen
class PairStatus:
    """One pair in ``pairdisplay``: RAID Manager's status of each side (``status`` of the
    P-VOL, ``svol_status`` of the S-VOL: ``PSUS`` / ``SSUS`` once split) and, as detail, the
    array's finer ``state`` (``PSUS(SP)``, ``COPY(RS)``...)."""

    group: str
    kind: str
    pvol: str
    svol: str
    mu: int
    state: PairState
    percent: int

    @property
    def status(self) -> str:
        """The P-VOL's status as RAID Manager prints it (``COPY``, ``PAIR``, ``PSUS``...)."""
        return RAID_MANAGER_STATUS[self.state][0]

    @property
    def svol_status(self) -> str:
        """The S-VOL's status as RAID Manager prints it (``SSUS`` for a split S-VOL)."""
        return RAID_MANAGER_STATUS[self.state][1]


@attrs.define(eq=False)
class _Bitmap:
    """Notes the tracks written on one side of a pair (the differential bitmap)."""

    blocks_per_track: int
    tracks: set[int] = attrs.field(factory=set)

    def before_write(self, block: int, old: bytes | None) -> None:
        self.tracks.add(block // self.blocks_per_track)


@attrs.define(eq=False)
class Pair:
    """A pair of the array (Business Copy, or Snapshot when ``pool`` is set)."""

    array: XpArray = attrs.field(repr=False)
    group: str
    pvol: Ldev
    svol: Ldev
    mu: int
    pool: Pool | None = None
    state: PairState = PairState.SMPL
    #: Trace seq and time of the last split: the instant the S-VOL's image is of.
    split_seq: int | None = None
    split_us: int | None = None
    invalid_reason: str = ""
    _p_bits: _Bitmap | None = attrs.field(default=None, repr=False)
    _s_bits: _Bitmap | None = attrs.field(default=None, repr=False)
    _preserved: dict[int, bytes | None] = attrs.field(factory=dict, repr=False)
    _copy: Process | None = attrs.field(default=None, repr=False)
    _copy_span: tuple[int, int] = (0, 0)
    _generation: int = 0
    _image_pending: bool = False  # a steady split waits for the running copy
    _watching: bool = False  # a snapshot's copy-on-write is on the P-VOL

    @property
    def kind(self) -> str:
        """``BC`` (Business Copy) or ``SS`` (Snapshot)."""
        return "SS" if self.pool is not None else "BC"

    @property
    def name(self) -> str:
        """How errors and the trace name the pair: ``VSSGRP 01:20->01:30 MU0``."""
        return f"{self.group} {self.pvol}->{self.svol} MU{self.mu}"

    @property
    def preserved_bytes(self) -> int:
        """Bytes of copy-on-write data a snapshot pair holds in its pool."""
        size = self.pvol.volume.block_size
        return size * sum(1 for data in self._preserved.values() if data is not None)

    @property
    def copy_done(self) -> Process | None:
        """The running copy (initial copy, resync, restore or split), if any."""
        return self._copy if self.state in COPYING else None

    def differing_tracks(self) -> set[int]:
        """Tracks that differ between P-VOL and S-VOL (what a resync or restore copies)."""
        if self.state is _P.PSUE:
            return self._tracks_with_data()
        tracks: set[int] = set()
        for bits in (self._p_bits, self._s_bits):
            if bits is not None:
                tracks |= bits.tracks
        return tracks

    def _tracks_with_data(self) -> set[int]:
        per = self.array.blocks_per_track
        tracks: set[int] = set()
        for volume in (self.pvol.volume, self.svol.volume):
            tracks.update(b // per for b in volume.written_blocks(range(volume.block_count)))
        return tracks

    # -- reading the S-VOL image -------------------------------------------------------
    def read(self, block: int) -> bytes | None:
        """A block of the S-VOL's image (a snapshot reads through to the P-VOL)."""
        if self.pool is None:
            return self.svol.volume.read(block)
        if block in self._preserved:
            return self._preserved[block]
        return self.pvol.volume.read(block)

    def read_range(self, blocks: range) -> dict[int, bytes]:
        """The written blocks of ``blocks`` in the S-VOL's image."""
        if self.pool is None:
            volume = self.svol.volume
            return {b: d for b in volume.written_blocks(blocks) if (d := volume.read(b))}
        candidates = set(self.pvol.volume.written_blocks(blocks))
        candidates.update(b for b in self._preserved if b in blocks)
        result = {}
        for block in sorted(candidates):
            data = self.read(block)
            if data is not None:
                result[block] = data
        return result

    # -- copy-on-write into the pool (snapshot pairs) ------------------------------------
    def before_write(self, block: int, old: bytes | None) -> None:
        if block in self._preserved or self.pool is None:
            return
        cost = 0 if old is None else self.pvol.volume.block_size
        if self.pool.used_bytes + cost > self.pool.capacity_bytes:
            self.array.suspend(self, f"pool {self.pool.pool_id} is full")
            return
        self.pool.used_bytes += cost
        self.pool.peak_bytes = max(self.pool.peak_bytes, self.pool.used_bytes)
        self._preserved[block] = old


class XpArray:
    """One XP disk array, its LDEVs, pools and pairs, on the simulated clock."""

    def __init__(
        self,
        sim: Simulation,
        serial: int = 10053,
        *,
        track_bytes: int = 256 * 1024,
        track_copy_us: int = 2 * MILLISECOND,
        name: str = "",
    ) -> None:
        self.sim = sim
        self.serial = serial
        self.track_bytes = track_bytes
        self.track_copy_us = track_copy_us
        self.name = name or f"XP array {serial}"
        self.ldevs: dict[str, Ldev] = {}
        self.pools: dict[int, Pool] = {}
        self.pairs: list[Pair] = []
        self._ldev_of: dict[Volume, Ldev] = {}

    @property
    def blocks_per_track(self) -> int:
        """Blocks of the LDEVs' block size in one track."""
        return max(1, self.track_bytes // 4096)

    # -- configuration -------------------------------------------------------------------
    def add_ldev(
        self, address: str, capacity_bytes: int, *, label: str = "", file_system: str = "NTFS"
    ) -> Ldev:
        """A new LDEV at ``CU:LDEV`` (two hex digits each), as a volume for the host."""
        address = address.upper()
        if not _ADDRESS.match(address):
            raise ConfigurationError(f"LDEV address {address!r} is not CU:LDEV like '01:2A'")
        if address in self.ldevs:
            raise ConfigurationError(f"{self.name} has LDEV {address} already")
        volume = Volume(
            self.sim,
            label or f"XP{self.serial}-{address}",
            capacity_bytes,
            file_system=file_system,
        )
        ldev = self.ldevs[address] = Ldev(address, volume)
        self._ldev_of[volume] = ldev
        return ldev

    def remove_ldev(self, ldev: Ldev) -> None:
        """Delete an unpaired LDEV (its data goes with it)."""
        if self.pair_using(ldev) is not None:
            raise ConfigurationError(f"LDEV {ldev} is paired; delete the pair first")
        del self.ldevs[ldev.address]
        del self._ldev_of[ldev.volume]

    def ldev(self, address: str) -> Ldev:
        """The LDEV at ``address``."""
        try:
            return self.ldevs[address.upper()]
        except KeyError:
            raise ConfigurationError(f"{self.name} has no LDEV {address!r}") from None

    def ldev_of(self, volume: Volume) -> Ldev | None:
        """The LDEV behind a host volume (None: not on this array)."""
        return self._ldev_of.get(volume)

    def add_pool(self, pool_id: int, capacity_bytes: int) -> Pool:
        """A Snapshot pool of fixed capacity."""
        if pool_id in self.pools:
            raise ConfigurationError(f"{self.name} has pool {pool_id} already")
        pool = self.pools[pool_id] = Pool(pool_id, capacity_bytes)
        return pool

    def pool(self, pool_id: int) -> Pool:
        """The Snapshot pool ``pool_id``."""
        try:
            return self.pools[pool_id]
        except KeyError:
            raise ConfigurationError(f"{self.name} has no pool {pool_id}") from None

    def pair_using(self, ldev: Ldev) -> Pair | None:
        """The pair ``ldev`` is the S-VOL of, or the first it is the P-VOL of (None: SMPL)."""
        for pair in self.pairs:
            if pair.svol is ldev:
                return pair
        return next((p for p in self.pairs if p.pvol is ldev), None)

    def pairs_of(self, pvol: Ldev) -> list[Pair]:
        """The pairs whose P-VOL is ``pvol``, by mirror unit."""
        return sorted((p for p in self.pairs if p.pvol is pvol), key=lambda p: (p.kind, p.mu))

    # -- commands ------------------------------------------------------------------------
    def paircreate(
        self, pvol: Ldev, svol: Ldev, mu: int, *, group: str = "VSSGRP", pool: Pool | None = None
    ) -> Pair:
        """Pair ``pvol`` with ``svol`` under ``mu``: a Business Copy pair starts its initial
        copy (``COPY(PD)``, then ``PAIR``); a Snapshot pair (``pool`` given) is ``PAIR`` at
        once and takes its snapshot when split."""
        units = SNAPSHOT_MIRROR_UNITS if pool is not None else BC_MIRROR_UNITS
        if not 0 <= mu < units:
            raise ConfigurationError(f"MU {mu} is out of range 0..{units - 1}")
        if pvol is svol:
            raise ConfigurationError(f"LDEV {pvol} cannot be paired with itself")
        if svol.volume.size_bytes != pvol.volume.size_bytes:
            raise ConfigurationError(
                f"S-VOL {svol} ({svol.volume.size_bytes} bytes) is not the size of P-VOL "
                f"{pvol} ({pvol.volume.size_bytes} bytes)"
            )
        kind = "SS" if pool is not None else "BC"
        for other in self.pairs:
            if other.pvol is pvol and other.mu == mu and other.kind == kind:
                raise ConfigurationError(f"P-VOL {pvol} has a {kind} pair on MU{mu}: {other.name}")
            if svol in (other.pvol, other.svol):
                raise ConfigurationError(f"LDEV {svol} is in pair {other.name} already")
        if len(self.pairs) >= MAX_PAIRS:
            raise ConfigurationError(f"{self.name} holds {MAX_PAIRS} pairs already")
        pair = Pair(self, group, pvol, svol, mu, pool)
        self.pairs.append(pair)
        pair._p_bits = _Bitmap(self.blocks_per_track)
        pvol.volume.add_observer(pair._p_bits)
        if pool is None:
            pair._s_bits = _Bitmap(self.blocks_per_track)
            svol.volume.add_observer(pair._s_bits)
            pair._p_bits.tracks |= pair._tracks_with_data()
        self._move(pair, _C.CREATE)
        if pool is None:
            self._start_copy(pair, forward=True)
        else:
            self._move(pair, _C.COPY_DONE)
        return pair

    def pairsplit(self, pair: Pair, *, quick: bool = False) -> None:
        """Split: the S-VOL keeps the image of this instant. A quick split (``PSUS(SP)``)
        makes it usable at once; a steady split of a pair still in its initial copy waits for
        the copy (a resync under way refuses a split)."""
        command = _C.QUICK_SPLIT if quick else _C.SPLIT
        copying = pair.state is _P.COPY_PD
        target = pair_next_state(pair.name, pair.state, command)
        if copying:  # the running copy ends the split when it is done
            before, pair.state = pair.state, target
            pair._image_pending = True
            self._record(pair, str(command), before=str(before))
            return
        self._move(pair, command)
        self._take_image(pair)
        self._start_copy(pair, forward=True, tracks=0)

    def pairresync(self, pair: Pair) -> Process:
        """Resync: copy the differing tracks P-VOL -> S-VOL (all of them after ``PSUE``); a
        quick split still copying (``PSUS(SP)``) gives up its background copy for the resync; a
        snapshot pair only gives its copy-on-write data back to the pool, which copies nothing."""
        tracks = len(pair.differing_tracks()) if pair.pool is None else 0
        self._move(pair, _C.RESYNC)
        self._release_image(pair)
        return self._start_copy(pair, forward=True, tracks=tracks)

    def pairrestore(self, pair: Pair) -> Process:
        """Reverse resync: the S-VOL's image goes back onto the P-VOL, which is offline (its
        host writes wait) until the copy is done; the old P-VOL data is not kept."""
        pair_next_state(pair.name, pair.state, _C.RESTORE)
        if pair.pvol.volume.held:
            raise ConfigurationError(f"P-VOL {pair.pvol} is held by VSS; restore it later")
        tracks = len(pair.differing_tracks()) if pair.pool is None else len(pair._preserved)
        self._move(pair, _C.RESTORE)
        pair.pvol.volume.hold(f"{pair.name} reverse resync")
        return self._start_copy(pair, forward=False, tracks=tracks)

    def pairdelete(self, pair: Pair) -> None:
        """``pairsplit -S``: dissolve the pair; the S-VOL keeps what it holds (a clone)."""
        pair_next_state(pair.name, pair.state, _C.DELETE)
        self._interrupt_restore(pair, "the pair was deleted")
        pair._image_pending = False
        self._move(pair, _C.DELETE)
        self._detach(pair)
        self.pairs.remove(pair)

    def suspend(self, pair: Pair, reason: str) -> None:
        """The array suspends a pair on an error (``PSUE``); a snapshot's image is lost, and
        a reverse resync stops half way."""
        pair_next_state(pair.name, pair.state, _C.SUSPEND)
        self._interrupt_restore(pair, reason)
        pair._image_pending = False  # a steady split under way does not finish either
        self._move(pair, _C.SUSPEND, reason=reason)
        pair.invalid_reason = reason
        self._release_image(pair)

    def switch(self, host: Ldev, clone: Ldev) -> None:
        """Switch disks: the host's volume now holds what the unpaired LDEV ``clone`` held, and
        ``clone`` what the host's volume held (the LUNs trade places behind the host's view)."""
        for ldev in (host, clone):
            if self.pair_using(ldev) is not None:
                raise ConfigurationError(f"LDEV {ldev} is paired; only simplex LDEVs switch")
        a, b = host.volume, clone.volume
        if a.size_bytes != b.size_bytes or a.block_size != b.block_size:
            raise ConfigurationError(f"LDEVs {host} and {clone} differ in size")
        blocks = sorted(
            set(a.written_blocks(range(a.block_count)))
            | set(b.written_blocks(range(b.block_count)))
        )
        old = {n: a.read(n) for n in blocks}
        a.replace({n: b.read(n) for n in blocks}, f"switch {clone}->{host}")
        b.replace(old, f"switch {host}->{clone}")
        self.sim.trace.record(None, self.name, V.DISKS_SWITCHED, host=str(host), clone=str(clone))

    def _interrupt_restore(self, pair: Pair, reason: str) -> None:
        """A reverse resync that stops leaves the P-VOL with the tracks copied so far: a mix
        of restored and old data. The old data is not kept anywhere, so it is lost; say so."""
        if pair.state is not _P.COPY_RS_R:
            return
        start, end = pair._copy_span
        done = 1.0 if end <= start else (self.sim.now - start) / (end - start)
        tracks = sorted(pair.differing_tracks()) if pair.pool is None else []
        copied = tracks[: int(len(tracks) * done)]
        if pair.pool is not None:
            preserved = sorted(pair._preserved)
            copied_blocks = preserved[: int(len(preserved) * done)]
        else:
            copied_blocks = self._track_blocks(copied)
        image = {b: pair.read(b) for b in copied_blocks}
        pair.pvol.volume.replace(image, f"{pair.name} restore (interrupted)")
        pair.pvol.volume.release()
        self.sim.trace.record(
            None,
            self.name,
            V.RESTORE_INTERRUPTED,
            pair=pair.name,
            reason=reason,
            copied_percent=int(100 * done),
            consequence=f"P-VOL {pair.pvol} holds restored and old tracks mixed; "
            "its data before the restore is lost",
        )

    # -- internals -----------------------------------------------------------------------
    def _record(self, pair: Pair, action: str, **details: object) -> None:
        self.sim.trace.record(
            None,
            self.name,
            action,
            pair=pair.name,
            kind=pair.kind,
            state=str(pair.state),
            **details,
        )

    def _move(self, pair: Pair, command: PairCommand, **details: object) -> None:
        before = pair.state
        pair.state = pair_next_state(pair.name, before, command)
        pair._generation += 1
        self._record(pair, str(command), before=str(before), **details)

    def _start_copy(self, pair: Pair, *, forward: bool, tracks: int | None = None) -> Process:
        count = len(pair.differing_tracks()) if tracks is None else tracks
        duration = count * self.track_copy_us
        pair._copy_span = (self.sim.now, self.sim.now + duration)
        generation = pair._generation
        pair._copy = self.sim.process(
            self._copy_tracks(pair, generation, duration, forward),
            f"{self.name} copy {pair.name}",
        )
        return pair._copy

    def _copy_tracks(
        self, pair: Pair, generation: int, duration: int, forward: bool
    ) -> ProcessGenerator:
        if duration:
            yield self.sim.timeout(duration)
        if pair._generation != generation:  # deleted or suspended meanwhile
            return
        if pair._image_pending:  # a steady split waited for this copy: the image is now
            pair._image_pending = False
            self._take_image(pair)
        elif pair.state is _P.COPY_RS_R:
            self._restore_pvol(pair)
        elif pair.state in (_P.COPY_PD, _P.COPY_RS):
            self._sync(pair)
        self._move(pair, _C.COPY_DONE)

    def _sync(self, pair: Pair) -> None:
        """Make the S-VOL equal the P-VOL on every differing track (Business Copy); a snapshot
        pair has nothing to copy, its tracks start over."""
        if pair.pool is not None:
            for bits in (pair._p_bits, pair._s_bits):
                if bits is not None:
                    bits.tracks.clear()
            return
        source, target = pair.pvol, pair.svol
        blocks = self._track_blocks(pair.differing_tracks())
        target.volume.replace({b: source.volume.read(b) for b in blocks}, f"{pair.name} copy")
        for bits in (pair._p_bits, pair._s_bits):
            if bits is not None:
                bits.tracks.clear()

    def _track_blocks(self, tracks: Iterable[int]) -> list[int]:
        per = self.blocks_per_track
        return [b for t in sorted(tracks) for b in range(t * per, (t + 1) * per)]

    def _take_image(self, pair: Pair) -> None:
        """The split instant: the S-VOL's image is the P-VOL now."""
        self._sync(pair)
        rec = self.sim.trace.record(None, self.name, V.IMAGE_TAKEN, pair=pair.name)
        pair.split_seq, pair.split_us = rec.seq, rec.time_us
        pair.pvol.volume.keep_image(rec.seq)  # the split instant will be read
        pair.svol.volume.keep_image(rec.seq)
        pair.invalid_reason = ""
        if pair.pool is not None:
            pair._preserved = {}
            pair.pvol.volume.add_observer(pair)
            pair._watching = True

    def _release_image(self, pair: Pair) -> None:
        """A snapshot's copy-on-write data goes back to the pool."""
        if pair.pool is None:
            return
        if pair._watching:
            pair.pvol.volume.remove_observer(pair)
            pair._watching = False
        pair.pool.used_bytes -= pair.preserved_bytes
        pair._preserved = {}

    def _restore_pvol(self, pair: Pair) -> None:
        """Reverse resync done: the P-VOL holds the S-VOL's image; host writes resume."""
        volume = pair.pvol.volume
        if pair.pool is None:
            blocks = self._track_blocks(pair.differing_tracks())
        else:
            blocks = sorted(pair._preserved)
        image = {b: pair.read(b) for b in blocks}
        self._release_image(pair)
        volume.replace(image, f"{pair.name} restore")
        for bits in (pair._p_bits, pair._s_bits):
            if bits is not None:
                bits.tracks.clear()
        volume.release()

    def _detach(self, pair: Pair) -> None:
        self._release_image(pair)
        for volume, bits in ((pair.pvol.volume, pair._p_bits), (pair.svol.volume, pair._s_bits)):
            if bits is not None:
                volume.remove_observer(bits)

    # -- reporting -----------------------------------------------------------------------
    def percent(self, pair: Pair) -> int:
        """``pairdisplay``'s %: progress of a running copy, else how much of the S-VOL
        matches (100 in PAIR)."""
        if pair.state in COPYING and pair._copy is not None and pair._copy.is_alive:
            start, end = pair._copy_span
            return 100 if end <= start else (100 * (self.sim.now - start)) // (end - start)
        if pair.state is _P.PAIR:
            return 100
        total = -(-pair.pvol.volume.size_bytes // self.track_bytes)
        return 100 - -(-100 * len(pair.differing_tracks()) // total)

    def pairdisplay(self) -> list[PairStatus]:
        """Every pair, as ``pairdisplay`` lists them."""
        return [
            PairStatus(
                p.group, p.kind, p.pvol.address, p.svol.address, p.mu, p.state, self.percent(p)
            )
            for p in sorted(self.pairs, key=lambda p: (p.group, p.pvol.address, p.kind, p.mu))
        ]

    def render_pairdisplay(self) -> str:
        """The pairs as a ``pairdisplay``-like table: RAID Manager's status of the P-VOL and
        of the S-VOL, the copy %, and the array's finer state as detail."""
        lines = [
            f"{'Group':<10}{'Type':<6}{'P-VOL':<8}{'S-VOL':<8}{'MU':<4}{'Status':<8}"
            f"{'S-Status':<10}{'%':>4}  Detail"
        ]
        for s in self.pairdisplay():
            lines.append(
                f"{s.group:<10}{s.kind:<6}{s.pvol:<8}{s.svol:<8}{s.mu:<4}{s.status:<8}"
                f"{s.svol_status:<10}{s.percent:>4}  {s.state}"
            )
        return "\n".join(lines) + "\n"
