"""Fuzz campaigns: many seeded random scenarios with faults, every invariant checked.

Each run draws its whole configuration from its seed (:func:`~vsssim.testing.draw.draw_scenario`):
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

import bisect
import contextlib
import functools
import hashlib
import importlib
import json
import signal
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

import attrs

from vsssim.errors import ConfigurationError, VssimError, describe
from vsssim.faults import KINDS, FaultPlan
from vsssim.host._files import read_bounded
from vsssim.host.scenario import Scenario, WriterFactory
from vsssim.host.scenario_codec import scenario_from_dict, scenario_to_dict
from vsssim.host.scenario_limits import totals_problem
from vsssim.host.world import World
from vsssim.sim import vocabulary as V
from vsssim.sim.choices import (
    ChoiceSource,
    RecordingChoices,
    SeededChoices,
    SequenceChoices,
    decode_token,
)
from vsssim.sim.kernel import SECOND
from vsssim.testing._pool import Pool
from vsssim.testing.draw import draw_scenario
from vsssim.testing.invariants import check_all
from vsssim.testing.probes import PROBES, probe_counts
from vsssim.vss.writers.base import Writer

#: How long the faulty half of a run may last (simulated time) before it counts as stuck.
RUN_LIMIT_US = 4 * 3600 * SECOND
#: How long a healed world may take to come to rest (simulated time).
SETTLE_US = 3600 * SECOND
#: How many events one fuzzed run may process before it counts as a runaway (a livelock
#: verdict): the largest drawn runs take about 10,000, so a run over this budget is a writer
#: that keeps scheduling work in tiny steps of simulated time.
RUN_EVENT_BUDGET = 2_000_000
#: How much real time one fuzzed run may take before it counts as hung (:class:`RunHung`):
#: runs take milliseconds, and the event budget stops one in a few seconds.
RUN_WALL_LIMIT_S = 120.0
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
    #: The misbehaviour kinds planted in the run whose effect took place (each must be caught).
    planted: tuple[str, ...] = ()

    @property
    def failed(self) -> bool:
        """True if the run found a bug (in the model, a checker, or determinism)."""
        return bool(self.violations) or not self.settled or self.determinism_mismatch


def run_seed(campaign_seed: int, index: int) -> int:
    """The seed of run ``index`` of a campaign (independent of how the campaign is split)."""
    digest = hashlib.sha256(f"vsssim-fuzz:{campaign_seed}:{index}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def load_writer(spec: str | None) -> WriterFactory:
    """The writer class named ``module:Class`` (``Writer`` itself for None).

    Importing the module runs its code: only ever call this with a name the user gave.
    """
    if spec is None:
        return Writer
    module_name, sep, class_name = spec.partition(":")
    if not sep or not module_name or not class_name:
        raise ConfigurationError(f"{spec!r} is not module:Class")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as exc:
        raise ConfigurationError(f"cannot load writer {spec!r}: {exc}") from None
    except Exception as exc:  # the module raised while it was imported
        raise ConfigurationError(
            f"cannot load writer {spec!r}: importing it raised {_describe(exc)}"
        ) from None
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
    :data:`RUN_LIMIT_US` more. The whole run may process :data:`RUN_EVENT_BUDGET` events.
    ``on_built`` sees the world before it runs (the explorer's choice source needs it).
    """
    world = scenario.build(choices=choices, writer_factory=writer_factory)
    world.sim.event_budget = RUN_EVENT_BUDGET
    if on_built is not None:
        on_built(world)
    world.run(limit_us=RUN_LIMIT_US)
    if scenario.restore is not None and world.finished:
        scenario.restore.run(world, limit_us=RUN_LIMIT_US)
    return world, world.heal_and_settle(SETTLE_US)


def _plan_of(world: World) -> FaultPlan | None:
    """The fault plan installed in ``world``'s coordinator, if it is one."""
    hooks = world.coordinator.hooks
    return hooks if isinstance(hooks, FaultPlan) else None


