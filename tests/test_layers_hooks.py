"""Faults come in through one narrow door (vsssim.vss.hooks): the layering that keeps it narrow, and
a user's own hooks object planting writer bugs through it."""

from __future__ import annotations

import ast
import importlib.util
import pkgutil
from pathlib import Path

import pytest

from tests.conftest import NO_RETRY, small_world
from vsssim import SECOND, HResult, NoFaults, World, WriterState
from vsssim.errors import ConfigurationError
from vsssim.requesters.backup_result import Outcome
from vsssim.sim import vocabulary as V
from vsssim.testing.invariants import check_all
from vsssim.vss.hooks import NO_FAULTS, WriterEffect, WriterFault

DB = "TestDbWriter:Inst\\Db"
#: What vsssim.vss.hooks may import of vsssim: the kernel and the layers under it.
HOOKS_MAY_IMPORT = ("vsssim.sim.kernel", "vsssim.errors", "vsssim.sim.choices", "vsssim.sim.trace")
#: What vsssim.faults must not import: the model it injects faults into, and what drives it.
ABOVE_FAULTS = (
    "vsssim.vss.coordinator.service",
    "vsssim.vss.providers",
    "vsssim.vss.writers",
    "vsssim.requesters.agent",
    "vsssim.requesters.backup_options",
    "vsssim.requesters.backup_result",
    "vsssim.requesters.selection",
)
ABOVE_FAULTS_TOO = (
    "vsssim.host.world",
    "vsssim.vss.backup_types",
    "vsssim.requesters.restore",
    "vsssim.requesters.restore_agent",
    "vsssim.requesters.restore_methods",
    "vsssim.requesters.restore_result",
)


def _imported(source: str, module: str, is_package: bool = False) -> set[str]:
    """Every module ``source`` (the text of ``module``) imports, anywhere in it: at the top,
    under ``if TYPE_CHECKING:``, inside functions; relative imports resolved. ``from a import
    b`` counts as ``a`` and ``a.b`` (``b`` may be a submodule)."""
    package = module if is_package else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def _imports_of(module: str) -> set[str]:
    spec = importlib.util.find_spec(module)
    assert spec is not None and spec.origin is not None, module
    source = Path(spec.origin).read_text(encoding="utf-8")
    return _imported(source, module, spec.submodule_search_locations is not None)


def _modules_under(package: str) -> list[str]:
    spec = importlib.util.find_spec(package)
    assert spec is not None and spec.submodule_search_locations is not None
    found = [package]
    for info in pkgutil.walk_packages(spec.submodule_search_locations, f"{package}."):
        found.append(info.name)
    return found


def _within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(f"{p}.") for p in prefixes)


def test_the_import_reader_sees_imports_under_type_checking_and_relative_ones() -> None:
    source = (
        "from typing import TYPE_CHECKING\n"
        "from . import sibling\n"
        "if TYPE_CHECKING:\n"
        "    from vsssim.vss.coordinator.service import Coordinator\n"
        "def f():\n"
        "    import vsssim.host.world\n"
    )
    found = _imported(source, "vsssim.some")
    assert {
        "vsssim.vss.coordinator.service",
        "vsssim.host.world",
        "vsssim.sibling",
        "typing",
    } <= found


def test_the_hooks_module_imports_nothing_above_the_kernel() -> None:
    ours = {m for m in _imports_of("vsssim.vss.hooks") if m.split(".")[0] == "vsssim"}
    assert ours, "the reader found no import of vsssim at all"
    above = sorted(m for m in ours if not _within(m, HOOKS_MAY_IMPORT))
    assert above == []


def test_the_fault_plan_imports_nothing_of_the_model_it_injects_faults_into() -> None:
    found = _imports_of("vsssim.faults")
    assert "vsssim.vss.hooks" in found
    above = sorted(m for m in found if _within(m, ABOVE_FAULTS + ABOVE_FAULTS_TOO))
    assert above == []


def test_the_model_knows_no_fault_plan_only_the_hooks() -> None:
    model = [
        *_modules_under("vsssim.vss.providers"),
        *_modules_under("vsssim.vss.writers"),
        "vsssim.vss.coordinator.service",
        "vsssim.requesters.agent",
        "vsssim.requesters.backup_options",
        "vsssim.requesters.backup_result",
        "vsssim.requesters.selection",
    ]
    for module in model:
        found = _imports_of(module)
        assert not any(_within(m, ("vsssim.faults",)) for m in found), module
    assert "vsssim.vss.hooks" in _imports_of("vsssim.vss.coordinator.service")


