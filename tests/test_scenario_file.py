"""Scenario files: TOML read into scenarios, every mistake a one-line error naming its key."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from vsssim.cli.main import main
from vsssim.errors import HResult
from vsssim.host.scenario_file import (
    STARTER_SCENARIO,
    ScenarioFileError,
    load_scenario,
    parse_scenario,
)
from vsssim.requesters.backup_result import Outcome
from vsssim.sim import vocabulary as V
from vsssim.sim.kernel import MILLISECOND, SECOND
from vsssim.testing.invariants import INVARIANTS
from vsssim.vss.constants import BackupType, ComponentType, SourceType
from vsssim.vss.metadata import FileDescriptor

EXAMPLES = sorted((Path(__file__).parent.parent / "examples").glob("*.toml"))

BASE = """
seed = 9
[[volumes]]
mount_point = 'D:\\'
[[files]]
path = 'D:\\Data\\a.db'
blocks = 8
[[writers]]
name = "W"
  [[writers.components]]
  name = "A"
  logical_path = "L"
  type = "database"
  database_files = ['D:\\Data\\a.db']
[[agents]]
select = ['W:L\\A']
"""


def _on_array(text: str, array: str = "") -> str:
    """``text`` with D: on an XP array (LDEV 01:10, one replica) and its agent asking for the
    XP provider; ``array``: keys for the ``[array]`` table."""
    on_array = text.replace(
        "mount_point = 'D:\\'", "mount_point = 'D:\\'\nldev = '01:10'\nreplicas = ['01:20']"
    ).replace("[[agents]]", "[[agents]]\nprovider = 'xp'")
    return f"array = {{ {array} }}\n" + on_array


def error_of(text: str) -> str:
    with pytest.raises(ScenarioFileError) as caught:
        parse_scenario(text, source="bad.toml")
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("bad.toml: ")
    return message


def test_a_small_file_reads_into_the_scenario_it_describes() -> None:
    loaded = parse_scenario(
        BASE
        + """
backup_type = "copy"
lock_wait = "2 min"
retry = { retries = 1, delay = "30 s", retryable = ["VSS_E_WRITERERROR_TIMEOUT"] }
[[workloads]]
name = "app"
files = ['D:\\Data\\a.db']
interval = ["5 ms", "1.5 s"]
writer = "W"
[config]
hold_limit = "4 s"
flush = ["1 ms", "2 ms"]
"""
    )
    scenario = loaded.scenario
    assert loaded.seed == 9
    assert [(v.mount_point, v.label, v.size_bytes) for v in scenario.volumes] == [
        ("D:\\", "D:", 10 * 1024**3)
    ]
    assert [(f.path, f.blocks, f.initial_blocks) for f in scenario.files] == [
        ("D:\\Data\\a.db", 8, 4)
    ]
    (writer,) = scenario.writers
    (component,) = writer.components
    assert component.component_type == ComponentType.DATABASE
    assert component.database_files == (FileDescriptor("D:\\Data", "a.db"),)
    (agent,) = scenario.agents
    assert agent.name == "agent-1"
    assert agent.options.backup_type == BackupType.COPY
    assert agent.options.lock_wait_us == 120 * SECOND
    assert agent.options.retry.retries == 1
    assert agent.options.retry.delay_us == 30 * SECOND
    assert agent.options.retry.retryable == frozenset({HResult.VSS_E_WRITERERROR_TIMEOUT})
    (workload,) = scenario.workloads
    assert workload.interval_us == (5 * MILLISECOND, 1500 * MILLISECOND)
    assert workload.writer == "W"
    assert scenario.config.hold_limit_us == 4 * SECOND
    assert scenario.config.flush_us == (1 * MILLISECOND, 2 * MILLISECOND)
    assert loaded.expected == (("agent-1", Outcome.SUCCEEDED),)


def test_writer_ids_default_to_stable_names_and_enums_read_leniently() -> None:
    first = parse_scenario(BASE).scenario.writers[0]
    again = parse_scenario(BASE).scenario.writers[0]
    assert first.writer_class_id == again.writer_class_id
    assert first.writer_instance_id != first.writer_class_id
    spelled = BASE.replace('name = "W"\n', 'name = "W"\nsource_type = "VSS_ST_TRANSACTEDDB"\n')
    assert parse_scenario(spelled).scenario.writers[0].source_type == SourceType.TRANSACTEDDB
    spaced = BASE.replace('name = "W"\n', 'name = "W"\nsource_type = "transacted db"\n')
    assert parse_scenario(spaced).scenario.writers[0].source_type == SourceType.TRANSACTEDDB


def test_dependencies_resolve_to_the_named_component_of_another_writer() -> None:
    text = BASE.replace(
        "[[agents]]",
        """[[writers]]
