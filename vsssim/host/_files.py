"""Reading a file someone names, bounded: only a regular file, at most so many bytes.

Every door that reads a named file (scenario files, the metadata documents they name, failure
files) reads it here, so a device (``/dev/zero``), a pipe or a folder can neither make the
reader wait nor fill memory, and each refusal is one line naming the file.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

from vsssim.errors import VssimError


def read_bounded(path: Path, limit: int, kind: str, error: Callable[[str], VssimError]) -> bytes:
    """The bytes of the regular file at ``path`` (a ``kind``, such as "scenario file"), at most
    ``limit`` of them; anything else raises ``error("PATH: what is wrong")``."""
    source = str(path)
    try:
        mode = path.stat().st_mode
        if stat.S_ISDIR(mode):
            raise error(f"{source}: cannot read: a folder, not a {kind}")
        if not stat.S_ISREG(mode):
            raise error(f"{source}: cannot read: not a regular file")
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(descriptor, "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):  # swapped since stat()
                raise error(f"{source}: cannot read: not a regular file")
            data = handle.read(limit + 1)
    except OSError as failure:
        raise error(f"{source}: cannot read: {failure.strerror or failure}") from None
    if len(data) > limit:
        raise error(f"{source}: too large: a {kind} has at most {limit} bytes")
    return data
