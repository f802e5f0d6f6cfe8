"""The indexed lookups that keep one backup linear in its size agree with plain scans.

The namespace, the selection and the session index what they used to scan (mounts, files by
folder, writers by name and class id, Writer Metadata Documents by class and instance id,
selected components by writer, shadow copies by set). These tests hold each index to the scan
it replaced: a reference model on odd paths for the namespace, and the first-document and order
rules for the rest.
"""

from __future__ import annotations

import fnmatch
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import vsssim
from vsssim import Component, ConfigurationError, FileDescriptor, World, Writer, WriterMetadata
from vsssim.requesters.selection import ComponentSelector, resolve_selection
from vsssim.sim.kernel import Simulation
from vsssim.vss.metadata import Documents, document_of
from vsssim.vss.namespace import Namespace, normalize
from vsssim.vss.volumes import Volume

from .conftest import DB_WRITER_ID, small_world

# -- the namespace against a scanning model --------------------------------------------------


def _is_under(key: str, folder_key: str) -> bool:
    """The relation the namespace's lookups are defined by."""
    if folder_key.endswith("\\"):
        return key.startswith(folder_key)
    return key == folder_key or key.startswith(folder_key + "\\")


class _Model:
    """The namespace as plain scans over its mounts and files."""

    def __init__(self) -> None:
        self.mounts: dict[str, Volume] = {}
        self.files: dict[str, str] = {}

    def mount_of(self, key: str) -> Volume | None:
        under = [k for k in self.mounts if _is_under(key, k)]
        return self.mounts[max(under, key=len)] if under else None

    def mount(self, path: str, volume: Volume) -> bool:
        key = normalize(path)
        if key in self.mounts or volume in self.mounts.values():
            return False
        if not (len(key) == 3 and key[1:] == ":\\" and key[0].isalpha()) and (
            self.mount_of(key) is None or any(_is_under(k, key) for k in self.files)
        ):
            return False
        self.mounts[key] = volume
        return True

    def create_file(self, path: str) -> bool:
        key = normalize(path)
        if key in self.files or key in self.mounts or self.mount_of(key) is None:
            return False
        self.files[key] = path
        return True

    def match(self, folder: str, spec: str, recursive: bool) -> list[str]:
        folder_key = normalize(folder)
        found = []
        for key in self.files:
            parent, _, name = key.rpartition("\\")
            if (
                _is_under(key, folder_key)
                and (recursive or normalize(parent) == folder_key)
                and fnmatch.fnmatchcase(name, spec.upper())
            ):
                found.append(key)
        return sorted(found)


_SEGMENTS = st.sampled_from(["a", "A", "b", "ab", "Ab", "a.dat", "B.DAT"])
_SEPARATORS = st.sampled_from(["\\", "/", "\\\\"])


@st.composite
def _paths(draw: st.DrawFn) -> str:
    path = draw(st.sampled_from(["C:", "c:", "D:"]))
    for segment in draw(st.lists(_SEGMENTS, max_size=4)):
        path += draw(_SEPARATORS) + segment
    return path + draw(st.sampled_from(["", "\\", "/"]))


@settings(max_examples=300, deadline=None)
@given(
    operations=st.lists(
        st.tuples(st.sampled_from(["mount", "mount again", "file"]), _paths()), max_size=25
    ),
    queries=st.lists(_paths(), min_size=1, max_size=8),
    spec=st.sampled_from(["*", "a*", "?", "*.DAT", "b"]),
)
def test_the_namespace_answers_as_a_scan_of_its_mounts_and_files(
    operations: list[tuple[str, str]], queries: list[str], spec: str
) -> None:
    sim = Simulation()
    namespace = Namespace()
    model = _Model()
    volumes: list[Volume] = []
    for i, (operation, path) in enumerate(operations):
        volume = Volume(sim, f"V{i}", 64 * 4096)
        if operation == "mount again" and volumes:
            volume = volumes[-1]
        try:
            if operation == "file":
                namespace.create_file(path, 1)
            else:
                namespace.mount(path, volume)
        except ConfigurationError:
            accepted = False
        else:
            accepted = True
        expected = model.create_file(path) if operation == "file" else model.mount(path, volume)
        assert accepted == expected, f"{operation} {path}"
        if accepted and operation != "file":
            volumes.append(volume)
    assert namespace.volumes == volumes
    for volume in volumes:
        assert normalize(namespace.mount_point_of(volume)) in model.mounts
    for query in queries:
        owner = model.mount_of(normalize(query))
        if owner is None:
            with pytest.raises(ConfigurationError):
                namespace.volume_of(query)
        else:
            assert namespace.volume_of(query) is owner
        for recursive in (False, True):
            found = namespace.match(query, spec, recursive)
            assert [normalize(f.path) for f in found] == model.match(query, spec, recursive)
    names = [v.name for v in reversed(volumes[::2])]
    assert namespace.volumes_named([*names, *names]) == volumes[::2]


def test_a_mount_in_a_folder_is_refused_whatever_the_depth_of_the_files_below() -> None:
    sim = Simulation()
    namespace = Namespace()
    namespace.mount("C:\\", Volume(sim, "C", 64 * 4096))
    namespace.create_file("C:\\Deep\\Er\\Still\\f.dat", 1)
    for folder in ("C:\\Deep", "c:/deep/er", "C:\\DEEP\\ER\\STILL\\", "C:\\Deep\\Er\\Still\\f.dat"):
        with pytest.raises(ConfigurationError, match="files exist in that folder"):
            namespace.mount(folder, Volume(sim, "X", 64 * 4096))
    namespace.mount("C:\\Deeper", Volume(sim, "Y", 64 * 4096))  # a sibling, not a parent
    assert not namespace.has_label("X") and namespace.has_label("Y")


