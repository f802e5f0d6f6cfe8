"""Backup types: full, incremental, differential, log and copy, each with its exact effect on
what is copied, on the writer's backup stamps and on its logs; the backup stamps' calls and
their refusals; chains of backups restored; and, for random workloads and random chains, every
backup point restored gives back exactly the data at that point."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import vsssim
from vsssim import (
    SECOND,
    AgentOptions,
    BackupResult,
    BackupType,
    Component,
    DatabaseWriter,
    EventContext,
    FileDescriptor,
    HResult,
    VssError,
    World,
    Writer,
    WriterMetadata,
)
from vsssim.host.demo import build_demo_world
from vsssim.requesters.archive import BackupArchive
from vsssim.requesters.backup_result import verify_copy
from vsssim.requesters.restore import restore_chain, restore_plan, verify_restore
from vsssim.requesters.restore_agent import RestoreAgent
from vsssim.sim import vocabulary as V
from vsssim.sim.kernel import ProcessGenerator
from vsssim.testing.invariants import check_all
from vsssim.vss.backup_types import (
    block_ranges,
    changed_blocks,
    effective_type,
    previous_backup_stamp,
)
from vsssim.vss.constants import BackupSchema, ComponentType, RestoreStatus, SourceType
from vsssim.vss.documents.backup_document import BackedUpComponent, BackupComponentsDocument
from vsssim.vss.namespace import reads_as_zeros
from vsssim.vss.workload import Workload

GIB = 1024**3
DB_ID = uuid.UUID("7a7a7a7a-1111-4222-8333-944444444444")
DIFF_ID = uuid.UUID("7b7b7b7b-1111-4222-8333-944444444444")
PLAIN_ID = uuid.UUID("7c7c7c7c-1111-4222-8333-944444444444")
DATA = "D:\\Data\\orders.mdf"
LOG = "E:\\Logs\\orders.ldf"
DOCS = ("F:\\Docs\\a.txt", "F:\\Docs\\b.txt")
PLAIN = "F:\\Plain\\c.bin"
ORDERS = "OrdersWriter:ORDERS01\\Orders"
EVERY_TYPE = (
    BackupSchema.INCREMENTAL | BackupSchema.DIFFERENTIAL | BackupSchema.LOG | BackupSchema.COPY
)


def _database(schema: BackupSchema = EVERY_TYPE) -> WriterMetadata:
    return WriterMetadata(
        writer_class_id=DB_ID,
        writer_instance_id=uuid.UUID(int=DB_ID.int + 1),
        writer_name="OrdersWriter",
        source_type=SourceType.TRANSACTEDDB,
        backup_schema=schema,
        components=(
            Component(
                "Orders",
                ComponentType.DATABASE,
                "ORDERS01",
                database_files=(FileDescriptor("D:\\Data", "orders.mdf"),),
                log_files=(FileDescriptor("E:\\Logs", "orders.ldf"),),
            ),
        ),
    )


def _world(
    seed: int = 1,
    *,
    schema: BackupSchema = EVERY_TYPE,
    others: bool = False,
    docs_schema: BackupSchema = BackupSchema.DIFFERENTIAL | BackupSchema.COPY,
) -> World:
    """Volumes D: (data), E: (log), F: (documents); OrdersWriter, a database writer with
    ``schema``, and its application; with ``others``, DocsWriter (by default differential
    only) whose files users also write without pausing, and a writer that supports full
    backups only."""
    world = World.create(seed)
    for letter in "DEF":
        world.add_volume(f"{letter}:\\", f"{letter}:", GIB)
    world.add_file(DATA, 16, initial_blocks=4)
    world.add_file(LOG, 8, initial_blocks=2)
    orders = world.add_writer(DatabaseWriter(_database(schema)))
    world.add_workload(Workload("orders.exe", [DATA, LOG], writer=orders))
    if others:
        for path in (*DOCS, PLAIN):
            world.add_file(path, 6, initial_blocks=1)
        docs = world.add_writer(
            Writer(
                WriterMetadata(
                    DIFF_ID,
                    uuid.UUID(int=DIFF_ID.int + 1),
                    "DocsWriter",
                    backup_schema=docs_schema,
                    components=(Component("Docs", files=(FileDescriptor("F:\\Docs", "*"),)),),
                )
            )
        )
        plain = world.add_writer(
            Writer(
                WriterMetadata(
                    PLAIN_ID,
                    uuid.UUID(int=PLAIN_ID.int + 1),
                    "PlainWriter",
                    components=(Component("Plain", files=(FileDescriptor("F:\\Plain", "*"),)),),
                )
            )
        )
        world.add_workload(Workload("docs.exe", list(DOCS), writer=docs))
        world.add_workload(Workload("plain.exe", [PLAIN], writer=plain))
        world.add_workload(Workload("users", [DOCS[0], PLAIN]))
    return world


SELECT_ALL = (ORDERS, "DocsWriter:Docs", "PlainWriter:Plain")


class _Chain:
    """Backups taken one after another on one world, each handed the earlier documents."""

    def __init__(self, world: World, selection: Sequence[str] = (ORDERS,)) -> None:
        self.world = world
        self.selection = tuple(selection)
        self.results: list[BackupResult] = []
        self.archives: list[BackupArchive] = []

    def backup(self, backup_type: BackupType) -> BackupResult:
        name = f"agent {len(self.results) + 1}"
        history = tuple(a.document for a in self.archives)
        agent = self.world.add_agent(
            name, self.selection, AgentOptions(backup_type=backup_type, history=history)
        )
        self.world.start([(agent, 0)])
        self.world.sim.run()
        result = agent.result
        assert result is not None and result.succeeded, result
        self.results.append(result)
        self.world.results.append(result)  # what World.verify and the invariants check
        self.archives.append(BackupArchive.of(result))
        return result

    def gap(self, duration_us: int = SECOND) -> None:
        self.world.run_workloads(duration_us)


def _orders(result: BackupResult) -> BackedUpComponent:
    assert result.document is not None
    return result.document.component(DB_ID, "ORDERS01", "Orders")


def _changed_since(world: World, path: str, after: int, upto: int) -> list[int]:
    file = world.namespace.file(path)
    blocks = changed_blocks(file.volume, file.volume_blocks(), after, upto)
    return [b - file.first_block for b in blocks]


def _truncations(world: World, since: int = 0) -> list[vsssim.TraceRecord]:
    return [
        r
        for r in world.sim.trace
        if r.seq >= since and r.action == V.LOG_TRUNCATED and r.actor == "OrdersWriter"
    ]


def _log_at(world: World, seq: int) -> dict[int, bytes]:
    file = world.namespace.file(LOG)
    content = file.volume.content_at(seq)
    return {b: d for b, d in content.items() if b in file.volume_blocks() and not reads_as_zeros(d)}


# -- the rules -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("schema", "requested", "expected"),
    [
        (BackupSchema.UNDEFINED, BackupType.FULL, BackupType.FULL),
        (BackupSchema.UNDEFINED, BackupType.INCREMENTAL, BackupType.FULL),
        (BackupSchema.DIFFERENTIAL, BackupType.INCREMENTAL, BackupType.FULL),
        (BackupSchema.DIFFERENTIAL, BackupType.DIFFERENTIAL, BackupType.DIFFERENTIAL),
        (BackupSchema.INCREMENTAL, BackupType.INCREMENTAL, BackupType.INCREMENTAL),
        (BackupSchema.COPY, BackupType.LOG, BackupType.FULL),
        (BackupSchema.LOG, BackupType.LOG, BackupType.LOG),
        (BackupSchema.LOG, BackupType.COPY, BackupType.FULL),
        (BackupSchema.COPY, BackupType.COPY, BackupType.COPY),
        (BackupSchema.UNDEFINED, BackupType.OTHER, BackupType.OTHER),
    ],
)
def test_a_type_the_schema_lacks_is_a_full_backup_of_that_writer(
    schema: BackupSchema, requested: BackupType, expected: BackupType
) -> None:
    assert effective_type(schema, requested) is expected


def test_block_ranges_merge_runs_of_blocks_into_byte_ranges() -> None:
    assert block_ranges([5, 0, 1, 2, 7, 6], 4096) == ((0, 3 * 4096), (5 * 4096, 3 * 4096))
    assert block_ranges([], 512) == ()


# -- each type's exact effect ----------------------------------------------------------------


def test_full_copies_every_file_whole_sets_a_stamp_and_truncates_the_log() -> None:
    world = _world()
    chain = _Chain(world)
    full = chain.backup(BackupType.FULL)
    orders = _orders(full)
    assert orders.backup_stamp == f"OrdersWriter@{full.commit_seq}"
    assert (orders.previous_backup_stamp, orders.partial_files) == ("", ())
    assert {f.path for f in full.files} == {DATA, LOG}
    assert not verify_copy(world.namespace, full)
    assert full.commit_seq is not None and _log_at(world, full.commit_seq)  # a log to truncate
    [truncation] = _truncations(world)
    assert truncation.details["backup_type"] == BackupType.FULL.vss_name
    assert truncation.details["blocks"] > 0
    # Every log block the backup holds is zeroed; a block written since the commit is kept.
    at_commit, after = _log_at(world, full.commit_seq), _log_at(world, truncation.seq)
    assert len(after) == truncation.details["kept"]
    assert all(at_commit.get(block) != data for block, data in after.items())


def test_copy_copies_every_file_whole_and_changes_nothing_of_the_writer() -> None:
    world = _world()
    chain = _Chain(world)
    chain.backup(BackupType.FULL)
    history = dict(world.coordinator.writer("OrdersWriter").backup_history)
    chain.gap()
    truncated = len(_truncations(world))
    copy = chain.backup(BackupType.COPY)
    orders = _orders(copy)
    assert (orders.backup_stamp, orders.previous_backup_stamp, orders.partial_files) == (
        "",
        "",
        (),
    )
    assert {f.path for f in copy.files} == {DATA, LOG}
    assert not verify_copy(world.namespace, copy)
    assert len(_truncations(world)) == truncated  # no log truncation
    assert world.coordinator.writer("OrdersWriter").backup_history == history
    # ...and a later incremental still builds on the full, not on the copy.
    chain.gap()
    incremental = chain.backup(BackupType.INCREMENTAL)
    assert _orders(incremental).previous_backup_stamp == _orders(chain.results[0]).backup_stamp


def test_log_backup_copies_only_the_log_files_and_truncates_them() -> None:
    world = _world()
    chain = _Chain(world)
    chain.backup(BackupType.FULL)
    chain.gap()
    log = chain.backup(BackupType.LOG)
    orders = _orders(log)
    assert orders.files == (LOG,) and [f.path for f in log.files] == [LOG]
    assert (orders.backup_stamp, orders.previous_backup_stamp, orders.partial_files) == (
        "",
        "",
        (),
    )
    assert not verify_copy(world.namespace, log)
    last = _truncations(world)[-1]
    assert last.details["backup_type"] == BackupType.LOG.vss_name
    assert _log_at(world, last.seq) == {}


def test_incremental_copies_only_what_changed_since_the_previous_full_or_incremental() -> None:
    world = _world()
    chain = _Chain(world)
    full = chain.backup(BackupType.FULL)
    chain.gap()
    first = chain.backup(BackupType.INCREMENTAL)
    chain.gap()
    second = chain.backup(BackupType.INCREMENTAL)
    partial_copies = 0
    for previous, result in ((full, first), (chain.results[1], second)):
        orders = _orders(result)
        assert orders.previous_backup_stamp == _orders(previous).backup_stamp
        assert orders.backup_stamp == f"OrdersWriter@{result.commit_seq}"
        assert result.document is not None and result.document.partial_file_support
        assert previous.commit_seq is not None and result.commit_seq is not None
        for path in (DATA, LOG):
            partial = orders.partial_file(path)
            assert partial is not None
            changed = _changed_since(world, path, previous.commit_seq, result.commit_seq)
            assert changed, f"{path}: the workload wrote nothing in between"
            assert partial.ranges == block_ranges(changed, 4096)
            copied = next(f for f in result.files if f.path == path)
            assert copied.size_bytes == 4096 * len(changed) <= 4096 * copied.block_count
            partial_copies += copied.size_bytes < 4096 * copied.block_count
    assert partial_copies  # some file changed in part only, and only that part was copied
    assert len(_truncations(world)) == 3  # an incremental truncates the log too (assumption)


def test_differential_copies_what_changed_since_the_last_full_and_keeps_the_log() -> None:
    world = _world()
    chain = _Chain(world)
    full = chain.backup(BackupType.FULL)
    chain.gap()
    chain.backup(BackupType.INCREMENTAL)
    chain.gap()
    truncated = len(_truncations(world))
    history = set(world.coordinator.writer("OrdersWriter").backup_history)
    differential = chain.backup(BackupType.DIFFERENTIAL)
    orders = _orders(differential)
    assert orders.previous_backup_stamp == _orders(full).backup_stamp  # not the incremental's
    assert orders.backup_stamp == ""  # a differential does not mark the files backed up
    assert set(world.coordinator.writer("OrdersWriter").backup_history) == history
    assert full.commit_seq is not None and differential.commit_seq is not None
    for path in (DATA, LOG):
        partial = orders.partial_file(path)
        assert partial is not None
        changed = _changed_since(world, path, full.commit_seq, differential.commit_seq)
        assert partial.ranges == block_ranges(changed, 4096)
    assert len(_truncations(world)) == truncated


def test_partial_copies_are_checked_on_their_ranges_and_the_world_is_clean() -> None:
    world = _world(others=True)
    chain = _Chain(world, SELECT_ALL)
    for kind in (BackupType.FULL, BackupType.INCREMENTAL, BackupType.DIFFERENTIAL):
        chain.backup(kind)
        chain.gap()
    assert {name: v for name, v in check_all(world).items() if v} == {}
    for result in chain.results[1:]:
        partial = [f for f in result.files if f.ranges is not None]
        assert {f.path for f in partial} >= {DATA, LOG}
        orders = _orders(result)
        for copied in partial:
            if copied.path in (DATA, LOG):
                ranges = orders.partial_file(copied.path)
                assert ranges is not None and copied.ranges == ranges.ranges
        assert world.verify(result) == []


def test_a_partial_copy_that_differs_from_the_commit_instant_is_reported() -> None:
    world = _world()
    chain = _Chain(world)
    chain.backup(BackupType.FULL)
    chain.gap()
    result = chain.backup(BackupType.INCREMENTAL)
    copied = next(f for f in result.files if f.path == DATA and f.ranges)
    block = min(copied.data)
    damaged = attrs.evolve(copied, data={**copied.data, block: b"damaged"})
    files = tuple(damaged if f is copied else f for f in result.files)
    [problem] = verify_copy(world.namespace, attrs.evolve(result, files=files))
    assert problem == f"{DATA}: blocks [{block}] differ from the commit instant"


@attrs.define(eq=False)
class _LogsAfterTheCommit(DatabaseWriter):
    """Its database appends a transaction to the log after the commit, before OnBackupComplete
    truncates it (as a busy database does while the requester copies)."""

    def on_backup_complete(self, ctx: EventContext) -> ProcessGenerator:
        components = ctx.writer_components
        assert components is not None
        [log] = components.files_of(ctx.components[0], logs_only=True)
        log.volume.write(log.block_address(5), f"after {ctx.session_id}".encode(), self.name)
        yield from super().on_backup_complete(ctx)


def test_the_truncation_keeps_the_log_written_after_the_commit() -> None:
    world = World.create(4)
    world.add_volume("D:\\", "D:", GIB)
    world.add_volume("E:\\", "E:", GIB)
    world.add_file(DATA, 16, initial_blocks=4)
    world.add_file(LOG, 8, initial_blocks=2)
    world.add_writer(_LogsAfterTheCommit(_database()))
    chain = _Chain(world)
    full = chain.backup(BackupType.FULL)
    [truncation] = _truncations(world)
    log = world.namespace.file(LOG)
    late = log.block_address(5)
    assert log.volume.read(late).startswith(b"after")  # in no backup yet: kept
    assert (truncation.details["blocks"], truncation.details["kept"]) == (2, 1)
    assert full.commit_seq is not None and late not in _log_at(world, full.commit_seq)
    assert _log_at(world, truncation.seq) == {late: log.volume.read(late)}
    # The next log backup holds it; the block, written again after that backup's commit,
    # is kept in its turn.
    held = log.volume.read(late)
    log_backup = chain.backup(BackupType.LOG)
    [copied] = log_backup.files
    assert copied.data[late] == held
    assert not verify_copy(world.namespace, log_backup)
    second = _truncations(world)[-1]
    assert (second.details["blocks"], second.details["kept"]) == (0, 1)
    assert log.volume.read(late) != held


def test_a_writer_whose_schema_lacks_the_type_is_backed_up_in_full() -> None:
    world = _world(schema=BackupSchema.DIFFERENTIAL)  # like SQL Server's writer: no incremental
    chain = _Chain(world)
    full = chain.backup(BackupType.FULL)
    chain.gap()
    result = chain.backup(BackupType.INCREMENTAL)
    [record] = [r for r in world.sim.trace if r.action == V.BACKUP_TYPE_NOT_SUPPORTED]
    assert record.details == {
        "writer": "OrdersWriter",
        "backup_type": BackupType.INCREMENTAL.vss_name,
        "backup_schema": BackupSchema.DIFFERENTIAL.vss_name,
        "instead": BackupType.FULL.vss_name,
    }
    orders = _orders(result)
    assert (orders.previous_backup_stamp, orders.partial_files) == ("", ())
    assert orders.backup_stamp == f"OrdersWriter@{result.commit_seq}"  # a full marks the files
    assert {f.path for f in result.files} == {DATA, LOG}
    assert not verify_copy(world.namespace, result)
    assert [t.details["backup_type"] for t in _truncations(world)] == ["VSS_BT_FULL"] * 2
    # The next differential builds on that full, the newest.
    chain.gap()
    differential = chain.backup(BackupType.DIFFERENTIAL)
    assert (
        _orders(differential).previous_backup_stamp
        == orders.backup_stamp
        != (_orders(full).backup_stamp)
    )


def test_a_writer_without_a_backup_history_never_sets_stamps() -> None:
    world = _world(others=True)
    chain = _Chain(world, SELECT_ALL)
    chain.backup(BackupType.FULL)
    chain.gap()
    result = chain.backup(BackupType.INCREMENTAL)
    assert result.document is not None
    plain = result.document.component(PLAIN_ID, "", "Plain")
    assert (plain.backup_stamp, plain.previous_backup_stamp, plain.partial_files) == ("", "", ())
    unsupported = [
        r.details["writer"] for r in world.sim.trace if r.action == V.BACKUP_TYPE_NOT_SUPPORTED
    ]
    assert unsupported == ["DocsWriter", "PlainWriter"]


def test_a_default_full_backup_of_the_demo_leaves_no_partial_files() -> None:
    world = build_demo_world(seed=3)
    [result] = world.run()
    assert result.document is not None and not result.document.partial_file_support
    assert all(
        not c.partial_files and not c.previous_backup_stamp for c in result.document.components
    )
    sql = [c for c in result.document.components if c.writer_name == "SqlServerWriter"]
    assert sql and all(c.backup_stamp == f"SqlServerWriter@{result.commit_seq}" for c in sql)
    assert not verify_copy(world.namespace, result)


def test_the_previous_stamp_is_taken_from_the_right_earlier_backup() -> None:
    key = vsssim.ComponentKey(DB_ID, "ORDERS01", "Orders")

    def document(
        kind: BackupType, stamp: str, previous: str = "", ok: bool = True
    ) -> BackupComponentsDocument:
        component = BackedUpComponent(
            DB_ID,
            uuid.UUID(int=1),
            "OrdersWriter",
            "orders01",
            "ORDERS",
            backup_succeeded=ok,
            backup_stamp=stamp,
            previous_backup_stamp=previous,
        )
        return BackupComponentsDocument(backup_type=kind, components=(component,))

    history = (
        document(BackupType.FULL, "s1"),
        document(BackupType.INCREMENTAL, "s2", "s1"),
        document(BackupType.COPY, ""),
        document(BackupType.DIFFERENTIAL, "", "s1"),
    )
    assert previous_backup_stamp(history, key, BackupType.INCREMENTAL) == "s2"
    assert previous_backup_stamp(history, key, BackupType.DIFFERENTIAL) == "s1"
    assert previous_backup_stamp(history, key, BackupType.FULL) is None
    assert previous_backup_stamp(history, key, BackupType.COPY) is None
    failed = (*history, document(BackupType.FULL, "s3", ok=False))
    # A backup whose component failed is no base: the one before it is.
    assert previous_backup_stamp(failed, key, BackupType.INCREMENTAL) == "s2"
    assert previous_backup_stamp(failed, key, BackupType.DIFFERENTIAL) == "s1"
    assert previous_backup_stamp((), key, BackupType.INCREMENTAL) is None


# -- the calls, and their refusals -----------------------------------------------------------


def _session(world: World) -> vsssim.BackupComponents:
    bc = world.coordinator.create_backup_components("requester")
    bc.initialize_for_backup()
    bc.set_backup_state(True, False, BackupType.INCREMENTAL, True)
    world.sim.run(until=bc.gather_writer_metadata())
    return bc


def test_set_previous_backup_stamp_comes_after_add_component_and_before_prepare() -> None:
    world = _world()
    bc = _session(world)
    with pytest.raises(VssError) as missing:
        bc.set_previous_backup_stamp(DB_ID, "ORDERS01", "Orders", "s")
    assert missing.value.hresult == HResult.VSS_E_OBJECT_NOT_FOUND
    bc.add_component(DB_ID, "ORDERS01", "Orders")
    with pytest.raises(VssError) as empty:
        bc.set_previous_backup_stamp(DB_ID, "ORDERS01", "Orders", "")
    assert empty.value.hresult == HResult.E_INVALIDARG
    assert bc.previous_backup_stamps == {}  # refused calls change nothing
    bc.set_previous_backup_stamp(DB_ID, "orders01", "ORDERS", "OrdersWriter@1")
    bc.start_snapshot_set()
    world.sim.run(until=bc.prepare_for_backup())
    with pytest.raises(VssError) as late:
        bc.set_previous_backup_stamp(DB_ID, "ORDERS01", "Orders", "OrdersWriter@2")
    assert late.value.hresult == HResult.VSS_E_BAD_STATE
    assert list(bc.previous_backup_stamps.values()) == ["OrdersWriter@1"]


def test_set_previous_backup_stamp_is_refused_in_a_restore() -> None:
    world = _world()
    full = _Chain(world).backup(BackupType.FULL)
    assert full.document is not None
    bc = world.coordinator.create_backup_components("restorer")
    bc.initialize_for_restore(full.document)
    world.sim.run(until=bc.gather_writer_metadata())
    with pytest.raises(VssError) as refused:
        bc.set_previous_backup_stamp(DB_ID, "ORDERS01", "Orders", "s")
    assert refused.value.hresult == HResult.VSS_E_BAD_STATE and "restore" in refused.value.message


def test_an_unknown_previous_stamp_leaves_the_files_whole() -> None:
    world = _world()
    bc = _session(world)
    bc.add_component(DB_ID, "ORDERS01", "Orders")
    bc.set_previous_backup_stamp(DB_ID, "ORDERS01", "Orders", "SomeoneElse@7")
    bc.start_snapshot_set()
    bc.add_to_snapshot_set("D:\\")
    bc.add_to_snapshot_set("E:\\")
    world.sim.run(until=bc.prepare_for_backup())
    world.sim.run(until=bc.do_snapshot_set())
    [orders] = bc.get_writer_components()
    assert orders.partial_files == () and orders.previous_backup_stamp == "SomeoneElse@7"
    [record] = [r for r in world.sim.trace if r.action == V.PREVIOUS_BACKUP_STAMP_UNKNOWN]
    assert record.details["stamp"] == "SomeoneElse@7"
    world.sim.run(until=bc.backup_complete())
    world.sim.run(until=bc.release())


@attrs.define(eq=False)
class _Misbehaves(DatabaseWriter):
    """Tries the writer's calls where VSS refuses them; keeps what VSS answered."""

    answers: list[tuple[str, HResult]] = attrs.field(factory=list, init=False)

    def _try(self, ctx: EventContext, call: str) -> None:
        components = ctx.writer_components
        assert components is not None
        component = ctx.components[0]
        try:
            if call == "stamp":
                components.set_backup_stamp(component, "late")
            elif call == "outside":
                components.add_partial_file(component, "D:\\Elsewhere\\x.mdf", ((0, 4096),))
            elif call == "past the end":
                components.add_partial_file(component, DATA, ((0, 17 * 4096),))
            else:
                components.add_partial_file(component, DATA, ((8192, 4096), (0, 4096)))
        except VssError as error:
            self.answers.append((call, error.hresult))

    def on_post_snapshot(self, ctx: EventContext) -> ProcessGenerator:
        for call in ("outside", "past the end", "unordered"):
            self._try(ctx, call)
        yield from super().on_post_snapshot(ctx)

    def on_backup_complete(self, ctx: EventContext) -> ProcessGenerator:
        self._try(ctx, "stamp")
        yield from super().on_backup_complete(ctx)


