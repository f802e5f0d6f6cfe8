"""The protocol's other objects and its own calls: ``IVssAsync``, ``IVssExamineWriterMetadata``,
reading files through a shadow copy's device path, and the trace.

A shadow copy is read as a backup program reads it on Windows: through its device object
(``\\\\?\\GLOBALROOT\\Device\\HarddiskVolumeShadowCopyN``) followed by the path on the volume,
and the data is the volume's as it was at the commit instant.
"""

from __future__ import annotations

import base64
from typing import Any

from vsssim.errors import HResult, VssError, VssimError
from vsssim.rpc import async_handles
from vsssim.rpc.backup_calls import ASYNC, WMD
from vsssim.rpc.host import RpcHost
from vsssim.vss.coordinator.vss_async import VssAsync
from vsssim.vss.documents.wmd_xml import metadata_to_xml
from vsssim.vss.metadata import FileDescriptor, WriterMetadata
from vsssim.vss.namespace import File, normalize
from vsssim.vss.providers.base import ShadowCopy

#: The most bytes one ``vsssim.ReadFile`` returns.
MAX_READ_BYTES = 1 << 20


def _hresult(value: HResult) -> dict[str, Any]:
    return {"hresult": int(value), "name": value.name}


def wait(host: RpcHost, args: dict[str, Any]) -> dict[str, Any]:
    """``IVssAsync.Wait``: the timeout is in simulated milliseconds (null: INFINITE). S_OK when
    the call succeeded or the time ran out, VSS_S_ASYNC_CANCELLED for a cancelled call; the
    call's own error is the error of Wait."""
    call: VssAsync = host.get(args["object"], ASYNC)
    ms = args["milliseconds"]
    result = async_handles.wait(call, None if ms is None else ms * 1000)
    if result not in (HResult.S_OK, HResult.VSS_S_ASYNC_CANCELLED):
        raise VssError(result, f"the asynchronous call {call.call} failed: {result.name}")
    return _hresult(result)


def query_status(host: RpcHost, args: dict[str, Any]) -> dict[str, Any]:
    """``IVssAsync.QueryStatus``: its ``pHrResult``."""
    call: VssAsync = host.get(args["object"], ASYNC)
    _, result = call.query_status()
    return {"hr_result": int(result), "name": result.name}


def cancel(host: RpcHost, args: dict[str, Any]) -> dict[str, Any]:
    """``IVssAsync.Cancel``: S_OK when taken, VSS_S_ASYNC_FINISHED or VSS_S_ASYNC_CANCELLED when
    the call had ended so; a call that had failed answers with its error."""
    call: VssAsync = host.get(args["object"], ASYNC)
    result = call.cancel()
    taken = (HResult.S_OK, HResult.VSS_S_ASYNC_FINISHED, HResult.VSS_S_ASYNC_CANCELLED)
    if result not in taken:
        raise VssError(result, f"the asynchronous call {call.call} had failed: {result.name}")
    return _hresult(result)


# -- IVssExamineWriterMetadata -----------------------------------------------------------------
def _wmd(host: RpcHost, args: dict[str, Any]) -> WriterMetadata:
    metadata: WriterMetadata = host.get(args["object"], WMD)
    return metadata


def get_identity(host: RpcHost, args: dict[str, Any]) -> dict[str, Any]:
    m = _wmd(host, args)
    return {
        "instance_id": str(m.writer_instance_id),
        "writer_id": str(m.writer_class_id),
        "writer_name": m.writer_name,
        "instance_name": m.instance_name,
        "usage": m.usage_type.vss_name,
        "source": m.source_type.vss_name,
    }


def get_file_counts(host: RpcHost, args: dict[str, Any]) -> dict[str, int]:
    m = _wmd(host, args)
    return {
        "include_files": 0,
        "exclude_files": len(m.excluded_files),
        "components": len(m.components),
    }


def _files(files: tuple[FileDescriptor, ...]) -> list[dict[str, Any]]:
    return [
        {
            "path": f.path,
            "filespec": f.filespec,
            "recursive": f.recursive,
            "alternate_location": f.alternate_path,  # IVssWMFiledesc::GetAlternateLocation
        }
        for f in files
    ]


def get_component(host: RpcHost, args: dict[str, Any]) -> dict[str, Any]:
    """``GetComponent`` and its ``GetComponentInfo``, flattened: the component's
    ``VSS_COMPONENTINFO`` with its file descriptors."""
    m = _wmd(host, args)
    index = args["component"]
    if index >= len(m.components):
        raise VssError(HResult.E_INVALIDARG, f"component: {index} is not below {len(m.components)}")
    c = m.components[index]
    return {
        "type": c.component_type.vss_name,
        "logical_path": c.logical_path,
        "component_name": c.name,
        "caption": c.caption,
        "selectable": c.selectable,
        "selectable_for_restore": c.selectable_for_restore,
        "files": _files(c.files),
        "database_files": _files(c.database_files),
        "database_log_files": _files(c.log_files),
        "dependencies": len(c.dependencies),
    }


