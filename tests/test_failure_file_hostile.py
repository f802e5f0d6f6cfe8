"""The failure-file loader (``vsssim replay --file``) fed generated and mutated files: each
either replays or is refused with one ConfigurationError, never another exception, in bounded
time and memory."""

from __future__ import annotations

import copy
import json
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vsssim.errors import ConfigurationError, VssimError
from vsssim.host.scenario_codec import scenario_to_dict
from vsssim.sim.choices import RecordingChoices, SeededChoices
from vsssim.testing.draw import draw_scenario
from vsssim.testing.fuzz import run_failure_file

HOSTILE_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, -1, 10**30, 2**63, 1.5, float("inf")]),
    st.text(max_size=30),
    st.sampled_from(["", "NOPE", "x" * 5000, "ffffffff-ffff-ffff-ffff-ffffffffffff"]),
    st.lists(st.integers(-5, 5), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)


def _valid(seed: int) -> dict[str, Any]:
    scenario = draw_scenario(RecordingChoices(SeededChoices(seed)))
    return {
        "token": "",
        "seed": seed,
        "writer": None,
        "violations": [],
        "shrunk_violations": [],
        "scenario": scenario_to_dict(scenario),
    }


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key path into a JSON value (dict keys and list indices)."""
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


def _replace(data: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    data = copy.deepcopy(data)
    holder = data
    for step in path[:-1]:
        holder = holder[step]
    holder[path[-1]] = value
    return data


def _load(tmp_path: Path, text: str) -> None:
    path = tmp_path / "failure.json"
    path.write_text(text, encoding="utf-8")
    tracemalloc.start()
    try:
        world, report = run_failure_file(path)
    except ConfigurationError as error:
        assert "\n" not in str(error)
        assert str(path) in str(error)
    except VssimError as error:  # the scenario builds wrong: a clear error too
        assert "\n" not in str(error)
    else:
        assert report.seed == json.loads(text)["seed"]
        assert world.sim.events_processed > 0 or world.crash is not None or not world.agents
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert peak < 200 * 1024 * 1024


@pytest.fixture(scope="module")
def valid_files() -> list[dict[str, Any]]:
    return [_valid(seed) for seed in (3, 17, 41)]


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(data=st.data(), value=HOSTILE_VALUES)
def test_a_value_replaced_anywhere_replays_or_is_refused_clearly(
    tmp_path: Path, valid_files: list[dict[str, Any]], data: st.DataObject, value: Any
) -> None:
    base = data.draw(st.sampled_from(valid_files))
    path = data.draw(st.sampled_from(_paths(base)))
    mutated = _replace(base, path, value)
    _load(tmp_path, json.dumps(mutated))


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_a_mangled_file_is_refused_clearly(
    tmp_path: Path, valid_files: list[dict[str, Any]], data: st.DataObject
) -> None:
    text = json.dumps(data.draw(st.sampled_from(valid_files)))
    cut = data.draw(st.integers(0, len(text)))
    junk = data.draw(st.text(max_size=20))
    _load(tmp_path, text[:cut] + junk + text[cut + len(junk) :])
