"""Microsoft's VSS enumerations with their real numeric values (vss.h, vswriter.h, vsbackup.h).

Members use the short name (``WriterState.STABLE``); ``vss_name`` gives the SDK spelling
(``VSS_WS_STABLE``), which is what traces and messages show.
"""

from __future__ import annotations

import enum
import functools


class _VssEnumMixin:
    """Adds the SDK spelling of a member."""

    # Cached on the member (traces ask for it at nearly every record).
    @functools.cached_property
    def vss_name(self) -> str:
        """The member as the Windows SDK spells it, e.g. ``VSS_WS_STABLE``."""
        return f"{_PREFIXES[type(self).__name__]}{self.name}"  # type: ignore[attr-defined]


class WriterState(_VssEnumMixin, enum.IntEnum):
    """Writer states (``VSS_WRITER_STATE``), as ``GatherWriterStatus`` reports them."""

    UNKNOWN = 0
    STABLE = 1
    WAITING_FOR_FREEZE = 2
    WAITING_FOR_THAW = 3
    WAITING_FOR_POST_SNAPSHOT = 4
    WAITING_FOR_BACKUP_COMPLETE = 5
    FAILED_AT_IDENTIFY = 6
    FAILED_AT_PREPARE_BACKUP = 7
    FAILED_AT_PREPARE_SNAPSHOT = 8
    FAILED_AT_FREEZE = 9
    FAILED_AT_THAW = 10
    FAILED_AT_POST_SNAPSHOT = 11
    FAILED_AT_BACKUP_COMPLETE = 12
    FAILED_AT_PRE_RESTORE = 13
    FAILED_AT_POST_RESTORE = 14
    FAILED_AT_BACKUPSHUTDOWN = 15


class BackupType(_VssEnumMixin, enum.IntEnum):
    """Backup types (``VSS_BACKUP_TYPE``)."""

    UNDEFINED = 0
    FULL = 1
    INCREMENTAL = 2
    DIFFERENTIAL = 3
    LOG = 4
    COPY = 5
    OTHER = 6


class ComponentType(_VssEnumMixin, enum.IntEnum):
    """Component types (``VSS_COMPONENT_TYPE``)."""

    UNDEFINED = 0
    DATABASE = 1
    FILEGROUP = 2


class UsageType(_VssEnumMixin, enum.IntEnum):
    """Writer usage types (``VSS_USAGE_TYPE``)."""

    UNDEFINED = 0
    BOOTABLESYSTEMSTATE = 1
    SYSTEMSERVICE = 2
    USERDATA = 3
    OTHER = 4


class SourceType(_VssEnumMixin, enum.IntEnum):
    """Writer data source types (``VSS_SOURCE_TYPE``)."""

    UNDEFINED = 0
    TRANSACTEDDB = 1
    NONTRANSACTEDDB = 2
    OTHER = 3


class Context(_VssEnumMixin, enum.IntEnum):
    """Shadow copy contexts (``_VSS_SNAPSHOT_CONTEXT``)."""

    BACKUP = 0
    FILE_SHARE_BACKUP = 16
    NAS_ROLLBACK = 25
    APP_ROLLBACK = 9
    CLIENT_ACCESSIBLE = 29
    CLIENT_ACCESSIBLE_WRITERS = 13
    ALL = -1


class SnapshotAttr(_VssEnumMixin, enum.IntFlag):
    """Shadow copy attribute flags (``_VSS_VOLUME_SNAPSHOT_ATTRIBUTES``)."""

    PERSISTENT = 1
    NO_AUTORECOVERY = 2
    CLIENT_ACCESSIBLE = 4
    NO_AUTO_RELEASE = 8
    NO_WRITERS = 16
    TRANSPORTABLE = 32
    NOT_SURFACED = 64
    NOT_TRANSACTED = 128
    HARDWARE_ASSISTED = 65536
    DIFFERENTIAL = 131072
    PLEX = 262144
    IMPORTED = 524288
    EXPOSED_LOCALLY = 1048576
    EXPOSED_REMOTELY = 2097152
    AUTORECOVER = 4194304
    ROLLBACK_RECOVERY = 8388608
    DELAYED_POSTSNAPSHOT = 16777216
    TXF_RECOVERY = 33554432
    FILE_SHARE = 67108864


class SnapshotState(_VssEnumMixin, enum.IntEnum):
    """Shadow copy creation states (``VSS_SNAPSHOT_STATE``)."""

    UNKNOWN = 0
    PREPARING = 1
    PROCESSING_PREPARE = 2
    PREPARED = 3
    PROCESSING_PRECOMMIT = 4
    PRECOMMITTED = 5
    PROCESSING_COMMIT = 6
    COMMITTED = 7
    PROCESSING_POSTCOMMIT = 8
    PROCESSING_PREFINALCOMMIT = 9
    PREFINALCOMMITTED = 10
    PROCESSING_POSTFINALCOMMIT = 11
    CREATED = 12
    ABORTED = 13
    DELETED = 14
    POSTCOMMITTED = 15


class ProviderType(_VssEnumMixin, enum.IntEnum):
    """Provider types (``VSS_PROVIDER_TYPE``)."""

    UNKNOWN = 0
    SYSTEM = 1
    SOFTWARE = 2
    HARDWARE = 3
    FILESHARE = 4


