"""A backup program in another language: the Node.js client of examples/rpc/backup.mjs runs a
component-mode full backup and a non-component copy backup over ``vsssim serve --stdio``
(following "Overview of Processing a Backup Under VSS" on Microsoft Learn)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
NODE = shutil.which("node")


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_the_node_client_backs_up_and_checks_status_and_data() -> None:
    assert NODE is not None
    done = subprocess.run(
        [NODE, str(ROOT / "examples" / "rpc" / "backup.mjs")],
        cwd=ROOT,
        env={**os.environ, "VSSSIM_PYTHON": sys.executable},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "component backup:" in done.stdout and "copy backup:" in done.stdout
