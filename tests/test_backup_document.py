"""The Backup Components Document: built from a backup, XML both ways, refusals, the archive."""

from __future__ import annotations

import json
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import vsssim
from vsssim import BackupType, ConfigurationError, Context, HResult, VssError
from vsssim.faults import FaultPlan
from vsssim.host.demo import build_demo_world
from vsssim.requesters.archive import BackupArchive
from vsssim.vss.constants import ComponentType
from vsssim.vss.documents.backup_document import (
    BCD_NAMESPACE,
    VSSSIM_XML_NAMESPACE,
    BackedUpComponent,
    BackupComponentsDocument,
    PartialFile,
    document_from_xml,
    document_to_xml,
)
from vsssim.vss.documents.wmd_xml import metadata_to_xml

from .conftest import DB_WRITER_ID, NO_RETRY, small_world

CORRUPT = HResult.VSS_E_CORRUPT_XML_DOCUMENT
INVALID = HResult.VSS_E_INVALID_XML_DOCUMENT
SQL_ID = uuid.UUID("a65faa63-5ea8-4ebc-9dbd-a0c4db26912a")
SQL_INSTANCE = uuid.UUID("dd8d6255-b3bb-4ec1-8249-73cd75c0ee21")


@pytest.fixture(scope="module")
def demo_backup() -> vsssim.BackupResult:
    [result] = build_demo_world(seed=4).run()
    return result


def _refused(text: str, hresult: HResult) -> str:
    with pytest.raises(VssError) as caught:
        document_from_xml(text)
    assert caught.value.hresult == hresult, caught.value
    return caught.value.message


# -- built from a backup -----------------------------------------------------------------------


def test_the_backup_result_carries_its_document(demo_backup: vsssim.BackupResult) -> None:
    document = demo_backup.document
    assert document is not None
    assert document.backup_type == BackupType.FULL
    assert document.context == Context.BACKUP
    assert document.snapshot_set_id == demo_backup.snapshot_set_id
    assert document.requester == demo_backup.agent
    assert 0 < document.time_us < demo_backup.finished_us
    assert [c.full_path for c in document.components] == [
        "SQLSRV01\\Sales",
        "SQLSRV01\\master",
        "COM+ REGDB",
        "Replicated folders\\Shares",
        "Registry",  # pulled in by the COM+ REGDB dependency
    ]
    assert all(c.backup_succeeded for c in document.components)
    sales = document.component(SQL_ID, "sqlsrv01", "SALES")  # case-insensitive, as VSS
    assert sales.writer_name == "SqlServerWriter"
    assert sales.component_type == ComponentType.FILEGROUP
    assert sales.files == ("D:\\SQLData\\Sales.mdf", "E:\\SQLLogs\\Sales_log.ldf")
    # SQL Server's writer keeps a backup history (it takes differentials): a full is stamped.
    stamp = f"SqlServerWriter@{demo_backup.commit_seq}"
    assert (sales.backup_stamp, sales.previous_backup_stamp) == (stamp, "")
    assert all(c.backup_stamp == "" for c in document.components if c.writer_class_id != SQL_ID)
    assert not any(c.partial_files for c in document.components)
    copied = {f.path for f in demo_backup.files}
    assert {p for c in document.components for p in c.files} == copied


def test_save_as_xml_needs_the_shadow_copy_set() -> None:
    world = small_world(seed=1)
    bc = world.coordinator.create_backup_components("requester")
    bc.initialize_for_backup()
    world.sim.run(until=bc.gather_writer_metadata())
    with pytest.raises(VssError) as caught:
        bc.save_as_xml()
    assert caught.value.hresult == HResult.VSS_E_BAD_STATE


def test_a_backup_that_failed_has_no_document() -> None:
    world = small_world(seed=2)
    world.add_agent("agent", ["TestDbWriter:Inst\\Db"], NO_RETRY)
    world.coordinator.install_faults(
        FaultPlan.forced("writer-nonretryable", "TestDbWriter.OnFreeze", times=1)
    )
    [result] = world.run()
    assert not result.succeeded and result.document is None
    with pytest.raises(ConfigurationError, match="no Backup Components Document"):
        BackupArchive.of(result)


# -- XML both ways -----------------------------------------------------------------------------


