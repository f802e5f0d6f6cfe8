"""vsssim: a deterministic simulation of a VSS (Volume Shadow Copy Service) backup.

A :class:`World` holds one simulated host: volumes and files, writers, the coordinator (the VSS
service) with its providers, application workloads and backup agents. Runs are pure functions of
their choices: the same seed gives the same trace, byte for byte.
"""

from vsssim import _moved
from vsssim._version import __version__
from vsssim.errors import (
    ConfigurationError,
    HResult,
    ReplayError,
    VssError,
    VssimError,
    WriterFailure,
)
from vsssim.faults import FaultPlan
from vsssim.host.scenario import Scenario
from vsssim.host.scenario_file import ScenarioFileError, load_scenario, parse_scenario
from vsssim.host.world import World
from vsssim.requesters.agent import BackupAgent
from vsssim.requesters.backup_options import AgentOptions, RetryPolicy
from vsssim.requesters.backup_result import BackupResult, Outcome
from vsssim.requesters.restore_agent import RestoreAgent
from vsssim.requesters.restore_result import RestoreOptions, RestoreResult
from vsssim.sim.kernel import MILLISECOND, SECOND
from vsssim.sim.trace import Trace, TraceRecord
from vsssim.vss.constants import BackupType, Context, WriterState
from vsssim.vss.coordinator import BackupComponents, CoordinatorConfig, VssAsync
from vsssim.vss.hooks import FaultHooks, NoFaults
from vsssim.vss.metadata import Component, ComponentKey, FileDescriptor, WriterMetadata
from vsssim.vss.providers import Provider, SoftwareProvider
from vsssim.vss.writers import DatabaseWriter, EventContext, Writer

