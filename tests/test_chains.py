"""Chains of backups in scenarios: agents that build on earlier agents' backups, their restore
as points in time (every step checked by "restore honest"), and chains drawn by the fuzzer."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import attrs
import pytest

import vsssim.vss.writers.backup_history as backup_history
from vsssim import SECOND, AgentOptions, BackupType, ConfigurationError, Outcome, World
from vsssim.host.scenario import (
    AgentSpec,
    FileSpec,
    RestoreSpec,
    Scenario,
    VolumeSpec,
    WorkloadSpec,
)
from vsssim.host.scenario_codec import scenario_from_dict, scenario_to_dict
from vsssim.host.scenario_file import parse_scenario
from vsssim.requesters.archive import BackupArchive
from vsssim.requesters.restore import ChainRestore, RestoreStep
from vsssim.requesters.restore_agent import RestoreAgent
from vsssim.sim import vocabulary as V
from vsssim.sim.choices import ChoiceSource, SeededChoices
from vsssim.testing.draw import draw_scenario
from vsssim.testing.fuzz import fuzz_one, replay, run_seed
from vsssim.testing.invariants import check_all, restore_honest
from vsssim.vss.constants import BackupSchema, RestoreStatus
from vsssim.vss.documents.backup_document import BackupComponentsDocument
from vsssim.vss.metadata import Component, FileDescriptor, WriterMetadata
from vsssim.vss.volumes import VSSSIM_NAMESPACE

DATA = "D:\\Data\\a.db"
LOG = "D:\\Data\\a.log"
COMPONENT = "W:L\\A"
WRITER_ID = uuid.uuid5(VSSSIM_NAMESPACE, "test-chains:W")
WRITER = WriterMetadata(
    writer_class_id=WRITER_ID,
    writer_instance_id=uuid.uuid5(WRITER_ID, "instance"),
    writer_name="W",
    backup_schema=BackupSchema.INCREMENTAL | BackupSchema.DIFFERENTIAL,
    components=(
        Component(
            "A",
            logical_path="L",
            database_files=(FileDescriptor("D:\\Data", "a.db"),),
            log_files=(FileDescriptor("D:\\Data", "a.log"),),
        ),
    ),
)


def chain_scenario(
    *later: tuple[str, BackupType, tuple[str, ...]], restore: bool = True
) -> Scenario:
    """One writer whose application writes all along; ``full`` backs its component up, then
    each of ``later`` (name, type, builds_on) 2 s after it starts."""
    agents = [AgentSpec("full", (COMPONENT,))]
    for name, kind, bases in later:
        agents.append(
            AgentSpec(name, (COMPONENT,), AgentOptions(backup_type=kind), 2 * SECOND, bases)
        )
    return Scenario(
        volumes=(VolumeSpec("D:\\", "D:"),),
        files=(FileSpec(DATA, 32, 16), FileSpec(LOG, 16, 8)),
        writers=(WRITER,),
        workloads=(WorkloadSpec("app", (DATA, LOG), writer="W"),),
        agents=tuple(agents),
        restore=RestoreSpec(SECOND) if restore else None,
    )


TWO_INCREMENTALS = chain_scenario(
    ("inc-1", BackupType.INCREMENTAL, ("full",)),
    ("inc-2", BackupType.INCREMENTAL, ("full", "inc-1")),
)


def run(scenario: Scenario, seed: int = 4) -> World:
    world = scenario.build(seed)
    world.run()
    if scenario.restore is not None:
        assert scenario.restore.run(world)
    return world


def violations(world: World) -> list[str]:
    return [str(v) for vs in check_all(world).values() for v in vs]


# -- agents that build on others ---------------------------------------------------------------


def test_an_agent_that_builds_on_others_starts_after_them_with_their_documents() -> None:
    world = run(TWO_INCREMENTALS)
    full, inc1, inc2 = world.results
    assert all(r.outcome is Outcome.SUCCEEDED for r in world.results)
    assert inc1.started_us >= max(full.finished_us, 2 * SECOND)
    assert inc2.started_us >= inc1.finished_us
    agents = {agent.name: agent for agent, _ in world.agents}
    assert agents["inc-1"].options.history == (full.document,)
    assert agents["inc-2"].options.history == (full.document, inc1.document)
    assert world.builds_on("inc-2") == ("full", "inc-1")
    for base, result in ((full, inc1), (inc1, inc2)):
        assert base.document is not None and result.document is not None
        [before], [after] = base.document.components, result.document.components
        assert after.previous_backup_stamp == before.backup_stamp
        assert after.partial_files  # only what changed since the base was copied
    assert violations(world) == []


def test_a_base_that_failed_is_left_out_of_the_history() -> None:
    world = chain_scenario(restore=False).build(1)
    world.add_agent("broken", ["W:L\\Nothing"])
    world.add_agent(
        "inc",
        [COMPONENT],
        AgentOptions(backup_type=BackupType.INCREMENTAL),
        builds_on=["full", "broken"],
    )
    world.run()
    results = {r.agent: r for r in world.results}
    assert results["broken"].outcome is Outcome.FAILED
    assert results["inc"].outcome is Outcome.SUCCEEDED
    agents = {agent.name: agent for agent, _ in world.agents}
    assert agents["inc"].options.history == (results["full"].document,)
    [record] = world.sim.trace.find(action=V.BUILDS_ON)
    assert record.details == {"agents": ["full", "broken"], "history": ["full"]}


def test_a_later_round_builds_on_an_agent_that_ran_before() -> None:
    world = chain_scenario(restore=False).build(1)
    world.run()
    agent = world.add_agent(
        "inc", [COMPONENT], AgentOptions(backup_type=BackupType.INCREMENTAL), builds_on=["full"]
    )
    world.start([(agent, 0)])
    world.sim.run()
    assert agent.result is not None and agent.result.outcome is Outcome.SUCCEEDED
    assert agent.options.history == (world.results[0].document,)
    lonely = World.create(1)
    lonely.add_volume("D:\\", "D:", 1 << 30)
    lonely.add_agent("full", ["W:L\\A"])
    late = lonely.add_agent("inc", ["W:L\\A"], builds_on=["full"])
    with pytest.raises(ConfigurationError, match="'inc' builds on 'full', which neither starts"):
        lonely.start([(late, 0)])


@pytest.mark.parametrize(
    ("bases", "message"),
    [
        (("inc",), "agent 'inc' cannot build on itself"),
        (("nightly",), "agent 'inc' builds on 'nightly', which is not an agent added before it"),
        (("later",), "agent 'inc' builds on 'later', which is not an agent added before it"),
        (("full", "full"), "agent 'inc' builds on ['full', 'full']: a repeat"),
    ],
)
def test_builds_on_names_earlier_agents_only(bases: tuple[str, ...], message: str) -> None:
    scenario = chain_scenario(
        ("inc", BackupType.INCREMENTAL, bases), ("later", BackupType.FULL, ())
    )
    with pytest.raises(ConfigurationError, match=r"^agents\[1\]: " + re.escape(message)):
        scenario.build(1)


def test_an_agent_given_a_history_cannot_also_build_on_others() -> None:
    world = chain_scenario(restore=False).build(1)
    with pytest.raises(ConfigurationError, match="agent 'inc' has a history already"):
        history = (BackupComponentsDocument(),)
        world.add_agent("inc", [COMPONENT], AgentOptions(history=history), builds_on=["full"])


def test_a_chain_round_trips_as_data_and_shrinking_an_agent_unchains_the_others() -> None:
    data = scenario_to_dict(TWO_INCREMENTALS)
    assert data["agents"][2]["builds_on"] == ["full", "inc-1"]
    assert data["writers"][0]["backup_schema"] == "DIFFERENTIAL|INCREMENTAL"
    assert scenario_from_dict(data) == TWO_INCREMENTALS
    smaller = TWO_INCREMENTALS.without(agent="inc-1")
    assert [(a.name, a.builds_on) for a in smaller.agents] == [
        ("full", ()),
        ("inc-2", ("full",)),
    ]
    smaller.build(1)


def test_a_scenario_file_writes_a_chain() -> None:
    text = """
