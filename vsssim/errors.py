"""HRESULTs VSS returns, with their real values (vsserror.h), and the errors that carry them.

The exception tree (every type pickles, so a campaign's worker can hand any of them back)::

    VssimError                      everything vsssim raises on purpose
    +-- VssError                    a VSS call refused or failed: .hresult is the real HRESULT
    |   +-- DeleteSnapshotsError    DeleteSnapshots stopped part way: the count, the copy left
    +-- WriterFailure               a writer handler fails its event (SetWriterFailure)
    +-- ConfigurationError          a world or scenario built of parts that do not fit (ValueError)
    |   +-- ScenarioFileError       a scenario file's key path and what is wrong there
    +-- ReplayError                 a replay token or failure file that does not fit the run
    +-- Livelock                    a run that stopped making progress (events per instant)
    +-- StateTableError             a model step its state table does not allow (a model bug)
    +-- PairCommandError            an XP pair command the pair's state does not allow
    RunHung (BaseException)         a fuzzed run over its real-time guard (vsssim.testing.fuzz)
"""

from __future__ import annotations

import enum
import traceback
from pathlib import Path


class HResult(enum.IntEnum):
    """An HRESULT as VSS returns it. ``str()`` gives ``VSS_E_BAD_STATE (0x80042301)``."""

    S_OK = 0x00000000
    E_INVALIDARG = 0x80070057
    E_UNEXPECTED = 0x8000FFFF
    E_NOTIMPL = 0x80004001
    VSS_E_BAD_STATE = 0x80042301
    VSS_E_UNEXPECTED = 0x80042302
    VSS_E_PROVIDER_ALREADY_REGISTERED = 0x80042303
    VSS_E_PROVIDER_NOT_REGISTERED = 0x80042304
    VSS_E_PROVIDER_VETO = 0x80042306
    VSS_E_PROVIDER_IN_USE = 0x80042307
    VSS_E_OBJECT_NOT_FOUND = 0x80042308
    VSS_S_ASYNC_PENDING = 0x00042309
    VSS_S_ASYNC_FINISHED = 0x0004230A
    VSS_S_ASYNC_CANCELLED = 0x0004230B
    VSS_E_VOLUME_NOT_SUPPORTED = 0x8004230C
    VSS_E_OBJECT_ALREADY_EXISTS = 0x8004230D
    VSS_E_VOLUME_NOT_SUPPORTED_BY_PROVIDER = 0x8004230E
    VSS_E_UNEXPECTED_PROVIDER_ERROR = 0x8004230F
    VSS_E_CORRUPT_XML_DOCUMENT = 0x80042310
    VSS_E_INVALID_XML_DOCUMENT = 0x80042311
    VSS_E_MAXIMUM_NUMBER_OF_VOLUMES_REACHED = 0x80042312
    VSS_E_FLUSH_WRITES_TIMEOUT = 0x80042313
    VSS_E_HOLD_WRITES_TIMEOUT = 0x80042314
    VSS_E_UNEXPECTED_WRITER_ERROR = 0x80042315
    VSS_E_SNAPSHOT_SET_IN_PROGRESS = 0x80042316
    VSS_E_MAXIMUM_NUMBER_OF_SNAPSHOTS_REACHED = 0x80042317
    VSS_E_WRITER_INFRASTRUCTURE = 0x80042318
    VSS_E_WRITER_NOT_RESPONDING = 0x80042319
    VSS_E_WRITER_ALREADY_SUBSCRIBED = 0x8004231A
    VSS_E_UNSUPPORTED_CONTEXT = 0x8004231B
    VSS_E_VOLUME_IN_USE = 0x8004231D
    VSS_E_MAXIMUM_DIFFAREA_ASSOCIATIONS_REACHED = 0x8004231E
    VSS_E_INSUFFICIENT_STORAGE = 0x8004231F
    VSS_E_NO_SNAPSHOTS_IMPORTED = 0x80042320
    VSS_E_SOME_SNAPSHOTS_NOT_IMPORTED = 0x80042321
    VSS_S_SOME_SNAPSHOTS_NOT_IMPORTED = 0x00042321
    VSS_E_MAXIMUM_NUMBER_OF_REMOTE_MACHINES_REACHED = 0x80042322
    VSS_E_REMOTE_SERVER_UNAVAILABLE = 0x80042323
    VSS_E_REMOTE_SERVER_UNSUPPORTED = 0x80042324
    VSS_E_REVERT_IN_PROGRESS = 0x80042325
    VSS_E_REVERT_VOLUME_LOST = 0x80042326
    VSS_E_REBOOT_REQUIRED = 0x80042327
    VSS_E_TRANSACTION_FREEZE_TIMEOUT = 0x80042328
    VSS_E_TRANSACTION_THAW_TIMEOUT = 0x80042329
    VSS_E_UNSELECTED_VOLUME = 0x8004232A
    VSS_E_SNAPSHOT_NOT_IN_SET = 0x8004232B
    VSS_E_NESTED_VOLUME_LIMIT = 0x8004232C
    VSS_E_VOLUME_NOT_LOCAL = 0x8004232D
    VSS_E_CLUSTER_TIMEOUT = 0x8004232E
    VSS_E_NOT_SUPPORTED = 0x8004232F
    VSS_E_WRITERERROR_PARTIAL_FAILURE = 0x80042336
    VSS_E_WRITERERROR_INCONSISTENTSNAPSHOT = 0x800423F0
    VSS_E_WRITERERROR_OUTOFRESOURCES = 0x800423F1
    VSS_E_WRITERERROR_TIMEOUT = 0x800423F2
    VSS_E_WRITERERROR_RETRYABLE = 0x800423F3
    VSS_E_WRITERERROR_NONRETRYABLE = 0x800423F4
    VSS_E_WRITERERROR_RECOVERY_FAILED = 0x800423F5
    VSS_E_BREAK_REVERT_ID_FAILED = 0x800423F6
    VSS_E_LEGACY_PROVIDER = 0x800423F7
    VSS_E_MISSING_DISK = 0x800423F8
    VSS_E_MISSING_HIDDEN_VOLUME = 0x800423F9
    VSS_E_MISSING_VOLUME = 0x800423FA
    VSS_E_AUTORECOVERY_FAILED = 0x800423FB
    VSS_E_DYNAMIC_DISK_ERROR = 0x800423FC
    VSS_E_NONTRANSPORTABLE_BCD = 0x800423FD
    VSS_E_CANNOT_REVERT_DISKID = 0x800423FE
    VSS_E_RESYNC_IN_PROGRESS = 0x800423FF
    VSS_E_CLUSTER_ERROR = 0x80042400
    VSS_E_WRITER_STATUS_NOT_AVAILABLE = 0x80042409
    VSS_E_FSS_TIMEOUT = 0x80042417

    @property
    def is_failure(self) -> bool:
        """True for an error HRESULT (severity bit set)."""
        return bool(self.value & 0x80000000)

    def __str__(self) -> str:
        return f"{self.name} (0x{self.value:08X})"


