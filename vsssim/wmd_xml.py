"""Writer Metadata Documents as the XML VSS itself writes and reads.

``IVssExamineWriterMetadata::SaveAsXML`` turns a writer's metadata into a ``WRITER_METADATA``
document and ``LoadFromXML`` / ``CreateVssExamineWriterMetadata`` read one back; backup tools
keep these documents with the backup (diskshadow stores them as ``WM<n>.xml``). This module maps
that format to and from :class:`~vsssim.metadata.WriterMetadata`, so a simulated writer can be
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
no place for (``INCLUDE_FILES``, ``EXCLUDE_FILES_FROM_SNAPSHOT``, ``ALTERNATE_LOCATION_MAPPING``),
are skipped, as are elements in foreign XML namespaces. Documents with a DOCTYPE are refused
outright: a writer metadata document never carries a DTD, and entity declarations are how
"billion laughs" and external-entity attacks get in.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from enum import Enum
from typing import NoReturn, TypeVar
from xml.parsers import expat

from vsssim.constants import (
    BackupSchema,
    ComponentType,
    FileSpecBackupType,
    RestoreMethod,
    SourceType,
    UsageType,
    WriterRestore,
)
from vsssim.errors import HResult, VssError
from vsssim.metadata import Component, ComponentKey, FileDescriptor, WriterMetadata

__all__ = ["WMD_NAMESPACE", "WMD_VERSION", "metadata_from_xml", "metadata_to_xml"]

#: The default namespace of the root element, as VSS writes it.
WMD_NAMESPACE = "x-schema:#VssWriterMetadataInfo"
#: The ``version`` attribute Windows Server 2012 and later write on the root element.
WMD_VERSION = "1.2"

_E = TypeVar("_E", bound=Enum)

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
_YES, _NO = "yes", "no"

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

_GUID = re.compile(r"\{?[0-9A-Fa-f]{8}-(?:[0-9A-Fa-f]{4}-){3}[0-9A-Fa-f]{12}\}?")
_DECIMAL = re.compile(r"[0-9]{1,10}")
#: Characters XML 1.0 cannot carry at all, not even as character references.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
#: Escapes for attribute values; tab, newline and carriage return are escaped so that a parser's
#: attribute-value normalisation does not turn them into spaces.
_ESCAPES = str.maketrans(
    {
        "&": "&amp;",
        "<": "&lt;",
        ">": "&gt;",
        '"': "&quot;",
        "\t": "&#9;",
        "\n": "&#10;",
        "\r": "&#13;",
    }
)


# -- export ------------------------------------------------------------------------------------


def _unrepresentable(message: str) -> NoReturn:
    raise VssError(HResult.E_INVALIDARG, f"cannot write writer metadata as XML: {message}")


def _text(value: str, what: str) -> str:
    """``value`` escaped for a double-quoted attribute; refuses what XML cannot carry."""
    bad = _NOT_XML.search(value)
    if bad is not None:
        _unrepresentable(
            f"{what} contains U+{ord(bad.group()):04X}, which XML 1.0 cannot carry: {value!r}"
        )
    return value.translate(_ESCAPES)


def _tag(tag: str, attributes: Sequence[tuple[str, str]], *, empty: bool) -> str:
    """A start tag (``empty``: self-closing) from already-escaped attribute values."""
    text = "".join(f' {name}="{value}"' for name, value in attributes)
    return f"<{tag}{text}{'/' if empty else ''}>"


def _yes_no(value: bool) -> str:
    return _YES if value else _NO


def _file_attributes(fd: FileDescriptor, what: str, *, backup_type: bool) -> list[tuple[str, str]]:
    attributes = [
        ("path", _text(fd.path, f"{what} path")),
        ("filespec", _text(fd.filespec, f"{what} filespec")),
        ("recursive", _yes_no(fd.recursive)),
    ]
    if fd.alternate_location is not None:
        attributes.append(
            ("alternatePath", _text(fd.alternate_location, f"{what} alternate location"))
        )
    if backup_type:
        attributes.append(("filespecBackupType", _DEFAULT_FILESPEC_BACKUP_TYPE))
    return attributes


def _component_lines(component: Component) -> list[str]:
    what = f"component {component.full_path!r}"
    element = _COMPONENT_ELEMENT.get(component.component_type)
    if element is None:
        _unrepresentable(f"{what} has type {component.component_type.vss_name}")
    attributes: list[tuple[str, str]] = []
    if component.logical_path:
        attributes.append(("logicalPath", _text(component.logical_path, f"{what} logical path")))
    attributes.append(("componentName", _text(component.name, f"{what} name")))
    if component.caption:
        attributes.append(("caption", _text(component.caption, f"{what} caption")))
    attributes += [
        # The model keeps neither: written as AddComponent's defaults.
        ("restoreMetadata", _NO),
        ("notifyOnBackupComplete", _NO),
        ("selectable", _yes_no(component.selectable)),
        ("selectableForRestore", _yes_no(component.selectable_for_restore)),
        ("componentFlags", "0"),
    ]
    children: list[str] = []
    for tag, descriptors in zip(
        _FILE_ELEMENTS,
        (component.files, component.database_files, component.log_files),
        strict=True,
    ):
        for fd in descriptors:
            file_attributes = _file_attributes(fd, f"{what} {tag}", backup_type=True)
            children.append("      " + _tag(tag, file_attributes, empty=True))
    for key in component.dependencies:
        dependency = [("writerId", str(key.writer_class_id))]
        if key.logical_path:
            dependency.append(
                ("logicalPath", _text(key.logical_path, f"{what} dependency logical path"))
            )
        dependency.append(("componentName", _text(key.name, f"{what} dependency name")))
        children.append("      " + _tag("DEPENDENCY", dependency, empty=True))
    if not children:
        return ["    " + _tag(element, attributes, empty=True)]
    return ["    " + _tag(element, attributes, empty=False), *children, f"    </{element}>"]


def _restore_line(metadata: WriterMetadata) -> str | None:
    if metadata.restore_method == RestoreMethod.UNDEFINED:
        if (
            metadata.writer_restore != WriterRestore.UNDEFINED
            or metadata.restore_service
            or metadata.reboot_required
        ):
            _unrepresentable(
                "a writer with restore method VSS_RME_UNDEFINED has no RESTORE_METHOD element, "
                "so it cannot carry a writer restore condition, restore service or reboot flag"
            )
        return None
    attributes = [("method", _METHOD[metadata.restore_method])]
    if metadata.restore_service:
        attributes.append(("service", _text(metadata.restore_service, "restore service")))
    if metadata.writer_restore != WriterRestore.UNDEFINED:
        attributes.append(("writerRestore", _WRITER_RESTORE[metadata.writer_restore]))
    attributes.append(("rebootRequired", _yes_no(metadata.reboot_required)))
    return "  " + _tag("RESTORE_METHOD", attributes, empty=True)


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
        _unrepresentable(f"usage type {metadata.usage_type.vss_name} has no XML spelling")
    source = _SOURCE.get(metadata.source_type)
    if source is None:
        _unrepresentable(f"source type {metadata.source_type.vss_name} has no XML spelling")
    schema = int(metadata.backup_schema)
    if not 0 <= schema <= 0xFFFFFFFF:
        _unrepresentable(f"backup schema {schema} is not a 32-bit VSS_BACKUP_SCHEMA mask")

    root = [("xmlns", WMD_NAMESPACE), ("version", WMD_VERSION)]
    if schema:
        root.append(("backupSchema", str(schema)))
    identification = [
        ("writerId", str(metadata.writer_class_id)),
        ("instanceId", str(metadata.writer_instance_id)),
    ]
    if metadata.instance_name:
        identification.append(("instanceName", _text(metadata.instance_name, "instance name")))
    identification += [
        ("friendlyName", _text(metadata.writer_name, "writer name")),
        ("usage", usage),
        ("dataSource", source),
        ("majorVersion", "0"),
        ("minorVersion", "0"),
    ]
    lines = [
        _tag("WRITER_METADATA", root, empty=False),
        "  " + _tag("IDENTIFICATION", identification, empty=True),
    ]
    restore = _restore_line(metadata)
    if restore is not None:
        lines.append(restore)
    locations: list[str] = []
    for component in metadata.components:
        locations += _component_lines(component)
    for fd in metadata.excluded_files:
        attributes = _file_attributes(fd, "excluded file", backup_type=False)
        locations.append("    " + _tag("EXCLUDE_FILES", attributes, empty=True))
    if locations:
        lines += ["  <BACKUP_LOCATIONS>", *locations, "  </BACKUP_LOCATIONS>"]
    lines.append("</WRITER_METADATA>")
    return "\n".join(lines) + "\n"


# -- import ------------------------------------------------------------------------------------


class _Node:
    """An element as parsed: local name, namespace, attributes, children, where it was."""

    __slots__ = ("attributes", "children", "counts", "has_text", "line", "local", "namespace")

    def __init__(
        self, local: str, namespace: str | None, attributes: dict[str, str], line: int
    ) -> None:
        self.local = local
        self.namespace = namespace
        self.attributes = attributes
        self.line = line
        self.children: list[tuple[str, _Node]] = []  # (path, node)
        self.counts: dict[str, int] = {}
        self.has_text = False


def _invalid(where: str, message: str) -> NoReturn:
    raise VssError(
        HResult.VSS_E_INVALID_XML_DOCUMENT,
        f"not a valid writer metadata document: {where}: {message}",
    )


def _refuse_dtd(*_: object) -> NoReturn:
    raise VssError(
        HResult.VSS_E_INVALID_XML_DOCUMENT,
        "refused: the document has a DOCTYPE declaration; writer metadata documents never carry "
        "a DTD, and entity declarations could expand without bound (billion laughs) or read "
        "external files",
    )


def _split(name: str) -> tuple[str | None, str]:
    namespace, _, local = name.rpartition(" ")
    return namespace or None, local


def _parse(text: str) -> tuple[str, _Node]:
    """Parse ``text`` with expat into a small tree; DTDs and entity declarations are refused."""
    # The encoding override makes expat read the UTF-8 bytes of the str whatever encoding the
    # XML declaration names (VSS hands out UTF-16 BSTRs; the text is already decoded here).
    parser = expat.ParserCreate(encoding="UTF-8", namespace_separator=" ")
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = _refuse_dtd
    parser.EntityDeclHandler = _refuse_dtd
    parser.UnparsedEntityDeclHandler = _refuse_dtd
    parser.ExternalEntityRefHandler = _refuse_dtd
    stack: list[tuple[str, _Node]] = []
    roots: list[tuple[str, _Node]] = []

    def start(name: str, attributes: dict[str, str]) -> None:
        namespace, local = _split(name)
        # Namespace-qualified attributes (xml:lang, extensions) are not the schema's: dropped.
        plain = {key: value for key, value in attributes.items() if " " not in key}
        node = _Node(local, namespace, plain, parser.CurrentLineNumber)
        if stack:
            parent_path, parent = stack[-1]
            count = parent.counts[local] = parent.counts.get(local, 0) + 1
            path = f"{parent_path}/{local}" + (f"[{count}]" if local in _REPEATED else "")
            parent.children.append((path, node))
        else:
            path = local
            roots.append((path, node))
        stack.append((path, node))

    def end(_name: str) -> None:
        stack.pop()

    def characters(data: str) -> None:
        if stack and data.strip():
            stack[-1][1].has_text = True

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = characters
    try:
        parser.Parse(text.encode("utf-8", errors="surrogatepass"), True)
    except expat.ExpatError as error:
        raise VssError(
            HResult.VSS_E_CORRUPT_XML_DOCUMENT,
            f"not well-formed XML: {expat.errors.messages[error.code]} "
            f"at line {error.lineno}, column {error.offset + 1}",
        ) from None
    return roots[0]


def _where(path: str, node: _Node, attribute: str | None = None) -> str:
    return f"{path}{'@' + attribute if attribute else ''} (line {node.line})"


def _children(path: str, node: _Node, allowed: frozenset[str]) -> list[tuple[str, _Node]]:
    """The schema children of ``node``; anything else of the schema's namespace is refused."""
    if node.has_text:
        _invalid(_where(path, node), "has text content; the schema allows only elements here")
    kept = []
    for child_path, child in node.children:
        if child.namespace not in (None, WMD_NAMESPACE):
            continue  # an extension in another namespace: not the schema's business
        if child.local not in allowed:
            expected = ", ".join(f"<{name}>" for name in sorted(allowed)) or "no child elements"
            _invalid(
                _where(child_path, child),
                f"unexpected element <{child.local}>; expected {expected}",
            )
        kept.append((child_path, child))
    return kept


