"""What the agent does about a writer whose status shows a failure.

"Writer Errors and Vetoes": a requester checks writer status (GatherWriterStatus) after each
event it generates, a DoSnapshotSet that succeeded included, and decides: accept the veto
(fail the backup), try the backup again, or carry on without that writer. The agent's choice
is :class:`WriterFailurePolicy`; each decision is a trace record
(:data:`~vsssim.sim.vocabulary.WRITER_FAILURE_DECISION`).
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Sequence
from typing import Any

from vsssim.errors import HResult, VssError
from vsssim.sim import vocabulary as V
from vsssim.sim.kernel import Simulation
from vsssim.vss.coordinator.service import WriterStatus


class WriterFailurePolicy(enum.Enum):
    """What the agent does with a writer whose status shows a failure after an event."""

    #: Leave the writer's components out (``SetBackupSucceeded`` false) and go on.
    SKIP_COMPONENTS = "skip components"
    #: A retryable failure (the retry policy's codes, retries left): abort this attempt and
    #: start the backup again; any other failure: leave the components out.
    RETRY = "retry"
    #: Accept the veto: abort and fail the backup.
    FAIL = "fail"


class Decision(enum.Enum):
    """The agent's decision about one failed writer (recorded in the trace)."""

    SKIP = "skip components"
    RETRY = "retry"
    FAIL = "fail backup"


class WriterStatusFailure(VssError):
    """The agent ends an attempt because of a writer's status (its failure is the code);
    ``retry`` says whether the agent tries the backup again."""

    def __init__(self, hresult: HResult, message: str, retry: bool) -> None:
        super().__init__(hresult, message)
        self.retry = retry

    def __reduce__(self) -> Any:
        return (type(self), (self.hresult, self.message, self.retry))


def decide(
    status: WriterStatus,
    policy: WriterFailurePolicy,
    critical: Collection[str],
    retryable: Collection[HResult],
    retries_left: bool,
) -> Decision:
    """The decision about one failed writer: a critical writer fails the backup."""
    if status.writer_name in critical or policy is WriterFailurePolicy.FAIL:
        return Decision.FAIL
    if policy is WriterFailurePolicy.RETRY and status.failure in retryable and retries_left:
        return Decision.RETRY
    return Decision.SKIP


def check_writer_status(
    sim: Simulation,
    agent: str,
    after: str,
    statuses: Sequence[WriterStatus],
    policy: WriterFailurePolicy,
    *,
    critical: Collection[str] = (),
    retryable: Collection[HResult] = (),
    retries_left: bool = False,
) -> list[WriterStatus]:
    """Decide about every failed writer in ``statuses`` (gathered after the call ``after``),
    recording each decision; the value is the writers whose components are left out. A
    decision to retry or fail raises :class:`WriterStatusFailure` once all are recorded."""
    skipped: list[WriterStatus] = []
    ending: tuple[WriterStatus, Decision] | None = None
    for status in statuses:
        if not status.failed:
            continue
        decision = decide(status, policy, critical, retryable, retries_left)
        sim.trace.record(
            None,
            agent,
            V.WRITER_FAILURE_DECISION,
            writer=status.writer_name,
            after=after,
            state=status.state,
            failure=status.failure,
            decision=decision.value,
        )
        if decision is Decision.SKIP:
            skipped.append(status)
        elif ending is None or decision is Decision.FAIL:
            ending = (status, decision)
    if ending is not None:
        status, decision = ending
        raise WriterStatusFailure(
            status.failure,
            f"{status.writer_name} is {status.state.vss_name} with {status.failure.name} "
            f"after {after}: {'trying again' if decision is Decision.RETRY else 'backup failed'}",
            decision is Decision.RETRY,
        )
    return skipped