def test_the_demo_document_round_trips_as_vss_writes_it(demo_backup: vsssim.BackupResult) -> None:
    document = demo_backup.document
    assert document is not None
    text = document_to_xml(document)
    assert document_from_xml(text) == document
    assert document_to_xml(document_from_xml(text)) == text
    root = ET.fromstring(text)  # an independent parser reads it too
    assert root.tag == f"{{{BCD_NAMESPACE}}}BACKUP_COMPONENTS"
    assert root.get("backupType") == "full" and root.get("selectComponents") == "yes"
    assert root.get("snapshotSetId") == str(demo_backup.snapshot_set_id)
    writers = root.findall(f"{{{BCD_NAMESPACE}}}WRITER_COMPONENTS")
    assert [w.get(f"{{{VSSSIM_XML_NAMESPACE}}}writerName") for w in writers] == [
        "SqlServerWriter",
        "COM+ REGDB Writer",
        "DFS Replication service writer",
        "Registry Writer",
    ]
    sales = writers[0].find(f"{{{BCD_NAMESPACE}}}COMPONENT")
    assert sales is not None
    assert sales.attrib == {
        "logicalPath": "SQLSRV01",
        "componentName": "Sales",
        "componentType": "filegroup",
        "backupSucceeded": "yes",
        "backupStamp": f"SqlServerWriter@{demo_backup.commit_seq}",
    }


_TEXT = st.text(
    st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufffe\uffff")
    | st.sampled_from("\t\n\r&<>\"'"),
    max_size=12,
)
_IDS = st.sampled_from([uuid.UUID(int=n) for n in range(1, 4)])


@st.composite
def _partial_files(draw: st.DrawFn) -> PartialFile:
    ranges, offset = [], 0
    for gap, length in draw(st.lists(st.tuples(st.integers(0, 2**20), st.integers(1, 2**20)))):
        ranges.append((offset + gap, length))
        offset += gap + length
    return PartialFile(draw(_TEXT), tuple(ranges), draw(_TEXT))


@st.composite
def any_documents(draw: st.DrawFn) -> BackupComponentsDocument:
    """Any document the format can express (one class id and name per writer instance)."""
    components = []
    for instance in draw(st.lists(_IDS, max_size=4)):
        writer_class = uuid.UUID(int=instance.int + 100)  # one class and name per instance
        components.append(
            BackedUpComponent(
                writer_class_id=writer_class,
                writer_instance_id=instance,
                writer_name=f"writer {instance.int}",
                logical_path=draw(_TEXT),
                name=draw(_TEXT.filter(bool)),
                component_type=draw(
                    st.sampled_from([ComponentType.DATABASE, ComponentType.FILEGROUP])
                ),
                backup_succeeded=draw(st.booleans()),
                files=tuple(draw(st.lists(_TEXT, max_size=3))),
                backup_stamp=draw(_TEXT),
                previous_backup_stamp=draw(_TEXT),
                partial_files=tuple(draw(st.lists(_partial_files(), max_size=2))),
            )
        )
    unique = {(c.writer_class_id, c.logical_path.upper(), c.name.upper()): c for c in components}
    return BackupComponentsDocument(
        backup_type=draw(st.sampled_from([t for t in BackupType if t != BackupType.UNDEFINED])),
        snapshot_set_id=draw(st.none() | st.uuids()),
        requester=draw(_TEXT),
        context=draw(st.sampled_from(list(Context))),
        time_us=draw(st.integers(0, 2**62)),
        select_components=draw(st.booleans()),
        bootable_system_state=draw(st.booleans()),
        components=tuple(unique.values()),
        partial_file_support=draw(st.booleans()),
    )


@settings(max_examples=60, deadline=None)
@given(any_documents())
def test_any_document_round_trips(document: BackupComponentsDocument) -> None:
    text = document_to_xml(document)
    assert document_from_xml(text) == document
    assert document_to_xml(document_from_xml(text)) == text


def test_components_are_kept_grouped_by_writer() -> None:
    a1, b1, a2 = (
        BackedUpComponent(uuid.UUID(int=w), uuid.UUID(int=w + 10), f"W{w}", "", name)
        for w, name in ((1, "a1"), (2, "b1"), (1, "a2"))
    )
    document = BackupComponentsDocument(components=(a1, b1, a2))
    assert [c.name for c in document.components] == ["a1", "a2", "b1"]
    assert document_from_xml(document_to_xml(document)) == document