def test_the_writer_calls_are_refused_where_vss_refuses_them() -> None:
    world = World.create(2)
    world.add_volume("D:\\", "D:", GIB)
    world.add_volume("E:\\", "E:", GIB)
    world.add_file(DATA, 16, initial_blocks=4)
    world.add_file(LOG, 8, initial_blocks=2)
    writer = world.add_writer(_Misbehaves(_database()))
    chain = _Chain(world)
    result = chain.backup(BackupType.FULL)
    assert writer.answers == [
        ("outside", HResult.E_INVALIDARG),
        ("past the end", HResult.E_INVALIDARG),
        ("unordered", HResult.E_INVALIDARG),
        ("stamp", HResult.VSS_E_BAD_STATE),  # SetBackupStamp in OnBackupComplete
    ]
    orders = _orders(result)
    assert orders.partial_files == () and orders.backup_stamp == f"OrdersWriter@{result.commit_seq}"


# -- the document and the archive ------------------------------------------------------------


def test_stamps_and_partial_files_survive_the_archive() -> None:
    world = _world()
    chain = _Chain(world)
    chain.backup(BackupType.FULL)
    chain.gap()
    chain.backup(BackupType.INCREMENTAL)
    again = [BackupArchive.from_json(a.to_json()) for a in chain.archives]
    assert again == chain.archives
    assert [a.file(DATA) for a in again] == [a.file(DATA) for a in chain.archives]
    assert again[1].document.components[0].partial_files
    whole, partial = again[0].file(DATA), again[1].file(DATA)
    recorded = _orders(chain.results[1]).partial_file(DATA)
    assert whole is not None and whole.ranges is None
    assert partial is not None and recorded is not None and partial.ranges == recorded.ranges
    assert [dict(f.data) for f in again[1].files] == [dict(f.data) for f in chain.archives[1].files]