# -- selection: the first document that a selector names ------------------------------------

A = uuid.UUID("aaaaaaaa-0000-0000-0000-000000000001")
B = uuid.UUID("bbbbbbbb-0000-0000-0000-000000000002")


def _document(class_id: uuid.UUID, name: str, instance: str, *components: str) -> WriterMetadata:
    return WriterMetadata(
        writer_class_id=class_id,
        writer_instance_id=uuid.uuid5(class_id, instance),
        writer_name=name,
        components=tuple(
            Component(c, files=(FileDescriptor(f"C:\\{c}", "*"),)) for c in components
        ),
    )


def test_a_selector_takes_the_first_document_with_that_name_or_class_id() -> None:
    world = World.create(0)
    world.add_volume("C:\\", "C:", 1024**3)
    world.add_file("C:\\One\\f.dat", 1)
    first = _document(A, "Shared", "first", "One")
    second = _document(B, "Shared", "second", "Two")
    named_like_b = _document(A, str(B), "third", "Three")
    # By name: the first document named "Shared" (A), which has no component "Two".
    with pytest.raises(vsssim.VssError) as caught:
        resolve_selection(world.namespace, [first, second], [ComponentSelector("Shared", "Two")])
    assert caught.value.hresult == vsssim.HResult.VSS_E_OBJECT_NOT_FOUND
    # A class id text matches a writer name that spells it, if that document comes first.
    picked = resolve_selection(
        world.namespace, [named_like_b, second], [ComponentSelector(str(B), "Three")]
    )
    assert [k.writer_class_id for k in picked.components] == [A]
    picked = resolve_selection(
        world.namespace,
        [second, first],
        [ComponentSelector(str(A), "One"), ComponentSelector("Shared", "Two")] * 2,
    )
    assert [(k.writer_class_id, k.name) for k in picked.components] == [(A, "One"), (B, "Two")]
    assert [v.label for v in picked.volumes] == ["C:"]


# -- Writer Metadata Documents by class and instance id --------------------------------------


def _scan(
    documents: list[WriterMetadata], class_id: uuid.UUID, instance_id: uuid.UUID | None
) -> WriterMetadata | None:
    """The lookup Documents replaced: the first document of the class (and instance)."""
    for document in documents:
        if document.writer_class_id == class_id and instance_id in (
            None,
            document.writer_instance_id,
        ):
            return document
    return None


@settings(max_examples=200, deadline=None)
@given(
    drawn=st.lists(st.tuples(st.sampled_from([A, B]), st.sampled_from(["i", "j", "k"])), max_size=8)
)
def test_documents_find_what_a_scan_in_order_finds(drawn: list[tuple[uuid.UUID, str]]) -> None:
    # Duplicates (one class and instance twice) are allowed: the first one counts.
    documents = [_document(c, f"W{n}", i, "X") for n, (c, i) in enumerate(drawn)]
    indexed = Documents(documents)
    assert list(indexed) == documents and len(indexed) == len(documents)
    assert Documents.of(indexed) is indexed
    for class_id in (A, B, uuid.UUID(int=3)):
        assert list(indexed.of_class(class_id)) == [
            d for d in documents if d.writer_class_id == class_id
        ]
        for instance in (None, *(uuid.uuid5(c, i) for c in (A, B) for i in "ijk")):
            assert indexed.find(class_id, instance) is _scan(documents, class_id, instance)
            assert document_of(documents, class_id, instance) is _scan(
                documents, class_id, instance
            )
    for document in documents:
        first = next(d for d in documents if d.writer_instance_id == document.writer_instance_id)
        assert indexed.of_instance(document.writer_instance_id) is first


# -- the session: selected components by writer, shadow copies by set ------------------------


def test_a_session_hands_each_writer_its_own_components_in_add_order() -> None:
    other = _document(A, "OtherWriter", "other", "Z", "Y")
    world = small_world(0, workload=False)
    world.add_writer(Writer(other))
    bc = world.coordinator.create_backup_components("requester")
    bc.initialize_for_backup()
    bc.set_backup_state(True, False, vsssim.BackupType.FULL)
    world.sim.run(until=bc.gather_writer_metadata())
    bc.add_component(A, "", "y")
    bc.add_component(DB_WRITER_ID, "Inst", "Db")
    bc.add_component(A, "", "Z")
    db_writer, other_writer = world.coordinator.writers
    assert [c.name for c in bc.components_of(other_writer)] == ["Y", "Z"]
    assert [c.name for c in bc.components_of(db_writer)] == ["Db"]
    with pytest.raises(vsssim.VssError) as again:
        bc.add_component(A, "", "z")
    assert again.value.hresult == vsssim.HResult.VSS_E_OBJECT_ALREADY_EXISTS


def test_snapshot_counts_follow_deletions_within_the_set() -> None:
    world = small_world(0, workload=False)
    bc = world.coordinator.create_backup_components("requester")
    bc.initialize_for_backup()
    bc.set_backup_state(True, False, vsssim.BackupType.FULL)
    world.sim.run(until=bc.gather_writer_metadata())
    bc.add_component(DB_WRITER_ID, "Inst", "Db")
    bc.set_context(vsssim.Context.APP_ROLLBACK)
    bc.start_snapshot_set()
    first = bc.add_to_snapshot_set("D:\\")
    second = bc.add_to_snapshot_set("L:\\")
    world.sim.run(until=bc.prepare_for_backup())
    world.sim.run(until=bc.do_snapshot_set())
    assert bc.get_snapshot_properties(second).snapshots_count == 2
    assert bc.delete_snapshots(first) == 1
    assert bc.get_snapshot_properties(second).snapshots_count == 1
    assert world.coordinator.set_size(bc.snapshot_set.set_id) == 1  # type: ignore[union-attr]
