"""The Backup Components Document: what a backup was, kept with its data for the restore.

``IVssBackupComponents::SaveAsXML`` hands the requester a ``BACKUP_COMPONENTS`` document at the
end of a backup; the requester stores it with the copied files and gives it back to
``InitializeForRestore``. :class:`BackupComponentsDocument` is that document as a frozen value:
the backup type and the shadow copy set, and per selected component its writer (class id,
instance id, name), logical path, name, type, whether the backup succeeded, the files the
requester backed up, the backup stamps (``IVssComponent::SetBackupStamp`` by the writer,
``IVssBackupComponents::SetPreviousBackupStamp`` by the requester) and the partial files
(``IVssComponent::AddPartialFile``: of these files only the given byte ranges were copied).

The XML follows what Windows writes (``diskshadow`` keeps it as ``BCDocument.xml``)::

    <BACKUP_COMPONENTS xmlns="x-schema:#VssComponentMetadata" version="1.2"
                       bootableSystemStateBackup="no" selectComponents="yes" backupType="full"
                       partialFileSupport="no" snapshotSetId="...">
      <WRITER_COMPONENTS instanceId="..." writerId="...">
        <COMPONENT logicalPath="SQLSRV01" componentName="Sales" componentType="filegroup"
                   backupSucceeded="yes" backupStamp="..." previousBackupStamp="...">
          <PARTIAL_FILE path="D:\\SQLData\\" filespec="Sales.mdf" ranges="0:4096,65536:8192"
                        metadata=""/>
        </COMPONENT>
      </WRITER_COMPONENTS>
    </BACKUP_COMPONENTS>

What a real document does not carry (the requester, the snapshot context, the backup time, the
writer's name and the files copied) is written in the ``urn:vsssim:extensions`` namespace
(prefix ``vsssim``), which VSS's own schema leaves alone; reading a document without those
extensions (one captured on Windows) gives their defaults. Element and attribute names, the
value spellings (``yes``/``no``, ``filegroup``/``database``, ``full``...) and the layout are
Microsoft's as far as public sources show them; the ``copy`` backup type spelling is an
assumption (no source shows it), and so are the ``PARTIAL_FILE`` attribute names (``path``,
``filespec``, ``ranges``, ``metadata``: the parameters of ``AddPartialFile``; likewise
``DIFFERENCED_FILE``'s, ``GetDifferencedFile``'s outputs, with the time in simulated
microseconds); the ``ranges``
value is ``AddPartialFile``'s documented syntax, ``offset:length`` pairs in bytes, comma
separated, decimal or ``0x`` hexadecimal. A ranges *file* (the other form VSS allows) is refused
with ``VSS_E_INVALID_XML_DOCUMENT``: the model keeps the ranges themselves. Reading applies
the same :class:`XmlLimits` as the writer metadata reader (see :mod:`vsssim.vss.documents.wmd_xml`).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable

import attrs

from vsssim.errors import HResult, VssError
from vsssim.vss.constants import BackupType, ComponentType, Context
from vsssim.vss.documents.component_files import DifferencedFiles, PartialFile
from vsssim.vss.documents.safe_xml import (
    DEFAULT_LIMITS,
    Node,
    XmlDialect,
    XmlLimits,
    clip,
    shown,
    tag,
    where,
    yes_no,
)
from vsssim.vss.documents.snapshot_set_description import (
    DESCRIPTION_ELEMENTS,
    SnapshotDescription,
    description_lines,
    read_description,
)
from vsssim.vss.metadata import ComponentKey

__all__ = [
    "BCD_NAMESPACE",
    "BCD_VERSION",
    "VSSSIM_XML_NAMESPACE",
    "BackedUpComponent",
    "BackupComponentsDocument",
    "DifferencedFiles",
    "PartialFile",
    "SnapshotDescription",
    "XmlLimits",
    "document_from_xml",
    "document_to_xml",
]

#: The default namespace of the root element, as VSS writes it.
BCD_NAMESPACE = "x-schema:#VssComponentMetadata"
#: The ``version`` attribute Windows Server 2012 and later write on the root element.
BCD_VERSION = "1.2"
#: The namespace of what vsssim keeps beyond Microsoft's schema (prefix ``vsssim``).
VSSSIM_XML_NAMESPACE = "urn:vsssim:extensions"
_PREFIX = "vsssim"

_BACKUP_TYPE: dict[BackupType, str] = {
    BackupType.FULL: "full",
    BackupType.INCREMENTAL: "incremental",
    BackupType.DIFFERENTIAL: "differential",
    BackupType.LOG: "Log",  # sic: VSS spells this one capitalised
    BackupType.COPY: "copy",  # assumption: no public source shows it
    BackupType.OTHER: "other",
}
_COMPONENT_TYPE: dict[ComponentType, str] = {
    ComponentType.DATABASE: "database",
    ComponentType.FILEGROUP: "filegroup",
}
_ROOT_CHILDREN = frozenset({"WRITER_COMPONENTS", "SNAPSHOT_SET_DESCRIPTION"})
_WRITER_CHILDREN = frozenset({"COMPONENT"})
#: COMPONENT children of the schema the model has no place for: checked for shape, skipped.
_COMPONENT_CHILDREN = frozenset(
    {
        "BACKUP_METADATA",
        "RESTORE_METADATA",
        "ALTERNATE_LOCATION_MAPPING",
        "RESTORE_SUBCOMPONENT",
        "PARTIAL_FILE",
        "DIFFERENCED_FILE",
        "DIRECTED_TARGET",
        "RESTORE_TARGET",
    }
)
_DECIMAL = re.compile(r"-?[0-9]{1,19}")
_UNSIGNED = re.compile(r"[0-9]{1,19}")
_RANGE_NUMBER = re.compile(r"[0-9]{1,19}|0[xX][0-9a-fA-F]{1,16}")

_BCD = XmlDialect(
    "the backup components document",
    "backup components document",
    BCD_NAMESPACE,
    frozenset(
        {"WRITER_COMPONENTS", "COMPONENT", "FILE", *_COMPONENT_CHILDREN, *DESCRIPTION_ELEMENTS}
    ),
)


def _inconsistent(message: str) -> VssError:
    return VssError(
        HResult.VSS_E_INVALID_XML_DOCUMENT, f"not a valid backup components document: {message}"
    )


@attrs.frozen
class BackedUpComponent:
    """One component of the document, with its writer: what was selected and how it went."""

    writer_class_id: uuid.UUID
    writer_instance_id: uuid.UUID
    writer_name: str
    logical_path: str
    name: str
    component_type: ComponentType = ComponentType.FILEGROUP
    backup_succeeded: bool = False
    files: tuple[str, ...] = ()
    backup_stamp: str = ""
    previous_backup_stamp: str = ""
    partial_files: tuple[PartialFile, ...] = ()
    differenced_files: tuple[DifferencedFiles, ...] = ()

    @property
    def key(self) -> ComponentKey:
        """The component's :class:`~vsssim.vss.metadata.ComponentKey`."""
        return ComponentKey(
            self.writer_class_id, self.logical_path, self.name, self.writer_instance_id
        )

    @property
    def full_path(self) -> str:
        """``logical_path\\name``."""
        return self.key.full_path

    def partial_file(self, path: str) -> PartialFile | None:
        """The partial file entry of ``path`` (compared as Windows does), or None: the file
        was backed up whole."""
        key = path.upper()
        for partial in self.partial_files:
            if partial.path.upper() == key:
                return partial
        return None