# -- restoring chains ------------------------------------------------------------------------


def _expected(world: World, archive: BackupArchive, seq: int) -> dict[str, dict[int, bytes]]:
    """Every backed-up file of ``archive`` at trace record ``seq``, from the write history."""
    expected = {}
    for component in archive.document.components:
        for path in component.files:
            copied = archive.file(path)
            assert copied is not None
            volume = world.namespace.volume_labelled(copied.volume)
            first, count = copied.first_block, copied.block_count
            expected[path] = {
                b - first: d
                for b, d in volume.content_at(seq).items()
                if first <= b < first + count and not reads_as_zeros(d)
            }
    return expected


def _on_disk(world: World, paths: Sequence[str]) -> dict[str, dict[int, bytes]]:
    return {path: world.namespace.file(path).content() for path in paths}


def test_a_full_and_two_incrementals_restore_to_the_last_point() -> None:
    world = _world()
    chain = _Chain(world)
    for kind in (BackupType.FULL, BackupType.INCREMENTAL, BackupType.INCREMENTAL):
        chain.backup(kind)
        chain.gap()
    world.delete_file(DATA, "user")
    steps = restore_plan(chain.archives)
    assert [s.archive for s in steps] == chain.archives
    key = _orders(chain.results[0]).key
    assert [s.additional_restores for s in steps] == [{key}, {key}, frozenset()]
    results = restore_chain(world.coordinator, chain.archives)
    assert all(r.outcome is vsssim.Outcome.SUCCEEDED for r in results)
    last = chain.results[-1]
    assert last.commit_seq is not None
    expected = _expected(world, chain.archives[-1], last.commit_seq)
    assert _on_disk(world, list(expected)) == expected
    additional = [r for r in world.sim.trace if r.action == V.SET_ADDITIONAL_RESTORES]
    assert len(additional) == 2
    # Each restore put back exactly what its archive holds (partial files: their ranges).
    for archive, result in zip(chain.archives, results, strict=True):
        assert not verify_restore(world.namespace, archive, result.files)
    partial = [f for f in results[1].files if f.ranges is not None]
    assert {f.path for f in partial} == {DATA, LOG}


