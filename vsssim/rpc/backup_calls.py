"""The ``IVssBackupComponents`` methods of the protocol: each decodes nothing itself (the table's
parameters did), calls the session as a requester would, and answers plain JSON.

An asynchronous call answers ``{"async": handle}`` (an ``IVssAsync`` object); a synchronous call
that has simulated work to do (``AbortBackup``, ``Release``) runs the simulation until that work
is done before it answers.
"""

from __future__ import annotations

import uuid
from typing import Any

import attrs

from vsssim.errors import HResult, VssError
from vsssim.rpc.async_handles import as_handle
from vsssim.rpc.host import RpcHost
from vsssim.rpc.params import ObjectType
from vsssim.sim.kernel import Process
from vsssim.sim.trace import to_json_value
from vsssim.vss.coordinator import component_calls
from vsssim.vss.coordinator.management import ProviderProperties
from vsssim.vss.coordinator.service import SnapshotProperties, WriterStatus
from vsssim.vss.coordinator.session import BackupComponents
from vsssim.vss.coordinator.vss_async import VssAsync
from vsssim.vss.metadata import WriterMetadata

BC = "IVssBackupComponents"
ASYNC = "IVssAsync"
WMD = "IVssExamineWriterMetadata"
GUID_NULL = uuid.UUID(int=0)


@attrs.define(eq=False)
class BackupObject:
    """What the server keeps of one ``IVssBackupComponents``: the session, and its last
    GatherWriterMetadata and GatherWriterStatus calls (the counts and getters read them)."""

    bc: BackupComponents
    gather: Process | None = None
    status: Process | None = None


def _bc(host: RpcHost, args: dict[str, Any]) -> BackupComponents:
    obj: BackupObject = host.get(args["object"], BC)
    return obj.bc


def _async(host: RpcHost, process: VssAsync) -> dict[str, str]:
    return {"async": host.add(ASYNC, as_handle(process))}


def create(host: RpcHost, args: dict[str, Any]) -> dict[str, str]:
    """``CreateVssBackupComponents``."""
    host.requesters += 1
    bc = host.coordinator.create_backup_components(f"RPC requester {host.requesters}")
    return {"object": host.add(BC, BackupObject(bc))}


def initialize_for_backup(host: RpcHost, args: dict[str, Any]) -> None:
    _bc(host, args).initialize_for_backup(args["xml"])


def set_context(host: RpcHost, args: dict[str, Any]) -> None:
    _bc(host, args).set_context(args["context"])


def set_backup_state(host: RpcHost, args: dict[str, Any]) -> None:
    _bc(host, args).set_backup_state(
        args["select_components"],
        args["backup_bootable_system_state"],
        args["backup_type"],
        args["partial_file_support"],
    )


def gather_writer_metadata(host: RpcHost, args: dict[str, Any]) -> dict[str, str]:
    obj: BackupObject = host.get(args["object"], BC)
    obj.gather = obj.bc.gather_writer_metadata()
    return _async(host, obj.gather)


def _finished(process: Process | None, call: str) -> Any:
    if process is None or process.is_alive or not process.ok:
        raise VssError(HResult.VSS_E_BAD_STATE, f"{call} has not completed on this object")
    return process.value


def _metadata(host: RpcHost, args: dict[str, Any]) -> list[WriterMetadata]:
    obj: BackupObject = host.get(args["object"], BC)
    found: list[WriterMetadata] = _finished(obj.gather, "GatherWriterMetadata")
    return found


def get_writer_metadata_count(host: RpcHost, args: dict[str, Any]) -> dict[str, int]:
    return {"writers": len(_metadata(host, args))}


def get_writer_metadata(host: RpcHost, args: dict[str, Any]) -> dict[str, str]:
    found = _metadata(host, args)
    index = args["writer"]
    if index >= len(found):
        raise VssError(HResult.E_INVALIDARG, f"writer: {index} is not below {len(found)}")
    metadata = found[index]
    return {"instance_id": str(metadata.writer_instance_id), "metadata": host.add(WMD, metadata)}


def _identity(args: dict[str, Any]) -> dict[str, Any]:
    """The instance id (GUID_NULL: not given) and the component type of a component call."""
    instance = args["instance_id"]
    return {
        "instance_id": None if instance == GUID_NULL else instance,
        "component_type": args["component_type"],
    }


