"""Component selection: dependency closure across writers, component sets, volumes derived."""

from __future__ import annotations

import uuid

import pytest

from vsssim import (
    Component,
    ComponentKey,
    ConfigurationError,
    FileDescriptor,
    HResult,
    VssError,
    World,
    Writer,
    WriterMetadata,
)
from vsssim.requesters.selection import ComponentSelector, resolve_selection
from vsssim.sim import vocabulary as V

A = uuid.UUID("aaaaaaaa-0000-0000-0000-000000000001")
B = uuid.UUID("bbbbbbbb-0000-0000-0000-000000000002")


def _world() -> World:
    world = World.create(0)
    world.add_volume("C:\\", "C:", 1024**3)
    world.add_volume("D:\\", "D:", 1024**3)
    world.add_volume("C:\\Mnt\\Inner\\", "INNER", 1024**3)
    for path in (
        "C:\\App\\a.dat",
        "D:\\App\\b.dat",
        "C:\\App\\Sub\\c.dat",
        "C:\\Mnt\\Inner\\x.dat",
        "D:\\Other\\o.dat",
    ):
        world.add_file(path, 4)
    return world


def _metadata() -> list[WriterMetadata]:
    app = WriterMetadata(
        writer_class_id=A,
        writer_instance_id=A,
        writer_name="AppWriter",
        components=(
            Component(
                "Top",
                files=(FileDescriptor("C:\\App", "a.dat"),),
                dependencies=(ComponentKey(B, "Base", "Core"),),
            ),
            Component("Group", logical_path="", files=(FileDescriptor("D:\\App", "*.dat"),)),
            Component(
                "Child",
                logical_path="Group",
                selectable=False,
                files=(FileDescriptor("C:\\App\\Sub", "*"),),
            ),
            Component("Tree", files=(FileDescriptor("C:\\Mnt", "*", recursive=True),)),
        ),
    )
    base = WriterMetadata(
        writer_class_id=B,
        writer_instance_id=B,
        writer_name="BaseWriter",
        components=(
            Component(
                "Core",
                logical_path="Base",
                files=(FileDescriptor("D:\\Other", "o.dat"),),
                dependencies=(ComponentKey(A, "Group", "Child"),),
            ),
        ),
    )
    return [app, base]


def _select(*texts: str) -> list[ComponentSelector]:
    return [ComponentSelector.parse(t) for t in texts]


def test_dependencies_are_pulled_in_transitively_across_writers() -> None:
    world = _world()
    selection = resolve_selection(world.namespace, _metadata(), _select("AppWriter:Top"))
    names = [k.full_path for k in selection.components]
    # Top -> BaseWriter's Base\Core -> AppWriter's non-selectable Group\Child, whose set is Group.
    assert names == ["Top", "Base\\Core", "Group"]
    assert [k.full_path for k in selection.pulled_in] == ["Base\\Core", "Group"]
    assert [v.label for v in selection.volumes] == ["C:", "D:"]


def test_a_component_left_out_says_why_its_own_writer_or_a_dependencys() -> None:
    """A component of an excluded writer, and one that depends on an excluded writer's, are
    left out, each with its reason; the rest of the selection stands."""
    world = _world()
    selection = resolve_selection(
        world.namespace,
        _metadata(),
        _select("AppWriter:Top", "AppWriter:Tree", "BaseWriter:Base\\Core"),
        excluded_writers=("BaseWriter",),
    )
    assert [k.full_path for k in selection.components] == ["Tree"]
    assert [(c.component, c.reason) for c in selection.left_out] == [
        (
            "Top",
            "it depends on BaseWriter:Base\\Core, whose writer failed in an earlier attempt "
            "and is excluded",
        ),
        ("Base\\Core", "its writer BaseWriter failed in an earlier attempt and is excluded"),
    ]
    assert str(selection.left_out[1]).startswith("Base\\Core (its writer BaseWriter")


def test_a_non_selectable_member_of_a_set_is_refused_with_a_clear_error() -> None:
    world = _world()
    with pytest.raises(VssError, match=r"not selectable.*AppWriter:Group") as caught:
        resolve_selection(world.namespace, _metadata(), _select("AppWriter:Group\\Child"))
    assert caught.value.hresult == HResult.E_INVALIDARG


def test_a_component_set_brings_its_members_files_and_volumes() -> None:
    world = _world()
    selection = resolve_selection(world.namespace, _metadata(), _select("AppWriter:Group"))
    assert [v.label for v in selection.volumes] == ["C:", "D:"]  # Child's files are on C:


def test_a_recursive_descriptor_crosses_into_a_nested_volume() -> None:
    world = _world()
    selection = resolve_selection(world.namespace, _metadata(), _select("AppWriter:Tree"))
    assert [v.label for v in selection.volumes] == ["C:", "INNER"]


def test_missing_writer_component_or_dependency_are_object_not_found() -> None:
    world = _world()
    meta = _metadata()
    for text in ("NoWriter:Top", "AppWriter:Nope"):
        with pytest.raises(VssError) as caught:
            resolve_selection(world.namespace, meta, _select(text))
        assert caught.value.hresult == HResult.VSS_E_OBJECT_NOT_FOUND
    with pytest.raises(VssError, match="did not answer") as caught:
        resolve_selection(world.namespace, meta[:1], _select("AppWriter:Top"))
    assert caught.value.hresult == HResult.VSS_E_OBJECT_NOT_FOUND


def test_selectors_parse_and_reject_bad_text() -> None:
    assert ComponentSelector.parse("SqlServerWriter:SRV\\Sales") == ComponentSelector(
        "SqlServerWriter", "SRV\\Sales"
    )
    with pytest.raises(ConfigurationError):
        ComponentSelector.parse("no-colon")


def test_duplicate_components_in_metadata_are_invalid() -> None:
    with pytest.raises(VssError) as caught:
        WriterMetadata(
            writer_class_id=A,
            writer_instance_id=A,
            writer_name="W",
            components=(Component("X"), Component("x")),
        )
    assert caught.value.hresult == HResult.VSS_E_INVALID_XML_DOCUMENT


def test_the_agent_backs_up_the_closure() -> None:
    world = _world()
    for metadata in _metadata():
        world.add_writer(Writer(metadata))
    world.add_agent("agent", ["AppWriter:Top"])
    [result] = world.run()
    assert result.succeeded, result.message
    assert result.components == ("Top", "Base\\Core", "Group")
    assert sorted(f.path for f in result.files) == [
        "C:\\App\\Sub\\c.dat",
        "C:\\App\\a.dat",
        "D:\\App\\b.dat",
        "D:\\Other\\o.dat",
    ]
    added = world.sim.trace.find(action=V.ADD_COMPONENT)
    assert [r.details["component"] for r in added] == ["Top", "Base\\Core", "Group"]


def test_add_component_refuses_a_set_member_like_the_agent_does() -> None:
    world = _world()
    for metadata in _metadata():
        world.add_writer(Writer(metadata))
    bc = world.coordinator.create_backup_components("r")
    bc.initialize_for_backup()
    world.sim.run(until=bc.gather_writer_metadata())
    with pytest.raises(VssError, match=r"select its set AppWriter:Group") as caught:
        bc.add_component(A, "Group", "Child")
    assert caught.value.hresult == HResult.E_INVALIDARG
    assert bc.selected == []
