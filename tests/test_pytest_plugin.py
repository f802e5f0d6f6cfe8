"""The pytest plugin (run in a child pytest, so its fixtures and report hooks run for real)
and the trace-sequence assertions."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from vsssim.sim import vocabulary as V
from vsssim.sim.trace import Trace
from vsssim.testing import Step, assert_sequence, find_sequence
from vsssim.testing.pytest_plugin import derive_seed

ROOT = Path(__file__).resolve().parent.parent


def _pytest(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """A child pytest with only this plugin (entry points off: same result installed or not)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTEST_DISABLE_PLUGIN_AUTOLOAD="1")
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "vsssim.testing.pytest_plugin",
            "-p",
            "no:cacheprovider",
            *args,
        ],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_readme_harness_example_passes() -> None:
    done = _pytest(str(ROOT / "examples" / "pytest_harness"), cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 passed" in done.stdout


def test_seeds_come_from_test_ids_and_a_failure_reports_how_to_replay(tmp_path: Path) -> None:
    (tmp_path / "test_it.py").write_text(
        "def test_seed(vsssim_seed):\n"
        "    print('SEED', vsssim_seed)\n"
        "def test_fails(vsssim_demo):\n"
        "    vsssim_demo.run()\n"
        "    assert False, 'planted'\n",
        encoding="utf-8",
    )
    first = _pytest("-q", "-s", "-k", "seed", cwd=tmp_path)
    again = _pytest("-q", "-s", "-k", "seed", cwd=tmp_path)
    shifted = _pytest("-q", "-s", "-k", "seed", "--vsssim-seed", "7", cwd=tmp_path)
    seed = derive_seed("test_it.py::test_seed")
    assert f"SEED {seed}" in first.stdout
    assert f"SEED {seed}" in again.stdout
    assert f"SEED {derive_seed('test_it.py::test_seed', 7)}" in shifted.stdout
    assert derive_seed("test_it.py::test_seed", 7) != seed

    failed = _pytest("-q", "-k", "fails", cwd=tmp_path)
    assert failed.returncode == 1
    section = failed.stdout.split(" vsssim ---", 1)[1]
    fails_seed = derive_seed("test_it.py::test_fails")
    assert f"seed {fails_seed}" in section
    assert f"world 0: if the test only ran it: vsssim demo --seed {fails_seed}\n" in section
    assert "replay token v2." not in section
    assert "run the test again: vsssim replay v2." in section
    verbose = _pytest("-v", "-k", "fails", cwd=tmp_path)
    # pytest's header names the seed base
    assert "seeds derived from test ids, base 0 (--vsssim-seed)" in verbose.stdout
    assert "  replay token v2." in verbose.stdout.split(" vsssim ---", 1)[1]


def _trace() -> Trace:
    trace = Trace()
    trace.record(1, "agent", V.INITIALIZE_FOR_BACKUP)
    trace.record(5, "SqlServerWriter", V.ON_FREEZE, volumes=["D:"])
    trace.record(5, V.VSS, V.HOLD_WRITES)
    trace.record(5, "System Writer", V.ON_THAW)
    trace.record(5, "SqlServerWriter", V.ON_THAW)
    return trace


def test_a_sequence_matches_in_order_with_records_between() -> None:
    trace = _trace()
    records = assert_sequence(
        trace,
        V.INITIALIZE_FOR_BACKUP,
        Step(V.ON_FREEZE, details={"volumes": ["D:"]}),
        Step(V.ON_THAW, actor="SqlServerWriter"),
    )
    assert [r.seq for r in records] == [0, 1, 4]
    assert find_sequence(trace, V.HOLD_WRITES, V.ON_FREEZE) == [trace.find(V.HOLD_WRITES)[0]]


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        (
            (V.HOLD_WRITES, V.ON_FREEZE),
            "step 2, 'OnFreeze', is missing after seq 2 (VSS: hold "
            "writes): it appears only earlier, at seq 1",
        ),
        (
            (Step(V.ON_THAW, actor="WMI Writer"),),
            "records with that action do not match: seq 3 by System Writer",
        ),
        (("OnAbort",), "step 1, 'OnAbort', is missing: no record has that action"),
    ],
)
def test_a_missing_step_is_explained(steps: tuple[str | Step, ...], message: str) -> None:
    with pytest.raises(AssertionError) as caught:
        assert_sequence(_trace(), *steps)
    assert message in str(caught.value)
    assert "the trace (5 records) shows" in str(caught.value)
