"""The storage array's promises: the pairs of a set split together inside its hold, and the
array ends settled (no pair copying, pools that add up)."""

from __future__ import annotations

from vsssim.host.world import World
from vsssim.sim import vocabulary as V
from vsssim.testing.invariants.violation import Violation
from vsssim.vss.providers.xp.pairs import COPYING


def _set_windows(world: World) -> dict[str, tuple[int, int]]:
    """Each set's hold window: (hold writes seq, first release writes seq)."""
    windows: dict[str, tuple[int, int]] = {}
    for record in world.sim.trace:
        if record.actor != V.VSS:
            continue
        set_id = str(record.details.get("set_id"))
        if record.action == V.HOLD_WRITES:
            windows[set_id] = (record.seq, len(world.sim.trace))
        elif record.action == V.RELEASE_WRITES and set_id in windows:
            start, end = windows[set_id]
            windows[set_id] = (start, min(end, record.seq))
    return windows


def replicas_split_together(world: World) -> list[Violation]:
    """The pairs of one set split at one instant inside the set's hold, and each split-mirror
    S-VOL then equals its P-VOL (both rebuilt from their write histories)."""
    name = "replicas split together"
    violations = []
    volumes = {ldev.volume.label: ldev.volume for a in world.arrays for ldev in a.ldevs.values()}
    windows = _set_windows(world)
    records = world.sim.trace.records
    for split in world.sim.trace.find(action=V.PAIRS_SPLIT):
        set_id = str(split.details["set_id"])
        images = split.details["images"]
        assert isinstance(images, list)
        seqs = [int(image["seq"]) for image in images]  # type: ignore[arg-type,index,call-overload]
        times = {records[seq].time_us for seq in seqs}
        if len(times) > 1:
            violations.append(
                Violation(
                    name,
                    f"the pairs of set {set_id} split at {len(times)} instants",
                    (split.seq, *seqs),
                )
            )
        start, end = windows.get(set_id, (len(records), -1))
        for image, seq in zip(images, seqs, strict=True):
            assert isinstance(image, dict)
            if not start < seq < end:
                violations.append(
                    Violation(
                        name, f"pair {image['pair']} split outside the hold of set {set_id}", (seq,)
                    )
                )
            pvol, svol = volumes.get(str(image["pvol"])), volumes.get(str(image["svol"]))
            if image.get("kind") != "BC" or pvol is None or svol is None:
                continue  # a snapshot's image is the P-VOL itself; an LDEV deleted since
            if pvol.content_at(seq) != svol.content_at(seq):
                violations.append(
                    Violation(
                        name,
                        f"S-VOL of pair {image['pair']} differs from its P-VOL at the split",
                        (seq,),
                    )
                )
    return violations


def array_settled(world: World) -> list[Violation]:
    """At the end no pair is still copying, and each Snapshot pool counts exactly what its
    snapshots hold and never held more than its capacity."""
    name = "array settled"
    violations = []
    for array in world.arrays:
        for pair in array.pairs:
            if pair.state in COPYING:
                violations.append(Violation(name, f"pair {pair.name} ended in {pair.state}"))
        for pool in array.pools.values():
            held = sum(p.preserved_bytes for p in array.pairs if p.pool is pool)
            if pool.used_bytes != held:
                violations.append(
                    Violation(
                        name,
                        f"pool {pool.pool_id} of {array.name} counts {pool.used_bytes} bytes "
                        f"used, its snapshots hold {held}",
                    )
                )
            if pool.peak_bytes > pool.capacity_bytes:
                violations.append(
                    Violation(
                        name,
                        f"pool {pool.pool_id} of {array.name} held {pool.peak_bytes} bytes of "
                        f"{pool.capacity_bytes}",
                    )
                )
    return violations
