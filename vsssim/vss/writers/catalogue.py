"""Realistic writers for demos and tests, under the names and class ids Microsoft publishes.

Writer names and class ids are those of Microsoft's "In-Box VSS Writers" page and, for
``SqlServerWriter``, the SQL Server VSS writer guide. Component names and file locations follow
what those documents and real ``vssadmin``/``diskshadow`` listings show; where no source fixes a
detail (usage type of an in-box writer, exact files) the value is representative and says so.
The cross-writer dependency of the COM+ REGDB Writer on the Registry Writer is a modelling
choice that exercises dependency closure across writers.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from vsssim.vss.constants import (
    BackupSchema,
    ComponentType,
    RestoreMethod,
    SourceType,
    UsageType,
)
from vsssim.vss.metadata import Component, ComponentKey, FileDescriptor, WriterMetadata
from vsssim.vss.volumes import VSSSIM_NAMESPACE
from vsssim.vss.writers.base import Writer

SYSTEM_WRITER_ID = uuid.UUID("e8132975-6f93-4464-a53e-1050253ae220")
REGISTRY_WRITER_ID = uuid.UUID("afbab4a2-367d-4d15-a586-71dbb18f8485")
COMPLUS_WRITER_ID = uuid.UUID("542da469-d3e1-473c-9f4f-7847f01fc64f")
WMI_WRITER_ID = uuid.UUID("a6ad56c2-b509-4e6c-bb19-49d8f43532f0")
TASK_SCHEDULER_WRITER_ID = uuid.UUID("d61d61c8-d73a-4eee-8cdd-f6f9786b7124")
SQL_WRITER_ID = uuid.UUID("a65faa63-5ea8-4ebc-9dbd-a0c4db26912a")
DFSR_WRITER_ID = uuid.UUID("2707761b-2324-473d-88eb-eb007a359533")


def instance_id(class_id: uuid.UUID, instance: str = "") -> uuid.UUID:
    """A deterministic writer instance id (real ones are random per boot)."""
    return uuid.uuid5(VSSSIM_NAMESPACE, f"writer-instance:{class_id}:{instance}")


def _fd(path: str, spec: str, recursive: bool = False) -> FileDescriptor:
    return FileDescriptor(path=path, filespec=spec, recursive=recursive)


def system_writer() -> Writer:
    """The System Writer (runs in CryptSvc): operating system and driver files."""
    return Writer(
        WriterMetadata(
            writer_class_id=SYSTEM_WRITER_ID,
            writer_instance_id=instance_id(SYSTEM_WRITER_ID),
            writer_name="System Writer",
            usage_type=UsageType.BOOTABLESYSTEMSTATE,
            source_type=SourceType.OTHER,
            restore_method=RestoreMethod.RESTORE_AT_REBOOT_IF_CANNOT_REPLACE,
            components=(
                Component(
                    name="System Files",
                    caption="System files",
                    files=(
                        _fd("%SystemRoot%\\System32", "*.dll"),
                        _fd("%SystemRoot%\\System32", "*.exe"),
                        _fd("%SystemRoot%\\System32\\drivers", "*.sys"),
                    ),
                ),
            ),
        )
    )


def registry_writer() -> Writer:
    """The Registry Writer: the system hives under ``System32\\config``."""
    return Writer(
        WriterMetadata(
            writer_class_id=REGISTRY_WRITER_ID,
            writer_instance_id=instance_id(REGISTRY_WRITER_ID),
            writer_name="Registry Writer",
            usage_type=UsageType.BOOTABLESYSTEMSTATE,
            source_type=SourceType.OTHER,
            restore_method=RestoreMethod.RESTORE_AT_REBOOT,
            components=(
                Component(
                    name="Registry",
                    caption="Registry",
                    files=(_fd("%SystemRoot%\\System32\\config", "*"),),
                ),
            ),
        )
    )


def complus_writer() -> Writer:
    """The COM+ REGDB Writer: the COM+ registration database (``Registration\\R*.clb``)."""
    return Writer(
        WriterMetadata(
            writer_class_id=COMPLUS_WRITER_ID,
            writer_instance_id=instance_id(COMPLUS_WRITER_ID),
            writer_name="COM+ REGDB Writer",
            usage_type=UsageType.BOOTABLESYSTEMSTATE,
            source_type=SourceType.OTHER,
            restore_method=RestoreMethod.CUSTOM,
            components=(
                Component(
                    name="COM+ REGDB",
                    caption="COM+ registration database",
                    files=(_fd("%SystemRoot%\\Registration", "*.clb"),),
                    dependencies=(ComponentKey(REGISTRY_WRITER_ID, "", "Registry"),),
                ),
            ),
        )
    )


def wmi_writer() -> Writer:
    """The WMI Writer: the WBEM repository."""
    return Writer(
        WriterMetadata(
            writer_class_id=WMI_WRITER_ID,
            writer_instance_id=instance_id(WMI_WRITER_ID),
            writer_name="WMI Writer",
            usage_type=UsageType.SYSTEMSERVICE,
            source_type=SourceType.OTHER,
            restore_method=RestoreMethod.STOP_RESTORE_START,
            restore_service="Winmgmt",
            components=(
                Component(
                    name="WMI",
                    caption="Windows Management Instrumentation",
                    files=(_fd("%SystemRoot%\\System32\\wbem\\Repository", "*", recursive=True),),
                ),
            ),
        )
    )


def task_scheduler_writer() -> Writer:
    """The Task Scheduler Writer: task definitions under ``System32\\Tasks``."""
    return Writer(
        WriterMetadata(
            writer_class_id=TASK_SCHEDULER_WRITER_ID,
            writer_instance_id=instance_id(TASK_SCHEDULER_WRITER_ID),
            writer_name="Task Scheduler Writer",
            usage_type=UsageType.SYSTEMSERVICE,
            source_type=SourceType.OTHER,
            components=(
                Component(
                    name="TasksStore",
                    caption="Task Scheduler store",
                    files=(_fd("%SystemRoot%\\System32\\Tasks", "*", recursive=True),),
                ),
            ),
        )
    )


def sql_server_writer(server: str, databases: Sequence[tuple[str, str, str]]) -> Writer:
    """``SqlServerWriter`` for the default instance on ``server``.

    ``databases`` holds (database, data folder, log folder). As the real writer does, each
    database is one selectable file-group component whose logical path is the server (the
    instance) and whose files are the ``.mdf`` in the data folder and the ``.ldf`` in the log
    folder, so a database with data and logs on two volumes needs both in the shadow copy set.
    """
    return Writer(
        WriterMetadata(
            writer_class_id=SQL_WRITER_ID,
            writer_instance_id=instance_id(SQL_WRITER_ID, server),
            writer_name="SqlServerWriter",
            instance_name="SQL Server:SQLWriter",
            usage_type=UsageType.USERDATA,
            source_type=SourceType.TRANSACTEDDB,
            backup_schema=BackupSchema.DIFFERENTIAL | BackupSchema.COPY,
            restore_method=RestoreMethod.RESTORE_IF_CAN_REPLACE,
            components=tuple(
                Component(
                    name=name,
                    component_type=ComponentType.FILEGROUP,
                    logical_path=server,
                    caption=f"Database {name}",
                    files=(_fd(data, f"{name}.mdf"), _fd(log, f"{name}_log.ldf")),
                )
                for name, data, log in databases
            ),
        )
    )


def dfsr_writer(folders: Sequence[tuple[str, str]]) -> Writer:
    """The DFS Replication service writer: one component per replicated folder.

    ``folders`` holds (replicated folder name, local path); the path is taken recursively, so a
    volume mounted inside it joins the shadow copy set too.
    """
    return Writer(
        WriterMetadata(
            writer_class_id=DFSR_WRITER_ID,
            writer_instance_id=instance_id(DFSR_WRITER_ID),
            writer_name="DFS Replication service writer",
            usage_type=UsageType.USERDATA,
            source_type=SourceType.OTHER,
            restore_method=RestoreMethod.STOP_RESTORE_START,
            restore_service="DFSR",
            components=tuple(
                Component(
                    name=name,
                    logical_path="Replicated folders",
                    caption=f"Replicated folder {name}",
                    files=(_fd(path, "*", recursive=True),),
                )
                for name, path in folders
            ),
        )
    )
