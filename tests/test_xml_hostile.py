"""Both XML readers against hostile input: limits, encodings, odd XML, mutated documents.

Every outcome is a value or one ``VssError`` with ``VSS_E_CORRUPT_XML_DOCUMENT`` (not
well-formed) or ``VSS_E_INVALID_XML_DOCUMENT`` (not the document, or past a limit) and a
one-line message; anything but text is ``E_INVALIDARG``. Memory stays linear in the input.
"""

from __future__ import annotations

import re
import tracemalloc
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.test_backup_document import any_documents
from tests.test_wmd_xml import representable_metadata
from vsssim.errors import HResult, VssError
from vsssim.vss.constants import ComponentType, SourceType, UsageType
from vsssim.vss.documents.backup_document import (
    BackedUpComponent,
    BackupComponentsDocument,
    XmlLimits,
    document_from_xml,
    document_to_xml,
)
from vsssim.vss.documents.wmd_xml import metadata_from_xml, metadata_to_xml
from vsssim.vss.metadata import Component, FileDescriptor, WriterMetadata

CORRUPT = HResult.VSS_E_CORRUPT_XML_DOCUMENT
INVALID = HResult.VSS_E_INVALID_XML_DOCUMENT
#: Longest message a refusal may have: one line, values and paths cut.
MESSAGE_LIMIT = 1000
Reader = Callable[..., Any]
READERS: dict[str, Reader] = {"wmd": metadata_from_xml, "bcd": document_from_xml}
#: A minimal valid document of each kind, with ``{inner}`` where elements may go in the root.
SKELETONS = {
    "wmd": (
        '<WRITER_METADATA xmlns="x-schema:#VssWriterMetadataInfo" xmlns:x="urn:x">'
        '<IDENTIFICATION writerId="a65faa63-5ea8-4ebc-9dbd-a0c4db26912a" '
        'instanceId="a65faa63-5ea8-4ebc-9dbd-a0c4db26912b" friendlyName="W" '
        'usage="USER_DATA" dataSource="OTHER"/>{inner}</WRITER_METADATA>'
    ),
    "bcd": (
        '<BACKUP_COMPONENTS xmlns="x-schema:#VssComponentMetadata" xmlns:x="urn:x" '
        'backupType="full">{inner}</BACKUP_COMPONENTS>'
    ),
}


def _refusal(read: Reader, text: object, hresult: HResult = INVALID) -> str:
    """Read ``text``, expect one VssError with ``hresult`` and a one-line message; return it."""
    with pytest.raises(VssError) as caught:
        read(text)
    error = caught.value
    assert error.hresult == hresult, error
    assert "\n" not in error.message and len(error.message) < MESSAGE_LIMIT, error.message
    return error.message


def _outcome(read: Reader, text: object) -> Any:
    """The value read, or None for a refusal that is one of the two XML HRESULTs, one line."""
    try:
        return read(text)
    except VssError as error:
        assert error.hresult in (CORRUPT, INVALID), error
        assert "\n" not in error.message and len(error.message) < MESSAGE_LIMIT, error.message
        return None


def _peak(read: Reader, text: object) -> int:
    """Peak traced memory (bytes) of reading ``text``, outcome checked as :func:`_outcome`."""
    tracemalloc.start()
    try:
        _outcome(read, text)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _nested(kind: str, depth: int) -> str:
    return SKELETONS[kind].format(inner="<x:e>" * depth + "</x:e>" * depth)


# -- limits ------------------------------------------------------------------------------------

_DEFAULT = XmlLimits()
_PAST_LIMITS = {
    "depth": "<x:e>" * _DEFAULT.depth + "</x:e>" * _DEFAULT.depth,
    "attributes": "<x:e " + " ".join(f'a{n}=""' for n in range(_DEFAULT.attributes + 1)) + "/>",
    "attribute_length": f'<x:e a="{"v" * (_DEFAULT.attribute_length + 1)}"/>',
    "name_length": f"<x:{'n' * _DEFAULT.name_length}/>",
    "text_length": f"<x:e>{'t' * (_DEFAULT.text_length + 1)}</x:e>",
    "elements": "<x:e/>" * _DEFAULT.elements,
}


