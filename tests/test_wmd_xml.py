"""Writer Metadata Document XML: round trips, documents as Windows writes them, refusals."""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vsssim.errors import HResult, VssError
from vsssim.host.demo import build_demo_world
from vsssim.vss.constants import (
    BackupSchema,
    ComponentType,
    RestoreMethod,
    SourceType,
    UsageType,
    WriterRestore,
)
from vsssim.vss.documents.wmd_xml import WMD_NAMESPACE, metadata_from_xml, metadata_to_xml
from vsssim.vss.metadata import (
    AlternateLocationMapping,
    Component,
    ComponentKey,
    FileDescriptor,
    WriterMetadata,
)

CORRUPT = HResult.VSS_E_CORRUPT_XML_DOCUMENT
INVALID = HResult.VSS_E_INVALID_XML_DOCUMENT
SQL_ID = uuid.UUID("a65faa63-5ea8-4ebc-9dbd-a0c4db26912a")
REGISTRY_ID = uuid.UUID("afbab4a2-367d-4d15-a586-71dbb18f8485")


def _refused(text: str, hresult: HResult) -> str:
    """Import ``text``, expect a VssError with ``hresult``, return its message."""
    with pytest.raises(VssError) as caught:
        metadata_from_xml(text)
    assert caught.value.hresult == hresult, caught.value
    return caught.value.message


# -- round trips -------------------------------------------------------------------------------


def test_every_demo_writer_round_trips() -> None:
    writers = build_demo_world().coordinator.writers
    assert {w.name for w in writers} >= {
        "System Writer",
        "Registry Writer",
        "COM+ REGDB Writer",
        "WMI Writer",
        "Task Scheduler Writer",
        "SqlServerWriter",
        "DFS Replication service writer",
    }
    for writer in writers:
        text = metadata_to_xml(writer.metadata)
        assert metadata_from_xml(text) == writer.metadata, writer.name
        assert metadata_to_xml(metadata_from_xml(text)) == text  # stable output
        root = ET.fromstring(text)  # an independent parser reads it too (our own output)
        assert root.tag == f"{{{WMD_NAMESPACE}}}WRITER_METADATA"
        identification = root.find(f"{{{WMD_NAMESPACE}}}IDENTIFICATION")
        assert identification is not None
        assert identification.get("friendlyName") == writer.name
        assert uuid.UUID(identification.get("writerId", "")) == writer.class_id


def test_output_format_is_exact() -> None:
    metadata = WriterMetadata(
        writer_class_id=SQL_ID,
        writer_instance_id=uuid.UUID("dd8d6255-b3bb-4ec1-8249-73cd75c0ee21"),
        writer_name='Tom & "Jerry" <db>',
        instance_name="SQL:W",
        usage_type=UsageType.USERDATA,
        source_type=SourceType.TRANSACTEDDB,
        backup_schema=BackupSchema.DIFFERENTIAL | BackupSchema.COPY,
        restore_method=RestoreMethod.STOP_RESTORE_START,
        restore_service="MSSQLSERVER",
        writer_restore=WriterRestore.IF_REPLACE_FAILS,
        reboot_required=True,
        excluded_files=(FileDescriptor("C:\\Tmp", "*.tmp", recursive=True),),
        components=(
            Component(
                "Db",
                component_type=ComponentType.DATABASE,
                logical_path="Inst",
                caption="line1\nline2\ttab",
                selectable=False,
                database_files=(FileDescriptor("D:\\Data", "Db.mdf", alternate_path="X:\\"),),
                log_files=(FileDescriptor("L:\\Logs", "Db.ldf"),),
                dependencies=(ComponentKey(REGISTRY_ID, "", "Registry"),),
            ),
            Component("Empty"),
        ),
    )
    expected = (
        '<WRITER_METADATA xmlns="x-schema:#VssWriterMetadataInfo" version="1.2" '
        'backupSchema="17">\n'
        '  <IDENTIFICATION writerId="a65faa63-5ea8-4ebc-9dbd-a0c4db26912a" '
        'instanceId="dd8d6255-b3bb-4ec1-8249-73cd75c0ee21" instanceName="SQL:W" '
        'friendlyName="Tom &amp; &quot;Jerry&quot; &lt;db&gt;" usage="USER_DATA" '
        'dataSource="TRANSACTION_DB" majorVersion="0" minorVersion="0"/>\n'
        '  <RESTORE_METHOD method="STOP_RESTART_SERVICE" service="MSSQLSERVER" '
        'writerRestore="ifReplaceFails" rebootRequired="yes"/>\n'
        "  <BACKUP_LOCATIONS>\n"
        '    <DATABASE logicalPath="Inst" componentName="Db" caption="line1&#10;line2&#9;tab" '
        'restoreMetadata="no" notifyOnBackupComplete="no" selectable="no" '
        'selectableForRestore="yes" componentFlags="0">\n'
        '      <DATABASE_FILES path="D:\\Data" filespec="Db.mdf" recursive="no" '
        'alternatePath="X:\\" filespecBackupType="3855"/>\n'
        '      <DATABASE_LOGFILES path="L:\\Logs" filespec="Db.ldf" recursive="no" '
        'filespecBackupType="3855"/>\n'
        '      <DEPENDENCY writerId="afbab4a2-367d-4d15-a586-71dbb18f8485" '
        'componentName="Registry"/>\n'
        "    </DATABASE>\n"
        '    <FILE_GROUP componentName="Empty" restoreMetadata="no" notifyOnBackupComplete="no" '
        'selectable="yes" selectableForRestore="yes" componentFlags="0"/>\n'
        '    <EXCLUDE_FILES path="C:\\Tmp" filespec="*.tmp" recursive="yes"/>\n'
        "  </BACKUP_LOCATIONS>\n"
        "</WRITER_METADATA>\n"
    )
    assert metadata_to_xml(metadata) == expected
    assert metadata_from_xml(expected) == metadata


