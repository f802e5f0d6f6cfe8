"""Fuzz campaigns: many seeded random scenarios with faults, every invariant checked.

Each run draws its whole configuration from its seed (:func:`~vsssim.scenario.draw_scenario`):
volumes, writers, agents, a swarm fault mix and, in some runs, a restore of every backup that
succeeded (after the applications wrote on and maybe a file was deleted). The run goes in two
halves: *safety*, with faults firing (in the backups and in the restore), then *liveness*:
faults are healed and the world must come to rest within :data:`SETTLE_US`. Then every
invariant is checked. A misbehaviour fault (a writer bug planted
on purpose) must be caught by its invariant; it is a failure of the checkers if it is not.

About one run in twenty is run a second time from scratch and the two traces' hashes compared:
a difference is a determinism bug. A campaign split over ``jobs`` processes gives the same
summary as one process, because every run depends on its own seed only.
"""

from __future__ import annotations

import hashlib
import importlib
import json
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import attrs

from vsssim._kernel import SECOND
from vsssim.choices import (
    ChoiceSource,
    RecordingChoices,
    SeededChoices,
    SequenceChoices,
    decode_token,
)
from vsssim.errors import ConfigurationError
from vsssim.faults import KINDS
from vsssim.invariants import check_all
from vsssim.probes import probe_counts
from vsssim.scenario import Scenario, WriterFactory, draw_scenario
from vsssim.world import World
from vsssim.writers.base import Writer

#: How long the faulty half of a run may last (simulated time) before it counts as stuck.
RUN_LIMIT_US = 4 * 3600 * SECOND
#: How long a healed world may take to come to rest (simulated time).
SETTLE_US = 3600 * SECOND
#: One run in this many is run twice to check that the trace replays byte for byte.
DOUBLE_CHECK_EVERY = 20


@attrs.frozen
class RunReport:
    """What one fuzzed run did and found."""

    index: int
    seed: int
    token: str
    outcomes: tuple[str, ...]
    faults: tuple[tuple[str, int], ...]
    probes: tuple[tuple[str, int], ...]
    violations: tuple[str, ...]
    caught: tuple[str, ...] = ()
    settled: bool = True
    trace_hash: str = ""
    determinism_mismatch: bool = False
    restores: tuple[str, ...] = ()

    @property
    def failed(self) -> bool:
        """True if the run found a bug (in the model, a checker, or determinism)."""
        return bool(self.violations) or not self.settled or self.determinism_mismatch


