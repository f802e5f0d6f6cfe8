"""Scenario files with an XP disk array: the keys, what they build, and lesson 7's run."""

from __future__ import annotations

import json
import re
from pathlib import Path

import attrs
import pytest

from vsssim.cli.main import main
from vsssim.errors import ConfigurationError, HResult
from vsssim.host.scenario import ArraySpec, PoolSpec, Scenario, VolumeSpec
from vsssim.host.scenario_codec import scenario_from_dict, scenario_to_dict
from vsssim.host.scenario_file import STARTER_SCENARIO, load_scenario, parse_scenario
from vsssim.requesters.backup_result import Outcome
from vsssim.sim import vocabulary as V
from vsssim.sim.kernel import MILLISECOND, SECOND
from vsssim.testing.invariants import check_all
from vsssim.vss.constants import Context
from vsssim.vss.providers.software import SOFTWARE_PROVIDER_ID
from vsssim.vss.providers.xp import XP_PROVIDER_ID, ReplicaMode, ReplicaOptions
from vsssim.vss.providers.xp.pairs import PairState

LESSON = Path(__file__).parent.parent / "examples" / "07_xp_split_mirror.toml"
GIB = 1024**3

#: A database on an XP array: data on D: (LDEV 01:10), log on E: (01:11), and shares on F:,
#: a local disk. ``{agent}`` is the agent's extra keys.
XP_SERVER = """
seed = 4
{top}
[array]
serial = 20071
track_size = "512 KiB"
track_copy = "5 ms"
  [array.replica]
  mode = "VSS compliant"
  sync_wait = "1 min"
  [[array.pools]]
  id = 3
  capacity = "8 GiB"

[[volumes]]
mount_point = 'D:\\'
size = "50 GiB"
ldev = "01:1a"
replicas = ["01:20", "01:21", "01:2f"]
[[volumes]]
mount_point = 'E:\\'
size = "5 GiB"
ldev = "01:11"
replicas = ["01:22"]
[[volumes]]
mount_point = 'F:\\'

[[files]]
path = 'D:\\Db\\a.mdf'
blocks = 64
[[files]]
path = 'E:\\Logs\\a.ldf'
blocks = 16
[[files]]
path = 'F:\\Shares\\x.doc'
blocks = 8

[[writers]]
name = "Db"
  [[writers.components]]
  name = "A"
  type = "database"
  database_files = ['D:\\Db\\a.mdf']
  log_files = ['E:\\Logs\\a.ldf']
[[writers]]
name = "Files"
  [[writers.components]]
  name = "Shares"
  files = ['F:\\Shares\\*']

[[workloads]]
name = "db"
files = ['D:\\Db\\a.mdf', 'E:\\Logs\\a.ldf']
writer = "Db"

[[agents]]
name = "backup"
select = ['Db:A', 'Files:Shares']
{agent}
"""


def xp_server(agent: str = "", top: str = "") -> str:
    return XP_SERVER.format(agent=agent, top=top)


def test_the_array_keys_read_into_the_scenario_they_describe() -> None:
    loaded = parse_scenario(
        xp_server(
            'provider = "xp"\nallow_fallback = false\ncontext = "app rollback"\n'
            "[agents.replica]\nmode = 'resync'\nreplicas_rotated = 3\nkeep_replica = true\n"
            "track_for_instant_recovery = true\nsync_wait = '90 s'\npool = 3\n"
        )
    )
    scenario = loaded.scenario
    assert scenario.array == ArraySpec(
        20071,
        512 * 1024,
        5 * MILLISECOND,
        ReplicaOptions(mode=ReplicaMode.VSS_COMPLIANT, sync_wait_us=60 * SECOND),
        (PoolSpec(3, 8 * GIB),),
    )
    d, e, f = scenario.volumes
    assert (d.ldev, d.replicas) == ("01:1A", ("01:20", "01:21", "01:2F"))  # upper-cased
    assert (e.ldev, e.replicas) == ("01:11", ("01:22",))
    assert (f.ldev, f.replicas) == (None, ())
    (agent,) = scenario.agents
    options = agent.options
    assert options.provider_id == XP_PROVIDER_ID
    assert options.allow_fallback is False
    assert options.context == Context.APP_ROLLBACK
    assert options.replica == ReplicaOptions(
        mode=ReplicaMode.RESYNC,
        replicas_rotated=3,
        keep_replica=True,
        track_for_instant_recovery=True,
        sync_wait_us=90 * SECOND,
        pool=3,
    )
    assert options.keeps_snapshots


@pytest.mark.parametrize(
    ("top", "agent", "wanted"),
    [
        ("", "", None),  # VSS chooses
        ('provider = "xp"', "", XP_PROVIDER_ID),  # the top-level provider is the default
        ('provider = "xp"', 'provider = "software"', SOFTWARE_PROVIDER_ID),  # an agent's wins
        ('provider = "software"', 'provider = "any"', None),
    ],
)
def test_an_agent_asks_for_its_provider_or_the_files_default(
    top: str, agent: str, wanted: object
) -> None:
    loaded = parse_scenario(xp_server(agent, top))
    assert loaded.scenario.agents[0].options.provider_id == wanted
    assert loaded.provider == (re.findall(r'"(\w+)"', top) or ["any"])[0]


