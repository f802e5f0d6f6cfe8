"""Writer Metadata Documents as the XML VSS itself writes and reads.

``IVssExamineWriterMetadata::SaveAsXML`` turns a writer's metadata into a ``WRITER_METADATA``
document and ``LoadFromXML`` / ``CreateVssExamineWriterMetadata`` read one back; backup tools
keep these documents with the backup (diskshadow stores them as ``WM<n>.xml``). This module maps
that format to and from :class:`~vsssim.vss.metadata.WriterMetadata`, so a simulated writer can be
described by a document captured on a real server, and a simulated one can be handed to tools
that expect the real format.

The layout follows what Windows writes::

    <WRITER_METADATA xmlns="x-schema:#VssWriterMetadataInfo" version="1.2" backupSchema="881">
      <IDENTIFICATION writerId="..." instanceId="..." friendlyName="SqlServerWriter"
                      usage="USER_DATA" dataSource="TRANSACTION_DB" .../>
      <RESTORE_METHOD method="RESTORE_IF_CAN_BE_REPLACED" writerRestore="always"
                      rebootRequired="no"/>
      <BACKUP_LOCATIONS>
        <FILE_GROUP logicalPath="..." componentName="..." selectable="yes" ...>
          <FILE_LIST path="..." filespec="..." recursive="no" filespecBackupType="3855"/>
        </FILE_GROUP>
        <EXCLUDE_FILES path="..." filespec="..." recursive="no"/>
      </BACKUP_LOCATIONS>
    </WRITER_METADATA>

Values are spelled as VSS spells them: booleans ``yes``/``no``, usage ``BOOTABLE_SYSTEM_STATE``...,
data source ``TRANSACTION_DB``/``NONTRANSACTIONAL_DB``/``OTHER``, restore methods
``RESTORE_IF_CAN_BE_REPLACED``..., ``writerRestore`` ``always``/``never``/``ifReplaceFails``,
the backup schema as a decimal ``VSS_BACKUP_SCHEMA`` mask.

Reading is strict about what the model needs (a malformed document is
``VSS_E_CORRUPT_XML_DOCUMENT``; a well-formed one that is not a writer metadata document is
``VSS_E_INVALID_XML_DOCUMENT``, with a message naming the element path and attribute) and lenient
about what it does not keep: attributes it does not know, and the schema's elements the model has
no place for (``INCLUDE_FILES``, ``EXCLUDE_FILES_FROM_SNAPSHOT``), are skipped, as are
elements in foreign XML namespaces. A file spec's ``alternatePath`` is where its files are
backed up from; ``ALTERNATE_LOCATION_MAPPING`` (under ``RESTORE_METHOD``) is where files are
restored to: the two are kept apart. Documents with a DOCTYPE are refused outright: a writer
metadata document never carries a DTD, and entity declarations are how
"billion laughs" and external-entity attacks get in. A document past one of the reader's
:class:`XmlLimits` (16 MiB, 64 deep, 100,000 elements, 256 attributes per element, 1 Mi
characters per value... generous for real writers: a SQL Server writer with thousands of
databases is well within them) is refused as soon as expat passes the limit, with
``VSS_E_INVALID_XML_DOCUMENT`` naming the limit and where.
"""

from __future__ import annotations

import re

from vsssim.vss.constants import (
    BackupSchema,
    ComponentType,
    FileSpecBackupType,
    RestoreMethod,
    SourceType,
    UsageType,
    WriterRestore,
)
from vsssim.vss.documents.safe_xml import (
    DEFAULT_LIMITS,
    NO,
    Node,
    XmlDialect,
    XmlLimits,
    shown,
    tag,
    where,
    yes_no,
)
from vsssim.vss.metadata import (
    AlternateLocationMapping,
    Component,
    ComponentKey,
    FileDescriptor,
    WriterMetadata,
)

