"""What an installed vsssim tells about itself: its version, and that it ships its types."""

from __future__ import annotations

import importlib.metadata
import importlib.resources
import subprocess
import sys

import vsssim


def test_the_version_is_the_distributions() -> None:
    assert vsssim.__version__ == importlib.metadata.version("vsssim")


def test_the_command_line_says_its_version() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "vsssim", "--version"], capture_output=True, text=True, timeout=60
    )
    assert (run.returncode, run.stdout) == (0, f"vsssim {vsssim.__version__}\n")


def test_the_package_is_marked_typed_for_type_checkers() -> None:
    assert importlib.resources.files("vsssim").joinpath("py.typed").is_file()


def test_the_distribution_carries_its_license_file() -> None:
    distribution = importlib.metadata.distribution("vsssim")
    assert distribution.metadata.get_all("License-File") == ["LICENSE"]
    (license_file,) = [f for f in distribution.files or () if f.name == "LICENSE"]
    assert "MIT License" in license_file.read_text()