def _grouped(components: Iterable[BackedUpComponent]) -> tuple[BackedUpComponent, ...]:
    """The components grouped by writer instance, writers in order of first appearance.

    The XML holds one ``WRITER_COMPONENTS`` element per writer, so this is the one order a
    document can come back in: keeping it makes the round trip exact.
    """
    groups: dict[uuid.UUID, list[BackedUpComponent]] = {}
    for component in components:
        groups.setdefault(component.writer_instance_id, []).append(component)
    return tuple(c for group in groups.values() for c in group)


@attrs.frozen
class BackupComponentsDocument:
    """A Backup Components Document, as a value.

    ``time_us`` is the backup point on the simulated clock (the shadow copy set's commit).
    ``partial_file_support`` is what the requester told ``SetBackupState``: whether writers
    may ask for partial files.
    ``components`` are kept grouped by writer instance (see :func:`_grouped`). A component
    listed twice, or a writer instance listed with two class ids or names, is refused with
    ``VSS_E_INVALID_XML_DOCUMENT``.
    """

    backup_type: BackupType = BackupType.FULL
    snapshot_set_id: uuid.UUID | None = None
    requester: str = ""
    context: Context = Context.BACKUP
    time_us: int = 0
    select_components: bool = True
    bootable_system_state: bool = False
    components: tuple[BackedUpComponent, ...] = attrs.field(default=(), converter=_grouped)
    partial_file_support: bool = False
    #: The copies of a transportable set, as ``SNAPSHOT_SET_DESCRIPTION`` lists them for
    #: ImportSnapshots; empty for other sets (vsssim describes only the sets meant to move).
    snapshots: tuple[SnapshotDescription, ...] = ()

    def __attrs_post_init__(self) -> None:
        seen: set[tuple[uuid.UUID, str, str]] = set()  # per writer instance
        writers: dict[uuid.UUID, tuple[uuid.UUID, str]] = {}
        for c in self.components:
            key = (c.writer_instance_id, c.logical_path.upper(), c.name.upper())
            if key in seen:
                raise _inconsistent(
                    f"component {c.full_path!r} of writer {c.writer_name!r} is listed twice"
                )
            seen.add(key)
            writer = writers.setdefault(c.writer_instance_id, (c.writer_class_id, c.writer_name))
            if writer != (c.writer_class_id, c.writer_name):
                raise _inconsistent(
                    f"writer instance {c.writer_instance_id} is listed as {writer[1]!r} "
                    f"({writer[0]}) and as {c.writer_name!r} ({c.writer_class_id})"
                )
        if self.time_us < 0:
            raise _inconsistent(f"the backup time {self.time_us} us is negative")

    def component(
        self,
        writer_class_id: uuid.UUID,
        logical_path: str,
        name: str,
        instance_id: uuid.UUID | None = None,
    ) -> BackedUpComponent:
        """A component by writer class id, logical path and name (case-insensitive, as VSS),
        of the writer instance ``instance_id`` (None: the first instance that has it).

        Raises ``VSS_E_OBJECT_NOT_FOUND`` for a component the document does not hold.
        """
        wanted = ComponentKey(writer_class_id, logical_path, name, instance_id)
        for c in self.components:
            if wanted.names(c.key):
                return c
        path = f"{logical_path}\\{name}" if logical_path else name
        raise VssError(
            HResult.VSS_E_OBJECT_NOT_FOUND,
            f"the backup components document holds no component {path!r} of writer "
            f"{writer_class_id}",
        )