@pytest.mark.parametrize("kind", sorted(READERS))
@pytest.mark.parametrize("limit", sorted(_PAST_LIMITS))
def test_each_limit_is_refused_naming_it_and_where(kind: str, limit: str) -> None:
    message = _refusal(READERS[kind], SKELETONS[kind].format(inner=_PAST_LIMITS[limit]))
    assert f"(XmlLimits.{limit})" in message
    assert "(line 1)" in message


@pytest.mark.parametrize("kind", sorted(READERS))
def test_documents_at_the_limits_are_read(kind: str) -> None:
    limits = XmlLimits(depth=8, attributes=5, attribute_length=40, name_length=60, elements=10)
    inner = f'<x:e a="{"v" * 40}" b="" c="" d="" e="">' + "<x:e>" * 6 + "</x:e>" * 7 + "<x:e/>"
    assert READERS[kind](SKELETONS[kind].format(inner=inner), limits=limits) is not None
    message = _refusal(lambda text: READERS[kind](text, limits=limits), _nested(kind, 8))
    assert "elements nest more than 8 deep" in message and "(XmlLimits.depth)" in message


@pytest.mark.parametrize("kind", sorted(READERS))
def test_the_document_size_is_checked_before_parsing(kind: str) -> None:
    limits = XmlLimits(document_bytes=100)
    text = SKELETONS[kind].format(inner=" " * 200)
    for given_as in (text, text.encode("utf-8"), "é" * 60):
        message = _refusal(lambda t: READERS[kind](t, limits=limits), given_as)
        assert "exceed the size limit of 100 bytes (XmlLimits.document_bytes)" in message


def test_a_long_path_is_cut_in_the_message() -> None:
    name = "n" * 500
    inner = f"<x:{name}>" * 3 + f"<x:{name} a='{'v' * 2000}'>" + f"</x:{name}>" * 4
    limits = XmlLimits(attribute_length=1000)
    message = _refusal(
        lambda t: metadata_from_xml(t, limits=limits), SKELETONS["wmd"].format(inner=inner)
    )
    assert message.startswith("not a valid writer metadata document: WRITER_METADATA/nnn")
    assert "nnn...nnn" in message and message.endswith("(XmlLimits.attribute_length)")


@pytest.mark.parametrize("bad", [0, -1, True, 2.5, "64", None])
def test_limits_must_be_positive_integers(bad: object) -> None:
    with pytest.raises(VssError) as caught:
        XmlLimits(depth=bad)  # type: ignore[arg-type]
    assert caught.value.hresult == HResult.E_INVALIDARG
    assert "XmlLimits.depth" in caught.value.message


def _sql_server(databases: int) -> WriterMetadata:
    """A SQL Server writer as a big instance declares it: per database, data and log files."""
    return WriterMetadata(
        writer_class_id=uuid.UUID("a65faa63-5ea8-4ebc-9dbd-a0c4db26912a"),
        writer_instance_id=uuid.UUID(int=7),
        writer_name="SqlServerWriter",
        usage_type=UsageType.USERDATA,
        source_type=SourceType.TRANSACTEDDB,
        components=tuple(
            Component(
                f"Database{n:04}",
                ComponentType.DATABASE,
                logical_path="SQLSRV01\\PRODUCTION",
                caption=f"Production database {n}",
                database_files=(
                    FileDescriptor(f"D:\\SQLData\\Database{n:04}\\", f"Database{n:04}.mdf"),
                    FileDescriptor(f"D:\\SQLData\\Database{n:04}\\", f"Database{n:04}_2.ndf"),
                ),
                log_files=(FileDescriptor("L:\\SQLLogs\\", f"Database{n:04}_log.ldf"),),
            )
            for n in range(databases)
        ),
    )