def _required(path: str, node: _Node, name: str) -> str:
    value = node.attributes.get(name)
    if value is None:
        _invalid(_where(path, node, name), f"required attribute {name!r} is missing")
    return value


def _guid(path: str, node: _Node, name: str) -> uuid.UUID:
    value = _required(path, node, name)
    if not _GUID.fullmatch(value) or value.startswith("{") != value.endswith("}"):
        _invalid(
            _where(path, node, name),
            f"{value!r} is not a GUID; expected 8-4-4-4-12 hexadecimal digits "
            "such as 'a65faa63-5ea8-4ebc-9dbd-a0c4db26912a'",
        )
    return uuid.UUID(value.strip("{}"))


def _boolean(path: str, node: _Node, name: str) -> bool:
    """A ``yes``/``no`` attribute; absent is ``no``, as VSS reads it."""
    value = node.attributes.get(name, _NO)
    if value not in (_YES, _NO):
        _invalid(_where(path, node, name), f"{value!r} is not a boolean; expected 'yes' or 'no'")
    return value == _YES


def _choice(path: str, node: _Node, name: str, spellings: Mapping[_E, str]) -> _E:
    value = _required(path, node, name)
    for member, spelling in spellings.items():
        if spelling == value:
            return member
    expected = ", ".join(repr(spelling) for spelling in spellings.values())
    _invalid(_where(path, node, name), f"unknown value {value!r}; expected one of {expected}")