# -- export ------------------------------------------------------------------------------------


def _component_lines(c: BackedUpComponent) -> list[str]:
    what = f"component {c.full_path!r}"
    component_type = _COMPONENT_TYPE.get(c.component_type)
    if component_type is None:
        _BCD.unrepresentable(f"{what} has type {c.component_type.vss_name}")
    attributes: list[tuple[str, str]] = []
    if c.logical_path:
        attributes.append(("logicalPath", _BCD.text(c.logical_path, f"{what} logical path")))
    attributes += [
        ("componentName", _BCD.text(c.name, f"{what} name")),
        ("componentType", component_type),
        ("backupSucceeded", yes_no(c.backup_succeeded)),
    ]
    if c.backup_stamp:
        attributes.append(("backupStamp", _BCD.text(c.backup_stamp, f"{what} backup stamp")))
    if c.previous_backup_stamp:
        stamp = _BCD.text(c.previous_backup_stamp, f"{what} previous backup stamp")
        attributes.append(("previousBackupStamp", stamp))
    files = [
        "      " + tag("PARTIAL_FILE", _partial_attributes(partial, what), empty=True)
        for partial in c.partial_files
    ]
    files += [
        "      " + tag("DIFFERENCED_FILE", _differenced_attributes(spec, what), empty=True)
        for spec in c.differenced_files
    ]
    files += [
        "      " + tag(f"{_PREFIX}:FILE", [("path", _BCD.text(p, f"{what} file"))], empty=True)
        for p in c.files
    ]
    if not files:
        return ["    " + tag("COMPONENT", attributes, empty=True)]
    return ["    " + tag("COMPONENT", attributes, empty=False), *files, "    </COMPONENT>"]


