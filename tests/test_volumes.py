"""Volumes (sparse storage, the write gate, history) and the host namespace."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vsssim.errors import ConfigurationError
from vsssim.sim import vocabulary as V
from vsssim.sim.kernel import Simulation
from vsssim.vss.namespace import File, Namespace, normalize
from vsssim.vss.volumes import Volume

KIB = 1024
TIB = 1024**4


def make_volume(blocks: int = 64, label: str = "V", sim: Simulation | None = None) -> Volume:
    """A volume that keeps every write (these tests read its history)."""
    return Volume(sim or Simulation(), label, blocks * 4 * KIB, keep_history=True)


# -- sparse storage --------------------------------------------------------------------------


def test_huge_volume_stores_only_written_blocks() -> None:
    volume = Volume(Simulation(), "Big", 16 * TIB)
    assert volume.block_count == 16 * TIB // 4096 == 2**32
    assert volume.blocks_in_use == 0
    last = volume.block_count - 1
    for block, data in [(0, b"a"), (last, b"z"), (2**31, b"m"), (0, b"a2"), (last, b"z2")]:
        assert volume.write(block, data, "test")
    assert volume.blocks_in_use == 3
    assert volume.read(0) == b"a2"
    assert volume.read(last) == b"z2"
    assert volume.read(2**31) == b"m"
    assert volume.read(12345) is None
    assert volume.written_blocks(range(volume.block_count)) == [0, 2**31, last]
    assert volume.written_blocks(range(1, 10)) == []


def test_blocks_outside_the_volume_raise_value_error() -> None:
    volume = make_volume(8)
    for block in (-1, 8, 10**9):
        with pytest.raises(ValueError):
            volume.read(block)
        with pytest.raises(ValueError):
            volume.write(block, b"x", "test")
    assert volume.read(7) is None  # the last block is inside
    assert volume.history == []
    assert volume.blocks_in_use == 0


def test_data_larger_than_a_block_is_rejected() -> None:
    volume = make_volume(2)
    with pytest.raises(ValueError):
        volume.write(0, b"x" * 4097, "test")
    assert volume.write(0, b"x" * 4096, "test")


def test_a_write_whose_origin_is_no_str_is_refused_before_anything_changes() -> None:
    volume = make_volume(2)
    with pytest.raises(TypeError, match="origin is a str"):
        volume.write(0, b"x", 7)  # type: ignore[arg-type]
    assert volume.history == [] and volume.writes_issued == 0 and not volume.sim.trace.records


def test_size_must_be_a_positive_multiple_of_the_block_size() -> None:
    sim = Simulation()
    with pytest.raises(ConfigurationError):
        Volume(sim, "odd", 4096 + 1)
    with pytest.raises(ConfigurationError):
        Volume(sim, "tiny", 100)


def test_volume_names_are_deterministic_guid_paths() -> None:
    first = Volume(Simulation(), "D", 4096)
    again = Volume(Simulation(), "D", 4096)
    other = Volume(Simulation(), "E", 4096)
    assert first.name == again.name != other.name
    assert first.name.startswith("\\\\?\\Volume{") and first.name.endswith("}\\")


def test_allocate_hands_out_contiguous_runs_until_full() -> None:
    volume = make_volume(10)
    assert volume.allocate(4) == 0
    assert volume.allocate(5) == 4
    with pytest.raises(ConfigurationError):
        volume.allocate(2)
    assert volume.allocate(1) == 9
    with pytest.raises(ConfigurationError):
        volume.allocate(0)


# -- the write gate --------------------------------------------------------------------------


def test_held_writes_are_invisible_until_release_then_applied_in_issue_order() -> None:
    volume = make_volume()
    volume.write(1, b"before", "app")
    volume.hold("coordinator")
    assert volume.held
    assert volume.write(1, b"first", "app") is False
    assert volume.write(2, b"second", "app") is False
    assert volume.write(1, b"third", "other") is False
    assert volume.pending_writes == 3
    assert volume.read(1) == b"before"
    assert volume.read(2) is None
    assert [w.data for w in volume.history] == [b"before"]

    assert volume.release() == 3
    assert not volume.held
    assert volume.pending_writes == 0
    assert volume.read(1) == b"third"
    assert volume.read(2) == b"second"
    assert [(w.block, w.data, w.origin) for w in volume.history[1:]] == [
        (1, b"first", "app"),
        (2, b"second", "app"),
        (1, b"third", "other"),
    ]
    issues = [w.issue for w in volume.history]
    assert issues == sorted(issues) and len(set(issues)) == len(issues)


def test_hold_is_exclusive_and_release_without_hold_does_nothing() -> None:
    volume = make_volume()
    assert volume.release() == 0
    volume.hold("a")
    with pytest.raises(RuntimeError):
        volume.hold("b")
    volume.release()
    volume.hold("b")  # the gate can be held again once released
    assert volume.held


def test_held_writes_are_traced_with_their_holder() -> None:
    sim = Simulation()
    volume = make_volume(sim=sim)
    volume.hold("commit")
    volume.write(3, b"x", "app")
    held = sim.trace.find(action=V.WRITE_HELD)
    assert len(held) == 1
    assert held[0].details["held_by"] == "commit"
    assert held[0].details["block"] == 3
    assert sim.trace.find(action=V.WRITE) == []
    volume.release()
    assert [r.details["block"] for r in sim.trace.find(action=V.WRITE)] == [3]


write_op = st.tuples(st.just("write"), st.integers(0, 15), st.binary(min_size=1, max_size=4))
gate_op = st.sampled_from([("hold",), ("release",)])


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(write_op, write_op, gate_op), max_size=60))
def test_gate_never_loses_or_reorders_writes(ops: list[tuple[object, ...]]) -> None:
    volume = make_volume(16)
    expected: dict[int, bytes] = {}
    issued: list[tuple[int, bytes]] = []
    for op in ops:
        if op[0] == "write":
            block, data = op[1], op[2]
            assert isinstance(block, int) and isinstance(data, bytes)
            landed = volume.write(block, data, "prop")
            assert landed is not volume.held
            expected[block] = data
            issued.append((block, data))
        elif op[0] == "hold":
            if not volume.held:
                volume.hold("prop")
        else:
            volume.release()
    volume.release()
    assert {b: volume.read(b) for b in volume.written_blocks(range(16))} == expected
    assert [(w.block, w.data) for w in volume.history] == issued
    assert [w.issue for w in volume.history] == list(range(1, len(issued) + 1))


def test_content_at_rebuilds_the_history() -> None:
    sim = Simulation()
    volume = make_volume(sim=sim)
    volume.write(0, b"a", "t")
    volume.write(1, b"b", "t")
    volume.hold("h")
    volume.write(0, b"c", "t")  # a "write held" record, applied later
    volume.release()
    volume.write(2, b"d", "t")

    assert volume.content_at(-1) == {}
    records = list(sim.trace)
    applied = {w.seq: w for w in volume.history}
    state: dict[int, bytes] = {}
    for rec in records:
        if rec.action == V.WRITE:
            write = applied[rec.seq]
            assert rec.details["block"] == write.block
            state[write.block] = write.data
        assert volume.content_at(rec.seq) == state, rec
    assert volume.content_at(records[-1].seq) == {0: b"c", 1: b"b", 2: b"d"}
    held_seq = sim.trace.find(action=V.WRITE_HELD)[0].seq
    assert volume.content_at(held_seq) == {0: b"a", 1: b"b"}


def test_history_records_time_and_trace_sequence() -> None:
    sim = Simulation()
    volume = make_volume(sim=sim)
    sim.timeout(250)
    sim.run()
    volume.write(5, b"late", "t")
    (applied,) = volume.history
    assert applied.time_us == 250
    assert sim.trace.records[applied.seq].action == V.WRITE
    assert sim.trace.records[applied.seq].details["data"] == "late"


# -- the namespace ---------------------------------------------------------------------------


@pytest.fixture
def host() -> tuple[Namespace, Volume, Volume, Volume]:
    sim = Simulation()
    ns = Namespace()
    c = Volume(sim, "C", 1024 * 4 * KIB)
    d = Volume(sim, "D", 1024 * 4 * KIB)
    archive = Volume(sim, "Archive", 256 * 4 * KIB)
    ns.mount("C:\\", c)
    ns.mount("D:", d)
    ns.mount("D:\\Mounts\\Archive\\", archive)
    return ns, c, d, archive


def test_drive_letters_resolve_case_insensitively(
    host: tuple[Namespace, Volume, Volume, Volume],
) -> None:
    ns, c, d, _ = host
    assert ns.volume_of("C:\\Windows\\System32\\x.dll") is c
    assert ns.volume_of("c:/windows/x") is c
    assert ns.volume_of("d:\\data\\db.mdf") is d
    assert ns.volume_of("D:") is d
    assert ns.mount_point_of(d) == "D:\\"
    assert ns.volumes == [c, d, host[3]]
    with pytest.raises(ConfigurationError):
        ns.volume_of("E:\\nothing")


def test_nested_mount_point_wins_for_paths_under_it(
    host: tuple[Namespace, Volume, Volume, Volume],
) -> None:
    ns, _, d, archive = host
    assert ns.volume_of("d:\\MOUNTS\\archive\\2024\\jan.bak") is archive
    assert ns.volume_of("D:\\Mounts\\Archive") is archive
    assert ns.volume_of("D:\\Mounts\\Archive\\") is archive
    assert ns.volume_of("D:\\Mounts\\ArchiveOld\\x") is d  # a sibling, not under the mount
    assert ns.volume_of("D:\\Mounts\\x") is d
    assert ns.mount_point_of(archive) == "D:\\Mounts\\Archive\\"


def test_mounting_needs_a_mounted_parent_and_a_free_place(
    host: tuple[Namespace, Volume, Volume, Volume],
) -> None:
    ns, c, _, _ = host
    sim = Simulation()
    with pytest.raises(ConfigurationError):
        ns.mount("E:\\Mounts\\X", Volume(sim, "X", 4096))  # E: is not mounted
    with pytest.raises(ConfigurationError):
        ns.mount("d:\\", Volume(sim, "Y", 4096))  # D: is taken
    with pytest.raises(ConfigurationError):
        ns.mount("F:\\", c)  # C is mounted already
    ns.create_file("C:\\Data\\a.txt", 1)
    with pytest.raises(ConfigurationError):
        ns.mount("C:\\Data", Volume(sim, "Z", 4096))  # files live in that folder


def test_files_map_onto_volume_blocks(host: tuple[Namespace, Volume, Volume, Volume]) -> None:
    ns, _, d, archive = host
    first = ns.create_file("D:\\Data\\Db.mdf", 8)
    second = ns.create_file("D:\\Data\\Db.ldf", 4)
    inner = ns.create_file("D:\\Mounts\\Archive\\old.bak", 3)
    assert first.volume is d and inner.volume is archive
    assert list(second.volume_blocks()) == list(
        range(first.first_block + 8, first.first_block + 12)
    )
    assert second.size_bytes == 4 * 4096

    assert ns.write_file("d:\\data\\DB.MDF", 5, b"page5", "sql") is True
    assert d.read(first.first_block + 5) == b"page5"
    assert d.blocks_in_use == 1
    ns.write_file("D:\\Mounts\\Archive\\old.bak", 2, b"tail", "copy")
    assert archive.read(inner.first_block + 2) == b"tail"
    assert d.blocks_in_use == 1  # the outer volume was not touched
    with pytest.raises(ValueError):
        ns.write_file("D:\\Data\\Db.ldf", 4, b"x", "sql")
    with pytest.raises(ConfigurationError):
        ns.create_file("D:\\data\\db.mdf", 1)  # exists already, whatever the case
    with pytest.raises(ConfigurationError):
        ns.file("D:\\Data\\missing")


def test_file_write_is_held_with_its_volume(
    host: tuple[Namespace, Volume, Volume, Volume],
) -> None:
    ns, _, d, _ = host
    file = ns.create_file("D:\\f.dat", 2)
    d.hold("commit")
    assert ns.write_file("D:\\f.dat", 1, b"x", "app") is False
    assert d.read(file.block_address(1)) is None
    d.release()
    assert d.read(file.block_address(1)) == b"x"


def test_match_uses_wildcards_recursion_and_sorted_order(
    host: tuple[Namespace, Volume, Volume, Volume],
) -> None:
    ns, _, _, _ = host
    for path in [
        "D:\\Data\\zeta.mdf",
        "D:\\Data\\Sub\\c.mdf",
        "D:\\Data2\\d.mdf",
        "D:\\Data\\alpha.MDF",
        "D:\\Data\\b.ldf",
        "D:\\Data\\a1.mdf",
        "D:\\Data\\ab.mdf",
    ]:
        ns.create_file(path, 1)

    def names(files: list[File]) -> list[str]:
        return [f.path for f in files]

    assert names(ns.match("D:\\Data", "*.mdf", recursive=False)) == [
        "D:\\Data\\a1.mdf",
        "D:\\Data\\ab.mdf",
        "D:\\Data\\alpha.MDF",
        "D:\\Data\\zeta.mdf",
    ]
    assert names(ns.match("d:\\data\\", "*.MDF", recursive=True)) == [
        "D:\\Data\\a1.mdf",
        "D:\\Data\\ab.mdf",
        "D:\\Data\\alpha.MDF",
        "D:\\Data\\Sub\\c.mdf",
        "D:\\Data\\zeta.mdf",
    ]
    assert names(ns.match("D:\\Data", "a?.mdf", recursive=False)) == [
        "D:\\Data\\a1.mdf",
        "D:\\Data\\ab.mdf",
    ]
    assert names(ns.match("D:\\Data", "*", recursive=False)) == [
        "D:\\Data\\a1.mdf",
        "D:\\Data\\ab.mdf",
        "D:\\Data\\alpha.MDF",
        "D:\\Data\\b.ldf",
        "D:\\Data\\zeta.mdf",
    ]
    assert names(ns.match("D:\\", "d.mdf", recursive=True)) == ["D:\\Data2\\d.mdf"]
    assert ns.match("D:\\", "*.mdf", recursive=False) == []
    assert ns.match("D:\\Dat", "*", recursive=True) == []  # a prefix is not a folder


def test_environment_variables_expand(host: tuple[Namespace, Volume, Volume, Volume]) -> None:
    ns, c, _, _ = host
    assert ns.expand("%SystemRoot%\\System32\\config") == "C:\\Windows\\System32\\config"
    assert ns.expand("%systemroot%\\x") == "C:\\Windows\\x"
    assert ns.expand("%ProgramFiles%\\App") == "C:\\Program Files\\App"
    assert ns.expand("D:\\plain") == "D:\\plain"
    file = ns.create_file("%SystemRoot%\\System32\\config\\SAM", 2)
    assert file.path == "C:\\Windows\\System32\\config\\SAM"
    assert file.volume is c
    assert ns.file("c:\\windows\\system32\\config\\sam") is file
    assert ns.file("%WINDIR%\\System32\\config\\SAM") is file
    assert ns.match("%SystemRoot%\\System32", "*", recursive=True) == [file]


def test_custom_environment() -> None:
    ns = Namespace(environment={"%APPDATA%": "E:\\AppData"})
    assert ns.expand("%AppData%\\x") == "E:\\AppData\\x"
    assert ns.expand("%SystemRoot%\\x") == "%SystemRoot%\\x"


@pytest.mark.parametrize(
    ("path", "key"),
    [
        ("c:", "C:\\"),
        ("c:\\", "C:\\"),
        ("C:/Data/", "C:\\DATA"),
        ("d:\\Mounts\\Archive\\\\", "D:\\MOUNTS\\ARCHIVE"),
    ],
)
def test_normalize(path: str, key: str) -> None:
    assert normalize(path) == key
