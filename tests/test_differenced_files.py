"""Differenced files: a writer whose schema has ``VSS_BS_LAST_MODIFY`` marks its file specs with
``IVssComponent::AddDifferencedFilesByLastModifyTime`` in an incremental or differential, and
the requester copies whole only the files modified since (``GetDifferencedFile``); the calls'
refusals; the document round trip; a chain of such backups restored to its last point.

Pages followed: "IVssComponent::AddDifferencedFilesByLastModifyTime", "IVssComponent::
GetDifferencedFile", "Writer Role in VSS Incremental and Differential Backups", "VSS_BACKUP_SCHEMA".
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vsssim import (
    SECOND,
    AgentOptions,
    BackupResult,
    BackupType,
    Component,
    EventContext,
    FileDescriptor,
    HResult,
    Outcome,
    VssError,
    World,
    Writer,
    WriterMetadata,
)
from vsssim.requesters.archive import BackupArchive
from vsssim.requesters.restore import restore_chain
from vsssim.sim import vocabulary as V
from vsssim.sim.kernel import ProcessGenerator
from vsssim.testing.invariants import check_all
from vsssim.vss.backup_types import last_modified_us
from vsssim.vss.constants import BackupSchema
from vsssim.vss.documents.backup_document import (
    BackedUpComponent,
    BackupComponentsDocument,
    DifferencedFiles,
    document_from_xml,
    document_to_xml,
)
from vsssim.vss.namespace import reads_as_zeros
from vsssim.vss.workload import Workload

GIB = 1024**3
WRITER_ID = uuid.UUID("7d7d7d7d-1111-4222-8333-944444444444")
FILES = ("F:\\Docs\\a.txt", "F:\\Docs\\b.txt", "F:\\Docs\\sub\\c.txt")
LAST_MODIFY = BackupSchema.INCREMENTAL | BackupSchema.DIFFERENTIAL | BackupSchema.LAST_MODIFY
SELECTION = ("DocsWriter:Docs",)


def _metadata(schema: BackupSchema = LAST_MODIFY) -> WriterMetadata:
    return WriterMetadata(
        WRITER_ID,
        uuid.UUID(int=WRITER_ID.int + 1),
        "DocsWriter",
        backup_schema=schema,
        components=(Component("Docs", files=(FileDescriptor("F:\\Docs", "*", recursive=True),)),),
    )


def _world(writer: Writer | None = None, written: tuple[str, ...] = FILES[:1]) -> World:
    """Volume F: with the three files; DocsWriter (LAST_MODIFY by default) and a workload
    that writes only ``written`` between backups."""
    world = World.create(3)
    world.add_volume("F:\\", "F:", GIB)
    for path in FILES:
        world.add_file(path, 6, initial_blocks=2)
    docs = world.add_writer(writer or Writer(_metadata()))
    world.add_workload(Workload("docs.exe", list(written), writer=docs))
    return world


def _backup(world: World, kind: BackupType, archives: list[BackupArchive]) -> BackupResult:
    agent = world.add_agent(
        f"agent {len(archives) + 1}",
        SELECTION,
        AgentOptions(backup_type=kind, history=tuple(a.document for a in archives)),
    )
    world.start([(agent, 0)])
    world.sim.run()
    result = agent.result
    assert result is not None and result.succeeded, result
    world.results.append(result)
    archives.append(BackupArchive.of(result))
    return result


def _docs(result: BackupResult) -> BackedUpComponent:
    assert result.document is not None
    return result.document.component(WRITER_ID, "", "Docs")


def test_an_incremental_copies_whole_only_the_files_modified_since_the_full() -> None:
    world = _world()
    archives: list[BackupArchive] = []
    full = _backup(world, BackupType.FULL, archives)
    assert {f.path for f in full.files} == set(FILES)
    assert _docs(full).differenced_files == ()  # a full marks nothing
    world.run_workloads(2 * SECOND)
    incremental = _backup(world, BackupType.INCREMENTAL, archives)
    [spec] = _docs(incremental).differenced_files
    assert spec == DifferencedFiles("F:\\Docs", "*", True, full.document.time_us)  # type: ignore[union-attr]
    assert spec.last_modify_time_us > 0
    copied = {f.path: f for f in incremental.files}
    assert copied[FILES[0]].ranges is None  # the one file the workload wrote: whole
    assert copied[FILES[0]].size_bytes == 6 * 4096
    for path in FILES[1:]:  # unchanged: in the archive, with nothing copied
        assert (copied[path].ranges, copied[path].size_bytes, copied[path].data) == ((), 0, {})
    assert _docs(incremental).files == FILES  # every file of the component at this point
    assert _docs(incremental).partial_files == ()
    left_out = [
        r.details["path"] for r in world.sim.trace if r.action == V.DIFFERENCED_FILE_UNCHANGED
    ]
    assert left_out == list(FILES[1:])
    [added] = world.sim.trace.find(V.ADD_DIFFERENCED_FILES)
    assert added.actor == "DocsWriter" and added.details["component"] == "Docs"
    assert {name: v for name, v in check_all(world).items() if v} == {}


def test_a_differential_measures_against_the_full_not_the_incremental() -> None:
    world = _world(written=FILES[:2])
    archives: list[BackupArchive] = []
    full = _backup(world, BackupType.FULL, archives)
    world.run_workloads(SECOND)
    _backup(world, BackupType.INCREMENTAL, archives)
    differential = _backup(world, BackupType.DIFFERENTIAL, archives)  # no write since the incr.
    [spec] = _docs(differential).differenced_files
    assert spec.last_modify_time_us == full.document.time_us  # type: ignore[union-attr]
    assert {f.path for f in differential.files if f.ranges is None} == set(FILES[:2])


def test_a_writer_without_last_modify_gives_partial_files_instead() -> None:
    world = _world(Writer(_metadata(BackupSchema.INCREMENTAL | BackupSchema.DIFFERENTIAL)))
    archives: list[BackupArchive] = []
    _backup(world, BackupType.FULL, archives)
    world.run_workloads(SECOND)
    incremental = _backup(world, BackupType.INCREMENTAL, archives)
    assert _docs(incremental).differenced_files == ()
    assert {p.path for p in _docs(incremental).partial_files} == set(FILES)
    assert not world.sim.trace.find(V.ADD_DIFFERENCED_FILES)


def test_the_chain_restores_every_file_to_the_last_backup_point() -> None:
    world = _world(written=FILES[:2])
    archives: list[BackupArchive] = []
    for kind in (BackupType.FULL, BackupType.INCREMENTAL, BackupType.INCREMENTAL):
        _backup(world, kind, archives)
        world.run_workloads(SECOND)
    point = world.results[-1].commit_seq
    assert point is not None
    expected = {path: _content_at(world, path, point) for path in FILES}
    for path in FILES:
        world.delete_file(path, "user")
    results = restore_chain(world.coordinator, archives)
    assert all(r.outcome is Outcome.SUCCEEDED for r in results), results
    assert {path: world.namespace.file(path).content() for path in FILES} == expected


def _content_at(world: World, path: str, seq: int) -> dict[int, bytes]:
    file = world.namespace.file(path)
    first, blocks = file.first_block, file.volume_blocks()
    return {
        b - first: d
        for b, d in file.volume.content_at(seq).items()
        if b in blocks and not reads_as_zeros(d)
    }


# -- the call's refusals ---------------------------------------------------------------------


class _Caller(Writer):
    """Makes one AddDifferencedFilesByLastModifyTime call in OnPostSnapshot (or in the event
    ``event``) and keeps what it raised."""

    def __init__(
        self,
        call: Callable[[EventContext, Component], None],
        schema: BackupSchema = LAST_MODIFY,
        event: str = "OnPostSnapshot",
    ) -> None:
        super().__init__(_metadata(schema))
        self.call, self.event, self.raised = call, event, []  # type: list[VssError]

    def _try(self, ctx: EventContext) -> None:
        if ctx.event != self.event:
            return
        try:
            self.call(ctx, ctx.components[0])
        except VssError as error:
            self.raised.append(error)

    def on_post_snapshot(self, ctx: EventContext) -> ProcessGenerator:
        self._try(ctx)
        yield from super().on_post_snapshot(ctx)

    def on_backup_complete(self, ctx: EventContext) -> ProcessGenerator:
        self._try(ctx)
        yield from super().on_backup_complete(ctx)


def _refused(writer: _Caller) -> tuple[VssError, World]:
    """The one error ``writer``'s call raised in a full backup, and the world."""
    world = _world(writer)
    _backup(world, BackupType.FULL, [])
    [error] = writer.raised
    return error, world