# Text XML 1.0 can carry, with the characters that need escaping drawn often.
_CHARS = st.one_of(
    st.sampled_from(list("&<>\"'\\ \t\n\r]")),
    st.characters(exclude_categories=("Cs", "Cc", "Cn")),
)
_TEXT = st.text(_CHARS, max_size=6)
_FILES = st.lists(
    st.builds(
        FileDescriptor,
        path=_TEXT,
        filespec=_TEXT,
        recursive=st.booleans(),
        alternate_path=st.none() | _TEXT,
    ),
    max_size=2,
).map(tuple)
_COMPONENTS = st.builds(
    Component,
    name=_TEXT,
    component_type=st.sampled_from([ComponentType.DATABASE, ComponentType.FILEGROUP]),
    logical_path=_TEXT,
    caption=_TEXT,
    selectable=st.booleans(),
    selectable_for_restore=st.booleans(),
    files=_FILES,
    database_files=_FILES,
    log_files=_FILES,
    dependencies=st.lists(
        st.builds(ComponentKey, writer_class_id=st.uuids(), logical_path=_TEXT, name=_TEXT),
        max_size=2,
    ).map(tuple),
)


@st.composite
def representable_metadata(draw: st.DrawFn) -> WriterMetadata:
    """Any metadata the format can express (defined usage, source and component types; a
    restore condition only with a restore method)."""
    method = draw(st.sampled_from(list(RestoreMethod)))
    restore = (WriterRestore.UNDEFINED, "", False)
    mappings: tuple[AlternateLocationMapping, ...] = ()
    if method != RestoreMethod.UNDEFINED:
        restore = (draw(st.sampled_from(list(WriterRestore))), draw(_TEXT), draw(st.booleans()))
        mapping = st.builds(AlternateLocationMapping, _TEXT, _TEXT, st.booleans(), _TEXT)
        mappings = tuple(draw(st.lists(mapping, max_size=2)))
    return WriterMetadata(
        writer_class_id=draw(st.uuids()),
        writer_instance_id=draw(st.uuids()),
        writer_name=draw(_TEXT),
        instance_name=draw(_TEXT),
        usage_type=draw(st.sampled_from([u for u in UsageType if u != UsageType.UNDEFINED])),
        source_type=draw(st.sampled_from([s for s in SourceType if s != SourceType.UNDEFINED])),
        backup_schema=BackupSchema(draw(st.sampled_from([0, 17, 881]) | st.integers(0, 2**32 - 1))),
        restore_method=method,
        writer_restore=restore[0],
        restore_service=restore[1],
        reboot_required=restore[2],
        excluded_files=draw(_FILES),
        components=tuple(
            draw(
                st.lists(
                    _COMPONENTS,
                    max_size=3,
                    unique_by=lambda c: (c.logical_path.upper(), c.name.upper()),
                )
            )
        ),
        alternate_location_mappings=mappings,
    )


