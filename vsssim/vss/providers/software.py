"""The system provider: copy-on-write shadow copies with a bounded diff area per volume.

At the commit instant the provider starts watching the volume: before a block is overwritten
for the first time, its old content goes to the shadow copy's diff area. A read of the shadow
copy gives the preserved block if there is one and the live block otherwise, which is the
volume's content at the commit instant. When a diff area is full the provider deletes the
volume's shadow copies oldest first until the block fits (the "Volume Shadow Copy Service" FAQ:
software shadow copies are deleted, starting with the oldest, when space runs out); a deleted copy
reads as ``VSS_E_INSUFFICIENT_STORAGE``.

It keeps at most :data:`MAX_SHADOW_COPIES_PER_VOLUME` (512) shadow copies of a volume (64 on
Windows Server 2003: ``max_snapshots_per_volume``), refused at AddToSnapshotSet with
``VSS_E_MAXIMUM_NUMBER_OF_SNAPSHOTS_REACHED``. It copies NTFS volumes in every context and the
other file systems it knows only without the persistent attribute ("Shadow Copy Context
Configurations": persistent shadow copies can be made only for NTFS volumes).
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import attrs

from vsssim.errors import HResult, VssError
from vsssim.sim import vocabulary as V
from vsssim.sim.kernel import MILLISECOND, ProcessGenerator
from vsssim.vss._args import check_int
from vsssim.vss.constants import ProviderType, SnapshotAttr, SnapshotState
from vsssim.vss.providers.base import Provider, ShadowCopy
from vsssim.vss.volumes import Volume

if TYPE_CHECKING:
    from vsssim.sim.kernel import Simulation

#: The id of "Microsoft Software Shadow Copy provider 1.0".
SOFTWARE_PROVIDER_ID = uuid.UUID("b5946137-7b9f-4925-af80-51abd60b20d5")
#: File systems the system provider can shadow-copy in every context.
SUPPORTED_FILE_SYSTEMS = ("NTFS",)
#: File systems it copies only nonpersistently (``VSS_CTX_BACKUP``, ``FILE_SHARE_BACKUP``).
NONPERSISTENT_FILE_SYSTEMS = ("REFS", "FAT", "FAT32", "EXFAT")
#: How many shadow copies of one volume the system provider keeps (Windows Server 2003: 64).
MAX_SHADOW_COPIES_PER_VOLUME = 512


@attrs.define(eq=False)
class DiffArea:
    """The storage for preserved blocks of one volume's shadow copies."""

    volume: Volume
    capacity_bytes: int
    used_bytes: int = 0


@attrs.define(eq=False)
class _CopyOnWrite:
    """Preserves blocks for one shadow copy; registered on the volume at commit.

    It sees every write to its volume while the copy lives, so it keeps at hand what each
    write needs: the volume's diff area (made before any commit, by BeginPrepareSnapshot, and
    never replaced: a resize changes it in place) and the block size."""

    provider: SoftwareProvider
    snapshot: ShadowCopy
    area: DiffArea
    preserved: dict[int, bytes | None] = attrs.field(factory=dict)
    bytes_used: int = 0
    block_size: int = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self.block_size = self.snapshot.volume.block_size

    def before_write(self, block: int, old: bytes | None) -> None:
        if block in self.preserved:
            return
        cost = 0 if old is None else self.block_size
        area = self.area
        if area.used_bytes + cost > area.capacity_bytes and not self.provider._make_room(
            self.snapshot, cost
        ):
            self.provider._discard(self.snapshot, "diff area full")
            return
        area.used_bytes += cost
        self.bytes_used += cost
        self.preserved[block] = old


