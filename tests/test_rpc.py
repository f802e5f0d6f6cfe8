"""``vsssim serve``: a requester driving the simulated VSS over JSON-RPC 2.0, one message a line.

The calls follow the order of "Overview of Processing a Backup Under VSS" (Microsoft Learn):
InitializeForBackup, SetBackupState, GatherWriterMetadata, AddComponent, StartSnapshotSet,
AddToSnapshotSet, PrepareForBackup, DoSnapshotSet, GatherWriterStatus, BackupComplete; the
IVssAsync calls follow "IVssAsync::Wait", "IVssAsync::QueryStatus" and "IVssAsync::Cancel".
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
import time

import pytest

from tests.rpc_client import (
    ROOT,
    Client,
    RpcFailed,
    component_args,
    find_component,
    gathered,
    start_backup,
)
from vsssim.cli.serve import world_factory
from vsssim.host.demo import build_demo_world
from vsssim.rpc import framing
from vsssim.rpc.backup_calls import GUID_NULL
from vsssim.rpc.methods import METHODS
from vsssim.rpc.openrpc import markdown
from vsssim.sim import vocabulary as V
from vsssim.testing.invariants.liveness import quiescence


@pytest.fixture(scope="module")
def served() -> Client:
    """One server process for the tests of bad input: it must keep answering after each."""
    client = Client()
    yield client
    assert client.close() == 0


def _error(client: Client, line: bytes) -> dict:
    (answer,) = client.send_line(line)
    assert "result" not in answer
    return answer["error"]


# -- a whole backup through the pipe --------------------------------------------------------------
def test_a_component_mode_full_backup_through_the_pipe(served: Client) -> None:
    """The SQL Server writer's Sales database backed up, read through the shadow copies'
    device paths, the writers' status checked, the document saved."""
    client = served
    bc, identity, component, ids = start_backup(client)
    assert client.wait(client.call("PrepareForBackup", object=bc)) == "VSS_S_ASYNC_FINISHED"
    assert client.wait(client.call("DoSnapshotSet", object=bc)) == "VSS_S_ASYNC_FINISHED"
    assert client.wait(client.call("GatherWriterStatus", object=bc)) == "VSS_S_ASYNC_FINISHED"
    statuses = [
        client.call("GetWriterStatus", object=bc, writer=i)
        for i in range(client.call("GetWriterStatusCount", object=bc)["writers"])
    ]
    sql = next(s for s in statuses if s["writer"] == "SqlServerWriter")
    assert sql["status"] == "VSS_WS_WAITING_FOR_BACKUP_COMPLETE" and sql["hr_result_failure"] == 0
    assert all(s["status"] == "VSS_WS_STABLE" for s in statuses if s is not sql)
    copies = client.call("Query", object=bc)["objects"]
    assert len(copies) == 2 and all(c["status"] == "VSS_SS_CREATED" for c in copies)
    for descriptor in component["files"]:
        volume = client.call("vsssim.GetVolumePathName", file_name=descriptor["path"])
        snapshot_id = ids[volume["volume_path_name"]]
        copy = client.call("GetSnapshotProperties", object=bc, snapshot_id=snapshot_id)
        assert copy in copies
        folder = copy["snapshot_device_object"] + "\\" + descriptor["path"][3:]
        found = client.call("vsssim.FindFiles", path=folder, filespec=descriptor["filespec"])
        (path,) = found["files"]
        blocks = client.call("vsssim.ReadBlocks", path=path)
        original = descriptor["path"] + "\\" + descriptor["filespec"]
        first = base64.b64decode(blocks["blocks"][0][1])
        assert first == f"initial:{original}#0".encode()
        head = client.call("vsssim.ReadFile", path=path, length=len(first) + 4)
        assert base64.b64decode(head["data"]) == first + b"\x00" * 4
    client.call(
        "SetBackupSucceeded", object=bc, succeded=True, **component_args(identity, component)
    )
    assert client.wait(client.call("BackupComplete", object=bc)) == "VSS_S_ASYNC_FINISHED"
    assert "Sales" in client.call("SaveAsXML", object=bc)["xml"]
    client.call("Release", object=bc)
    with pytest.raises(RpcFailed) as gone:
        client.call("SaveAsXML", object=bc)
    assert gone.value.code == framing.INVALID_PARAMS