__all__ = ["WMD_NAMESPACE", "WMD_VERSION", "XmlLimits", "metadata_from_xml", "metadata_to_xml"]

#: The default namespace of the root element, as VSS writes it.
WMD_NAMESPACE = "x-schema:#VssWriterMetadataInfo"
#: The ``version`` attribute Windows Server 2012 and later write on the root element.
WMD_VERSION = "1.2"

_USAGE: dict[UsageType, str] = {
    UsageType.BOOTABLESYSTEMSTATE: "BOOTABLE_SYSTEM_STATE",
    UsageType.SYSTEMSERVICE: "SYSTEM_SERVICE",
    UsageType.USERDATA: "USER_DATA",
    UsageType.OTHER: "OTHER",
}
_SOURCE: dict[SourceType, str] = {
    SourceType.TRANSACTEDDB: "TRANSACTION_DB",
    SourceType.NONTRANSACTEDDB: "NONTRANSACTIONAL_DB",
    SourceType.OTHER: "OTHER",
}
_METHOD: dict[RestoreMethod, str] = {
    RestoreMethod.RESTORE_IF_NOT_THERE: "RESTORE_IF_NONE_THERE",
    RestoreMethod.RESTORE_IF_CAN_REPLACE: "RESTORE_IF_CAN_BE_REPLACED",
    RestoreMethod.STOP_RESTORE_START: "STOP_RESTART_SERVICE",
    RestoreMethod.RESTORE_TO_ALTERNATE_LOCATION: "RESTORE_TO_ALTERNATE_LOCATION",
    RestoreMethod.RESTORE_AT_REBOOT: "REPLACE_AT_REBOOT",
    RestoreMethod.RESTORE_AT_REBOOT_IF_CANNOT_REPLACE: "REPLACE_AT_REBOOT_IF_CANNOT_REPLACE",
    RestoreMethod.CUSTOM: "CUSTOM",
    # Assumption: no public capture shows VSS_RME_RESTORE_STOP_START (Vista and later).
    RestoreMethod.RESTORE_STOP_START: "RESTORE_STOP_START",
}
_WRITER_RESTORE: dict[WriterRestore, str] = {
    WriterRestore.NEVER: "never",
    WriterRestore.IF_REPLACE_FAILS: "ifReplaceFails",
    WriterRestore.ALWAYS: "always",
}
_COMPONENT_ELEMENT: dict[ComponentType, str] = {
    ComponentType.DATABASE: "DATABASE",
    ComponentType.FILEGROUP: "FILE_GROUP",
}
_COMPONENT_TYPE: dict[str, ComponentType] = {v: k for k, v in _COMPONENT_ELEMENT.items()}

#: ``filespecBackupType`` written on every file list: the mask a writer gets when it does not
#: pass one (``VSS_FSBT_ALL_BACKUP_REQUIRED | VSS_FSBT_ALL_SNAPSHOT_REQUIRED`` = 3855).
_DEFAULT_FILESPEC_BACKUP_TYPE = str(
    int(FileSpecBackupType.ALL_BACKUP_REQUIRED | FileSpecBackupType.ALL_SNAPSHOT_REQUIRED)
)

# Which children each element of the schema may have. Elements in the second set are part of
# the schema but have no place in the model: they are checked for shape and then skipped.
_FILE_ELEMENTS = ("FILE_LIST", "DATABASE_FILES", "DATABASE_LOGFILES")
_ROOT_CHILDREN = frozenset({"IDENTIFICATION", "RESTORE_METHOD", "BACKUP_LOCATIONS"})
_RESTORE_CHILDREN = frozenset({"ALTERNATE_LOCATION_MAPPING"})
_LOCATION_CHILDREN = frozenset(
    {"DATABASE", "FILE_GROUP", "EXCLUDE_FILES", "INCLUDE_FILES", "EXCLUDE_FILES_FROM_SNAPSHOT"}
)
_COMPONENT_CHILDREN = frozenset({*_FILE_ELEMENTS, "DEPENDENCY"})
_NO_CHILDREN: frozenset[str] = frozenset()
#: Elements that may repeat among their siblings: paths in messages number them (1-based).
_REPEATED = frozenset(
    {
        *_FILE_ELEMENTS,
        "DATABASE",
        "FILE_GROUP",
        "DEPENDENCY",
        "EXCLUDE_FILES",
        "INCLUDE_FILES",
        "EXCLUDE_FILES_FROM_SNAPSHOT",
        "ALTERNATE_LOCATION_MAPPING",
    }
)