# Names that were top-level before 0.2 and now live in their layer's package: they still
# resolve, with a DeprecationWarning naming the new home, until 0.3 (see CHANGELOG.md).
_MOVED: dict[str, str] = {
    "AgentSpec": "vsssim.host.scenario",
    "Attempt": "vsssim.requesters.backup_result",
    "BackedUpComponent": "vsssim.vss.documents.backup_document",
    "BackupArchive": "vsssim.requesters.archive",
    "BackupComponentsDocument": "vsssim.vss.documents.backup_document",
    "BackupSchema": "vsssim.vss.constants",
    "CampaignSummary": "vsssim.testing",
    "ChoiceSource": "vsssim.sim.choices",
    "ComponentRestore": "vsssim.requesters.restore_result",
    "ComponentSelector": "vsssim.requesters.selection",
    "ComponentType": "vsssim.vss.constants",
    "Condition": "vsssim.sim.kernel",
    "Coordinator": "vsssim.vss.coordinator",
    "CopiedFile": "vsssim.requesters.backup_result",
    "Event": "vsssim.sim.kernel",
    "FAULT_KINDS": "vsssim.faults",
    "FaultKind": "vsssim.faults",
    "FaultSpec": "vsssim.host.scenario",
    "FifoChoices": "vsssim.sim.choices",
    "File": "vsssim.vss.namespace",
    "FileSpec": "vsssim.host.scenario",
    "FileSpecBackupType": "vsssim.vss.constants",
    "FiredFault": "vsssim.faults",
    "InstantRecoveryAgent": "vsssim.requesters.instant_recovery",
    "InstantRecoveryDemo": "vsssim.host.demo",
    "InstantRecoveryResult": "vsssim.requesters.instant_recovery",
    "Namespace": "vsssim.vss.namespace",
    "PROBES": "vsssim.testing.probes",
    "PairState": "vsssim.vss.providers.xp",
    "PartialFile": "vsssim.vss.documents.backup_document",
    "Probe": "vsssim.testing.probes",
    "Process": "vsssim.sim.kernel",
    "ProviderType": "vsssim.vss.constants",
    "RecordingChoices": "vsssim.sim.choices",
    "ReplayToken": "vsssim.sim.tokens",
    "ReplicaMode": "vsssim.vss.providers.xp",
    "ReplicaOptions": "vsssim.vss.providers.xp",
    "RestoreDemo": "vsssim.host.demo",
    "RestoreMethod": "vsssim.vss.constants",
    "RestoreRun": "vsssim.host.world",
    "RestoreSpec": "vsssim.host.scenario",
    "RestoreStatus": "vsssim.vss.constants",
    "RestoreStep": "vsssim.requesters.restore",
    "RestoredFile": "vsssim.requesters.restore_result",
    "RunReport": "vsssim.testing",
    "ScenarioFile": "vsssim.host.scenario_file",
    "SeededChoices": "vsssim.sim.choices",
    "Selection": "vsssim.requesters.selection",
    "SequenceChoices": "vsssim.sim.choices",
    "SessionState": "vsssim.vss.states",
    "ShadowCopy": "vsssim.vss.providers",
    "Simulation": "vsssim.sim.kernel",
    "SnapshotAttr": "vsssim.vss.constants",
    "SnapshotProperties": "vsssim.vss.coordinator",
    "SnapshotSet": "vsssim.vss.coordinator",
    "SnapshotState": "vsssim.vss.constants",
    "SourceType": "vsssim.vss.constants",
    "Timeout": "vsssim.sim.kernel",
    "UsageType": "vsssim.vss.constants",
    "Volume": "vsssim.vss.volumes",
    "VolumeSpec": "vsssim.host.scenario",
    "WRITER_ERRORS": "vsssim.errors",
    "Workload": "vsssim.vss.workload",
    "WorkloadSpec": "vsssim.host.scenario",
    "WriterComponents": "vsssim.vss.backup_types",
    "WriterRestore": "vsssim.vss.constants",
    "WriterStatus": "vsssim.vss.coordinator",
    "XP_PROVIDER_ID": "vsssim.vss.providers.xp",
    "XpArray": "vsssim.vss.providers.xp",
    "XpProvider": "vsssim.vss.providers.xp",
    "build_demo_world": "vsssim.host.demo",
    "campaign": "vsssim.testing",
    "decode_token": "vsssim.sim.choices",
    "document_from_xml": "vsssim.vss.documents.backup_document",
    "document_to_xml": "vsssim.vss.documents.backup_document",
    "draw_scenario": "vsssim.testing.draw",
    "effective_type": "vsssim.vss.backup_types",
    "encode_token": "vsssim.sim.choices",
    "read_token": "vsssim.sim.tokens",
    "fuzz_one": "vsssim.testing",
    "metadata_from_xml": "vsssim.vss.documents.wmd_xml",
    "metadata_to_xml": "vsssim.vss.documents.wmd_xml",
    "probe_counts": "vsssim.testing.probes",
    "replay": "vsssim.testing",
    "resolve_selection": "vsssim.requesters.selection",
    "restore_chain": "vsssim.requesters.restore",
    "restore_plan": "vsssim.requesters.restore",
    "run_instant_recovery_demo": "vsssim.host.demo",
    "run_restore_demo": "vsssim.host.demo",
    "verify_copy": "vsssim.requesters.backup_result",
    "verify_restore": "vsssim.requesters.restore",
}


def __getattr__(name: str) -> object:
    module = _MOVED.get(name)
    if module is None:
        raise AttributeError(f"module 'vsssim' has no attribute {name!r}")
    import importlib
    import warnings

    warnings.warn(
        f"vsssim.{name} moved to {module}.{name}; import it from there",
        DeprecationWarning,
        stacklevel=2,
    )
    return getattr(importlib.import_module(module), name)


_moved.install()

__all__ = [
    "MILLISECOND",
    "SECOND",
    "AgentOptions",
    "BackupAgent",
    "BackupComponents",
    "BackupResult",
    "BackupType",
    "Component",
    "ComponentKey",
    "ConfigurationError",
    "Context",
    "CoordinatorConfig",
    "DatabaseWriter",
    "EventContext",
    "FaultHooks",
    "FaultPlan",
    "FileDescriptor",
    "HResult",
    "NoFaults",
    "Outcome",
    "Provider",
    "ReplayError",
    "RestoreAgent",
    "RestoreOptions",
    "RestoreResult",
    "RetryPolicy",
    "Scenario",
    "ScenarioFileError",
    "SoftwareProvider",
    "Trace",
    "TraceRecord",
    "VssAsync",
    "VssError",
    "VssimError",
    "World",
    "Writer",
    "WriterFailure",
    "WriterMetadata",
    "WriterState",
    "__version__",
    "load_scenario",
    "parse_scenario",
]