def _partial_attributes(partial: PartialFile, what: str) -> list[tuple[str, str]]:
    """``PARTIAL_FILE``'s attributes: the folder (with its backslash), the file name, the
    ranges and the writer's metadata."""
    folder, separator, name = partial.path.rpartition("\\")
    return [
        ("path", _BCD.text(folder + separator, f"{what} partial file path")),
        ("filespec", _BCD.text(name, f"{what} partial file name")),
        ("ranges", partial.ranges_text()),
        ("metadata", _BCD.text(partial.metadata, f"{what} partial file metadata")),
    ]


def document_to_xml(document: BackupComponentsDocument) -> str:
    """Write ``document`` as VSS's ``BACKUP_COMPONENTS`` XML, with vsssim's extensions.

    The output is deterministic (fixed attribute order, two-space indentation, one element per
    line, a final newline) and :func:`document_from_xml` reads it back to an equal value.
    Raises ``VssError(E_INVALIDARG)`` for what the format cannot express: an ``UNDEFINED``
    backup or component type, or text with characters XML 1.0 cannot carry.
    """
    backup_type = _BACKUP_TYPE.get(document.backup_type)
    if backup_type is None:
        _BCD.unrepresentable(f"backup type {document.backup_type.vss_name} has no XML spelling")
    root = [
        ("xmlns", BCD_NAMESPACE),
        (f"xmlns:{_PREFIX}", VSSSIM_XML_NAMESPACE),
        ("version", BCD_VERSION),
        ("bootableSystemStateBackup", yes_no(document.bootable_system_state)),
        ("selectComponents", yes_no(document.select_components)),
        ("backupType", backup_type),
        ("partialFileSupport", yes_no(document.partial_file_support)),
    ]
    if document.snapshot_set_id is not None:
        root.append(("snapshotSetId", str(document.snapshot_set_id)))
    root += [
        (f"{_PREFIX}:requester", _BCD.text(document.requester, "requester")),
        (f"{_PREFIX}:context", str(int(document.context))),
        (f"{_PREFIX}:timeUs", str(document.time_us)),
    ]
    children = _writer_lines(document.components) + description_lines(
        _BCD, document.snapshot_set_id, int(document.context), document.snapshots
    )
    if not children:
        return tag("BACKUP_COMPONENTS", root, empty=True) + "\n"
    lines = [tag("BACKUP_COMPONENTS", root, empty=False), *children, "</BACKUP_COMPONENTS>"]
    return "\n".join(lines) + "\n"


def _writer_lines(components: Iterable[BackedUpComponent]) -> list[str]:
    """The ``WRITER_COMPONENTS`` elements, one per writer instance, with their components."""
    lines: list[str] = []
    previous: uuid.UUID | None = None
    for c in components:
        if c.writer_instance_id != previous:
            if previous is not None:
                lines.append("  </WRITER_COMPONENTS>")
            previous = c.writer_instance_id
            writer = [
                ("instanceId", str(c.writer_instance_id)),
                ("writerId", str(c.writer_class_id)),
                (f"{_PREFIX}:writerName", _BCD.text(c.writer_name, "writer name")),
            ]
            lines.append("  " + tag("WRITER_COMPONENTS", writer, empty=False))
        lines += _component_lines(c)
    if previous is not None:
        lines.append("  </WRITER_COMPONENTS>")
    return lines


# -- import ------------------------------------------------------------------------------------


def _extension(name: str) -> str:
    """An extension attribute's name as the parser keeps it."""
    return f"{VSSSIM_XML_NAMESPACE} {name}"


def _differenced_attributes(spec: DifferencedFiles, what: str) -> list[tuple[str, str]]:
    """``DIFFERENCED_FILE``'s attributes: ``GetDifferencedFile``'s outputs by name."""
    return [
        ("path", _BCD.text(spec.path, f"{what} differenced file path")),
        ("filespec", _BCD.text(spec.filespec, f"{what} differenced file spec")),
        ("recursive", yes_no(spec.recursive)),
        ("lastModifyTime", str(spec.last_modify_time_us)),
    ]


