"""Application workloads: processes that keep writing to files while backups run.

A workload linked to a writer is that writer's application: while the writer is frozen it issues
no writes (it waits for the thaw), which is what makes the shadow copy application-consistent.
An unlinked workload (a user copying files) never pauses; its writes during a commit are held
by the volume's write gate.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from vsssim.sim.kernel import MILLISECOND, Event, ProcessGenerator, Simulation, Timeout
from vsssim.vss.namespace import Namespace
from vsssim.vss.writers.base import Writer


@attrs.define(eq=False)
class Workload:
    """Writes a block of one of ``files`` every ``interval_us`` (drawn per write) until stopped."""

    name: str
    files: Sequence[str]
    interval_us: tuple[int, int] = (20 * MILLISECOND, 200 * MILLISECOND)
    writer: Writer | None = None
    writes_issued: int = attrs.field(default=0, init=False)

    def run(self, sim: Simulation, namespace: Namespace, stop: Event) -> ProcessGenerator:
        """The workload's process: write until ``stop`` triggers."""
        files = [namespace.file(path) for path in self.files]
        if not files:
            return
        # The decision sites, named once rather than at every write.
        interval_site = f"workload/{self.name}/interval"
        file_site = f"workload/{self.name}/file"
        block_site = f"workload/{self.name}/block"
        low, high = self.interval_us
        name = self.name
        while not stop.triggered:
            delay = sim.choices.between(interval_site, low, high)
            timer = Timeout(sim, delay)  # sim.timeout(delay), one call less a write
            yield sim.any_of([timer, stop])
            if stop.triggered:
                timer.cancel()
                return
            writer = self.writer
            if writer is not None and writer.application_frozen:
                yield sim.any_of([writer.application_resumed(), stop])
                if stop.triggered:
                    return
            choices = sim.choices  # no yield until the write: the same source for both draws
            file = files[choices.choose(file_site, len(files))]
            index = choices.choose(block_site, file.block_count)
            self.writes_issued = issued = self.writes_issued + 1
            file.volume.write(file.block_address(index), f"{name}#{issued}".encode(), name)
