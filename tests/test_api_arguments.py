"""Every requester call checks its arguments first: bad ones are ``E_INVALIDARG`` naming the
parameter, and a refused call changes nothing.

The central test drives one backup components object with random calls and random argument
values (valid, None, wrong types, out-of-range numbers, huge strings, other enums, unknown
ids) from random states, and checks that each call succeeds or raises :class:`VssError`, that
a refused call leaves every observable part of the session and the host as it was, and that
the session can still be ended cleanly afterwards.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from vsssim import BackupComponents, BackupType, Context, HResult, VssError, World
from vsssim.errors import ConfigurationError
from vsssim.requesters.agent import BackupAgent
from vsssim.requesters.archive import BackupArchive
from vsssim.requesters.backup_options import AgentOptions, RetryPolicy
from vsssim.requesters.restore import restore_chain, restore_plan, verify_restore
from vsssim.requesters.restore_agent import RestoreAgent
from vsssim.requesters.restore_result import RestoreOptions
from vsssim.requesters.selection import ComponentSelector
from vsssim.sim.kernel import Process
from vsssim.vss.constants import RestoreStatus, SnapshotAttr
from vsssim.vss.documents.backup_document import BackupComponentsDocument, document_to_xml
from vsssim.vss.metadata import ComponentKey
from vsssim.vss.states import SessionState

from .conftest import DB_WRITER_ID, small_world

HUGE = "x" * 40_000
NOWHERE = uuid.UUID(int=7)
KEY = ComponentKey(DB_WRITER_ID, "Inst", "Db")


def _wait(world: World, result: object) -> object:
    """The value of an asynchronous call (run to its end), or the value itself."""
    if isinstance(result, Process):
        return world.sim.run(until=result)
    return result


def _backed_up() -> BackupComponentsDocument:
    """The document of a finished full backup of ``Inst\\Db`` (for restore sessions)."""
    world = small_world(0, workload=False)
    bc = world.coordinator.create_backup_components("backup")
    bc.initialize_for_backup()
    bc.set_backup_state(True, False, BackupType.FULL)
    world.sim.run(until=bc.gather_writer_metadata())
    bc.add_component(DB_WRITER_ID, "Inst", "Db")
    bc.start_snapshot_set()
    bc.add_to_snapshot_set("D:\\")
    bc.add_to_snapshot_set("L:\\")
    world.sim.run(until=bc.prepare_for_backup())
    world.sim.run(until=bc.do_snapshot_set())
    bc.set_backup_succeeded(DB_WRITER_ID, "Inst", "Db", True)
    world.sim.run(until=bc.backup_complete())
    document = bc.save_as_document()
    world.sim.run(until=bc.release())
    return document


DOCUMENT = _backed_up()
DOCUMENT_XML = document_to_xml(DOCUMENT)


# -- the observable state --------------------------------------------------------------------


def observe(world: World, bc: BackupComponents) -> dict[str, object]:
    """Everything a caller (or the host) can see of the session: its state and settings, the
    components chosen, the set, the writers' states, the volumes' marks and holds, the shadow
    copies and the trace length (a refused call records nothing)."""
    coordinator = world.coordinator
    snapshot_set = bc.snapshot_set
    return {
        "state": bc.state,
        "busy": bc.call_in_progress,
        "settings": (
            bc.select_components,
            bc.bootable_system_state,
            bc.backup_type,
            bc.partial_file_support,
            bc.context,
            bc.context_attributes,
        ),
        "selected": list(bc.selected),
        "succeeded": dict(bc.succeeded),
        "stamps": (dict(bc.previous_backup_stamps), dict(bc.backup_stamps)),
        "restore": (
            bc.restore_document,
            dict(bc.file_restore_status),
            dict(bc.additional_restores),
        ),
        "involved": [w.name for w in bc.involved_writers],
        "set": None
        if snapshot_set is None
        else (
            snapshot_set.set_id,
            snapshot_set.state,
            [(s.snapshot_id, s.volume.label, s.attributes) for s in snapshot_set.snapshots],
        ),
        "creating": None if coordinator.creating is None else coordinator.creating.set_id,
        "snapshots": sorted(coordinator.snapshots),
        "volumes": [
            (v.label, v.marked_by, v.held, v.pending_writes) for v in world.namespace.volumes
        ],
        "writers": [
            (w.name, w.state_in(bc.session_id), w.application_frozen) for w in coordinator.writers
        ],
        "trace": len(world.sim.trace),
    }


def assert_clean(world: World) -> None:
    """Nothing locked, marked, held or frozen."""
    assert world.coordinator.creating is None
    for volume in world.namespace.volumes:
        assert volume.marked_by is None
        assert not volume.held and volume.pending_writes == 0
    for writer in world.coordinator.writers:
        assert not writer.application_frozen


# -- argument values -------------------------------------------------------------------------


def _junk() -> st.SearchStrategy[Any]:
    """Values no parameter takes."""
    return st.sampled_from([None, 3, -1, 2**70, 1.5, b"bytes", [], {}, object(), HUGE, "\0", True])


@attrs.frozen
class Returned:
    """A GUID a call of this run returned (a set or snapshot id), by its index."""

    index: int

    def resolve(self, known: list[uuid.UUID]) -> uuid.UUID:
        return known[self.index % len(known)] if known else NOWHERE


def ids() -> st.SearchStrategy[Any]:
    valid = st.one_of(st.just(DB_WRITER_ID), st.integers(0, 5).map(Returned))
    others = st.sampled_from([NOWHERE, str(DB_WRITER_ID), DB_WRITER_ID.int, ""])
    return st.one_of(valid, valid, others, _junk())


def names(valid: list[str]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.sampled_from(valid),
        st.sampled_from(valid),
        st.sampled_from(["", "Nope", "INST", "db", "a" * 33_000]),
        st.text(max_size=8),
        _junk(),
    )


PATHS = ["D:\\", "L:\\", "S:\\", "D:\\Data", "l:\\logs\\"]
BAD_PATHS = ["Q:\\", "", "relative", "\\\\?\\GLOBALROOT\\nothing", "D:" + "\\x" * 17_000]


def paths() -> st.SearchStrategy[Any]:
    return st.one_of(st.sampled_from(PATHS), st.sampled_from(BAD_PATHS), _junk())


def bools() -> st.SearchStrategy[Any]:
    return st.one_of(st.booleans(), st.booleans(), st.sampled_from([None, 0, 1, "yes"]))


def enums(kind: Any) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.sampled_from(list(kind)),
        st.sampled_from([int(m) for m in kind]),
        st.sampled_from([99, -5, 2**40, "FULL", RestoreStatus.ALL, BackupType.FULL]),
        _junk(),
    )


def contexts() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.sampled_from(list(Context)),
        st.sampled_from([9 | SnapshotAttr.TRANSPORTABLE, 0x20000, 99, 0x100, 0x8000]),
        st.integers(-(2**33), 2**33),
        st.sampled_from([BackupType.FULL, "VSS_CTX_BACKUP"]),
        _junk(),
    )


def documents() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.just(DOCUMENT),
        st.just(DOCUMENT_XML),
        st.sampled_from(["", "<garbage", "<BACKUP_COMPONENTS/>", HUGE]),
        _junk(),
    )


def files() -> st.SearchStrategy[Any]:
    return st.sampled_from(
        [
            None,
            {},
            {KEY: ["D:\\Data\\Db.mdf", "L:\\Logs\\Db.ldf"]},
            {KEY: "D:\\Data\\Db.mdf"},
            {KEY: [None]},
            {KEY: [HUGE]},
            {"Inst\\Db": []},
            [KEY],
            5,
        ]
    )


Call = Callable[[BackupComponents], object]
#: A drawn call: the method's name and its arguments (GUIDs maybe still to resolve).
Drawn = tuple[str, tuple[Any, ...]]


def _calls() -> st.SearchStrategy[Drawn]:
    """Every call of the requester API, with drawn arguments."""
    component = st.tuples(ids(), names(["Inst", "inst"]), names(["Db", "DB"]))

    def on_component(name: str, extra: st.SearchStrategy[Any]) -> st.SearchStrategy[Drawn]:
        return st.tuples(component, extra).map(lambda a: (name, (*a[0], a[1])))

    def call(name: str, *args: st.SearchStrategy[Any]) -> st.SearchStrategy[Drawn]:
        return st.tuples(*args).map(lambda a: (name, a))

    volume = st.tuples(paths(), st.one_of(st.none(), ids()))
    return st.one_of(
        call("initialize_for_backup"),
        call("set_backup_state", bools(), bools(), enums(BackupType), bools()),
        call("set_context", contexts()),
        call("gather_writer_metadata"),
        component.map(lambda a: ("add_component", a)),
        on_component("set_previous_backup_stamp", names(["Stamp@1"])),
        call("prepare_for_backup"),
        call("start_snapshot_set"),
        volume.map(lambda a: ("add_to_snapshot_set", a)),
        volume.map(lambda a: ("is_volume_supported", a)),
        call("do_snapshot_set"),
        call("gather_writer_status"),
        call("get_snapshot_properties", ids()),
        on_component("set_backup_succeeded", bools()),
        call("backup_complete"),
        call("save_as_xml", files()),
        call("get_writer_components"),
        call("initialize_for_restore", documents()),
        on_component("set_selected_for_restore", bools()),
        on_component("set_additional_restores", bools()),
        call("pre_restore"),
        on_component("set_file_restore_status", enums(RestoreStatus)),
        call("post_restore"),
        call("delete_snapshots", ids()),
        call("abort_backup"),
        call("release"),
        call("allows", st.one_of(st.sampled_from(["release", "abort_backup"]), _junk())),
    )


CALLS = _calls()


# -- the walk: a prefix of a real sequence, then random calls ---------------------------------

BACKUP: list[Call] = [
    lambda bc: bc.initialize_for_backup(),
    lambda bc: bc.set_backup_state(True, False, BackupType.FULL),
    lambda bc: bc.gather_writer_metadata(),
    lambda bc: bc.add_component(DB_WRITER_ID, "Inst", "Db"),
    lambda bc: bc.start_snapshot_set(),
    lambda bc: bc.add_to_snapshot_set("D:\\"),
    lambda bc: bc.add_to_snapshot_set("L:\\"),
    lambda bc: bc.prepare_for_backup(),
    lambda bc: bc.do_snapshot_set(),
    lambda bc: bc.set_backup_succeeded(DB_WRITER_ID, "Inst", "Db", True),
    lambda bc: bc.backup_complete(),
]
RESTORE: list[Call] = [
    lambda bc: bc.initialize_for_restore(DOCUMENT),
    lambda bc: bc.gather_writer_metadata(),
    lambda bc: bc.set_selected_for_restore(DB_WRITER_ID, "Inst", "Db"),
    lambda bc: bc.pre_restore(),
    lambda bc: bc.set_file_restore_status(DB_WRITER_ID, "Inst", "Db", RestoreStatus.ALL),
    lambda bc: bc.post_restore(),
]


def _ids_of(result: object, known: list[uuid.UUID]) -> None:
    """Keep the GUIDs a call returned (set and snapshot ids) for later calls to use."""
    if isinstance(result, uuid.UUID):
        known.append(result)


def finish(world: World, bc: BackupComponents) -> None:
    """End the session as a requester must after anything: wait for a running call, abort
    what is unfinished, release; then nothing may be left locked, marked, held or frozen."""
    if bc.call_in_progress:
        with contextlib.suppress(VssError):
            world.sim.run()  # the call runs to its end (nothing else runs for ever here)
    if bc.allows("abort_backup") and bc.state != SessionState.SNAPSHOTS_CREATED:
        world.sim.run(until=bc.abort_backup())
    if bc.allows("release"):
        world.sim.run(until=bc.release())
    assert bc.state == SessionState.RELEASED
    assert_clean(world)
    world.sim.run()  # nothing left pending raises
    assert_clean(world)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    restore=st.booleans(),
    prefix=st.one_of(st.just(0), st.integers(0, len(BACKUP))),
    steps=st.integers(1, 20),
    data=st.data(),
)
def test_random_calls_succeed_or_refuse_cleanly(
    restore: bool, prefix: int, steps: int, data: st.DataObject
) -> None:
    world = small_world(0, workload=False)
    bc = world.coordinator.create_backup_components("requester")
    known: list[uuid.UUID] = []
    for call in (RESTORE if restore else BACKUP)[:prefix]:
        _ids_of(_wait(world, call(bc)), known)
    for _ in range(steps):
        name, drawn = data.draw(CALLS, label="call")
        args = [a.resolve(known) if isinstance(a, Returned) else a for a in drawn]
        wait = data.draw(st.integers(0, 9), label="wait") > 0
        before = observe(world, bc)
        try:
            result = getattr(bc, name)(*args)
        except VssError as refused:
            event(f"{name} refused: {refused.hresult.name}")
            assert observe(world, bc) == before, f"{name} was refused but changed the session"
            if refused.hresult == HResult.E_INVALIDARG:
                assert ":" in refused.message, refused.message
            continue
        except Exception as exc:  # the point: no other exception type
            pytest.fail(f"{name} raised {type(exc).__name__}: {exc}")
        event(f"{name} taken")
        if wait and isinstance(result, Process):
            with contextlib.suppress(VssError):
                result = world.sim.run(until=result)
        _ids_of(result, known)
    event(f"ended {bc.state.value}")
    finish(world, bc)


# -- the failures issue 15 names, one by one ---------------------------------------------------


def _session(world: World) -> BackupComponents:
    bc = world.coordinator.create_backup_components("requester")
    bc.initialize_for_backup()
    bc.set_backup_state(True, False, BackupType.FULL)
    world.sim.run(until=bc.gather_writer_metadata())
    bc.add_component(DB_WRITER_ID, "Inst", "Db")
    return bc


def _refused(world: World, bc: BackupComponents, call: Call, param: str) -> VssError:
    before = observe(world, bc)
    with pytest.raises(VssError) as caught:
        call(bc)
    assert caught.value.hresult == HResult.E_INVALIDARG
    assert caught.value.message.startswith(f"{param}: "), caught.value.message
    assert observe(world, bc) == before
    return caught.value


@pytest.mark.parametrize(
    ("param", "call"),
    [
        ("context", lambda bc: bc.set_context(0x100)),
        # 0x63: PERSISTENT (which requesters must not set) is no context by itself.
        ("context", lambda bc: bc.set_context(99)),
        ("context", lambda bc: bc.set_context(Context.FILE_SHARE_BACKUP | SnapshotAttr.PERSISTENT)),
        ("context", lambda bc: bc.set_context(Context.BACKUP | SnapshotAttr.NOT_SURFACED)),
        ("context", lambda bc: bc.set_context(-2)),
        ("context", lambda bc: bc.set_context(None)),
        ("context", lambda bc: bc.set_context(BackupType.FULL)),
        ("backup_type", lambda bc: bc.set_backup_state(backup_type=None)),
        ("backup_type", lambda bc: bc.set_backup_state(backup_type=99)),
        ("backup_type", lambda bc: bc.set_backup_state(backup_type=RestoreStatus.ALL)),
        ("select_components", lambda bc: bc.set_backup_state(select_components=None)),
        ("writer_class_id", lambda bc: bc.add_component(str(DB_WRITER_ID), "Inst", "Db")),
        ("logical_path", lambda bc: bc.add_component(DB_WRITER_ID, None, "Db")),
        ("name", lambda bc: bc.add_component(DB_WRITER_ID, "Inst", HUGE)),
        ("stamp", lambda bc: bc.set_previous_backup_stamp(DB_WRITER_ID, "Inst", "Db", 7)),
        ("volume_path", lambda bc: bc.is_volume_supported(None)),
        ("provider_id", lambda bc: bc.is_volume_supported("D:\\", "software")),
    ],
)
def test_bad_arguments_are_invalid_and_change_nothing(param: str, call: Call) -> None:
    world = small_world(0, workload=False)
    _refused(world, _session(world), call, param)


def test_add_to_snapshot_set_refuses_a_missing_or_huge_path() -> None:
    world = small_world(0, workload=False)
    bc = _session(world)
    bc.start_snapshot_set()
    _refused(world, bc, lambda bc: bc.add_to_snapshot_set(None), "volume_path")
    error = _refused(
        world, bc, lambda bc: bc.add_to_snapshot_set("D:\\" + "a" * 40_000), "volume_path"
    )
    assert "longer than 32767" in error.message and len(error.message) < 200
    bc.add_to_snapshot_set("D:\\")  # the refusals left the set as it was
    assert [v.label for v in bc.snapshot_set.volumes] == ["D:"]  # type: ignore[union-attr]
    finish(world, bc)


def test_a_context_with_attribute_bits_is_taken_and_marks_the_shadow_copies() -> None:
    world = small_world(0, workload=False)
    bc = _session(world)
    bc.set_context(Context.APP_ROLLBACK | SnapshotAttr.NO_AUTORECOVERY)
    assert bc.context == Context.APP_ROLLBACK
    assert bc.context_attributes == SnapshotAttr.NO_AUTORECOVERY
    bc.start_snapshot_set()
    snapshot_id = bc.add_to_snapshot_set("D:\\")
    bc.add_to_snapshot_set("L:\\")
    world.sim.run(until=bc.prepare_for_backup())
    world.sim.run(until=bc.do_snapshot_set())
    attributes = bc.get_snapshot_properties(snapshot_id).attributes
    assert attributes & SnapshotAttr.NO_AUTORECOVERY
    assert attributes & SnapshotAttr.NO_AUTO_RELEASE  # the context's own attributes stay
    with pytest.raises(VssError) as unsupported:
        bc.set_context(Context.ALL)  # out of order now, but VSS_CTX_ALL is a valid value
    assert unsupported.value.hresult == HResult.VSS_E_BAD_STATE
    finish(world, bc)


def test_an_int_backup_type_is_taken_as_its_enum() -> None:
    world = small_world(0, workload=False)
    bc = world.coordinator.create_backup_components("requester")
    bc.initialize_for_backup()
    bc.set_backup_state(True, False, 2)
    assert bc.backup_type is BackupType.INCREMENTAL


def test_initialize_for_restore_refuses_a_missing_document_before_moving_state() -> None:
    world = small_world(0, workload=False)
    bc = world.coordinator.create_backup_components("restorer")
    for bad in (None, 5, ""):
        _refused(world, bc, lambda bc, bad=bad: bc.initialize_for_restore(bad), "document")
    assert bc.state == SessionState.CREATED
    bc.initialize_for_restore(DOCUMENT_XML)
    assert bc.state == SessionState.RESTORE_INITIALIZED


def test_save_as_xml_checks_its_files() -> None:
    world = small_world(0, workload=False)
    bc = _session(world)
    bc.start_snapshot_set()
    bc.add_to_snapshot_set("D:\\")
    world.sim.run(until=bc.prepare_for_backup())
    world.sim.run(until=bc.do_snapshot_set())
    for bad in ({KEY: "D:\\Data\\Db.mdf"}, {"Inst\\Db": []}, [KEY], {KEY: [None]}):
        _refused(world, bc, lambda bc, bad=bad: bc.save_as_xml(bad), "files")
    assert "Db.mdf" in bc.save_as_xml({KEY: ["D:\\Data\\Db.mdf"]})
    finish(world, bc)


def test_arguments_are_checked_before_the_state() -> None:
    world = small_world(0, workload=False)
    bc = world.coordinator.create_backup_components("requester")  # not initialized
    _refused(world, bc, lambda bc: bc.add_to_snapshot_set(None), "volume_path")
    with pytest.raises(VssError) as caught:
        bc.add_to_snapshot_set("D:\\")
    assert caught.value.hresult == HResult.VSS_E_BAD_STATE
    with pytest.raises(VssError, match="requester: expected a string"):
        world.coordinator.create_backup_components(None)  # type: ignore[arg-type]


# -- agent and restore options, the agents, the restore functions ------------------------------

OPTION_VALUES = st.one_of(
    _junk(),
    st.integers(-(2**40), 2**40),
    st.booleans(),
    st.sampled_from([BackupType.FULL, 2, 0, Context.APP_ROLLBACK, 9, (), (DOCUMENT,), NOWHERE]),
)


@settings(max_examples=80, deadline=None)
@given(
    kind=st.sampled_from([AgentOptions, RetryPolicy, RestoreOptions, ComponentSelector]),
    data=st.data(),
)
def test_options_take_good_fields_and_name_a_bad_one(kind: type, data: st.DataObject) -> None:
    """Any value for any field: the options are built (the field of its type, an enum for an
    enum) or refused with a ConfigurationError naming the field; nothing else."""
    fields = [f.name for f in attrs.fields(kind) if f.init]
    field = data.draw(st.sampled_from(fields), label="field")
    value = data.draw(OPTION_VALUES, label="value")
    base: dict[str, Any] = {"writer": "W", "path": "P"} if kind is ComponentSelector else {}
    try:
        options = kind(**{**base, field: value})
    except ConfigurationError as refused:
        assert str(refused).startswith(f"{field}: ") or "replica" in str(refused), str(refused)
        return
    taken = getattr(options, field)
    assert taken == value or (isinstance(value, list | tuple) and tuple(taken) == tuple(value))


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: AgentOptions(backup_type=None), "backup_type"),
        (lambda: AgentOptions(backup_type=0), "backup_type"),
        (lambda: AgentOptions(context=99), "context"),
        (lambda: AgentOptions(lock_retry_us=0), "lock_retry_us"),
        (lambda: AgentOptions(copy_bytes_per_s=-1), "copy_bytes_per_s"),
        (lambda: AgentOptions(keep_snapshots="yes"), "keep_snapshots"),
        (lambda: AgentOptions(critical_writers="SqlServerWriter"), "critical_writers"),
        (lambda: AgentOptions(provider_id="software"), "provider_id"),
        (lambda: AgentOptions(retry=None), "retry"),
        (lambda: RetryPolicy(retries=-1), "retries"),
        (lambda: RetryPolicy(retries=10**9), "retries"),
        (lambda: RetryPolicy(retryable={"VSS_E_BAD_STATE"}), "retryable"),
        (lambda: RestoreOptions(copy_bytes_per_s=0), "copy_bytes_per_s"),
        (lambda: RestoreOptions(service_control_us=None), "service_control_us"),
        (lambda: ComponentSelector.parse(None), "selector"),
        (lambda: ComponentSelector("", "Inst\\Db"), "writer"),
    ],
)
def test_bad_options_are_configuration_errors_naming_the_field(
    build: Callable[[], object], field: str
) -> None:
    with pytest.raises(ConfigurationError, match=f"^{field}: "):
        build()


def test_options_take_an_enum_by_its_value() -> None:
    options = AgentOptions(backup_type=2, context=9)
    assert options.backup_type is BackupType.INCREMENTAL
    assert options.context is Context.APP_ROLLBACK
    assert RetryPolicy(retryable=[HResult.VSS_E_BAD_STATE]).retryable == frozenset(
        {HResult.VSS_E_BAD_STATE}
    )


def _archive() -> BackupArchive:
    return BackupArchive(DOCUMENT)


@pytest.mark.parametrize(
    ("call", "param"),
    [
        (lambda w: BackupAgent(w.coordinator, "a", "TestDbWriter:Inst\\Db"), "selection"),
        (lambda w: BackupAgent(w.coordinator, None, []), "name"),
        (lambda w: BackupAgent(None, "a", []), "coordinator"),
        (lambda w: BackupAgent(w.coordinator, "a", [], options={}), "options"),
        (lambda w: RestoreAgent(w.coordinator, "r", None), "archive"),
        (lambda w: RestoreAgent(w.coordinator, "r", _archive(), "Inst\\Db"), "selection"),
        (lambda w: RestoreAgent(w.coordinator, "r", _archive(), options=5), "options"),
        (lambda w: RestoreAgent(w.coordinator, "r", _archive(), continues=[]), "continues"),
        (lambda w: restore_plan(None), "archives"),
        (lambda w: restore_plan([_archive()], point="last"), "point"),
        (lambda w: restore_chain(w.coordinator, [None]), "archives"),
        (lambda w: restore_chain(w.coordinator, [_archive()], name=""), "name"),
        (lambda w: verify_restore(w.namespace, _archive(), None), "files"),
        (lambda w: verify_restore(w.namespace, None, ()), "archive"),
    ],
)
def test_agents_and_restore_functions_refuse_bad_arguments(
    call: Callable[[World], object], param: str
) -> None:
    world = small_world(0, workload=False)
    trace = len(world.sim.trace)
    with pytest.raises(VssError) as caught:
        call(world)
    assert caught.value.hresult == HResult.E_INVALIDARG
    assert caught.value.message.startswith(f"{param}: "), caught.value.message
    assert len(world.sim.trace) == trace


def test_initialize_for_restore_reads_the_document_as_utf16_bytes() -> None:
    """A stored document read back from disk as bytes (UTF-16, as Windows writes it) works."""
    world = small_world(0, workload=False)
    bc = world.coordinator.create_backup_components("restorer")
    bc.initialize_for_restore(DOCUMENT_XML.encode("utf-16"))
    assert bc.state == SessionState.RESTORE_INITIALIZED
