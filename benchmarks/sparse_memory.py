"""Memory of a sparse volume with a copy-on-write shadow copy: it grows with writes, not size.

For each volume size (16 GiB and 16 TiB by default), under ``tracemalloc``:

1. a world with one volume ``X:`` of that size (4 KiB blocks);
2. ``--writes`` writes of distinct random blocks (seeded) spread over the whole volume;
3. a shadow copy of ``X:`` through the requester API (software provider, copy-on-write);
4. ``--writes`` more writes of distinct random blocks, ``--overwrite-percent`` of them blocks
   written in step 2 (their old content goes to the diff area) and the rest never written.

Both sizes write the same number of blocks with the same overlap and the same payloads
(``--payload`` bytes each), only the block numbers differ; so if memory does not depend on the
size, the figures match: peak and per-block figures within 1 %, and creating the volume costs
a few KiB whatever its size. The block numbers are drawn before tracing starts (they are the
harness's input, not the simulator's state). Every write also lands in the volume's write
history and in the trace (one record each), which the figures include: that is what a run
costs. At the end the shadow copy is read back and checked against the pre-snapshot content.

Run: python benchmarks/sparse_memory.py [--writes N] [--payload BYTES] [--seed S]
Prints a table and writes benchmarks/sparse_memory.json.
"""

from __future__ import annotations

import argparse
import gc
import random
import tracemalloc
from typing import Any

from _common import report

from vsssim import BackupType, World
from vsssim.vss.volumes import Volume

GIB = 1024**3
TIB = 1024**4
SIZES = {"16g": 16 * GIB, "16t": 16 * TIB}
#: Largest relative difference between the sizes' figures still counted as "the same".
SAME_WITHIN = 0.01
#: What creating a volume may cost at most, whatever its size (a dense one would cost GiBs).
VOLUME_CREATION_LIMIT = 64 * 1024


def draw_blocks(
    block_count: int, writes: int, overwrite_percent: int, seed: int
) -> tuple[list[int], list[int]]:
    """The blocks of both write phases: distinct within each phase, overlapping as asked."""
    rng = random.Random(seed)
    first = rng.sample(range(block_count), writes)
    overwrites = writes * overwrite_percent // 100
    again = rng.sample(first, overwrites)
    taken = set(first)
    fresh: list[int] = []
    while len(fresh) < writes - overwrites:
        block = rng.randrange(block_count)
        if block not in taken:
            taken.add(block)
            fresh.append(block)
    second = again + fresh
    rng.shuffle(second)
    return first, second


def payload(phase: int, i: int, size: int) -> bytes:
    """What write ``i`` of ``phase`` stores: ``size`` bytes, unique to the write."""
    return f"{phase}:{i:08d}:".encode().ljust(size, b".")


def _write_all(volume: Volume, blocks: list[int], phase: int, size: int) -> None:
    for i, block in enumerate(blocks):
        volume.write(block, payload(phase, i, size), "bench")


def _traced() -> int:
    return tracemalloc.get_traced_memory()[0]