_DECIMAL = re.compile(r"[0-9]{1,10}")

#: The messages, namespace and repeated elements of the shared XML reader and writer.
_WMD = XmlDialect("writer metadata", "writer metadata document", WMD_NAMESPACE, _REPEATED)


# -- export ------------------------------------------------------------------------------------


def _file_attributes(fd: FileDescriptor, what: str, *, backup_type: bool) -> list[tuple[str, str]]:
    attributes = [
        ("path", _WMD.text(fd.path, f"{what} path")),
        ("filespec", _WMD.text(fd.filespec, f"{what} filespec")),
        ("recursive", yes_no(fd.recursive)),
    ]
    if fd.alternate_path is not None:
        attributes.append(("alternatePath", _WMD.text(fd.alternate_path, f"{what} alternate path")))
    if backup_type:
        attributes.append(("filespecBackupType", _DEFAULT_FILESPEC_BACKUP_TYPE))
    return attributes


def _component_lines(component: Component) -> list[str]:
    what = f"component {component.full_path!r}"
    element = _COMPONENT_ELEMENT.get(component.component_type)
    if element is None:
        _WMD.unrepresentable(f"{what} has type {component.component_type.vss_name}")
    attributes: list[tuple[str, str]] = []
    if component.logical_path:
        logical_path = _WMD.text(component.logical_path, f"{what} logical path")
        attributes.append(("logicalPath", logical_path))
    attributes.append(("componentName", _WMD.text(component.name, f"{what} name")))
    if component.caption:
        attributes.append(("caption", _WMD.text(component.caption, f"{what} caption")))
    attributes += [
        # The model keeps neither: written as AddComponent's defaults.
        ("restoreMetadata", NO),
        ("notifyOnBackupComplete", NO),
        ("selectable", yes_no(component.selectable)),
        ("selectableForRestore", yes_no(component.selectable_for_restore)),
        ("componentFlags", "0"),
    ]
    children: list[str] = []
    for file_element, descriptors in zip(
        _FILE_ELEMENTS,
        (component.files, component.database_files, component.log_files),
        strict=True,
    ):
        for fd in descriptors:
            file_attributes = _file_attributes(fd, f"{what} {file_element}", backup_type=True)
            children.append("      " + tag(file_element, file_attributes, empty=True))
    for key in component.dependencies:
        dependency = [("writerId", str(key.writer_class_id))]
        if key.logical_path:
            dependency.append(
                ("logicalPath", _WMD.text(key.logical_path, f"{what} dependency logical path"))
            )
        dependency.append(("componentName", _WMD.text(key.name, f"{what} dependency name")))
        children.append("      " + tag("DEPENDENCY", dependency, empty=True))
    if not children:
        return ["    " + tag(element, attributes, empty=True)]
    return ["    " + tag(element, attributes, empty=False), *children, f"    </{element}>"]


