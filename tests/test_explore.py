"""Exhaustive exploration: bounded, honest about its bounds, and able to find a planted bug."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest

from vsssim.cli.main import main
from vsssim.host.scenario import Scenario
from vsssim.host.scenario_file import load_scenario
from vsssim.host.world import World
from vsssim.testing.explore import ExploreOptions, explore, replay_explored
from vsssim.testing.invariants import check_all
from vsssim.vss.constants import Context
from vsssim.vss.coordinator.service import SnapshotSet
from vsssim.vss.coordinator.session import BackupComponents, Coordinator

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "explore_2x2x2.toml"


def _scenario() -> Scenario:
    return load_scenario(EXAMPLE).scenario


def _without_the_set_lock(monkeypatch: pytest.MonkeyPatch) -> None:
    """A deliberately broken coordinator: StartSnapshotSet never refuses a second set."""

    def lock(self: Coordinator, owner: BackupComponents, context: Context) -> SnapshotSet:
        snapshot_set = SnapshotSet(self.new_id("snapshot-set"), owner, context)
        self.creating = snapshot_set
        return snapshot_set

    monkeypatch.setattr(Coordinator, "lock_set", lock)


#: The search of the previous defaults: the first 12 decisions branch, at most 2 preemptions,
#: states seen before cut, timings at both ends. Bounded, so it must say what cut it.
BOUNDED = ExploreOptions(max_choices=12, preemption_bound=2, fingerprints=True, timings="ends")


def test_the_2x2x2_configuration_is_explored_completely_by_default() -> None:
    report = explore(_scenario())
    assert report.complete and report.bounds == []
    assert report.violating_runs == 0 and report.counterexample is None
    assert report.complete_runs > 1 and report.runs == report.complete_runs
    assert report.reduced_ways > 0  # the reduction, not a bound, kept it small


def test_a_bounded_search_with_faults_names_every_bound_that_cut_it() -> None:
    report = explore(_scenario(), attrs.evolve(BOUNDED, faults=True))
    assert report.exhausted and not report.complete
    assert report.violating_runs == 0 and report.counterexample is None
    assert report.complete_runs > 1 and report.distinct_states > report.complete_runs
    assert report.runs == report.complete_runs + report.pruned_runs
    assert report.max_depth > 12
    assert any("only the first 12 decisions" in b for b in report.bounds)
    assert any("at most 1 fault" in a for a in report.abstractions)


def test_every_enumerated_run_is_a_different_run_and_replays() -> None:
    tokens: list[str] = []
    traces: dict[str, str] = {}

    def visit(world: World) -> None:
        token = world.token()
        tokens.append(token)
        if len(traces) < 5:
            traces[token] = world.sim.trace.to_jsonl()

    options = ExploreOptions(max_choices=6, fingerprints=False, reduction=False)
    report = explore(_scenario(), options, visit=visit)
    assert report.pruned_runs == 0
    assert len(tokens) == report.complete_runs == len(set(tokens)) > 10
    for token, trace in traces.items():
        assert replay_explored(_scenario(), token).sim.trace.to_jsonl() == trace


def test_a_tighter_bound_explores_less_and_a_run_limit_says_the_search_is_incomplete() -> None:
    def runs(max_choices: int, preemption_bound: int) -> int:
        options = ExploreOptions(
            max_choices, preemption_bound, fingerprints=False, reduction=False
        )
        return explore(_scenario(), options).runs

    assert runs(6, preemption_bound=0) < runs(6, preemption_bound=2)
    assert runs(4, preemption_bound=2) < runs(6, preemption_bound=2)
    cut = explore(_scenario(), ExploreOptions(max_runs=3))
    assert cut.runs == 3 and not cut.exhausted
    assert any("incomplete" in b for b in cut.bounds)


@pytest.mark.parametrize("fingerprints", [True, False])
def test_a_broken_coordinator_is_caught_and_its_counterexample_replays(
    monkeypatch: pytest.MonkeyPatch, fingerprints: bool
) -> None:
    _without_the_set_lock(monkeypatch)
    report = explore(_scenario(), ExploreOptions(fingerprints=fingerprints))
    example = report.counterexample
    assert report.violating_runs > 0 and example is not None
    assert any(v.startswith("one set at a time") for v in example.violations)
    world = replay_explored(_scenario(), example.token)
    assert check_all(world)["one set at a time"]


def test_the_command_line_reports_counts_bounds_and_the_counterexample(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["explore", str(EXAMPLE)]) == 0
    out = capsys.readouterr().out
    assert "runs explored:" in out and "distinct states:  not tracked" in out
    assert "max depth:" in out and out.rstrip().endswith("0 violating runs")
    assert "complete: every run within the model's choices was covered" in out
    assert main(["explore", str(EXAMPLE), "--max-choices", "6", "--fingerprints"]) == 0
    out = capsys.readouterr().out
    assert "not a proof beyond these bounds" in out and "only the first 6" in out

    _without_the_set_lock(monkeypatch)
    assert main(["explore", str(EXAMPLE), "--preemption-bound", "none"]) == 1
    out = capsys.readouterr().out
    assert "Shortest counterexample" in out and "Phase 4:" in out
    token = out.split("vsssim replay ", 1)[1].split()[0]
    assert main(["explore", str(EXAMPLE), "--replay", token]) == 1
    assert "one set at a time          VIOLATED" in capsys.readouterr().out
    assert main(["replay", token]) == 1
    assert "one set at a time          VIOLATED" in capsys.readouterr().out
