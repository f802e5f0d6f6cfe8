"""One fuzzed run: drawn from its seed, run faulty then healed, judged (:func:`fuzz_one`),
replayed from its token (:func:`replay`); a run that raises or hangs is a report too."""

from __future__ import annotations

import contextlib
import hashlib
import shlex
import signal
import threading
from collections.abc import Callable, Iterator, Sequence

import attrs

from vsssim.errors import ConfigurationError, ReplayError, describe
from vsssim.faults import KINDS, FaultPlan
from vsssim.host.replay_origins import FUZZ, kind_of
from vsssim.host.scenario import Scenario, WriterFactory
from vsssim.host.world import World
from vsssim.sim import vocabulary as V
from vsssim.sim.choices import ChoiceSource, RecordingChoices, SeededChoices, SequenceChoices
from vsssim.sim.kernel import SECOND
from vsssim.sim.tokens import CHOICES, Json, ReplayToken, read_token
from vsssim.testing.draw import draw_scenario
from vsssim.testing.fuzz.writer_loading import load_writer
from vsssim.testing.invariants import check_all
from vsssim.testing.probes import probe_counts

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
    #: The run's :meth:`Trace.digest <vsssim.sim.trace.Trace.digest>` (a replay's must match).
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
    The trace batches the applications' writes (:attr:`Trace.batch_writes
    <vsssim.sim.trace.Trace.batch_writes>`): the checks see the same run in fewer records.
    """
    world = scenario.build(choices=choices, writer_factory=writer_factory)
    world.sim.event_budget = RUN_EVENT_BUDGET
    world.sim.trace.batch_writes = True
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
        trace_hash=world.sim.trace.digest(),
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
    token = fuzz_token(campaign_seed, index, writer=writer, misbehaviour=misbehaviour)
    try:
        factory = load_writer(writer)
        with wall_clock_limit(wall_limit_s):
            scenario = draw_scenario(recorder, misbehaviour=misbehaviour)
            world, settled = run_world(scenario, recorder, factory)
        report = judge(world, settled, index, seed, token)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # any crash of a run is the run's finding
        return crash_report(index, seed, token, exc)
    if seed % DOUBLE_CHECK_EVERY == 0:
        again = RecordingChoices(SeededChoices(seed))
        try:
            with wall_clock_limit(wall_limit_s):
                scenario = draw_scenario(again, misbehaviour=misbehaviour)
                second, _ = run_world(scenario, again, factory)
            digest = second.sim.trace.digest()
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


def fuzz_token(
    campaign_seed: int, index: int, *, writer: str | None = None, misbehaviour: bool = True
) -> str:
    """The replay token of run ``index`` of a campaign: its header alone, since the run is a
    function of its seed (the same token replays a run that crashed to its crash)."""
    fields: dict[str, Json] = {
        "campaign": campaign_seed,
        "index": index,
        "writer": writer,
        "misbehaviour": misbehaviour,
    }
    return ReplayToken(FUZZ, fields).encode()


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


def lost_run_report(index: int, seed: int, why: str, token: str = "") -> RunReport:
    """The report of a run whose own report never came back (``why``): a ``crash:`` failure;
    ``token`` (its seed decides the run) replays it here."""
    return RunReport(
        index=index,
        seed=seed,
        token=token,
        outcomes=(),
        faults=(),
        probes=(),
        violations=(f"{CRASH}: {why}",),
    )


def worker_died_report(index: int, seed: int, reason: str, token: str = "") -> RunReport:
    """The report of a run whose worker process died under it, twice (the second time alone);
    ``token`` replays it (to the death of the replaying process)."""
    return lost_run_report(
        index, seed, f"worker died running it ({reason}), also when run alone", token
    )


def is_crash(report: RunReport) -> bool:
    """True for the report of a run that raised or killed its worker."""
    return any(v.startswith(f"{CRASH}: ") for v in report.violations)


def replay(
    token: str, *, writer: str | None = None, misbehaviour: bool | None = None
) -> tuple[World, RunReport]:
    """Reproduce a fuzzed run exactly from its replay token.

    A token that names a writer class replays only with ``writer`` given (the class, maybe
    at another path): importing code a token names needs the user's say-so. ``misbehaviour``,
    if given, must be what the token says. A token of choices alone (kind ``choices``) is
    replayed with ``misbehaviour`` (default True)."""
    read = read_token(token)
    index, seed, planted = -1, -1, True if misbehaviour is None else misbehaviour
    if read.kind == FUZZ:
        named = read.optional_text("writer")
        if named is not None and writer is None:
            raise ConfigurationError(
                f"the token's run fuzzed the writer {named!r}; replaying it runs that code, "
                f"so say so: add --writer {shlex.quote(named)}"
            )
        planted = read.flag("misbehaviour")
        if misbehaviour is not None and misbehaviour != planted:
            said = "with" if planted else "without"
            raise ReplayError(f"the token's run was fuzzed {said} planted writer bugs")
        index = read.number("index")
        seed = run_seed(read.number("campaign"), index)
    elif read.kind != CHOICES:
        raise ReplayError(
            f"the token replays {kind_of(read)}, not a fuzzed one: replay it with vsssim "
            "replay TOKEN"
        )
    factory = load_writer(writer)
    if read.choices is None:
        source: ChoiceSource = SeededChoices(seed)
    else:
        source = SequenceChoices(read.choices)
    recorder = RecordingChoices(source)
    scenario = draw_scenario(recorder, misbehaviour=planted)
    world, settled = run_world(scenario, recorder, factory)
    recorder.check_consumed()  # choices left over: the token is another run's
    return world, judge(world, settled, index, seed, token)
