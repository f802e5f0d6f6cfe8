"""Writer Metadata Documents: what a writer tells VSS about itself and its data in OnIdentify.

The model follows the document's structure: identification (ids, name, usage and source type,
backup schema, restore method), and components with logical paths, file descriptors, database
and log files, selectability and explicit dependencies on components of any writer.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Sequence
from typing import overload

import attrs

from vsssim.errors import HResult, VssError
from vsssim.vss.constants import (
    BackupSchema,
    ComponentType,
    RestoreMethod,
    SourceType,
    UsageType,
    WriterRestore,
)


@attrs.frozen
class FileDescriptor:
    """Files of a component: a folder, a file specification with wildcards, a recursive flag.

    ``alternate_path`` is where the files are actually found for the backup
    (``AddFilesToFileGroup``'s ``wszAlternateLocation``, ``alternatePath`` in the document):
    the requester copies them from there. It is not an alternate location mapping, which
    says where files are restored *to* (:class:`AlternateLocationMapping`).
    """

    path: str
    filespec: str
    recursive: bool = False
    alternate_path: str | None = None

    @property
    def source(self) -> str:
        """The folder the files are backed up from: the alternate path, else the path."""
        return self.path if self.alternate_path is None else self.alternate_path

    def __str__(self) -> str:
        suffix = " (recursive)" if self.recursive else ""
        return f"{self.path.rstrip(chr(92))}\\{self.filespec}{suffix}"


@attrs.frozen
class AlternateLocationMapping:
    """Where files are restored to instead of their own place
    (``IVssCreateWriterMetadata::AddAlternateLocationMapping``: source path, filespec,
    recursive flag, destination), used by ``VSS_RME_RESTORE_TO_ALTERNATE_LOCATION`` and by the
    methods that fall back to an alternate location."""

    path: str
    filespec: str
    recursive: bool
    destination: str


@attrs.frozen(order=True)
class ComponentKey:
    """Identifies a component: writer class id, logical path, component name and, where it
    matters, the writer instance (``IVssBackupComponents::AddComponent`` takes both ids).

    The keys the model makes from a Writer Metadata Document (:meth:`WriterMetadata.key`)
    carry the instance id, so that two instances of one writer class keep their components
    apart. A key without one (``writer_instance_id`` None, as a dependency names a component:
    ``AddComponentDependency`` takes the class id only) names the component of whichever
    instance; :meth:`names` compares keys that way.
    """

    writer_class_id: uuid.UUID
    logical_path: str
    name: str
    writer_instance_id: uuid.UUID | None = attrs.field(default=None, order=False)

    @property
    def full_path(self) -> str:
        """``logical_path\\name`` (just ``name`` when the logical path is empty)."""
        return f"{self.logical_path}\\{self.name}" if self.logical_path else self.name

    @property
    def folded(self) -> ComponentKey:
        """The key with its logical path and name upper-cased: VSS compares logical paths and
        component names case-insensitively, so two keys name the same component exactly
        when their folded keys are equal."""
        return ComponentKey(
            self.writer_class_id,
            self.logical_path.upper(),
            self.name.upper(),
            self.writer_instance_id,
        )

    @property
    def any_instance(self) -> ComponentKey:
        """The key without its writer instance: the component of whichever instance."""
        return ComponentKey(self.writer_class_id, self.logical_path, self.name)

    def names(self, other: ComponentKey) -> bool:
        """Whether the two keys name the same component: the same class id, logical path and
        name (case-insensitively, as VSS compares them), and the same instance unless one of
        them names none."""
        mine, theirs = self.folded, other.folded
        if None in (mine.writer_instance_id, theirs.writer_instance_id):
            return mine.any_instance == theirs.any_instance
        return mine == theirs

    def __str__(self) -> str:
        return self.full_path


@attrs.frozen
class Component:
    """A component of a writer: a database (with data and log files) or a file group."""

    name: str
    component_type: ComponentType = ComponentType.FILEGROUP
    logical_path: str = ""
    caption: str = ""
    selectable: bool = True
    selectable_for_restore: bool = True
    files: tuple[FileDescriptor, ...] = ()
    database_files: tuple[FileDescriptor, ...] = ()
    log_files: tuple[FileDescriptor, ...] = ()
    dependencies: tuple[ComponentKey, ...] = ()

    @property
    def full_path(self) -> str:
        """``logical_path\\name``."""
        return f"{self.logical_path}\\{self.name}" if self.logical_path else self.name

    @property
    def all_files(self) -> tuple[FileDescriptor, ...]:
        """Every file descriptor: file list, database files, then log files."""
        return self.files + self.database_files + self.log_files


@attrs.frozen
class WriterMetadata:
    """A Writer Metadata Document."""

    writer_class_id: uuid.UUID
    writer_instance_id: uuid.UUID
    writer_name: str
    instance_name: str = ""
    usage_type: UsageType = UsageType.USERDATA
    source_type: SourceType = SourceType.OTHER
    backup_schema: BackupSchema = BackupSchema.UNDEFINED
    restore_method: RestoreMethod = RestoreMethod.RESTORE_IF_CAN_REPLACE
    restore_service: str = ""
    writer_restore: WriterRestore = WriterRestore.NEVER
    reboot_required: bool = False
    excluded_files: tuple[FileDescriptor, ...] = ()
    components: tuple[Component, ...] = ()
    #: ``AddAlternateLocationMapping`` calls: where files are restored to instead.
    alternate_location_mappings: tuple[AlternateLocationMapping, ...] = ()

    def __attrs_post_init__(self) -> None:
        seen: set[tuple[str, str]] = set()
        for component in self.components:
            key = (component.logical_path.upper(), component.name.upper())
            if key in seen:
                raise VssError(
                    HResult.VSS_E_INVALID_XML_DOCUMENT,
                    f"writer {self.writer_name!r} declares component {component.full_path!r} twice",
                )
            seen.add(key)

    def key(self, component: Component) -> ComponentKey:
        """The :class:`ComponentKey` of one of this writer's components (with this instance)."""
        return ComponentKey(
            self.writer_class_id, component.logical_path, component.name, self.writer_instance_id
        )

    def component(self, logical_path: str, name: str) -> Component:
        """Look a component up by logical path and name (case-insensitive, as VSS does)."""
        for component in self.components:
            if (
                component.logical_path.upper() == logical_path.upper()
                and component.name.upper() == name.upper()
            ):
                return component
        raise VssError(
            HResult.VSS_E_OBJECT_NOT_FOUND,
            f"writer {self.writer_name!r} has no component {logical_path!r}\\{name!r}",
        )

    def selectable_ancestor(self, component: Component) -> Component | None:
        """The nearest selectable component whose full path is a prefix of ``component``'s.

        A non-selectable component with a selectable ancestor belongs to that ancestor's
        *component set*: it is backed up with it and cannot be added on its own.
        """
        best: Component | None = None
        target = component.full_path.upper()
        for other in self.components:
            prefix = other.full_path.upper()
            if other is component or not other.selectable:
                continue
            if target.startswith(prefix + "\\") and (
                best is None or len(prefix) > len(best.full_path)
            ):
                best = other
        return best

    def check_selectable(self, component: Component) -> None:
        """Refuse a non-selectable member of a component set (``E_INVALIDARG``).

        Its selectable ancestor must be selected instead; a non-selectable component with no
        selectable ancestor is backed up with its writer and may be added.
        """
        parent = self.selectable_ancestor(component)
        if not component.selectable and parent is not None:
            raise VssError(
                HResult.E_INVALIDARG,
                f"{self.writer_name}:{component.full_path}: component is not selectable for "
                f"backup; select its set {self.writer_name}:{parent.full_path} instead",
            )

    def members(self, component: Component) -> list[Component]:
        """``component`` and the components of its set (those under its logical path)."""
        prefix = component.full_path.upper() + "\\"
        return [component] + [
            c
            for c in self.components
            if c is not component and (c.logical_path.upper() + "\\").startswith(prefix)
        ]


class Documents(Sequence[WriterMetadata]):
    """Writer Metadata Documents in the order the writers answered, indexed by writer class id
    and by instance id: a backup looks documents up once per component, and a scan each time
    made a backup of N writers cost N² (GatherWriterMetadata's results, AddComponent,
    SetBackupSucceeded, the selection). Where two documents share an id the first counts, as
    a scan in order finds it."""

    __slots__ = ("_documents", "_of_class", "_of_instance", "_of_pair")

    def __init__(self, documents: Iterable[WriterMetadata] = ()) -> None:
        self._documents = tuple(documents)
        self._of_class: dict[uuid.UUID, list[WriterMetadata]] = {}
        self._of_instance: dict[uuid.UUID, WriterMetadata] = {}
        self._of_pair: dict[tuple[uuid.UUID, uuid.UUID], WriterMetadata] = {}
        for document in self._documents:
            class_id, instance_id = document.writer_class_id, document.writer_instance_id
            self._of_class.setdefault(class_id, []).append(document)
            self._of_instance.setdefault(instance_id, document)
            self._of_pair.setdefault((class_id, instance_id), document)

    @classmethod
    def of(cls, documents: Iterable[WriterMetadata]) -> Documents:
        """``documents`` indexed: themselves if they are a ``Documents`` already."""
        return documents if isinstance(documents, Documents) else cls(documents)

    @overload
    def __getitem__(self, index: int) -> WriterMetadata: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[WriterMetadata, ...]: ...

    def __getitem__(self, index: int | slice) -> WriterMetadata | tuple[WriterMetadata, ...]:
        return self._documents[index]

    def __len__(self) -> int:
        return len(self._documents)

    def __iter__(self) -> Iterator[WriterMetadata]:
        return iter(self._documents)

    def __repr__(self) -> str:
        return f"Documents({list(self._documents)!r})"

    def of_class(self, writer_class_id: uuid.UUID) -> Sequence[WriterMetadata]:
        """The documents of writer class ``writer_class_id``, in order (none: empty)."""
        return self._of_class.get(writer_class_id, ())

    def of_instance(self, instance_id: uuid.UUID) -> WriterMetadata | None:
        """The document of writer instance ``instance_id``, or None."""
        return self._of_instance.get(instance_id)

    def find(
        self, writer_class_id: uuid.UUID, instance_id: uuid.UUID | None
    ) -> WriterMetadata | None:
        """The document of writer class ``writer_class_id``: its instance ``instance_id``, or
        (None) the first document of that class; None if there is none."""
        if instance_id is None:
            found = self._of_class.get(writer_class_id)
            return found[0] if found else None
        return self._of_pair.get((writer_class_id, instance_id))


def document_of(
    documents: Iterable[WriterMetadata], writer_class_id: uuid.UUID, instance_id: uuid.UUID | None
) -> WriterMetadata | None:
    """The Writer Metadata Document of writer class ``writer_class_id``: its instance
    ``instance_id``, or (None) the first document of that class; None if there is none
    (:meth:`Documents.find`; pass a ``Documents`` to look up without indexing again)."""
    return Documents.of(documents).find(writer_class_id, instance_id)


def by_class_id(documents: Iterable[WriterMetadata]) -> dict[uuid.UUID, WriterMetadata]:
    """Writer Metadata Documents by writer class id (the first document of each class id)."""
    found: dict[uuid.UUID, WriterMetadata] = {}
    for document in documents:
        found.setdefault(document.writer_class_id, document)
    return found