def test_a_differential_restores_with_its_full_only() -> None:
    world = _world()
    chain = _Chain(world)
    for kind in (BackupType.FULL, BackupType.INCREMENTAL, BackupType.DIFFERENTIAL):
        chain.backup(kind)
        chain.gap()
    full, _, differential = chain.archives
    steps = restore_plan(chain.archives)
    assert [s.archive for s in steps] == [full, differential]
    restore_chain(world.coordinator, chain.archives)
    point = chain.results[-1].commit_seq
    assert point is not None
    expected = _expected(world, differential, point)
    assert _on_disk(world, list(expected)) == expected


def test_a_chain_with_a_missing_backup_is_refused_by_name() -> None:
    world = _world()
    chain = _Chain(world)
    for kind in (BackupType.FULL, BackupType.INCREMENTAL, BackupType.INCREMENTAL):
        chain.backup(kind)
        chain.gap()
    with pytest.raises(VssError) as broken:
        restore_plan([chain.archives[0], chain.archives[2]])
    assert broken.value.hresult == HResult.VSS_E_OBJECT_NOT_FOUND
    assert _orders(chain.results[1]).backup_stamp in broken.value.message
    with pytest.raises(VssError) as stranger:
        restore_plan(chain.archives[:1], chain.archives[2])
    assert stranger.value.hresult == HResult.VSS_E_OBJECT_NOT_FOUND