def judge(world: World, settled: bool, index: int, seed: int, token: str) -> RunReport:
    """Check every invariant of a finished fuzz world; a planted misbehaviour whose effect
    really took place must be caught (one that had no effect is not expected to be).

    A run the model ended early (:attr:`World.crash`: a model error or a livelock) is judged by
    that alone. A writer handler that crashed is reported as a writer bug."""
    faults = _plan_of(world)
    if world.crash is not None:
        # The run stopped there: nothing else can be judged of it.
        return _report(world, index, seed, token, [f"crash: {world.crash}"], [], settled)
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
    violations.extend(
        f"writer bug: {r.actor} {r.details['event']} {r.details['error']} (seq {r.seq})"
        for r in world.sim.trace.find(action=V.HANDLER_CRASHED)
    )
    caught = []
    kinds = sorted({f.kind for f in planted})
    for kind in kinds:
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
    report = _report(world, index, seed, token, violations, caught, settled)
    return attrs.evolve(report, planted=tuple(kinds))


def _report(
    world: World,
    index: int,
    seed: int,
    token: str,
    violations: Sequence[str],
    caught: Sequence[str],
    settled: bool,
) -> RunReport:
    faults = _plan_of(world)
    fired = faults.counts() if faults is not None else {}
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


class RunHung(BaseException):
    """A fuzzed run took more than its wall-clock limit: code that loops without yielding to
    the simulation (a writer's handler in an endless loop). A BaseException, so that no
    containment of writers' or the model's errors stops it on its way out of the run."""


@contextlib.contextmanager
def wall_clock_limit(seconds: float) -> Iterator[None]:
    """Raise :class:`RunHung` in the running code once ``seconds`` of real time have passed.

    The one place real time counts: not in the model (no trace depends on it) but as the
    harness's last guard against a run that would never return. Where no interval timer can
    be set (not POSIX, or not the main thread) it does nothing.
    """
    if not hasattr(signal, "setitimer") or threading.current_thread() is not (
        threading.main_thread()
    ):
        yield
        return

    def hung(signum: int, frame: object) -> None:
        raise RunHung(
            f"the run took more than {seconds:g} s of real time: code that never yields to "
            "the simulation (an endless loop in a handler?)"
        )

    previous = signal.signal(signal.SIGALRM, hung)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def fuzz_one(
    campaign_seed: int,
    index: int,
    *,
    writer: str | None = None,
    misbehaviour: bool = True,
    wall_limit_s: float = RUN_WALL_LIMIT_S,
) -> RunReport:
    """Run number ``index`` of a campaign and judge it.

    Never raises (but :class:`KeyboardInterrupt`): an exception out of the run, from the model
    or from a user's writer, is a finding, reported as a ``crash:`` violation with the token of
    the choices made up to it (the token replays the run to the same crash). So is a run that
    takes more than ``wall_limit_s`` of real time (:class:`RunHung`).
    """
    seed = run_seed(campaign_seed, index)
    recorder = RecordingChoices(SeededChoices(seed))
    try:
        factory = load_writer(writer)
        with wall_clock_limit(wall_limit_s):
            scenario = draw_scenario(recorder, misbehaviour=misbehaviour)
            world, settled = run_world(scenario, recorder, factory)
        report = judge(world, settled, index, seed, recorder.token())
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # any crash of a run is the run's finding
        return crash_report(index, seed, _token_so_far(recorder), exc)
    if seed % DOUBLE_CHECK_EVERY == 0:
        again = RecordingChoices(SeededChoices(seed))
        try:
            with wall_clock_limit(wall_limit_s):
                scenario = draw_scenario(again, misbehaviour=misbehaviour)
                second, _ = run_world(scenario, again, factory)
            digest = hashlib.sha256(second.sim.trace.to_jsonl().encode()).hexdigest()
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # the same run crashed the second time
            crashed = crash_report(index, seed, report.token, exc, when="run again")
            return attrs.evolve(crashed, determinism_mismatch=True)
        if digest != report.trace_hash:
            report = attrs.evolve(report, determinism_mismatch=True)
    return report


