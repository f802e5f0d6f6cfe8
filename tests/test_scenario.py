"""Scenarios as values: drawn from a seed, written as JSON and read back, built into worlds."""

from __future__ import annotations

import json

import pytest

from vsssim import ConfigurationError, Scenario
from vsssim.host.scenario import AgentSpec, FileSpec, VolumeSpec, WorkloadSpec
from vsssim.host.scenario_codec import scenario_from_dict, scenario_to_dict
from vsssim.sim.choices import SeededChoices
from vsssim.testing.draw import draw_scenario
from vsssim.testing.invariants import check_all


def test_a_drawn_scenario_depends_on_its_seed_only() -> None:
    assert draw_scenario(SeededChoices(4)) == draw_scenario(SeededChoices(4))
    drawn = {draw_scenario(SeededChoices(seed)) for seed in range(20)}
    assert len(drawn) == 20
    sizes = {(len(s.volumes), len(s.writers), len(s.agents)) for s in drawn}
    assert len(sizes) > 5, "swarm: runs differ in their numbers of volumes, writers, agents"


@pytest.mark.parametrize("seed", range(15))
def test_a_scenario_survives_json_and_builds_a_world_that_keeps_every_invariant(
    seed: int,
) -> None:
    scenario = draw_scenario(SeededChoices(seed))
    data = json.loads(json.dumps(scenario_to_dict(scenario)))
    assert scenario_from_dict(data) == scenario
    world = scenario.build(seed)
    world.run()
    assert world.heal_and_settle(3600 * 10**6)
    assert len(world.results) == len(scenario.agents)
    assert {name: found for name, found in check_all(world).items() if found} == {}


def test_a_hand_written_scenario_builds_what_it_lists() -> None:
    scenario = Scenario(
        volumes=(VolumeSpec("D:\\", "D:"),),
        files=(FileSpec("D:\\App\\a.dat", 8, 4),),
        workloads=(WorkloadSpec("users", ("D:\\App\\a.dat",)),),
    )
    world = scenario.build(0)
    assert [v.label for v in world.namespace.volumes] == ["D:"]
    assert world.namespace.file("D:\\App\\a.dat").block_count == 8


def test_bad_scenarios_are_refused_with_the_reason() -> None:
    with pytest.raises(ConfigurationError, match="no writer 'Ghost'"):
        Scenario(
            volumes=(VolumeSpec("D:\\", "D:"),),
            files=(FileSpec("D:\\a.dat", 4),),
            workloads=(WorkloadSpec("app", ("D:\\a.dat",), writer="Ghost"),),
        ).build(0)
    with pytest.raises(ConfigurationError, match="not a scenario"):
        scenario_from_dict({"volumes": [{"mount_point": "D:\\"}]})


def test_without_drops_one_agent_or_workload() -> None:
    scenario = Scenario(
        volumes=(VolumeSpec("D:\\", "D:"),),
        workloads=(WorkloadSpec("a", ()), WorkloadSpec("b", ())),
        agents=(AgentSpec("x", ("W:C",)), AgentSpec("y", ("W:C",))),
    )
    smaller = scenario.without(agent="x", workload="b")
    assert [a.name for a in smaller.agents] == ["y"]
    assert [w.name for w in smaller.workloads] == ["a"]


def test_given_writers_get_files_their_wildcards_match_on_volumes_made_for_them() -> None:
    from vsssim.vss.writers.catalogue import sql_server_writer

    sql = sql_server_writer("SRV", [("Sales", "D:\\Data", "L:\\Logs")]).metadata
    scenario = draw_scenario(SeededChoices(3), writers=(sql,))
    world = scenario.build(3)
    mounted = {v.label for v in world.namespace.volumes}
    assert {"D:", "L:"} <= mounted
    [component] = sql.components
    found = [
        f.path
        for fd in (*component.files, *component.database_files, *component.log_files)
        for f in world.namespace.match(fd.path, fd.filespec, fd.recursive)
    ]
    assert sorted(found) == sorted({f.path for f in scenario.files})


def _imported_at_load(module: str) -> set[str]:
    """The vsssim modules ``module`` imports at its top level, and those they import, and so on
    (read from the source: importing anything of vsssim loads the whole package)."""
    import ast
    from pathlib import Path

    root = Path(__file__).parent.parent
    seen: set[str] = set()
    todo = [module]
    while todo:
        name = todo.pop()
        path = root / (name.replace(".", "/") + ".py")
        if not path.exists():
            path = root / name.replace(".", "/") / "__init__.py"
        if not path.exists():
            continue  # a name imported from a module, not a module
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            found = []
            if isinstance(node, ast.ImportFrom) and node.module:
                found = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            elif isinstance(node, ast.Import):
                found = [a.name for a in node.names]
            for dep in found:
                if dep.startswith("vsssim.") and dep not in seen:
                    seen.add(dep)
                    todo.append(dep)
    return seen


def test_the_scenario_values_are_the_layer_under_their_codec_and_drawing() -> None:
    """The drawing and the codec build on the values; the values and the model never load them."""
    layered = {"vsssim.host.scenario_codec", "vsssim.testing.draw"}
    assert "vsssim.host.scenario" in _imported_at_load("vsssim.host.scenario_codec")
    assert "vsssim.host.scenario" in _imported_at_load("vsssim.testing.draw")
    assert not layered & _imported_at_load("vsssim.host.scenario")
    assert not layered & _imported_at_load("vsssim.host.world")
    assert not layered & _imported_at_load("vsssim.host.scenario_file")