def _component(host: RpcHost, args: dict[str, Any]) -> tuple[BackupComponents, uuid.UUID]:
    """The session and writer class of a call that names a component, with the instance id
    and component type checked as AddComponent checks them (when the session has metadata)."""
    bc = _bc(host, args)
    writer_id: uuid.UUID = args["writer_id"]
    metadata = bc.documents.find(writer_id, None)
    if metadata is not None:  # without, the session tells what is wrong (state, no such writer)
        component = metadata.component(args["logical_path"], args["component_name"])
        component_calls.check_identity(metadata, component, **_identity(args))
    return bc, writer_id


def add_component(host: RpcHost, args: dict[str, Any]) -> None:
    _bc(host, args).add_component(
        args["writer_id"], args["logical_path"], args["component_name"], **_identity(args)
    )


def start_snapshot_set(host: RpcHost, args: dict[str, Any]) -> dict[str, str]:
    return {"snapshot_set_id": str(_bc(host, args).start_snapshot_set())}


def add_to_snapshot_set(host: RpcHost, args: dict[str, Any]) -> dict[str, str]:
    provider = args["provider_id"]
    provider = None if provider == GUID_NULL else provider
    snapshot = _bc(host, args).add_to_snapshot_set(args["volume_name"], provider)
    return {"snapshot_id": str(snapshot)}


def is_volume_supported(host: RpcHost, args: dict[str, Any]) -> dict[str, bool]:
    provider = args["provider_id"]
    provider = None if provider == GUID_NULL else provider
    supported = _bc(host, args).is_volume_supported(args["volume_name"], provider)
    return {"supported_by_this_provider": supported}


def prepare_for_backup(host: RpcHost, args: dict[str, Any]) -> dict[str, str]:
    return _async(host, _bc(host, args).prepare_for_backup())


def do_snapshot_set(host: RpcHost, args: dict[str, Any]) -> dict[str, str]:
    return _async(host, _bc(host, args).do_snapshot_set())


def gather_writer_status(host: RpcHost, args: dict[str, Any]) -> dict[str, str]:
    obj: BackupObject = host.get(args["object"], BC)
    obj.status = obj.bc.gather_writer_status()
    return _async(host, obj.status)


def _statuses(host: RpcHost, args: dict[str, Any]) -> list[WriterStatus]:
    obj: BackupObject = host.get(args["object"], BC)
    found: list[WriterStatus] = _finished(obj.status, "GatherWriterStatus")
    return found


def get_writer_status_count(host: RpcHost, args: dict[str, Any]) -> dict[str, int]:
    return {"writers": len(_statuses(host, args))}


def get_writer_status(host: RpcHost, args: dict[str, Any]) -> dict[str, Any]:
    found = _statuses(host, args)
    index = args["writer"]
    if index >= len(found):
        raise VssError(HResult.E_INVALIDARG, f"writer: {index} is not below {len(found)}")
    s = found[index]
    return {
        "instance_id": str(s.writer_instance_id),
        "writer_id": str(s.writer_class_id),
        "writer": s.writer_name,
        "status": s.state.vss_name,
        "hr_result_failure": int(s.failure),
        "failure_name": s.failure.name,
    }


def properties(props: SnapshotProperties) -> dict[str, Any]:
    """``VSS_SNAPSHOT_PROP`` as JSON (its member names without their prefixes)."""
    return {
        "snapshot_id": str(props.snapshot_id),
        "snapshot_set_id": str(props.snapshot_set_id),
        "snapshots_count": props.snapshots_count,
        "snapshot_device_object": props.snapshot_device_object,
        "original_volume_name": props.original_volume_name,
        "originating_machine": props.originating_machine,
        "provider_id": str(props.provider_id),
        "snapshot_attributes": int(props.attributes),
        "creation_timestamp_us": props.creation_time_us,
        "status": to_json_value(props.state),
        "exposed_name": props.exposed_name,
        "exposed_path": props.exposed_path,
    }


def get_snapshot_properties(host: RpcHost, args: dict[str, Any]) -> dict[str, Any]:
    return properties(_bc(host, args).get_snapshot_properties(args["snapshot_id"]))


def set_backup_succeeded(host: RpcHost, args: dict[str, Any]) -> None:
    bc, writer = _component(host, args)
    bc.set_backup_succeeded(writer, args["logical_path"], args["component_name"], args["succeded"])


def backup_complete(host: RpcHost, args: dict[str, Any]) -> dict[str, str]:
    return _async(host, _bc(host, args).backup_complete())


def abort_backup(host: RpcHost, args: dict[str, Any]) -> None:
    host.finish(_bc(host, args).abort_backup())


