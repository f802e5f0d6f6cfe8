"""Full seven-phase backups of the demo server per second, on one core, the applications'
writes batched in the trace (as fuzzing runs) and every write recorded (as ``vsssim demo``).

Also the cost of one kernel event: the batched backups' CPU time over the events their
kernels processed (``Simulation.events_processed``: protocol events and ticker firings, the
applications' writes; ``ns_per_event`` is everything an event does in the model), next to a
bare heapq loop over as many events (``bare_loop_ns_per_event``: pop an instant, call a
callback that pushes the next one; the floor any Python event loop pays). Every figure is CPU
time (``time.process_time``): what the work costs, whatever else the machine runs.

Run: python benchmarks/backup_throughput.py [--runs N]
Prints a table and writes benchmarks/backup_throughput.json.
"""

from __future__ import annotations

import argparse
import heapq
import time

from _common import report

from vsssim.host.demo import build_demo_world


def bare_loop(events: int, processes: int = 100) -> float:
    """CPU seconds a bare heapq event loop takes for ``events`` events: ``processes`` entries in
    the heap; each event pops the earliest and calls a callback that pushes its next instant."""
    heap = [(0, i) for i in range(processes)]
    push, pop = heapq.heappush, heapq.heappop

    def callback(when: int, who: int) -> None:
        push(heap, (when + 1 + who % 7, who))

    started = time.process_time()
    for _ in range(events):
        when, who = pop(heap)
        callback(when, who)
    return time.process_time() - started


def _backups(runs: int, batched: bool) -> tuple[float, int, int]:
    """CPU seconds, trace records and kernel events of ``runs`` demo backups (seeds 0, 1...)."""
    records = events = 0
    started = time.process_time()
    for seed in range(runs):
        world = build_demo_world(seed)
        world.sim.trace.batch_writes = batched
        [result] = world.run()
        if not result.succeeded:
            raise SystemExit(f"seed {seed}: the backup failed: {result.message}")
        records += len(world.sim.trace)
        events += world.sim.events_processed
    return time.process_time() - started, records, events


def measure(runs: int) -> dict[str, float]:
    """Run ``runs`` demo backups, each in a new world: with the applications' writes batched
    in the trace (as fuzzing runs; the headline), then with every write recorded (as ``vsssim
    demo`` prints them)."""
    elapsed, records, events = _backups(runs, batched=True)
    every_s, every_records, _ = _backups(runs, batched=False)
    bare = bare_loop(events)
    return {
        "runs": runs,
        "seconds": elapsed,
        "backups_per_s": runs / elapsed,
        "backups_per_s_every_write": runs / every_s,
        "trace_records_per_backup": records / runs,
        "trace_records_per_backup_every_write": every_records / runs,
        "events_per_backup": events / runs,
        "ns_per_event": elapsed / events * 1e9,
        "bare_loop_ns_per_event": bare / events * 1e9,
        "ns_per_event_vs_bare_loop": elapsed / bare,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    report(__file__, measure(args.runs))


if __name__ == "__main__":
    main()