def test_a_sql_server_with_two_thousand_databases_is_read() -> None:
    metadata = _sql_server(2000)
    text = metadata_to_xml(metadata)
    assert len(text) > 1_000_000  # a big real document, well within the limits
    assert metadata_from_xml(text) == metadata
    assert metadata_from_xml(text.encode("utf-16")) == metadata  # as a Windows tool saves it


def test_a_backup_of_two_thousand_components_is_read() -> None:
    document = BackupComponentsDocument(
        snapshot_set_id=uuid.UUID(int=1),
        components=tuple(
            BackedUpComponent(
                uuid.UUID(int=2),
                uuid.UUID(int=3),
                "SqlServerWriter",
                "SQLSRV01",
                f"Database{n}",
                ComponentType.DATABASE,
                backup_succeeded=True,
                files=(f"D:\\SQLData\\Database{n}.mdf", f"L:\\SQLLogs\\Database{n}_log.ldf"),
                backup_stamp=f"stamp-{n}",
            )
            for n in range(2000)
        ),
    )
    assert document_from_xml(document_to_xml(document)) == document


# -- memory ------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(READERS))
def test_deep_nesting_is_refused_early_in_little_memory(kind: str) -> None:
    text = _nested(kind, 20_000)  # the 3.4 GB case of 700 KB, before the limits
    assert _peak(READERS[kind], text) < 3 * len(text)


def test_a_megabyte_document_peaks_under_thirty_megabytes() -> None:
    text = metadata_to_xml(_sql_server(1700))
    assert 1_000_000 < len(text) < 1_100_000
    assert _peak(metadata_from_xml, text) < 30 * 2**20


@pytest.mark.parametrize(
    ("kind", "inner"),
    [
        ("wmd", "<x:e/>" * 20_000),  # the smallest elements: the most nodes per byte
        ("bcd", "<x:e a='1' b='2' c='3'/>" * 8_000),
        ("wmd", f'<x:e a="{"v" * 1_000_000}"/>'),
        ("bcd", "<x:e>" + "t" * 60_000 + "</x:e>"),
        ("wmd", "<x:e>" + "t\n" * 300_000 + "</x:e>"),  # refused at the text limit
        ("bcd", "<x:e>" * 20_000),  # refused at the depth limit
    ],
    ids=["wide", "attributes", "value", "text", "lines", "unclosed"],
)
def test_memory_is_linear_in_the_input(kind: str, inner: str) -> None:
    text = SKELETONS[kind].format(inner=inner)
    assert _peak(READERS[kind], text) < 30 * len(text) + 2**20


# -- input types and encodings -----------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(READERS))
@pytest.mark.parametrize("bad", [None, 7, 1.5, ["<a/>"], {"a": 1}, memoryview(b"<a/>")])
def test_anything_but_text_is_an_invalid_argument(kind: str, bad: object) -> None:
    message = _refusal(READERS[kind], bad, HResult.E_INVALIDARG)
    assert type(bad).__name__ in message


@pytest.mark.parametrize("kind", sorted(READERS))
@pytest.mark.parametrize(
    "encode",
    [
        lambda t: t.encode("utf-8"),
        lambda t: b"\xef\xbb\xbf" + t.encode("utf-8"),
        lambda t: t.encode("utf-16"),  # with a byte order mark, as VSS's BSTRs are saved
        lambda t: t.encode("utf-16-le"),
        lambda t: t.encode("utf-16-be"),
        lambda t: bytearray(t.encode("utf-8")),
        lambda t: "\ufeff" + t,
        lambda t: '<?xml version="1.0" encoding="UTF-16"?>\n' + t,  # a str is already decoded
    ],
    ids=["utf8", "utf8-bom", "utf16-bom", "utf16le", "utf16be", "bytearray", "str-bom", "decl"],
)
def test_documents_are_read_in_the_encodings_vss_writes(
    kind: str, encode: Callable[[str], object]
) -> None:
    text = SKELETONS[kind].format(inner="<x:e note='é €  𝄞'/>")
    assert READERS[kind](encode(text)) == READERS[kind](text)