def delete_snapshots(host: RpcHost, args: dict[str, Any]) -> dict[str, Any]:
    """``DeleteSnapshots``: the model's (a provider's failure part way is the error, with the
    count deleted and the copy left in its message)."""
    deleted = _bc(host, args).delete_snapshots(
        args["source_object_id"], args["source_object_type"], args["force_delete"]
    )
    return {"deleted_snapshots": deleted, "non_deleted_snapshot_id": str(GUID_NULL)}


def query(host: RpcHost, args: dict[str, Any]) -> dict[str, Any]:
    """``Query``: the shadow copies of the object's context (of one set, or one shadow copy, if
    named: vsssim's filter), or the providers."""
    bc = _bc(host, args)
    if args["queried_object_type"] != ObjectType.NONE:
        raise VssError(HResult.E_INVALIDARG, "queried_object_type: only VSS_OBJECT_NONE")
    kind: ObjectType = args["returned_objects_type"]
    found = bc.query(kind)
    if kind == ObjectType.PROVIDER:
        return {"objects": [_provider(p) for p in found if isinstance(p, ProviderProperties)]}
    wanted: uuid.UUID = args["queried_object_id"]
    return {
        "objects": [
            properties(p)
            for p in found
            if isinstance(p, SnapshotProperties)
            and (wanted == GUID_NULL or wanted in (p.snapshot_id, p.snapshot_set_id))
        ]
    }


def _provider(props: ProviderProperties) -> dict[str, Any]:
    return {
        "provider_id": str(props.provider_id),
        "provider_name": props.provider_name,
        "provider_type": props.provider_type.vss_name,
        "provider_version": props.provider_version,
    }


def expose_snapshot(host: RpcHost, args: dict[str, Any]) -> dict[str, str]:
    exposed = _bc(host, args).expose_snapshot(
        args["snapshot_id"], args["path_from_root"], args["attributes"], args["expose"]
    )
    return {"exposed": exposed}


def unexpose_snapshot(host: RpcHost, args: dict[str, Any]) -> None:
    _bc(host, args).unexpose_snapshot(args["snapshot_id"])


def break_snapshot_set(host: RpcHost, args: dict[str, Any]) -> None:
    _bc(host, args).break_snapshot_set(args["snapshot_set_id"])


def break_snapshot_set_ex(host: RpcHost, args: dict[str, Any]) -> dict[str, str]:
    return _async(
        host, _bc(host, args).break_snapshot_set_ex(args["snapshot_set_id"], args["break_flags"])
    )


def import_snapshots(host: RpcHost, args: dict[str, Any]) -> dict[str, str]:
    return _async(host, _bc(host, args).import_snapshots())


def revert_to_snapshot(host: RpcHost, args: dict[str, Any]) -> None:
    _bc(host, args).revert_to_snapshot(args["snapshot_id"], args["force_dismount"])


def save_as_xml(host: RpcHost, args: dict[str, Any]) -> dict[str, str]:
    return {"xml": _bc(host, args).save_as_xml()}


def initialize_for_restore(host: RpcHost, args: dict[str, Any]) -> None:
    _bc(host, args).initialize_for_restore(args["xml"])


def set_selected_for_restore(host: RpcHost, args: dict[str, Any]) -> None:
    bc, writer = _component(host, args)
    bc.set_selected_for_restore(
        writer, args["logical_path"], args["component_name"], args["selected_for_restore"]
    )


def set_additional_restores(host: RpcHost, args: dict[str, Any]) -> None:
    bc, writer = _component(host, args)
    bc.set_additional_restores(
        writer, args["logical_path"], args["component_name"], args["additional_restores"]
    )


def pre_restore(host: RpcHost, args: dict[str, Any]) -> dict[str, str]:
    return _async(host, _bc(host, args).pre_restore())


def set_file_restore_status(host: RpcHost, args: dict[str, Any]) -> None:
    bc, writer = _component(host, args)
    bc.set_file_restore_status(writer, args["logical_path"], args["component_name"], args["status"])


def post_restore(host: RpcHost, args: dict[str, Any]) -> dict[str, str]:
    return _async(host, _bc(host, args).post_restore())


def release(host: RpcHost, args: dict[str, Any]) -> None:
    """``Release``: the object's release (OnBackupShutdown...) runs to its end, the handle
    is gone."""
    process = _bc(host, args).release()
    host.drop(args["object"])
    host.finish(process)