@settings(max_examples=60, deadline=None)
@given(representable_metadata())
def test_round_trip_property(metadata: WriterMetadata) -> None:
    text = metadata_to_xml(metadata)
    assert metadata_from_xml(text) == metadata
    assert metadata_to_xml(metadata) == text  # deterministic


# -- documents as Windows writes them ----------------------------------------------------------

# In the layout diskshadow saves (WM<n>.xml): upper-case GUIDs, elements in Windows' order and
# out of it, attributes and elements the model does not keep, FILE_LIST without `recursive`, a
# literal line break in an attribute (a parser turns it into a space).
WINDOWS_SQL_DOCUMENT = """<?xml version="1.0" encoding="UTF-16"?>
<WRITER_METADATA xmlns="x-schema:#VssWriterMetadataInfo" version="1.2" backupSchema="881">
\t<IDENTIFICATION writerId="A65FAA63-5EA8-4EBC-9DBD-A0C4DB26912A"
\t\tinstanceId="0f5e1e2d-3c4b-4a59-8687-96a5b4c3d2e1" instanceName="SQL Server 2019:SQLWriter"
\t\tfriendlyName="SqlServerWriter" usage="USER_DATA" dataSource="TRANSACTION_DB"
\t\tmajorVersion="1" minorVersion="4"/>
\t<BACKUP_LOCATIONS>
\t\t<!-- one component per database -->
\t\t<FILE_GROUP logicalPath="SQL01" componentName="Sales" caption="Sales
database" restoreMetadata="no" notifyOnBackupComplete="yes" selectable="yes"
\t\t\tselectableForRestore="yes" componentFlags="2" icon="">
\t\t\t<FILE_LIST path="D:\\MSSQL\\DATA" filespec="Sales.mdf" filespecBackupType="3855"/>
\t\t\t<FILE_LIST path="L:\\MSSQL\\LOG" filespec="Sales_log.ldf" recursive="yes"
\t\t\t\tfilespecBackupType="3855"/>
\t\t</FILE_GROUP>
\t\t<EXCLUDE_FILES path="D:\\MSSQL\\DATA" filespec="Scratch.mdf" recursive="no"/>
\t\t<EXCLUDE_FILES_FROM_SNAPSHOT path="D:\\Temp" filespec="*" recursive="yes"/>
\t\t<INCLUDE_FILES path="D:\\Extra" filespec="*.cfg" recursive="no"/>
\t\t<DATABASE logicalPath="C:_Windows_NTDS" componentName="ntds" caption=""
\t\t\trestoreMetadata="no" notifyOnBackupComplete="no" selectable="no"
\t\t\tselectableForRestore="no" componentFlags="3">
\t\t\t<DATABASE_FILES path="C:\\Windows\\NTDS" filespec="ntds.dit" filespecBackupType="3855"/>
\t\t\t<DATABASE_LOGFILES path="C:\\Windows\\NTDS" filespec="edb*.log"
\t\t\t\tfilespecBackupType="3855"/>
\t\t\t<DEPENDENCY writerId="afbab4a2-367d-4d15-a586-71dbb18f8485" componentName="Registry"/>
\t\t</DATABASE>
\t</BACKUP_LOCATIONS>
\t<RESTORE_METHOD method="RESTORE_IF_CAN_BE_REPLACED" service="" userProcedure=""
\t\twriterRestore="always" rebootRequired="no">
\t\t<ALTERNATE_LOCATION_MAPPING path="D:\\MSSQL" filespec="*" recursive="no"
\t\t\talternatePath="E:\\Restore"/>
\t</RESTORE_METHOD>
</WRITER_METADATA>
"""