# A document shaped like those Windows writes (diskshadow's BCDocument.xml): no vsssim
# extensions, attributes vsssim does not keep, schema elements it skips, a BOM.
WINDOWS_STYLE = f"""\ufeff<?xml version="1.0" encoding="UTF-8"?>
<BACKUP_COMPONENTS xmlns="{BCD_NAMESPACE}" version="1.2" bootableSystemStateBackup="yes"
    selectComponents="yes" backupType="differential" partialFileSupport="no"
    snapshotSetId="{{0f6bb2c3-6a3e-4b8e-9f64-1d2c3b4a5968}}">
  <WRITER_COMPONENTS instanceId="{SQL_INSTANCE}" writerId="{SQL_ID}"
      instanceName="Microsoft SQL Server 2019:SQLWriter" backupSchema="881">
    <COMPONENT logicalPath="SQL01" componentName="Orders" componentType="database"
        backupSucceeded="yes" backupStamp="stamp-1" previousBackupStamp="stamp-0">
      <BACKUP_METADATA xmlns="" metadata="AAAA"/>
    </COMPONENT>
    <COMPONENT componentName="Other" componentType="filegroup"/>
  </WRITER_COMPONENTS>
</BACKUP_COMPONENTS>
"""


def test_a_document_as_windows_writes_it_is_read() -> None:
    document = document_from_xml(WINDOWS_STYLE)
    assert document.backup_type == BackupType.DIFFERENTIAL
    assert document.bootable_system_state and document.select_components
    assert document.snapshot_set_id == uuid.UUID("0f6bb2c3-6a3e-4b8e-9f64-1d2c3b4a5968")
    assert (document.requester, document.context, document.time_us) == ("", Context.BACKUP, 0)
    orders, other = document.components
    assert (orders.writer_class_id, orders.writer_instance_id) == (SQL_ID, SQL_INSTANCE)
    assert (orders.writer_name, orders.component_type) == ("", ComponentType.DATABASE)
    assert (orders.backup_stamp, orders.previous_backup_stamp) == ("stamp-1", "stamp-0")
    assert orders.backup_succeeded and not other.backup_succeeded  # absent: not succeeded


# -- refusals ----------------------------------------------------------------------------------


def _document(body: str = "", root: str = "BACKUP_COMPONENTS", **extra: str) -> str:
    attributes = {"backupType": "full", **extra}
    text = "".join(f' {k}="{v}"' for k, v in attributes.items())
    return (
        f'<{root} xmlns="{BCD_NAMESPACE}" xmlns:vsssim="{VSSSIM_XML_NAMESPACE}"{text}>'
        f"{body}</{root}>"
    )


WRITER = (
    f'<WRITER_COMPONENTS instanceId="{SQL_INSTANCE}" writerId="{SQL_ID}">{{}}</WRITER_COMPONENTS>'
)
COMPONENT = '<COMPONENT componentName="C" componentType="filegroup"/>'


@pytest.mark.parametrize(
    "text",
    [
        "<BACKUP_COMPONENTS><WRITER_COMPONENTS></BACKUP_COMPONENTS>",
        "",
        "<BACKUP_COMPONENTS/>junk",
        '<BACKUP_COMPONENTS a="1" a="2"/>',
    ],
)
def test_malformed_xml_is_corrupt(text: str) -> None:
    assert "not well-formed" in _refused(text, CORRUPT)


