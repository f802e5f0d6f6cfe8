"""Fault injection: what can go wrong in a VSS backup or restore, each fault fired through the
choice source.

The catalogue (:data:`FAULT_KINDS`) names every kind of fault: writers that fail with each
writer error, veto, answer too late or never (in a backup, and at OnPreRestore and
OnPostRestore of a restore), or misbehave; providers that veto, refuse a volume, run out of
storage or fail to commit; agents that die between two steps; and timing faults (late and
shuffled replies, a commit or flush that overruns its limit).

A *site* is a place a fault can happen, named stably: ``SqlServerWriter.OnFreeze``,
``SqlServerWriter.OnPreRestore``, ``Microsoft Software Shadow Copy provider 1.0.CommitSnapshots``,
``agent-1.PrepareForBackup``, ``VSS.flush``. A :class:`FaultPlan` decides, the first time a
kind reaches a site, whether that ``kind@site`` is *active* in this run and with which
probability it then *fires* each time it is reached. Every decision is a choice
(``fault-active/…``, ``fault-rate/…``, ``fault/…``), so a seed or a replay token reproduces the
faults exactly, and a plan with no kinds asks nothing. A plan answers the model's questions
through :class:`~vsssim.vss.hooks.FaultHooks` (it knows nothing of the model beyond them).

Misbehaviour faults (a writer that writes while frozen, one that keeps a late freeze) are bugs
a checker must catch; :attr:`FaultKind.caught_by` names the invariant. They are off unless a
plan asks for them. Each is a writer behaviour the writer base acts out (a
:class:`~vsssim.vss.hooks.WriterFault`), and a fired one is marked :attr:`FiredFault.effective`
only when its bad effect really took place (a late freeze that landed while another session
held the application froze nothing): only an effective bug must be caught.
"""

from __future__ import annotations

import enum
import fnmatch
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

import attrs

from vsssim.errors import ConfigurationError, HResult
from vsssim.sim import vocabulary as V
from vsssim.sim.kernel import SECOND, Event
from vsssim.sim.keyed import KeyedDict
from vsssim.vss.hooks import WriterEffect, WriterFault
from vsssim.vss.states import BACKUP_EVENTS, RESTORE_EVENTS

if TYPE_CHECKING:
    from vsssim.sim.choices import ChoiceSource
    from vsssim.sim.kernel import Simulation

#: The actor of fault records in the trace.
FAULT = V.FAULT


class Effect(enum.Enum):
    """What a fault does when it fires."""

    FAIL = "the handler fails with a writer error (SetWriterFailure, return false)"
    VETO = "the handler returns false without SetWriterFailure"
    FAIL_NONFATAL = "the handler does its work, then SetWriterFailure and returns true"
    SLOW = "the handler answers after the coordinator stopped waiting"
    LATE = "the handler starts (and freezes) only after the coordinator stopped waiting"
    HANG = "the handler does not answer until the faults are healed"
    DELAY = "the answer is delayed, within the limits"
    WRITE_WHILE_FROZEN = "the writer writes to its files while it reports itself frozen"
    KEEP_LATE_FREEZE = "a late OnFreeze freezes the application and nothing thaws it"
    PROVIDER_ERROR = "the provider call fails"
    REFUSE_VOLUME = "the provider says it does not support the volume"
    SLOW_COMMIT = "CommitSnapshots takes longer than writes may be held"
    SLOW_FLUSH = "the file system flush takes longer than its limit"
    AGENT_DIES = "the agent's process ends without another call"
    PAIR_SUSPEND = "the disk array suspends a pair (PSUE)"