@pytest.mark.parametrize(
    ("kind", "article"),
    [(BackupType.INCREMENTAL, "an incremental"), (BackupType.DIFFERENTIAL, "a differential")],
)
def test_an_incremental_or_differential_alone_is_not_restored(
    kind: BackupType, article: str
) -> None:
    world = _world()
    chain = _Chain(world)
    chain.backup(BackupType.FULL)
    chain.gap()
    chain.backup(kind)
    chain.gap(3 * SECOND)  # the live files move on from the backup's point
    live = _on_disk(world, [DATA, LOG])
    result = world.restore(chain.archives[1])
    assert result.outcome is vsssim.Outcome.FAILED and result.files == ()
    [orders] = result.not_restored
    assert orders.status is RestoreStatus.NONE
    assert orders.reason == (
        f"{article} backup restores on top of the backup it builds on: restore the chain "
        "with restore_chain"
    )
    assert _on_disk(world, [DATA, LOG]) == live  # nothing of the component was written
    assert not [r for r in world.sim.trace if r.action == V.SET_SELECTED_FOR_RESTORE]
    # The chain itself still restores the point.
    results = restore_chain(world.coordinator, chain.archives)
    assert all(r.outcome is vsssim.Outcome.SUCCEEDED for r in results)
    point = chain.results[1].commit_seq
    assert point is not None
    expected = _expected(world, chain.archives[1], point)
    assert _on_disk(world, list(expected)) == expected