class SoftwareProvider(Provider):
    """The copy-on-write system provider, always present, used when no hardware provider fits."""

    provider_id = SOFTWARE_PROVIDER_ID
    name = V.SOFTWARE_PROVIDER
    provider_type = ProviderType.SYSTEM

    def __init__(
        self,
        sim: Simulation,
        *,
        diff_area_fraction: float = 0.1,
        max_snapshots_per_volume: int = MAX_SHADOW_COPIES_PER_VOLUME,
        commit_us: tuple[int, int] = (2 * MILLISECOND, 20 * MILLISECOND),
        prepare_us: tuple[int, int] = (1 * MILLISECOND, 10 * MILLISECOND),
    ) -> None:
        super().__init__(sim)
        check_int("max_snapshots_per_volume", max_snapshots_per_volume, low=1, config=True)
        self.diff_area_fraction = diff_area_fraction
        self.max_snapshots_per_volume = max_snapshots_per_volume
        self.commit_us = commit_us
        self.prepare_us = prepare_us
        self._areas: dict[str, DiffArea] = {}
        self._capacity_overrides: dict[str, int] = {}
        self._pending: dict[uuid.UUID, list[ShadowCopy]] = {}
        self._cow: dict[uuid.UUID, _CopyOnWrite] = {}

    # -- configuration -------------------------------------------------------------------
    def set_diff_area(self, volume: Volume, capacity_bytes: int) -> None:
        """Fix the diff area size of ``volume`` (``vssadmin resize shadowstorage``)."""
        if capacity_bytes < 0:
            raise ValueError("a diff area cannot have a negative size")
        self._capacity_overrides[volume.name] = capacity_bytes
        if volume.name in self._areas:
            self._areas[volume.name].capacity_bytes = capacity_bytes

    def diff_area(self, volume: Volume) -> DiffArea:
        """The diff area of ``volume`` (created on first use)."""
        area = self._areas.get(volume.name)
        if area is None:
            capacity = self._capacity_overrides.get(
                volume.name, int(volume.size_bytes * self.diff_area_fraction)
            )
            area = self._areas[volume.name] = DiffArea(volume, capacity)
        return area

    def snapshots_of(self, volume: Volume) -> list[ShadowCopy]:
        """Live shadow copies of ``volume``, oldest first."""
        return [c.snapshot for c in self._cow.values() if c.snapshot.volume is volume]

    # -- the provider interface ----------------------------------------------------------
    def is_volume_supported(self, volume: Volume) -> bool:
        kind = volume.file_system.upper()
        return kind in SUPPORTED_FILE_SYSTEMS or kind in NONPERSISTENT_FILE_SYSTEMS

    def supports(self, volume: Volume, attributes: SnapshotAttr) -> bool:
        # Transportable copies are a hardware provider's (the ImportSnapshots page).
        if not self.is_volume_supported(volume) or attributes & SnapshotAttr.TRANSPORTABLE:
            return False
        persistent = bool(attributes & SnapshotAttr.PERSISTENT)
        return not persistent or volume.file_system.upper() in SUPPORTED_FILE_SYSTEMS

    def check_room(self, volume: Volume) -> None:
        if len(self.snapshots_of(volume)) >= self.max_snapshots_per_volume:
            raise VssError(
                HResult.VSS_E_MAXIMUM_NUMBER_OF_SNAPSHOTS_REACHED,
                f"volume {volume.label} already has {self.max_snapshots_per_volume} shadow copies",
            )

    def _take(self, call: str, span: tuple[int, int]) -> ProcessGenerator:
        delay = self.sim.choices.between(f"provider/software/{call}", *span)
        if delay:
            yield self.sim.timeout(delay)

    def begin_prepare_snapshot(self, snapshot: ShadowCopy) -> ProcessGenerator:
        volume = snapshot.volume
        self.check_room(volume)  # AddToSnapshotSet checked; a direct caller is refused too
        area = self.diff_area(volume)
        if area.capacity_bytes - area.used_bytes < volume.block_size:
            raise VssError(
                HResult.VSS_E_INSUFFICIENT_STORAGE,
                f"the diff area of {volume.label} has {area.capacity_bytes - area.used_bytes} "
                f"bytes free of {area.capacity_bytes}",
            )
        self._pending.setdefault(snapshot.set_id, []).append(snapshot)
        yield from self._take("BeginPrepareSnapshot", self.prepare_us)
        if snapshot.state == SnapshotState.PREPARING:
            snapshot.advance(V.BEGIN_PREPARE_SNAPSHOT)

    def end_prepare_snapshots(self, set_id: uuid.UUID) -> ProcessGenerator:
        yield from self._take("EndPrepareSnapshots", self.prepare_us)

    def pre_commit_snapshots(self, set_id: uuid.UUID) -> ProcessGenerator:
        for snapshot in self._pending.get(set_id, []):
            snapshot.advance(V.PRE_COMMIT_SNAPSHOTS)
        yield from self._take("PreCommitSnapshots", (0, MILLISECOND))

    def commit_snapshots(self, set_id: uuid.UUID) -> ProcessGenerator:
        # The copy-on-write starts at one instant for every volume of the set: the instant the
        # writes are held. The time the call takes is spent after that.
        for snapshot in self._pending.get(set_id, []):
            cow = _CopyOnWrite(self, snapshot, self.diff_area(snapshot.volume))
            self._cow[snapshot.snapshot_id] = cow
            snapshot.volume.add_observer(cow)
            snapshot.advance(V.COMMIT_SNAPSHOTS)
        yield from self._take("CommitSnapshots", self.commit_us)

    def post_commit_snapshots(self, set_id: uuid.UUID) -> ProcessGenerator:
        for snapshot in self._pending.pop(set_id, []):
            if snapshot.state == SnapshotState.COMMITTED:
                snapshot.advance(V.POST_COMMIT_SNAPSHOTS)
        yield from self._take("PostCommitSnapshots", (0, MILLISECOND))

    def abort_snapshots(self, set_id: uuid.UUID) -> None:
        doomed = self._pending.pop(set_id, [])
        doomed += [c.snapshot for c in self._cow.values() if c.snapshot.set_id == set_id]
        for snapshot in doomed:
            self._drop(snapshot)
            snapshot.advance(V.ABORT_SNAPSHOTS)

    def delete_snapshot(self, snapshot: ShadowCopy) -> None:
        self._drop(snapshot)
        snapshot.advance(V.DELETE_SNAPSHOTS)

    def revert_to_snapshot(self, snapshot: ShadowCopy) -> None:
        """Write the blocks the copy preserved back onto its volume, from below the host (the
        system provider reverts persistent copies: IVssSoftwareSnapshotProvider::
        RevertToSnapshot). The copy itself stays, reading as before."""
        cow = self._cow_of(snapshot)
        snapshot.volume.replace(dict(cow.preserved), f"revert to {snapshot.snapshot_id}")

    def _drop(self, snapshot: ShadowCopy) -> None:
        cow = self._cow.pop(snapshot.snapshot_id, None)
        if cow is not None:
            snapshot.volume.remove_observer(cow)
            self.diff_area(snapshot.volume).used_bytes -= cow.bytes_used

    def _make_room(self, snapshot: ShadowCopy, cost: int) -> bool:
        """Delete the volume's shadow copies older than ``snapshot``, oldest first, until
        ``cost`` more bytes fit its diff area; False if they do not even then."""
        area = self.diff_area(snapshot.volume)
        copies = self.snapshots_of(snapshot.volume)
        for older in copies[: copies.index(snapshot)]:
            if area.used_bytes + cost <= area.capacity_bytes:
                break
            self._discard(
                older,
                f"diff area full: the oldest copy, deleted for {snapshot.snapshot_id}",
                for_newer=True,
            )
        return area.used_bytes + cost <= area.capacity_bytes

    def _discard(self, snapshot: ShadowCopy, reason: str, *, for_newer: bool = False) -> None:
        action = V.OLDEST_SHADOW_COPY_DELETED if for_newer else V.SHADOW_COPY_DISCARDED
        self._drop(snapshot)
        snapshot.invalid_reason = reason
        self.sim.trace.record(
            None,
            self.name,
            action,
            snapshot_id=str(snapshot.snapshot_id),
            volume=snapshot.volume.label,
            reason=reason,
        )

    def _cow_of(self, snapshot: ShadowCopy) -> _CopyOnWrite:
        cow = self._cow.get(snapshot.snapshot_id)
        if cow is None or not snapshot.usable:
            if snapshot.invalid_reason:
                raise VssError(
                    HResult.VSS_E_INSUFFICIENT_STORAGE,
                    f"shadow copy {snapshot.snapshot_id} of {snapshot.volume.label} was "
                    f"discarded: {snapshot.invalid_reason}",
                )
            raise VssError(
                HResult.VSS_E_OBJECT_NOT_FOUND,
                f"shadow copy {snapshot.snapshot_id} is {snapshot.state.vss_name}, not readable",
            )
        return cow

    def read_block(self, snapshot: ShadowCopy, block: int) -> bytes | None:
        cow = self._cow_of(snapshot)
        if block in cow.preserved:
            return cow.preserved[block]
        return snapshot.volume.read(block)

    def read_range(self, snapshot: ShadowCopy, blocks: range) -> dict[int, bytes]:
        cow = self._cow_of(snapshot)
        volume = snapshot.volume
        result: dict[int, bytes] = {}
        candidates = set(volume.written_blocks(blocks))
        candidates.update(b for b in cow.preserved if b in blocks)
        for block in sorted(candidates):
            data = cow.preserved[block] if block in cow.preserved else volume.read(block)
            if data is not None:
                result[block] = data
        return result