def _restore_lines(metadata: WriterMetadata) -> list[str]:
    """``RESTORE_METHOD``, with an ``ALTERNATE_LOCATION_MAPPING`` child per mapping (the
    destination in ``alternatePath``, as the schema names it: *assumption*, no capture seen)."""
    if metadata.restore_method == RestoreMethod.UNDEFINED:
        if (
            metadata.writer_restore != WriterRestore.UNDEFINED
            or metadata.restore_service
            or metadata.reboot_required
            or metadata.alternate_location_mappings
        ):
            _WMD.unrepresentable(
                "a writer with restore method VSS_RME_UNDEFINED has no RESTORE_METHOD element, "
                "so it cannot carry a writer restore condition, restore service, reboot flag "
                "or alternate location mapping"
            )
        return []
    attributes = [("method", _METHOD[metadata.restore_method])]
    if metadata.restore_service:
        attributes.append(("service", _WMD.text(metadata.restore_service, "restore service")))
    if metadata.writer_restore != WriterRestore.UNDEFINED:
        attributes.append(("writerRestore", _WRITER_RESTORE[metadata.writer_restore]))
    attributes.append(("rebootRequired", yes_no(metadata.reboot_required)))
    mappings = []
    for m in metadata.alternate_location_mappings:
        what = "alternate location mapping"
        mapping = [
            ("path", _WMD.text(m.path, f"{what} path")),
            ("filespec", _WMD.text(m.filespec, f"{what} filespec")),
            ("recursive", yes_no(m.recursive)),
            ("alternatePath", _WMD.text(m.destination, f"{what} destination")),
        ]
        mappings.append("    " + tag("ALTERNATE_LOCATION_MAPPING", mapping, empty=True))
    if not mappings:
        return ["  " + tag("RESTORE_METHOD", attributes, empty=True)]
    return ["  " + tag("RESTORE_METHOD", attributes, empty=False), *mappings, "  </RESTORE_METHOD>"]


def metadata_to_xml(metadata: WriterMetadata) -> str:
    """Write ``metadata`` as VSS's ``WRITER_METADATA`` XML.

    The output is deterministic (fixed attribute order, two-space indentation, one element per
    line, a final newline) and :func:`metadata_from_xml` reads it back to an equal value.
    Attributes the model does not keep are written with the value a writer that never sets them
    gets (``restoreMetadata="no"``, ``componentFlags="0"``, ``filespecBackupType="3855"``...).

    Raises ``VssError(E_INVALIDARG)`` for metadata the format cannot express: an ``UNDEFINED``
    usage, source or component type, a restore condition without a restore method, or text
    with characters XML 1.0 cannot carry.
    """
    usage = _USAGE.get(metadata.usage_type)
    if usage is None:
        _WMD.unrepresentable(f"usage type {metadata.usage_type.vss_name} has no XML spelling")
    source = _SOURCE.get(metadata.source_type)
    if source is None:
        _WMD.unrepresentable(f"source type {metadata.source_type.vss_name} has no XML spelling")
    schema = int(metadata.backup_schema)
    if not 0 <= schema <= 0xFFFFFFFF:
        _WMD.unrepresentable(f"backup schema {schema} is not a 32-bit VSS_BACKUP_SCHEMA mask")

    root = [("xmlns", WMD_NAMESPACE), ("version", WMD_VERSION)]
    if schema:
        root.append(("backupSchema", str(schema)))
    identification = [
        ("writerId", str(metadata.writer_class_id)),
        ("instanceId", str(metadata.writer_instance_id)),
    ]
    if metadata.instance_name:
        instance_name = _WMD.text(metadata.instance_name, "instance name")
        identification.append(("instanceName", instance_name))
    identification += [
        ("friendlyName", _WMD.text(metadata.writer_name, "writer name")),
        ("usage", usage),
        ("dataSource", source),
        ("majorVersion", "0"),
        ("minorVersion", "0"),
    ]
    lines = [
        tag("WRITER_METADATA", root, empty=False),
        "  " + tag("IDENTIFICATION", identification, empty=True),
    ]
    lines += _restore_lines(metadata)
    locations: list[str] = []
    for component in metadata.components:
        locations += _component_lines(component)
    for fd in metadata.excluded_files:
        attributes = _file_attributes(fd, "excluded file", backup_type=False)
        locations.append("    " + tag("EXCLUDE_FILES", attributes, empty=True))
    if locations:
        lines += ["  <BACKUP_LOCATIONS>", *locations, "  </BACKUP_LOCATIONS>"]
    lines.append("</WRITER_METADATA>")
    return "\n".join(lines) + "\n"


