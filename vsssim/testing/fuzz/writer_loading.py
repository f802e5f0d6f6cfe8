"""A user's class from its ``--writer`` (or ``--machine``) name: ``module:Class`` or
``path/file.py:Class``.

The same name loads the same class in the parent and in every campaign worker (spawned or
forked): the current folder is importable (as ``python -m`` has it), a module is imported by
its name, a file is loaded once under a name derived from its resolved path (so a test file's
own ``from tests.helpers import ...`` works from the project's folder). Anything wrong is one
:class:`ConfigurationError` naming it.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import TypeVar

from vsssim.errors import ConfigurationError, describe
from vsssim.host.scenario import WriterFactory
from vsssim.vss.writers.base import Writer

T = TypeVar("T")


def _is_path(module: str) -> bool:
    """True if the module part of a ``--writer`` name is a file path, not a dotted name."""
    return module.endswith(".py") or "/" in module or os.sep in module


def module_name_for(path: Path) -> str:
    """The stable, unique name a writer file is loaded as (the same in every process)."""
    resolved = str(path.resolve())
    digest = hashlib.sha256(resolved.encode()).hexdigest()[:12]
    stem = re.sub(r"\W", "_", path.stem)
    return f"_vsssim_writer_{digest}_{stem}"


def _load_file(spec: str, text: str, what: str) -> ModuleType:
    """The module of the writer file ``text``, executed once per process."""
    path = Path(text)
    if not path.is_file():
        why = "it does not exist" if not path.exists() else "it is not a regular file"
        raise ConfigurationError(f"cannot load {what} {spec!r}: no file {text!r} ({why})")
    name = module_name_for(path)
    loaded = sys.modules.get(name)
    if loaded is not None:
        return loaded
    found = importlib.util.spec_from_file_location(name, path.resolve())
    if found is None or found.loader is None:
        raise ConfigurationError(f"cannot load {what} {spec!r}: {text!r} is not a Python file")
    module = importlib.util.module_from_spec(found)
    sys.modules[name] = module  # before it runs: its classes must find their module
    try:
        found.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def _import(spec: str, module: str, what: str = "writer") -> ModuleType:
    """The module ``module`` (a dotted name or a file path), its errors told in one line."""
    try:
        here = os.getcwd()
        if here not in sys.path and "" not in sys.path:
            sys.path.append(here)  # as with ``python -m``, whatever started this process
        if _is_path(module):
            return _load_file(spec, module, what)
        return importlib.import_module(module)
    except ConfigurationError:
        raise
    except SyntaxError as exc:
        where = f"{Path(exc.filename or module).name} line {exc.lineno}"
        raise ConfigurationError(
            f"cannot load {what} {spec!r}: syntax error in {where}: {exc.msg}"
        ) from None
    except ImportError as exc:
        raise ConfigurationError(f"cannot load {what} {spec!r}: {exc}") from None
    except Exception as exc:  # the module raised while it was imported
        error, where = describe(exc)
        raise ConfigurationError(
            f"cannot load {what} {spec!r}: importing it raised {error} (at {where})"
        ) from None


def load_class(spec: str, base: type[T], what: str, base_name: str) -> type[T]:
    """The subclass of ``base`` named ``module:Class`` or ``path/file.py:Class`` (a dotted
    ``Outer.Inner`` for a nested class), the current folder importable.

    Importing the module runs its code: only ever call this with a name the user gave.
    """
    module, sep, class_name = spec.rpartition(":")
    if not sep or not module or not class_name:
        raise ConfigurationError(f"{spec!r} is not module:Class or path/file.py:Class")
    found: object = _import(spec, module, what)
    for part in class_name.split("."):
        found = getattr(found, part, None)
    if found is None:
        raise ConfigurationError(f"cannot load {what} {spec!r}: {module!r} has no {class_name!r}")
    if not (isinstance(found, type) and issubclass(found, base)):
        raise ConfigurationError(f"{spec!r} is not a subclass of {base_name}")
    return found


def load_writer(spec: str | None) -> WriterFactory:
    """The writer class named ``module:Class`` or ``path/file.py:Class`` (``Writer`` for None).

    Importing the module runs its code: only ever call this with a name the user gave.
    """
    if spec is None:
        return Writer
    return load_class(spec, Writer, "writer", "vsssim.Writer")
