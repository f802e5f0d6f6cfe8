"""``vsssim explore --format json``: one JSON object whose figures are those of the search."""

from __future__ import annotations

import json
from pathlib import Path

import attrs
import pytest

from tests.test_explore import BOUNDED, EXAMPLE, _scenario, _without_the_set_lock
from vsssim.cli.main import main
from vsssim.host.scenario_file import load_scenario
from vsssim.testing.explore import ExploreOptions, explore, replay_explored
from vsssim.testing.invariants import check_all

#: A scenario with one decision: small enough for an exploration that nothing cuts.
_TINY = """\
title = "one volume, nothing to back up"
seed = 1

[[volumes]]
mount_point = 'D:\\'
label = "Data"
"""

_KEYS = {
    "schema": int,
    "file": str,
    "faults": bool,
    "order": str,
    "runs": int,
    "complete_runs": int,
    "pruned_runs": int,
    "transitions": int,
    "reduction": dict,
    "timings": str,
    "max_depth": int,
    "complete": bool,
    "bounds": list,
    "abstractions": list,
    "interrupted": bool,
    "violating_runs": int,
    "violations": list,
    "seconds": float,
}


def _json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, object]]:
    status = main(["explore", *argv, "--format", "json"])
    return status, json.loads(capsys.readouterr().out)


def _check_shape(document: dict[str, object]) -> None:
    for key, kind in _KEYS.items():
        assert isinstance(document[key], kind), key
    assert document["distinct_states"] is None or isinstance(document["distinct_states"], int)
    assert document["complete"] == (document["bounds"] == [])


def test_the_json_report_has_the_figures_of_the_search(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, document = _json(capsys, str(EXAMPLE))
    _check_shape(document)
    report = explore(_scenario(), ExploreOptions())
    assert status == 0 and document["violations"] == []
    assert document["runs"] == report.runs and document["transitions"] == report.transitions
    assert document["distinct_states"] is None and document["timings"] == "low"
    assert document["complete"] is True and document["bounds"] == report.bounds == []
    argv = ["--max-choices", "8", "--preemption-bound", "1", "--fingerprints"]
    status, bounded = _json(capsys, str(EXAMPLE), *argv, "--timings", "ends")
    report = explore(_scenario(), attrs.evolve(BOUNDED, max_choices=8, preemption_bound=1))
    assert status == 0 and bounded["runs"] == report.runs
    assert bounded["distinct_states"] == report.distinct_states > 0
    assert bounded["complete"] is False and bounded["bounds"] == report.bounds
    assert any("preemptions" in bound for bound in report.bounds)


def test_a_search_nothing_cut_is_complete_with_no_bounds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tiny = tmp_path / "tiny.toml"
    tiny.write_text(_TINY, encoding="utf-8")
    argv = [str(tiny), "--max-choices", "none", "--preemption-bound", "none"]
    status, document = _json(capsys, *argv, "--no-fingerprints")
    _check_shape(document)
    assert status == 0 and document["complete"] is True and document["bounds"] == []
    assert document["distinct_states"] is None
    assert document["runs"] == document["complete_runs"]
    reduction = document["reduction"]
    assert isinstance(reduction, dict) and reduction["enabled"] is True
    # The plain enumeration runs every order; the reduction one per order of commuting steps.
    _, plain = _json(capsys, *argv, "--no-fingerprints", "--no-reduction")
    assert plain["complete"] is True and plain["runs"] == plain["complete_runs"] > 1
    assert plain["reduction"] == {
        "enabled": False,
        "schedule_ways_met": 0,
        "left_out_as_commuting": 0,
    }
    assert plain["runs"] - document["runs"] <= reduction["left_out_as_commuting"]
    out = main(["explore", *argv, "--no-fingerprints"]), capsys.readouterr().out
    assert "complete: every run within the model's choices was covered" in out[1]
    # The same search cut at one decision is not complete, and says what cut it.
    status, cut = _json(capsys, str(tiny), "--max-choices", "0")
    assert cut["complete"] is False and cut["runs"] == 1
    assert any("decisions" in bound for bound in cut["bounds"])


def test_each_violation_names_its_invariant_and_a_token_that_replays_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _without_the_set_lock(monkeypatch)
    status, document = _json(capsys, str(EXAMPLE), "--max-runs", "40")
    _check_shape(document)
    assert status == 1 and document["violating_runs"] > 0
    violations = document["violations"]
    assert isinstance(violations, list) and violations
    names = [v["invariant"] for v in violations]
    assert "one set at a time" in names and names == sorted(set(names))
    scenario = load_scenario(EXAMPLE).scenario
    for violation in violations:
        assert violation["message"] and violation["replay"].endswith(violation["token"])
        found = check_all(replay_explored(scenario, violation["token"]))
        assert any(v.message in violation["message"] for v in found[violation["invariant"]])


def test_ctrl_c_gives_the_partial_report_in_json_too(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import vsssim.testing.explore as module

    real = module._Search.run
    calls = []

    def interrupted(self: module._Search, *args: object, **kwargs: object) -> None:
        calls.append(1)
        if len(calls) == 4:
            raise KeyboardInterrupt
        real(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(module._Search, "run", interrupted)
    status, document = _json(capsys, str(EXAMPLE))
    _check_shape(document)
    assert status == 130 and document["interrupted"] is True and document["runs"] == 3
    assert document["complete"] is False and any("interrupted" in b for b in document["bounds"])