@pytest.mark.parametrize("kind", sorted(READERS))
@pytest.mark.parametrize(
    "document",
    [
        b"<WRITER_METADATA a='\xff'/>",  # not UTF-8
        b"<WRITER_METADATA a='\xc3'/>",  # a UTF-8 sequence cut short
        "<WRITER_METADATA a='\ud800'/>",  # a lone surrogate in a str
        "<WRITER_METADATA>\x00</WRITER_METADATA>",
        "<WRITER_METADATA a='&#0;'/>",
        "<WRITER_METADATA a='&#xFFFE;'/>",
        "<WRITER_METADATA a='&bogus;'/>",
        "<WRITER_METADATA a='1' a='2'/>",
        "<x:WRITER_METADATA/>",  # an unbound prefix
        "<WRITER_METADATA/><WRITER_METADATA/>",
        "<WRITER_METADATA>",
        "",
        b"",
        b"\xff\xfe",
        "\ufeff",
    ],
)
def test_text_that_is_not_xml_is_corrupt(kind: str, document: str | bytes) -> None:
    _refusal(READERS[kind], document, CORRUPT)


@pytest.mark.parametrize("kind", sorted(READERS))
@pytest.mark.parametrize("name", ["nonexistent", "utf-7", "shift_jis", "utf-32", "cp500"])
def test_a_declared_encoding_never_picks_a_codec(kind: str, name: str) -> None:
    """Bytes are UTF-8 or UTF-16 whatever the declaration says (expat would otherwise look the
    name up among Python's codecs and raise LookupError or ValueError)."""
    text = f'<?xml version="1.0" encoding="{name}"?>' + SKELETONS[kind].format(inner="")
    assert READERS[kind](text.encode("utf-8")) == READERS[kind](text)


# -- odd but well-formed XML -------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(READERS))
def test_comments_processing_instructions_and_extensions_are_ignored(kind: str) -> None:
    plain = READERS[kind](SKELETONS[kind].format(inner=""))
    inner = "<!-- c --><?pi data?><x:e><![CDATA[<not/> markup]]>text &amp; more</x:e>"
    assert READERS[kind]("<?xml-stylesheet href='s'?>" + SKELETONS[kind].format(inner=inner)) == (
        plain
    )


@pytest.mark.parametrize("kind", sorted(READERS))
@pytest.mark.parametrize(
    ("inner", "needle"),
    [
        ("<![CDATA[x]]>", "has text content"),
        ("&#65;", "has text content"),
        ("<UNKNOWN/>", "unexpected element <UNKNOWN>"),
        (f"<{'N' * 900}/>", "unexpected element <NNNN"),
    ],
)
def test_schema_elements_with_text_or_strangers_are_invalid(
    kind: str, inner: str, needle: str
) -> None:
    assert needle in _refusal(READERS[kind], SKELETONS[kind].format(inner=inner))


def _wmd_with(attribute: str, value: str) -> str:
    text = metadata_to_xml(_sql_server(1))
    return re.sub(rf'{attribute}="[^"]*"', f'{attribute}="{value}"', text, count=1)


@pytest.mark.parametrize(
    ("attribute", "value", "needle"),
    [
        ("writerId", "a" * 100_000, "(100000 characters) is not a GUID"),
        ("writerId", "{a65faa63-5ea8-4ebc-9dbd-a0c4db26912a", "is not a GUID"),
        ("writerId", "a65faa63-5ea8-4ebc-9dbd-a0c4db26912", "is not a GUID"),
        ("writerId", "g65faa63-5ea8-4ebc-9dbd-a0c4db26912a", "is not a GUID"),
        ("version", '1.2" backupSchema="' + "9" * 5000, "(5000 characters) is not a VSS_"),
        ("version", '1.2" backupSchema="-1', "is not a VSS_BACKUP_SCHEMA mask"),
        ("version", '1.2" backupSchema="4294967296', "is not a VSS_BACKUP_SCHEMA mask"),
        ("usage", "user_data", "unknown value 'user_data'"),
        ("usage", "USER_DATA ", "unknown value 'USER_DATA '"),
        ("recursive", "YES", "'YES' is not a boolean"),
        ("selectable", "1", "'1' is not a boolean"),
    ],
)
def test_bad_values_are_invalid_with_a_short_message(
    attribute: str, value: str, needle: str
) -> None:
    assert needle in _refusal(metadata_from_xml, _wmd_with(attribute, value))


