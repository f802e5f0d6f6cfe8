"""A backup as a test harness keeps it: the Backup Components Document and the copied data.

A real backup product stores the ``BACKUP_COMPONENTS`` XML next to the files it copied, and
hands both back for a restore. :class:`BackupArchive` is that pair as a value, and
:meth:`BackupArchive.to_json` / :meth:`BackupArchive.from_json` store it as one JSON object
(the document's XML inside, each file's written blocks as base64), byte-identical for equal
archives, so a harness can keep a backup on disk and restore from it in another run.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from vsssim.errors import ConfigurationError
from vsssim.requesters.backup_result import BackupResult, CopiedFile
from vsssim.vss.documents.backup_document import (
    BackupComponentsDocument,
    document_from_xml,
    document_to_xml,
)
from vsssim.vss.namespace import normalize

#: The ``format`` marker of an archive's JSON, and its version.
ARCHIVE_FORMAT = "vsssim backup archive"
ARCHIVE_VERSION = 1


@attrs.frozen
class BackupArchive:
    """A backup kept: its document and every copied file (path, volume, layout, blocks, and
    for a partial copy its byte ranges)."""

    document: BackupComponentsDocument
    files: tuple[CopiedFile, ...] = ()

    @classmethod
    def of(cls, result: BackupResult) -> BackupArchive:
        """The archive of a finished backup (one that reached BackupComplete)."""
        if result.document is None:
            raise ConfigurationError(
                f"{result.agent}'s backup has no Backup Components Document: it ended "
                f"{result.outcome.value} ({result.hresult.name}) before BackupComplete"
            )
        return cls(result.document, result.files)

    def file(self, path: str) -> CopiedFile | None:
        """The copied file at ``path`` (compared as Windows does), or None."""
        key = normalize(path)
        for copied in self.files:
            if normalize(copied.path) == key:
                return copied
        return None

    # -- JSON ----------------------------------------------------------------------------
    def to_json(self) -> str:
        """The archive as one JSON object (keys sorted, blocks in order), newline-terminated."""
        files = []
        for f in self.files:
            entry: dict[str, Any] = {
                "path": f.path,
                "volume": f.volume,
                "size_bytes": f.size_bytes,
                "first_block": f.first_block,
                "block_count": f.block_count,
                "blocks": [
                    [block - f.first_block, base64.b64encode(data).decode("ascii")]
                    for block, data in sorted(f.data.items())
                ],
            }
            if f.ranges is not None:  # a partial copy: the byte ranges it holds
                entry["ranges"] = [list(r) for r in f.ranges]
            files.append(entry)
        archive = {
            "format": ARCHIVE_FORMAT,
            "version": ARCHIVE_VERSION,
            "document": document_to_xml(self.document),
            "files": files,
        }
        return json.dumps(archive, sort_keys=True, indent=1) + "\n"

    @classmethod
    def from_json(cls, text: str) -> BackupArchive:
        """Read :meth:`to_json`'s output. A malformed archive raises ``ConfigurationError``
        naming the key path; a bad document inside raises ``VssError`` as
        :func:`~vsssim.vss.documents.backup_document.document_from_xml` does."""
        try:
            archive = json.loads(text)
        except json.JSONDecodeError as error:
            raise ConfigurationError(f"backup archive: not JSON: {error}") from None
        archive = _expect(archive, dict, "backup archive")
        if archive.get("format") != ARCHIVE_FORMAT or archive.get("version") != ARCHIVE_VERSION:
            raise ConfigurationError(
                f"backup archive: expected format {ARCHIVE_FORMAT!r} version {ARCHIVE_VERSION}, "
                f"got {archive.get('format')!r} version {archive.get('version')!r}"
            )
        document = document_from_xml(_expect(archive.get("document"), str, "document"))
        entries = _expect(archive.get("files"), list, "files")
        return cls(document, tuple(_file(entry, f"files[{i}]") for i, entry in enumerate(entries)))

    def save(self, path: str | Path) -> None:
        """Write the archive's JSON to ``path``."""
        Path(path).write_text(self.to_json(), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> BackupArchive:
        """Read an archive :meth:`save` wrote."""
        return cls.from_json(Path(path).read_text(encoding="utf-8"))


def _expect(value: Any, kind: type, where: str) -> Any:
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ConfigurationError(
            f"backup archive: {where}: expected {kind.__name__}, got {type(value).__name__}"
        )
    return value


def _file(entry: Any, where: str) -> CopiedFile:
    entry = _expect(entry, dict, where)
    first_block = _expect(entry.get("first_block"), int, f"{where}.first_block")
    data: dict[int, bytes] = {}
    for i, block in enumerate(_expect(entry.get("blocks"), list, f"{where}.blocks")):
        at = f"{where}.blocks[{i}]"
        if not (isinstance(block, list) and len(block) == 2):
            raise ConfigurationError(f"backup archive: {at}: expected [block index, base64 data]")
        index = _expect(block[0], int, f"{at}[0]")
        try:
            data[first_block + index] = base64.b64decode(
                _expect(block[1], str, f"{at}[1]"), validate=True
            )
        except binascii.Error as error:
            raise ConfigurationError(f"backup archive: {at}[1]: not base64: {error}") from None
    fields: Mapping[str, Any] = entry
    ranges = None
    if "ranges" in fields:
        ranges = tuple(
            _range(r, f"{where}.ranges[{i}]")
            for i, r in enumerate(_expect(fields["ranges"], list, f"{where}.ranges"))
        )
    return CopiedFile(
        path=_expect(fields.get("path"), str, f"{where}.path"),
        volume=_expect(fields.get("volume"), str, f"{where}.volume"),
        size_bytes=_expect(fields.get("size_bytes"), int, f"{where}.size_bytes"),
        data=data,
        first_block=first_block,
        block_count=_expect(fields.get("block_count"), int, f"{where}.block_count"),
        ranges=ranges,
    )


def _range(entry: Any, where: str) -> tuple[int, int]:
    if not (isinstance(entry, list) and len(entry) == 2):
        raise ConfigurationError(f"backup archive: {where}: expected [offset, length]")
    return _expect(entry[0], int, f"{where}[0]"), _expect(entry[1], int, f"{where}[1]")
