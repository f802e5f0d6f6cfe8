"""Scenario files as hostile input: every bad file is one one-line error naming its key, in
bounded time and memory; every file that reads builds and runs raising nothing but
``VssimError``."""

from __future__ import annotations

import os
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vsssim.cli.main import main
from vsssim.errors import VssimError
from vsssim.host.scenario_file import ScenarioFile, ScenarioFileError, load_scenario, parse_scenario
from vsssim.host.scenario_limits import (
    COUNTS,
    LIMITS,
    MAX_FILE_BYTES,
    MAX_RUN,
    MAX_WORKLOAD_WRITES,
    expected_writes,
    run_horizon_us,
)

EXAMPLES = sorted((Path(__file__).parent.parent / "examples").glob("*.toml"))
MAX_PEAK_BYTES = 50 * 1024**2

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
  database_files = ['D:\\Data\\a.db']
[[workloads]]
name = "app"
files = ['D:\\Data\\a.db']
interval = ["20 ms", "200 ms"]
[[agents]]
select = ['W:L\\A']
"""


def refused(text: str) -> str:
    """The one-line error ``text`` gets."""
    with pytest.raises(ScenarioFileError) as caught:
        parse_scenario(text, source="f.toml")
    message = str(caught.value)
    assert "\n" not in message and message.startswith("f.toml: ")
    return message


def workload(interval: str) -> str:
    return BASE.replace('interval = ["20 ms", "200 ms"]', f"interval = {interval}")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("x = " + "[" * 3000 + "]" * 3000, "nested too deeply"),
        ("x = " + "{a=" * 3000 + "1" + "}" * 3000, "nested too deeply"),
        ("x." * 20_000 + "y = 1\n", "line 1: a key of more than 16 dotted parts"),
        ("[" + "a." * 20_000 + "b]\n", "line 1: a key of more than 16 dotted parts"),
        (BASE.replace("seed = 9", "seed = " + "9" * 400), "seed: expected an integer <= "),
        (BASE.replace("seed = 9", "seed = " + "9" * 5000), "a number too long to read"),
        (BASE.replace("seed = 9", "seed = inf"), "seed: expected an integer, got float inf"),
        (BASE.replace("blocks = 8", "blocks = nan"), "files[0].blocks: expected an integer"),
        (BASE.replace("blocks = 8", "blocks = 99999999"), "files[0].blocks: expected an integer"),
        ("\x00\x01garbage", "not valid TOML"),
        (workload('["0 s", "0 s"]'), "workloads[0].interval[0]: expected a duration from 1 ms"),
        (workload('["2 s", "1 s"]'), "workloads[0].interval: expected [low, high] with low <="),
        (workload('["1 ms"]'), "workloads[0].interval: expected an array of two durations"),
        (workload('["' + "9" * 400 + ' s", "1 s"]'), "workloads[0].interval[0]: expected a"),
        (workload('["1e9 s", "1 s"]'), "workloads[0].interval[0]: expected a duration with a"),
        (
            BASE.replace("[[agents]]", "[[agents]]\nstart = '1000 h'"),
            "agents[0].start: expected a duration from 0 s to 168 h, got '1000 h'",
        ),
        (
            workload('["1 ms", "1 ms"]').replace("[[agents]]", "[[agents]]\nstart = '100 h'"),
            "workloads: the workloads would issue about",
        ),
        (
            BASE.replace("[[agents]]", "[[agents]]\nretry = { retries = 10, delay = '24 h' }")
            + "[config]\nprovider_reply = '24 h'\n",
            "agents: the run could last about 775 h of simulated time at worst",
        ),
        ("array = { track_size = '0 B' }\n" + BASE, "array.track_size: expected a size from"),
        ("array = { track_size = 0 }\n" + BASE, "array.track_size: expected a size with a unit"),
        (
            BASE.replace("mount_point = 'D:\\'", "mount_point = 'D:\\'\nsize = " + "9" * 90),
            "volumes[0].size: expected a size from 1 MiB to 1 PiB, got a number of 90 digits",
        ),
        (
            "".join(f"[[volumes]]\nmount_point='V{i}:\\'\n" for i in range(200)),
            f"volumes: expected at most {COUNTS['volumes']} items, got 200",
        ),
        (BASE.replace('name = "W"', 'name = "' + "W" * 5000 + '"'), "writers[0].name: expected"),
        (
            BASE.replace('name = "W"', 'name = "W\\nX"').replace("W:L", "W\\nX:L"),
            "writers: W\\nX",
        ),
        (BASE + "[config]\nstatus_query = '0 s'\n", "config.status_query: expected a duration"),
        (BASE + "[config]\nflush = ['2 s', '1 s']\n", "config.flush: expected [low, high]"),
        (
            BASE.replace("[[agents]]", "[[agents]]\nlock_retry = '0 s'"),
            "agents[0].lock_retry: expected a duration from 1 ms to 1 h",
        ),
        (
            BASE.replace("[[agents]]", "[[agents]]\ncopy_bytes_per_s = 0"),
            "agents[0].copy_bytes_per_s: expected an integer >= 1048576, got 0",
        ),
        (
            BASE.replace("[[agents]]", "[[agents]]\nretry = { retries = 1000000000 }"),
            "agents[0].retry.retries: expected an integer <= 10",
        ),
        (BASE + "[faults]\nkinds = []\nfire_percents = [101]\n", "faults.fire_percents[0]"),
        (BASE + "[faults]\nkinds = []\nlimit = " + "9" * 40 + "\n", "faults.limit: expected"),
        (
            BASE + "[faults]\nkinds = []\nsites = [" + "'x'," * 300 + "]\n",
            "faults.sites: expected at most 256 items, got 300",
        ),
        (BASE + "[restore]\nwrite_for = '1000 h'\n", "restore.write_for: expected a duration"),
        (
            BASE.replace("blocks = 8", "blocks = 60000")
            + "".join(
                f"[[files]]\npath = 'D:\\Data\\{i}.db'\nblocks = 60000\ninitial_blocks = 0\n"
                for i in range(5)
            ),
            "files: 360000 blocks in all; at most 262144",
        ),
    ],
)
def test_hostile_values_get_one_line_naming_their_key(text: str, expected: str) -> None:
    assert expected in refused(text)


def test_the_limits_table_bounds_every_example_well_inside() -> None:
    for example in EXAMPLES:
        scenario = load_scenario(example).scenario
        horizon = run_horizon_us(scenario)
        assert horizon <= MAX_RUN
        assert expected_writes(scenario, horizon) <= MAX_WORKLOAD_WRITES // 2
    assert all(bound.low <= bound.high for bound in LIMITS.values())


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_only_a_bounded_regular_file_is_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fifo = tmp_path / "pipe.toml"
    os.mkfifo(fifo)  # opening it to read would wait for a writer forever
    large = tmp_path / "large.toml"
    large.write_bytes(b"#" * (MAX_FILE_BYTES + 1))
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"seed = 1\n\xff\xfe\x00")
    cases = {
        "/dev/zero": "/dev/zero: cannot read: not a regular file",
        str(fifo): "pipe.toml: cannot read: not a regular file",
        str(tmp_path): ": cannot read: a folder, not a scenario file",
        str(tmp_path / "missing.toml"): "missing.toml: cannot read: No such file",
        str(large): f"large.toml: too large: a scenario file has at most {MAX_FILE_BYTES} bytes",
        str(binary): "binary.toml: not UTF-8 text (at byte 9",
    }
    for path, expected in cases.items():
        if not os.path.exists(path) and path == "/dev/zero":
            continue
        with pytest.raises(ScenarioFileError) as caught:
            load_scenario(path)
        assert expected in str(caught.value) and "\n" not in str(caught.value)
        for command in ("run", "explore"):
            assert main([command, path]) == 2
            err = capsys.readouterr().err
            # The CLI checks every file it is given before the reader does: either says why.
            assert err.count("\n") == 1 and err.startswith("vsssim: error: ")
            assert expected in err or Path(path).name in err


# -- property tests: generated and mutated files -----------------------------------------------

#: Keys of BASE (and what a valid file may add) with values to put there, valid or not.
_SLOTS = [
    ("seed = 9", "seed = {}"),
    ("blocks = 8", "blocks = {}"),
    ('interval = ["20 ms", "200 ms"]', "interval = {}"),
    ("[[agents]]", "[[agents]]\nstart = {}"),
    ("[[agents]]", "[[agents]]\nlock_wait = {}"),
    ("[[agents]]", "[[agents]]\nretry = {{ retries = 1, delay = {} }}"),
    ("[[agents]]", "[[agents]]\ncopy_bytes_per_s = {}"),
    ("mount_point = 'D:\\'", "mount_point = 'D:\\'\nsize = {}"),
    ("mount_point = 'D:\\'", "mount_point = 'D:\\'\nlabel = {}"),
    ("[[files]]", "[config]\nhold_limit = {}\n[[files]]"),
    ("[[files]]", "[config]\nflush = {}\n[[files]]"),
    ("[[files]]", "[config]\nmax_volumes_per_set = {}\n[[files]]"),
    ("[[files]]", "[restore]\nwrite_for = {}\n[[files]]"),
    ("[[files]]", "[faults]\nkinds = {}\n[[files]]"),
    ("[[files]]", "[faults]\nforce = {}\n[[files]]"),
]
_VALUES = st.one_of(
    st.integers(min_value=-(10**40), max_value=10**40).map(str),
    st.sampled_from(["inf", "nan", "-inf", "1.5", "true", "[]", "{}", "'x'", '""']),
    st.builds(
        lambda n, unit: f"'{n} {unit}'",
        st.one_of(st.integers(0, 10**20), st.floats(0, 1e6, allow_nan=False).map(str)),
        st.sampled_from(["us", "ms", "s", "min", "h", "B", "KiB", "MiB", "GiB", "TiB", "d"]),
    ),
    st.lists(st.sampled_from(["'0 s'", "'1 ms'", "'1 s'", "'1 h'", "3", "'x'"]), max_size=3).map(
        lambda items: "[" + ", ".join(items) + "]"
    ),
    st.sampled_from(["['provider-slow-commit']", "'writer-veto-freeze@*'", "['nope']"]),
    st.text(max_size=20).map(lambda t: '"' + t.replace("\\", "").replace('"', "") + '"'),
)


def _judge(text: str) -> ScenarioFile | None:
    """Read ``text`` under tracemalloc; a file that reads is run with a bound on the clock."""
    tracemalloc.start()
    try:
        try:
            loaded = parse_scenario(text, source="f.toml")
        except VssimError as error:
            assert "\n" not in str(error), str(error)
            return None
        try:
            world = loaded.scenario.build(loaded.seed)
            world.run(limit_us=600 * 1_000_000)
        except VssimError as error:
            assert "\n" not in str(error), str(error)
        return loaded
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak < MAX_PEAK_BYTES, f"{peak} bytes at peak"


#: ``SF_EXAMPLES=1000`` for a longer hunt (1,000 each passed when these tests were written).
_FAST = settings(
    max_examples=int(os.environ.get("SF_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@_FAST
@given(st.lists(st.tuples(st.sampled_from(_SLOTS), _VALUES), min_size=1, max_size=3))
def test_values_substituted_at_random_keys_read_or_fail_on_one_line(
    substitutions: list[tuple[tuple[str, str], str]],
) -> None:
    text = BASE
    for (anchor, template), value in substitutions:
        text = text.replace(anchor, template.format(value), 1)
    _judge(text)


@st.composite
def _mutated_example(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from(EXAMPLES)).read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    for _ in range(draw(st.integers(1, 4))):
        if not lines:
            break
        i = draw(st.integers(0, len(lines) - 1))
        kind = draw(st.sampled_from(["delete", "duplicate", "swap", "flip", "value"]))
        if kind == "delete":
            del lines[i]
        elif kind == "duplicate":
            lines.insert(i, lines[i] * draw(st.integers(1, 3)))
        elif kind == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif kind == "flip" and lines[i]:
            data = bytearray(lines[i].encode("utf-8"))
            at = draw(st.integers(0, len(data) - 1))
            data[at] ^= 1 << draw(st.integers(0, 7))
            lines[i] = data.decode("utf-8", errors="replace")
        elif "=" in lines[i]:
            key = lines[i].partition("=")[0]
            lines[i] = f"{key}= {draw(_VALUES)}\n"
    return "".join(lines)


@_FAST
@given(_mutated_example())
def test_mutated_examples_read_or_fail_on_one_line(text: str) -> None:
    _judge(text)


@_FAST
@given(st.binary(max_size=200))
def test_random_bytes_in_a_file_fail_on_one_line(
    tmp_path_factory: pytest.TempPathFactory, data: bytes
) -> None:
    path = tmp_path_factory.mktemp("bytes") / "s.toml"
    path.write_bytes(data)
    with pytest.raises(VssimError) as caught:
        load_scenario(path)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    "change",
    [
        lambda t: (
            t.replace('interval = ["20 ms", "200 ms"]', 'interval = ["1 ms", "1 ms"]').replace(
                "[[agents]]", "[[agents]]\nlock_wait = '1 s'\nretry = { retries = 0 }"
            )
            + "[config]\nwriter_reply = '1 s'\nprovider_reply = '1 s'\nrundown = '1 s'\n"
        ),
        lambda t: t.replace("[[agents]]", "[[agents]]\nstart = '160 h'").replace(
            '"20 ms", "200 ms"', '"1 h", "1 h"'
        ),
        lambda t: t.replace("mount_point = 'D:\\'", "mount_point = 'D:\\'\nsize = '1 PiB'"),
        lambda t: (
            "array = { track_size = '16 MiB', track_copy = '1 s' }\n"
            + t.replace(
                "mount_point = 'D:\\'",
                "mount_point = 'D:\\'\nldev = '01:10'\nreplicas = ['01:20']\nsize = '1 TiB'",
            ).replace("[[agents]]", "[[agents]]\nprovider = 'xp'")
        ),
        lambda t: (
            t + "[config]\nflush = ['0 s', '0 s']\nstatus_query = '1 ms'\n"
            "writer_reply = '1 ms'\nprovider_reply = '1 ms'\n"
        ),
        lambda t: (
            t + "[faults]\nkinds = ['provider-slow-commit', 'agent-dies']\n"
            "activation_percent = 100\nfire_percents = [100]\n"
        ),
    ],
)
def test_hostile_but_valid_files_run_end_to_end(
    change: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert callable(change)
    text = change(BASE)
    loaded = _judge(text)
    assert loaded is not None
    path = tmp_path / "s.toml"
    path.write_text(text, encoding="utf-8")
    assert main(["run", str(path)]) in (0, 1)
    assert "Invariants:" in capsys.readouterr().out


def test_a_metadata_document_saved_as_utf16_is_read(tmp_path: Path) -> None:
    """Windows tools save Writer Metadata Documents as UTF-16: a scenario may name one."""
    examples = Path(__file__).resolve().parents[1] / "examples"
    (tmp_path / "metadata").mkdir()
    xml = (examples / "metadata" / "SqlServerWriter.xml").read_text(encoding="utf-8")
    (tmp_path / "metadata" / "SqlServerWriter.xml").write_bytes(xml.encode("utf-16"))
    lesson = tmp_path / "lesson.toml"
    lesson.write_text((examples / "06_captured_metadata.toml").read_text(encoding="utf-8"))
    utf16 = load_scenario(lesson)
    utf8 = load_scenario(examples / "06_captured_metadata.toml")
    assert utf16.scenario.writers == utf8.scenario.writers


def test_a_metadata_document_that_is_a_folder_is_refused_in_one_line(tmp_path: Path) -> None:
    examples = Path(__file__).resolve().parents[1] / "examples"
    (tmp_path / "metadata" / "SqlServerWriter.xml").mkdir(parents=True)
    lesson = tmp_path / "lesson.toml"
    lesson.write_text((examples / "06_captured_metadata.toml").read_text(encoding="utf-8"))
    with pytest.raises(ScenarioFileError, match="a folder, not a metadata document") as caught:
        load_scenario(lesson)
    assert "\n" not in str(caught.value)