def _add(
    path: object, filespec: object, recursive: object = False, time: object = 0
) -> Callable[[EventContext, Component], None]:
    def call(ctx: EventContext, component: Component) -> None:
        assert ctx.writer_components is not None
        ctx.writer_components.add_differenced_files(
            component,
            path,  # type: ignore[arg-type]
            filespec,  # type: ignore[arg-type]
            recursive,  # type: ignore[arg-type]
            time,  # type: ignore[arg-type]
        )

    return call


@pytest.mark.parametrize(
    ("path", "filespec", "recursive", "time", "named"),
    [
        ("F:\\Do*s", "*", False, 0, "wildcards"),
        ("", "*", False, 0, "folder"),
        ("F:\\Docs", "sub\\c.txt", False, 0, "file name"),
        ("F:\\Docs", "", False, 0, "file name"),
        ("F:\\Docs", "*", "yes", 0, "recursive"),
        ("F:\\Docs", "*", False, -1, "non-negative"),
        ("F:\\Docs", "*", False, 1.5, "non-negative"),
        (None, "*", False, 0, "folder"),
    ],
)
def test_bad_arguments_are_e_invalidarg_naming_what_is_wrong(
    path: object, filespec: object, recursive: object, time: object, named: str
) -> None:
    """The page: the path holds no wildcard, the file spec no directory."""
    error, world = _refused(_Caller(_add(path, filespec, recursive, time)))
    assert error.hresult == HResult.E_INVALIDARG
    assert named in error.message
    assert not world.sim.trace.find(V.ADD_DIFFERENCED_FILES)  # a refused call changes nothing