# -- import ------------------------------------------------------------------------------------


def _file(node: Node) -> FileDescriptor:
    _WMD.children(node, _NO_CHILDREN)
    return FileDescriptor(
        path=_WMD.required(node, "path"),
        filespec=_WMD.required(node, "filespec"),
        recursive=_WMD.boolean(node, "recursive"),
        alternate_path=node.attributes.get("alternatePath"),
    )


def _mapping(node: Node) -> AlternateLocationMapping:
    _WMD.children(node, _NO_CHILDREN)
    return AlternateLocationMapping(
        path=_WMD.required(node, "path"),
        filespec=_WMD.required(node, "filespec"),
        recursive=_WMD.boolean(node, "recursive"),
        destination=_WMD.required(node, "alternatePath"),
    )


def _dependency(node: Node) -> ComponentKey:
    _WMD.children(node, _NO_CHILDREN)
    # Assumption: the class id is in writerId; oldWriterId is read when writerId is absent.
    has_old = "oldWriterId" in node.attributes and "writerId" not in node.attributes
    name = "oldWriterId" if has_old else "writerId"
    return ComponentKey(
        writer_class_id=_WMD.guid(node, name),
        logical_path=node.attributes.get("logicalPath", ""),
        name=_WMD.required(node, "componentName"),
    )


def _component(node: Node) -> Component:
    files: dict[str, list[FileDescriptor]] = {tag: [] for tag in _FILE_ELEMENTS}
    dependencies = []
    for child in _WMD.children(node, _COMPONENT_CHILDREN):
        if child.local == "DEPENDENCY":
            dependencies.append(_dependency(child))
        else:
            files[child.local].append(_file(child))
    return Component(
        name=_WMD.required(node, "componentName"),
        component_type=_COMPONENT_TYPE[node.local],
        logical_path=node.attributes.get("logicalPath", ""),
        caption=node.attributes.get("caption", ""),
        selectable=_WMD.boolean(node, "selectable"),
        selectable_for_restore=_WMD.boolean(node, "selectableForRestore"),
        files=tuple(files["FILE_LIST"]),
        database_files=tuple(files["DATABASE_FILES"]),
        log_files=tuple(files["DATABASE_LOGFILES"]),
        dependencies=tuple(dependencies),
    )


def _backup_schema(node: Node) -> BackupSchema:
    value = node.attributes.get("backupSchema", "0")
    if not _DECIMAL.fullmatch(value) or int(value) > 0xFFFFFFFF:
        _WMD.invalid(
            where(node, "backupSchema"),
            f"{shown(value)} is not a VSS_BACKUP_SCHEMA mask; expected a decimal 32-bit number",
        )
    return BackupSchema(int(value))


_Restore = tuple[RestoreMethod, WriterRestore, str, bool, tuple[AlternateLocationMapping, ...]]


def _restore(sections: list[Node], root: Node) -> _Restore:
    """The RESTORE_METHOD element's method, writer restore condition, service, reboot flag
    and alternate location mappings."""
    rm = _WMD.single(root, sections, "RESTORE_METHOD")
    if rm is None:
        return RestoreMethod.UNDEFINED, WriterRestore.UNDEFINED, "", False, ()
    mappings = tuple(_mapping(child) for child in _WMD.children(rm, _RESTORE_CHILDREN))
    writer_restore = WriterRestore.UNDEFINED
    if "writerRestore" in rm.attributes:
        writer_restore = _WMD.choice(rm, "writerRestore", _WRITER_RESTORE)
    return (
        _WMD.choice(rm, "method", _METHOD),
        writer_restore,
        rm.attributes.get("service", ""),
        _WMD.boolean(rm, "rebootRequired"),
        mappings,
    )


