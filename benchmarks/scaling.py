"""How the time of one backup grows with the host: N writers, N volumes, N components.

Each point is a host with N volumes (the first mounted at ``C:\\``, the others in folders of it,
``C:\\Vols\\V0001\\``..., since there are not enough drive letters), N writers with one
component each, and that component's file on the writer's own volume. One agent backs up all N
components, so the shadow copy set holds N volumes. VSS allows 64 volumes in a set
(``VSS_E_MAXIMUM_NUMBER_OF_VOLUMES_REACHED``); the benchmark raises
``CoordinatorConfig.max_volumes_per_set`` to N. Writers keep their default timings drawn from a
seeded source (seed 0). The hosts are measured twice: with no application workload
(``scaling_exponent``), and with one per writer writing its file, paused while it is frozen
(``scaling_exponent_with_workload``).

The time of a point is building the world plus running the backup (both shown), best of
``--repeats``. The exponent is the least-squares slope of log(time) against log(N).

Garbage collection: before each point the benchmark collects, then freezes what is alive (the
interpreter's modules, the scenario: about 44,000 objects), as campaign workers do, so the
run's full collections scan the world and its trace, not the process around them. Without
that, those objects are scanned by every full collection, which large points make (a few) and
small ones do not: a cost of the process, not of the host's size, that steepens the exponent
(by about 0.02-0.03). The figures with the collector as it comes are also written, with the
suffix ``_gc_default``.

Run: python benchmarks/scaling.py [--sizes 10 100 1000] [--repeats K]
Prints a table and writes benchmarks/scaling.json.
"""

from __future__ import annotations

import argparse
import gc
import math
import time
import uuid
from collections.abc import Sequence
from typing import Any

from _common import report

from vsssim import Component, CoordinatorConfig, FileDescriptor, Scenario, WriterMetadata
from vsssim.host.scenario import AgentSpec, FileSpec, VolumeSpec, WorkloadSpec
from vsssim.vss.volumes import VSSSIM_NAMESPACE

#: The targets: exponent at most this, and the largest point (1000) under this many seconds.
TARGET_EXPONENT = 1.1
TARGET_SECONDS_AT_1000 = 2.0


def host(n: int, workload: bool = False) -> Scenario:
    """N volumes, N one-component writers (each on its own volume), one agent selecting all;
    with ``workload``, each writer's application writing its file."""
    mounts = ["C:\\"] + [f"C:\\Vols\\V{i:04d}\\" for i in range(1, n)]
    volumes = tuple(
        VolumeSpec(mount, "C:" if i == 0 else f"V{i:04d}") for i, mount in enumerate(mounts)
    )
    files = []
    writers = []
    selection = []
    for i, mount in enumerate(mounts):
        name = f"BenchWriter{i:04d}"
        class_id = uuid.uuid5(VSSSIM_NAMESPACE, f"bench-writer:{name}")
        files.append(FileSpec(f"{mount}Data{i:04d}\\data.dat", blocks=8, initial_blocks=4))
        component = Component(
            "Data", logical_path=name, files=(FileDescriptor(f"{mount}Data{i:04d}", "data.dat"),)
        )
        writers.append(
            WriterMetadata(
                writer_class_id=class_id,
                writer_instance_id=uuid.uuid5(class_id, "instance"),
                writer_name=name,
                components=(component,),
            )
        )
        selection.append(f"{name}:{component.full_path}")
    workloads = tuple(
        WorkloadSpec(f"app{i:04d}", (f.path,), writer=w.writer_name)
        for i, (f, w) in enumerate(zip(files, writers, strict=True))
    )
    return Scenario(
        volumes=volumes,
        files=tuple(files),
        writers=tuple(writers),
        workloads=workloads if workload else (),
        agents=(AgentSpec("bench agent", tuple(selection)),),
        config=CoordinatorConfig(max_volumes_per_set=max(64, n)),
    )