# -- every bad input: an error, and the server goes on --------------------------------------------
@pytest.mark.parametrize(
    ("line", "code"),
    [
        (b"{not json", framing.PARSE_ERROR),
        (
            b'{"jsonrpc":"2.0","id":1,"method":"Release","params":{"object":NaN}}',
            framing.PARSE_ERROR,
        ),
        (b"\xff\xfe\x00\x01binary junk\x80", framing.PARSE_ERROR),
        (b"[" * 5000 + b"]" * 5000, framing.PARSE_ERROR),
        (b'{"a":' * 100 + b"1" + b"}" * 100, framing.PARSE_ERROR),
        (b"[1,2]", framing.INVALID_REQUEST),
        (b'"just a string"', framing.INVALID_REQUEST),
        (b'{"id":1,"method":"GetTime"}', framing.INVALID_REQUEST),
        (b'{"jsonrpc":"2.0","id":[1],"method":"vsssim.GetTime"}', framing.INVALID_REQUEST),
        (b'{"jsonrpc":"2.0","id":1,"method":"NoSuchCall"}', framing.METHOD_NOT_FOUND),
        (b'{"jsonrpc":"2.0","id":1,"method":7}', framing.METHOD_NOT_FOUND),
    ],
)
def test_malformed_lines_get_the_json_rpc_error_and_the_server_goes_on(
    served: Client, line: bytes, code: int
) -> None:
    assert _error(served, line)["code"] == code
    assert served.call("vsssim.GetTime")["now_us"] >= 0


def test_an_oversize_line_is_refused_without_being_held(served: Client) -> None:
    line = (
        b'{"jsonrpc":"2.0","id":1,"method":"vsssim.GetTime","params":{"x":"'
        + b"a" * (framing.MAX_LINE_BYTES + 10)
        + b'"}}'
    )
    error = _error(served, line)
    assert error["code"] == framing.INVALID_REQUEST and "longer" in error["message"]
    assert served.call("vsssim.GetTime")["now_us"] >= 0


@pytest.mark.parametrize(
    ("method", "params", "message"),
    [
        ("InitializeForBackup", {}, "missing parameter 'object'"),
        ("vsssim.GetTime", {"bogus": 1}, "unknown parameter 'bogus'"),
        ("vsssim.GetTrace", [0], "expected an object"),
        ("vsssim.GetTrace", {"since": -1}, "since"),
        ("vsssim.GetTrace", {"since": True}, "since"),
        ("vsssim.ReadFile", {"path": "x", "length": 1 << 30}, "length"),
        (
            "SetBackupState",
            {
                "object": "IVssBackupComponents#999",
                "select_components": True,
                "backup_bootable_system_state": False,
                "backup_type": 1,
            },
            "not an IVssBackupComponents",
        ),
        ("IVssAsync.Wait", {"object": "IVssBackupComponents#1"}, "not an IVssAsync"),
        ("Release", {"object": 12}, "expected an object handle"),
        (
            "GetSnapshotProperties",
            {"object": "IVssBackupComponents#1", "snapshot_id": "nope"},
            "GUID",
        ),
        ("vsssim.GetVolumePathName", {"file_name": "C:\\a\u0000b"}, "NUL"),
    ],
)
def test_bad_params_are_invalid_params_with_e_invalidarg(
    served: Client, method: str, params: object, message: str
) -> None:
    request = {"jsonrpc": "2.0", "id": 99, "method": method, "params": params}
    error = _error(served, json.dumps(request).encode())
    assert error["code"] == framing.INVALID_PARAMS
    assert error["data"]["name"] == "E_INVALIDARG" and error["data"]["hresult"] == 0x80070057
    assert message in error["message"]


def test_enum_values_by_name_or_number_and_a_wrong_one_refused(served: Client) -> None:
    bc = served.call("CreateVssBackupComponents")["object"]
    served.call("InitializeForBackup", object=bc)
    for bad in ("VSS_BT_NOPE", 99, "full", True):
        with pytest.raises(RpcFailed) as refused:
            served.call(
                "SetBackupState",
                object=bc,
                select_components=False,
                backup_bootable_system_state=False,
                backup_type=bad,
            )
        assert refused.value.code == framing.INVALID_PARAMS
    served.call(
        "SetBackupState",
        object=bc,
        select_components=False,
        backup_bootable_system_state=False,
        backup_type=5,
    )  # VSS_BT_COPY
    trace = served.call("vsssim.GetTrace")["records"]
    assert trace[-1]["action"] == V.SET_BACKUP_STATE
    assert trace[-1]["details"]["backup_type"] == "VSS_BT_COPY"
    served.call("Release", object=bc)