#: The agent steps an agent can die before (the names of its calls, plus the copy).
AGENT_STEPS: tuple[str, ...] = (
    "InitializeForBackup",
    "SetBackupState",
    "GatherWriterMetadata",
    "AddComponent",
    "PrepareForBackup",
    "SetContext",
    "StartSnapshotSet",
    "AddToSnapshotSet",
    "DoSnapshotSet",
    "DoSnapshotSet wait",
    "GetSnapshotProperties",
    "GatherWriterStatus",
    "copy",
    "SetBackupSucceeded",
    "BackupComplete",
    "DeleteSnapshots",
    "AbortBackup",
    "Release",
)
_PREPARE_CALLS = ("BeginPrepareSnapshot", "EndPrepareSnapshots", "PreCommitSnapshots")
#: The writer events a writer fault (failure, veto, slow, hung, late or delayed reply) can fire
#: at: every event of a backup but OnAbort (which cannot fail), and OnPreRestore and
#: OnPostRestore of a restore (``VSS_WS_FAILED_AT_PRE_RESTORE``, ``..._POST_RESTORE``).
WRITER_FAULT_EVENTS: tuple[str, ...] = (*BACKUP_EVENTS, *RESTORE_EVENTS)


@attrs.frozen
class FaultKind:
    """One kind of fault: its stable name, what it targets and does, and where it can fire."""

    name: str
    target: str
    effect: Effect
    summary: str
    where: tuple[str, ...]
    hresult: HResult | None = None
    caught_by: str | None = None
    #: Invariants the bug's effect breaks too, for the writer it struck (a late freeze kept for
    #: good also leaves the application frozen at the end: quiescence).
    also_breaks: tuple[str, ...] = ()

    @property
    def misbehaviour(self) -> bool:
        """True for a bug an invariant must catch (not a fault VSS must survive)."""
        return self.caught_by is not None


def _writer_errors() -> list[FaultKind]:
    errors = (
        ("writer-retryable", HResult.VSS_E_WRITERERROR_RETRYABLE, "a transient error"),
        ("writer-nonretryable", HResult.VSS_E_WRITERERROR_NONRETRYABLE, "a permanent error"),
        (
            "writer-inconsistent-snapshot",
            HResult.VSS_E_WRITERERROR_INCONSISTENTSNAPSHOT,
            "the shadow copies miss volumes the writer needs",
        ),
        (
            "writer-out-of-resources",
            HResult.VSS_E_WRITERERROR_OUTOFRESOURCES,
            "out of memory or other resources",
        ),
        ("writer-timeout", HResult.VSS_E_WRITERERROR_TIMEOUT, "its own timeout passed"),
    )
    fatal = [
        FaultKind(
            name, "writer", Effect.FAIL, f"the writer fails: {summary}", WRITER_FAULT_EVENTS, hr
        )
        for name, hr, summary in errors
    ]
    # SetWriterFailure cannot be called from OnIdentify (CVssWriter::SetWriterFailure page).
    vetoes = [
        FaultKind(
            f"writer-vetoes-{code}",
            "writer",
            Effect.FAIL_NONFATAL,
            f"the writer vetoes (SetWriterFailure, return true): {summary}",
            tuple(e for e in WRITER_FAULT_EVENTS if e != V.ON_IDENTIFY),
            hr,
        )
        for code, hr, summary in (
            ("retryable", HResult.VSS_E_WRITERERROR_RETRYABLE, "a transient error"),
            ("nonretryable", HResult.VSS_E_WRITERERROR_NONRETRYABLE, "a permanent error"),
        )
    ]
    return fatal + vetoes


