"""The bounds of what a scenario file may ask for, and the run length they imply.

A scenario file is input: whatever it says, reading it must take bounded time and memory,
and a file that reads must build and run in bounded time and memory too. So every count,
size, duration and rate a file gives is checked against the table below (:data:`LIMITS`, the
one the README quotes), and so is what the values imply together: the longest the run can
last on the simulated clock (:func:`run_horizon_us`, at most :data:`MAX_RUN`) and how many
writes the applications issue in that time (:func:`expected_writes`, at most
:data:`MAX_WORKLOAD_WRITES`; each write costs a trace record, about 600 bytes).

The bounds are generous for modelling a real host (a year of backups is many files, not one)
and every example in ``examples/`` is well inside them.
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from vsssim.host.scenario import Scenario
from vsssim.requesters.backup_options import AgentOptions
from vsssim.sim.kernel import MILLISECOND, SECOND
from vsssim.vss.coordinator.service import CoordinatorConfig
from vsssim.vss.providers.xp import ReplicaOptions
from vsssim.vss.volumes import DEFAULT_BLOCK_SIZE

MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
DAY = 24 * HOUR
KIB = 1024
MIB = 1024**2
GIB = 1024**3
TIB = 1024**4
PIB = 1024**5

#: The largest scenario file read (bytes); a longer one is refused before it is parsed
#: (parsing the worst 256 KiB of TOML takes about a second).
MAX_FILE_BYTES = 256 * KIB
#: The deepest nesting of tables, arrays and dotted keys (the format needs 5).
MAX_NESTING = 16
#: The longest string value (names, paths, labels); ``about`` may be longer.
MAX_TEXT = 1024
MAX_ABOUT = 64 * KIB
#: The most items of any one array (selections, file descriptors, fault sites...).
MAX_ITEMS = 256
#: The longest numeral of a duration or size (digits before and after the point).
MAX_DIGITS = 15


@attrs.frozen
class Bound:
    """An inclusive range ``[low, high]`` of integers; ``unit`` (``us``, ``B`` or empty) says
    how to show them."""

    low: int
    high: int
    unit: str = ""

    def show(self, value: int) -> str:
        """``value`` as the file would write it (``'10 min'``, ``'256 KiB'``, ``64``)."""
        if abs(value) >= 10**30:
            return f"a number of {len(str(abs(value)))} digits"
        if self.unit == "us":
            return show_duration(value)
        if self.unit == "B":
            return show_size(value)
        return str(value)

    def text(self) -> str:
        """The range as words, for error messages and the README."""
        return f"{self.show(self.low)} to {self.show(self.high)}"


#: Counts: how many of each the top level (or its owner) may have.
COUNTS: Mapping[str, int] = {
    "volumes": 64,
    "files": 256,
    "writers": 32,
    "writers[].components": 64,
    "workloads": 16,
    "agents": 16,
    "array.pools": 16,
    "volumes[].replicas": 16,
}

#: Every bounded number a scenario file gives, by key (``[]``: any item of the array).
LIMITS: Mapping[str, Bound] = {
    "seed": Bound(0, 2**64 - 1),
    "volumes[].size": Bound(1 * MIB, 1 * PIB, "B"),
    "files[].blocks": Bound(1, 65_536),
    "files[].initial_blocks": Bound(0, 65_536),
    "workloads[].interval": Bound(1 * MILLISECOND, 1 * HOUR, "us"),
    "agents[].start": Bound(0, 7 * DAY, "us"),
    "agents[].lock_wait": Bound(0, 1 * DAY, "us"),
    "agents[].lock_retry": Bound(1 * MILLISECOND, 1 * HOUR, "us"),
    "agents[].copy_bytes_per_s": Bound(1 * MIB, 1 * TIB),
    "agents[].retry.retries": Bound(0, 10),
    "agents[].retry.delay": Bound(0, 1 * DAY, "us"),
    "replica.replicas_rotated": Bound(1, 16),
    "replica.sync_wait": Bound(1, 1 * DAY, "us"),
    "replica.pool": Bound(0, 1023),
    "array.serial": Bound(0, 999_999),
    "array.track_size": Bound(4 * KIB, 16 * MIB, "B"),
    "array.track_copy": Bound(0, 1 * SECOND, "us"),
    "array.pools[].id": Bound(0, 1023),
    "array.pools[].capacity": Bound(1 * MIB, 1 * PIB, "B"),
    "config.writer_reply": Bound(1 * MILLISECOND, 1 * DAY, "us"),
    "config.flush": Bound(0, 1 * HOUR, "us"),
    "config.flush_limit": Bound(1 * MILLISECOND, 1 * DAY, "us"),
    "config.hold_limit": Bound(1 * MILLISECOND, 1 * DAY, "us"),
    "config.max_volumes_per_set": Bound(1, 64),
    "config.status_query": Bound(1 * MILLISECOND, 1 * HOUR, "us"),
    "config.provider_reply": Bound(1 * MILLISECOND, 1 * DAY, "us"),
    "config.rundown": Bound(1 * MILLISECOND, 1 * DAY, "us"),
    "faults.activation_percent": Bound(0, 100),
    "faults.fire_percents[]": Bound(0, 100),
    "faults.limit": Bound(0, 10_000),
    "faults.per_run": Bound(0, 10_000),
    "faults.times": Bound(0, 10_000),
    "restore.write_for": Bound(0, 1 * DAY, "us"),
}

#: The most file blocks a scenario's files may have together (1 GiB of data).
MAX_TOTAL_BLOCKS = 262_144
#: The longest a run may last on the simulated clock, at worst (:func:`run_horizon_us`).
MAX_RUN = 30 * DAY
#: The most writes the workloads may issue in the longest run (:func:`expected_writes`).
MAX_WORKLOAD_WRITES = 1_000_000

#: The attrs fields the reader reads from a table, by class and field: the key of
#: :data:`LIMITS` bounding each.
FIELD_LIMITS: Mapping[str, str] = {
    "CoordinatorConfig.writer_reply_us": "config.writer_reply",
    "CoordinatorConfig.flush_us": "config.flush",
    "CoordinatorConfig.flush_limit_us": "config.flush_limit",
    "CoordinatorConfig.hold_limit_us": "config.hold_limit",
    "CoordinatorConfig.max_volumes_per_set": "config.max_volumes_per_set",
    "CoordinatorConfig.status_query_us": "config.status_query",
    "CoordinatorConfig.provider_reply_us": "config.provider_reply",
    "CoordinatorConfig.rundown_us": "config.rundown",
    "AgentOptions.copy_bytes_per_s": "agents[].copy_bytes_per_s",
    "AgentOptions.lock_wait_us": "agents[].lock_wait",
    "AgentOptions.lock_retry_us": "agents[].lock_retry",
    "RetryPolicy.retries": "agents[].retry.retries",
    "RetryPolicy.delay_us": "agents[].retry.delay",
    "ReplicaOptions.replicas_rotated": "replica.replicas_rotated",
    "ReplicaOptions.sync_wait_us": "replica.sync_wait",
    "ReplicaOptions.pool": "replica.pool",
    "WorkloadSpec.interval_us": "workloads[].interval",
}


def show_duration(us: int) -> str:
    """``us`` microseconds in the largest unit that divides it (``'10 min'``, ``'150 ms'``)."""
    for unit, size in (("h", HOUR), ("min", MINUTE), ("s", SECOND), ("ms", MILLISECOND)):
        if us and us % size == 0:
            return f"{us // size} {unit}"
    return f"{us} us" if us else "0 s"


def show_roughly(us: int) -> str:
    """``us`` microseconds rounded to a readable unit (``'107 h'``)."""
    for unit, size in (("h", HOUR), ("min", MINUTE), ("s", SECOND), ("ms", MILLISECOND)):
        if us >= size:
            return f"{round(us / size)} {unit}"
    return f"{us} us"


def show_size(size: int) -> str:
    """``size`` bytes in the largest binary unit that divides it (``'256 KiB'``)."""
    for unit, step in (("PiB", PIB), ("TiB", TIB), ("GiB", GIB), ("MiB", MIB), ("KiB", KIB)):
        if size and size % step == 0:
            return f"{size // step} {unit}"
    return f"{size} B"


def attempt_us(config: CoordinatorConfig, options: AgentOptions, copy_bytes: int) -> int:
    """The longest one backup attempt can take: the set lock, every writer event answered at
    the last moment, both provider calls at their limit, flush, hold, sync, the copy of the
    data and a requester's rundown."""
    # The agent's replica options are the provider's own: only the XP provider's say how long
    # its mirrors may take to synchronise.
    sync = options.replica.sync_wait_us if isinstance(options.replica, ReplicaOptions) else 0
    copy = -(-copy_bytes * SECOND // max(1, options.copy_bytes_per_s))
    return (
        options.lock_wait_us
        + 8 * config.writer_reply_us
        + 2 * config.provider_reply_us
        + config.flush_limit_us
        + config.hold_limit_us
        + config.rundown_us
        + sync
        + copy
    )


def backup_us(config: CoordinatorConfig, options: AgentOptions, copy_bytes: int) -> int:
    """The longest an agent's backup can take, its retries (and the retry without failed
    writers) included."""
    attempts = options.retry.retries + 1 + (1 if options.skip_failed_writers else 0)
    return attempts * attempt_us(config, options, copy_bytes) + (
        options.retry.retries * options.retry.delay_us
    )


def run_horizon_us(scenario: Scenario) -> int:
    """The longest ``scenario``'s run can last on the simulated clock, at worst: each agent
    starts at its start or once its bases finished, and takes :func:`backup_us`; a restore
    step writes for its ``write_for`` and restores in about one more attempt's time."""
    copy_bytes = sum(f.blocks for f in scenario.files) * DEFAULT_BLOCK_SIZE
    ends: dict[str, int] = {}
    for agent in scenario.agents:
        begin = max([agent.start_us, *(ends.get(b, 0) for b in agent.builds_on)])
        ends[agent.name] = begin + backup_us(scenario.config, agent.options, copy_bytes)
    horizon = max(ends.values(), default=0)
    if scenario.restore is not None:
        horizon += scenario.restore.write_for_us + attempt_us(
            scenario.config, AgentOptions(), copy_bytes
        )
    return horizon


def expected_writes(scenario: Scenario, horizon_us: int) -> int:
    """How many writes the workloads issue in ``horizon_us``, each at its mean interval."""
    return sum(
        2 * horizon_us // max(1, low + high)
        for low, high in (w.interval_us for w in scenario.workloads)
    )


def totals_problem(scenario: Scenario) -> tuple[str, str] | None:
    """What ``scenario``'s values imply together, if it is past a bound: (the key it is
    about, what is wrong); None when the files' blocks, the longest the run can last and the
    writes the workloads issue in that time are all within :data:`MAX_TOTAL_BLOCKS`,
    :data:`MAX_RUN` and :data:`MAX_WORKLOAD_WRITES`."""
    blocks = sum(f.blocks for f in scenario.files)
    if blocks > MAX_TOTAL_BLOCKS:
        return "files", f"{blocks} blocks in all; at most {MAX_TOTAL_BLOCKS} are simulated"
    horizon = run_horizon_us(scenario)
    if horizon > MAX_RUN:
        return "agents", (
            f"the run could last about {show_roughly(horizon)} of simulated time at worst "
            f"(starts, timeouts, retries and their delays); at most {show_duration(MAX_RUN)}"
        )
    writes = expected_writes(scenario, horizon)
    if writes > MAX_WORKLOAD_WRITES:
        return "workloads", (
            f"the workloads would issue about {writes} writes in the "
            f"{show_roughly(horizon)} the run could last at worst; "
            f"at most {MAX_WORKLOAD_WRITES} "
            "(write less often, start the agents earlier or shorten the timeouts)"
        )
    return None
