"""The prerequisite calls VSS checks beyond the session's state table: what must have been
called before (SetBackupState before PrepareForBackup, GatherWriterMetadata and
PrepareForBackup before DoSnapshotSet where writers take part), what SetContext allows once,
and the calls a writerless context refuses ("Shadow Copy Creation Details"). Each check
raises ``VSS_E_BAD_STATE`` (or ``VSS_E_UNSUPPORTED_CONTEXT``) and changes nothing.
"""

from __future__ import annotations

from vsssim.errors import HResult, VssError
from vsssim.vss.constants import Context
from vsssim.vss.coordinator.service import CONTEXT_ATTRIBUTES, writers_take_part
from vsssim.vss.coordinator.session_base import SessionBase
from vsssim.vss.states import SessionState


def check_writers_take_part(session: SessionBase, call: str) -> None:
    """A call a writerless context refuses (AddComponent, PrepareForBackup, BackupComplete)."""
    if not writers_take_part(session.context):
        raise VssError(
            HResult.VSS_E_BAD_STATE,
            f"{call} is not allowed in {session.context.vss_name}: its shadow copies are made "
            "without writers",
        )


def check_set_context(session: SessionBase, base: Context) -> None:
    """SetContext: once only, a context shadow copies can be created or managed in, and no
    writerless context once components are added."""
    if session.context_set:
        raise VssError(
            HResult.VSS_E_BAD_STATE,
            f"set_context is not allowed now: {session.requester} set the context "
            f"({session.context.vss_name}) already; SetContext can be called only once",
        )
    if base is not Context.ALL and base not in CONTEXT_ATTRIBUTES:
        raise VssError(
            HResult.VSS_E_UNSUPPORTED_CONTEXT,
            f"{base.vss_name} is not a context a backup can create shadow copies in",
        )
    if session.selected and not writers_take_part(base):
        raise VssError(
            HResult.VSS_E_BAD_STATE,
            f"set_context({base.vss_name}) is not allowed now: {session.requester} added "
            "components already, and that context makes shadow copies without writers",
        )


def check_prepare_for_backup(session: SessionBase) -> None:
    """PrepareForBackup: in a context with writers, after SetBackupState."""
    check_writers_take_part(session, "prepare_for_backup")
    if not session.backup_state_set:
        raise VssError(
            HResult.VSS_E_BAD_STATE,
            f"prepare_for_backup is not allowed now: {session.requester} has not called "
            "SetBackupState, which must come before PrepareForBackup",
        )


def check_start_snapshot_set(session: SessionBase) -> None:
    """StartSnapshotSet: ``VSS_CTX_ALL`` creates no shadow copies ("Shadow Copy Context
    Configurations")."""
    if session.context is Context.ALL:
        raise VssError(
            HResult.VSS_E_UNSUPPORTED_CONTEXT,
            "VSS_CTX_ALL serves queries and deletions; no shadow copy is created in it",
        )


def check_do_snapshot_set(session: SessionBase) -> None:
    """DoSnapshotSet: with writers, GatherWriterMetadata and PrepareForBackup made first."""
    prepared = session.metadata_gathered and session.state == SessionState.PREPARED
    if writers_take_part(session.context) and not prepared:
        missing = "GatherWriterMetadata" if not session.metadata_gathered else "PrepareForBackup"
        raise VssError(
            HResult.VSS_E_BAD_STATE,
            f"do_snapshot_set is not allowed now: {session.context.vss_name} makes shadow "
            f"copies with writers, and {session.requester} has not called {missing}",
        )