def _bcd_with(root: str = "", component: str = "", partial: str | None = None) -> str:
    writer = f"writerId='{uuid.UUID(int=1)}' instanceId='{uuid.UUID(int=2)}'"
    inner = "/>" if partial is None else f'><PARTIAL_FILE ranges="{partial}"/></COMPONENT>'
    return (
        f'<BACKUP_COMPONENTS xmlns:vsssim="urn:vsssim:extensions" backupType="full" {root}>'
        f'<WRITER_COMPONENTS {writer}><COMPONENT componentName="C" componentType="database" '
        f"{component}{inner}</WRITER_COMPONENTS></BACKUP_COMPONENTS>"
    )


_SAME_INSTANCE_OTHER_CLASS = _bcd_with().replace(
    "</BACKUP_COMPONENTS>",
    f"<WRITER_COMPONENTS writerId='{uuid.UUID(int=9)}' instanceId='{uuid.UUID(int=2)}'/>"
    "</BACKUP_COMPONENTS>",
)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        (_bcd_with(root=f'vsssim:timeUs="{"9" * 5000}"'), "(5000 characters) is not a decimal"),
        (_bcd_with(root='vsssim:timeUs="-5"'), "the backup time -5 us is negative"),
        (_bcd_with(root='vsssim:context="-0"'), None),  # -0 is 0: the backup context
        (_bcd_with(root='vsssim:context="7"'), "7 is not a VSS_SNAPSHOT_CONTEXT value"),
        (_bcd_with(root='backupType="FULL"'), "CORRUPT"),  # a duplicate attribute
        (_bcd_with(component='backupSucceeded="true"'), "'true' is not a boolean"),
        (
            _bcd_with().replace('componentType="database"', 'componentType="Database"'),
            "unknown value 'Database'",
        ),
        (_bcd_with(partial="1" * 30 + ":1"), "(a ranges file is not supported)"),
        (_bcd_with(partial="0x" + "f" * 17 + ":1"), "(a ranges file is not supported)"),
        (_bcd_with(partial="9:1,0:1"), "are not ascending, non-overlapping"),
        (_bcd_with(partial="0:0"), "are not ascending, non-overlapping"),
        (_bcd_with(partial=",".join(f"{2 * n}:1" for n in range(10_000))), None),
        (_SAME_INSTANCE_OTHER_CLASS, "writer instance 00000000-0000-0000-0000-000000000002 is"),
    ],
)
def test_bad_backup_components_values_are_refused(text: str, needle: str | None) -> None:
    if needle is None:
        assert document_from_xml(text).components[0].name == "C"
    elif needle == "CORRUPT":
        _refusal(document_from_xml, text, CORRUPT)
    else:
        assert needle in _refusal(document_from_xml, text)


# -- mutated documents (property tests) --------------------------------------------------------