def _decimal(node: Node, name: str, default: int) -> int:
    value = node.attributes.get(_extension(name))
    if value is None:
        return default
    if not _DECIMAL.fullmatch(value):
        _BCD.invalid(where(node, f"{_PREFIX}:{name}"), f"{shown(value)} is not a decimal number")
    return int(value)


def _files(node: Node) -> tuple[str, ...]:
    """The ``vsssim:FILE`` paths under a COMPONENT; other vsssim elements are refused."""
    files = []
    for child in node.children:
        if child.namespace != VSSSIM_XML_NAMESPACE:
            continue
        if child.local != "FILE":
            _BCD.invalid(
                where(child),
                f"unexpected element <{_PREFIX}:{clip(child.local)}>; expected <{_PREFIX}:FILE>",
            )
        _BCD.children(child, frozenset())
        files.append(_BCD.required(child, "path"))
    return tuple(files)


def _ranges(node: Node) -> tuple[tuple[int, int], ...]:
    """``PARTIAL_FILE``'s ``ranges``: ``offset:length`` pairs, decimal or hexadecimal."""
    text = node.attributes.get("ranges", "").strip()
    if not text:
        return ()
    ranges = []
    for item in text.split(","):
        offset, colon, length = (part.strip() for part in item.partition(":"))
        if not (colon and _RANGE_NUMBER.fullmatch(offset) and _RANGE_NUMBER.fullmatch(length)):
            _BCD.invalid(
                where(node, "ranges"),
                f"{shown(text)} is not a list of offset:length pairs "
                "(a ranges file is not supported)",
            )
        ranges.append((int(offset, 0), int(length, 0)))
    return tuple(ranges)


def _partial_file(node: Node) -> PartialFile:
    folder = node.attributes.get("path", "")
    name = node.attributes.get("filespec", "")
    joined = folder + name if not folder or folder.endswith("\\") else f"{folder}\\{name}"
    ranges = _ranges(node)
    try:
        return PartialFile(joined, ranges, node.attributes.get("metadata", ""))
    except VssError:
        _BCD.invalid(
            where(node, "ranges"),
            f"the ranges {shown(node.attributes.get('ranges', ''))} are not ascending, "
            "non-overlapping offset:length pairs with positive lengths",
        )


def _differenced_files(node: Node) -> DifferencedFiles:
    time = node.attributes.get("lastModifyTime", "0")
    if not _UNSIGNED.fullmatch(time):
        _BCD.invalid(where(node, "lastModifyTime"), f"{shown(time)} is not a decimal number")
    return DifferencedFiles(
        _BCD.required(node, "path"),
        _BCD.required(node, "filespec"),
        _BCD.boolean(node, "recursive"),
        int(time),
    )


def _component(node: Node, writer: tuple[uuid.UUID, uuid.UUID, str]) -> BackedUpComponent:
    partial_files = []
    differenced_files = []
    for child in _BCD.children(node, _COMPONENT_CHILDREN):
        _BCD.children(child, frozenset())
        if child.local == "PARTIAL_FILE":
            partial_files.append(_partial_file(child))
        elif child.local == "DIFFERENCED_FILE":
            differenced_files.append(_differenced_files(child))
    writer_class_id, writer_instance_id, writer_name = writer
    return BackedUpComponent(
        writer_class_id=writer_class_id,
        writer_instance_id=writer_instance_id,
        writer_name=writer_name,
        logical_path=node.attributes.get("logicalPath", ""),
        name=_BCD.required(node, "componentName"),
        component_type=_BCD.choice(node, "componentType", _COMPONENT_TYPE),
        backup_succeeded=_BCD.boolean(node, "backupSucceeded"),
        files=_files(node),
        backup_stamp=node.attributes.get("backupStamp", ""),
        previous_backup_stamp=node.attributes.get("previousBackupStamp", ""),
        partial_files=tuple(partial_files),
        differenced_files=tuple(differenced_files),
    )


def _context(root: Node) -> Context:
    value = _decimal(root, "context", int(Context.BACKUP))
    try:
        return Context(value)
    except ValueError:
        _BCD.invalid(
            where(root, f"{_PREFIX}:context"), f"{value} is not a VSS_SNAPSHOT_CONTEXT value"
        )