def test_a_writer_without_the_last_modify_schema_is_refused() -> None:
    """The page: only writers that support VSS_BS_LAST_MODIFY call it."""
    writer = _Caller(_add("F:\\Docs", "*"), BackupSchema.INCREMENTAL)
    error, _ = _refused(writer)
    assert error.hresult == HResult.VSS_E_BAD_STATE
    assert "VSS_BS_LAST_MODIFY" in error.message


def test_outside_the_backup_events_it_is_vss_e_bad_state() -> None:
    """The page: VSS_E_BAD_STATE when called while handling BackupComplete."""
    error, _ = _refused(_Caller(_add("F:\\Docs", "*"), event="OnBackupComplete"))
    assert error.hresult == HResult.VSS_E_BAD_STATE


def test_a_file_is_either_partial_or_differenced() -> None:
    """The page: AddPartialFile must not name a file AddDifferencedFilesByLastModifyTime added."""

    def both(ctx: EventContext, component: Component) -> None:
        assert ctx.writer_components is not None
        ctx.writer_components.add_differenced_files(component, "F:\\Docs", "a.txt", False, 0)
        ctx.writer_components.add_partial_file(component, FILES[0], ((0, 512),))

    error, world = _refused(_Caller(both))
    assert error.hresult == HResult.E_INVALIDARG and "differenced" in error.message
    assert len(world.sim.trace.find(V.ADD_DIFFERENCED_FILES)) == 1
    assert not world.sim.trace.find(V.ADD_PARTIAL_FILE)


# -- the document and the file times ---------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    specs=st.lists(
        st.builds(
            DifferencedFiles,
            st.sampled_from(["C:\\", "D:\\Data", "E:\\x y\\z\\"]),
            st.sampled_from(["*", "*.mdf", "a?.log", "file.txt"]),
            st.booleans(),
            st.integers(0, 2**62),
        ),
        max_size=4,
    )
)
def test_differenced_files_survive_the_xml_round_trip(specs: list[DifferencedFiles]) -> None:
    component = BackedUpComponent(
        WRITER_ID, uuid.UUID(int=1), "DocsWriter", "", "Docs", differenced_files=tuple(specs)
    )
    document = BackupComponentsDocument(
        backup_type=BackupType.INCREMENTAL,
        snapshot_set_id=uuid.UUID(int=2),
        components=(component,),
    )
    xml = document_to_xml(document)
    assert xml.count("<DIFFERENCED_FILE ") == len(specs)
    assert document_from_xml(xml).components[0].differenced_files == tuple(specs)


def test_a_bad_last_modify_time_in_a_document_is_vss_e_invalid_xml_document() -> None:
    component = BackedUpComponent(
        WRITER_ID,
        uuid.UUID(int=1),
        "DocsWriter",
        "",
        "Docs",
        differenced_files=(DifferencedFiles("C:\\", "*", False, 7),),
    )
    xml = document_to_xml(
        BackupComponentsDocument(snapshot_set_id=uuid.UUID(int=2), components=(component,))
    )
    with pytest.raises(VssError) as bad:
        document_from_xml(xml.replace('lastModifyTime="7"', 'lastModifyTime="soon"'))
    assert bad.value.hresult == HResult.VSS_E_INVALID_XML_DOCUMENT
    assert "lastModifyTime" in bad.value.message


def test_a_files_last_modification_is_its_last_block_write_up_to_a_point() -> None:
    world = _world()
    file = world.namespace.file(FILES[0])
    before = last_modified_us(file)
    mark = len(world.sim.trace) - 1
    file.volume.keep_image(mark)  # read below: a reader marks the instants it will read
    world.run_workloads(SECOND)
    assert last_modified_us(file) > before
    assert last_modified_us(file, mark) == before
    untouched = world.namespace.file(FILES[1])
    assert last_modified_us(untouched) == last_modified_us(untouched, mark)