#: The violation of a run that raised (or killed its worker process) starts with this.
CRASH = "crash"


def _token_so_far(recorder: RecordingChoices) -> str:
    try:
        return recorder.token()
    except Exception:  # a recorder broken by the crash gives no token
        return ""


def _describe(exc: BaseException) -> str:
    """``Type: message (at file:line, in function)``, on one line and bounded."""
    error, where = describe(exc)
    return f"{error} (at {where})"


def crash_report(
    index: int, seed: int, token: str, exc: BaseException, *, when: str = "run"
) -> RunReport:
    """The report of a run that raised ``exc``: a ``crash:`` violation naming it."""
    return RunReport(
        index=index,
        seed=seed,
        token=token,
        outcomes=(),
        faults=(),
        probes=(),
        violations=(f"{CRASH}: the {when} raised {_describe(exc)}",),
    )


def worker_died_report(index: int, seed: int, reason: str) -> RunReport:
    """The report of a run whose worker process died under it, twice (the second time alone)."""
    return RunReport(
        index=index,
        seed=seed,
        token="",
        outcomes=(),
        faults=(),
        probes=(),
        violations=(f"{CRASH}: worker died running it ({reason}), also when run alone",),
    )


def is_crash(report: RunReport) -> bool:
    """True for the report of a run that raised or killed its worker."""
    return any(v.startswith(f"{CRASH}: ") for v in report.violations)


def replay(
    token: str, *, writer: str | None = None, misbehaviour: bool = True
) -> tuple[World, RunReport]:
    """Reproduce a fuzzed run exactly from its replay token."""
    factory = load_writer(writer)
    recorder = RecordingChoices(SequenceChoices(decode_token(token)))
    scenario = draw_scenario(recorder, misbehaviour=misbehaviour)
    world, settled = run_world(scenario, recorder, factory)
    recorder.check_consumed()  # choices left over: the token is another run's
    return world, judge(world, settled, -1, -1, token)


# -- campaigns -------------------------------------------------------------------------------


#: A campaign keeps this many failing reports in full (the lowest-numbered); it counts the rest.
MAX_KEPT_FAILURES = 100
#: Runs per chunk handed to a worker: small, so the work stays balanced across workers.
CHUNK_RUNS = 10


@attrs.frozen
class CampaignSummary:
    """A campaign's totals: the same whatever the number of jobs.

    ``failures`` holds the :data:`MAX_KEPT_FAILURES` lowest-numbered failing runs; ``failed``
    counts them all. ``interrupted`` is True for the partial totals of a campaign stopped by
    Ctrl-C (``runs`` then counts the runs that finished).
    """

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
    failed: int
    crashed: int
    mismatches: int
    interrupted: bool = False

    @property
    def violations(self) -> int:
        """Runs that found a bug."""
        return self.failed

    @property
    def never_hit(self) -> list[str]:
        """Probes no run reached."""
        return [name for name, n in self.probes if n == 0]

    @property
    def kinds_never_fired(self) -> list[str]:
        """Fault kinds no run fired."""
        fired = {k for k, _ in self.fault_times}
        return [k for k in KINDS if k not in fired]


