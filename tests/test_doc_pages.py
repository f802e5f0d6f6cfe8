"""The generated pages of the docs (the exception tree, the trace vocabulary) are what
``scripts/docs_pages.py`` writes from the code, and they name everything they should."""

from __future__ import annotations

import importlib.util
import inspect
import sys
from pathlib import Path
from types import ModuleType

import vsssim.errors
from vsssim.faults import FAULT_KINDS
from vsssim.sim import vocabulary as V

ROOT = Path(__file__).resolve().parent.parent


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("docs_pages", ROOT / "scripts" / "docs_pages.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["docs_pages"] = module
    spec.loader.exec_module(module)
    return module


PAGES = _generator()


def test_the_generated_pages_are_up_to_date() -> None:
    for path, text in PAGES.pages().items():
        assert path.read_text(encoding="utf-8") == text, (
            f"{path.relative_to(ROOT)} is stale: python scripts/docs_pages.py"
        )


def test_the_exception_page_names_every_exception_class_of_the_package() -> None:
    page = PAGES.EXCEPTIONS_PAGE.read_text(encoding="utf-8")
    in_errors = [
        value
        for value in vars(vsssim.errors).values()
        if inspect.isclass(value) and issubclass(value, BaseException)
        and value.__module__ == "vsssim.errors"
    ]
    assert len(in_errors) >= 7
    everywhere = PAGES.exception_classes()
    assert set(in_errors) <= set(everywhere)
    for cls in everywhere:
        bases = ", ".join(b.__name__ for b in cls.__bases__)
        assert f"**`{cls.__name__}({bases})`**, `{cls.__module__}`" in page, cls
    # the classes a user meets, wherever they live
    for name in ("ScenarioFileError", "PairCommandError", "RunHung", "WriterStatusFailure"):
        assert f"`{name}(" in page


def test_the_vocabulary_page_names_every_actor_action_and_fault_kind() -> None:
    page = PAGES.VOCABULARY_PAGE.read_text(encoding="utf-8")
    fixed = {value for _, constants in PAGES.vocabulary_sections() for _, value, _ in constants}
    for action in V.ACTIONS:
        family = next((s for s in V.EVENT_SUFFIXES if action.endswith(s)), None)
        if family is not None and action.removesuffix(family) in V.WRITER_EVENTS:
            assert f"`{action.removesuffix(family)}`" in page and f"`{family.strip()}`" in page
        else:
            assert action in fixed or action in V.WRITER_EVENTS or action in V.PAIR_COMMANDS
            assert f"`{action}`" in page, action
    for actor in V.ACTORS:
        assert f"`{actor}`" in page, actor
    for kind in FAULT_KINDS:
        assert f"| `{kind.name}` |" in page, kind.name
    for name in dir(V):
        if name.isupper() and isinstance(getattr(V, name), str):
            assert f"`{name}`" in page, name