def test_windows_document_imports_with_exact_fields() -> None:
    metadata = metadata_from_xml(WINDOWS_SQL_DOCUMENT)
    assert metadata.writer_class_id == SQL_ID
    assert metadata.writer_instance_id == uuid.UUID("0f5e1e2d-3c4b-4a59-8687-96a5b4c3d2e1")
    assert metadata.writer_name == "SqlServerWriter"
    assert metadata.instance_name == "SQL Server 2019:SQLWriter"
    assert metadata.usage_type is UsageType.USERDATA
    assert metadata.source_type is SourceType.TRANSACTEDDB
    assert metadata.backup_schema == (
        BackupSchema.DIFFERENTIAL
        | BackupSchema.COPY
        | BackupSchema.TIMESTAMPED
        | BackupSchema.LAST_MODIFY
        | BackupSchema.WRITER_SUPPORTS_NEW_TARGET
        | BackupSchema.WRITER_SUPPORTS_RESTORE_WITH_MOVE
    )
    assert metadata.restore_method is RestoreMethod.RESTORE_IF_CAN_REPLACE
    assert metadata.restore_service == ""
    assert metadata.writer_restore is WriterRestore.ALWAYS
    assert metadata.reboot_required is False
    assert metadata.excluded_files == (FileDescriptor("D:\\MSSQL\\DATA", "Scratch.mdf"),)
    assert metadata.components == (
        Component(
            name="Sales",
            component_type=ComponentType.FILEGROUP,
            logical_path="SQL01",
            caption="Sales database",  # the literal line break, normalised by the parser
            selectable=True,
            selectable_for_restore=True,
            files=(
                FileDescriptor("D:\\MSSQL\\DATA", "Sales.mdf", recursive=False),
                FileDescriptor("L:\\MSSQL\\LOG", "Sales_log.ldf", recursive=True),
            ),
        ),
        Component(
            name="ntds",
            component_type=ComponentType.DATABASE,
            logical_path="C:_Windows_NTDS",
            caption="",
            selectable=False,
            selectable_for_restore=False,
            database_files=(FileDescriptor("C:\\Windows\\NTDS", "ntds.dit"),),
            log_files=(FileDescriptor("C:\\Windows\\NTDS", "edb*.log"),),
            dependencies=(ComponentKey(REGISTRY_ID, "", "Registry"),),
        ),
    )
    # The restore mapping is where files go back to, not where any file spec is backed up from.
    assert metadata.alternate_location_mappings == (
        AlternateLocationMapping("D:\\MSSQL", "*", False, "E:\\Restore"),
    )
    assert all(fd.alternate_path is None for c in metadata.components for fd in c.all_files)
    # What the model keeps survives a second trip through the writer's own format.
    assert metadata_from_xml(metadata_to_xml(metadata)) == metadata


def test_writer_without_restore_method_or_components() -> None:
    # As the BITS writer reports itself: no RESTORE_METHOD, exclusions only, no namespace here.
    metadata = metadata_from_xml(
        '<WRITER_METADATA><IDENTIFICATION writerId="4969d978-be47-48b0-b100-f328f07ac1e0" '
        'instanceId="{11111111-2222-3333-4444-555555555555}" friendlyName="BITS Writer" '
        'usage="SYSTEM_SERVICE" dataSource="OTHER"/><BACKUP_LOCATIONS>'
        '<EXCLUDE_FILES path="C:\\ProgramData\\Downloader\\" filespec="*" recursive="yes"/>'
        "</BACKUP_LOCATIONS></WRITER_METADATA>"
    )
    assert metadata.writer_instance_id == uuid.UUID("11111111-2222-3333-4444-555555555555")
    assert metadata.usage_type is UsageType.SYSTEMSERVICE
    assert metadata.restore_method is RestoreMethod.UNDEFINED
    assert metadata.writer_restore is WriterRestore.UNDEFINED
    assert metadata.backup_schema == BackupSchema.UNDEFINED
    assert metadata.components == ()
    assert metadata.excluded_files == (
        FileDescriptor("C:\\ProgramData\\Downloader\\", "*", recursive=True),
    )
    text = metadata_to_xml(metadata)
    assert "RESTORE_METHOD" not in text
    assert metadata_from_xml(text) == metadata


def test_dependency_class_id_may_come_as_old_writer_id() -> None:
    text = WINDOWS_SQL_DOCUMENT.replace('<DEPENDENCY writerId="', '<DEPENDENCY oldWriterId="')
    (dependency,) = metadata_from_xml(text).components[1].dependencies
    assert dependency == ComponentKey(REGISTRY_ID, "", "Registry")


def test_foreign_namespace_extensions_are_ignored() -> None:
    text = WINDOWS_SQL_DOCUMENT.replace(
        "<BACKUP_LOCATIONS>",
        '<ext:VENDOR xmlns:ext="urn:example:vendor" ext:note="x"><ext:ANY/></ext:VENDOR>'
        "<BACKUP_LOCATIONS>",
    )
    assert metadata_from_xml(text) == metadata_from_xml(WINDOWS_SQL_DOCUMENT)


# -- refusals ----------------------------------------------------------------------------------

