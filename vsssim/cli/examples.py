"""``vsssim examples DIR``: copy the scenario lessons shipped with vsssim out, to run and edit.

The wheel holds them as ``vsssim/examples`` (pyproject.toml maps the repository's ``examples/``
there); a source checkout installed in editable mode has them only in ``examples/`` beside the
package, so that is looked at next. The same files are copied from either: the TOML scenario
files and the metadata documents they load (paths in the files are relative to them).
"""

from __future__ import annotations

import argparse
import importlib.resources
import shlex
from importlib.resources.abc import Traversable
from pathlib import Path

from vsssim.errors import ConfigurationError

#: The folder, beside each lesson, of the Writer Metadata Documents a lesson may load.
METADATA = "metadata"


def _source() -> Traversable:
    """Where this vsssim's examples are: in the installed package, or in the checkout."""
    package = importlib.resources.files("vsssim")
    shipped = package.joinpath("examples")
    if shipped.is_dir():
        return shipped
    checkout = Path(str(package)).parent / "examples"
    if checkout.is_dir():
        return checkout
    raise ConfigurationError("this vsssim was installed without its examples")


def lesson_files(source: Traversable) -> dict[str, Traversable]:
    """The files to copy, by path relative to ``source``: each ``*.toml``, each metadata file."""
    found = {
        item.name: item
        for item in source.iterdir()
        if item.is_file() and item.name.endswith(".toml")
    }
    metadata = source.joinpath(METADATA)
    if metadata.is_dir():
        for item in metadata.iterdir():
            if item.is_file() and not item.name.startswith("."):
                found[f"{METADATA}/{item.name}"] = item
    return dict(sorted(found.items()))


def run_examples(args: argparse.Namespace) -> int:
    """Copy every lesson into ``args.dir`` (made if missing); nothing is overwritten."""
    target = Path(args.dir)
    if target.exists() and not target.is_dir():
        raise ConfigurationError(f"{target} is a file, not a folder")
    files = lesson_files(_source())
    taken = [name for name in files if (target / name).exists() or (target / name).is_symlink()]
    if taken:
        more = f" (and {len(taken) - 1} more)" if len(taken) > 1 else ""
        raise ConfigurationError(
            f"{target / taken[0]} exists already{more}; nothing was copied: choose another folder"
        )
    written: list[Path] = []
    try:
        for name, item in files.items():
            path = target / name
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("xb") as file:
                file.write(item.read_bytes())
            written.append(path)
    except OSError as error:
        raise ConfigurationError(
            f"cannot write {target}: {error.strerror or error} ({len(written)} files written)"
        ) from None
    for path in written:
        print(f"Wrote {path}")
    first = next((p for p in written if p.suffix == ".toml"), None)
    if first is not None:
        print(f"Run one: vsssim run {shlex.quote(str(first))}")
    return 0