def test_the_scenario_builds_the_array_its_ldevs_replicas_and_pools() -> None:
    world = parse_scenario(xp_server()).scenario.build(0)
    (array,) = world.arrays
    assert (array.serial, array.track_bytes, array.track_copy_us) == (20071, 512 * 1024, 5000)
    assert array.pool(3).capacity_bytes == 8 * GIB
    provider = world.xp_provider()
    assert provider.options == ReplicaOptions(
        mode=ReplicaMode.VSS_COMPLIANT, sync_wait_us=60 * SECOND
    )
    d = array.ldev("01:1A")
    assert world.namespace.volume_of("D:\\") is d.volume
    assert [str(r) for r in provider.replica_ldevs(d)] == ["01:20", "01:21", "01:2F"]
    # Every replica LDEV is made the size of its P-VOL.
    assert {r.volume.size_bytes for r in provider.replica_ldevs(d)} == {50 * GIB}
    assert array.ldev("01:22").volume.size_bytes == 5 * GIB
    assert array.ldev_of(world.namespace.volume_of("F:\\")) is None


def test_with_any_provider_vss_gives_array_volumes_to_the_array_and_the_rest_to_software() -> None:
    loaded = parse_scenario(xp_server())
    world = loaded.scenario.build(loaded.seed)
    (result,) = world.run()
    assert result.outcome is Outcome.SUCCEEDED, result.message
    providers = {
        r.details["volume"]: r.details["provider"]
        for r in world.sim.trace.find(action=V.ADD_TO_SNAPSHOT_SET)
    }
    xp, software = world.xp_provider().name, world.coordinator.software_provider.name
    assert providers == {"D:": xp, "E:": xp, "F:": software}
    assert not world.verify(result)
    # The array's own options ran the set (compliant mode): the clones' pairs are deleted.
    assert world.arrays[0].pairs == []
    assert not any(check_all(world).values())


def test_without_fallback_a_volume_off_the_array_fails_the_backup() -> None:
    loaded = parse_scenario(
        xp_server(
            "provider = 'xp'\nallow_fallback = false\nexpect = 'failed'\nretry = { retries = 0 }"
        )
    )
    world = loaded.scenario.build(loaded.seed)
    (result,) = world.run()
    assert result.outcome is Outcome.FAILED
    assert result.hresult is HResult.VSS_E_VOLUME_NOT_SUPPORTED_BY_PROVIDER
    assert "F:" in result.message
    assert world.arrays[0].pairs == []  # nothing was started on the array
    assert not any(check_all(world).values())


def test_mirrors_too_slow_for_sync_wait_abort_the_set_and_undo_the_pairs() -> None:
    # 50 GiB of written tracks would take long; a D: full of data and a 1 ms wait cannot make it.
    text = xp_server(
        "provider = 'xp'\nexpect = 'failed'\nretry = { retries = 0 }\n"
        "[agents.replica]\nsync_wait = '1 ms'\n"
    ).replace("blocks = 64", "blocks = 4096\ninitial_blocks = 4096")
    loaded = parse_scenario(text)
    world = loaded.scenario.build(loaded.seed)
    (result,) = world.run()
    assert result.outcome is Outcome.FAILED
    assert result.hresult is HResult.VSS_E_PROVIDER_VETO
    assert "did not synchronise within 0.001 s" in result.message
    assert world.heal_and_settle(3600 * SECOND)
    assert world.arrays[0].pairs == []  # the pairs the set created are deleted again
    assert not world.xp_provider().replicas()
    assert not any(check_all(world).values())


def test_a_scenario_with_an_array_survives_json() -> None:
    scenario = parse_scenario(
        xp_server("provider = 'xp'\n[agents.replica]\nreplicas_rotated = 2\npool = 3\n")
    ).scenario
    data = json.loads(json.dumps(scenario_to_dict(scenario)))
    # (Writer metadata keeps only what fuzz failure files need: names, ids, components.)
    assert attrs.evolve(scenario_from_dict(data), writers=scenario.writers) == scenario
    # Data written before arrays existed still reads (no array, local volumes).
    del data["array"]
    for volume in data["volumes"]:
        del volume["ldev"], volume["replicas"]
    for agent in data["agents"]:
        for key in ("provider_id", "allow_fallback", "replica"):
            del agent["options"][key]
    old = scenario_from_dict(data)
    assert old.array is None and all(v.ldev is None for v in old.volumes)
    assert old.agents[0].options.provider_id is None


def test_the_python_spec_refuses_an_ldev_without_array_and_replicas_off_the_array() -> None:
    with pytest.raises(ConfigurationError, match=r"volumes\[0\]: LDEV 01:10 needs an XP array"):
        Scenario(volumes=(VolumeSpec("D:\\", "D:", ldev="01:10"),)).build(0)
    with pytest.raises(ConfigurationError, match=r"volumes\[0\]: only a volume on the XP array"):
        Scenario(volumes=(VolumeSpec("D:\\", "D:", replicas=("01:20",)),), array=ArraySpec()).build(
            0
        )
    with pytest.raises(ConfigurationError, match=r"volumes\[0\]: LDEV address '1:1' is not"):
        Scenario(volumes=(VolumeSpec("D:\\", "D:", ldev="1:1"),), array=ArraySpec()).build(0)


