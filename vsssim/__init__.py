"""vsssim: a deterministic simulation of a VSS (Volume Shadow Copy Service) backup.

A :class:`World` holds one simulated host: volumes and files, writers, the coordinator (the VSS
service) with its providers, application workloads and backup agents. Runs are pure functions of
their choices: the same seed gives the same trace, byte for byte.
"""

from vsssim._kernel import MILLISECOND, SECOND, Condition, Event, Process, Simulation, Timeout
from vsssim.agent import (
    AgentOptions,
    Attempt,
    BackupAgent,
    BackupResult,
    ComponentSelector,
    CopiedFile,
    Outcome,
    RetryPolicy,
    Selection,
    resolve_selection,
    verify_copy,
)
from vsssim.archive import BackupArchive
from vsssim.backup_document import (
    BackedUpComponent,
    BackupComponentsDocument,
    PartialFile,
    document_from_xml,
    document_to_xml,
)
from vsssim.backup_types import WriterComponents, effective_type
from vsssim.choices import (
    ChoiceSource,
    FifoChoices,
    RecordingChoices,
    SeededChoices,
    SequenceChoices,
    decode_token,
    encode_token,
)
from vsssim.constants import (
    BackupSchema,
    BackupType,
    ComponentType,
    Context,
    FileSpecBackupType,
    ProviderType,
    RestoreMethod,
    RestoreStatus,
    SnapshotAttr,
    SnapshotState,
    SourceType,
    UsageType,
    WriterRestore,
    WriterState,
)
from vsssim.coordinator import (
    Coordinator,
    CoordinatorConfig,
    SnapshotProperties,
    SnapshotSet,
    WriterStatus,
)
from vsssim.coordinator_session import BackupComponents
from vsssim.demo import (
    InstantRecoveryDemo,
    RestoreDemo,
    build_demo_world,
    run_instant_recovery_demo,
    run_restore_demo,
)
from vsssim.errors import (
    WRITER_ERRORS,
    ConfigurationError,
    HResult,
    ReplayError,
    VssError,
    VssimError,
    WriterFailure,
)
from vsssim.faults import FAULT_KINDS, FaultKind, FaultPlan, FiredFault
from vsssim.fuzz import CampaignSummary, RunReport, campaign, fuzz_one, replay
from vsssim.hooks import NO_FAULTS, FaultHooks, NoFaults, WriterEffect, WriterFault
from vsssim.instant_recovery import InstantRecoveryAgent, InstantRecoveryResult
from vsssim.metadata import Component, ComponentKey, FileDescriptor, WriterMetadata
from vsssim.namespace import File, Namespace
from vsssim.probes import PROBES, Probe, probe_counts
from vsssim.providers import Provider, ShadowCopy, SoftwareProvider
from vsssim.providers.xp import (
    XP_PROVIDER_ID,
    PairState,
    ReplicaMode,
    ReplicaOptions,
    XpArray,
    XpProvider,
)
from vsssim.restore import (
    ComponentRestore,
    RestoreAgent,
    RestoredFile,
    RestoreOptions,
    RestoreResult,
    RestoreStep,
    restore_chain,
    restore_plan,
    verify_restore,
)
from vsssim.scenario import (
    AgentSpec,
    FaultSpec,
    FileSpec,
    RestoreSpec,
    Scenario,
    VolumeSpec,
    WorkloadSpec,
)
from vsssim.scenario_draw import draw_scenario
from vsssim.scenario_file import ScenarioFile, ScenarioFileError, load_scenario, parse_scenario
from vsssim.states import SessionState
from vsssim.trace import Trace, TraceRecord
from vsssim.volumes import Volume
from vsssim.workload import Workload
from vsssim.world import RestoreRun, World
from vsssim.writers import DatabaseWriter, EventContext, Writer

__version__ = "0.1.0"

from vsssim.wmd_xml import metadata_from_xml, metadata_to_xml

__all__ = [
    "FAULT_KINDS",
    "MILLISECOND",
    "NO_FAULTS",
    "PROBES",
    "SECOND",
    "WRITER_ERRORS",
    "XP_PROVIDER_ID",
    "AgentOptions",
    "AgentSpec",
    "Attempt",
    "BackedUpComponent",
    "BackupAgent",
    "BackupArchive",
    "BackupComponents",
    "BackupComponentsDocument",
    "BackupResult",
    "BackupSchema",
    "BackupType",
    "CampaignSummary",
    "ChoiceSource",
    "Component",
    "ComponentKey",
    "ComponentRestore",
    "ComponentSelector",
    "ComponentType",
    "Condition",
    "ConfigurationError",
    "Context",
    "Coordinator",
    "CoordinatorConfig",
    "CopiedFile",
    "DatabaseWriter",
    "Event",
    "EventContext",
    "FaultHooks",
    "FaultKind",
    "FaultPlan",
    "FaultSpec",
    "FifoChoices",
    "File",
    "FileDescriptor",
    "FileSpec",
    "FileSpecBackupType",
    "FiredFault",
    "HResult",
    "InstantRecoveryAgent",
    "InstantRecoveryDemo",
    "InstantRecoveryResult",
    "Namespace",
    "NoFaults",
    "Outcome",
    "PairState",
    "PartialFile",
    "Probe",
    "Process",
    "Provider",
    "ProviderType",
    "RecordingChoices",
    "ReplayError",
    "ReplicaMode",
    "ReplicaOptions",
    "RestoreAgent",
    "RestoreDemo",
    "RestoreMethod",
    "RestoreOptions",
    "RestoreResult",
    "RestoreRun",
    "RestoreSpec",
    "RestoreStatus",
    "RestoreStep",
    "RestoredFile",
    "RetryPolicy",
    "RunReport",
    "Scenario",
    "ScenarioFile",
    "ScenarioFileError",
    "SeededChoices",
    "Selection",
    "SequenceChoices",
    "SessionState",
    "ShadowCopy",
    "Simulation",
    "SnapshotAttr",
    "SnapshotProperties",
    "SnapshotSet",
    "SnapshotState",
    "SoftwareProvider",
    "SourceType",
    "Timeout",
    "Trace",
    "TraceRecord",
    "UsageType",
    "Volume",
    "VolumeSpec",
    "VssError",
    "VssimError",
    "Workload",
    "WorkloadSpec",
    "World",
    "Writer",
    "WriterComponents",
    "WriterEffect",
    "WriterFailure",
    "WriterFault",
    "WriterMetadata",
    "WriterRestore",
    "WriterState",
    "WriterStatus",
    "XpArray",
    "XpProvider",
    "__version__",
    "build_demo_world",
    "campaign",
    "decode_token",
    "document_from_xml",
    "document_to_xml",
    "draw_scenario",
    "effective_type",
    "encode_token",
    "fuzz_one",
    "load_scenario",
    "metadata_from_xml",
    "metadata_to_xml",
    "parse_scenario",
    "probe_counts",
    "replay",
    "resolve_selection",
    "restore_chain",
    "restore_plan",
    "run_instant_recovery_demo",
    "run_restore_demo",
    "verify_copy",
    "verify_restore",
]
