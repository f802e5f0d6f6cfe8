"""A small JSON-RPC client of ``vsssim serve`` for the tests: over a pipe to a server process,
or straight into an in-process :class:`~vsssim.rpc.host.RpcHost` (same bytes, no process)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from vsssim.host.world import World
from vsssim.rpc.host import RpcHost
from vsssim.rpc.methods import METHODS

ROOT = Path(__file__).parent.parent


class RpcFailed(Exception):
    """The server answered with a JSON-RPC error."""

    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(error["message"])
        self.error = error
        self.code: int = error["code"]
        self.name: str | None = error.get("data", {}).get("name")


class Client:
    """Calls by name: ``client.call("DoSnapshotSet", object=bc)``."""

    def __init__(self, *, world: World | None = None, args: tuple[str, ...] = ()) -> None:
        self.host = RpcHost(world, METHODS) if world is not None else None
        self.process = None
        if world is None:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "vsssim", "serve", *args, "--stdio"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                cwd=ROOT,
            )
        self.next_id = 0
        self.notifications: list[dict[str, Any]] = []

    def send_line(self, line: bytes) -> list[dict[str, Any]]:
        """The messages one raw line gets back (notifications first)."""
        if self.host is not None:
            return [json.loads(out) for out in self.host.handle_line(line.rstrip(b"\n"))]
        assert self.process is not None and self.process.stdin and self.process.stdout
        self.process.stdin.write(line if line.endswith(b"\n") else line + b"\n")
        self.process.stdin.flush()
        out = []
        while True:
            message = json.loads(self.process.stdout.readline())
            out.append(message)
            if "id" in message:
                return out

    def call(self, method: str, **params: Any) -> Any:
        self.next_id += 1
        request = {"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params}
        messages = self.send_line(json.dumps(request).encode())
        self.notifications += [m for m in messages if "id" not in m]
        answer = messages[-1]
        assert answer["id"] == self.next_id
        if "error" in answer:
            raise RpcFailed(answer["error"])
        return answer["result"]

    def wait(self, started: dict[str, str], milliseconds: int | None = None) -> str:
        """Wait for an asynchronous call; its QueryStatus name."""
        handle = started["async"]
        self.call("IVssAsync.Wait", object=handle, milliseconds=milliseconds)
        return str(self.call("IVssAsync.QueryStatus", object=handle)["name"])

    def close(self) -> int:
        """Disconnect: the server runs down what the client left; the exit status."""
        if self.host is not None:
            self.host.close()
            return 0
        assert self.process is not None and self.process.stdin
        self.process.stdin.close()
        return self.process.wait(timeout=60)


def component_args(identity: dict[str, Any], component: dict[str, Any]) -> dict[str, Any]:
    """The parameters that name ``component`` of the writer ``identity``."""
    return {
        "instance_id": identity["instance_id"],
        "writer_id": identity["writer_id"],
        "component_type": component["type"],
        "logical_path": component["logical_path"],
        "component_name": component["component_name"],
    }


def find_component(client: Client, bc: str, writer: str, name: str) -> tuple[dict, dict]:
    """The identity of ``writer`` and its component ``name``, from the gathered metadata."""
    for index in range(client.call("GetWriterMetadataCount", object=bc)["writers"]):
        wmd = client.call("GetWriterMetadata", object=bc, writer=index)["metadata"]
        identity = client.call("IVssExamineWriterMetadata.GetIdentity", object=wmd)
        if identity["writer_name"] != writer:
            continue
        counts = client.call("IVssExamineWriterMetadata.GetFileCounts", object=wmd)
        for c in range(counts["components"]):
            component = client.call(
                "IVssExamineWriterMetadata.GetComponent", object=wmd, component=c
            )
            if component["component_name"] == name:
                return identity, component
    raise AssertionError(f"no component {writer}:{name}")


def gathered(
    client: Client, *, select_components: bool = True, backup_type: str = "VSS_BT_FULL"
) -> str:
    """A new backup components object up to GatherWriterMetadata (done): its handle."""
    bc = client.call("CreateVssBackupComponents")["object"]
    client.call("InitializeForBackup", object=bc)
    client.call(
        "SetBackupState",
        object=bc,
        select_components=select_components,
        backup_bootable_system_state=False,
        backup_type=backup_type,
    )
    assert client.wait(client.call("GatherWriterMetadata", object=bc)) == "VSS_S_ASYNC_FINISHED"
    return str(bc)


def start_backup(client: Client, *, select: str = "Sales") -> tuple[str, dict, dict, dict]:
    """A component-mode full backup up to AddToSnapshotSet (the VSS order): the object, the
    writer identity, the component selected, and the shadow copy id of each volume."""
    bc = gathered(client)
    identity, component = find_component(client, bc, "SqlServerWriter", select)
    client.call("AddComponent", object=bc, **component_args(identity, component))
    client.call("StartSnapshotSet", object=bc)
    volumes = sorted(
        {
            client.call("vsssim.GetVolumePathName", file_name=f["path"])["volume_path_name"]
            for f in component["files"]
        }
    )
    ids = {
        volume: client.call("AddToSnapshotSet", object=bc, volume_name=volume)["snapshot_id"]
        for volume in volumes
    }
    return bc, identity, component, ids