#: What a fuzzer pastes into an attribute value.
_HOSTILE_VALUES = st.sampled_from(
    [
        "",
        " ",
        "9" * 5000,
        "-1",
        "0x10",
        "4294967296",
        "YES",
        "full ",
        "{00000000-0000-0000-0000-000000000000",
        "00000000-0000-0000-0000-000000000000",
        "&amp;",
        "&#0;",
        "&#x10FFFF;",
        "&lt;&#9;",
        "\x00",
        '"',
        "<",
        "a" * 20_000,
        "0:1,0:1",
        "1:0",
    ]
) | st.text(max_size=8)
#: What a fuzzer pastes between characters.
_SNIPPETS = st.sampled_from(
    [
        "<!DOCTYPE x>",
        '<!DOCTYPE x [<!ENTITY e "e">]>',
        "<?pi x?>",
        "<![CDATA[x]]>",
        "<!-- c -->",
        "&lt;",
        "&bogus;",
        "\x00",
        "\ud800",
        "\ufeff",
        "<",
        "]]>",
        "<a>",
        "</a>",
        "<x:a xmlns:x='u'/>",
        ' xmlns="urn:other"',
        ' a="1"',
        "\n",
    ]
)
_NEST_NAMES = ["DATABASE", "FILE_GROUP", "COMPONENT", "WRITER_COMPONENTS", "vsssim:FILE", "x"]
_ATTRIBUTE = re.compile(r'([A-Za-z:]+)="([^"]*)"')


def _mutated(draw: st.DrawFn, text: str) -> str | bytes:
    """``text`` with one fuzzer's mutation: flipped bits, a cut, a line doubled or dropped,
    deep nesting, a value replaced, a snippet pasted, or a re-encoding."""
    kind = draw(
        st.sampled_from(["flip", "cut", "double", "drop", "nest", "value", "paste", "encode"])
    )
    lines = text.splitlines(keepends=True)
    if kind == "flip":
        raw = bytearray(text.encode("utf-8"))
        for _ in range(draw(st.integers(1, 4))):
            raw[draw(st.integers(0, len(raw) - 1))] ^= 1 << draw(st.integers(0, 7))
        return bytes(raw)
    if kind == "cut":
        return text[: draw(st.integers(0, len(text) - 1))]
    if kind in ("double", "drop"):
        at = draw(st.integers(0, len(lines) - 1))
        lines[at : at + 1] = [lines[at]] * (2 if kind == "double" else 0)
        return "".join(lines)
    if kind == "nest":
        name = draw(st.sampled_from(_NEST_NAMES))
        depth = draw(st.integers(1, 150))
        at = draw(st.integers(1, max(1, len(lines) - 1)))
        nest = f"<{name}>" * depth + f"</{name}>" * depth + "\n"
        return "".join([*lines[:at], nest, *lines[at:]])
    if kind == "value":
        matches = list(_ATTRIBUTE.finditer(text))
        match = draw(st.sampled_from(matches))
        value = draw(_HOSTILE_VALUES)
        return f"{text[: match.start(2)]}{value}{text[match.end(2) :]}"
    if kind == "paste":
        at = draw(st.integers(0, len(text)))
        return text[:at] + draw(_SNIPPETS) + text[at:]
    return text.encode(draw(st.sampled_from(["utf-16", "utf-16-le", "utf-16-be", "utf-8-sig"])))


@settings(max_examples=100, deadline=None)
@given(representable_metadata(), st.data())
def test_mutated_writer_metadata_documents_are_read_or_refused(
    metadata: WriterMetadata, data: st.DataObject
) -> None:
    text = metadata_to_xml(metadata)
    assert metadata_from_xml(text) == metadata and metadata_to_xml(metadata) == text
    read = _outcome(metadata_from_xml, _mutated(data.draw, text))
    if read is not None:  # whatever was accepted writes and reads back to the same value
        assert metadata_from_xml(metadata_to_xml(read)) == read


@settings(max_examples=100, deadline=None)
@given(any_documents(), st.data())
def test_mutated_backup_components_documents_are_read_or_refused(
    document: BackupComponentsDocument, data: st.DataObject
) -> None:
    text = document_to_xml(document)
    assert document_from_xml(text) == document and document_to_xml(document) == text
    read = _outcome(document_from_xml, _mutated(data.draw, text))
    if read is not None:
        assert document_from_xml(document_to_xml(read)) == read
