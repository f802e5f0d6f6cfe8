"""The restore: the session's call order, each restore method's exact effect, writer failures,
and backup, damage, restore giving back exactly the backup point."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import vsssim
from vsssim import (
    MILLISECOND,
    BackupComponents,
    Component,
    EventContext,
    FileDescriptor,
    HResult,
    RestoreAgent,
    RestoreResult,
    VssError,
    World,
    Writer,
    WriterFailure,
    WriterMetadata,
    WriterState,
)
from vsssim.cli.main import main
from vsssim.host.demo import run_restore_demo
from vsssim.requesters.archive import BackupArchive
from vsssim.requesters.backup_result import Outcome
from vsssim.requesters.restore import verify_restore
from vsssim.sim import vocabulary as V
from vsssim.sim.kernel import ProcessGenerator
from vsssim.testing.invariants import INVARIANTS, check_all
from vsssim.vss.constants import RestoreMethod, RestoreStatus
from vsssim.vss.documents.backup_document import document_to_xml
from vsssim.vss.metadata import AlternateLocationMapping
from vsssim.vss.namespace import File, Namespace
from vsssim.vss.states import SessionState
from vsssim.vss.workload import Workload

from .conftest import DB_WRITER_ID, NO_RETRY, small_world

GIB = 1024**3
APP_ID = uuid.UUID("22222222-3333-4444-5555-666666666666")
OTHER_ID = uuid.UUID("33333333-4444-5555-6666-777777777777")
FILES = ("D:\\App\\a.dat", "D:\\App\\b.dat")


class FailsPreRestore(Writer):
    def on_pre_restore(self, ctx: EventContext) -> ProcessGenerator:
        yield from self.take_time(ctx)
        raise WriterFailure(HResult.VSS_E_WRITERERROR_NONRETRYABLE, "database is in use")


class FailsPostRestore(Writer):
    def on_post_restore(self, ctx: EventContext) -> ProcessGenerator:
        yield from self.take_time(ctx)
        raise WriterFailure(HResult.VSS_E_WRITERERROR_RETRYABLE, "recovery failed")


def app_world(
    method: RestoreMethod,
    *,
    seed: int = 0,
    alternate: str | None = None,
    writer_class: type[Writer] = Writer,
    other: bool = False,
) -> World:
    """``D:`` with two files of AppWriter (restore ``method``, service ``AppSvc``), written by
    its application ``app.exe``; ``other`` adds OtherWriter with ``R:\\Other\\c.dat``."""
    world = World.create(seed)
    world.add_volume("D:\\", "D:", GIB)
    world.add_volume("R:\\", "R:", GIB)
    for path in FILES:
        world.add_file(path, 64, initial_blocks=3)
    metadata = WriterMetadata(
        writer_class_id=APP_ID,
        writer_instance_id=uuid.uuid5(APP_ID, "instance"),
        writer_name="AppWriter",
        restore_method=method,
        restore_service="AppSvc",
        components=(
            Component(
                "Data",
                logical_path="App",
                files=(FileDescriptor("D:\\App", "*.dat"),),
            ),
        ),
        alternate_location_mappings=(
            ()
            if alternate is None
            else (AlternateLocationMapping("D:\\App", "*.dat", False, alternate),)
        ),
    )
    writer = world.add_writer(writer_class(metadata))
    world.add_workload(Workload("app.exe", list(FILES), (1 * MILLISECOND, 4 * MILLISECOND), writer))
    selection = ["AppWriter:App\\Data"]
    if other:
        world.add_file("R:\\Other\\c.dat", 4, initial_blocks=2)
        other_metadata = WriterMetadata(
            OTHER_ID,
            uuid.uuid5(OTHER_ID, "instance"),
            "OtherWriter",
            components=(Component("Files", files=(FileDescriptor("R:\\Other", "*"),)),),
        )
        world.add_writer(Writer(other_metadata))
        world.add_workload(
            Workload("other.exe", ["R:\\Other\\c.dat"], (1 * MILLISECOND, 4 * MILLISECOND))
        )
        selection.append("OtherWriter:Files")
    world.add_agent("agent", selection, NO_RETRY)
    return world


def backed_up(world: World, damage_us: int = 200 * MILLISECOND) -> BackupArchive:
    """Back ``world`` up, then let its applications write for ``damage_us``."""
    [result] = world.run()
    assert result.succeeded, result.message
    archive = BackupArchive.of(result)
    world.run_workloads(damage_us)
    for copied in archive.files:
        file = world.namespace.find(copied.path)
        assert file is not None and file.content() != copied.content, "the damage missed"
    return archive


def content_of(world: World, path: str) -> dict[int, bytes]:
    file = world.namespace.find(path)
    assert file is not None, path
    return file.content()


def backup_content(archive: BackupArchive, path: str) -> dict[int, bytes]:
    copied = archive.file(path)
    assert copied is not None
    return copied.content


def actions(world: World, since: int = 0) -> list[str]:
    return [
        r.action for r in world.sim.trace.records[since:] if r.action not in (V.WRITE, V.WRITE_HELD)
    ]


# -- the session's call order ------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_archive() -> BackupArchive:
    world = small_world(seed=5)
    world.add_agent("agent", ["TestDbWriter:Inst\\Db"], NO_RETRY)
    [result] = world.run()
    return BackupArchive.of(result)


def _session(archive: BackupArchive, upto: str) -> tuple[World, BackupComponents]:
    """A fresh world and a restore session advanced up to (and including) call ``upto``."""
    world = small_world(seed=6)
    bc = world.coordinator.create_backup_components("requester")
    steps: list[tuple[str, Callable[[], object]]] = [
        ("initialize_for_restore", lambda: bc.initialize_for_restore(archive.document)),
        ("gather_writer_metadata", lambda: world.sim.run(until=bc.gather_writer_metadata())),
        (
            "set_selected_for_restore",
            lambda: bc.set_selected_for_restore(DB_WRITER_ID, "Inst", "Db"),
        ),
        ("pre_restore", lambda: world.sim.run(until=bc.pre_restore())),
        (
            "set_file_restore_status",
            lambda: bc.set_file_restore_status(DB_WRITER_ID, "Inst", "Db", RestoreStatus.ALL),
        ),
        ("post_restore", lambda: world.sim.run(until=bc.post_restore())),
    ]
    for name, call in steps:
        if upto == "created":
            break
        call()
        if name == upto:
            break
    return world, bc


ILLEGAL: list[tuple[str, str, Callable[[BackupComponents, BackupArchive], object]]] = [
    (
        "created",
        "set_selected_for_restore",
        lambda bc, a: bc.set_selected_for_restore(DB_WRITER_ID, "Inst", "Db"),
    ),
    ("created", "pre_restore", lambda bc, a: bc.pre_restore()),
    (
        "initialize_for_restore",
        "initialize_for_restore",
        lambda bc, a: bc.initialize_for_restore(a.document),
    ),
    ("initialize_for_restore", "initialize_for_backup", lambda bc, a: bc.initialize_for_backup()),
    (
        "initialize_for_restore",
        "set_selected_for_restore",
        lambda bc, a: bc.set_selected_for_restore(DB_WRITER_ID, "Inst", "Db"),
    ),
    ("initialize_for_restore", "pre_restore", lambda bc, a: bc.pre_restore()),
    (
        "gather_writer_metadata",
        "set_file_restore_status",
        lambda bc, a: bc.set_file_restore_status(DB_WRITER_ID, "Inst", "Db", RestoreStatus.ALL),
    ),
    ("gather_writer_metadata", "post_restore", lambda bc, a: bc.post_restore()),
    (
        "gather_writer_metadata",
        "add_component",
        lambda bc, a: bc.add_component(DB_WRITER_ID, "Inst", "Db"),
    ),
    ("gather_writer_metadata", "prepare_for_backup", lambda bc, a: bc.prepare_for_backup()),
    ("gather_writer_metadata", "save_as_xml", lambda bc, a: bc.save_as_xml()),
    (
        "pre_restore",
        "set_selected_for_restore",
        lambda bc, a: bc.set_selected_for_restore(DB_WRITER_ID, "Inst", "Db"),
    ),
    ("pre_restore", "pre_restore", lambda bc, a: bc.pre_restore()),
    ("pre_restore", "abort_backup", lambda bc, a: bc.abort_backup()),
    (
        "post_restore",
        "set_file_restore_status",
        lambda bc, a: bc.set_file_restore_status(DB_WRITER_ID, "Inst", "Db", RestoreStatus.ALL),
    ),
    ("post_restore", "post_restore", lambda bc, a: bc.post_restore()),
    ("post_restore", "gather_writer_metadata", lambda bc, a: bc.gather_writer_metadata()),
]


@pytest.mark.parametrize(
    ("upto", "call", "make"), ILLEGAL, ids=[f"{c} after {u}" for u, c, _ in ILLEGAL]
)
def test_calls_out_of_order_are_bad_state_and_change_nothing(
    small_archive: BackupArchive,
    upto: str,
    call: str,
    make: Callable[[BackupComponents, BackupArchive], object],
) -> None:
    world, bc = _session(small_archive, upto)
    state, records, selected = bc.state, len(world.sim.trace), list(bc.selected)
    with pytest.raises(VssError) as caught:
        make(bc, small_archive)
    assert caught.value.hresult == HResult.VSS_E_BAD_STATE
    assert call in caught.value.message
    assert (bc.state, len(world.sim.trace), bc.selected) == (state, records, selected)


def test_no_call_while_pre_restore_runs(small_archive: BackupArchive) -> None:
    world, bc = _session(small_archive, "set_selected_for_restore")
    running = bc.pre_restore()
    with pytest.raises(VssError, match="still waits for requester PreRestore") as caught:
        bc.set_file_restore_status(DB_WRITER_ID, "Inst", "Db", RestoreStatus.ALL)
    assert caught.value.hresult == HResult.VSS_E_BAD_STATE
    world.sim.run(until=running)


def test_the_whole_sequence_in_order(small_archive: BackupArchive) -> None:
    world, bc = _session(small_archive, "post_restore")
    assert bc.state == SessionState.POST_RESTORED
    statuses = world.sim.run(until=bc.gather_writer_status())
    assert {s.writer_name: s.state for s in statuses}["TestDbWriter"] == WriterState.STABLE
    world.sim.run(until=bc.release())
    assert bc.state == SessionState.RELEASED
    assert actions(world) == [
        V.INITIALIZE_FOR_RESTORE,
        V.GATHER_WRITER_METADATA,
        V.ON_IDENTIFY,
        V.done(V.ON_IDENTIFY),
        V.GATHER_WRITER_METADATA_COMPLETE,
        V.SET_SELECTED_FOR_RESTORE,
        V.PRE_RESTORE,
        V.ON_PRE_RESTORE,
        V.done(V.ON_PRE_RESTORE),
        V.PRE_RESTORE_COMPLETE,
        V.SET_FILE_RESTORE_STATUS,
        V.POST_RESTORE,
        V.ON_POST_RESTORE,
        V.done(V.ON_POST_RESTORE),
        V.POST_RESTORE_COMPLETE,
        V.GATHER_WRITER_STATUS,
        V.GATHER_WRITER_STATUS_COMPLETE,
        V.RELEASE,
        V.ON_BACKUP_SHUTDOWN,
        V.done(V.ON_BACKUP_SHUTDOWN),
        V.RELEASE_COMPLETE,
    ]
    assert all(r.phase is None for r in world.sim.trace)  # outside the seven backup phases
    [(key, status)] = bc.file_restore_status.items()  # kept per writer instance
    assert (key.any_instance, status) == (
        vsssim.ComponentKey(DB_WRITER_ID, "Inst", "Db"),
        RestoreStatus.ALL,
    )
    assert key.writer_instance_id == world.coordinator.writer("TestDbWriter").instance_id


def test_selection_errors_carry_the_real_hresults(small_archive: BackupArchive) -> None:
    world, bc = _session(small_archive, "gather_writer_metadata")
    records = len(world.sim.trace)
    cases: list[tuple[Callable[[], object], HResult, str]] = [
        (
            lambda: bc.set_selected_for_restore(DB_WRITER_ID, "Inst", "Nope"),
            HResult.VSS_E_OBJECT_NOT_FOUND,
            "no component",
        ),
        (
            lambda: bc.set_selected_for_restore(OTHER_ID, "", "Db"),
            HResult.VSS_E_OBJECT_NOT_FOUND,
            "no component",
        ),
    ]
    for call, hresult, needle in cases:
        with pytest.raises(VssError) as caught:
            call()
        assert caught.value.hresult == hresult and needle in caught.value.message
    assert len(world.sim.trace) == records and not bc.selected
    bc.set_selected_for_restore(DB_WRITER_ID, "inst", "DB")  # case-insensitive, as VSS
    bc.set_selected_for_restore(DB_WRITER_ID, "Inst", "Db", False)
    assert not bc.selected
    world.sim.run(until=bc.pre_restore())
    with pytest.raises(VssError) as caught:
        bc.set_file_restore_status(DB_WRITER_ID, "Inst", "Db", RestoreStatus.ALL)
    assert caught.value.hresult == HResult.VSS_E_OBJECT_NOT_FOUND
    assert "not selected for restore" in caught.value.message


def test_a_writer_not_running_cannot_be_selected(small_archive: BackupArchive) -> None:
    world = World.create(1)
    world.add_volume("D:\\", "D:", GIB)
    bc = world.coordinator.create_backup_components("requester")
    bc.initialize_for_restore(document_to_xml(small_archive.document))  # XML works too
    world.sim.run(until=bc.gather_writer_metadata())
    with pytest.raises(VssError) as caught:
        bc.set_selected_for_restore(DB_WRITER_ID, "Inst", "Db")
    assert caught.value.hresult == HResult.VSS_E_OBJECT_NOT_FOUND
    assert "answered GatherWriterMetadata" in caught.value.message


def test_a_component_not_selectable_for_restore_is_refused(small_archive: BackupArchive) -> None:
    metadata = vsssim.WriterMetadata(
        DB_WRITER_ID,
        uuid.uuid5(DB_WRITER_ID, "instance"),
        "TestDbWriter",
        components=(Component("Db", logical_path="Inst", selectable_for_restore=False),),
    )
    world = small_world(seed=1, db_writer=Writer(metadata))
    bc = world.coordinator.create_backup_components("requester")
    bc.initialize_for_restore(small_archive.document)
    world.sim.run(until=bc.gather_writer_metadata())
    with pytest.raises(VssError) as caught:
        bc.set_selected_for_restore(DB_WRITER_ID, "Inst", "Db")
    assert caught.value.hresult == HResult.E_INVALIDARG
    assert "selected for restore" in caught.value.message


@pytest.mark.parametrize(
    ("text", "hresult"),
    [
        ("<BACKUP_COMPONENTS>", HResult.VSS_E_CORRUPT_XML_DOCUMENT),
        (
            '<WRITER_METADATA xmlns="x-schema:#VssWriterMetadataInfo"/>',
            HResult.VSS_E_INVALID_XML_DOCUMENT,
        ),
    ],
)
def test_initialize_for_restore_refuses_a_bad_document(text: str, hresult: HResult) -> None:
    world = small_world(seed=1)
    bc = world.coordinator.create_backup_components("requester")
    with pytest.raises(VssError) as caught:
        bc.initialize_for_restore(text)
    assert caught.value.hresult == hresult
    assert bc.state == SessionState.CREATED and len(world.sim.trace) == len(
        world.sim.trace.find(action=V.WRITE)
    )


def test_set_file_restore_status_refuses_undefined(small_archive: BackupArchive) -> None:
    _, bc = _session(small_archive, "pre_restore")
    with pytest.raises(VssError) as caught:
        bc.set_file_restore_status(DB_WRITER_ID, "Inst", "Db", RestoreStatus.UNDEFINED)
    assert caught.value.hresult == HResult.E_INVALIDARG


def test_a_selector_not_in_the_document_is_refused(small_archive: BackupArchive) -> None:
    world = small_world(seed=1)
    with pytest.raises(VssError) as caught:
        world.restore(small_archive, ["TestDbWriter:Inst\\Other"])
    assert caught.value.hresult == HResult.VSS_E_OBJECT_NOT_FOUND


# -- each restore method's exact effect --------------------------------------------------------


def _restored(world: World, archive: BackupArchive, result: RestoreResult) -> None:
    """Every file of the result equals the backup point, when restored and now."""
    [component] = [c for c in result.components if c.writer == "AppWriter"]
    assert component.restored and component.status == RestoreStatus.ALL, component
    assert not verify_restore(world.namespace, archive, result.files)
    for restored in result.files:
        assert content_of(world, restored.target) == backup_content(archive, restored.path)


def test_restore_if_can_replace_overwrites_and_zeroes_later_blocks() -> None:
    world = app_world(RestoreMethod.RESTORE_IF_CAN_REPLACE)
    archive = backed_up(world)
    later = {p: set(content_of(world, p)) - set(backup_content(archive, p)) for p in FILES}
    assert any(later.values())  # blocks first written after the backup point
    before = {p: world.namespace.find(p) for p in FILES}
    result = world.restore(archive)
    _restored(world, archive, result)
    assert {p: world.namespace.find(p) for p in FILES} == before  # overwritten in place
    for path in FILES:
        assert not set(content_of(world, path)) & later[path]
    assert result.outcome == Outcome.SUCCEEDED and not any(check_all(world).values())


def test_restore_if_can_replace_leaves_a_file_in_use_alone() -> None:
    world = app_world(RestoreMethod.RESTORE_IF_CAN_REPLACE)
    archive = backed_up(world)
    world.namespace.file(FILES[1]).in_use_by = "app.exe"
    damaged = {p: content_of(world, p) for p in FILES}
    since = len(world.sim.trace)
    result = world.restore(archive)
    [component] = result.components
    assert component.status == RestoreStatus.NONE and not component.files
    assert f"{FILES[1]} is in use by app.exe" in component.reason
    assert {p: content_of(world, p) for p in FILES} == damaged  # neither file touched
    assert V.FILE_RESTORED not in actions(world, since)
    assert result.outcome == Outcome.FAILED and result.not_restored == (component,)


def test_restore_if_can_replace_uses_the_alternate_location_when_in_use() -> None:
    world = app_world(RestoreMethod.RESTORE_IF_CAN_REPLACE, alternate="R:\\Restored")
    archive = backed_up(world)
    world.namespace.file(FILES[0]).in_use_by = "app.exe"
    damaged = content_of(world, FILES[0])
    result = world.restore(archive)
    _restored(world, archive, result)
    assert [f.target for f in result.files] == ["R:\\Restored\\a.dat", FILES[1]]
    assert content_of(world, FILES[0]) == damaged


def test_restore_if_not_there_restores_only_what_is_gone() -> None:
    world = app_world(RestoreMethod.RESTORE_IF_NOT_THERE)
    archive = backed_up(world)
    damaged = content_of(world, FILES[1])
    result = world.restore(archive)
    [component] = result.components
    assert component.status == RestoreStatus.NONE and "is on disk" in component.reason
    assert content_of(world, FILES[1]) == damaged
    for path in FILES:
        world.delete_file(path, "user")
    result = world.restore(archive, name="second restore")
    _restored(world, archive, result)


def test_restore_if_not_there_keeps_none_when_only_one_file_is_gone() -> None:
    world = app_world(RestoreMethod.RESTORE_IF_NOT_THERE)
    archive = backed_up(world)
    world.delete_file(FILES[0], "user")
    result = world.restore(archive)
    assert result.components[0].status == RestoreStatus.NONE
    assert world.namespace.find(FILES[0]) is None  # nothing half-restored


def test_restore_if_not_there_writes_to_a_free_alternate_location() -> None:
    world = app_world(RestoreMethod.RESTORE_IF_NOT_THERE, alternate="R:\\Restored")
    archive = backed_up(world)
    damaged = {p: content_of(world, p) for p in FILES}
    result = world.restore(archive)
    _restored(world, archive, result)
    assert [f.target for f in result.files] == ["R:\\Restored\\a.dat", "R:\\Restored\\b.dat"]
    assert {p: content_of(world, p) for p in FILES} == damaged


def test_restore_to_alternate_location() -> None:
    world = app_world(RestoreMethod.RESTORE_TO_ALTERNATE_LOCATION, alternate="R:\\Copy")
    archive = backed_up(world)
    damaged = {p: content_of(world, p) for p in FILES}
    result = world.restore(archive)
    _restored(world, archive, result)
    assert [f.target for f in result.files] == ["R:\\Copy\\a.dat", "R:\\Copy\\b.dat"]
    assert {f.volume for f in result.files} == {"R:"}
    assert {p: content_of(world, p) for p in FILES} == damaged


def test_restore_to_alternate_location_without_a_mapping_is_a_writer_error() -> None:
    world = app_world(RestoreMethod.RESTORE_TO_ALTERNATE_LOCATION)
    archive = backed_up(world)
    result = world.restore(archive)
    [component] = result.components
    assert component.status == RestoreStatus.NONE
    assert "writer error" in component.reason and "alternate location mapping" in component.reason
    assert V.SET_SELECTED_FOR_RESTORE not in actions(world)


def test_a_copy_that_fails_midway_is_reported_as_failed() -> None:
    world = app_world(RestoreMethod.RESTORE_TO_ALTERNATE_LOCATION, alternate="R:\\Copy")
    archive = backed_up(world)
    world.add_file("R:\\Copy\\b.dat", 8)  # a smaller file where b.dat goes
    world.add_file("R:\\Copy\\filler", 2**18 - 64 - 8)  # R: is full: no room for a new b.dat
    result = world.restore(archive)
    [component] = result.components
    assert component.status == RestoreStatus.FAILED
    assert [f.target for f in component.files] == ["R:\\Copy\\a.dat"]  # what did get written
    assert "R:\\Copy\\b.dat could not be written" in component.reason
    assert "is full" in component.reason


def test_stop_restore_start_stops_the_application_during_the_copy() -> None:
    world = app_world(RestoreMethod.STOP_RESTORE_START)
    archive = backed_up(world)
    world.namespace.file(FILES[0]).in_use_by = "AppSvc"  # held by the service being stopped
    sim = world.sim
    since = len(sim.trace)
    stop = sim.event()
    for workload in world.workloads:
        workload.start(sim, world.namespace, stop)
    agent = RestoreAgent(world.coordinator, "restorer", archive)
    running = sim.process(agent.run(), "restorer")

    def stopper() -> ProcessGenerator:
        yield running
        yield sim.timeout(100 * MILLISECOND)
        stop.succeed()

    sim.process(stopper(), "stopper")
    sim.run()
    result = agent.result
    assert result is not None
    _restored_at_their_instant(world, archive, result)
    records = sim.trace.records[since:]
    [stopped] = [r.seq for r in records if r.action == V.STOP_SERVICE]
    [started] = [r.seq for r in records if r.action == V.START_SERVICE]
    assert sim.trace.records[stopped].details == {"service": "AppSvc", "writer": "AppWriter"}
    restored = [r.seq for r in records if r.action == V.FILE_RESTORED]
    assert stopped < min(restored) and max(restored) < started
    app_writes = [r for r in records if r.action == V.WRITE and r.details["origin"] == "app.exe"]
    assert not [r for r in app_writes if stopped < r.seq < started]  # stopped meanwhile
    assert [r for r in app_writes if r.seq < stopped] and [r for r in app_writes if r.seq > started]
    assert not world.coordinator.writer("AppWriter").application_frozen
    assert not any(check_all(world).values())


def _restored_at_their_instant(world: World, archive: BackupArchive, result: RestoreResult) -> None:
    assert result.outcome == Outcome.SUCCEEDED, result.message
    assert not verify_restore(world.namespace, archive, result.files)


def test_restore_stop_start_restarts_the_service_after_post_restore() -> None:
    world = app_world(RestoreMethod.RESTORE_STOP_START)
    archive = backed_up(world)
    since = len(world.sim.trace)
    result = world.restore(archive)
    _restored(world, archive, result)
    steps = [
        a
        for a in actions(world, since)
        if a in (V.FILE_RESTORED, V.POST_RESTORE_COMPLETE, V.STOP_SERVICE, V.START_SERVICE)
    ]
    assert steps == [
        V.FILE_RESTORED,
        V.FILE_RESTORED,
        V.POST_RESTORE_COMPLETE,
        V.STOP_SERVICE,
        V.START_SERVICE,
    ]


def test_restore_at_reboot_waits_for_the_reboot() -> None:
    world = app_world(RestoreMethod.RESTORE_AT_REBOOT)
    archive = backed_up(world)
    damaged = {p: content_of(world, p) for p in FILES}
    result = world.restore(archive)
    [component] = result.components
    assert component.restored and all(f.pending_reboot for f in component.files)
    assert {p: content_of(world, p) for p in FILES} == damaged  # nothing yet
    assert len(world.namespace.pending_operations) == 2
    assert verify_restore(world.namespace, archive, result.files) == [
        f"{p}: still waits for a reboot" for p in FILES
    ]
    applied = world.reboot()
    assert [f.target for f in applied] == list(FILES) and not world.namespace.pending_operations
    assert not verify_restore(world.namespace, archive, applied)
    for path in FILES:
        assert content_of(world, path) == backup_content(archive, path)
    assert actions(world)[-4:] == [
        V.REBOOT,
        V.PENDING_FILE_OPERATION_APPLIED,
        V.PENDING_FILE_OPERATION_APPLIED,
        V.REBOOTED,
    ]


@pytest.mark.parametrize("in_use", [False, True])
def test_restore_at_reboot_if_cannot_replace(in_use: bool) -> None:
    world = app_world(RestoreMethod.RESTORE_AT_REBOOT_IF_CANNOT_REPLACE)
    archive = backed_up(world)
    if in_use:
        world.namespace.file(FILES[1]).in_use_by = "kernel"
    result = world.restore(archive)
    [component] = result.components
    assert component.restored
    assert [f.pending_reboot for f in component.files] == [in_use, in_use]  # all or none wait
    files = [f for f in component.files if not f.pending_reboot] + list(world.reboot())
    assert not verify_restore(world.namespace, archive, files)


def test_a_custom_restore_method_is_left_to_the_writer() -> None:
    world = app_world(RestoreMethod.CUSTOM)
    archive = backed_up(world)
    result = world.restore(archive)
    [component] = result.components
    assert component.status == RestoreStatus.NONE and "VSS_RME_CUSTOM" in component.reason


# -- writer failures ---------------------------------------------------------------------------


def test_a_writer_failing_pre_restore_has_nothing_restored_and_says_so() -> None:
    world = app_world(
        RestoreMethod.RESTORE_IF_CAN_REPLACE, writer_class=FailsPreRestore, other=True
    )
    archive = backed_up(world)
    damaged = {p: content_of(world, p) for p in FILES}
    since = len(world.sim.trace)
    result = world.restore(archive)
    app, other = result.components
    assert app.status == RestoreStatus.NONE and not app.files
    assert app.reason == (
        "AppWriter failed OnPreRestore: VSS_WS_FAILED_AT_PRE_RESTORE, "
        "VSS_E_WRITERERROR_NONRETRYABLE"
    )
    assert {p: content_of(world, p) for p in FILES} == damaged
    assert other.restored and not verify_restore(world.namespace, archive, other.files)
    assert result.outcome == Outcome.PARTIAL and result.not_restored == (app,)
    status = {s.writer_name: s for s in result.writer_status}["AppWriter"]
    assert (status.state, status.failure) == (
        WriterState.FAILED_AT_PRE_RESTORE,
        HResult.VSS_E_WRITERERROR_NONRETRYABLE,
    )
    records = world.sim.trace.records[since:]
    [not_sent] = [r for r in records if r.action == V.not_sent(V.ON_POST_RESTORE)]
    assert not_sent.details["writer"] == "AppWriter"
    [reported] = [
        r
        for r in records
        if r.action == V.SET_FILE_RESTORE_STATUS and r.details["writer"] == "AppWriter"
    ]
    assert reported.details["status"] == "VSS_RS_NONE"
    assert not any(check_all(world).values())


def test_a_writer_failing_post_restore_is_named_with_its_restored_files() -> None:
    world = app_world(RestoreMethod.RESTORE_IF_CAN_REPLACE, writer_class=FailsPostRestore)
    archive = backed_up(world)
    result = world.restore(archive)
    [component] = result.components
    assert component.status == RestoreStatus.ALL and not component.restored
    assert component.reason == (
        "files restored, but AppWriter failed OnPostRestore: VSS_WS_FAILED_AT_POST_RESTORE, "
        "VSS_E_WRITERERROR_RETRYABLE"
    )
    assert [f.target for f in component.files] == list(FILES)
    assert not verify_restore(world.namespace, archive, component.files)
    assert result.outcome == Outcome.FAILED
    [status] = [s for s in result.writer_status if s.writer_name == "AppWriter"]
    assert status.state == WriterState.FAILED_AT_POST_RESTORE


# -- backup, damage, restore -------------------------------------------------------------------


def test_an_archive_kept_as_json_restores_into_a_fresh_server() -> None:
    world = app_world(RestoreMethod.RESTORE_IF_CAN_REPLACE, seed=3)
    archive = backed_up(world)
    kept = BackupArchive.from_json(archive.to_json())
    fresh = app_world(RestoreMethod.RESTORE_IF_CAN_REPLACE, seed=99)  # never backed up
    result = fresh.restore(kept)
    _restored(fresh, kept, result)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32),
    damage_ms=st.integers(1, 400),
    deleted=st.sets(st.sampled_from(["D:\\Data\\Db.mdf", "L:\\Logs\\Db.ldf"])),
)
def test_backup_damage_restore_gives_back_the_backup_point(
    seed: int, damage_ms: int, deleted: set[str]
) -> None:
    world = small_world(seed=seed)
    world.add_agent("agent", ["TestDbWriter:Inst\\Db"], NO_RETRY)
    [backup] = world.run()
    archive = BackupArchive.of(backup)
    world.run_workloads(damage_ms * MILLISECOND)
    for path in sorted(deleted):
        world.delete_file(path, "user")
    result = world.restore(archive)
    assert result.outcome == Outcome.SUCCEEDED, result.message
    assert not verify_restore(world.namespace, archive, result.files)
    for copied in archive.files:  # and now, with the applications stopped
        assert content_of(world, copied.path) == copied.content
    assert not any(check_all(world).values())


def test_demo_restore_says_the_data_equals_the_backup_point(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["demo", "--restore", "--seed", "2"]) == 0
    out = capsys.readouterr().out
    assert "data check: restored data equals the backup point" in out
    assert "VSS_RME_CUSTOM" in out and f"Invariants: {len(INVARIANTS)} checked, 0 violated" in out
    assert main(["demo", "--restore", "--agents", "2"]) == 2


def test_demo_restore_json_is_deterministic(capsys: pytest.CaptureFixture[str]) -> None:
    outputs = []
    for _ in range(2):
        assert main(["demo", "--restore", "--seed", "1", "--format", "json"]) == 0
        outputs.append(capsys.readouterr().out)
    assert outputs[0] == outputs[1]
    demo = run_restore_demo(1)
    assert demo.ok and demo.damaged and not demo.problems


def test_the_check_catches_a_restore_that_leaves_later_blocks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A broken restore (backed-up blocks written, later ones left) is caught."""

    def careless(
        namespace: Namespace, path: str, content: dict[int, bytes], blocks: int, origin: str
    ) -> File:
        file = namespace.file(path)
        for index, data in sorted(content.items()):
            file.volume.write(file.block_address(index), data, origin)
        return file

    world = app_world(RestoreMethod.RESTORE_IF_CAN_REPLACE)
    archive = backed_up(world)
    monkeypatch.setattr(Namespace, "put_file", careless)
    result = world.restore(archive)
    problems = verify_restore(world.namespace, archive, result.files)
    assert problems and all("differ from the backup" in p for p in problems)