#: Every fault kind, in the order reports list them.
FAULT_KINDS: tuple[FaultKind, ...] = (
    *_writer_errors(),
    FaultKind(
        "writer-veto",
        "writer",
        Effect.VETO,
        "the writer vetoes the event without a failure code",
        WRITER_FAULT_EVENTS,
    ),
    FaultKind(
        "writer-slow",
        "writer",
        Effect.SLOW,
        "the writer takes longer than VSS waits for a reply",
        WRITER_FAULT_EVENTS,
        HResult.VSS_E_WRITER_NOT_RESPONDING,
    ),
    FaultKind(
        "writer-hang",
        "writer",
        Effect.HANG,
        "the writer stops answering until healed",
        WRITER_FAULT_EVENTS,
        HResult.VSS_E_WRITER_NOT_RESPONDING,
    ),
    FaultKind(
        "writer-writes-while-frozen",
        "writer",
        Effect.WRITE_WHILE_FROZEN,
        "the writer reports itself frozen and writes to its files",
        ("OnFreeze",),
        caught_by="application consistency",
    ),
    FaultKind(
        "writer-keeps-late-freeze",
        "writer",
        Effect.KEEP_LATE_FREEZE,
        "a late OnFreeze freezes the application and never thaws it",
        ("OnFreeze",),
        caught_by="application thawed",
        also_breaks=("quiescence",),
    ),
    FaultKind(
        "provider-veto",
        "provider",
        Effect.PROVIDER_ERROR,
        "the provider vetoes the shadow copy",
        _PREPARE_CALLS,
        HResult.VSS_E_PROVIDER_VETO,
    ),
    FaultKind(
        "provider-volume-not-supported",
        "provider",
        Effect.REFUSE_VOLUME,
        "the provider does not support the volume",
        ("AddToSnapshotSet",),
        HResult.VSS_E_VOLUME_NOT_SUPPORTED,
    ),
    FaultKind(
        "provider-insufficient-storage",
        "provider",
        Effect.PROVIDER_ERROR,
        "no room for the diff area or in the pool",
        ("BeginPrepareSnapshot", "EndPrepareSnapshots"),
        HResult.VSS_E_INSUFFICIENT_STORAGE,
    ),
    FaultKind(
        "provider-commit-failure",
        "provider",
        Effect.PROVIDER_ERROR,
        "CommitSnapshots fails",
        ("CommitSnapshots",),
        HResult.VSS_E_UNEXPECTED_PROVIDER_ERROR,
    ),
    FaultKind(
        "provider-unexpected-error",
        "provider",
        Effect.PROVIDER_ERROR,
        "a provider call fails with an unexpected error",
        (*_PREPARE_CALLS, "PostCommitSnapshots"),
        HResult.VSS_E_UNEXPECTED_PROVIDER_ERROR,
    ),
    FaultKind(
        "array-pair-suspended",
        "array",
        Effect.PAIR_SUSPEND,
        "a link or disk failure suspends a mirror pair while the provider waits for its sync",
        ("sync",),
        HResult.VSS_E_PROVIDER_VETO,
    ),
    FaultKind(
        "agent-dies",
        "agent",
        Effect.AGENT_DIES,
        "the agent dies; VSS cleans up when COM runs the session down",
        AGENT_STEPS,
    ),
    FaultKind(
        "writer-late-reply",
        "timing",
        Effect.LATE,
        "the writer answers just after VSS gave up on it",
        WRITER_FAULT_EVENTS,
        HResult.VSS_E_WRITER_NOT_RESPONDING,
    ),
    FaultKind(
        "writer-delayed-reply",
        "timing",
        Effect.DELAY,
        "the writer's answer is delayed (replies come back shuffled)",
        WRITER_FAULT_EVENTS,
    ),
    FaultKind(
        "provider-slow-commit",
        "timing",
        Effect.SLOW_COMMIT,
        "CommitSnapshots outlasts the 10 s hold",
        ("CommitSnapshots",),
        HResult.VSS_E_HOLD_WRITES_TIMEOUT,
    ),
    FaultKind(
        "flush-timeout",
        "timing",
        Effect.SLOW_FLUSH,
        "the file system flush outlasts its limit",
        ("flush",),
        HResult.VSS_E_FLUSH_WRITES_TIMEOUT,
    ),
)

#: The kinds by name.
KINDS: Mapping[str, FaultKind] = {kind.name: kind for kind in FAULT_KINDS}
#: The kinds a default plan uses: every fault VSS must survive (no misbehaviour).
SURVIVABLE: tuple[str, ...] = tuple(k.name for k in FAULT_KINDS if not k.misbehaviour)
#: The misbehaviour kinds: bugs an invariant must catch.
MISBEHAVIOURS: tuple[str, ...] = tuple(k.name for k in FAULT_KINDS if k.misbehaviour)