def test_calls_out_of_order_are_vss_e_bad_state(served: Client) -> None:
    bc = served.call("CreateVssBackupComponents")["object"]
    with pytest.raises(RpcFailed) as early:
        served.call("DoSnapshotSet", object=bc)
    assert early.value.code == framing.VSS_ERROR and early.value.name == "VSS_E_BAD_STATE"
    assert early.value.error["data"]["hresult"] == 0x80042301
    with pytest.raises(RpcFailed) as counted:
        served.call("GetWriterMetadataCount", object=bc)
    assert counted.value.name == "VSS_E_BAD_STATE"
    served.call("Release", object=bc)


def test_a_notification_gets_no_answer(served: Client) -> None:
    assert served.host is None and served.process is not None
    served.process.stdin.write(b'{"jsonrpc":"2.0","method":"vsssim.GetTime"}\n')
    served.process.stdin.write(b'{"jsonrpc":"2.0","method":"NoSuchCall"}\n')  # not even an error
    assert served.call("vsssim.GetTime")["now_us"] >= 0  # the next line answered is this one


def test_the_instance_id_and_component_type_are_checked() -> None:
    """AddComponent's instanceId must be the instance that answered GatherWriterMetadata
    (VSS_E_OBJECT_NOT_FOUND) and ct the component's type (E_INVALIDARG); GUID_NULL and null
    leave the instance unchecked."""
    client = Client(world=build_demo_world(0))
    bc = gathered(client)
    identity, component = find_component(client, bc, "SqlServerWriter", "Sales")
    right = component_args(identity, component)
    other_type = next(t for t in ("VSS_CT_DATABASE", "VSS_CT_FILEGROUP") if t != component["type"])
    for bad, code in (
        ({"instance_id": "00000000-0000-0000-0000-00000000abcd"}, "VSS_E_OBJECT_NOT_FOUND"),
        ({"component_type": other_type}, "E_INVALIDARG"),
    ):
        with pytest.raises(RpcFailed) as refused:
            client.call("AddComponent", object=bc, **dict(right, **bad))
        assert refused.value.name == code
    client.call("AddComponent", object=bc, **dict(right, instance_id=None))
    master = component_args(*find_component(client, bc, "SqlServerWriter", "master"))
    client.call("AddComponent", object=bc, **dict(master, instance_id=str(GUID_NULL)))
    client.close()


# -- IVssAsync ------------------------------------------------------------------------------------
def test_waiting_is_what_moves_the_simulated_clock() -> None:
    client = Client(world=build_demo_world(0))
    bc, _, _, _ = start_backup(client)
    assert client.wait(client.call("PrepareForBackup", object=bc)) == "VSS_S_ASYNC_FINISHED"
    before = client.call("vsssim.GetTime")["now_us"]
    started = client.call("DoSnapshotSet", object=bc)
    assert client.call("vsssim.GetTime")["now_us"] == before
    assert client.wait(started, milliseconds=1) == "VSS_S_ASYNC_PENDING"
    assert client.call("vsssim.GetTime")["now_us"] == before + 1000
    with pytest.raises(RpcFailed) as busy:
        client.call("GatherWriterStatus", object=bc)
    assert busy.value.name == "VSS_E_BAD_STATE"
    assert client.wait(started) == "VSS_S_ASYNC_FINISHED"
    assert (
        client.call("IVssAsync.Cancel", object=started["async"])["name"] == "VSS_S_ASYNC_FINISHED"
    )
    client.close()


def test_a_cancelled_do_snapshot_set_aborts_the_backup_and_leaves_nothing_behind() -> None:
    """IVssAsync::Cancel of a DoSnapshotSet before the commit: S_OK, then the call ends as
    VSS_S_ASYNC_CANCELLED, the writers hear OnAbort and the set lock is free again."""
    world = build_demo_world(0)
    client = Client(world=world)
    bc, _, _, _ = start_backup(client)
    assert client.wait(client.call("PrepareForBackup", object=bc)) == "VSS_S_ASYNC_FINISHED"
    started = client.call("DoSnapshotSet", object=bc)
    assert client.wait(started, milliseconds=1) == "VSS_S_ASYNC_PENDING"
    assert client.call("IVssAsync.Cancel", object=started["async"])["name"] == "S_OK"
    assert client.call("IVssAsync.Wait", object=started["async"])["name"] == (
        "VSS_S_ASYNC_CANCELLED"
    )
    assert client.wait(started) == "VSS_S_ASYNC_CANCELLED"
    assert client.call("IVssAsync.Cancel", object=started["async"])["name"] == (
        "VSS_S_ASYNC_CANCELLED"
    )
    actions = [r.action for r in world.sim.trace.records]
    assert V.ASYNC_CANCEL in actions and V.ASYNC_CANCELLED in actions
    assert V.ON_ABORT in actions[actions.index(V.ASYNC_CANCELLED) :]
    assert world.coordinator.creating is None
    other = gathered(client, select_components=False, backup_type="VSS_BT_COPY")
    started_again = client.call("StartSnapshotSet", object=other)["snapshot_set_id"]
    assert re.fullmatch(r"[0-9a-f-]{36}", started_again)
    client.close()
    assert quiescence(world) == []