def wmd_save_as_xml(host: RpcHost, args: dict[str, Any]) -> dict[str, str]:
    return {"xml": metadata_to_xml(_wmd(host, args))}


# -- reading through a shadow copy ------------------------------------------------------------
def _shadow(host: RpcHost, path: str) -> tuple[ShadowCopy, str]:
    """The shadow copy whose device object starts ``path``, and the path on its volume."""
    key = normalize(path)
    for snapshot in host.coordinator.snapshots.values():
        device = normalize(snapshot.device_object)
        if key == device or key.startswith(device + "\\"):
            if not snapshot.usable:
                raise VssError(
                    HResult.VSS_E_OBJECT_NOT_FOUND, f"{snapshot.device_object} cannot be read"
                )
            mount = host.world.namespace.mount_point_of(snapshot.volume)
            rest = path[len(snapshot.device_object) :].lstrip("\\")
            return snapshot, mount.rstrip("\\") + "\\" + rest
    raise VssError(
        HResult.VSS_E_OBJECT_NOT_FOUND, f"no shadow copy's device object starts {path!r}"
    )


def _device_path(snapshot: ShadowCopy, mount: str, file: File) -> str:
    return snapshot.device_object + "\\" + file.path[len(mount) :].lstrip("\\")


def _shadow_file(host: RpcHost, path: str) -> tuple[ShadowCopy, File]:
    snapshot, original = _shadow(host, path)
    file = host.world.namespace.find(original)
    if file is None or file.volume is not snapshot.volume:
        raise VssError(HResult.VSS_E_OBJECT_NOT_FOUND, f"no file {path!r} in the shadow copy")
    return snapshot, file


def get_volume_path_name(host: RpcHost, args: dict[str, Any]) -> dict[str, str]:
    """Win32 ``GetVolumePathName``: the mount point of the volume holding a path."""
    namespace = host.world.namespace
    try:
        volume = namespace.volume_of(args["file_name"])
    except VssimError as error:
        raise VssError(HResult.VSS_E_OBJECT_NOT_FOUND, str(error)) from None
    return {"volume_path_name": namespace.mount_point_of(volume)}


def find_files(host: RpcHost, args: dict[str, Any]) -> dict[str, list[str]]:
    """The files of a shadow copy's folder matching a file specification."""
    snapshot, folder = _shadow(host, args["path"])
    mount = host.world.namespace.mount_point_of(snapshot.volume)
    found = host.world.namespace.match(folder, args["filespec"], args["recursive"])
    return {
        "files": [_device_path(snapshot, mount, f) for f in found if f.volume is snapshot.volume]
    }


def read_file(host: RpcHost, args: dict[str, Any]) -> dict[str, Any]:
    """Bytes of a file as its shadow copy holds them (unwritten blocks read as zeros)."""
    snapshot, file = _shadow_file(host, args["path"])
    size = file.size_bytes
    offset = min(args["offset"], size)
    end = min(size, offset + args["length"])
    block_size = file.volume.block_size
    first, last = offset // block_size, (end + block_size - 1) // block_size
    data = snapshot.read_range(range(file.first_block + first, file.first_block + last))
    chunks = []
    for index in range(first, last):
        block = data.get(file.first_block + index, b"")
        chunks.append(block[:block_size].ljust(block_size, b"\x00"))
    joined = b"".join(chunks)[offset - first * block_size : end - first * block_size]
    return {"data": base64.b64encode(joined).decode("ascii"), "size": size}


def read_blocks(host: RpcHost, args: dict[str, Any]) -> dict[str, Any]:
    """The written blocks of a file as its shadow copy holds them (the rest reads as zeros)."""
    snapshot, file = _shadow_file(host, args["path"])
    data = snapshot.read_range(file.volume_blocks())
    return {
        "size": file.size_bytes,
        "block_size": file.volume.block_size,
        "blocks": [
            [block - file.first_block, base64.b64encode(content).decode("ascii")]
            for block, content in sorted(data.items())
        ],
    }


# -- the trace and the clock --------------------------------------------------------------------
def get_trace(host: RpcHost, args: dict[str, Any]) -> dict[str, Any]:
    records = host.sim.trace.records
    since = min(args["since"], len(records))
    return {"records": [r.to_dict() for r in records[since:]], "next": len(records)}


def subscribe_trace(host: RpcHost, args: dict[str, Any]) -> dict[str, int]:
    host.streaming = args["enabled"]
    host.notifications()  # the records so far are not streamed: GetTrace has them
    return {"next": len(host.sim.trace.records)}


def get_time(host: RpcHost, args: dict[str, Any]) -> dict[str, int]:
    return {"now_us": host.sim.now}
