"""Time and peak memory of the XML readers on a deep, a wide and a big document.

Three Writer Metadata Documents, each read by ``metadata_from_xml`` with the default
``XmlLimits``:

- ``deep``: a valid document with ``--depth`` extension elements nested inside its root (the
  case that took 3.4 GB at 20,000 deep before the limits; now refused at the nesting limit
  as soon as expat passes it);
- ``wide``: a valid document with ``--wide`` empty extension elements side by side (read whole:
  the most tree nodes per input byte; past ``XmlLimits.elements`` it is refused);
- ``big``: a SQL Server writer with ``--databases`` databases, two data files and a log file
  each, as a big real instance declares them (read whole, equal to what was written).

For each: the input size, the outcome (``read`` or the limit that refused it), the best time
of ``--repeats`` reads, and the peak memory of one read under ``tracemalloc`` (with its ratio
to the input size: it stays a small constant, the memory is linear in the input).

Run: python benchmarks/xml_limits.py [--depth N] [--wide N] [--databases N] [--repeats N]
Prints a table and writes benchmarks/xml_limits.json.
"""

from __future__ import annotations

import argparse
import re
import time
import tracemalloc
import uuid
from typing import Any

from _common import machine, report

from vsssim.errors import VssError
from vsssim.vss.constants import ComponentType, SourceType, UsageType
from vsssim.vss.documents.wmd_xml import metadata_from_xml, metadata_to_xml
from vsssim.vss.metadata import Component, FileDescriptor, WriterMetadata

_LIMIT = re.compile(r"\(XmlLimits\.(\w+)\)")
_SKELETON = (
    '<WRITER_METADATA xmlns="x-schema:#VssWriterMetadataInfo" xmlns:x="urn:x">'
    '<IDENTIFICATION writerId="a65faa63-5ea8-4ebc-9dbd-a0c4db26912a" '
    'instanceId="a65faa63-5ea8-4ebc-9dbd-a0c4db26912b" friendlyName="W" '
    'usage="USER_DATA" dataSource="OTHER"/>{inner}</WRITER_METADATA>'
)


def sql_server(databases: int) -> WriterMetadata:
    """A SQL Server writer's metadata with ``databases`` databases."""
    return WriterMetadata(
        writer_class_id=uuid.UUID("a65faa63-5ea8-4ebc-9dbd-a0c4db26912a"),
        writer_instance_id=uuid.UUID(int=7),
        writer_name="SqlServerWriter",
        usage_type=UsageType.USERDATA,
        source_type=SourceType.TRANSACTEDDB,
        components=tuple(
            Component(
                f"Database{n:05}",
                ComponentType.DATABASE,
                logical_path="SQLSRV01\\PRODUCTION",
                caption=f"Production database {n}",
                database_files=(
                    FileDescriptor(f"D:\\SQLData\\Database{n:05}\\", f"Database{n:05}.mdf"),
                    FileDescriptor(f"D:\\SQLData\\Database{n:05}\\", f"Database{n:05}_2.ndf"),
                ),
                log_files=(FileDescriptor("L:\\SQLLogs\\", f"Database{n:05}_log.ldf"),),
            )
            for n in range(databases)
        ),
    )


def _read(text: str) -> str:
    """``read``, or ``refused: <limit>`` (``refused: <HRESULT>`` for another refusal)."""
    try:
        metadata_from_xml(text)
    except VssError as error:
        found = _LIMIT.search(error.message)
        return f"refused: {found.group(1) if found else error.hresult.name}"
    return "read"


def measure(text: str, repeats: int) -> dict[str, Any]:
    """Outcome, best time and traced peak memory of reading ``text``."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        outcome = _read(text)
        best = min(best, time.perf_counter() - start)
    tracemalloc.start()
    try:
        _read(text)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return {
        "input_bytes": len(text.encode("utf-8")),
        "outcome": outcome,
        "seconds": best,
        "peak_mib": peak / 2**20,
        "peak_per_input_byte": peak / max(1, len(text)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depth", type=int, default=20_000, help="nesting of the deep document")
    parser.add_argument("--wide", type=int, default=90_000, help="elements of the wide document")
    parser.add_argument("--databases", type=int, default=2_000, help="databases of the big one")
    parser.add_argument("--repeats", type=int, default=3, help="reads timed (best is kept)")
    args = parser.parse_args()
    documents = {
        "deep": _SKELETON.format(inner="<x:e>" * args.depth + "</x:e>" * args.depth),
        "wide": _SKELETON.format(inner="<x:e/>" * args.wide),
        "big": metadata_to_xml(sql_server(args.databases)),
    }
    figures: dict[str, Any] = {
        name: measure(text, args.repeats) for name, text in documents.items()
    }
    figures["arguments"] = vars(args)
    figures["machine"] = machine()
    report(__file__, figures)


if __name__ == "__main__":
    main()
