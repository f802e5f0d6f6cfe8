"""Old import paths of the flat layout (before 0.2), kept working for one version.

``import vsssim.fuzz`` and ``from vsssim.strategies import scenarios`` resolve to the module's new
home (``vsssim.testing.fuzz``...) with a DeprecationWarning naming it; CHANGELOG.md lists every
move. The alias is the new module itself, so its classes and state are shared, never copied;
where an old module's names went to several new ones (:data:`SPLIT_NAMES`), the alias is a
module that looks each name up in its new home.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import warnings
from collections.abc import Sequence
from types import ModuleType

MOVED_MODULES: dict[str, str] = {
    "vsssim.agent": "vsssim.requesters.agent",
    "vsssim.archive": "vsssim.requesters.archive",
    "vsssim.backup_document": "vsssim.vss.documents.backup_document",
    "vsssim.backup_types": "vsssim.vss.backup_types",
    "vsssim.choices": "vsssim.sim.choices",
    "vsssim.constants": "vsssim.vss.constants",
    "vsssim.coordinator": "vsssim.vss.coordinator",
    "vsssim.demo": "vsssim.host.demo",
    "vsssim.explore": "vsssim.testing.explore",
    "vsssim.fuzz": "vsssim.testing.fuzz",
    "vsssim.instant_recovery": "vsssim.requesters.instant_recovery",
    "vsssim.invariants": "vsssim.testing.invariants",
    "vsssim.metadata": "vsssim.vss.metadata",
    "vsssim.namespace": "vsssim.vss.namespace",
    "vsssim.probes": "vsssim.testing.probes",
    "vsssim.providers": "vsssim.vss.providers",
    "vsssim.providers.base": "vsssim.vss.providers.base",
    "vsssim.providers.software": "vsssim.vss.providers.software",
    "vsssim.providers.xp": "vsssim.vss.providers.xp",
    "vsssim.providers.xp.array": "vsssim.vss.providers.xp.array",
    "vsssim.providers.xp.pairs": "vsssim.vss.providers.xp.pairs",
    "vsssim.providers.xp.provider": "vsssim.vss.providers.xp.provider",
    "vsssim.pytest_plugin": "vsssim.testing.pytest_plugin",
    "vsssim.restore": "vsssim.requesters.restore",
    "vsssim.scenario": "vsssim.host.scenario",
    "vsssim.scenario_file": "vsssim.host.scenario_file",
    "vsssim.scenario_limits": "vsssim.host.scenario_limits",
    "vsssim.stateful": "vsssim.testing.stateful",
    "vsssim.states": "vsssim.vss.states",
    "vsssim.strategies": "vsssim.testing.strategies",
    "vsssim.trace": "vsssim.sim.trace",
    "vsssim.volumes": "vsssim.vss.volumes",
    "vsssim.wmd_xml": "vsssim.vss.documents.wmd_xml",
    "vsssim.workload": "vsssim.vss.workload",
    "vsssim.world": "vsssim.host.world",
    "vsssim.writers": "vsssim.vss.writers",
    "vsssim.writers.base": "vsssim.vss.writers.base",
    "vsssim.writers.catalogue": "vsssim.vss.writers.catalogue",
    "vsssim.writers.database": "vsssim.vss.writers.database",
}


#: Names of an old module that are not in its main new home, and where they went.
SPLIT_NAMES: dict[str, dict[str, str]] = {
    "vsssim.agent": {
        "MAX_RETRIES": "vsssim.requesters.backup_options",
        "RETRYABLE": "vsssim.requesters.backup_options",
        "RetryPolicy": "vsssim.requesters.backup_options",
        "component_volumes": "vsssim.requesters.selection",
        "verify_copy": "vsssim.requesters.backup_result",
    },
    "vsssim.coordinator": {
        "CONTEXT_ATTRIBUTES": "vsssim.vss.coordinator.service",
        "VSS": "vsssim.vss.coordinator.service",
    },
    "vsssim.providers.xp.provider": {
        name: "vsssim.vss.providers.xp.replicas"
        for name in ("RESYNC_MAX_REPLICAS", "Replica", "ReplicaMode", "ReplicaOptions")
    },
    "vsssim.restore": {"ComponentRestore": "vsssim.requesters.restore_result"},
    "vsssim.scenario": {"draw_scenario": "vsssim.testing.draw"},
}


class _SplitModule(ModuleType):
    """An old module whose names now live in several modules: each looked up where it went."""

    def __init__(self, name: str, main: ModuleType, split: dict[str, str]) -> None:
        super().__init__(name, main.__doc__)
        self._main, self._split = main, split

    def __getattr__(self, name: str) -> object:
        home = self._split.get(name)
        if home is not None:
            return getattr(importlib.import_module(home), name)
        return getattr(self._main, name)

    def __dir__(self) -> list[str]:
        return sorted({*dir(self._main), *self._split})


class _Alias(importlib.abc.Loader):
    """Loads an old name as the module at its new home."""

    def __init__(self, new: str) -> None:
        self.new = new

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        warnings.warn(
            f"{spec.name} moved to {self.new}; import it from there",
            DeprecationWarning,
            stacklevel=2,
        )
        module = importlib.import_module(self.new)
        self.real_spec = module.__spec__
        split = SPLIT_NAMES.get(spec.name)
        return module if split is None else _SplitModule(spec.name, module, split)

    def exec_module(self, module: ModuleType) -> None:
        # The import system stamped the alias's spec on the real module: give it its own back.
        if not isinstance(module, _SplitModule):
            module.__spec__ = self.real_spec


class _MovedFinder(importlib.abc.MetaPathFinder):
    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        new = MOVED_MODULES.get(fullname)
        if new is None:
            return None
        return importlib.util.spec_from_loader(fullname, _Alias(new))


def install() -> None:
    """Put the finder at the head of ``sys.meta_path``, once."""
    if not any(isinstance(f, _MovedFinder) for f in sys.meta_path):
        # First: an old name under an aliased package must not be found again by path.
        sys.meta_path.insert(0, _MovedFinder())