def test_the_starter_shows_the_array_keys_and_they_read_when_uncommented() -> None:
    for key in (
        "[array]",
        "ldev = ",
        "replicas = ",
        "provider = ",
        "allow_fallback = ",
        "[agents.replica]",
        "keep_replica = ",
    ):
        assert f"# {key}" in STARTER_SCENARIO or f"#   {key}" in STARTER_SCENARIO, key
    text = STARTER_SCENARIO
    # Uncomment the array block, put D: on it, and let the agent ask for the XP provider.
    start = text.index("# [array]")
    end = text.index("# -- Volumes")
    block = "\n".join(
        line.removeprefix("# ").removeprefix("#") for line in text[start:end].splitlines()
    )
    block = block.replace("  # pool = 1", "  pool = 1")
    text = text[:start] + block + "\n" + text[end:]
    text = text.replace('# ldev = "01:10"', 'ldev = "01:10"').replace(
        '# replicas = ["01:20", "01:21"]', 'replicas = ["01:20", "01:21"]'
    )
    text = text.replace(
        '# provider = "any"                 # any, software', 'provider = "xp" # any, software'
    )
    loaded = parse_scenario(text)
    array = loaded.scenario.array
    assert array is not None and array.replica is not None and array.replica.pool == 1
    assert array.pools == (PoolSpec(1, 100 * GIB),)
    assert loaded.scenario.volumes[1].replicas == ("01:20", "01:21")
    assert loaded.scenario.agents[0].options.provider_id == XP_PROVIDER_ID


# -- lesson 7 --------------------------------------------------------------------------------


def _lesson_world():  # type: ignore[no-untyped-def]
    loaded = load_scenario(LESSON)
    world = loaded.scenario.build(loaded.seed)
    world.run()
    return loaded, world


def test_the_lesson_rotates_two_kept_replicas_then_reuses_the_oldest() -> None:
    loaded, world = _lesson_world()
    assert not loaded.unexpected({r.agent: r.outcome for r in world.results})
    assert [r.outcome for r in world.results] == [Outcome.SUCCEEDED] * 4
    trace = world.sim.trace
    splits = [
        (r.actor, [image["pair"] for image in r.details["images"]])  # type: ignore[union-attr, index]
        for r in trace.find(action=V.PAIRS_SPLIT)
    ]
    assert [pairs for _, pairs in splits] == [
        ["VSSGRP 01:10->01:20 MU0", "VSSGRP 01:11->01:22 MU0"],  # night 1
        ["VSSGRP 01:10->01:21 MU1", "VSSGRP 01:11->01:23 MU1"],  # night 2: the other replica
        ["VSSGRP 01:10->01:20 MU0", "VSSGRP 01:11->01:22 MU0"],  # night 3: the oldest again
        ["VSSGRP 01:12->01:24 MU0"],  # the archive's clone
    ]
    # Night 3 resyncs MU0 (night 1's image is given up); the clone's pair is deleted.
    resyncs = [r.details["pair"] for r in trace.find(action=V.PAIRRESYNC)]
    assert resyncs == ["VSSGRP 01:10->01:20 MU0", "VSSGRP 01:11->01:22 MU0"]
    lost = [r.details["volume"] for r in trace.find(action=V.REPLICA_LOST)]
    assert lost == ["SQL data", "SQL logs"]
    deleted = [r.details["pair"] for r in trace.find(action=V.PAIRSPLIT_DELETE)]
    assert deleted == ["VSSGRP 01:12->01:24 MU0"]
    # Shares (F:) is no LDEV: every night it falls back to the software provider.
    assert [r.details["volume"] for r in trace.find(action=V.PROVIDER_FALLBACK)] == ["Shares"] * 3
    # The kept replicas stay split: two per P-VOL, on MU0 and MU1.
    assert [(s.pvol, s.svol, s.mu, s.state) for s in world.arrays[0].pairdisplay()] == [
        ("01:10", "01:20", 0, PairState.PSUS),
        ("01:10", "01:21", 1, PairState.PSUS),
        ("01:11", "01:22", 0, PairState.PSUS),
        ("01:11", "01:23", 1, PairState.PSUS),
    ]
    for result in world.results:
        assert not world.verify(result)
    assert not any(check_all(world).values())


def test_the_lesson_prints_the_pairdisplay_at_the_end(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(LESSON)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Split mirrors on an XP array (seed 7)\nA Business Copy pair joins")
    tail = out[out.index("pairdisplay (XP array 10053, at the end)") :]
    assert re.search(r"VSSGRP\s+BC\s+01:10\s+01:21\s+1\s+PSUS", tail)
    assert "01:24" not in tail


def test_the_lesson_is_listed_in_the_readme() -> None:
    readme = (LESSON.parent.parent / "README.md").read_text(encoding="utf-8")
    assert f"| `{LESSON.name}` |" in readme
