"""The one door faults come in by: a narrow protocol the model asks at each place a fault can
happen, answered with plain data.

The model (coordinator, providers, writers, agents) knows nothing of fault plans: at each *site*
(a writer's event, a provider's call, an agent's step, the flush) it asks its :class:`FaultHooks`
a question and acts on the answer itself: "fail this call with this HRESULT", "take this much
longer", "reply to this event late by N µs" (:class:`WriterFault`). With :data:`NO_FAULTS`, the
default, every answer is "nothing goes wrong" and asks no choice, so the model never tests
whether faults are installed. :class:`~vsssim.faults.FaultPlan` answers from the run's choices;
a user may install any object with these methods (``Coordinator.install_faults``), for example
to plant one writer bug at one event.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Protocol

import attrs

from vsssim.errors import ConfigurationError, HResult

if TYPE_CHECKING:
    from vsssim.sim.kernel import Event, Simulation

__all__ = ["NO_FAULTS", "WRITER_BUGS", "FaultHooks", "NoFaults", "WriterEffect", "WriterFault"]


class WriterEffect(enum.Enum):
    """How a writer misbehaves at one event (the writer base acts it out)."""

    #: The handler takes its time, then fails with :attr:`WriterFault.hresult`.
    FAIL = "fail"
    #: The handler takes its time, then returns false without a failure code.
    VETO = "veto"
    #: The handler runs, then sets :attr:`WriterFault.hresult` (SetWriterFailure) and returns
    #: true: a nonfatal failure, the operation goes on.
    FAIL_NONFATAL = "fail nonfatal"
    #: The handler runs, then its reply waits :attr:`WriterFault.delay_us` more.
    SLOW = "slow"
    #: The handler starts only :attr:`WriterFault.delay_us` later (a late reply).
    LATE = "late"
    #: The handler starts only once the faults are healed (:meth:`FaultHooks.until_healed`).
    HANG = "hang"
    #: The handler starts :attr:`WriterFault.delay_us` later, within the limits.
    DELAY = "delay"
    #: A bug: after a good OnFreeze reply the writer writes to its first file while frozen.
    WRITE_WHILE_FROZEN = "write while frozen"
    #: A bug: OnFreeze starts :attr:`WriterFault.delay_us` late, freezes the application and
    #: never undoes the late freeze (the Hyper-V daemon bug).
    KEEP_LATE_FREEZE = "keep late freeze"


#: The effects that are writer bugs (an invariant must catch them once they take effect).
WRITER_BUGS = frozenset({WriterEffect.WRITE_WHILE_FROZEN, WriterEffect.KEEP_LATE_FREEZE})


@attrs.frozen
class WriterFault:
    """The answer to "does this writer misbehave at this event?": what it does, and the data
    the effect needs. ``kind``, ``site``, ``phase`` and ``seq`` are the hooks' own bookkeeping,
    handed back to them in :meth:`FaultHooks.bug_effective`; the model does not read them."""

    effect: WriterEffect
    hresult: HResult | None = None
    delay_us: int = 0
    kind: str = ""
    site: str = ""
    phase: int | None = None
    #: The trace record that shows the fault, if the hooks made one already.
    seq: int | None = None

    def __attrs_post_init__(self) -> None:
        if self.effect is WriterEffect.FAIL and self.hresult is None:
            raise ConfigurationError("a failing writer fault needs the HRESULT it fails with")
        if self.delay_us < 0:
            raise ConfigurationError("a writer fault's delay cannot be negative")


class FaultHooks(Protocol):
    """The questions the model asks at each site where a fault can happen.

    Each answer is plain data (an HRESULT or None, a time in µs, a flag, a
    :class:`WriterFault` or None); the model interprets it. Limits an answer depends on are
    passed with the question.
    """

    def attach(self, sim: Simulation) -> None:
        """Take the simulation whose run the answers are for (done by ``install_faults``)."""

    def heal(self) -> None:
        """Stop every fault: from now on nothing goes wrong, and hung writers answer."""

    def until_healed(self, sim: Simulation) -> Event:
        """An event that triggers once the faults are healed (a hung writer answers then)."""

    def writer_fault(
        self, writer: str, event: str, phase: int | None, reply_limit_us: int
    ) -> WriterFault | None:
        """How ``writer`` misbehaves at ``event`` (None: it does not); VSS waits
        ``reply_limit_us`` for its reply."""

    def bug_effective(self, fault: WriterFault, **details: object) -> None:
        """A writer bug ``fault`` (see :data:`WRITER_BUGS`) takes effect now; ``details`` say
        how (the volume and block written while frozen)."""

    def provider_error(self, provider: str, call: str, phase: int | None) -> HResult | None:
        """The error ``provider`` fails ``call`` with (None: the call goes on)."""

    def refuses_volume(self, provider: str, volume: str) -> bool:
        """Whether ``provider`` refuses the volume labelled ``volume`` at AddToSnapshotSet."""

    def commit_delay(self, provider: str, hold_limit_us: int) -> int:
        """Extra time ``provider``'s CommitSnapshots takes; writes are held ``hold_limit_us``."""

    def flush_time(self, drawn_us: int, limit_us: int) -> int:
        """How long the flush takes: ``drawn_us``, or longer; its limit is ``limit_us``."""

    def pair_suspends(self, array: str, pair: str, phase: int | None) -> bool:
        """Whether the disk array ``array`` suspends ``pair`` now (while it synchronises)."""

    def agent_dies(self, agent: str, step: str) -> bool:
        """Whether ``agent``'s process ends just before ``step``."""


class NoFaults:
    """Hooks under which nothing goes wrong (and no choice is asked). Subclass it to answer
    only some questions differently."""

    def attach(self, sim: Simulation) -> None:
        """Nothing to take."""

    def heal(self) -> None:
        """Nothing to heal."""

    def until_healed(self, sim: Simulation) -> Event:
        """Healed already: an event that triggers at once."""
        return sim.timeout(0)

    def writer_fault(
        self, writer: str, event: str, phase: int | None, reply_limit_us: int
    ) -> WriterFault | None:
        """No writer misbehaves."""
        return None

    def bug_effective(self, fault: WriterFault, **details: object) -> None:
        """Nothing is recorded."""

    def provider_error(self, provider: str, call: str, phase: int | None) -> HResult | None:
        """No provider call fails."""
        return None

    def refuses_volume(self, provider: str, volume: str) -> bool:
        """No volume is refused."""
        return False

    def commit_delay(self, provider: str, hold_limit_us: int) -> int:
        """No commit takes longer."""
        return 0

    def flush_time(self, drawn_us: int, limit_us: int) -> int:
        """The flush takes the time drawn."""
        return drawn_us

    def pair_suspends(self, array: str, pair: str, phase: int | None) -> bool:
        """No pair is suspended."""
        return False

    def agent_dies(self, agent: str, step: str) -> bool:
        """No agent dies."""
        return False


#: The default hooks: nothing goes wrong.
NO_FAULTS: FaultHooks = NoFaults()