def one_backup(n: int, workload: bool = False, freeze: bool = True) -> tuple[float, float]:
    """Build the host of size ``n`` and run its backup; returns (build s, run s). With
    ``freeze``, what is alive before is frozen meanwhile (the module docstring says why)."""
    scenario = host(n, workload)
    gc.collect()
    if freeze:
        gc.freeze()
    try:
        started = time.perf_counter()
        world = scenario.build(0)
        built = time.perf_counter()
        [result] = world.run()
        ran = time.perf_counter()
    finally:
        gc.unfreeze()
    if not result.succeeded or len(result.volumes) != n or len(result.files) != n:
        raise SystemExit(
            f"N={n}: the backup did not take every volume: {result.outcome.value}, "
            f"{len(result.volumes)} volumes, {len(result.files)} files: {result.message}"
        )
    return built - started, ran - built


def slope(xs: Sequence[float], ys: Sequence[float]) -> float:
    """The least-squares slope of log(ys) against log(xs)."""
    lx = [math.log(x) for x in xs]
    ly = [math.log(y) for y in ys]
    mx, my = sum(lx) / len(lx), sum(ly) / len(ly)
    return sum((a - mx) * (b - my) for a, b in zip(lx, ly, strict=True)) / sum(
        (a - mx) ** 2 for a in lx
    )


def measure(sizes: Sequence[int], repeats: int) -> dict[str, Any]:
    """Time every size (best of ``repeats`` for build + run), without and with workloads, and
    fit the exponents; then the exponents again with the collector as it comes."""
    figures: dict[str, Any] = {
        "repeats": repeats,
        "max_volumes_per_set_default": CoordinatorConfig().max_volumes_per_set,
        "max_volumes_per_set_used": max(64, *sizes),
        "gc": "set-up frozen (suffix _gc_default: as it comes)",
    }
    for workload, suffix in ((False, ""), (True, "_with_workload")):
        totals = []
        runs = []
        for n in sizes:
            best = min((one_backup(n, workload) for _ in range(repeats)), key=sum)
            figures[f"build_s_{n}{suffix}"] = best[0]
            figures[f"run_s_{n}{suffix}"] = best[1]
            figures[f"seconds_{n}{suffix}"] = sum(best)
            totals.append(sum(best))
            runs.append(best[1])
        for i in range(1, len(sizes)):
            pair = sizes[i - 1 : i + 1]
            key = f"local_exponent_{pair[0]}_{pair[1]}{suffix}"
            figures[key] = slope(pair, totals[i - 1 : i + 1])
        exponent = slope(sizes, totals)
        figures[f"run_only_exponent{suffix}"] = slope(sizes, runs)
        figures[f"scaling_exponent{suffix}"] = exponent
        figures[f"exponent_target_met{suffix}"] = exponent <= TARGET_EXPONENT
        as_it_comes = [
            min(sum(one_backup(n, workload, freeze=False)) for _ in range(repeats)) for n in sizes
        ]
        figures[f"seconds_{sizes[-1]}{suffix}_gc_default"] = as_it_comes[-1]
        figures[f"scaling_exponent{suffix}_gc_default"] = slope(sizes, as_it_comes)
    figures["target_exponent"] = TARGET_EXPONENT
    if 1000 in sizes:
        figures["target_seconds_1000"] = TARGET_SECONDS_AT_1000
        figures["seconds_1000_target_met"] = figures["seconds_1000"] < TARGET_SECONDS_AT_1000
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if len(args.sizes) < 2:
        parser.error("the exponent needs at least two sizes")
    print(
        "one backup of N writers x N volumes x N components (seed 0); "
        f"CoordinatorConfig.max_volumes_per_set raised from "
        f"{CoordinatorConfig().max_volumes_per_set} to max(64, N)"
    )
    report(__file__, measure(args.sizes, args.repeats))


if __name__ == "__main__":
    main()
