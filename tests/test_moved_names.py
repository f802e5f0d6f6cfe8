"""Names and import paths of the flat layout (before 0.2) keep working for one version, warning."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from contextlib import nullcontext
from pathlib import Path

import pytest

import vsssim
from vsssim._moved import MOVED_MODULES, SPLIT_NAMES

#: Every public name each old module defined in 0.1 (read from its source at that release).
NAMES_0_1: dict[str, list[str]] = json.loads(
    (Path(__file__).parent / "data" / "names_0_1.json").read_text(encoding="utf-8")
)


@pytest.mark.parametrize("old", sorted(MOVED_MODULES))
def test_an_old_module_path_is_the_new_module_with_a_warning(old: str) -> None:
    new = importlib.import_module(MOVED_MODULES[old])
    sys.modules.pop(old, None)
    with pytest.warns(DeprecationWarning, match=MOVED_MODULES[old].replace(".", r"\.")):
        alias = importlib.import_module(old)
    assert alias is new or old in SPLIT_NAMES
    assert new.__spec__ is not None and new.__spec__.name == MOVED_MODULES[old]


@pytest.mark.parametrize("old", sorted(NAMES_0_1))
def test_every_name_an_old_module_had_still_resolves_there(old: str) -> None:
    with pytest.warns(DeprecationWarning) if old not in sys.modules else nullcontext():
        alias = importlib.import_module(old)
    missing = [name for name in NAMES_0_1[old] if not hasattr(alias, name)]
    assert missing == []


def test_a_split_name_is_the_object_at_its_new_home() -> None:
    for old, names in sorted(SPLIT_NAMES.items()):
        alias = importlib.import_module(old)
        for name, home in sorted(names.items()):
            assert getattr(alias, name) is getattr(importlib.import_module(home), name)
    assert set(NAMES_0_1) == set(MOVED_MODULES)


def test_from_an_old_path_imports_the_same_class() -> None:
    from vsssim.testing.strategies import scenarios

    code = "import warnings; warnings.simplefilter('error');from vsssim.strategies import scenarios"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 1 and "vsssim.testing.strategies" in run.stderr
    sys.modules.pop("vsssim.strategies", None)
    with pytest.warns(DeprecationWarning):
        module = importlib.import_module("vsssim.strategies")
    assert module.scenarios is scenarios


@pytest.mark.parametrize("name", sorted(vsssim._MOVED))
def test_an_old_top_level_name_warns_and_resolves(name: str) -> None:
    home = importlib.import_module(vsssim._MOVED[name])
    with pytest.warns(DeprecationWarning, match=f"vsssim.{name} moved"):
        value = getattr(vsssim, name)
    assert value is getattr(home, name)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nonesuch'"):
        vsssim.nonesuch  # noqa: B018


def test_the_public_surface_is_small_and_importable() -> None:
    assert 30 <= len(vsssim.__all__) <= 45
    for name in vsssim.__all__:
        assert getattr(vsssim, name) is not None
