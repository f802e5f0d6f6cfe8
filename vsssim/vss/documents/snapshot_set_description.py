"""The shadow copy set as the Backup Components Document describes it: the
``SNAPSHOT_SET_DESCRIPTION`` element that ``IVssBackupComponents::ImportSnapshots`` reads.

A transportable set (``VSS_VOLSNAP_ATTR_TRANSPORTABLE``) is imported on another host from the
document its creator saved with ``SaveAsXML`` and the importer hands to ``InitializeForBackup``
("Importing Transportable Shadow Copied Volumes"). What the import needs of each copy is its
id, its provider, its attributes and the volume it was made of::

    <SNAPSHOT_SET_DESCRIPTION snapshotSetId="..." context="32">
      <SNAPSHOT_DESCRIPTION snapshotId="..." providerId="..." attributes="65597"
                            originalVolumeName="D:\\"/>
    </SNAPSHOT_SET_DESCRIPTION>

The element and attribute names are those Windows writes; what a hardware provider adds below
a copy (``LUN_MAPPING`` and its LUN information) is accepted on reading and skipped: the model's
provider keeps its own view of its LUNs.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence

import attrs

from vsssim.vss.constants import SnapshotAttr
from vsssim.vss.documents.safe_xml import Node, XmlDialect, shown, tag, where

#: The elements of the description, repeated ones included (for the dialect's paths).
DESCRIPTION_ELEMENTS = frozenset({"SNAPSHOT_SET_DESCRIPTION", "SNAPSHOT_DESCRIPTION"})
_COPY_CHILDREN = frozenset({"LUN_MAPPING"})
_UNSIGNED = re.compile(r"[0-9]{1,19}")
_ALL_ATTRIBUTES = sum(int(a) for a in SnapshotAttr)


@attrs.frozen
class SnapshotDescription:
    """One shadow copy of a described set: what ImportSnapshots looks the copy up by."""

    snapshot_id: uuid.UUID
    provider_id: uuid.UUID
    original_volume_name: str
    attributes: SnapshotAttr

    @property
    def transportable(self) -> bool:
        """Whether the copy was made to be imported elsewhere."""
        return bool(self.attributes & SnapshotAttr.TRANSPORTABLE)


def description_lines(
    dialect: XmlDialect,
    set_id: uuid.UUID | None,
    context: int,
    snapshots: Sequence[SnapshotDescription],
) -> list[str]:
    """The ``SNAPSHOT_SET_DESCRIPTION`` element, one line per element, indented for the root."""
    if not snapshots:
        return []
    head: list[tuple[str, str]] = []
    if set_id is not None:
        head.append(("snapshotSetId", str(set_id)))
    head.append(("context", str(context)))
    lines = ["  " + tag("SNAPSHOT_SET_DESCRIPTION", head, empty=False)]
    for s in snapshots:
        volume = dialect.text(s.original_volume_name, f"shadow copy {s.snapshot_id} volume")
        attributes = [
            ("snapshotId", str(s.snapshot_id)),
            ("providerId", str(s.provider_id)),
            ("attributes", str(int(s.attributes))),
            ("originalVolumeName", volume),
        ]
        lines.append("    " + tag("SNAPSHOT_DESCRIPTION", attributes, empty=True))
    lines.append("  </SNAPSHOT_SET_DESCRIPTION>")
    return lines


def read_description(
    dialect: XmlDialect, node: Node, set_id: uuid.UUID | None
) -> tuple[SnapshotDescription, ...]:
    """The copies a ``SNAPSHOT_SET_DESCRIPTION`` element lists; its set id must be the
    document's (``VSS_E_INVALID_XML_DOCUMENT`` otherwise, as for any bad value)."""
    if "snapshotSetId" in node.attributes and set_id is not None:
        described = dialect.guid(node, "snapshotSetId")
        if described != set_id:
            dialect.invalid(
                where(node, "snapshotSetId"),
                f"the set {described} is not the document's set {set_id}",
            )
    copies: list[SnapshotDescription] = []
    seen: set[uuid.UUID] = set()
    for child in dialect.children(node, frozenset({"SNAPSHOT_DESCRIPTION"})):
        dialect.children(child, _COPY_CHILDREN)  # LUN information: the provider's, skipped
        copy = SnapshotDescription(
            snapshot_id=dialect.guid(child, "snapshotId"),
            provider_id=dialect.guid(child, "providerId"),
            original_volume_name=dialect.required(child, "originalVolumeName"),
            attributes=_attributes(dialect, child),
        )
        if copy.snapshot_id in seen:
            dialect.invalid(where(child, "snapshotId"), f"shadow copy {copy.snapshot_id} twice")
        seen.add(copy.snapshot_id)
        copies.append(copy)
    return tuple(copies)


def _attributes(dialect: XmlDialect, node: Node) -> SnapshotAttr:
    text = node.attributes.get("attributes", "0")
    if not _UNSIGNED.fullmatch(text) or int(text) & ~_ALL_ATTRIBUTES:
        dialect.invalid(
            where(node, "attributes"),
            f"{shown(text)} is not a set of VSS_VOLSNAP_ATTR_* bits",
        )
    return SnapshotAttr(int(text))
