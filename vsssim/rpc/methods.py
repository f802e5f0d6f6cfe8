"""The one method table: every method's name, meaning, parameters and result. The server
dispatches on it, ``rpc.discover`` describes it (OpenRPC), and docs/rpc.md is written from it.

Methods are named as Microsoft names them: ``IVssBackupComponents`` calls by their own name
(``DoSnapshotSet``), the other interfaces' calls with the interface in front
(``IVssAsync.Wait``); vsssim's own calls start ``vsssim.``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vsssim.rpc import backup_calls as B
from vsssim.rpc import object_calls as O
from vsssim.rpc.async_handles import WAIT_LIMIT_US
from vsssim.rpc.host import Method, RpcHost
from vsssim.rpc.object_calls import MAX_READ_BYTES
from vsssim.rpc.openrpc import openrpc_document
from vsssim.rpc.params import ObjectType, Param
from vsssim.vss.constants import (
    BackupType,
    ComponentType,
    Context,
    HardwareOptions,
    RestoreStatus,
    SnapshotAttr,
)

NULL: dict[str, Any] = {"type": "null"}


def _result(**properties: str) -> dict[str, Any]:
    """An object result: each property's JSON type."""
    return {
        "type": "object",
        "properties": {k: {"type": v} for k, v in properties.items()},
        "required": sorted(properties),
    }


def _obj(interface: str) -> Param:
    return Param("object", "object", f"the {interface} handle", interface=interface)


BC, ASYNC_OBJ, WMD_OBJ = _obj(B.BC), _obj(B.ASYNC), _obj(B.WMD)
ASYNC = _result(**{"async": "string"})
HRESULT = _result(hresult="integer", name="string")

#: The parameters that name a component (AddComponent's, SetBackupSucceeded's...).
COMPONENT = (
    BC,
    Param("instance_id", "guid", "the writer instance (null: the writer's only one)", None),
    Param("writer_id", "guid", "the writer class"),
    Param("component_type", "enum", "VSS_CT_DATABASE or VSS_CT_FILEGROUP", enums=(ComponentType,)),
    Param("logical_path", "string", "the component's logical path (may be empty)"),
    Param("component_name", "string", "the component's name"),
)


def _discover(host: RpcHost, args: dict[str, Any]) -> dict[str, Any]:
    return openrpc_document(host.methods)


def _m(name: str, summary: str, handler: Any, *params: Param, result: Any = NULL) -> Method:
    return Method(name, summary, tuple(params), result, handler)