name = "V"
  [[writers.components]]
  name = "B"
  files = ['D:\\Data\\*']
  depends_on = ['W:L\\A']
[[agents]]""",
    )
    scenario = parse_scenario(text).scenario
    a = scenario.writers[0]
    (b,) = scenario.writers[1].components
    assert b.dependencies == (a.key(a.components[0]).any_instance,)  # names no instance


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        # not TOML at all
        (lambda t: t + "\n[[volumes]\n", "not valid TOML"),
        # an unknown key, at the top and deep inside
        (lambda t: t + "\nseeds = 3\n", "seeds: unknown key (expected one of:"),
        # the documents of earlier backups are Python objects: no key for them
        (
            lambda t: t.replace("select = ['W:L\\A']", "select = ['W:L\\A']\nhistory = []"),
            "agents[0].history: unknown key",
        ),
        (
            lambda t: t.replace('logical_path = "L"', 'logical_path = "L"\ncaptoin = "x"'),
            "writers[0].components[0].captoin: unknown key",
        ),
        # wrong types
        (lambda t: t.replace("blocks = 8", 'blocks = "8"'), "files[0].blocks: expected an integer"),
        (lambda t: t.replace("seed = 9", "seed = true"), "seed: expected an integer, got boolean"),
        (
            lambda t: t.replace("select = ['W:L\\A']", "select = 'W:L\\A'"),
            "agents[0].select: expected an array, got string",
        ),
        (
            lambda t: t.replace("select = ['W:L\\A']", "select = [3]"),
            "agents[0].select[0]: expected a string, got integer 3",
        ),
        (
            lambda t: t + "\n[config]\nhold_limit = 10\n",
            "config.hold_limit: expected a duration with a unit",
        ),
        (
            lambda t: t + '\n[config]\nhold_limit = "10 parsecs"\n',
            "config.hold_limit: expected a duration with a unit (us, ms, s, min, h)",
        ),
        (
            lambda t: t.replace("mount_point = 'D:\\'", "mount_point = 'D:\\'\nsize = 'big'"),
            "volumes[0].size: expected a size with a unit",
        ),
        (
            lambda t: t.replace('type = "database"', 'type = "table"'),
            "writers[0].components[0].type: expected one of undefined, database, filegroup; "
            "got 'table'",
        ),
        (
            lambda t: t.replace('name = "W"', 'name = "W"\nclass_id = "not-a-guid"'),
            "writers[0].class_id: expected a GUID",
        ),
        # missing required keys
        (lambda t: t.replace("path = 'D:\\Data\\a.db'", ""), "files[0].path: missing (required)"),
        (lambda t: t.replace("[[volumes]]\nmount_point = 'D:\\'", ""), "volumes: missing"),
        # references to nothing
        (
            lambda t: t.replace("path = 'D:\\Data\\a.db'", "path = 'Q:\\a.db'"),
            "files[0].path: 'Q:\\\\a.db' is on no volume (mount points: D:\\)",
        ),
        (
            lambda t: t.replace("select = ['W:L\\A']", "select = ['W:L\\Nope']"),
            "agents[0].select[0]: writer 'W' has no component 'L\\\\Nope' (it has: L\\A)",
        ),
        (
            lambda t: t.replace("select = ['W:L\\A']", "select = ['X:L\\A']"),
            "agents[0].select[0]: no writer 'X' (writers: W)",
        ),
        (
            lambda t: t.replace("select = ['W:L\\A']", "select = ['W']"),
            "agents[0].select[0]: expected 'WRITER:LOGICAL\\PATH\\NAME'",
        ),
        (
            lambda t: t.replace('logical_path = "L"', "logical_path = \"L\"\ndepends_on = ['Z:Q']"),
            "writers[0].components[0].depends_on[0]: no writer 'Z'",
        ),
        (
            lambda t: t + "\n[[workloads]]\nname = 'x'\nfiles = ['D:\\b.db']\n",
            "workloads[0].files[0]: 'D:\\\\b.db' is not one of the scenario's [[files]]",
        ),
        (
            lambda t: t + "\n[[workloads]]\nname = 'x'\nfiles = []\nwriter = 'Y'\n",
            "workloads[0].writer: no writer 'Y' (writers: W)",
        ),
        (
            lambda t: t + "\n[faults]\nforce = 'writer-explodes@W.OnFreeze'\n",
            "faults.force: no fault kind 'writer-explodes' (kinds: agent-dies,",
        ),
        (
            lambda t: t + "\n[[agents]]\nname = 'agent-1'\nselect = ['W:L\\A']\n",
            "agents: [1].name 'agent-1' repeats [0].name",
        ),
        (
            lambda t: t + "\n[[volumes]]\nmount_point = 'd:'\nlabel = 'other'\n",
            "volumes: [1].mount_point 'D:\\\\' repeats [0].mount_point",
        ),
        (lambda t: t.replace("blocks = 8", "blocks = 8\ninitial_blocks = 9"), "at most blocks"),
        (
            lambda t: t.replace("[[agents]]", "[[agents]]\nretry = { retryable = ['NOPE'] }"),
            "agents[0].retry.retryable[0]: expected a HResult name (like ",
        ),
        # a near miss in a long enumeration suggests the names it is close to
        (
            lambda t: t.replace(
                "[[agents]]", "[[agents]]\nretry = { retryable = ['VSS_E_HOLD_WRITE_TIMEOUT'] }"
            ),
            "expected a HResult name (like VSS_E_HOLD_WRITES_TIMEOUT",
        ),
        (
            lambda t: t + "\n[config]\nflush = ['1 s']\n",
            "config.flush: expected an array of two durations [low, high]",
        ),
        # providers and the XP array
        (
            lambda t: 'provider = "hitachi"\n' + t,
            "provider: expected one of any, software, xp; got 'hitachi'",
        ),
        (
            lambda t: 'provider = "xp"\n' + t,
            "provider: the XP provider needs an [array] table; this scenario has none",
        ),
        (
            lambda t: t + "provider = 'emc'\n",
            "agents[0].provider: expected one of any, software, xp; got 'emc'",
        ),
        (
            lambda t: t + "provider = 'xp'\n",
            "agents[0].provider: the XP provider needs an [array] table",
        ),
        (
            lambda t: _on_array(t).replace("provider = 'xp'", "provider = 'XP'"),
            "agents[0].provider: expected one of any, software, xp; got 'XP'",
        ),
        (
            lambda t: t.replace("mount_point = 'D:\\'", "mount_point = 'D:\\'\nldev = '01:10'"),
            "volumes[0].ldev: an LDEV is on the XP array: add an [array] table",
        ),
        (
            lambda t: _on_array(t).replace("ldev = '01:10'", "ldev = '1:10'"),
            "volumes[0].ldev: expected an LDEV address CU:LDEV (two hex digits each) like "
            "'01:2A', got '1:10'",
        ),
        (
            lambda t: _on_array(t).replace("ldev = '01:10'", "ldev = 16"),
            "volumes[0].ldev: expected a string, got integer 16",
        ),
        (
            lambda t: _on_array(t).replace("['01:20']", "['01:20', '01:2G']"),
            "volumes[0].replicas[1]: expected an LDEV address CU:LDEV",
        ),
        (
            lambda t: _on_array(t).replace("['01:20']", "['01:20', '01:20']"),
            "volumes[0].replicas[1]: LDEV 01:20 is volumes[0].replicas[0] already",
        ),
        (
            lambda t: _on_array(t).replace("['01:20']", "['01:10']"),
            "volumes[0].replicas[0]: LDEV 01:10 is volumes[0].ldev already",
        ),
        (
            # A replica of another size: every replica is made its P-VOL's size, so a replica
            # shared by two P-VOLs of different sizes is the only way to write one.
            lambda t: _on_array(t).replace(
                "[[files]]",
                "[[volumes]]\nmount_point = 'E:\\'\nsize = '20 GiB'\nldev = '01:11'\n"
                "replicas = ['01:20']\n[[files]]",
            ),
            "volumes[1].replicas[0]: LDEV 01:20 is volumes[0].replicas[0] already",
        ),
        (
            lambda t: t.replace(
                "mount_point = 'D:\\'", "mount_point = 'D:\\'\nreplicas = ['01:20']"
            ),
            "volumes[0].replicas: only a volume on the XP array (one with an ldev) has replicas",
        ),
        (
            lambda t: _on_array(t) + "[agents.replica]\nreplicas_rotated = 4\n",
            "agents[0].replica: resync mode rotates at most 3 replicas per P-VOL (MU 0-2), not 4",
        ),
        (
            lambda t: _on_array(t) + "[agents.replica]\nreplicas_rotated = 0\n",
            "agents[0].replica.replicas_rotated: expected an integer >= 1, got 0",
        ),
        (
            lambda t: _on_array(t) + "[agents.replica]\nsync_wait = '0 s'\n",
            "agents[0].replica.sync_wait: expected a duration from 1 us to 24 h, got '0 s'",
        ),
        (
            lambda t: _on_array(t) + "[agents.replica]\nsync_wait = 600\n",
            "agents[0].replica.sync_wait: expected a duration with a unit",
        ),
        (
            lambda t: _on_array(t) + "[agents.replica]\nmode = 'mirror'\n",
            "agents[0].replica.mode: expected one of vss_compliant, resync; got 'mirror'",
        ),
        (
            lambda t: _on_array(t) + "[agents.replica]\nkeep_replica = true\n",
            "agents[0].replica.keep_replica: keeping the replica needs a persistent context: "
            "VSS_CTX_BACKUP shadow copies are deleted",
        ),
        (
            lambda t: _on_array(t) + "[agents.replica]\ntrack_for_instant_recovery = true\n",
            "agents[0].replica.track_for_instant_recovery: keeping the replica needs a "
            "persistent context",
        ),
        (
            lambda t: t + "[agents.replica]\nmode = 'resync'\n",
            "agents[0].replica: replica options are for the XP array; this scenario has none",
        ),
        (
            lambda t: _on_array(t) + "[agents.replica]\npool = 2\n",
            "agents[0].replica.pool: the array has no pool 2 (pools: none; add [[array.pools]])",
        ),
        (
            lambda t: (
                _on_array(t, "pools = [{ id = 1, capacity = '1 GiB' }]")
                + "[agents.replica]\nmode = 'vss compliant'\npool = 1\n"
            ),
            "agents[0].replica: a snapshot pair cannot be deleted and kept",
        ),
        (
            lambda t: _on_array(t, "replica = { keep_replica = true }"),
            "array.replica.keep_replica: unknown key (expected one of: mode, pool, ",
        ),
        (
            lambda t: _on_array(t, "serial = -1"),
            "array.serial: expected an integer >= 0, got -1",
        ),
        (
            lambda t: _on_array(t, "track_size = 'big'"),
            "array.track_size: expected a size with a unit",
        ),
        (
            lambda t: _on_array(
                t, "pools = [{ id = 1, capacity = '1 GiB' }, { id = 1, capacity = '2 GiB' }]"
            ),
            "array.pools: [1].id '1' repeats [0].id",
        ),
        (
            lambda t: _on_array(t, "pools = [{ id = 1 }]"),
            "array.pools[0].capacity: missing (required)",
        ),
        (
            lambda t: t.replace("[[agents]]", "[[agents]]\nexpect = 'maybe'"),
            "agents[0].expect: expected one of succeeded, partial, failed, agent_died",
        ),
        (
            lambda t: t + "[restore]\nwrite_for = 5\n",
            "restore.write_for: expected a duration with a unit",
        ),
        (
            lambda t: t + "[restore]\ndelete = ['D:\\Data\\b.db']\n",
            "restore.delete[0]: no [[files]] has the path D:\\Data\\b.db",
        ),
        (lambda t: t + "[restore]\ndelete = 'a.db'\n", "restore.delete: expected an array"),
        (lambda t: t + "[restore]\ndelete = [1]\n", "restore.delete[0]: expected a string"),
        (
            lambda t: t + "[restore]\nafter = '1 s'\n",
            "restore.after: unknown key (expected one of: delete, write_for)",
        ),
        (lambda t: "restore = 3\n" + t, "restore: expected a table, got integer 3"),
        # chains: builds_on names earlier agents; backup types and schemas by name
        (
            lambda t: t.replace("[[agents]]", "[[agents]]\nbuilds_on = ['nightly']"),
            "agents[0].builds_on[0]: agent 'agent-1' builds on 'nightly', which is not an "
            "earlier [[agents]] (earlier agents: none)",
        ),
        (
            lambda t: t.replace("[[agents]]", "[[agents]]\nbuilds_on = ['agent-1']"),
            "agents[0].builds_on[0]: agent 'agent-1' cannot build on itself",
        ),
        (
            lambda t: (
                t.replace("[[agents]]", "[[agents]]\nbuilds_on = ['b']")
                + "[[agents]]\nname = 'b'\nselect = ['W:L\\A']\n"
            ),
            "agents[0].builds_on[0]: agent 'agent-1' builds on 'b', which is not an earlier",
        ),
        (
            lambda t: (
                t + "[[agents]]\nname = 'b'\nselect = ['W:L\\A']\n"
                "builds_on = ['agent-1', 'agent-1']\n"
            ),
            "agents[1].builds_on[1]: 'agent-1' is named twice",
        ),
        (
            lambda t: t.replace("[[agents]]", "[[agents]]\nbuilds_on = 'agent-0'"),
            "agents[0].builds_on: expected an array, got string 'agent-0'",
        ),
        (
            lambda t: t.replace("[[agents]]", "[[agents]]\nbackup_type = 'weekly'"),
            "agents[0].backup_type: expected one of undefined, full, incremental, differential, "
            "log, copy, other; got 'weekly'",
        ),
        (
            lambda t: t.replace('name = "W"\n', 'name = "W"\nbackup_schema = ["hourly"]\n'),
            "writers[0].backup_schema[0]: expected a BackupSchema name",
        ),
        (
            lambda t: t.replace('name = "W"\n', 'name = "W"\nbackup_schema = "incremental"\n'),
            "writers[0].backup_schema: expected an array, got string 'incremental'",
        ),
        # caught while building the world: a folder mount point on no mounted volume
        (
            lambda t: t.replace("[[files]]", "[[volumes]]\nmount_point = 'Q:\\Mnt'\n[[files]]"),
            "volumes[1]: ",
        ),
    ],
)
def test_every_mistake_gets_a_one_line_error_naming_its_key(
    change: Callable[[str], str], expected: str
) -> None:
    message = error_of(change(BASE))
    assert expected in message


def test_a_restore_table_restores_every_backup_after_the_damage(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = BASE + "[restore]\nwrite_for = '2 s'\ndelete = ['d:\\data\\A.DB']\n"
    scenario = parse_scenario(text).scenario
    assert scenario.restore is not None
    assert (scenario.restore.write_for_us, scenario.restore.delete) == (
        2 * SECOND,
        ("d:\\data\\A.DB",),
    )
    world = scenario.build(9)
    [backup] = world.run()
    assert scenario.restore.run(world)
    [run] = world.restores
    assert run.result.agent == "restore-1" and run.result.started_us >= backup.finished_us
    assert [f.path for f in run.result.files] == ["D:\\Data\\a.db"]
    deleted = world.sim.trace.find(action=V.DELETE_FILE)
    assert [r.details["path"] for r in deleted] == ["D:\\Data\\a.db"]
    path = tmp_path / "restore.toml"
    path.write_text(text, encoding="utf-8")
    assert main(["run", str(path)]) == 0
    out = capsys.readouterr().out
    assert "restore-1" in out and f"Invariants: {len(INVARIANTS)} checked, 0 violated" in out


def test_the_command_line_reports_a_bad_file_in_one_line_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(BASE.replace("blocks = 8", "blocks = -1"), encoding="utf-8")
    assert main(["run", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "files[0].blocks: expected an integer >= 1, got -1" in err
    assert main(["run", str(tmp_path / "missing.toml")]) == 2
    assert "cannot read" in capsys.readouterr().err


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_every_example_runs_and_goes_as_it_says(
    example: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", str(example)]) == 0
    out = capsys.readouterr().out
    loaded = load_scenario(example)
    assert out.startswith(f"{loaded.title} (seed {loaded.seed})")
    assert f"Invariants: {len(INVARIANTS)} checked, 0 violated" in out
    assert "Unexpected outcome" not in out


def test_at_least_five_lessons_ship_as_scenario_files() -> None:
    assert len(EXAMPLES) >= 5
    for example in EXAMPLES:
        assert load_scenario(example).title


def test_an_outcome_other_than_the_expected_one_fails_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "s.toml"
    path.write_text(BASE.replace("[[agents]]", "[[agents]]\nexpect = 'failed'"), encoding="utf-8")
    assert main(["run", str(path)]) == 1
    assert "Unexpected outcome: agent-1: expected failed, got succeeded" in capsys.readouterr().out


def test_seed_override_and_formats(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "s.toml"
    path.write_text(
        BASE + "[[workloads]]\nname = 'app'\nfiles = ['D:\\Data\\a.db']\n", encoding="utf-8"
    )
    runs = []
    for seed in ("1", "1", "2"):
        assert main(["run", str(path), "--seed", seed, "--format", "json"]) == 0
        runs.append(capsys.readouterr().out)
    assert runs[0] == runs[1] != runs[2]
    assert main(["run", str(path), "--format", "mermaid"]) == 0
    assert capsys.readouterr().out.startswith("sequenceDiagram")


def test_init_writes_the_starter_which_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "server.toml"
    assert main(["init", str(path)]) == 0
    assert path.read_text(encoding="utf-8") == STARTER_SCENARIO
    assert main(["run", str(path)]) == 0
    assert f"Invariants: {len(INVARIANTS)} checked, 0 violated" in capsys.readouterr().out
    assert main(["init", str(path)]) == 2
    assert "exists already" in capsys.readouterr().err
    # Its commented-out [restore] table reads once uncommented.
    restore = STARTER_SCENARIO.split("# [restore]\n", 1)[1].split("\n\n", 1)[0]
    uncommented = "\n".join(line.removeprefix("# ") for line in restore.splitlines())
    spec = parse_scenario(STARTER_SCENARIO + "[restore]\n" + uncommented + "\n").scenario.restore
    assert spec is not None and spec.write_for_us == 2 * SECOND and len(spec.delete) == 1


def test_a_writer_can_come_from_its_metadata_document(tmp_path: Path) -> None:
    from vsssim.vss.documents.wmd_xml import metadata_to_xml

    described = parse_scenario(BASE).scenario.writers[0]
    (tmp_path / "w.xml").write_text(metadata_to_xml(described), encoding="utf-8")
    writer_table = BASE[BASE.index("[[writers]]") : BASE.index("[[agents]]")]
    text = BASE.replace(writer_table, "[[writers]]\nmetadata = 'w.xml'\n")
    loaded = parse_scenario(text, base=tmp_path)
    assert loaded.scenario.writers == (described,)
    (result,) = loaded.scenario.build(loaded.seed).run()
    assert result.succeeded

    (tmp_path / "bad.xml").write_text("<WRITER_METADATA", encoding="utf-8")
    assert "writers[0].metadata: " in error_of(text.replace("w.xml", "missing.xml"))
    with pytest.raises(ScenarioFileError, match=r"writers\[0\]\.metadata: .*CORRUPT_XML"):
        parse_scenario(text.replace("w.xml", "bad.xml"), base=tmp_path)