def test_a_continued_chain_does_not_complete_a_missing_file() -> None:
    world = _world()
    chain = _Chain(world)
    chain.backup(BackupType.FULL)
    chain.gap()
    chain.backup(BackupType.INCREMENTAL)
    world.delete_file(DATA, "user")
    key = _orders(chain.results[1]).key
    # A requester that says the base was put back when it was not.
    agent = RestoreAgent(
        world.coordinator, "restorer", chain.archives[1], continues={key: frozenset({DATA, LOG})}
    )
    result = world.sim.run(until=world.sim.process(agent.run(), "restorer"))
    [orders] = result.not_restored
    assert "is not the file it completes: restore the backup it builds on first" in orders.reason
    assert world.namespace.find(DATA) is None  # nothing of the component was written


@pytest.mark.parametrize(
    "later",
    [
        (BackupType.DIFFERENTIAL,),
        (BackupType.INCREMENTAL,),
        (BackupType.INCREMENTAL, BackupType.INCREMENTAL),
    ],
)
def test_a_file_deleted_before_a_later_backup_of_the_chain_is_not_restored(
    later: tuple[BackupType, ...],
) -> None:
    gone = "F:\\Docs\\z.txt"
    world = _world(3, others=True, docs_schema=EVERY_TYPE)
    world.add_file(gone, 4, initial_blocks=2)
    chain = _Chain(world, SELECT_ALL)
    chain.backup(BackupType.FULL)
    chain.gap()
    world.delete_file(gone, "user")
    for kind in later:
        chain.backup(kind)
        chain.gap()
    docs = next(c for c in chain.archives[-1].document.components if c.name == "Docs")
    assert gone not in docs.files  # the point's document no longer lists it
    results = restore_chain(world.coordinator, chain.archives)
    assert all(r.outcome is vsssim.Outcome.SUCCEEDED for r in results)
    assert world.namespace.find(gone) is None
    [removal] = [r for r in world.sim.trace if r.action == V.FILE_REMOVED]
    assert removal.details["path"] == gone
    step = next(r for r in results if any(c.removed for c in r.components))
    assert [c.removed for c in step.components if c.component == "Docs"] == [(gone,)]
    point = chain.results[-1].commit_seq
    assert point is not None
    expected = _expected(world, chain.archives[-1], point)
    assert _on_disk(world, list(expected)) == expected
    # Restoring the full's point brings it back.
    restore_chain(world.coordinator, chain.archives, chain.archives[0])
    assert world.namespace.find(gone) is not None