class RestoreMethod(_VssEnumMixin, enum.IntEnum):
    """Writer restore methods (``VSS_RESTOREMETHOD_ENUM``)."""

    UNDEFINED = 0
    RESTORE_IF_NOT_THERE = 1
    RESTORE_IF_CAN_REPLACE = 2
    STOP_RESTORE_START = 3
    RESTORE_TO_ALTERNATE_LOCATION = 4
    RESTORE_AT_REBOOT = 5
    RESTORE_AT_REBOOT_IF_CANNOT_REPLACE = 6
    CUSTOM = 7
    RESTORE_STOP_START = 8


class WriterRestore(_VssEnumMixin, enum.IntEnum):
    """When a writer takes part in a restore (``VSS_WRITERRESTORE_ENUM``)."""

    UNDEFINED = 0
    NEVER = 1
    IF_REPLACE_FAILS = 2
    ALWAYS = 3


class RestoreStatus(_VssEnumMixin, enum.IntEnum):
    """File restore status (``VSS_FILE_RESTORE_STATUS``)."""

    UNDEFINED = 0
    NONE = 1
    ALL = 2
    FAILED = 3


class BackupSchema(_VssEnumMixin, enum.IntFlag):
    """Backup schema flags a writer declares (``VSS_BACKUP_SCHEMA``)."""

    UNDEFINED = 0
    DIFFERENTIAL = 1
    INCREMENTAL = 2
    EXCLUSIVE_INCREMENTAL_DIFFERENTIAL = 4
    LOG = 8
    COPY = 16
    TIMESTAMPED = 32
    LAST_MODIFY = 64
    LSN = 128
    WRITER_SUPPORTS_NEW_TARGET = 256
    WRITER_SUPPORTS_RESTORE_WITH_MOVE = 512
    INDEPENDENT_SYSTEM_STATE = 1024
    ROLLFORWARD_RESTORE = 4096
    RESTORE_RENAME = 8192
    AUTHORITATIVE_RESTORE = 16384
    WRITER_SUPPORTS_PARALLEL_RESTORES = 32768


class FileSpecBackupType(_VssEnumMixin, enum.IntFlag):
    """File-specification backup type flags (``VSS_FILE_SPEC_BACKUP_TYPE``)."""

    FULL_BACKUP_REQUIRED = 1
    DIFFERENTIAL_BACKUP_REQUIRED = 2
    INCREMENTAL_BACKUP_REQUIRED = 4
    LOG_BACKUP_REQUIRED = 8
    ALL_BACKUP_REQUIRED = 15
    FULL_SNAPSHOT_REQUIRED = 256
    DIFFERENTIAL_SNAPSHOT_REQUIRED = 512
    INCREMENTAL_SNAPSHOT_REQUIRED = 1024
    LOG_SNAPSHOT_REQUIRED = 2048
    ALL_SNAPSHOT_REQUIRED = 3840
    CREATED_DURING_BACKUP = 65536


class ObjectType(_VssEnumMixin, enum.IntEnum):
    """``VSS_OBJECT_TYPE``: what ``Query`` and ``DeleteSnapshots`` are asked about."""

    UNKNOWN = 0
    NONE = 1
    SNAPSHOT_SET = 2
    SNAPSHOT = 3
    PROVIDER = 4


class HardwareOptions(_VssEnumMixin, enum.IntFlag):
    """``_VSS_HARDWARE_OPTIONS``: how ``BreakSnapshotSetEx`` breaks a set (the
    ``VSS_ONLUNSTATECHANGE_*`` values are the provider's notifications)."""

    BREAKEX_FLAG_MASK_LUNS = 0x1
    BREAKEX_FLAG_MAKE_READ_WRITE = 0x2
    BREAKEX_FLAG_REVERT_IDENTITY_ALL = 0x4
    BREAKEX_FLAG_REVERT_IDENTITY_NONE = 0x8
    ONLUNSTATECHANGE_NOTIFY_READ_WRITE = 0x100
    ONLUNSTATECHANGE_NOTIFY_LUN_PRE_RECOVERY = 0x200
    ONLUNSTATECHANGE_NOTIFY_LUN_POST_RECOVERY = 0x400
    ONLUNSTATECHANGE_DO_MASK_LUNS = 0x800


_PREFIXES: dict[str, str] = {
    "WriterState": "VSS_WS_",
    "BackupType": "VSS_BT_",
    "ComponentType": "VSS_CT_",
    "UsageType": "VSS_UT_",
    "SourceType": "VSS_ST_",
    "Context": "VSS_CTX_",
    "SnapshotAttr": "VSS_VOLSNAP_ATTR_",
    "SnapshotState": "VSS_SS_",
    "ProviderType": "VSS_PROV_",
    "RestoreMethod": "VSS_RME_",
    "WriterRestore": "VSS_WRE_",
    "RestoreStatus": "VSS_RS_",
    "BackupSchema": "VSS_BS_",
    "FileSpecBackupType": "VSS_FSBT_",
    "ObjectType": "VSS_OBJECT_",
    "HardwareOptions": "VSS_",
}

#: ``VSS_WS_COUNT``: the number of writer states.
WRITER_STATE_COUNT = 16