@pytest.mark.parametrize(
    ("text", "needles"),
    [
        (_document(root="WRITER_METADATA"), ["<WRITER_METADATA>", "<BACKUP_COMPONENTS>"]),
        ('<BACKUP_COMPONENTS xmlns="urn:x" backupType="full"/>', ["{urn:x}BACKUP_COMPONENTS"]),
        (_document().replace(' backupType="full"', ""), ["@backupType", "required"]),
        (_document(backupType="Full"), ["@backupType", "'Full'", "'full'", "'Log'"]),
        (_document(snapshotSetId="nope"), ["@snapshotSetId", "not a GUID"]),
        (_document(**{"vsssim:context": "7"}), ["@vsssim:context", "7"]),
        (_document(**{"vsssim:timeUs": "soon"}), ["@vsssim:timeUs", "'soon'"]),
        (_document(WRITER.format(COMPONENT).replace(f'writerId="{SQL_ID}"', "")), ["@writerId"]),
        (
            _document(WRITER.format(COMPONENT.replace("filegroup", "FILE_GROUP"))),
            ["WRITER_COMPONENTS[1]/COMPONENT[1]@componentType", "'FILE_GROUP'", "'filegroup'"],
        ),
        (
            _document(WRITER.format(COMPONENT.replace('"C"', '"c"') + COMPONENT)),
            ["COMPONENT[2]", "'C' is listed twice", "COMPONENT[1]"],
        ),
        (_document(WRITER.format("<COMPONENTS/>")), ["unexpected element <COMPONENTS>"]),
        (
            _document(WRITER.format(COMPONENT.replace("/>", "><vsssim:FILES/></COMPONENT>"))),
            ["<vsssim:FILES>", "<vsssim:FILE>"],
        ),
        (
            _document(WRITER.format(COMPONENT.replace("/>", "><vsssim:FILE/></COMPONENT>"))),
            ["FILE[1]@path", "required"],
        ),
        (
            _document(
                WRITER.format(COMPONENT)
                + WRITER.format(COMPONENT.replace('"C"', '"D"')).replace(
                    str(SQL_ID), str(SQL_INSTANCE)
                )
            ),
            [f"writer instance {SQL_INSTANCE}"],
        ),
        ("<!DOCTYPE BACKUP_COMPONENTS []>" + _document(), ["DOCTYPE"]),
        (_document("text"), ["BACKUP_COMPONENTS (line 1)", "text content"]),
    ],
)
def test_invalid_documents_name_what_is_wrong(text: str, needles: list[str]) -> None:
    message = _refused(text, INVALID)
    for needle in needles:
        assert needle in message, message


def test_a_writer_metadata_document_is_not_a_backup_components_document() -> None:
    wmd = metadata_to_xml(build_demo_world().coordinator.writers[0].metadata)
    assert "<BACKUP_COMPONENTS>" in _refused(wmd, INVALID)


BASE = BackupComponentsDocument(
    components=(BackedUpComponent(SQL_ID, SQL_INSTANCE, "SqlServerWriter", "", "C"),)
)


@pytest.mark.parametrize(
    ("changes", "needle"),
    [
        ({"backup_type": BackupType.UNDEFINED}, "VSS_BT_UNDEFINED"),
        ({"requester": "bell\x07"}, "U+0007"),
        (
            {
                "components": (
                    attrs.evolve(BASE.components[0], component_type=ComponentType.UNDEFINED),
                )
            },
            "VSS_CT_UNDEFINED",
        ),
    ],
)
def test_unrepresentable_documents_are_refused(changes: dict[str, Any], needle: str) -> None:
    with pytest.raises(VssError) as caught:
        document_to_xml(attrs.evolve(BASE, **changes))
    assert caught.value.hresult == HResult.E_INVALIDARG
    assert needle in caught.value.message


def test_a_component_not_in_the_document_is_not_found() -> None:
    with pytest.raises(VssError) as caught:
        BASE.component(SQL_ID, "", "missing")
    assert caught.value.hresult == HResult.VSS_E_OBJECT_NOT_FOUND


# -- the archive -------------------------------------------------------------------------------


def test_an_archive_survives_json(demo_backup: vsssim.BackupResult, tmp_path: Path) -> None:
    archive = BackupArchive.of(demo_backup)
    path = tmp_path / "backup.json"
    archive.save(path)
    loaded = BackupArchive.load(path)
    assert loaded.document == archive.document
    assert [(f.path, f.volume, f.first_block, f.block_count) for f in loaded.files] == [
        (f.path, f.volume, f.first_block, f.block_count) for f in archive.files
    ]
    assert [dict(f.data) for f in loaded.files] == [dict(f.data) for f in archive.files]
    assert loaded.to_json() == archive.to_json() == path.read_text(encoding="utf-8")


def _edit(change: Any) -> Any:
    """A mangler that edits the archive's JSON as data."""

    def mangle(text: str) -> str:
        archive = json.loads(text)
        change(archive)
        return json.dumps(archive)

    return mangle