_BACKUP = (
    _m(
        "CreateVssBackupComponents",
        "A new IVssBackupComponents object.",
        B.create,
        result=_result(object="string"),
    ),
    _m(
        "InitializeForBackup",
        "Start a backup session.",
        B.initialize_for_backup,
        BC,
        Param(
            "xml",
            "string",
            "null, or a transportable set's Backup Components Document to import",
            None,
            nullable=True,
        ),
    ),
    _m(
        "SetContext",
        "The kind of shadow copies the session creates.",
        B.set_context,
        BC,
        Param(
            "context",
            "flags",
            "a VSS_CTX_* value, maybe with VSS_VOLSNAP_ATTR_* bits",
            enums=(Context, SnapshotAttr),
        ),
    ),
    _m(
        "SetBackupState",
        "Component mode, system state, backup type, partial files.",
        B.set_backup_state,
        BC,
        Param("select_components", "bool", "component mode"),
        Param("backup_bootable_system_state", "bool", "back up the system state"),
        Param("backup_type", "enum", "a VSS_BT_* value", enums=(BackupType,)),
        Param("partial_file_support", "bool", "the requester takes partial files", False),
    ),
    _m(
        "GatherWriterMetadata",
        "OnIdentify to every writer (asynchronous).",
        B.gather_writer_metadata,
        BC,
        result=ASYNC,
    ),
    _m(
        "GetWriterMetadataCount",
        "How many writers answered GatherWriterMetadata.",
        B.get_writer_metadata_count,
        BC,
        result=_result(writers="integer"),
    ),
    _m(
        "GetWriterMetadata",
        "One writer's metadata: an IVssExamineWriterMetadata object.",
        B.get_writer_metadata,
        BC,
        Param("writer", "int", "the writer's index"),
        result=_result(instance_id="string", metadata="string"),
    ),
    _m("AddComponent", "Select a component for backup.", B.add_component, *COMPONENT),
    _m(
        "StartSnapshotSet",
        "Begin a shadow copy set (one is created at a time).",
        B.start_snapshot_set,
        BC,
        result=_result(snapshot_set_id="string"),
    ),
    _m(
        "AddToSnapshotSet",
        "Add the volume holding a path to the set.",
        B.add_to_snapshot_set,
        BC,
        Param("volume_name", "string", "a path on the volume, e.g. D:\\"),
        Param("provider_id", "guid", "the provider (null: VSS chooses)", None),
        result=_result(snapshot_id="string"),
    ),
    _m(
        "IsVolumeSupported",
        "Whether a provider can shadow-copy a volume.",
        B.is_volume_supported,
        BC,
        Param("provider_id", "guid", "the provider (null: any)", None),
        Param("volume_name", "string", "a path on the volume"),
        result=_result(supported_by_this_provider="boolean"),
    ),
    _m(
        "PrepareForBackup",
        "OnPrepareBackup to the writers taking part (asynchronous).",
        B.prepare_for_backup,
        BC,
        result=ASYNC,
    ),
    _m(
        "DoSnapshotSet",
        "Create the shadow copy set (asynchronous).",
        B.do_snapshot_set,
        BC,
        result=ASYNC,
    ),
    _m(
        "GatherWriterStatus",
        "Ask every writer its state (asynchronous).",
        B.gather_writer_status,
        BC,
        result=ASYNC,
    ),
    _m(
        "GetWriterStatusCount",
        "How many writers GatherWriterStatus reported.",
        B.get_writer_status_count,
        BC,
        result=_result(writers="integer"),
    ),
    _m(
        "GetWriterStatus",
        "One writer's VSS_WS_* state and failure.",
        B.get_writer_status,
        BC,
        Param("writer", "int", "the writer's index"),
        result=_result(
            instance_id="string",
            writer_id="string",
            writer="string",
            status="string",
            hr_result_failure="integer",
            failure_name="string",
        ),
    ),
    _m(
        "GetSnapshotProperties",
        "A shadow copy's VSS_SNAPSHOT_PROP.",
        B.get_snapshot_properties,
        BC,
        Param("snapshot_id", "guid", "the shadow copy"),
        result={"type": "object"},
    ),
    _m(
        "SetBackupSucceeded",
        "Whether the requester backed a component up.",
        B.set_backup_succeeded,
        *COMPONENT,
        Param("succeded", "bool", "backed up (bSucceded: the SDK's spelling)"),
    ),
    _m(
        "BackupComplete",
        "OnBackupComplete to the writers taking part (asynchronous).",
        B.backup_complete,
        BC,
        result=ASYNC,
    ),
    _m("AbortBackup", "OnAbort to the writers; an unfinished set is deleted.", B.abort_backup, BC),
    _m(
        "DeleteSnapshots",
        "Delete a shadow copy or a whole set.",
        B.delete_snapshots,
        BC,
        Param("source_object_id", "guid", "the shadow copy or set"),
        Param(
            "source_object_type",
            "enum",
            "VSS_OBJECT_SNAPSHOT or VSS_OBJECT_SNAPSHOT_SET",
            enums=(ObjectType,),
        ),
        Param("force_delete", "bool", "the provider does all it can", False),
        result=_result(deleted_snapshots="integer", non_deleted_snapshot_id="string"),
    ),
    _m(
        "Query",
        "The shadow copies that exist (VSS_SNAPSHOT_PROP each).",
        B.query,
        BC,
        Param("queried_object_id", "guid", "a set or shadow copy (GUID_NULL: all)", B.GUID_NULL),
        Param(
            "queried_object_type", "enum", "VSS_OBJECT_NONE", ObjectType.NONE, enums=(ObjectType,)
        ),
        Param(
            "returned_objects_type",
            "enum",
            "VSS_OBJECT_SNAPSHOT or VSS_OBJECT_PROVIDER",
            ObjectType.SNAPSHOT,
            enums=(ObjectType,),
        ),
        result=_result(objects="array"),
    ),
    _m(
        "ExposeSnapshot",
        "Expose a shadow copy (read-only) as a drive letter, mounted folder or share.",
        B.expose_snapshot,
        BC,
        Param("snapshot_id", "guid", "the shadow copy"),
        Param("path_from_root", "string", "the part a share shows (null: locally)", None),
        Param(
            "attributes",
            "flags",
            "VSS_VOLSNAP_ATTR_EXPOSED_LOCALLY or VSS_VOLSNAP_ATTR_EXPOSED_REMOTELY",
            enums=(SnapshotAttr,),
        ),
        Param(
            "expose", "string", "X:, a mounted folder or a share name (null: VSS names it)", None
        ),
        result=_result(exposed="string"),
    ),
    _m(
        "UnexposeSnapshot",
        "Remove a shadow copy's drive letter, mounted folder or share.",
        B.unexpose_snapshot,
        BC,
        Param("snapshot_id", "guid", "the shadow copy"),
    ),
    _m(
        "BreakSnapshotSet",
        "VSS forgets a hardware set: its copies stay as volumes of their own.",
        B.break_snapshot_set,
        BC,
        Param("snapshot_set_id", "guid", "the shadow copy set"),
    ),
    _m(
        "BreakSnapshotSetEx",
        "BreakSnapshotSet with VSS_BREAKEX_FLAG_* options (asynchronous).",
        B.break_snapshot_set_ex,
        BC,
        Param("snapshot_set_id", "guid", "the shadow copy set"),
        Param("break_flags", "flags", "VSS_BREAKEX_FLAG_* bits", 0, enums=(HardwareOptions,)),
        result=ASYNC,
    ),
    _m(
        "ImportSnapshots",
        "Import the transportable set of InitializeForBackup's document (asynchronous).",
        B.import_snapshots,
        BC,
        result=ASYNC,
    ),
    _m(
        "RevertToSnapshot",
        "Put a volume back as a persistent shadow copy holds it.",
        B.revert_to_snapshot,
        BC,
        Param("snapshot_id", "guid", "the shadow copy"),
        Param("force_dismount", "bool", "dismount the volume even if in use", False),
    ),
    _m(
        "SaveAsXML",
        "The Backup Components Document.",
        B.save_as_xml,
        BC,
        result=_result(xml="string"),
    ),
    _m(
        "InitializeForRestore",
        "Start a restore from a Backup Components Document.",
        B.initialize_for_restore,
        BC,
        Param("xml", "string", "the document's XML"),
    ),
    _m(
        "SetSelectedForRestore",
        "Choose (or drop) a component of the document.",
        B.set_selected_for_restore,
        *COMPONENT,
        Param("selected_for_restore", "bool", "selected"),
    ),
    _m(
        "SetAdditionalRestores",
        "Whether more restores of the component follow.",
        B.set_additional_restores,
        *COMPONENT,
        Param("additional_restores", "bool", "more restores follow"),
    ),
    _m(
        "PreRestore", "OnPreRestore to the writers (asynchronous).", B.pre_restore, BC, result=ASYNC
    ),
    _m(
        "SetFileRestoreStatus",
        "Whether all, none or some files were restored.",
        B.set_file_restore_status,
        *COMPONENT,
        Param("status", "enum", "a VSS_RS_* value", enums=(RestoreStatus,)),
    ),
    _m(
        "PostRestore",
        "OnPostRestore to the writers (asynchronous).",
        B.post_restore,
        BC,
        result=ASYNC,
    ),
    _m(
        "Release",
        "Release the object (OnBackupShutdown; auto-release copies deleted).",
        B.release,
        BC,
    ),
)