#: The writer failures a writer may report (``CVssWriterEx::SetWriterFailureEx``).
WRITER_ERRORS: tuple[HResult, ...] = (
    HResult.VSS_E_WRITERERROR_RETRYABLE,
    HResult.VSS_E_WRITERERROR_NONRETRYABLE,
    HResult.VSS_E_WRITERERROR_INCONSISTENTSNAPSHOT,
    HResult.VSS_E_WRITERERROR_OUTOFRESOURCES,
    HResult.VSS_E_WRITERERROR_TIMEOUT,
)


class VssimError(Exception):
    """Base of every error vsssim raises on purpose."""


class VssError(VssimError):
    """A call into the simulated VSS failed with ``hresult``.

    The message names what was wrong; ``hresult`` is the value real VSS returns in that case,
    so a harness can branch on it exactly as it would on Windows.
    """

    def __init__(self, hresult: HResult, message: str) -> None:
        self.hresult = hresult
        self.message = message
        super().__init__(f"{hresult.name} (0x{hresult.value:08X}): {message}")

    def __reduce__(self) -> tuple[type[VssError], tuple[HResult, str]]:
        # Rebuilt from its own arguments, so it crosses process boundaries (campaign workers).
        return (type(self), (self.hresult, self.message))


class DeleteSnapshotsError(VssError):
    """``DeleteSnapshots`` failed on one shadow copy after deleting ``deleted`` others (it
    deletes them in order and stops at the first failure: the DeleteSnapshots page);
    ``non_deleted_snapshot_id`` is that copy's id, as ``pNondeletedSnapshotID`` returns it."""

    def __init__(
        self, hresult: HResult, message: str, deleted: int, non_deleted_snapshot_id: object
    ) -> None:
        super().__init__(hresult, message)
        self.deleted = deleted
        self.non_deleted_snapshot_id = non_deleted_snapshot_id

    def __reduce__(  # type: ignore[override]
        self,
    ) -> tuple[type[DeleteSnapshotsError], tuple[HResult, str, int, object]]:
        return (
            type(self),
            (self.hresult, self.message, self.deleted, self.non_deleted_snapshot_id),
        )