def _single(parent: str, found: list[tuple[str, _Node]], name: str) -> tuple[str, _Node] | None:
    matches = [entry for entry in found if entry[1].local == name]
    if len(matches) > 1:
        _invalid(_where(*matches[1]), f"<{name}> appears {len(matches)} times in {parent}")
    return matches[0] if matches else None


def _file(path: str, node: _Node) -> FileDescriptor:
    _children(path, node, _NO_CHILDREN)
    return FileDescriptor(
        path=_required(path, node, "path"),
        filespec=_required(path, node, "filespec"),
        recursive=_boolean(path, node, "recursive"),
        alternate_location=node.attributes.get("alternatePath"),
    )


def _dependency(path: str, node: _Node) -> ComponentKey:
    _children(path, node, _NO_CHILDREN)
    # Assumption: the class id is in writerId; oldWriterId is read when writerId is absent.
    has_old = "oldWriterId" in node.attributes and "writerId" not in node.attributes
    name = "oldWriterId" if has_old else "writerId"
    return ComponentKey(
        writer_class_id=_guid(path, node, name),
        logical_path=node.attributes.get("logicalPath", ""),
        name=_required(path, node, "componentName"),
    )


def _component(path: str, node: _Node) -> Component:
    files: dict[str, list[FileDescriptor]] = {tag: [] for tag in _FILE_ELEMENTS}
    dependencies = []
    for child_path, child in _children(path, node, _COMPONENT_CHILDREN):
        if child.local == "DEPENDENCY":
            dependencies.append(_dependency(child_path, child))
        else:
            files[child.local].append(_file(child_path, child))
    return Component(
        name=_required(path, node, "componentName"),
        component_type=_COMPONENT_TYPE[node.local],
        logical_path=node.attributes.get("logicalPath", ""),
        caption=node.attributes.get("caption", ""),
        selectable=_boolean(path, node, "selectable"),
        selectable_for_restore=_boolean(path, node, "selectableForRestore"),
        files=tuple(files["FILE_LIST"]),
        database_files=tuple(files["DATABASE_FILES"]),
        log_files=tuple(files["DATABASE_LOGFILES"]),
        dependencies=tuple(dependencies),
    )


