"""Testing backup software against a simulated VSS with the vsssim pytest plugin.

Installing vsssim enables the plugin; run these with:

    pytest examples/pytest_harness

Each test gets its own seed, derived from its id (the same on every run); a failing test's
report ends with a "vsssim" section giving the seed and the replay token of its worlds.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from vsssim import AgentOptions, HResult, Outcome, World
from vsssim.testing import Step, assert_sequence
from vsssim.vss.writers.catalogue import sql_server_writer

LESSONS = Path(__file__).parent.parent


def test_the_demo_backup_freezes_sql_server_around_the_commit(vsssim_demo: World) -> None:
    (result,) = vsssim_demo.run()
    assert result.outcome is Outcome.SUCCEEDED
    # The order that matters, whatever else happens between: SQL Server frozen, the volumes'
    # writes held for the commit and released, then SQL Server thawed.
    records = assert_sequence(
        vsssim_demo.sim.trace,
        Step("OnFreeze", actor="SqlServerWriter"),
        "hold writes",
        "release writes",
        Step("OnThaw", actor="SqlServerWriter"),
        "BackupComplete",
    )
    hold, release = records[1], records[2]
    assert release.time_us - hold.time_us < 10_000_000  # within VSS's 10 s hold limit


def test_a_server_built_in_the_test(vsssim_world: World) -> None:
    """An empty world on this test's seed: build just what the test needs."""
    vsssim_world.add_volume("D:\\", "Data", 10 * 1024**3)
    vsssim_world.add_volume("E:\\", "Logs", 10 * 1024**3)
    vsssim_world.add_file("D:\\SQLData\\Sales.mdf", 64, initial_blocks=64)
    vsssim_world.add_file("E:\\SQLLogs\\Sales_log.ldf", 16, initial_blocks=16)
    databases = [("Sales", "D:\\SQLData", "E:\\SQLLogs")]
    vsssim_world.add_writer(sql_server_writer("SQLSRV01", databases))
    vsssim_world.add_agent(
        "agent", ["SqlServerWriter:SQLSRV01\\Sales"], AgentOptions(keep_snapshots=True)
    )
    (result,) = vsssim_world.run()
    assert result.hresult is HResult.S_OK
    assert sorted(result.volumes) == ["Data", "Logs"]


def test_a_lesson_file_fails_the_way_it_says(vsssim_scenario: Callable[..., World]) -> None:
    world = vsssim_scenario(LESSONS / "03_writer_fails_at_freeze.toml")
    (result,) = world.run()
    assert result.outcome is Outcome.FAILED
    assert_sequence(
        world.sim.trace, Step("OnFreeze", actor="SqlServerWriter"), "OnAbort", "AbortBackup"
    )