class CampaignTotals:
    """Adds run reports up as they come, in any order, in memory that does not grow with the
    number of runs: counters, and the lowest-numbered failing reports."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.runs = self.caught = self.planted = self.double_checked = 0
        self.failed = self.crashed = self.mismatches = 0
        self.fault_runs: Counter[str] = Counter()
        self.fault_times: Counter[str] = Counter()
        self.outcomes: Counter[str] = Counter()
        self.restores: Counter[str] = Counter()
        self.probes: Counter[str] = Counter()
        self.failures: list[RunReport] = []

    def add(self, report: RunReport) -> None:
        """Count one run."""
        self.runs += 1
        for kind, n in report.faults:
            self.fault_runs[kind] += 1
            self.fault_times[kind] += n
        self.planted += len(report.planted)
        self.outcomes.update(report.outcomes)
        self.restores.update(report.restores)
        for name, n in report.probes:
            self.probes[name] += n
        self.caught += len(report.caught)
        self.double_checked += report.seed % DOUBLE_CHECK_EVERY == 0
        self.mismatches += report.determinism_mismatch
        if report.failed:
            self.failed += 1
            self.crashed += is_crash(report)
            bisect.insort(self.failures, report, key=lambda r: r.index)
            del self.failures[MAX_KEPT_FAILURES:]

    def summary(self, *, interrupted: bool = False) -> CampaignSummary:
        """The totals so far."""
        known = [p.name for p in PROBES if p.name in self.probes]
        probe_order = known + sorted(set(self.probes) - set(known))
        return CampaignSummary(
            seed=self.seed,
            runs=self.runs,
            fault_runs=_in_kind_order(self.fault_runs),
            fault_times=_in_kind_order(self.fault_times),
            outcomes=tuple(sorted(self.outcomes.items())),
            probes=tuple((name, self.probes[name]) for name in probe_order),
            restores=tuple(sorted(self.restores.items())),
            caught=self.caught,
            planted=self.planted,
            double_checked=self.double_checked,
            failures=tuple(self.failures),
            failed=self.failed,
            crashed=self.crashed,
            mismatches=self.mismatches,
            interrupted=interrupted,
        )


def _in_kind_order(counts: Counter[str]) -> tuple[tuple[str, int], ...]:
    known = [k for k in KINDS if k in counts]
    return tuple((k, counts[k]) for k in known + sorted(set(counts) - set(known)))


def summarize(seed: int, reports: Iterable[RunReport]) -> CampaignSummary:
    """Add up run reports (in any order) into a campaign summary."""
    totals = CampaignTotals(seed)
    for report in reports:
        totals.add(report)
    return totals.summary()


def _chunk(args: tuple[int, int, int, str | None, bool]) -> list[RunReport]:
    """The reports of runs ``start`` to ``stop`` (never raises: crashes are reports)."""
    seed, start, stop, writer, misbehaviour = args
    return [fuzz_one(seed, i, writer=writer, misbehaviour=misbehaviour) for i in range(start, stop)]


def _chunks(runs: int) -> Iterator[tuple[int, int]]:
    """The chunks of a campaign, produced as they are needed (``runs`` may be huge)."""
    return ((start, min(start + CHUNK_RUNS, runs)) for start in range(0, runs, CHUNK_RUNS))


def campaign(
    seed: int,
    runs: int,
    *,
    jobs: int = 1,
    writer: str | None = None,
    misbehaviour: bool = True,
    progress: Callable[[int, int, int], None] | None = None,
    in_process: bool = False,
) -> CampaignSummary:
    """Run ``runs`` fuzzed runs of campaign ``seed`` over ``jobs`` processes and sum them up.

    ``progress(done, runs, failures)`` is called as runs finish. Nothing a run does ends the
    campaign: a run that raises is a ``crash:`` failure, a run that kills its worker process
    is run again alone in a fresh one and, if it kills that too, reported as a failure (the
    campaign goes on with a new worker). Ctrl-C (:class:`KeyboardInterrupt`, also from
    ``progress``) stops the campaign: the summary of the runs finished so far comes back with
    ``interrupted`` set. ``in_process=True`` (with ``jobs=1``) runs in this process instead,
    for a debugger or profiler; a run that kills its process then kills the campaign.
    """
    if runs < 1 or jobs < 1:
        raise ConfigurationError("runs and jobs must be at least 1")
    if in_process and jobs != 1:
        raise ConfigurationError("in_process runs one job: drop jobs or in_process")
    load_writer(writer)  # fail early on a bad --writer
    totals = CampaignTotals(seed)

    def collect(report: RunReport) -> None:
        totals.add(report)
        if progress is not None:
            progress(totals.runs, runs, totals.failed)

    def died(index: int, reason: str) -> RunReport:
        return worker_died_report(index, run_seed(seed, index), reason)

    job = functools.partial(fuzz_one, seed, writer=writer, misbehaviour=misbehaviour)
    try:
        if in_process:
            for start, stop in _chunks(runs):
                for index in range(start, stop):
                    collect(job(index))
        else:
            Pool(job, jobs, collect, died).run(_chunks(runs))
    except KeyboardInterrupt:
        return totals.summary(interrupted=True)
    return totals.summary()


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
    path: Path,
    report: RunReport,
    *,
    writer: str | None = None,
    misbehaviour: bool = True,
    shrink_it: bool = True,
) -> Scenario:
    """Write a failing run down as JSON: its token, seed, violations and a shrunk scenario.

    A run that crashed is written unshrunk (shrinking would run it again, here), and so is
    one whose shrinking itself raised, or with ``shrink_it=False``.
    """
    recorder = RecordingChoices(SeededChoices(report.seed))
    scenario = draw_scenario(recorder, misbehaviour=misbehaviour)
    small, shrunk = scenario, None
    if shrink_it and not is_crash(report):
        try:
            small, shrunk = shrink(scenario, report.seed, writer)
        except Exception:  # a crash while shrinking: keep the drawn scenario
            small, shrunk = scenario, None
    data = {
        "token": report.token,
        "seed": report.seed,
        "writer": writer,
        "violations": list(report.violations),
        "shrunk_violations": list(shrunk.violations) if shrunk else [],
        "scenario": scenario_to_dict(small),
    }
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return small


#: A failure file larger than this is refused unread (they are a few KiB).
MAX_FAILURE_FILE_BYTES = 16 * 1024 * 1024


def _read_failure_file(path: Path) -> tuple[int, Scenario, str | None]:
    """The seed, scenario and writer of a failure file; one clear error for anything else."""
    raw = read_bounded(path, MAX_FAILURE_FILE_BYTES, "failure file", ConfigurationError)
    try:
        data = json.loads(raw.decode("utf-8"))
        if not isinstance(data, dict):
            raise TypeError(f"a JSON {type(data).__name__}, not an object")
        seed, writer = data["seed"], data.get("writer")
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise TypeError(f"'seed' is {seed!r}, not a whole number >= 0")
        if writer is not None and not isinstance(writer, str):
            raise TypeError(f"'writer' is {writer!r}, not a module:Class string")
        if not isinstance(data["scenario"], dict):
            raise TypeError("'scenario' is not an object")
        scenario = scenario_from_dict(data["scenario"])
    except KeyError as exc:
        raise ConfigurationError(f"{path}: not a vsssim failure file (no key {exc})") from None
    except (ValueError, TypeError, AttributeError, RecursionError, MemoryError) as exc:
        raise ConfigurationError(f"{path}: not a vsssim failure file ({exc})") from None
    except VssimError as exc:
        raise ConfigurationError(f"{path}: not a vsssim failure file ({exc})") from None
    return seed, scenario, writer


def run_failure_file(path: Path, *, writer: str | None = None) -> tuple[World, RunReport]:
    """Run the shrunk scenario of a failure file (written by :func:`write_failure`) again.

    A file that names a writer class is replayed only with ``writer`` given: importing code
    a file names needs the user's say-so, so the file's own ``writer`` key never imports.
    """
    seed, scenario, named = _read_failure_file(path)
    if named is not None and writer is None:
        raise ConfigurationError(
            f"{path} was written fuzzing the writer {named!r}; replaying it runs that code, "
            f"so say so: add --writer {named}"
        )
    factory = load_writer(writer)
    problem = totals_problem(scenario)
    if problem is not None:
        raise ConfigurationError(f"{path}: scenario.{problem[0]}: {problem[1]}")
    try:
        scenario.build(choices=SeededChoices(seed), writer_factory=factory)
    except (VssimError, ValueError, TypeError, KeyError) as exc:
        error, _ = describe(exc)
        raise ConfigurationError(f"{path}: the scenario does not build: {error}") from None
    world, settled = run_world(scenario, SeededChoices(seed), factory)
    return world, judge(world, settled, -1, seed, "")