@pytest.mark.parametrize(
    ("mangle", "needle"),
    [
        (lambda t: t[:-3], "not JSON"),
        (_edit(lambda a: a.update(version=2)), "version 2"),
        (_edit(lambda a: a["files"][1].update(first_block="0")), r"files\[1\].first_block"),
        (_edit(lambda a: a["files"][0]["blocks"].append([9, "%%%"])), "not base64"),
        (_edit(lambda a: a["files"][0]["blocks"].append([9])), r"files\[0\].blocks\[\d+\]"),
        (
            _edit(lambda a: a["files"][0].update(ranges="0-4096")),
            r"files\[0\].ranges: expected list",
        ),
        (_edit(lambda a: a["files"][0].update(ranges=[[0]])), r"files\[0\].ranges\[0\]: expected"),
        (_edit(lambda a: a["files"][0].update(ranges=[[0, "1"]])), r"files\[0\].ranges\[0\]\[1\]"),
    ],
)
def test_a_damaged_archive_says_where(
    demo_backup: vsssim.BackupResult, mangle: Any, needle: str
) -> None:
    text = mangle(BackupArchive.of(demo_backup).to_json())
    with pytest.raises(ConfigurationError, match=needle):
        BackupArchive.from_json(text)


def test_a_bad_document_inside_an_archive_is_a_vss_error(demo_backup: vsssim.BackupResult) -> None:
    text = BackupArchive.of(demo_backup).to_json().replace("BACKUP_COMPONENTS", "BACKUP_COMP", 1)
    with pytest.raises(VssError) as caught:
        BackupArchive.from_json(text)
    assert caught.value.hresult == CORRUPT


def test_the_document_of_a_small_backup_names_its_writer() -> None:
    world = small_world(seed=3)
    world.add_agent("agent", ["TestDbWriter:Inst\\Db"], NO_RETRY)
    [result] = world.run()
    assert result.document is not None
    [db] = result.document.components
    assert (db.writer_class_id, db.writer_name, db.full_path) == (
        DB_WRITER_ID,
        "TestDbWriter",
        "Inst\\Db",
    )
    assert db.files == ("D:\\Data\\Db.mdf", "L:\\Logs\\Db.ldf")


# -- partial files -----------------------------------------------------------------------------


def test_partial_files_are_written_as_partial_file_elements() -> None:
    sales = BackedUpComponent(
        SQL_ID,
        SQL_INSTANCE,
        "SqlServerWriter",
        "SQL01",
        "Sales",
        backup_succeeded=True,
        files=("D:\\SQLData\\Sales.mdf",),
        backup_stamp="SqlServerWriter@9",
        previous_backup_stamp="SqlServerWriter@4",
        partial_files=(PartialFile("D:\\SQLData\\Sales.mdf", ((0, 4096), (65536, 8192))),),
    )
    document = BackupComponentsDocument(
        BackupType.INCREMENTAL, components=(sales,), partial_file_support=True
    )
    root = ET.fromstring(document_to_xml(document))
    assert root.get("partialFileSupport") == "yes"
    partial = root.find(f"{{{BCD_NAMESPACE}}}WRITER_COMPONENTS/{{{BCD_NAMESPACE}}}COMPONENT/")
    assert partial is not None and partial.tag == f"{{{BCD_NAMESPACE}}}PARTIAL_FILE"
    assert partial.attrib == {
        "path": "D:\\SQLData\\",
        "filespec": "Sales.mdf",
        "ranges": "0:4096,65536:8192",
        "metadata": "",
    }
    assert document_from_xml(document_to_xml(document)) == document


def test_partial_file_ranges_may_be_hexadecimal() -> None:
    body = WRITER.format(
        '<COMPONENT componentName="C" componentType="filegroup">'
        '<PARTIAL_FILE path="D:\\Data" filespec="x.mdf" ranges="0x0:0x1000, 8192:4096"/>'
        "</COMPONENT>"
    )
    [component] = document_from_xml(_document(body)).components
    assert component.partial_files == (PartialFile("D:\\Data\\x.mdf", ((0, 4096), (8192, 4096))),)


@pytest.mark.parametrize(
    ("ranges", "says"),
    [
        ("C:\\ranges.bin", "a ranges file is not supported"),
        ("0:4096,1024:10", "not ascending"),
        ("0:0", "positive lengths"),
    ],
)
def test_partial_file_ranges_the_model_cannot_keep_are_refused(ranges: str, says: str) -> None:
    body = WRITER.format(
        '<COMPONENT componentName="C" componentType="filegroup">'
        f'<PARTIAL_FILE path="D:\\" filespec="x" ranges="{ranges}"/></COMPONENT>'
    )
    with pytest.raises(VssError) as refused:
        document_from_xml(_document(body))
    assert refused.value.hresult == HResult.VSS_E_INVALID_XML_DOCUMENT
    assert says in refused.value.message and "PARTIAL_FILE" in refused.value.message
