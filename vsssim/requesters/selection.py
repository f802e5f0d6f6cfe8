"""What a backup takes: the components a user selects, their dependencies, their volumes."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence

import attrs
import networkx as nx

from vsssim.errors import ConfigurationError, HResult, VssError
from vsssim.vss import _args
from vsssim.vss.backup_types import component_files
from vsssim.vss.metadata import Component, ComponentKey, Documents, WriterMetadata, document_of
from vsssim.vss.namespace import Namespace
from vsssim.vss.volumes import Volume


@attrs.frozen
class ComponentSelector:
    """A component the user selects: writer (name, class id, or instance id for one instance of
    a class that has several) and the component's full path."""

    writer: str
    path: str

    def __attrs_post_init__(self) -> None:
        _args.check_str("writer", self.writer, empty=False, config=True)
        _args.check_str("path", self.path, empty=False, config=True)

    @classmethod
    def parse(cls, text: str) -> ComponentSelector:
        """Parse ``WRITER:PATH``, e.g. ``SqlServerWriter:SQLSRV01\\Sales``."""
        _args.check_str("selector", text, config=True)
        writer, sep, path = text.partition(":")
        if not sep or not writer or not path:
            raise ConfigurationError(f"{text!r} is not WRITER:LOGICAL\\PATH\\NAME")
        return cls(writer, path)

    def matches(self, metadata: WriterMetadata) -> bool:
        """True if this selector names ``metadata``'s writer."""
        return self.writer in (
            metadata.writer_name,
            str(metadata.writer_class_id),
            str(metadata.writer_instance_id),
        )

    def __str__(self) -> str:
        return f"{self.writer}:{self.path}"


@attrs.frozen
class LeftOut:
    """A selected component the agent left out of the backup, and why (as diskshadow says
    which components it excludes and why): its writer was excluded, it depends on a component
    of an excluded writer, or its writer failed before the copy."""

    component: str
    reason: str

    def __str__(self) -> str:
        return f"{self.component} ({self.reason})"


@attrs.frozen
class Selection:
    """What a backup takes: the components (dependency closure included) and their volumes."""

    components: tuple[ComponentKey, ...]
    volumes: tuple[Volume, ...]
    pulled_in: tuple[ComponentKey, ...] = ()
    left_out: tuple[LeftOut, ...] = ()


def find_component(
    writers: Sequence[WriterMetadata], key: ComponentKey
) -> tuple[WriterMetadata, Component]:
    """The writer (of those that answered: ``key``'s instance, or the first of its class if
    it names none) and the component ``key`` names."""
    writer = document_of(writers, key.writer_class_id, key.writer_instance_id)
    if writer is None:
        raise VssError(
            HResult.VSS_E_OBJECT_NOT_FOUND,
            f"component {key.full_path!r} of writer {key.writer_class_id} is needed but that "
            "writer did not answer GatherWriterMetadata",
        )
    return writer, writer.component(key.logical_path, key.name)


def component_volumes(
    namespace: Namespace, metadata: WriterMetadata, component: Component
) -> list[Volume]:
    """The volumes of a component's (and its set's) folders and files, in mount order."""
    wanted = {
        namespace.volume_of(fd.source).name
        for member in metadata.members(component)
        for fd in member.all_files
    }
    wanted.update(file.volume.name for file in component_files(namespace, metadata, component))
    return namespace.volumes_named(wanted)