_OTHERS = (
    _m(
        "IVssAsync.Wait",
        "Run the simulation until the call is done or the timeout passes.",
        O.wait,
        ASYNC_OBJ,
        Param(
            "milliseconds",
            "int",
            "simulated milliseconds (null: INFINITE, that is one simulated hour at most)",
            None,
            nullable=True,
            maximum=WAIT_LIMIT_US // 1000,
        ),
        result=HRESULT,
    ),
    _m(
        "IVssAsync.QueryStatus",
        "VSS_S_ASYNC_PENDING, VSS_S_ASYNC_FINISHED, VSS_S_ASYNC_CANCELLED or the failure.",
        O.query_status,
        ASYNC_OBJ,
        result=_result(hr_result="integer", name="string"),
    ),
    _m(
        "IVssAsync.Cancel",
        "Cancel the call: queries stop, PrepareForBackup and DoSnapshotSet before the commit "
        "abort the backup; other calls run on.",
        O.cancel,
        ASYNC_OBJ,
        result=HRESULT,
    ),
    _m(
        "IVssExamineWriterMetadata.GetIdentity",
        "The writer's ids, name, usage and source.",
        O.get_identity,
        WMD_OBJ,
        result={"type": "object"},
    ),
    _m(
        "IVssExamineWriterMetadata.GetFileCounts",
        "How many components and excluded files.",
        O.get_file_counts,
        WMD_OBJ,
        result=_result(include_files="integer", exclude_files="integer", components="integer"),
    ),
    _m(
        "IVssExamineWriterMetadata.GetComponent",
        "One component's VSS_COMPONENTINFO and files.",
        O.get_component,
        WMD_OBJ,
        Param("component", "int", "the component's index"),
        result={"type": "object"},
    ),
    _m(
        "IVssExamineWriterMetadata.SaveAsXML",
        "The Writer Metadata Document.",
        O.wmd_save_as_xml,
        WMD_OBJ,
        result=_result(xml="string"),
    ),
    _m(
        "vsssim.GetVolumePathName",
        "The mount point of the volume holding a path.",
        O.get_volume_path_name,
        Param("file_name", "string", "a path"),
        result=_result(volume_path_name="string"),
    ),
    _m(
        "vsssim.FindFiles",
        "Files of a shadow copy's folder matching a file specification.",
        O.find_files,
        Param("path", "string", "a folder under a shadow copy's device object"),
        Param("filespec", "string", "a name with * and ? wildcards", "*"),
        Param("recursive", "bool", "below the folder too", False),
        result=_result(files="array"),
    ),
    _m(
        "vsssim.ReadFile",
        "Bytes of a file through a shadow copy (base64).",
        O.read_file,
        Param("path", "string", "a file under a shadow copy's device object"),
        Param("offset", "int", "the first byte", 0),
        Param("length", "int", "how many bytes", 65536, maximum=MAX_READ_BYTES),
        result=_result(data="string", size="integer"),
    ),
    _m(
        "vsssim.ReadBlocks",
        "The written blocks of a file through a shadow copy.",
        O.read_blocks,
        Param("path", "string", "a file under a shadow copy's device object"),
        result=_result(size="integer", block_size="integer", blocks="array"),
    ),
    _m(
        "vsssim.GetTrace",
        "The trace records from a sequence number on.",
        O.get_trace,
        Param("since", "int", "the first record's index", 0),
        result=_result(records="array", next="integer"),
    ),
    _m(
        "vsssim.SubscribeTrace",
        "Stream the later records as vsssim.trace notifications.",
        O.subscribe_trace,
        Param("enabled", "bool", "on or off", True),
        result=_result(next="integer"),
    ),
    _m("vsssim.GetTime", "The simulated clock.", O.get_time, result=_result(now_us="integer")),
    _m(
        "rpc.discover",
        "This protocol as an OpenRPC document.",
        _discover,
        result={"type": "object"},
    ),
)

#: Every method, by name, in the order the documentation lists them.
METHODS: Mapping[str, Method] = {m.name: m for m in (*_BACKUP, *_OTHERS)}
