"""The management calls over JSON-RPC, after the Microsoft Learn pages of the calls (Query,
DeleteSnapshots, ExposeSnapshot, UnexposeSnapshot, BreakSnapshotSet, RevertToSnapshot): a
second object manages the copies the first made."""

from __future__ import annotations

import pytest

from tests.rpc_client import Client, RpcFailed
from vsssim.host.demo import build_demo_world


def _persistent_set(client: Client, volume: str) -> tuple[str, str, str]:
    """A VSS_CTX_NAS_ROLLBACK set of ``volume`` made and released by one object."""
    bc = client.call("CreateVssBackupComponents")["object"]
    client.call("InitializeForBackup", object=bc)
    client.call("SetContext", object=bc, context="VSS_CTX_NAS_ROLLBACK")
    set_id = client.call("StartSnapshotSet", object=bc)["snapshot_set_id"]
    snapshot = client.call("AddToSnapshotSet", object=bc, volume_name=volume)["snapshot_id"]
    assert client.wait(client.call("DoSnapshotSet", object=bc)) == "VSS_S_ASYNC_FINISHED"
    client.call("Release", object=bc)
    return bc, set_id, snapshot


def test_a_second_object_queries_exposes_reverts_and_deletes_over_json_rpc() -> None:
    """IVssBackupComponents::Query (VSS_OBJECT_SNAPSHOT, VSS_OBJECT_PROVIDER), ExposeSnapshot,
    UnexposeSnapshot, RevertToSnapshot, BreakSnapshotSet (VSS_E_PROVIDER_VETO for the system
    provider) and DeleteSnapshots (plDeletedSnapshots) from an object that made no copy."""
    world = build_demo_world(seed=1)
    volume = world.namespace.mount_points()[0][0]
    client = Client(world=world)
    _, set_id, snapshot = _persistent_set(client, volume)
    mgr = client.call("CreateVssBackupComponents")["object"]
    client.call("InitializeForBackup", object=mgr)
    client.call("SetContext", object=mgr, context="VSS_CTX_NAS_ROLLBACK")
    (copy,) = client.call("Query", object=mgr)["objects"]
    assert copy["snapshot_id"] == snapshot and copy["exposed_name"] is None
    providers = client.call("Query", object=mgr, returned_objects_type="VSS_OBJECT_PROVIDER")
    assert providers["objects"][-1]["provider_type"] == "VSS_PROV_SYSTEM"
    exposed = client.call(
        "ExposeSnapshot",
        object=mgr,
        snapshot_id=snapshot,
        attributes="VSS_VOLSNAP_ATTR_EXPOSED_LOCALLY",
        expose="X:",
    )
    assert exposed == {"exposed": "X:"}
    copy = client.call("GetSnapshotProperties", object=mgr, snapshot_id=snapshot)
    assert copy["exposed_name"] == "X:"
    client.call("UnexposeSnapshot", object=mgr, snapshot_id=snapshot)
    client.call("RevertToSnapshot", object=mgr, snapshot_id=snapshot)
    with pytest.raises(RpcFailed) as veto:
        client.call("BreakSnapshotSet", object=mgr, snapshot_set_id=set_id)
    assert veto.value.name == "VSS_E_PROVIDER_VETO"
    deleted = client.call(
        "DeleteSnapshots",
        object=mgr,
        source_object_id=set_id,
        source_object_type="VSS_OBJECT_SNAPSHOT_SET",
    )
    assert deleted["deleted_snapshots"] == 1
    assert client.call("Query", object=mgr)["objects"] == []