def run_seed(campaign_seed: int, index: int) -> int:
    """The seed of run ``index`` of a campaign (independent of how the campaign is split)."""
    digest = hashlib.sha256(f"vsssim-fuzz:{campaign_seed}:{index}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def load_writer(spec: str | None) -> WriterFactory:
    """The writer class named ``module:Class`` (``Writer`` itself for None)."""
    if spec is None:
        return Writer
    module_name, sep, class_name = spec.partition(":")
    if not sep:
        raise ConfigurationError(f"{spec!r} is not module:Class")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as exc:
        raise ConfigurationError(f"cannot load writer {spec!r}: {exc}") from None
    if not (isinstance(cls, type) and issubclass(cls, Writer)):
        raise ConfigurationError(f"{spec!r} is not a subclass of vsssim.Writer")
    return cls


def run_world(
    scenario: Scenario,
    choices: ChoiceSource,
    writer_factory: WriterFactory,
    on_built: Callable[[World], None] | None = None,
) -> tuple[World, bool]:
    """Build and run a scenario: faults on, then healed; True if it came to rest in time.

    A scenario with a restore step runs it once its backups finished, faults still on, within
    :data:`RUN_LIMIT_US` more. ``on_built`` sees the world before it runs (the explorer's
    choice source needs it).
    """
    world = scenario.build(choices=choices, writer_factory=writer_factory)
    if on_built is not None:
        on_built(world)
    world.run(limit_us=RUN_LIMIT_US)
    if scenario.restore is not None and world.finished:
        scenario.restore.run(world, limit_us=RUN_LIMIT_US)
    return world, world.heal_and_settle(SETTLE_US)


def judge(world: World, settled: bool, index: int, seed: int, token: str) -> RunReport:
    """Check every invariant of a finished fuzz world; a planted misbehaviour whose effect
    really took place must be caught (one that had no effect is not expected to be)."""
    faults = world.coordinator.faults
    fired = faults.counts() if faults is not None else {}
    # Only a planted bug whose effect took place must be caught (and explains its violations):
    # the invariant that catches it, and those it breaks too for the writer it struck.
    planted = faults.misbehaved if faults is not None else []
    expected = {KINDS[f.kind].caught_by for f in planted}
    explained = {(name, f.writer) for f in planted for name in KINDS[f.kind].also_breaks}
    found = check_all(world)
    violations = [
        str(v)
        for name, vs in found.items()
        if name not in expected
        for v in vs
        if (name, v.subject) not in explained
    ]
    caught = []
    for kind in sorted({f.kind for f in planted}):
        invariant = KINDS[kind].caught_by
        if found.get(str(invariant)):
            caught.append(kind)
        else:
            violations.append(f"{invariant}: missed the planted {kind}")
    if not world.finished:
        violations.append(f"liveness: agents still running {RUN_LIMIT_US // SECOND} s into the run")
    if world.restoring:
        violations.append(
            f"liveness: the restore still running {RUN_LIMIT_US // SECOND} s after it started"
        )
    if not settled:
        violations.append(
            f"liveness: the world did not come to rest {SETTLE_US // SECOND} s "
            "after the faults were healed"
        )
    return RunReport(
        index=index,
        seed=seed,
        token=token,
        outcomes=tuple(r.outcome.value for r in world.results),
        faults=tuple(fired.items()),
        probes=tuple(probe_counts(world).items()),
        violations=tuple(violations),
        caught=tuple(caught),
        settled=settled,
        trace_hash=hashlib.sha256(world.sim.trace.to_jsonl().encode()).hexdigest(),
        restores=tuple(run.result.outcome.value for run in world.restores),
    )


def fuzz_one(
    campaign_seed: int,
    index: int,
    *,
    writer: str | None = None,
    misbehaviour: bool = True,
) -> RunReport:
    """Run number ``index`` of a campaign and judge it."""
    seed = run_seed(campaign_seed, index)
    factory = load_writer(writer)
    recorder = RecordingChoices(SeededChoices(seed))
    scenario = draw_scenario(recorder, misbehaviour=misbehaviour)
    world, settled = run_world(scenario, recorder, factory)
    report = judge(world, settled, index, seed, recorder.token())
    if seed % DOUBLE_CHECK_EVERY == 0:
        again = RecordingChoices(SeededChoices(seed))
        second, _ = run_world(draw_scenario(again, misbehaviour=misbehaviour), again, factory)
        digest = hashlib.sha256(second.sim.trace.to_jsonl().encode()).hexdigest()
        if digest != report.trace_hash:
            report = attrs.evolve(report, determinism_mismatch=True)
    return report


def replay(
    token: str, *, writer: str | None = None, misbehaviour: bool = True
) -> tuple[World, RunReport]:
    """Reproduce a fuzzed run exactly from its replay token."""
    factory = load_writer(writer)
    recorder = RecordingChoices(SequenceChoices(decode_token(token)))
    scenario = draw_scenario(recorder, misbehaviour=misbehaviour)
    world, settled = run_world(scenario, recorder, factory)
    return world, judge(world, settled, -1, -1, token)


# -- campaigns -------------------------------------------------------------------------------


@attrs.frozen
class CampaignSummary:
    """A campaign's totals: the same whatever the number of jobs."""

    seed: int
    runs: int
    fault_runs: tuple[tuple[str, int], ...]
    fault_times: tuple[tuple[str, int], ...]
    outcomes: tuple[tuple[str, int], ...]
    probes: tuple[tuple[str, int], ...]
    restores: tuple[tuple[str, int], ...]
    caught: int
    planted: int
    double_checked: int
    failures: tuple[RunReport, ...]

    @property
    def violations(self) -> int:
        """Runs that found a bug."""
        return len(self.failures)

    @property
    def never_hit(self) -> list[str]:
        """Probes no run reached."""
        return [name for name, n in self.probes if n == 0]

    @property
    def kinds_never_fired(self) -> list[str]:
        """Fault kinds no run fired."""
        fired = {k for k, _ in self.fault_times}
        return [k for k in KINDS if k not in fired]


def summarize(seed: int, reports: Sequence[RunReport]) -> CampaignSummary:
    """Add up run reports (in run order) into a campaign summary."""
    fault_runs: Counter[str] = Counter()
    fault_times: Counter[str] = Counter()
    outcomes: Counter[str] = Counter()
    restores: Counter[str] = Counter()
    probes: Counter[str] = Counter()
    for report in reports:
        for kind, n in report.faults:
            fault_runs[kind] += 1
            fault_times[kind] += n
        outcomes.update(report.outcomes)
        restores.update(report.restores)
        for name, n in report.probes:
            probes[name] += n
    probe_order = [name for name, _ in reports[0].probes] if reports else []
    return CampaignSummary(
        seed=seed,
        runs=len(reports),
        fault_runs=tuple((k, fault_runs[k]) for k in KINDS if k in fault_runs),
        fault_times=tuple((k, fault_times[k]) for k in KINDS if k in fault_times),
        outcomes=tuple(sorted(outcomes.items())),
        probes=tuple((name, probes[name]) for name in probe_order),
        restores=tuple(sorted(restores.items())),
        caught=sum(len(r.caught) for r in reports),
        planted=sum(1 for r in reports for k, _ in r.faults if KINDS[k].misbehaviour),
        double_checked=sum(1 for r in reports if r.seed % DOUBLE_CHECK_EVERY == 0),
        failures=tuple(r for r in reports if r.failed),
    )


def _chunk(args: tuple[int, int, int, str | None, bool]) -> list[RunReport]:
    seed, start, stop, writer, misbehaviour = args
    return [fuzz_one(seed, i, writer=writer, misbehaviour=misbehaviour) for i in range(start, stop)]


def campaign(
    seed: int,
    runs: int,
    *,
    jobs: int = 1,
    writer: str | None = None,
    misbehaviour: bool = True,
    progress: Callable[[int, int, int], None] | None = None,
) -> CampaignSummary:
    """Run ``runs`` fuzzed runs of campaign ``seed`` over ``jobs`` processes and sum them up.

    ``progress(done, runs, failures)`` is called as runs finish.
    """
    if runs < 1 or jobs < 1:
        raise ConfigurationError("runs and jobs must be at least 1")
    load_writer(writer)  # fail early on a bad --writer
    batch = 50
    chunks = [
        (seed, start, min(start + batch, runs), writer, misbehaviour)
        for start in range(0, runs, batch)
    ]
    reports: list[RunReport] = []

    def collect(results: Iterable[list[RunReport]]) -> None:
        for chunk in results:
            reports.extend(chunk)
            if progress is not None:
                progress(len(reports), runs, sum(1 for r in reports if r.failed))

    if jobs == 1:
        collect(map(_chunk, chunks))
    else:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            collect(pool.map(_chunk, chunks))
    return summarize(seed, reports)


# -- failures written down -------------------------------------------------------------------


def shrink(
    scenario: Scenario, seed: int, writer: str | None = None
) -> tuple[Scenario, RunReport | None]:
    """Greedily drop the restore, agents, workloads and unfired fault kinds while the run still
    fails.

    The runs use ``SeededChoices(seed)``: its per-site streams make a scenario built from the
    drawn value behave as the drawn run did, so a smaller scenario fails the same way.
    """
    factory = load_writer(writer)

    def failing(candidate: Scenario) -> RunReport | None:
        world, settled = run_world(candidate, SeededChoices(seed), factory)
        report = judge(world, settled, -1, seed, "")
        return report if report.failed else None

    best = failing(scenario)
    if best is None:
        return scenario, None
    if scenario.faults is not None:
        fired = tuple(k for k, _ in best.faults)
        candidate = attrs.evolve(scenario, faults=attrs.evolve(scenario.faults, kinds=fired))
        found = failing(candidate)
        if found is not None:
            scenario, best = candidate, found
    if scenario.restore is not None:
        candidate = attrs.evolve(scenario, restore=None)
        found = failing(candidate)
        if found is not None:
            scenario, best = candidate, found
    for name in [a.name for a in scenario.agents]:
        if len(scenario.agents) > 1:
            candidate = scenario.without(agent=name)
            found = failing(candidate)
            if found is not None:
                scenario, best = candidate, found
    for name in [w.name for w in scenario.workloads]:
        candidate = scenario.without(workload=name)
        found = failing(candidate)
        if found is not None:
            scenario, best = candidate, found
    return scenario, best


def write_failure(
    path: Path, report: RunReport, *, writer: str | None = None, misbehaviour: bool = True
) -> Scenario:
    """Write a failing run down as JSON: its token, seed, violations and a shrunk scenario."""
    recorder = RecordingChoices(SeededChoices(report.seed))
    scenario = draw_scenario(recorder, misbehaviour=misbehaviour)
    small, shrunk = shrink(scenario, report.seed, writer)
    data = {
        "token": report.token,
        "seed": report.seed,
        "writer": writer,
        "violations": list(report.violations),
        "shrunk_violations": list(shrunk.violations) if shrunk else [],
        "scenario": small.to_dict(),
    }
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return small


def run_failure_file(path: Path) -> tuple[World, RunReport]:
    """Run the shrunk scenario of a failure file (written by :func:`write_failure`) again."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        seed = int(data["seed"])
        scenario = Scenario.from_dict(data["scenario"])
    except (OSError, ValueError, KeyError) as exc:
        raise ConfigurationError(f"{path}: not a vsssim failure file ({exc})") from None
    world, settled = run_world(scenario, SeededChoices(seed), load_writer(data.get("writer")))
    return world, judge(world, settled, -1, seed, "")