def _backup_schema(path: str, node: _Node) -> BackupSchema:
    value = node.attributes.get("backupSchema", "0")
    if not _DECIMAL.fullmatch(value) or int(value) > 0xFFFFFFFF:
        _invalid(
            _where(path, node, "backupSchema"),
            f"{value!r} is not a VSS_BACKUP_SCHEMA mask; expected a decimal 32-bit number",
        )
    return BackupSchema(int(value))


def metadata_from_xml(text: str) -> WriterMetadata:
    """Read a ``WRITER_METADATA`` document, as VSS writes it, into a :class:`WriterMetadata`.

    Accepts documents with or without the ``x-schema:#VssWriterMetadataInfo`` default namespace
    and with elements in any order. Raises ``VssError(VSS_E_CORRUPT_XML_DOCUMENT)`` for text that
    is not well-formed XML and ``VssError(VSS_E_INVALID_XML_DOCUMENT)`` for a document that is
    not a writer metadata document (wrong root, missing ``IDENTIFICATION`` or required
    attribute, bad GUID, unknown enumeration value, duplicate component...) or has a DOCTYPE.
    The message names the element path, attribute and line, and what was expected.
    """
    path, root = _parse(text.removeprefix("\ufeff"))
    if root.local != "WRITER_METADATA" or root.namespace not in (None, WMD_NAMESPACE):
        foreign = root.namespace not in (None, WMD_NAMESPACE)
        found = f"{{{root.namespace}}}{root.local}" if foreign else root.local
        _invalid(
            _where(path, root),
            f"the root element is <{found}>; expected <WRITER_METADATA> "
            f"(in namespace {WMD_NAMESPACE!r} or none)",
        )
    sections = _children(path, root, _ROOT_CHILDREN)
    entry = _single(path, sections, "IDENTIFICATION")
    if entry is None:
        _invalid(_where(path, root), "the required <IDENTIFICATION> element is missing")
    id_path, identification = entry
    _children(id_path, identification, _NO_CHILDREN)
    writer_class_id = _guid(id_path, identification, "writerId")
    writer_instance_id = _guid(id_path, identification, "instanceId")
    writer_name = _required(id_path, identification, "friendlyName")
    usage_type = _choice(id_path, identification, "usage", _USAGE)
    source_type = _choice(id_path, identification, "dataSource", _SOURCE)
    backup_schema = _backup_schema(path, root)

    restore_method, writer_restore = RestoreMethod.UNDEFINED, WriterRestore.UNDEFINED
    service, reboot = "", False
    entry = _single(path, sections, "RESTORE_METHOD")
    if entry is not None:
        rm_path, rm = entry
        for mapping_path, mapping in _children(rm_path, rm, _RESTORE_CHILDREN):
            _children(mapping_path, mapping, _NO_CHILDREN)
        restore_method = _choice(rm_path, rm, "method", _METHOD)
        service = rm.attributes.get("service", "")
        if "writerRestore" in rm.attributes:
            writer_restore = _choice(rm_path, rm, "writerRestore", _WRITER_RESTORE)
        reboot = _boolean(rm_path, rm, "rebootRequired")

    components: list[Component] = []
    excluded: list[FileDescriptor] = []
    seen: dict[tuple[str, str], str] = {}
    entry = _single(path, sections, "BACKUP_LOCATIONS")
    if entry is not None:
        for child_path, child in _children(*entry, _LOCATION_CHILDREN):
            if child.local in _COMPONENT_TYPE:
                component = _component(child_path, child)
                key = (component.logical_path.upper(), component.name.upper())
                if key in seen:
                    _invalid(
                        _where(child_path, child),
                        f"component {component.full_path!r} is declared twice "
                        f"(first at {seen[key]})",
                    )
                seen[key] = child_path
                components.append(component)
            elif child.local == "EXCLUDE_FILES":
                excluded.append(_file(child_path, child))
            else:  # INCLUDE_FILES, EXCLUDE_FILES_FROM_SNAPSHOT: in the schema, not in the model
                _children(child_path, child, _NO_CHILDREN)

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
    )