#: How long a delayed reply may wait (within every documented limit).
DELAYED_REPLY_US = (1, 5 * SECOND)
#: How much later than VSS's limit a slow writer answers.
SLOW_REPLY_EXTRA_US = (1 * SECOND, 120 * SECOND)


@attrs.frozen
class FiredFault:
    """A fault that fired: its kind, site and the trace record that shows it.

    ``effective`` is set for a misbehaviour whose bad effect really took place (only those
    must be caught); it stays False for every other fault.
    """

    kind: str
    site: str
    seq: int
    effective: bool = False

    @property
    def writer(self) -> str:
        """The name of the writer (or provider, agent...) the fault struck: the site's owner."""
        return self.site.rpartition(".")[0]


@attrs.define(eq=False)
class FaultPlan:
    """Which faults may fire in a run, and how often; it records what fired.

    ``kinds`` are the enabled kind names; ``sites`` (shell patterns such as ``"*.OnFreeze"``)
    restrict where they fire. The first time an enabled kind reaches a site, the site is active
    with ``activation_percent`` % probability and then fires with a rate drawn from
    ``fire_percents``; ``limit`` caps how often one ``kind@site`` fires in a run, ``per_run``
    how many faults fire in a run in all (once it is reached, no site draws again).
    """

    kinds: tuple[str, ...] = SURVIVABLE
    activation_percent: int = 30
    fire_percents: tuple[int, ...] = (10, 30, 100)
    sites: tuple[str, ...] = ()
    limit: int | None = None
    per_run: int | None = None
    fired: list[FiredFault] = attrs.field(factory=list, init=False)
    healed: bool = attrs.field(default=False, init=False)
    _sim: Simulation | None = attrs.field(default=None, init=False, repr=False)
    _heal: Event | None = attrs.field(default=None, init=False, repr=False)
    #: Per ``kind@site`` (keyed: steps at different sites touch different entries, so the
    #: explorer's reduction sees that they commute).
    _rates: KeyedDict[str, int | None] = attrs.field(factory=KeyedDict, init=False, repr=False)
    _counts: KeyedDict[str, int] = attrs.field(factory=KeyedDict, init=False, repr=False)
    _total: int = attrs.field(default=0, init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        unknown = [k for k in self.kinds if k not in KINDS]
        if unknown:
            raise ConfigurationError(
                f"unknown fault kinds {unknown}; known kinds: {', '.join(KINDS)}"
            )
        if not 0 <= self.activation_percent <= 100 or not all(
            0 <= p <= 100 for p in self.fire_percents
        ):
            raise ConfigurationError("fault percentages must be between 0 and 100")
        if not self.fire_percents:
            raise ConfigurationError("fire_percents needs at least one rate")
        if self.per_run is not None and self.per_run < 0:
            raise ConfigurationError(f"per_run must be 0 or more faults, not {self.per_run}")

    @classmethod
    def forced(cls, kind: str, site: str = "*", *, times: int | None = None) -> FaultPlan:
        """A plan where ``kind`` fires every time it reaches a site matching ``site``.

        ``times`` caps the firings per site (``times=1``: fail once, then behave).
        """
        return cls((kind,), 100, (100,), (site,), times)

    @classmethod
    def swarm(cls, choices: ChoiceSource, *, misbehaviour: bool = False) -> FaultPlan:
        """A plan drawn from a choice source: a random mix of kinds and rates ("swarm" testing).

        Each kind is enabled or not, so runs differ in *which* faults they combine, not only
        in where; with ``misbehaviour`` the bug kinds can be drawn too.
        """
        pool = [k for k in FAULT_KINDS if misbehaviour or not k.misbehaviour]
        kinds = tuple(k.name for k in pool if choices.chance(f"swarm/kind/{k.name}", 25))
        activation = (10, 25, 50)[choices.choose("swarm/activation", 3)]
        return cls(kinds, activation)

    # -- lifecycle -----------------------------------------------------------------------
    def attach(self, sim: Simulation) -> None:
        """Take the simulation whose run the plan injects faults into (its choices and trace)."""
        self._sim = sim
        self._heal = sim.event()

    def heal(self) -> None:
        """Stop every fault: nothing fires any more and hung writers answer (late)."""
        self.healed = True
        if self._heal is not None and not self._heal.triggered:
            self._heal.succeed()

    def counts(self) -> dict[str, int]:
        """How many times each kind fired, in catalogue order (kinds that never fired left out)."""
        tally = {k.name: 0 for k in FAULT_KINDS}
        for fault in self.fired:
            tally[fault.kind] += 1
        return {k: n for k, n in tally.items() if n}

    @property
    def planted(self) -> list[FiredFault]:
        """The misbehaviour faults that fired, whether or not their effect took place."""
        return [f for f in self.fired if KINDS[f.kind].misbehaviour]

    @property
    def misbehaved(self) -> list[FiredFault]:
        """The misbehaviour faults whose bad effect took place (each must be caught by its
        invariant)."""
        return [f for f in self.planted if f.effective]

    def mark_effective(self, fired: FiredFault) -> None:
        """Record that ``fired``'s bad effect really took place."""
        for i, fault in enumerate(self.fired):
            if fault.seq == fired.seq:
                self.fired[i] = attrs.evolve(fault, effective=True)

    # -- the decisions -------------------------------------------------------------------
    def _bound(self) -> Simulation:
        if self._sim is None:
            raise ConfigurationError("the fault plan is not installed in a coordinator")
        return self._sim

    def _candidates(self, target: Iterable[str], where: str) -> list[FaultKind]:
        return [
            KINDS[name]
            for name in self.kinds
            if KINDS[name].target in target and where in KINDS[name].where
        ]

    def _fires(self, kind: FaultKind, site: str) -> bool:
        if self.healed:
            return False
        if self.sites and not any(fnmatch.fnmatchcase(site, p) for p in self.sites):
            return False
        if self.per_run is not None and self._total >= self.per_run:
            return False
        key = f"{kind.name}@{site}"
        if self.limit is not None and self._counts.get(key, 0) >= self.limit:
            return False
        choices = self._bound().choices
        rate = self._rate(key, choices)
        if rate is None or not choices.chance(f"fault/{key}", rate):
            return False
        self._counts[key] = self._counts.get(key, 0) + 1
        self._total += 1
        return True

    def _rate(self, key: str, choices: ChoiceSource) -> int | None:
        """How often a site fires (None: not active), drawn at its first check and kept. When
        there is nothing to draw (every site active, one rate) it is kept nowhere: the same
        answer, and two actors checking one site share no state (so the explorer's reduction
        sees their checks commute)."""
        rates = self.fire_percents
        if self.activation_percent >= 100 and len(rates) == 1:
            return rates[0]
        if key not in self._rates:
            active = choices.chance(f"fault-active/{key}", self.activation_percent)
            self._rates[key] = (
                rates[choices.choose(f"fault-rate/{key}", len(rates))] if active else None
            )
        return self._rates[key]

    def record(
        self, kind: FaultKind, site: str, phase: int | None, **details: object
    ) -> FiredFault:
        """Put a fired fault in the trace and in :attr:`fired`."""
        sim = self._bound()
        record = sim.trace.record(
            phase, FAULT, kind.name, site=site, effect=kind.effect.name, **details
        )
        fired = FiredFault(kind.name, site, record.seq)
        self.fired.append(fired)
        return fired

    # -- the answers (the hooks of :mod:`vsssim.vss.hooks`) ----------------------------------
    def until_healed(self, sim: Simulation) -> Event:
        """The event :meth:`heal` triggers (hung writers wait for it)."""
        if self._heal is None:
            self._heal = sim.event()
        return self._heal

    def writer_fault(
        self, writer: str, event: str, phase: int | None, reply_limit_us: int
    ) -> WriterFault | None:
        """The fault (if any) ``writer`` suffers on ``event``, as data the writer acts out."""
        site = f"{writer}.{event}"
        for kind in self._candidates(("writer", "timing"), event):
            if not self._fires(kind, site):
                continue
            effect = WriterEffect[kind.effect.name]
            nonfatal = WriterEffect.FAIL_NONFATAL
            hresult = kind.hresult if effect in (WriterEffect.FAIL, nonfatal) else None
            delay = self._writer_delay(kind, site, reply_limit_us)
            fault = WriterFault(effect, hresult, delay, kind.name, site, phase)
            if kind.effect is not Effect.WRITE_WHILE_FROZEN:  # recorded when it writes
                fired = self.record(kind, site, phase, delay_us=delay)
                fault = attrs.evolve(fault, seq=fired.seq)
            return fault
        return None

    def _writer_delay(self, kind: FaultKind, site: str, limit: int) -> int:
        choices = self._bound().choices
        if kind.effect in (Effect.SLOW, Effect.KEEP_LATE_FREEZE):
            # A freeze kept by mistake comes after VSS's (and the requester's) aborts.
            return limit + choices.between(f"fault-delay/{site}", *SLOW_REPLY_EXTRA_US)
        if kind.effect is Effect.LATE:
            return limit + 1
        if kind.effect is Effect.DELAY:
            return choices.between(f"fault-delay/{site}", *DELAYED_REPLY_US)
        return 0

    def bug_effective(self, fault: WriterFault, **details: object) -> None:
        """A planted writer bug took effect: mark it (recording it first if it was not yet)."""
        if fault.seq is None:
            fired = self.record(KINDS[fault.kind], fault.site, fault.phase, **details)
        else:
            fired = FiredFault(fault.kind, fault.site, fault.seq)
        self.mark_effective(fired)

    def provider_error(self, provider: str, call: str, phase: int | None) -> HResult | None:
        """The error ``provider`` fails ``call`` with, if a fault fires there."""
        site = f"{provider}.{call}"
        for kind in self._candidates(("provider",), call):
            if kind.effect is Effect.PROVIDER_ERROR and self._fires(kind, site):
                self.record(kind, site, phase, hresult=kind.hresult)
                return kind.hresult
        return None

    def pair_suspends(self, array: str, pair: str, phase: int | None) -> bool:
        """Whether the disk array ``array`` suspends ``pair`` now (while it synchronises)."""
        site = f"{array}.sync"
        for kind in self._candidates(("array",), "sync"):
            if self._fires(kind, site):
                self.record(kind, site, phase, pair=pair)
                return True
        return False

    def refuses_volume(self, provider: str, volume: str) -> bool:
        """Whether ``provider`` refuses the volume labelled ``volume`` at AddToSnapshotSet."""
        site = f"{provider}.AddToSnapshotSet"
        for kind in self._candidates(("provider",), "AddToSnapshotSet"):
            if self._fires(kind, site):
                self.record(kind, site, 4, volume=volume)
                return True
        return False

    def commit_delay(self, provider: str, hold_limit_us: int) -> int:
        """Extra time ``provider``'s CommitSnapshots takes (past the hold limit if it fires)."""
        site = f"{provider}.CommitSnapshots"
        for kind in self._candidates(("timing",), "CommitSnapshots"):
            if self._fires(kind, site):
                delay = hold_limit_us + 1 * SECOND
                self.record(kind, site, 6, delay_us=delay)
                return delay
        return 0

    def flush_time(self, drawn_us: int, limit_us: int) -> int:
        """How long the flush takes: ``drawn_us``, or past its limit if a fault fires."""
        for kind in self._candidates(("timing",), "flush"):
            if self._fires(kind, "VSS.flush"):
                slow = limit_us + 1
                self.record(kind, "VSS.flush", 6, delay_us=slow)
                return slow
        return drawn_us

    def agent_dies(self, agent: str, step: str) -> bool:
        """Whether ``agent`` dies just before ``step``."""
        site = f"{agent}.{step}"
        for kind in self._candidates(("agent",), step):
            if self._fires(kind, site):
                self.record(kind, site, None)
                return True
        return False
