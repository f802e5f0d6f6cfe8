"""How the backup agent runs a backup: its options, and when it tries a failed one again."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from functools import partial

import attrs

from vsssim.errors import ConfigurationError, HResult
from vsssim.requesters.writer_status_policy import WriterFailurePolicy
from vsssim.sim.kernel import SECOND
from vsssim.vss import _args
from vsssim.vss.constants import BackupType, Context, SnapshotAttr
from vsssim.vss.coordinator.service import CONTEXT_ATTRIBUTES, WriterStatus
from vsssim.vss.documents.backup_document import BackupComponentsDocument
from vsssim.vss.providers.base import SetOptions

#: The most retries a policy may ask for (each is a whole new backup session).
MAX_RETRIES = 1000

#: Failures worth a new attempt: transient by Microsoft's description ("wait and try again").
RETRYABLE: frozenset[HResult] = frozenset(
    {
        HResult.VSS_E_WRITERERROR_RETRYABLE,
        HResult.VSS_E_WRITERERROR_TIMEOUT,
        HResult.VSS_E_WRITERERROR_OUTOFRESOURCES,
        HResult.VSS_E_WRITER_NOT_RESPONDING,
        HResult.VSS_E_PROVIDER_VETO,
        HResult.VSS_E_UNEXPECTED_PROVIDER_ERROR,
        HResult.VSS_E_FLUSH_WRITES_TIMEOUT,
        HResult.VSS_E_HOLD_WRITES_TIMEOUT,
    }
)


#: What a backup that writers ended fails with: VSS's abort of a set after a writer's fatal
#: failure (``VSS_E_UNEXPECTED``: DoSnapshotSet documents no writer code), and the agent's own
#: code for a writer that failed PrepareForBackup or BackupComplete.
WRITER_ABORTS: frozenset[HResult] = frozenset(
    {HResult.VSS_E_UNEXPECTED, HResult.VSS_E_UNEXPECTED_WRITER_ERROR}
)


@attrs.frozen
class RetryPolicy:
    """When the agent starts a backup again after a failure (with a new session: an
    ``IVssBackupComponents`` serves one backup only).

    The defaults follow Microsoft's advice for transient VSS errors: wait ten minutes and try
    again, up to three times. A writer's failure is retried when its code is in ``retryable``;
    a set VSS aborted for a writer's fatal failure (:data:`WRITER_ABORTS`) is retried when
    every failed writer's code is.
    """

    retries: int = 3
    delay_us: int = 600 * SECOND
    retryable: frozenset[HResult] = RETRYABLE

    def __attrs_post_init__(self) -> None:
        _args.check_int("retries", self.retries, low=0, high=MAX_RETRIES, config=True)
        _args.check_int("delay_us", self.delay_us, low=0, config=True)
        codes = _args.check_items("retryable", self.retryable, HResult, "HRESULTs", config=True)
        object.__setattr__(self, "retryable", frozenset(codes))

    def allows(self, hresult: HResult, statuses: Sequence[WriterStatus]) -> bool:
        """Whether a backup that failed with ``hresult`` (writers as in ``statuses``) may retry."""
        if hresult in WRITER_ABORTS:
            failures = [s.failure for s in statuses if s.failed]
            return bool(failures) and all(f in self.retryable for f in failures)
        return hresult in self.retryable


@attrs.frozen
class AgentOptions:
    """How the agent runs a backup.

    Only one agent at a time defines a shadow copy set: an agent that finds the set lock taken
    (``VSS_E_SNAPSHOT_SET_IN_PROGRESS``) waits for its release, or ``lock_retry_us`` at most,
    and tries again, until ``lock_wait_us`` have passed; then it gives up with a clear error.

    A failed backup is tried again under ``retry``. With ``skip_failed_writers`` a backup that
    a writer failed for good is tried once more without that writer's components (and the
    components that depend on them), unless the writer is one of ``critical_writers``.

    After each call that sends writers an event (PrepareForBackup, DoSnapshotSet) the agent
    checks writer status (GatherWriterStatus) and treats each failed writer as
    ``on_writer_failure`` says (:class:`WriterFailurePolicy`; a critical writer's failure
    always fails the backup).

    ``provider_id`` asks VSS for one provider (``AddToSnapshotSet``'s ``ProviderId``); a volume
    it does not support goes to VSS's own choice when ``allow_fallback``, else the backup fails
    with ``VSS_E_VOLUME_NOT_SUPPORTED_BY_PROVIDER``. ``replica`` holds a provider's own
    options for the set (the XP provider's ``ReplicaOptions``, say), handed unread to the
    set's providers; the agent reads only what :class:`~vsssim.vss.providers.base.SetOptions`
    says. Keeping the copies needs a context whose shadow copies outlive the session
    (``VSS_CTX_APP_ROLLBACK``, say).
    """

    backup_type: BackupType = BackupType.FULL
    history: tuple[BackupComponentsDocument, ...] = ()
    context: Context = Context.BACKUP
    keep_snapshots: bool = False
    copy_bytes_per_s: int = 400 * 1024 * 1024
    lock_wait_us: int = 600 * SECOND
    lock_retry_us: int = 5 * SECOND
    retry: RetryPolicy = RetryPolicy()
    skip_failed_writers: bool = False
    critical_writers: tuple[str, ...] = ()
    on_writer_failure: WriterFailurePolicy = WriterFailurePolicy.RETRY
    provider_id: uuid.UUID | None = None
    allow_fallback: bool = True
    replica: SetOptions | None = None

    def __attrs_post_init__(self) -> None:
        self._check_fields()
        if self.replica is not None and self.replica.keeps:
            attributes = CONTEXT_ATTRIBUTES.get(self.context, SnapshotAttr(0))
            if not attributes & SnapshotAttr.NO_AUTO_RELEASE:
                raise ConfigurationError(
                    f"keeping the replica needs a persistent context: {self.context.vss_name} "
                    "shadow copies are deleted when the agent releases its session "
                    "(use VSS_CTX_APP_ROLLBACK)"
                )

    def _check_fields(self) -> None:
        """Refuse a field of the wrong type or out of range (``ConfigurationError`` naming it);
        an enum given as its int value is taken as the member."""
        set_ = partial(object.__setattr__, self)
        set_(
            "backup_type",
            _args.check_enum("backup_type", self.backup_type, BackupType, config=True),
        )
        if self.backup_type == BackupType.UNDEFINED:
            raise ConfigurationError("backup_type: cannot be VSS_BT_UNDEFINED")
        set_("context", _args.check_enum("context", self.context, Context, config=True))
        history = _args.check_items(
            "history",
            self.history,
            BackupComponentsDocument,
            "Backup Components Documents",
            config=True,
        )
        set_("history", history)
        for name in ("keep_snapshots", "skip_failed_writers", "allow_fallback"):
            _args.check_bool(name, getattr(self, name), config=True)
        _args.check_int("copy_bytes_per_s", self.copy_bytes_per_s, low=1, config=True)
        _args.check_int("lock_wait_us", self.lock_wait_us, low=0, config=True)
        _args.check_int("lock_retry_us", self.lock_retry_us, low=1, config=True)
        _args.check_instance("retry", self.retry, RetryPolicy, "a RetryPolicy", config=True)
        writers = _args.check_items(
            "critical_writers", self.critical_writers, str, "writer names", config=True
        )
        set_("critical_writers", writers)
        set_(
            "on_writer_failure",
            _args.check_enum(
                "on_writer_failure", self.on_writer_failure, WriterFailurePolicy, config=True
            ),
        )
        _args.check_uuid("provider_id", self.provider_id, optional=True, config=True)
        if self.replica is not None:
            _args.check_instance(
                "replica", self.replica, SetOptions, "ReplicaOptions or None", config=True
            )

    @property
    def keeps_snapshots(self) -> bool:
        """Whether the agent leaves its shadow copies after the backup."""
        return self.keep_snapshots or (self.replica is not None and self.replica.keeps)
