"""The coordinator in layers: the service under the shadow copy set's steps, those under the
requester's session (whose restore calls and document assembly sit beside it), and the backup
types under all of them: a writer's handle on its components knows the session only as the
small protocol it uses."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import attrs
import pytest

from tests.conftest import db_metadata
from tests.test_layers_hooks import _imports_of
from vsssim import BackupComponents, BackupType, HResult, VssError
from vsssim.sim import vocabulary as V
from vsssim.sim.kernel import Simulation
from vsssim.vss.backup_types import WriterComponents
from vsssim.vss.documents.backup_document import PartialFile
from vsssim.vss.metadata import ComponentKey
from vsssim.vss.namespace import Namespace

SERVICE = "vsssim.vss.coordinator.service"
SET = "vsssim.vss.coordinator.snapshot_set"
SESSION_BASE = "vsssim.vss.coordinator.session_base"
SESSION = "vsssim.vss.coordinator.session"
BESIDE_THE_SESSION = ("vsssim.vss.coordinator.restore_calls", "vsssim.vss.coordinator.document")
EVERY_PART = (SERVICE, SESSION_BASE, SET, SESSION, *BESIDE_THE_SESSION)


def _runtime_imports_of(module: str) -> set[str]:
    """What ``module`` imports when it is loaded: its top-level imports, not those under ``if
    TYPE_CHECKING:`` nor inside functions. ``from a import b`` counts as ``a`` and ``a.b``."""
    spec = importlib.util.find_spec(module)
    assert spec is not None and spec.origin is not None, module
    tree = ast.parse(Path(spec.origin).read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def test_the_backup_types_import_nothing_of_the_coordinator() -> None:
    found = _imports_of("vsssim.vss.backup_types")
    assert "vsssim.sim.kernel" in found, "the reader found the module's imports"
    assert sorted(m for m in found if m in EVERY_PART or m.rpartition(".")[0] in EVERY_PART) == []


def test_each_part_loads_only_the_parts_under_it() -> None:
    under = {
        SERVICE: (),
        SESSION_BASE: (SERVICE,),
        SET: (SERVICE, SESSION_BASE),
        "vsssim.vss.coordinator.restore_calls": (SESSION_BASE,),
        "vsssim.vss.coordinator.document": (SESSION_BASE,),
        SESSION: (SERVICE, SESSION_BASE, SET, *BESIDE_THE_SESSION),
    }
    for module, allowed in under.items():
        loaded = {m for m in _runtime_imports_of(module) if m in EVERY_PART}
        assert loaded <= set(allowed), module
    assert SET in _runtime_imports_of(SESSION)


def test_every_part_is_in_the_model_that_knows_no_fault_plan() -> None:
    for module in EVERY_PART:
        assert not any(m.startswith("vsssim.faults") for m in _imports_of(module)), module


@attrs.define
class _Session:
    """A stand-in for a backup session: only what a writer's handle uses of one."""

    sim: Simulation
    coordinator: _Host
    selected: set[ComponentKey]
    requester: str = "stand-in"
    backup_type: BackupType = BackupType.INCREMENTAL
    partial_file_support: bool = False
    snapshot_set: None = None
    previous_backup_stamps: dict[ComponentKey, str] = attrs.field(factory=dict)
    succeeded: dict[ComponentKey, bool] = attrs.field(factory=dict)
    backup_stamps: dict[ComponentKey, str] = attrs.field(factory=dict)
    partial_files: dict[ComponentKey, dict[str, PartialFile]] = attrs.field(factory=dict)

    def is_selected(self, key: ComponentKey) -> bool:
        return key in self.selected


@attrs.define
class _Host:
    namespace: Namespace


def test_a_writers_handle_works_on_anything_shaped_like_a_session() -> None:
    sim = Simulation()
    metadata = db_metadata()
    component = metadata.components[0]
    key = metadata.key(component)
    session = _Session(sim, _Host(Namespace()), {key}, previous_backup_stamps={key: "earlier"})
    handle = WriterComponents(session, metadata, "OnPostSnapshot", 7)
    assert handle.backup_type is BackupType.INCREMENTAL and handle.backup_point is None
    assert handle.previous_backup_stamp(component) == "earlier"
    handle.set_backup_stamp(component, "now")
    assert session.backup_stamps == {key: "now"}
    (record,) = [r for r in sim.trace if r.action == V.SET_BACKUP_STAMP]
    assert record.actor == metadata.writer_name and record.phase == 7
    session.selected.clear()
    with pytest.raises(VssError) as refused:
        handle.set_backup_stamp(component, "again")
    assert refused.value.hresult == HResult.VSS_E_OBJECT_NOT_FOUND


def test_the_backup_components_object_keeps_every_call_of_its_interface() -> None:
    calls = {
        "initialize_for_restore",
        "set_selected_for_restore",
        "set_additional_restores",
        "pre_restore",
        "set_file_restore_status",
        "post_restore",
        "save_as_document",
        "save_as_xml",
        "get_writer_components",
        "set_previous_backup_stamp",
        "set_backup_succeeded",
        "add_to_snapshot_set",
        "do_snapshot_set",
        "delete_snapshots",
        "abort_backup",
        "query",
        "expose_snapshot",
        "break_snapshot_set",
        "revert_to_snapshot",
    }
    defined = {name for name in dir(BackupComponents) if not name.startswith("_")}
    assert calls <= defined


def test_the_public_coordinator_is_the_service_that_hands_out_sessions() -> None:
    from vsssim.vss.coordinator import Coordinator
    from vsssim.vss.coordinator.service import VssService
    from vsssim.vss.coordinator.session_base import SessionBase

    coordinator = Coordinator(Simulation(), Namespace())
    session = coordinator.create_backup_components("requester")
    assert isinstance(coordinator, VssService) and isinstance(session, BackupComponents)
    assert isinstance(session, SessionBase) and session.coordinator is coordinator
    assert "create_backup_components" not in vars(VssService)