[[volumes]]
mount_point = 'D:\\'
[[files]]
path = 'D:\\Data\\a.db'
blocks = 8
[[writers]]
name = "W"
backup_schema = ["incremental", "VSS_BS_DIFFERENTIAL"]
  [[writers.components]]
  name = "A"
  logical_path = "L"
  database_files = ['D:\\Data\\a.db']
[[agents]]
name = "nightly-full"
select = ['W:L\\A']
[[agents]]
name = "hourly"
select = ['W:L\\A']
backup_type = "INCREMENTAL"
builds_on = ["nightly-full"]
[[agents]]
name = "weekly"
select = ['W:L\\A']
backup_type = "VSS_BT_DIFFERENTIAL"
builds_on = ["nightly-full", "hourly"]
"""
    scenario = parse_scenario(text).scenario
    assert scenario.writers[0].backup_schema == BackupSchema.INCREMENTAL | BackupSchema.DIFFERENTIAL
    assert [(a.options.backup_type, a.builds_on) for a in scenario.agents] == [
        (BackupType.FULL, ()),
        (BackupType.INCREMENTAL, ("nightly-full",)),
        (BackupType.DIFFERENTIAL, ("nightly-full", "hourly")),
    ]
    world = scenario.build(1)
    assert all(r.succeeded for r in world.run())


# -- restoring chains ---------------------------------------------------------------------------


def test_the_restore_step_restores_every_backup_as_a_point_with_its_chain() -> None:
    world = run(TWO_INCREMENTALS)
    full, inc1, inc2 = (_time_of(r) for r in world.results)
    steps = [(run.result.agent, run.archive.document.time_us) for run in world.restores]
    assert [agent for agent, _ in steps] == [f"restore-{n}" for n in range(1, 7)]
    # full alone; full then inc-1; full, inc-1 then inc-2
    assert [t for _, t in steps] == [full, full, inc1, full, inc1, inc2]
    assert [r.result.outcome for r in world.restores] == [Outcome.SUCCEEDED] * 6
    points = [r.point_seq for r in world.restores]
    assert points == [None, None, world.results[1].commit_seq, None, None, points[-1]]
    assert points[-1] == world.results[2].commit_seq
    assert [bool(r.continues) for r in world.restores] == [False, False, True, False, True, True]
    assert [bool(r.additional_restores) for r in world.restores] == [
        False,
        True,
        False,
        True,
        True,
        False,
    ]
    last = world.restores[-1]
    assert all(f.ranges is not None for f in last.result.files)
    assert violations(world) == []


def _time_of(result: Any) -> int:
    """The document time of ``result``'s backup: what tells archives apart here."""
    assert result.document is not None
    return int(result.document.time_us)