def test_a_cancelled_gather_leaves_the_object_as_it_was() -> None:
    client = Client(world=build_demo_world(0))
    bc = client.call("CreateVssBackupComponents")["object"]
    client.call("InitializeForBackup", object=bc)
    started = client.call("GatherWriterMetadata", object=bc)
    assert client.call("IVssAsync.Cancel", object=started["async"])["name"] == "S_OK"
    assert client.wait(started) == "VSS_S_ASYNC_CANCELLED"
    with pytest.raises(RpcFailed) as unfinished:
        client.call("GetWriterMetadataCount", object=bc)
    assert unfinished.value.name == "VSS_E_BAD_STATE"
    assert client.wait(client.call("GatherWriterMetadata", object=bc)) == "VSS_S_ASYNC_FINISHED"
    assert client.call("GetWriterMetadataCount", object=bc)["writers"] > 0
    client.close()


# -- the requester that went away -----------------------------------------------------------------
@pytest.mark.parametrize("until", ["StartSnapshotSet", "PrepareForBackup", "DoSnapshotSet"])
def test_a_client_gone_mid_backup_leaves_nothing_locked_marked_held_or_frozen(until: str) -> None:
    """COM's rundown of a dead client's object (IVssBackupComponents is a COM object): the
    set lock, the volumes' marks and holds and the writers' freezes all let go."""
    world = build_demo_world(0)
    client = Client(world=world)
    bc, _, _, _ = start_backup(client)
    if until != "StartSnapshotSet":
        assert client.wait(client.call("PrepareForBackup", object=bc)) == "VSS_S_ASYNC_FINISHED"
    if until == "DoSnapshotSet":
        # into the freeze: the writers are frozen and writes held when the client goes
        client.wait(client.call("DoSnapshotSet", object=bc), milliseconds=30)
    assert world.coordinator.creating is not None
    client.close()
    actions = [r.action for r in world.sim.trace.records]
    assert V.REQUESTER_GONE in actions and V.RUNDOWN in actions
    assert quiescence(world) == []


# -- the trace ------------------------------------------------------------------------------------
def test_the_trace_streams_as_notifications_before_each_answer() -> None:
    client = Client(world=build_demo_world(0))
    start = client.call("vsssim.SubscribeTrace")["next"]
    bc = client.call("CreateVssBackupComponents")["object"]
    client.call("InitializeForBackup", object=bc)
    streamed = [n["params"]["record"] for n in client.notifications]
    assert [n["method"] for n in client.notifications] == ["vsssim.trace"] * len(streamed)
    assert streamed == client.call("vsssim.GetTrace", since=start)["records"]
    assert streamed[-1]["action"] == V.INITIALIZE_FOR_BACKUP


def _session(client: Client) -> bytes:
    bc, _, _, _ = start_backup(client)
    client.wait(client.call("PrepareForBackup", object=bc))
    client.wait(client.call("DoSnapshotSet", object=bc))
    client.call("Release", object=bc)
    return json.dumps(client.call("vsssim.GetTrace")).encode()


def _copy_session(client: Client) -> bytes:
    """A non-component copy backup of D: on a scenario file's host: the trace it leaves."""
    bc = client.call("CreateVssBackupComponents")["object"]
    client.call("InitializeForBackup", object=bc)
    client.call(
        "SetBackupState",
        object=bc,
        select_components=False,
        backup_bootable_system_state=False,
        backup_type="VSS_BT_COPY",
    )
    client.wait(client.call("GatherWriterMetadata", object=bc))
    client.call("StartSnapshotSet", object=bc)
    client.call("AddToSnapshotSet", object=bc, volume_name="D:\\")
    client.wait(client.call("PrepareForBackup", object=bc))
    assert client.wait(client.call("DoSnapshotSet", object=bc)) == "VSS_S_ASYNC_FINISHED"
    client.call("Release", object=bc)
    return json.dumps(client.call("vsssim.GetTrace")).encode()