def test_a_file_created_again_since_the_base_is_backed_up_whole() -> None:
    world = _world(3)
    chain = _Chain(world)
    full = chain.backup(BackupType.FULL)
    chain.gap()
    before = world.namespace.file(DATA).first_block
    world.delete_file(DATA, "user")
    world.add_file(DATA, 16, initial_blocks=1)  # the same size, elsewhere on the volume
    assert world.namespace.file(DATA).first_block != before
    incremental = chain.backup(BackupType.INCREMENTAL)
    orders = _orders(incremental)
    assert orders.previous_backup_stamp == _orders(full).backup_stamp
    assert orders.partial_file(DATA) is None and orders.partial_file(LOG) is not None
    data = next(f for f in incremental.files if f.path == DATA)
    assert (data.ranges, data.size_bytes) == (None, 16 * 4096)
    assert not verify_copy(world.namespace, incremental)
    chain.gap()
    results = restore_chain(world.coordinator, chain.archives)
    assert all(r.outcome is vsssim.Outcome.SUCCEEDED for r in results)
    assert incremental.commit_seq is not None
    expected = _expected(world, chain.archives[1], incremental.commit_seq)
    assert _on_disk(world, list(expected)) == expected


def test_a_chain_is_found_whatever_the_case_of_its_logical_paths() -> None:
    world = _world()
    chain = _Chain(world)
    chain.backup(BackupType.FULL)
    chain.gap()
    chain.backup(BackupType.INCREMENTAL)
    full, incremental = chain.archives
    [orders] = incremental.document.components
    recased = attrs.evolve(orders, logical_path="orders01", name="ORDERS")
    document = attrs.evolve(incremental.document, components=(recased,))
    incremental = attrs.evolve(incremental, document=document)
    steps = restore_plan([full, incremental])
    assert [s.archive for s in steps] == [full, incremental]
    assert [len(s.additional_restores) for s in steps] == [1, 0]
    results = restore_chain(world.coordinator, [full, incremental])
    assert all(r.outcome is vsssim.Outcome.SUCCEEDED for r in results)


