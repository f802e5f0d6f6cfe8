"""The command line: the parser and the reports."""

from vsssim.cli.main import main

__all__ = [
    "main",
]