def _locations(sections: list[Node], root: Node) -> tuple[list[Component], list[FileDescriptor]]:
    """The components and excluded files of the BACKUP_LOCATIONS element."""
    components: list[Component] = []
    excluded: list[FileDescriptor] = []
    seen: dict[tuple[str, str], Node] = {}
    locations = _WMD.single(root, sections, "BACKUP_LOCATIONS")
    if locations is None:
        return components, excluded
    for child in _WMD.children(locations, _LOCATION_CHILDREN):
        if child.local in _COMPONENT_TYPE:
            component = _component(child)
            key = (component.logical_path.upper(), component.name.upper())
            if key in seen:
                _WMD.invalid(
                    where(child),
                    f"component {shown(component.full_path)} is declared twice "
                    f"(first at {where(seen[key])})",
                )
            seen[key] = child
            components.append(component)
        elif child.local == "EXCLUDE_FILES":
            excluded.append(_file(child))
        else:  # INCLUDE_FILES, EXCLUDE_FILES_FROM_SNAPSHOT: in the schema, not in the model
            _WMD.children(child, _NO_CHILDREN)
    return components, excluded


def metadata_from_xml(text: str | bytes, *, limits: XmlLimits = DEFAULT_LIMITS) -> WriterMetadata:
    """Read a ``WRITER_METADATA`` document, as VSS writes it, into a :class:`WriterMetadata`.

    ``text`` is a ``str``, or ``bytes`` in UTF-8 or UTF-16 (with a byte order mark, as
    Windows tools save these documents). Accepts documents with or without the
    ``x-schema:#VssWriterMetadataInfo`` default namespace and with elements in any order.
    Raises ``VssError(VSS_E_CORRUPT_XML_DOCUMENT)`` for text that is not well-formed XML and
    ``VssError(VSS_E_INVALID_XML_DOCUMENT)`` for a document that is not a writer metadata
    document (wrong root, missing ``IDENTIFICATION`` or required attribute, bad GUID, unknown
    enumeration value, duplicate component...), has a DOCTYPE, or passes one of ``limits``
    (size, nesting, element count, attribute count and length, name and text length: see
    :class:`~vsssim.vss.documents.safe_xml.XmlLimits`; checked while reading, so memory stays
    proportional to
    the document). The message is one line naming the element path, attribute and line, and
    what was expected. Anything but ``str`` or ``bytes`` is ``E_INVALIDARG``.
    """
    root = _WMD.parse(text, limits)
    _WMD.check_root(root, "WRITER_METADATA")
    sections = _WMD.children(root, _ROOT_CHILDREN)
    identification = _WMD.single(root, sections, "IDENTIFICATION")
    if identification is None:
        _WMD.invalid(where(root), "the required <IDENTIFICATION> element is missing")
    _WMD.children(identification, _NO_CHILDREN)
    writer_class_id = _WMD.guid(identification, "writerId")
    writer_instance_id = _WMD.guid(identification, "instanceId")
    writer_name = _WMD.required(identification, "friendlyName")
    usage_type = _WMD.choice(identification, "usage", _USAGE)
    source_type = _WMD.choice(identification, "dataSource", _SOURCE)
    backup_schema = _backup_schema(root)
    restore_method, writer_restore, service, reboot, mappings = _restore(sections, root)
    components, excluded = _locations(sections, root)
    return WriterMetadata(
        writer_class_id=writer_class_id,
        writer_instance_id=writer_instance_id,
        writer_name=writer_name,
        instance_name=identification.attributes.get("instanceName", ""),
        usage_type=usage_type,
        source_type=source_type,
        backup_schema=backup_schema,
        restore_method=restore_method,
        restore_service=service,
        writer_restore=writer_restore,
        reboot_required=reboot,
        excluded_files=tuple(excluded),
        components=tuple(components),
        alternate_location_mappings=mappings,
    )