# -- the property ----------------------------------------------------------------------------

_LATER = st.sampled_from(
    [BackupType.INCREMENTAL, BackupType.DIFFERENTIAL, BackupType.COPY, BackupType.LOG]
)


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    later=st.lists(_LATER, min_size=1, max_size=4),
    gaps=st.lists(st.integers(1, 1500), min_size=5, max_size=5),
    point=st.integers(0, 4),
    delete=st.booleans(),
)
def test_restoring_any_point_of_a_chain_gives_back_the_data_at_that_point(
    seed: int, later: list[BackupType], gaps: list[int], point: int, delete: bool
) -> None:
    world = _world(seed, others=True)
    # A bulk load no writer pauses, on the files of the writers that keep a backup history:
    # it writes more often than a commit lasts (2 ms at least), so writes are held during
    # every commit and land after it, in the next backup's changes.
    world.add_workload(Workload("bulk load", [DATA, LOG, DOCS[1]], interval_us=(200, 1900)))
    chain = _Chain(world, SELECT_ALL)
    for kind, gap in zip([BackupType.FULL, *later], gaps, strict=False):
        chain.backup(kind)
        chain.gap(gap * 1000)
    held = [r for r in world.sim.trace if r.action == V.WRITE_HELD]
    assert len({r.details["held_by"] for r in held}) >= len(chain.results)
    at = point % len(chain.archives)
    archive = chain.archives[at]
    if delete:
        world.delete_file(DATA, "user")
    seq = chain.results[at].commit_seq
    assert seq is not None
    expected = _expected(world, archive, seq)
    results = restore_chain(world.coordinator, chain.archives, archive)
    assert all(r.outcome is vsssim.Outcome.SUCCEEDED for r in results), [r.message for r in results]
    assert _on_disk(world, list(expected)) == expected