# -- a user's hooks ------------------------------------------------------------------------


class FailsFreeze(NoFaults):
    """Every OnFreeze of one writer fails with one HRESULT; nothing else goes wrong."""

    def __init__(self, writer: str, hresult: HResult) -> None:
        self.writer, self.hresult = writer, hresult
        self.asked: list[str] = []

    def writer_fault(
        self, writer: str, event: str, phase: int | None, reply_limit_us: int
    ) -> WriterFault | None:
        self.asked.append(f"{writer}.{event}")
        if (writer, event) == (self.writer, "OnFreeze"):
            return WriterFault(WriterEffect.FAIL, self.hresult)
        return None


class KeepsLateFreeze(NoFaults):
    """The Hyper-V daemon bug, planted at one writer's OnFreeze: the reply comes a second
    after VSS gave up, and the late freeze is never undone."""

    def __init__(self) -> None:
        self.effective: list[WriterFault] = []

    def writer_fault(
        self, writer: str, event: str, phase: int | None, reply_limit_us: int
    ) -> WriterFault | None:
        if event != "OnFreeze":
            return None
        return WriterFault(WriterEffect.KEEP_LATE_FREEZE, delay_us=reply_limit_us + SECOND)

    def bug_effective(self, fault: WriterFault, **details: object) -> None:
        self.effective.append(fault)


def _backup(world: World) -> World:
    world.add_agent("agent", [DB], NO_RETRY)
    world.run()
    assert world.heal_and_settle(3600 * SECOND)
    return world


def test_a_users_hooks_fail_onfreeze_with_the_hresult_they_choose() -> None:
    hooks = FailsFreeze("TestDbWriter", HResult.VSS_E_WRITERERROR_OUTOFRESOURCES)
    world = small_world(3, workload=False)
    world.coordinator.install_faults(hooks)
    [result] = _backup(world).results
    writer = world.coordinator.writer("TestDbWriter")
    assert (writer.state, writer.failure) == (
        WriterState.FAILED_AT_FREEZE,
        HResult.VSS_E_WRITERERROR_OUTOFRESOURCES,
    )
    assert result.outcome is Outcome.FAILED
    assert "TestDbWriter.OnFreeze" in hooks.asked and "TestDbWriter.OnIdentify" in hooks.asked
    assert world.sim.trace.find(action=V.ABORT, actor=V.VSS)
    # The user's hooks record nothing of their own; the model's trace shows the failure.
    assert not world.sim.trace.find(actor="fault")
    assert not writer.application_frozen and not world.coordinator.snapshots
    assert {n: v for n, v in check_all(world).items() if v} == {}


def test_hooks_given_to_world_create_are_installed_and_asked() -> None:
    hooks = FailsFreeze("TestDbWriter", HResult.VSS_E_WRITERERROR_RETRYABLE)
    world = World.create(1, faults=hooks)
    assert world.coordinator.faults is hooks and world.coordinator.hooks is hooks


def test_a_users_hooks_plant_the_hyperv_bug_and_the_invariants_catch_it() -> None:
    hooks = KeepsLateFreeze()
    world = small_world(3, workload=False)
    world.coordinator.install_faults(hooks)
    _backup(world)
    writer = world.coordinator.writer("TestDbWriter")
    assert world.sim.trace.find(action=V.late_reply_ignored(V.ON_FREEZE))
    assert writer.application_frozen
    assert [f.effect for f in hooks.effective] == [WriterEffect.KEEP_LATE_FREEZE]
    found = check_all(world)
    assert found["application thawed"] and found["quiescence"]


def test_without_hooks_nothing_goes_wrong_and_no_choice_is_asked() -> None:
    plain, hooked = small_world(4), small_world(4)
    assert plain.coordinator.hooks is NO_FAULTS and plain.coordinator.faults is None
    hooked.coordinator.install_faults(NoFaults())
    for world in (plain, hooked):
        world.add_agent("agent", [DB])
        world.run()
    assert plain.sim.trace.to_jsonl() == hooked.sim.trace.to_jsonl()
    assert plain.token() == hooked.token()


def test_a_writer_fault_that_fails_needs_its_hresult() -> None:
    with pytest.raises(ConfigurationError, match="HRESULT"):
        WriterFault(WriterEffect.FAIL)
    with pytest.raises(ConfigurationError, match="negative"):
        WriterFault(WriterEffect.DELAY, delay_us=-1)
