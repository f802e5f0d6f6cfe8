"""Quiescence after any combination of simultaneous failures: every survivable fault kind,
several at once, firing at every site of a host with two providers and two agents, leaves
nothing locked, marked, held or frozen once healed, and no run raises past its end."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vsssim import AgentOptions, FaultPlan, RetryPolicy, World
from vsssim.faults import SURVIVABLE
from vsssim.testing.invariants import check_all
from vsssim.vss.providers.xp import XP_PROVIDER_ID, ReplicaMode, ReplicaOptions
from vsssim.vss.workload import Workload
from vsssim.vss.writers.catalogue import sql_server_writer

GIB = 1024**3
SALES = "SqlServerWriter:SQLSRV01\\Sales"


def _mixed_host(seed: int, plan: FaultPlan) -> World:
    """Sales on an array LDEV (D:) and a plain volume (C:): two providers in one set."""
    world = World.create(seed, faults=plan)
    world.add_array(options=ReplicaOptions(mode=ReplicaMode.RESYNC))
    world.add_volume("C:\\", "C:", GIB)
    world.add_array_volume("D:\\", "01:10", GIB, label="D:", replicas=["01:20", "01:21"])
    world.add_file("D:\\SQLData\\Sales.mdf", 64, initial_blocks=8)
    world.add_file("C:\\SQLLogs\\Sales_log.ldf", 16, initial_blocks=4)
    sql = world.add_writer(sql_server_writer("SQLSRV01", [("Sales", "D:\\SQLData", "C:\\SQLLogs")]))
    world.add_workload(
        Workload(
            "sqlservr.exe",
            ["D:\\SQLData\\Sales.mdf", "C:\\SQLLogs\\Sales_log.ldf"],
            interval_us=(5_000, 40_000),
            writer=sql,
        )
    )
    options = AgentOptions(
        provider_id=XP_PROVIDER_ID,
        replica=ReplicaOptions(mode=ReplicaMode.RESYNC),
        retry=RetryPolicy(retries=1),
    )
    world.add_agent("first", [SALES], options)
    world.add_agent("second", [SALES], AgentOptions(retry=RetryPolicy(retries=1)))
    return world


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    kinds=st.lists(st.sampled_from(SURVIVABLE), min_size=1, max_size=4, unique=True),
    fire=st.sampled_from((30, 100)),
    seed=st.integers(0, 2**32),
)
def test_any_mix_of_faults_at_once_ends_quiet(kinds: list[str], fire: int, seed: int) -> None:
    plan = FaultPlan(tuple(kinds), activation_percent=100, fire_percents=(fire,))
    world = _mixed_host(seed, plan)
    world.run(limit_us=3600 * 1_000_000)
    settled = world.heal_and_settle(3600 * 1_000_000)
    assert world.crash is None, str(world.crash)
    assert settled and world.finished
    assert world.coordinator.creating is None
    assert all(not v.held and v.marked_by is None for v in world.namespace.volumes)
    assert all(not w.application_frozen for w in world.coordinator.writers)
    violated = {k: [str(v) for v in vs] for k, vs in check_all(world).items() if vs}
    assert violated == {}