def _components(root: Node) -> list[BackedUpComponent]:
    """Every COMPONENT of every WRITER_COMPONENTS element, with its writer."""
    components: list[BackedUpComponent] = []
    seen: dict[tuple[uuid.UUID, str, str], Node] = {}  # per writer instance
    writers: dict[uuid.UUID, tuple[uuid.UUID, str, Node]] = {}
    for writer_node in _BCD.children(root, _ROOT_CHILDREN):
        if writer_node.local != "WRITER_COMPONENTS":
            continue  # SNAPSHOT_SET_DESCRIPTION: read by _snapshots
        writer = (
            _BCD.guid(writer_node, "writerId"),
            _BCD.guid(writer_node, "instanceId"),
            writer_node.attributes.get(_extension("writerName"), ""),
        )
        first = writers.setdefault(writer[1], (writer[0], writer[2], writer_node))
        if first[:2] != (writer[0], writer[2]):
            _BCD.invalid(
                where(writer_node),
                f"writer instance {writer[1]} is listed as {shown(first[1])} ({first[0]}) at "
                f"{where(first[2])} and as {shown(writer[2])} ({writer[0]})",
            )
        for node in _BCD.children(writer_node, _WRITER_CHILDREN):
            component = _component(node, writer)
            key = (writer[1], component.logical_path.upper(), component.name.upper())
            if key in seen:
                _BCD.invalid(
                    where(node),
                    f"component {shown(component.full_path)} is listed twice "
                    f"(first at {where(seen[key])})",
                )
            seen[key] = node
            components.append(component)
    return components


def document_from_xml(
    text: str | bytes, *, limits: XmlLimits = DEFAULT_LIMITS
) -> BackupComponentsDocument:
    """Read a ``BACKUP_COMPONENTS`` document, as VSS writes it, into a value.

    ``text`` is a ``str``, or ``bytes`` in UTF-8 or UTF-16 (with a byte order mark, as
    Windows tools save these documents). Accepts documents with or without the
    ``x-schema:#VssComponentMetadata`` namespace and with or without vsssim's extensions.
    Raises ``VssError(VSS_E_CORRUPT_XML_DOCUMENT)`` for text that is not well-formed XML and
    ``VssError(VSS_E_INVALID_XML_DOCUMENT)`` for a document that is not a backup components
    document (wrong root, missing or bad attribute, unknown value, a component listed
    twice...), has a DOCTYPE, or passes one of ``limits`` (size, nesting, element count,
    attribute count and length, name and text length: see
    :class:`~vsssim.vss.documents.safe_xml.XmlLimits`;
    checked while reading, so memory stays proportional to the document). The message is
    one line naming the element path, attribute and line. Anything but ``str`` or ``bytes``
    is ``E_INVALIDARG``.
    """
    root = _BCD.parse(text, limits)
    _BCD.check_root(root, "BACKUP_COMPONENTS")
    snapshot_set_id = (
        _BCD.guid(root, "snapshotSetId") if "snapshotSetId" in root.attributes else None
    )
    context = _context(root)
    components = _components(root)
    snapshots = _snapshots(root, snapshot_set_id)
    time_us = _decimal(root, "timeUs", 0)
    if time_us < 0:
        _BCD.invalid(where(root, f"{_PREFIX}:timeUs"), f"the backup time {time_us} us is negative")
    return BackupComponentsDocument(
        backup_type=_BCD.choice(root, "backupType", _BACKUP_TYPE),
        snapshot_set_id=snapshot_set_id,
        requester=root.attributes.get(_extension("requester"), ""),
        context=context,
        time_us=time_us,
        select_components=_BCD.boolean(root, "selectComponents"),
        bootable_system_state=_BCD.boolean(root, "bootableSystemStateBackup"),
        components=tuple(components),
        partial_file_support=_BCD.boolean(root, "partialFileSupport"),
        snapshots=snapshots,
    )


def _snapshots(root: Node, set_id: uuid.UUID | None) -> tuple[SnapshotDescription, ...]:
    """The copies of the one ``SNAPSHOT_SET_DESCRIPTION`` element (none without it)."""
    children = _BCD.children(root, _ROOT_CHILDREN)
    node = _BCD.single(root, children, "SNAPSHOT_SET_DESCRIPTION")
    return () if node is None else read_description(_BCD, node, set_id)