def measure_size(
    size_bytes: int, writes: int, overwrite_percent: int, payload_bytes: int, seed: int
) -> dict[str, Any]:
    """Run the four steps on a volume of ``size_bytes``; memory figures in bytes."""
    block_count = size_bytes // 4096
    first, second = draw_blocks(block_count, writes, overwrite_percent, seed)
    gc.collect()
    tracemalloc.start()
    base = _traced()
    world = World.create(None)
    volume = world.add_volume("X:\\", "X:", size_bytes)
    if volume.block_count != block_count:
        raise SystemExit(f"expected {block_count} blocks, the volume has {volume.block_count}")
    after_volume = _traced()

    _write_all(volume, first, 1, payload_bytes)
    after_first = _traced()

    sim = world.sim
    bc = world.coordinator.create_backup_components("sparse bench")
    bc.initialize_for_backup()
    bc.set_backup_state(select_components=True, backup_type=BackupType.FULL)
    sim.run(until=bc.gather_writer_metadata())
    bc.start_snapshot_set()
    snapshot_id = bc.add_to_snapshot_set("X:\\")
    sim.run(until=bc.prepare_for_backup())
    sim.run(until=bc.do_snapshot_set())
    snapshot = world.coordinator.snapshots[snapshot_id]
    after_snapshot = _traced()

    _write_all(volume, second, 2, payload_bytes)
    final, peak = tracemalloc.get_traced_memory()
    by_file = tracemalloc.take_snapshot().statistics("filename")
    tracemalloc.stop()

    # The shadow copy still shows step 2's content; the volume shows step 4's.
    before = {block: payload(1, i, payload_bytes) for i, block in enumerate(first)}
    for i, block in enumerate(second[:1000]):
        if snapshot.read(block) != before.get(block):
            raise SystemExit(f"block {block}: the shadow copy does not show its old content")
        if volume.read(block) != payload(2, i, payload_bytes):
            raise SystemExit(f"block {block}: the volume does not show the new content")
    diff_area = world.coordinator.software_provider.diff_area(volume)
    top = {stat.traceback[0].filename.rpartition("/")[2]: stat.size for stat in by_file[:6]}
    return {
        "block_count": block_count,
        "blocks_in_use": volume.blocks_in_use,
        "diff_area_used_bytes": diff_area.used_bytes,
        "peak_bytes": peak - base,
        "volume_creation_bytes": after_volume - base,
        "snapshot_creation_bytes": after_snapshot - after_first,
        "bytes_per_write_before_snapshot": (after_first - after_volume) / writes,
        "bytes_per_write_with_cow": (final - after_snapshot) / writes,
        "bytes_per_written_block": (final - after_volume) / (2 * writes),
        "top_allocating_files": top,
    }


def measure(writes: int, overwrite_percent: int, payload_bytes: int, seed: int) -> dict[str, Any]:
    """Both sizes, and whether their figures agree within :data:`SAME_WITHIN`."""
    runs = {
        key: measure_size(size, writes, overwrite_percent, payload_bytes, seed)
        for key, size in SIZES.items()
    }
    figures: dict[str, Any] = {
        "writes_per_phase": writes,
        "overwrite_percent": overwrite_percent,
        "payload_bytes": payload_bytes,
        "seed": seed,
    }
    compared = (
        "peak_bytes",
        "bytes_per_write_before_snapshot",
        "bytes_per_write_with_cow",
        "bytes_per_written_block",
    )
    shown = ("block_count", "blocks_in_use", "diff_area_used_bytes", "volume_creation_bytes")
    for key, run in runs.items():
        figures[f"sparse_bytes_{key}"] = run["peak_bytes"]
        for name in (*shown, *compared[1:]):
            figures[f"{name}_{key}"] = run[name]
    worst = max(abs(runs["16t"][n] - runs["16g"][n]) / runs["16g"][n] for n in compared)
    figures["largest_relative_difference"] = worst
    figures["size_independent"] = worst <= SAME_WITHIN and all(
        run["volume_creation_bytes"] <= VOLUME_CREATION_LIMIT for run in runs.values()
    )
    figures["top_allocating_files_16t"] = runs["16t"]["top_allocating_files"]
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--writes", type=int, default=100_000)
    parser.add_argument("--overwrite-percent", type=int, default=50)
    parser.add_argument("--payload", type=int, default=64)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if not 0 <= args.overwrite_percent <= 100 or not 0 < args.payload <= 4096:
        parser.error("--overwrite-percent is 0-100 and --payload 1-4096")
    print(
        f"{args.writes} + {args.writes} distinct random block writes ({args.overwrite_percent}% "
        f"of the second lot overwrite the first), {args.payload}-byte payloads, a copy-on-write "
        "shadow copy in between; the same workload on a 16 GiB and a 16 TiB volume"
    )
    report(__file__, measure(args.writes, args.overwrite_percent, args.payload, args.seed))


if __name__ == "__main__":
    main()