def test_a_differential_point_is_restored_with_its_full_only() -> None:
    scenario = chain_scenario(
        ("diff-1", BackupType.DIFFERENTIAL, ("full",)),
        ("diff-2", BackupType.DIFFERENTIAL, ("full", "diff-1")),
    )
    world = run(scenario)
    full = world.results[0].document
    assert full is not None
    chains = [r.archive.document for r in world.restores]
    assert chains == [full, full, world.results[1].document, full, world.results[2].document]
    assert violations(world) == []


def test_a_writer_that_reports_too_few_changed_blocks_is_caught_at_the_point(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    honest = backup_history.changed_blocks

    def forgets_one(*args: Any, **kwargs: Any) -> list[int]:
        return honest(*args, **kwargs)[1:]

    monkeypatch.setattr(backup_history, "changed_blocks", forgets_one)
    world = run(TWO_INCREMENTALS)
    found = check_all(world)
    assert found["point in time"] == []  # each copy holds what its ranges say
    messages = [v.message for v in found["restore honest"]]
    assert messages
    for message in messages:
        assert "ended the chain of L\\A with D:\\Data\\" in message
        assert "at the backup point: blocks" in message
    assert {m.split()[0] for m in messages} <= {"restore-3", "restore-6"}


def test_a_restore_that_skips_a_partial_file_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    def skips(self: RestoreAgent, target: str, *args: Any) -> Any:
        return self.coordinator.namespace.file(target)  # nothing written, yet reported restored

    monkeypatch.setattr(RestoreAgent, "put_ranges", skips)
    world = run(chain_scenario(("inc", BackupType.INCREMENTAL, ("full",))))
    messages = [v.message for v in restore_honest(world)]
    assert any(m.startswith("restore-3 restored D:\\Data\\") for m in messages), messages
    assert any("restore-3 ended the chain of L\\A" in m for m in messages), messages


def test_a_chain_that_does_not_announce_its_next_restore_is_caught(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    honest = ChainRestore.agent

    def silent(self: ChainRestore, step: RestoreStep, name: str) -> RestoreAgent | None:
        agent = honest(self, step, name)
        if agent is not None:
            agent.additional_restores = frozenset()
        return agent

    monkeypatch.setattr(ChainRestore, "agent", silent)
    world = run(chain_scenario(("inc", BackupType.INCREMENTAL, ("full",))))
    assert sorted(v.message for v in restore_honest(world)) == [
        "restore-2 did not tell W more restores of L\\A follow, but they do",
        "restore-3 continued the chain of L\\A, which no earlier restore told its writer goes "
        "on (SetAdditionalRestores)",
    ]


def test_a_file_gone_at_a_later_backup_is_removed_and_an_unreported_removal_is_caught(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def scenario_world() -> World:
        world = chain_scenario(restore=False).build(2)
        world.workloads.clear()
        world.run()
        world.delete_file(LOG, "user")
        agent = world.add_agent(
            "inc",
            [COMPONENT],
            AgentOptions(backup_type=BackupType.INCREMENTAL),
            builds_on=["full"],
        )
        world.start([(agent, 0)])
        world.sim.run()
        assert agent.result is not None
        world.results.append(agent.result)
        assert world.restore_backups()
        return world

    world = scenario_world()
    last = world.restores[-1]
    [component] = last.result.components
    assert component.removed == (LOG,)
    assert violations(world) == []

    honest = RestoreAgent.restore_component

    def hides(self: RestoreAgent, record: Any, writer: Any) -> Iterator[Any]:
        outcome = yield from honest(self, record, writer)
        return attrs.evolve(outcome, removed=())

    monkeypatch.setattr(RestoreAgent, "restore_component", hides)
    messages = [v.message for v in restore_honest(scenario_world())]
    assert messages == [f"restore-3 removed {LOG} without reporting it"]


# -- chains fuzzed ------------------------------------------------------------------------------


def chain_runs(campaign_seed: int, wanted: int) -> Iterator[int]:
    """Indices of runs of a campaign that draw a chain and a restore."""
    found = 0
    index = 0
    while found < wanted:
        scenario = draw_scenario(SeededChoices(run_seed(campaign_seed, index)), misbehaviour=True)
        if any(a.builds_on for a in scenario.agents) and scenario.restore is not None:
            found += 1
            yield index
        index += 1


def test_a_campaign_draws_chains_restores_them_and_replays_them() -> None:
    continued = partial = 0
    for index in chain_runs(1, 25):
        report = fuzz_one(1, index)
        assert not report.failed, report.violations
        world, again = replay(report.token)
        assert again.trace_hash == report.trace_hash
        chained = [a for a, _ in world.agents if world.builds_on(a.name)]
        assert chained and all(a.options.backup_type is not BackupType.FULL for a in chained)
        continued += sum(1 for r in world.restores if r.continues)
        partial += sum(1 for r in world.restores for f in r.result.files if f.ranges is not None)
    assert continued > 0 and partial > 0


class NoChain(ChoiceSource):
    """A seed's choices, but never a chain (and a record of the sites asked)."""

    def __init__(self, seed: int) -> None:
        self.inner = SeededChoices(seed)
        self.sites: list[str] = []

    def choose(self, site: str, n: int) -> int:
        self.sites.append(site)
        return n - 1 if site == "s/chain" else self.inner.choose(site, n)


def test_a_host_with_a_chain_draws_the_rest_as_a_host_without() -> None:
    for index in chain_runs(1, 5):
        seed = run_seed(1, index)
        drawn = draw_scenario(SeededChoices(seed), misbehaviour=True)
        plain_choices = NoChain(seed)
        plain = draw_scenario(plain_choices, misbehaviour=True)
        assert [s for s in plain_choices.sites if s.startswith("s/chain")] == ["s/chain"]
        assert plain.faults is not None
        assert plain == attrs.evolve(
            drawn,
            agents=tuple(a for a in drawn.agents if not a.builds_on),
            writers=tuple(
                attrs.evolve(m, backup_schema=BackupSchema.UNDEFINED) for m in drawn.writers
            ),
            faults=plain.faults,
        )
        assert drawn.faults is not None
        assert drawn.faults.kinds in ((), plain.faults.kinds)


def test_an_agent_started_before_its_base_in_one_round_is_refused() -> None:
    scenario = chain_scenario(("inc", BackupType.INCREMENTAL, ("full",)), restore=False)
    world = scenario.build(4)
    full, inc = world.agents
    with pytest.raises(ConfigurationError, match="'inc' builds on 'full', which comes after"):
        world.start([inc, full])


def test_the_restore_step_waits_for_every_backup() -> None:
    world = chain_scenario(("inc", BackupType.INCREMENTAL, ("full",))).build(4)
    full, _ = world.agents
    world.start([full])
    world.sim.run()
    with pytest.raises(ConfigurationError, match="once they are done: inc still running"):
        world.restore_backups()


def test_a_restore_that_reports_none_but_writes_is_caught(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    original = RestoreAgent.restore_component

    def lies(self: RestoreAgent, record: Any, writer: Any) -> Any:
        outcome = yield from original(self, record, writer)
        if outcome.status == RestoreStatus.ALL and not self.continues:
            return attrs.evolve(outcome, status=RestoreStatus.NONE, files=(), reason="in use")
        return outcome

    monkeypatch.setattr(RestoreAgent, "restore_component", lies)
    world = run(chain_scenario(("inc", BackupType.INCREMENTAL, ("full",))))
    messages = [v.message for v in restore_honest(world)]
    assert any("in a file of L\\A, reported VSS_RS_NONE" in m for m in messages), messages


def test_partial_files_written_on_top_of_no_chain_are_caught(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    world = chain_scenario(("inc", BackupType.INCREMENTAL, ("full",)), restore=False).build(4)
    world.run()
    world.run_workloads(2 * SECOND)
    # The agent refuses an incremental alone; a broken one that skips the check must be caught.
    monkeypatch.setattr(RestoreAgent, "continued_files", lambda self, key: frozenset())
    [_, inc] = world.results
    world.restore(BackupArchive.of(inc))
    messages = [v.message for v in restore_honest(world)]
    assert any(
        "on top of a file no earlier restore of L\\A's chain put back" in m for m in messages
    )
