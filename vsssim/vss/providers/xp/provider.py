"""The XP array's VSS hardware provider: a shadow copy is a split mirror (or a snapshot pair).

What VSS asks of it, and what it does on the array:

* ``IsVolumeSupported``: only host volumes that are LDEVs of its array;
* ``BeginPrepareSnapshot``: pick the replica LDEV (the S-VOL) for the volume's P-VOL by the
  rotation, and start bringing the pair in sync (``paircreate``, or ``pairresync`` of a split
  pair); ``EndPrepareSnapshots`` waits on the simulated clock until every pair of the set is
  ``PAIR``, ``sync_wait_us`` at most, and fails the set (``VSS_E_PROVIDER_VETO``) past it;
* ``CommitSnapshots`` (writes held): every pair of the set is split (quick split) at one
  instant: each S-VOL's image is its P-VOL at that instant;
* ``PostCommitSnapshots``: in *VSS compliant* mode the pairs are deleted (``pairsplit -S``):
  each replica is an independent clone; in *resync* mode they stay split (``PSUS``);
* ``AbortSnapshots``: each pair goes back to the state it had before the set (created pairs
  deleted, pairs that were split split again, pairs that were in sync resynced);
* ``DeleteSnapshots``: the image is given up; in resync mode the pair stays split (``PSUS``: a
  suspended mirror relationship after the backup, as HP's Data Protector VSS integration guide
  and Application Recovery Manager guide describe resync mode, kept or not) until the next
  backup that takes the replica resyncs it; compliant mode releases the clone LDEV for the
  rotation.

The product's options (:class:`ReplicaOptions`) choose the mode, how many replicas rotate (in
resync mode one per mirror unit, MU 0-2, so 3 at most; the oldest is reused), whether the
replica is kept after the backup and tracked for instant recovery, and how long the agent
waits for the mirrors to synchronise. VSS has no channel for such settings: HP's requester
hands them to HP's provider itself (:meth:`XpProvider.configure_set`).

Instant recovery (:meth:`XpProvider.recover`) puts a whole kept replica back: a reverse resync
of each pair in resync mode (the P-VOL is offline until done, and its old data is not kept, so
a restore that fails half way loses it), a switch of disks in compliant mode (the host's
volume gets the clone's data, and the clone LDEV keeps the old data).

*Assumptions*: the provider id below is made up (HP's is not public); splitting a mirror is
near-instant on the array, so commit takes no time of its own beyond the call's overhead; a
replica is not reused while the session that made it is open (:attr:`ShadowCopy.in_use
<vsssim.vss.providers.base.ShadowCopy.in_use>`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from vsssim.errors import ConfigurationError, HResult, VssError
from vsssim.sim import vocabulary as V
from vsssim.sim.kernel import MILLISECOND, SECOND, Process, ProcessGenerator
from vsssim.vss.constants import ProviderType, SnapshotState
from vsssim.vss.providers.base import Provider, ShadowCopy
from vsssim.vss.providers.xp.array import (
    BC_MIRROR_UNITS,
    SNAPSHOT_MIRROR_UNITS,
    Ldev,
    Pair,
    XpArray,
)
from vsssim.vss.providers.xp.pairs import PairState
from vsssim.vss.providers.xp.replicas import (
    Replica,
    ReplicaMode,
    ReplicaOptions,
)
from vsssim.vss.volumes import Volume

if TYPE_CHECKING:
    from vsssim.sim.kernel import Simulation

#: The provider id this model registers under (*assumption*: not HP's real one).
XP_PROVIDER_ID = uuid.UUID("4c5f6e0a-58d1-4c52-9d7a-0f1b2c3d4e5f")

_P = PairState


#: Pair states of a split (or splitting) pair, and of a pair in (or going into) sync.
_SPLIT = frozenset({_P.PSUS, _P.PSUE, _P.COPY_SP, _P.PSUS_SP})
_SYNCED = frozenset({_P.PAIR, _P.COPY_PD, _P.COPY_RS})


class XpProvider(Provider):
    """The hardware provider of one :class:`~vsssim.vss.providers.xp.array.XpArray`.

    Replica LDEVs are assigned per P-VOL (:meth:`assign_replicas`), as an administrator
    reserves S-VOLs for backups; the rotation takes them in order.
    """

    provider_id = XP_PROVIDER_ID
    provider_type = ProviderType.HARDWARE

    def __init__(
        self,
        sim: Simulation,
        array: XpArray,
        *,
        options: ReplicaOptions | None = None,
        group: str = "VSSGRP",
        call_us: tuple[int, int] = (1 * MILLISECOND, 5 * MILLISECOND),
    ) -> None:
        super().__init__(sim)
        self.array = array
        self.name = f"HP XP VSS hardware provider ({array.serial})"
        self.options = options or ReplicaOptions()
        self.group = group
        self.call_us = call_us
        self._replica_ldevs: dict[str, list[str]] = {}
        self._set_options: dict[uuid.UUID, ReplicaOptions] = {}
        self._pending: dict[uuid.UUID, list[Replica]] = {}
        self._deadline: dict[uuid.UUID, int] = {}
        self._replicas: dict[uuid.UUID, Replica] = {}  # by snapshot id: images made
        self._broken: set[str] = set()  # replica LDEVs broken out of VSS: never reused

    # -- configuration -------------------------------------------------------------------
    def assign_replicas(self, pvol: str, svols: Sequence[str]) -> None:
        """Reserve the LDEVs ``svols`` (``CU:LDEV``) as replicas of P-VOL ``pvol``, in
        rotation order."""
        primary = self.array.ldev(pvol)
        chosen = [self.array.ldev(s) for s in svols]
        if not chosen:
            raise ConfigurationError(f"P-VOL {primary} needs at least one replica LDEV")
        taken = {a for addresses in self._replica_ldevs.values() for a in addresses}
        for ldev in chosen:
            if ldev is primary or ldev.address in self._replica_ldevs:
                raise ConfigurationError(f"LDEV {ldev} is a P-VOL; it cannot be a replica")
            if ldev.address in taken or chosen.count(ldev) > 1:
                raise ConfigurationError(f"LDEV {ldev} is a replica LDEV already")
            if ldev.volume.size_bytes != primary.volume.size_bytes:
                raise ConfigurationError(
                    f"replica LDEV {ldev} ({ldev.volume.size_bytes} bytes) is not the size of "
                    f"P-VOL {primary} ({primary.volume.size_bytes} bytes)"
                )
        self._replica_ldevs[primary.address] = [ldev.address for ldev in chosen]

    def replica_ldevs(self, pvol: Ldev) -> list[Ldev]:
        """The replica LDEVs of ``pvol``, in rotation order."""
        return [self.array.ldev(a) for a in self._replica_ldevs.get(pvol.address, ())]

    def configure_set(self, set_id: uuid.UUID, options: object) -> None:
        if isinstance(options, ReplicaOptions):
            self._set_options[set_id] = options

    def options_for(self, set_id: uuid.UUID) -> ReplicaOptions:
        """The options the set runs with (the requester's, else the provider's own)."""
        return self._set_options.get(set_id, self.options)

    # -- reading -------------------------------------------------------------------------
    def replica(self, snapshot: ShadowCopy) -> Replica:
        """The replica behind ``snapshot``."""
        found = self._replicas.get(snapshot.snapshot_id)
        if found is None:
            raise VssError(
                HResult.VSS_E_OBJECT_NOT_FOUND,
                f"{self.name} made no shadow copy {snapshot.snapshot_id}",
            )
        return found

    def replicas(self, set_id: uuid.UUID | None = None) -> list[Replica]:
        """Replicas made (all, or of one set), in the order they were made."""
        return [r for r in self._replicas.values() if set_id in (None, r.snapshot.set_id)]

    def _readable(self, snapshot: ShadowCopy) -> Replica:
        replica = self.replica(snapshot)
        self._check_image(replica)
        if not replica.usable:
            raise VssError(
                replica.lost_with,
                f"shadow copy {snapshot.snapshot_id} of {snapshot.volume.label} is gone: "
                f"{replica.gone or snapshot.state.vss_name}",
            )
        return replica

    def _check_image(self, replica: Replica) -> None:
        """Notice an image the array lost (the pair suspended, resynced or reused)."""
        pair = replica.pair
        if replica.gone or pair is None or replica.image_seq is None:
            return
        if pair.split_seq != replica.image_seq:
            self._lose(replica, f"pair {pair.name} holds a newer image")
        elif pair.state not in (_P.PSUS, _P.PSUS_SP):
            if pair.state is _P.PSUE and pair.pool is not None:
                replica.lost_with = HResult.VSS_E_INSUFFICIENT_STORAGE
            why = f": {pair.invalid_reason}" if pair.invalid_reason else ""
            self._lose(replica, f"pair {pair.name} is {pair.state}{why}")

    def read_block(self, snapshot: ShadowCopy, block: int) -> bytes | None:
        replica = self._readable(snapshot)
        if replica.pair is not None:
            return replica.pair.read(block)
        return replica.svol.volume.read(block)

    def read_range(self, snapshot: ShadowCopy, blocks: range) -> dict[int, bytes]:
        replica = self._readable(snapshot)
        if replica.pair is not None:
            return replica.pair.read_range(blocks)
        volume = replica.svol.volume
        return {b: d for b in volume.written_blocks(blocks) if (d := volume.read(b))}

    # -- the provider interface ----------------------------------------------------------
    def is_volume_supported(self, volume: Volume) -> bool:
        return self.array.ldev_of(volume) is not None

    def _take(self, call: str) -> ProcessGenerator:
        delay = self.sim.choices.between(f"provider/xp/{call}", *self.call_us)
        if delay:
            yield self.sim.timeout(delay)

    def begin_prepare_snapshot(self, snapshot: ShadowCopy) -> ProcessGenerator:
        set_id = snapshot.set_id
        options = self.options_for(set_id)
        pvol = self.array.ldev_of(snapshot.volume)
        if pvol is None:
            raise VssError(
                HResult.VSS_E_VOLUME_NOT_SUPPORTED_BY_PROVIDER,
                f"{snapshot.volume.label} is not an LDEV of {self.array.name}",
            )
        if set_id not in self._pending:
            self._pending[set_id] = []
            self._deadline[set_id] = self.sim.now + options.sync_wait_us
            self._display(5, "before")
        replica = self._choose(snapshot, pvol, options)
        self._pending[set_id].append(replica)
        self._start_sync(replica, options)
        self._injected_failure(replica.pair)
        yield from self._take("BeginPrepareSnapshot")
        if snapshot.state == SnapshotState.PREPARING:
            snapshot.advance(V.BEGIN_PREPARE_SNAPSHOT)

    def _injected_failure(self, pair: Pair | None) -> None:
        """The fault hooks may have the array suspend a pair that has just started copying."""
        if pair is None or pair.copy_done is None:
            return
        if self.hooks.pair_suspends(self.array.name, pair.name, 5):
            self.array.suspend(pair, "link failure")

    def _choose(self, snapshot: ShadowCopy, pvol: Ldev, options: ReplicaOptions) -> Replica:
        """The replica LDEV (and mirror unit) the rotation gives ``pvol`` this time."""
        ldevs = [x for x in self.replica_ldevs(pvol) if x.address not in self._broken]
        ldevs = ldevs[: options.replicas_rotated]
        if len(ldevs) < options.replicas_rotated:
            raise VssError(
                HResult.VSS_E_PROVIDER_VETO,
                f"P-VOL {pvol} has {len(ldevs)} replica LDEVs assigned; "
                f"{options.replicas_rotated} replicas rotate",
            )
        kind = options.kind
        restoring = [p for p in self.array.pairs_of(pvol) if p.state is _P.COPY_RS_R]
        if restoring:
            raise VssError(
                HResult.VSS_E_PROVIDER_VETO,
                f"P-VOL {pvol} is being restored: pair {restoring[0].name} is COPY(RS-R)",
            )
        if options.pool is not None and options.pool not in self.array.pools:
            raise VssError(
                HResult.VSS_E_PROVIDER_VETO, f"{self.array.name} has no pool {options.pool}"
            )
        pairs = {p.svol: p for p in self.array.pairs_of(pvol) if p.kind == kind}
        for ldev in ldevs:
            other = self.array.pair_using(ldev)
            if other is not None and (other.pvol is not pvol or other.kind != kind):
                raise VssError(
                    HResult.VSS_E_PROVIDER_VETO,
                    f"replica LDEV {ldev} of {pvol} is in pair {other.name} ({other.kind}); "
                    f"this set makes {kind} replicas",
                )
        mine = [r for r in self._replicas.values() if r.pvol is pvol]
        for made in mine:
            self._check_image(made)
        live = {r.svol: r for r in mine if r.usable}
        # A replica whose backup has not released it yet may still be read: not reusable.
        free = [ldev for ldev in ldevs if ldev not in live or not live[ldev].snapshot.in_use]
        if not free:
            raise VssError(
                HResult.VSS_E_PROVIDER_VETO,
                f"every replica LDEV of P-VOL {pvol} holds a shadow copy a backup still uses "
                f"({', '.join(str(ldev) for ldev in ldevs)})",
            )

        def age(ldev: Ldev) -> tuple[bool, int, int]:
            # Free LDEVs first (no kept image), then the oldest image; ties by rotation order.
            made = live.get(ldev)
            return (
                made is not None,
                -1 if made is None else made.image_seq or 0,
                ldevs.index(ldev),
            )

        svol = min(free, key=age)
        reused = live.get(svol)
        if reused is not None:
            self._lose(reused, f"its replica LDEV {svol} is reused by set {snapshot.set_id}")
        pair = pairs.get(svol)
        return Replica(
            snapshot,
            options.mode,
            pvol,
            svol,
            pair,
            pair.state if pair is not None else _P.SMPL,
        )

    def _start_sync(self, replica: Replica, options: ReplicaOptions) -> None:
        """Bring the replica's pair towards ``PAIR`` (create, or resync a split pair)."""
        array = self.array
        pair = replica.pair
        if pair is None:
            mu = self._free_mu(replica.pvol, options)
            pool = None if options.pool is None else array.pool(options.pool)
            replica.pair = array.paircreate(
                replica.pvol, replica.svol, mu, group=self.group, pool=pool
            )
        elif pair.state in (_P.PSUS, _P.PSUS_SP, _P.PSUE):
            array.pairresync(pair)  # a quick split still copying takes a resync too
        # A pair in a steady split is resynced once split (EndPrepareSnapshots); one being
        # restored was refused by the rotation.

    def _free_mu(self, pvol: Ldev, options: ReplicaOptions) -> int:
        used = {p.mu for p in self.array.pairs_of(pvol) if p.kind == options.kind}
        limit = BC_MIRROR_UNITS if options.pool is None else SNAPSHOT_MIRROR_UNITS
        for mu in range(limit):
            if mu not in used:
                return mu
        raise VssError(
            HResult.VSS_E_PROVIDER_VETO, f"P-VOL {pvol} has no free mirror unit (MU 0-{limit - 1})"
        )

    def end_prepare_snapshots(self, set_id: uuid.UUID) -> ProcessGenerator:
        """Wait until every pair of the set is in sync, or fail the set at the deadline."""
        sim = self.sim
        while set_id in self._pending:
            waiting = [
                r.pair for r in self._pending[set_id] if r.pair and r.pair.state is not _P.PAIR
            ]
            if not waiting:
                break
            pair = waiting[0]
            if pair.state is _P.PSUS:  # it was finishing a split when the set took it
                self.array.pairresync(pair)
            copy = pair.copy_done
            if copy is None:  # not copying, not in sync: suspended by the array
                raise VssError(
                    HResult.VSS_E_PROVIDER_VETO,
                    f"pair {pair.name} is {pair.state}, not synchronising: "
                    f"{pair.invalid_reason or 'the replica cannot be made'}",
                )
            left = self._deadline[set_id] - sim.now
            if left <= 0:
                raise VssError(
                    HResult.VSS_E_PROVIDER_VETO,
                    f"the mirrors did not synchronise within "
                    f"{self.options_for(set_id).sync_wait_us / SECOND:g} s: pair {pair.name} "
                    f"is {pair.state} at {self.array.percent(pair)}%",
                )
            timer = sim.timeout(left)
            yield sim.any_of([copy, timer])
            timer.cancel()
        yield from self._take("EndPrepareSnapshots")

    def pre_commit_snapshots(self, set_id: uuid.UUID) -> ProcessGenerator:
        for replica in self._pending.get(set_id, []):
            replica.snapshot.advance(V.PRE_COMMIT_SNAPSHOTS)
        yield from self._take("PreCommitSnapshots")

    def commit_snapshots(self, set_id: uuid.UUID) -> ProcessGenerator:
        # Every pair of the set splits at this one instant, while VSS holds the writes.
        replicas = self._pending.get(set_id, [])
        for replica in replicas:
            pair = replica.pair
            assert pair is not None
            if pair.state is not _P.PAIR:
                raise VssError(
                    HResult.VSS_E_PROVIDER_VETO,
                    f"pair {pair.name} is {pair.state} at the commit, not PAIR",
                )
        images = []
        for replica in replicas:
            pair = replica.pair
            assert pair is not None
            self.array.pairsplit(pair, quick=True)
            replica.image_seq, replica.image_us = pair.split_seq, pair.split_us
            replica.snapshot.advance(V.COMMIT_SNAPSHOTS)
            self._replicas[replica.snapshot.snapshot_id] = replica
            images.append(
                {
                    "pair": pair.name,
                    "kind": pair.kind,
                    "seq": pair.split_seq,
                    "pvol": pair.pvol.volume.label,
                    "svol": pair.svol.volume.label,
                }
            )
        self.sim.trace.record(6, self.name, V.PAIRS_SPLIT, set_id=str(set_id), images=images)
        yield from self._take("CommitSnapshots")

    def post_commit_snapshots(self, set_id: uuid.UUID) -> ProcessGenerator:
        replicas = self._pending.pop(set_id, [])
        self._deadline.pop(set_id, None)
        self._set_options.pop(set_id, None)
        for replica in replicas:
            pair = replica.pair
            assert pair is not None
            copy = pair.copy_done
            if copy is not None:  # the quick split's background copy (no tracks: at once)
                yield copy
            if replica.mode is ReplicaMode.VSS_COMPLIANT and pair.state is _P.PSUS:
                self.array.pairdelete(pair)
                replica.pair = None
            if replica.snapshot.state == SnapshotState.COMMITTED:
                replica.snapshot.advance(V.POST_COMMIT_SNAPSHOTS)
        self._display(6, "after")
        yield from self._take("PostCommitSnapshots")

    def abort_snapshots(self, set_id: uuid.UUID) -> None:
        replicas = self._pending.pop(set_id, [])
        self._deadline.pop(set_id, None)
        made = [r for r in self._replicas.values() if r.snapshot.set_id == set_id]
        for replica in dict.fromkeys([*replicas, *made]):
            self.undo(replica)
            self._replicas.pop(replica.snapshot.snapshot_id, None)
            replica.snapshot.advance(V.ABORT_SNAPSHOTS)
        self._set_options.pop(set_id, None)

    def undo(self, replica: Replica) -> None:
        """Return the replica's pair to the state it had before the set: deleted if the set
        created it, split if it was split (its old image is gone all the same), in sync if it
        was. A pair the array suspended meanwhile stays ``PSUE``."""
        pair = replica.pair
        if pair is None or pair not in self.array.pairs:
            return
        array, before = self.array, replica.before
        if before is _P.SMPL:
            self._after_copy(pair, array.pairdelete, _P.PSUS_SP, _P.PSUS)
        elif before in _SPLIT and pair.state in _SYNCED:
            self._after_copy(pair, array.pairsplit, _P.COPY_RS, _P.PAIR)
        elif before in _SYNCED and pair.state in (_P.PSUS, _P.PSUS_SP):
            array.pairresync(pair)

    def _after_copy(
        self, pair: Pair, command: Callable[[Pair], object], busy: PairState, done: PairState
    ) -> None:
        """``command`` now, or, in the state ``busy`` that refuses it (a quick split still
        copying refuses a delete, a resync under way a split), once the copy has brought the
        pair to ``done`` and no set has taken the pair meanwhile."""
        if pair.state is busy:
            self.sim.process(self._when_copied(pair, command, done), f"undo {pair.name}")
        else:
            command(pair)

    def _when_copied(
        self, pair: Pair, command: Callable[[Pair], object], done: PairState
    ) -> ProcessGenerator:
        copy = pair.copy_done
        if copy is not None:
            yield copy
        taken = any(r.pair is pair for replicas in self._pending.values() for r in replicas)
        if pair in self.array.pairs and pair.state is done and not taken:
            command(pair)

    def delete_snapshot(self, snapshot: ShadowCopy) -> None:
        replica = self._replicas.pop(snapshot.snapshot_id, None)
        snapshot.advance(V.DELETE_SNAPSHOTS)
        if replica is None:
            return
        # Resync mode: the pair stays split; the next backup that takes it resyncs it.
        replica.gone = replica.gone or "deleted"

    def _lose(self, replica: Replica, reason: str) -> None:
        replica.gone = reason
        replica.snapshot.invalid_reason = reason
        self.sim.trace.record(
            None,
            self.name,
            V.REPLICA_LOST,
            snapshot_id=str(replica.snapshot.snapshot_id),
            volume=replica.snapshot.volume.label,
            reason=reason,
        )

    # -- instant recovery ----------------------------------------------------------------
    def recover(self, set_id: uuid.UUID) -> list[Process]:
        """Put every replica of set ``set_id`` back onto its volume (instant recovery).

        Resync mode: a reverse resync of each pair (``pairresync -restore``); the processes
        returned end when each copy is done (the P-VOL's host writes wait until then).
        Compliant mode: a switch of disks, at once (each host volume and its clone LDEV
        exchange their data: :meth:`XpArray.switch <vsssim.vss.providers.xp.array.XpArray.switch>`).
        """
        replicas = [r for r in self.replicas(set_id) if r.snapshot.state != SnapshotState.DELETED]
        return self._recover(f"set {set_id}", replicas)

    def _recover(self, what: object, replicas: list[Replica]) -> list[Process]:
        for replica in replicas:
            self._check_image(replica)
        if not replicas or not all(r.usable for r in replicas):
            broken = next((r for r in replicas if not r.usable), None)
            why = broken.gone if broken is not None else "no replica of it is kept"
            raise VssError(HResult.VSS_E_OBJECT_NOT_FOUND, f"{what} cannot be recovered: {why}")
        for replica in replicas:
            self._check_recoverable(replica)
        self._display(None, "before")
        copies = []
        for replica in replicas:
            if replica.pair is not None:
                copies.append(self.array.pairrestore(replica.pair))
            else:
                self.array.switch(replica.pvol, replica.svol)
        for replica in replicas:  # the replica is used up: its image is the volume now
            replica.gone = replica.snapshot.invalid_reason = "recovered onto its volume"
            self._replicas.pop(replica.snapshot.snapshot_id, None)
        return copies

    # -- the management calls (vsssim.vss.coordinator.management) --------------------------
    def revert_to_snapshot(self, snapshot: ShadowCopy) -> None:
        """Instant recovery of one replica (*assumption*: the product reverts per volume as it
        recovers a whole set): a reverse resync, or a switch of disks."""
        self._recover(f"shadow copy {snapshot.snapshot_id}", [self.replica(snapshot)])

    def revert_in_progress(self, volume: Volume) -> bool:
        pvol = self.array.ldev_of(volume)
        return pvol is not None and any(p.state is _P.COPY_RS_R for p in self.array.pairs_of(pvol))

    def break_snapshot(self, snapshot: ShadowCopy, read_write: bool) -> None:
        """The replica LDEV leaves the rotation for good (a volume of its own now); a pair
        still split is deleted, so no resync overwrites it."""
        replica = self.replica(snapshot)
        self._broken.add(replica.svol.address)
        self._replicas.pop(snapshot.snapshot_id, None)
        if replica.pair is not None and replica.pair.state is _P.PSUS:
            self.array.pairdelete(replica.pair)
        replica.gone = "broken out of VSS: a volume of its own"

    def _check_recoverable(self, replica: Replica) -> None:
        """Refuse, before anything changes, a recovery the array or VSS would refuse."""
        volume, pair = replica.pvol.volume, replica.pair
        if volume.marked_by is not None:
            raise VssError(
                HResult.VSS_E_VOLUME_IN_USE,
                f"{volume.label} is in shadow copy set {volume.marked_by}, being created",
            )
        if volume.held:
            raise VssError(
                HResult.VSS_E_VOLUME_IN_USE, f"{volume.label}'s writes are held: it is busy"
            )
        if pair is None:  # a clone: both LDEVs must be simplex to switch
            for ldev in (replica.pvol, replica.svol):
                other = self.array.pair_using(ldev)
                if other is not None:
                    raise VssError(
                        HResult.VSS_E_PROVIDER_VETO,
                        f"LDEV {ldev} is in pair {other.name}: a switch of disks needs both "
                        "LDEVs simplex",
                    )
        elif pair.state is not _P.PSUS:
            raise VssError(
                HResult.VSS_E_PROVIDER_VETO,
                f"pair {pair.name} is {pair.state}: a reverse resync needs PSUS",
            )

    # -- reporting -----------------------------------------------------------------------
    def _display(self, phase: int | None, when: str) -> None:
        """``pairdisplay`` into the trace: one record a pair."""
        for status in self.array.pairdisplay():
            self.sim.trace.record(
                phase,
                self.array.name,
                V.PAIRDISPLAY,
                when=when,
                group=status.group,
                type=status.kind,
                pvol=status.pvol,
                svol=status.svol,
                mu=status.mu,
                status=status.status,
                svol_status=status.svol_status,
                percent=status.percent,
                detail=str(status.state),
            )
