"""The VSS service: the writer registry, the shadow copy set and the backup sessions."""

from vsssim.vss.coordinator.service import (
    CoordinatorConfig,
    SnapshotProperties,
    SnapshotSet,
    WriterStatus,
)
from vsssim.vss.coordinator.session import BackupComponents, Coordinator
from vsssim.vss.coordinator.vss_async import VssAsync

__all__ = [
    "BackupComponents",
    "Coordinator",
    "CoordinatorConfig",
    "SnapshotProperties",
    "SnapshotSet",
    "VssAsync",
    "WriterStatus",
]