IDENTIFICATION = (
    '<IDENTIFICATION writerId="a65faa63-5ea8-4ebc-9dbd-a0c4db26912a" '
    'instanceId="dd8d6255-b3bb-4ec1-8249-73cd75c0ee21" friendlyName="W" usage="USER_DATA" '
    'dataSource="OTHER"/>'
)


def _document(body: str = IDENTIFICATION, root: str = "WRITER_METADATA") -> str:
    return f'<{root} xmlns="{WMD_NAMESPACE}" version="1.2">{body}</{root}>'


@pytest.mark.parametrize(
    ("text", "needles"),
    [
        ("<WRITER_METADATA><IDENTIFICATION></WRITER_METADATA>", ["mismatched tag", "line 1"]),
        ("", ["no element found"]),
        ("<WRITER_METADATA/>trailing", ["junk after document element"]),
        ('<WRITER_METADATA a="1" a="2"/>', ["duplicate attribute"]),
        ("<WRITER_METADATA>&undeclared;</WRITER_METADATA>", ["undefined entity"]),
    ],
)
def test_malformed_xml_is_corrupt(text: str, needles: list[str]) -> None:
    message = _refused(text, CORRUPT)
    assert "not well-formed" in message
    for needle in needles:
        assert needle in message


@pytest.mark.parametrize(
    ("text", "needles"),
    [
        (_document(root="BACKUP_COMPONENTS"), ["<BACKUP_COMPONENTS>", "<WRITER_METADATA>"]),
        (
            '<WRITER_METADATA xmlns="urn:other"/>',
            ["{urn:other}WRITER_METADATA", WMD_NAMESPACE],
        ),
        (_document(""), ["<IDENTIFICATION>", "missing"]),
        (
            _document(IDENTIFICATION.replace(str(SQL_ID), "not-a-guid")),
            ["WRITER_METADATA/IDENTIFICATION@writerId", "'not-a-guid'", "8-4-4-4-12"],
        ),
        (
            _document(IDENTIFICATION.replace(f'writerId="{SQL_ID}" ', "")),
            ["WRITER_METADATA/IDENTIFICATION@writerId", "required attribute 'writerId'"],
        ),
        (
            _document(IDENTIFICATION.replace('usage="USER_DATA"', 'usage="USERDATA"')),
            ["IDENTIFICATION@usage", "'USERDATA'", "'USER_DATA'", "'BOOTABLE_SYSTEM_STATE'"],
        ),
        (
            _document(IDENTIFICATION.replace('dataSource="OTHER"', 'dataSource="TRANSACTED_DB"')),
            ["IDENTIFICATION@dataSource", "'TRANSACTED_DB'", "'TRANSACTION_DB'"],
        ),
        (
            _document(IDENTIFICATION + IDENTIFICATION),
            ["<IDENTIFICATION> appears 2 times"],
        ),
        (
            _document(IDENTIFICATION + '<RESTORE_METHOD method="RESTORE_LATER"/>'),
            ["RESTORE_METHOD@method", "'RESTORE_LATER'", "'REPLACE_AT_REBOOT'"],
        ),
        (
            _document(
                IDENTIFICATION + '<RESTORE_METHOD method="CUSTOM" writerRestore="sometimes"/>'
            ),
            ["RESTORE_METHOD@writerRestore", "'sometimes'", "'ifReplaceFails'"],
        ),
        (
            _document(
                IDENTIFICATION
                + '<BACKUP_LOCATIONS><FILE_GROUP componentName="A"/>'
                + '<FILE_GROUP componentName="B" selectable="true"/></BACKUP_LOCATIONS>'
            ),
            ["BACKUP_LOCATIONS/FILE_GROUP[2]@selectable", "'true'", "'yes' or 'no'"],
        ),
        (
            _document(
                IDENTIFICATION
                + '<BACKUP_LOCATIONS><FILE_GROUP componentName="A">'
                + '<FILE_LIST path="C:\\" filespec="*"/><FILE_LIST path="C:\\"/>'
                + "</FILE_GROUP></BACKUP_LOCATIONS>"
            ),
            ["FILE_GROUP[1]/FILE_LIST[2]@filespec", "required attribute 'filespec'"],
        ),
        (
            _document(IDENTIFICATION + "<BACKUP_LOCATIONS><FILE_GRUOP/></BACKUP_LOCATIONS>"),
            ["unexpected element <FILE_GRUOP>", "<FILE_GROUP>", "<DATABASE>"],
        ),
        (
            _document(
                IDENTIFICATION
                + '<BACKUP_LOCATIONS><FILE_GROUP logicalPath="p" componentName="C"/>'
                + '<DATABASE logicalPath="P" componentName="c"/></BACKUP_LOCATIONS>'
            ),
            ["BACKUP_LOCATIONS/DATABASE[1]", "'P\\\\c' is declared twice", "FILE_GROUP[1]"],
        ),
        (
            _document(
                IDENTIFICATION
                + '<BACKUP_LOCATIONS><FILE_GROUP componentName="C">'
                + '<DEPENDENCY writerId="{afbab4a2-367d-4d15-a586-71dbb18f8485" componentName="R"/>'
                + "</FILE_GROUP></BACKUP_LOCATIONS>"
            ),
            ["FILE_GROUP[1]/DEPENDENCY[1]@writerId", "is not a GUID"],
        ),
        (
            _document(IDENTIFICATION).replace('version="1.2"', 'backupSchema="0x371"'),
            ["WRITER_METADATA@backupSchema", "'0x371'", "decimal"],
        ),
        (
            _document(IDENTIFICATION + "text"),
            ["WRITER_METADATA (line 1)", "text content"],
        ),
    ],
)
def test_invalid_documents_name_what_is_wrong(text: str, needles: list[str]) -> None:
    message = _refused(text, INVALID)
    for needle in needles:
        assert needle in message, message


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE WRITER_METADATA [
  <!ENTITY lol "lol">
  <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
  <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
  <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
  <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
  <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
  <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<WRITER_METADATA><IDENTIFICATION writerId="a65faa63-5ea8-4ebc-9dbd-a0c4db26912a"
 instanceId="dd8d6255-b3bb-4ec1-8249-73cd75c0ee21" friendlyName="&lol9;" usage="USER_DATA"
 dataSource="OTHER"/></WRITER_METADATA>
"""


def test_billion_laughs_is_refused() -> None:
    message = _refused(BILLION_LAUGHS, INVALID)
    assert "DOCTYPE" in message
    assert "lol" not in message


def test_external_entities_are_refused_unread(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-MARKER")
    inline = f'<!DOCTYPE WRITER_METADATA [<!ENTITY xxe SYSTEM "{secret.as_uri()}">]>' + _document(
        IDENTIFICATION.replace('friendlyName="W"', 'friendlyName="&xxe;"')
    )
    external_dtd = f'<!DOCTYPE WRITER_METADATA SYSTEM "{secret.as_uri()}">' + _document()
    parameter = (
        f'<!DOCTYPE WRITER_METADATA [<!ENTITY % p SYSTEM "{secret.as_uri()}"> %p;]>' + _document()
    )
    for text in (inline, external_dtd, parameter):
        message = _refused(text, INVALID)
        assert "DOCTYPE" in message
        assert "TOP-SECRET-MARKER" not in message


# -- what the format cannot express ------------------------------------------------------------

BASE = WriterMetadata(
    writer_class_id=SQL_ID,
    writer_instance_id=uuid.uuid5(SQL_ID, "instance"),
    writer_name="W",
    components=(Component("C"),),
)


@pytest.mark.parametrize(
    ("changes", "needles"),
    [
        ({"usage_type": UsageType.UNDEFINED}, ["VSS_UT_UNDEFINED"]),
        ({"source_type": SourceType.UNDEFINED}, ["VSS_ST_UNDEFINED"]),
        (
            {"components": (Component("C", component_type=ComponentType.UNDEFINED),)},
            ["component 'C'", "VSS_CT_UNDEFINED"],
        ),
        ({"writer_name": "bell\x07"}, ["writer name", "U+0007"]),
        (
            {"components": (Component("C", files=(FileDescriptor("D:\\", "a\ud800"),)),)},
            ["FILE_LIST filespec", "U+D800"],
        ),
        (
            {"restore_method": RestoreMethod.UNDEFINED, "reboot_required": True},
            ["VSS_RME_UNDEFINED", "reboot"],
        ),
    ],
)
def test_unrepresentable_metadata_is_refused(changes: dict[str, Any], needles: list[str]) -> None:
    metadata = attrs.evolve(BASE, **changes)
    with pytest.raises(VssError) as caught:
        metadata_to_xml(metadata)
    assert caught.value.hresult == HResult.E_INVALIDARG
    for needle in needles:
        assert needle in caught.value.message, caught.value.message