class WriterFailure(VssimError):
    """Raised by a writer's event handler to fail the event, like ``SetWriterFailure``.

    ``hresult`` must be one of :data:`WRITER_ERRORS`.
    """

    def __init__(self, hresult: HResult, reason: str = "") -> None:
        if hresult not in WRITER_ERRORS:
            raise ValueError(
                f"{hresult} is not a writer error; use one of the VSS_E_WRITERERROR_* values"
            )
        self.hresult = hresult
        self.reason = reason
        super().__init__(f"{hresult}{': ' + reason if reason else ''}")

    def __reduce__(self) -> tuple[type[WriterFailure], tuple[HResult, str]]:
        return (type(self), (self.hresult, self.reason))


class ConfigurationError(VssimError, ValueError):
    """A model was built with inconsistent parts (a file on no volume, a duplicate name...)."""


class Livelock(VssimError):
    """A run that no longer makes progress: too many events at one simulated instant (a loop
    in zero simulated time), or too many events in the whole run (a runaway).

    ``busiest`` names the processes that were ready when the budget ran out.
    """

    def __init__(self, reason: str, now_us: int, events: int, busiest: tuple[str, ...]) -> None:
        self.reason = reason
        self.now_us = now_us
        self.events = events
        self.busiest = busiest
        who = f"; ready: {', '.join(busiest)}" if busiest else ""
        super().__init__(f"livelock at {now_us / 1_000_000:.6f} s: {reason}{who}")

    def __reduce__(self) -> tuple[type[Livelock], tuple[str, int, int, tuple[str, ...]]]:
        return (type(self), (self.reason, self.now_us, self.events, self.busiest))


class StateTableError(VssimError):
    """A step a state table does not allow from the current state: a bug in the model or in
    a user's provider, never a requester's mistake (those get a ``VssError``)."""

    def __init__(self, machine: str, name: str, state: object, step: str) -> None:
        super().__init__(f"{machine} {name}: {step} is not a step from {state}")
        self.machine, self.name, self.state, self.step = machine, name, state, step

    def __reduce__(self) -> tuple[type[StateTableError], tuple[str, str, object, str]]:
        return type(self), (self.machine, self.name, self.state, self.step)


class ReplayError(VssimError):
    """A recorded choice sequence does not fit the run being replayed."""


class ImageNotKept(VssimError, LookupError):
    """A volume asked for its content at an instant nobody marked beforehand
    (``Volume.keep_image``), or an instant marked after a later write: volumes keep only what
    something said it would read, not every write (unless made inside ``keeping_history``)."""


#: How much of an exception's message a report of it keeps.
MESSAGE_CHARS = 300


def describe(exc: BaseException) -> tuple[str, str]:
    """An exception as one bounded line, and where it was raised: ``("Type: message",
    "file.py:12, in function")`` (``"?"`` when it has no traceback). For reports of crashes."""
    try:
        message = " ".join(str(exc).split())
    except Exception:  # an exception whose str() raises
        message = "<message unavailable>"
    if len(message) > MESSAGE_CHARS:
        message = message[:MESSAGE_CHARS] + "..."
    frames = traceback.extract_tb(exc.__traceback__)
    where = f"{Path(frames[-1].filename).name}:{frames[-1].lineno}, in {frames[-1].name}"
    name = type(exc).__name__
    return (f"{name}: {message}" if message else name), (where if frames else "?")