def resolve_selection(
    namespace: Namespace,
    metadata: Sequence[WriterMetadata],
    selectors: Sequence[ComponentSelector],
    excluded_writers: Sequence[str] = (),
) -> Selection:
    """Resolve selectors to components, pull dependencies in (networkx), derive the volumes.

    A non-selectable component that belongs to a selectable one's set cannot be picked alone;
    a dependency on such a component pulls its selectable parent in. A selected component that
    belongs to, or depends on, a writer in ``excluded_writers`` is left out (``left_out``).
    """
    documents = Documents.of(metadata)  # looked up per component and per dependency
    graph = _dependency_graph(documents)
    names = {m.writer_class_id: m.writer_name for m in reversed(documents)}
    chosen = _chosen(metadata, selectors)
    needs: dict[ComponentKey, list[ComponentKey]] = {}
    left_out: list[LeftOut] = []
    for key in chosen:
        # Breadth first, in declaration order: nearest dependencies first, deterministically.
        needed_keys = []
        for _, needed in nx.bfs_edges(graph, key):
            writer, component = find_component(documents, needed)
            parent = writer.selectable_ancestor(component)
            needed_keys.append(
                writer.key(parent) if not component.selectable and parent else needed
            )
        reason = _exclusion(key, needed_keys, names, excluded_writers)
        if reason is not None:
            left_out.append(LeftOut(key.full_path, reason))
        else:
            needs[key] = needed_keys
    closure = dict.fromkeys(needs)
    pulled: list[ComponentKey] = []
    for needed_keys in needs.values():
        for target in needed_keys:
            if target not in closure:
                closure[target] = None
                pulled.append(target)
    wanted: set[str] = set()
    for key in closure:
        writer, component = find_component(documents, key)
        wanted.update(v.name for v in component_volumes(namespace, writer, component))
    volumes = tuple(namespace.volumes_named(wanted))
    return Selection(tuple(closure), volumes, tuple(pulled), tuple(left_out))


def _exclusion(
    key: ComponentKey,
    needed: Sequence[ComponentKey],
    names: Mapping[uuid.UUID, str],
    excluded_writers: Sequence[str],
) -> str | None:
    """Why ``key`` (needing ``needed``) is left out, or None: its writer is excluded, or a
    component it depends on belongs to an excluded writer."""
    own = names[key.writer_class_id]
    if own in excluded_writers:
        return f"its writer {own} failed in an earlier attempt and is excluded"
    for other in needed:
        writer = names[other.writer_class_id]
        if writer in excluded_writers:
            return (
                f"it depends on {writer}:{other.full_path}, whose writer failed in an earlier "
                "attempt and is excluded"
            )
    return None


def _dependency_graph(metadata: Sequence[WriterMetadata]) -> nx.DiGraph:
    """Every component of every writer, an edge to each component it depends on: the
    component of the first instance of the class the dependency names
    (``AddComponentDependency`` names no instance: *assumption*), or the dependency's own
    key if no writer of that class answered (found missing when the graph is walked)."""
    graph = nx.DiGraph()
    for writer in metadata:
        for component in writer.components:
            key = writer.key(component)
            graph.add_node(key)
            for dependency in component.dependencies:
                graph.add_edge(key, _resolved(metadata, dependency))
    return graph


def _resolved(metadata: Sequence[WriterMetadata], dependency: ComponentKey) -> ComponentKey:
    """The key, with its writer instance, of the component ``dependency`` names."""
    writer = document_of(metadata, dependency.writer_class_id, dependency.writer_instance_id)
    if writer is None:
        return dependency
    try:
        return writer.key(writer.component(dependency.logical_path, dependency.name))
    except VssError:
        return dependency


def _chosen(
    metadata: Sequence[WriterMetadata], selectors: Sequence[ComponentSelector]
) -> dict[ComponentKey, None]:
    """The components the selectors name, in order, each once (each checked selectable)."""
    # What ComponentSelector.matches accepts, first document first: the name, the class id or
    # the instance id.
    by_selector: dict[str, WriterMetadata] = {}
    for m in metadata:
        by_selector.setdefault(m.writer_name, m)
        by_selector.setdefault(str(m.writer_class_id), m)
        by_selector.setdefault(str(m.writer_instance_id), m)
    chosen: dict[ComponentKey, None] = {}
    for selector in selectors:
        if selector.writer not in by_selector:
            raise VssError(
                HResult.VSS_E_OBJECT_NOT_FOUND,
                f"{selector}: no writer {selector.writer!r} answered",
            )
        writer = by_selector[selector.writer]
        logical_path, _, name = selector.path.rpartition("\\")
        component = writer.component(logical_path, name)
        writer.check_selectable(component)
        chosen.setdefault(writer.key(component))
    return chosen
