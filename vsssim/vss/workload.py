"""Application workloads: applications that keep writing to files while backups run.

A workload linked to a writer is that writer's application: while the writer is frozen it issues
no writes (it waits for the thaw), which is what makes the shadow copy application-consistent.
An unlinked workload (a user copying files) never pauses; its writes during a commit are held
by the volume's write gate.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from vsssim.sim.choices import splitmix64
from vsssim.sim.kernel import MILLISECOND, Event, Simulation
from vsssim.sim.tickers import Ticker
from vsssim.vss.namespace import File, Namespace
from vsssim.vss.writers.base import Writer

#: SplitMix64's modulus, less one (its steps are written out in :meth:`_Writes._fire`).
_MASK = (1 << 64) - 1
#: The range of the one choice that seeds a workload's own stream of draws.
SEED_RANGE = (0, 2**32 - 1)


@attrs.define(eq=False)
class Workload:
    """Writes a block of one of ``files`` every ``interval_us`` (drawn per write) until stopped.

    The writes are a kernel :mod:`ticker <vsssim.sim.tickers>`, not a process: no event per
    write. Each workload draws its intervals, files and blocks from its own stream (SplitMix64),
    seeded by one choice at ``workload/NAME/seed`` when it starts, so a replay token carries one
    number per workload, not three per write.
    """

    name: str
    files: Sequence[str]
    interval_us: tuple[int, int] = (20 * MILLISECOND, 200 * MILLISECOND)
    writer: Writer | None = None
    writes_issued: int = attrs.field(default=0, init=False)

    def start(self, sim: Simulation, namespace: Namespace, stop: Event) -> None:
        """Start writing now, until ``stop`` is processed."""
        files = [namespace.file(path) for path in self.files]
        if not files:
            return
        seed = sim.choices.between(f"workload/{self.name}/seed", *SEED_RANGE)
        _Writes(self, sim, files, seed, stop)


class _Writes:
    """One run of a workload's writes: its stream of draws, and its ticker."""

    __slots__ = ("_files", "_resting", "_sim", "_state", "_ticker", "_workload")

    def __init__(
        self, workload: Workload, sim: Simulation, files: list[File], seed: int, stop: Event
    ) -> None:
        self._workload = workload
        self._sim = sim
        self._files = files
        self._state = seed
        self._resting = False
        self._ticker: Ticker = sim.ticker(f"workload {workload.name}", self._fire)
        if stop.callbacks is None:  # stopped before it started
            self._ticker.stop()
            return
        stop.callbacks.append(self._stop)
        self._ticker.arm(sim.now + self._draw_interval())

    def _draw_interval(self) -> int:
        """The time to the next write, from the stream (the modulo's bias is below
        ``n / 2**64``, as for every draw of it)."""
        low, high = self._workload.interval_us
        self._state, value = splitmix64(self._state)
        return low + value % (high - low + 1)

    def _fire(self, now: int) -> int | None:
        """A write is due: it lands, unless the writer holds its application frozen (the
        write then waits for the thaw)."""
        workload = self._workload
        writer = workload.writer
        if writer is not None and writer.application_frozen:
            resumed = writer.application_resumed()
            if resumed.callbacks is not None:  # not resumed yet: wait for it
                self._resting = True
                resumed.callbacks.append(self._resume)
                return None
        # The three draws of a write (file, block, the next interval) are three SplitMix64
        # steps written out here (splitmix64() and _draw_interval() inline: the arithmetic is
        # theirs, the calls and tuples would be a quarter of a write's cost).
        state = (self._state + 0x9E3779B97F4A7C15) & _MASK
        files = self._files
        if len(files) == 1:  # the draw is still made (a step of the stream), its value unused
            file = files[0]
        else:
            z = ((state ^ (state >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
            file = files[(z ^ (z >> 31)) % len(files)]
        state = (state + 0x9E3779B97F4A7C15) & _MASK
        z = ((state ^ (state >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
        # In range by construction: File.block_address() would only check it again.
        block = file.first_block + (z ^ (z >> 31)) % file.block_count
        state = (state + 0x9E3779B97F4A7C15) & _MASK
        z = ((state ^ (state >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
        self._state = state
        low, high = workload.interval_us
        workload.writes_issued = issued = workload.writes_issued + 1
        name = workload.name
        file.volume.write(block, f"{name}#{issued}".encode(), name, batch=True)
        return now + low + (z ^ (z >> 31)) % (high - low + 1)

    def _resume(self, _event: Event) -> None:
        """The application may write again: the write that waited lands now."""
        if self._resting:
            self._resting = False
            self._ticker.arm(self._sim.now)

    def _stop(self, _event: Event) -> None:
        self._resting = False
        self._ticker.stop()