def test_same_scenario_seed_and_calls_give_the_same_trace_bytes() -> None:
    runs = [_session(Client(world=world_factory(None, 4)())) for _ in range(2)]
    assert runs[0] == runs[1]
    piped = Client(args=("--seed", "4"))
    assert _session(piped) == runs[0]
    piped.close()
    scenario = str(ROOT / "examples" / "01_seven_phases.toml")
    first, again = (_copy_session(Client(world=world_factory(scenario, 2)())) for _ in range(2))
    assert first == again and b"backup-agent" not in first  # the file's agents do not run
    other = _copy_session(Client(world=world_factory(scenario, 3)()))
    assert other != first  # the seed decides (the applications' writes, here)


def test_serve_refuses_bad_command_lines_in_one_line() -> None:
    from vsssim.cli.main import main

    assert main(["serve"]) == 2  # neither --stdio nor --listen
    assert main(["serve", "--listen", "nowhere", "--seed", "1"]) == 2
    assert main(["serve", str(ROOT / "no-such-file.toml"), "--stdio"]) == 2


# -- the description ------------------------------------------------------------------------------
def test_rpc_discover_lists_every_method_of_the_table(served: Client) -> None:
    document = served.call("rpc.discover")
    assert document["openrpc"].startswith("1.")
    listed = {m["name"]: m for m in document["methods"]}
    assert list(listed) == list(METHODS)
    for name, method in METHODS.items():
        assert [p["name"] for p in listed[name]["params"]] == [p.name for p in method.params]
    state = {p["name"]: p for p in listed["SetBackupState"]["params"]}
    assert set(state) == {
        "object",
        "select_components",
        "backup_bootable_system_state",
        "backup_type",
        "partial_file_support",
    }
    assert "VSS_BT_FULL" in json.dumps(state["backup_type"]["schema"])


def test_the_protocol_page_is_written_from_the_table() -> None:
    page = (ROOT / "docs" / "rpc.md").read_text(encoding="utf-8")
    begin, end = "<!-- methods: generated -->\n", "<!-- end of generated -->\n"
    generated = page[page.index(begin) + len(begin) : page.index(end)]
    assert generated == markdown(METHODS), (
        "docs/rpc.md is stale: python -m vsssim.rpc.docs docs/rpc.md"
    )


# -- TCP ------------------------------------------------------------------------------------------
def test_listen_gives_each_connection_its_own_host_and_survives_a_client_gone() -> None:
    import socket

    server = subprocess.Popen(
        [sys.executable, "-m", "vsssim", "serve", "--listen", "127.0.0.1:0"],
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    try:
        assert server.stderr is not None
        port = int(re.findall(rb":(\d+)", server.stderr.readline())[-1])

        def talk(sock: socket.socket, *requests: dict) -> list[dict]:
            lines = b"".join(framing.encode({"jsonrpc": "2.0", **r}) for r in requests)
            sock.sendall(lines)
            reader = sock.makefile("rb")
            return [json.loads(reader.readline()) for _ in requests]

        first = socket.create_connection(("127.0.0.1", port))
        second = socket.create_connection(("127.0.0.1", port))
        bc = {"object": "IVssBackupComponents#1"}
        state = {
            "select_components": False,
            "backup_bootable_system_state": False,
            "backup_type": "VSS_BT_COPY",
        }
        lock = [
            {"id": 1, "method": "CreateVssBackupComponents"},
            {"id": 2, "method": "InitializeForBackup", "params": bc},
            {"id": 3, "method": "SetBackupState", "params": dict(bc, **state)},
            {"id": 4, "method": "GatherWriterMetadata", "params": bc},
            {"id": 5, "method": "IVssAsync.Wait", "params": {"object": "IVssAsync#2"}},
            {"id": 6, "method": "StartSnapshotSet", "params": bc},
        ]
        assert "result" in talk(first, *lock)[-1]
        assert "result" in talk(second, *lock)[-1]  # its own host: no set lock to wait for
        first.close()  # gone mid-backup
        time.sleep(0.05)
        third = socket.create_connection(("127.0.0.1", port))
        assert "result" in talk(third, *lock)[-1]
        (junk,) = talk(third, {"id": 7, "method": "x"})
        assert junk["error"]["code"] == framing.METHOD_NOT_FOUND
        second.close()
        third.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
