"""What each restore method allows: whether a component can be restored at all, and where
each of its files goes (or why nothing of it may be written), before the first is written.

The methods themselves are described in :mod:`vsssim.requesters.restore`.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs

from vsssim.requesters.archive import BackupArchive
from vsssim.requesters.backup_result import CopiedFile
from vsssim.vss.constants import BackupType, RestoreMethod
from vsssim.vss.documents.backup_document import BackedUpComponent
from vsssim.vss.metadata import WriterMetadata
from vsssim.vss.namespace import Namespace, normalize

#: Methods that replace the files on disk now, when nothing holds them.
_REPLACE_NOW = frozenset(
    {
        RestoreMethod.RESTORE_IF_CAN_REPLACE,
        RestoreMethod.STOP_RESTORE_START,
        RestoreMethod.RESTORE_STOP_START,
        RestoreMethod.RESTORE_AT_REBOOT_IF_CANNOT_REPLACE,
    }
)


class NotRestorable(Exception):
    """A component the pre-checks refuse: nothing of it is written."""


@attrs.frozen
class ComponentPlan:
    """What restoring one component does: each backed-up file and where it goes, whether all
    wait for the reboot, and the files to take away (a chain's files gone by this backup)."""

    files: list[tuple[CopiedFile, str]]
    at_reboot: bool
    removals: list[str]


def unrestorable(
    namespace: Namespace,
    archive: BackupArchive,
    record: BackedUpComponent,
    writer: WriterMetadata | None,
    continues: bool,
) -> str:
    """Why ``record`` of ``archive`` cannot be restored at all ("" if a restore can try);
    ``continues``: the restore continues the component's chain."""
    if not record.backup_succeeded:
        return "its backup did not succeed"
    if record.partial_files and not continues:
        kind = archive.document.backup_type
        return (
            f"{_a(kind)} backup restores on top of the backup it builds on: restore the "
            "chain with restore_chain"
        )
    missing = [p for p in record.files if archive.file(p) is None]
    if missing:
        return f"the archive holds no data of {missing[0]}"
    if writer is None:
        return ""  # SetSelectedForRestore says what is wrong
    method = writer.restore_method
    if method == RestoreMethod.CUSTOM:
        return "VSS_RME_CUSTOM: the writer's own restore procedure is needed; this agent has none"
    if method == RestoreMethod.UNDEFINED:
        return "writer error: its restore method is VSS_RME_UNDEFINED"
    if method == RestoreMethod.RESTORE_TO_ALTERNATE_LOCATION:
        component = writer.component(record.logical_path, record.name)
        for path in record.files:
            if alternate(namespace, writer, component.logical_path, component.name, path) is None:
                return (
                    "writer error: VSS_RME_RESTORE_TO_ALTERNATE_LOCATION without an "
                    f"alternate location mapping for {path}"
                )
    return ""


def plan_component(
    namespace: Namespace,
    archive: BackupArchive,
    record: BackedUpComponent,
    writer: WriterMetadata,
    continued: frozenset[str],
) -> ComponentPlan:
    """Where each file goes, whether all wait for the reboot, and which of the ``continued``
    files (those the earlier restores of the chain left) to remove; raises NotRestorable
    (nothing written) when the method forbids the restore."""
    holder = _holder(namespace, writer)
    plan, at_reboot = _targets(namespace, archive, record, writer, holder)
    for copied, target in plan:
        if record.partial_file(copied.path) is None and copied.ranges is None:
            continue
        what = (
            "a partial file"
            if copied.ranges or record.partial_file(copied.path)
            else ("a differenced file unchanged since the backup this one builds on")
        )
        on_disk = namespace.find(target)
        if at_reboot:
            raise NotRestorable(
                f"{copied.path} is {what}: it cannot wait for the reboot "
                "(assumption: only whole files are staged)"
            )
        if on_disk is None or on_disk.block_count != copied.block_count:
            raise NotRestorable(
                f"{copied.path} is {what} and {target} is not the file it "
                "completes: restore the backup it builds on first"
            )
    kept = {normalize(target) for _, target in plan}
    removals = sorted(
        found.path
        for found in (namespace.find(p) for p in continued if normalize(p) not in kept)
        if found is not None
    )
    for path in removals:
        if at_reboot:
            raise NotRestorable(
                f"{path} is gone at this backup, and removing it cannot wait for the "
                "reboot (assumption: only whole files are staged)"
            )
        if holder(path) is not None:
            raise NotRestorable(
                f"{path} is gone at this backup but cannot be removed: it is in use by "
                f"{holder(path)}"
            )
    return ComponentPlan(plan, at_reboot, removals)


def _holder(namespace: Namespace, writer: WriterMetadata) -> Callable[[str], str | None]:
    """Who holds a file on disk (None: nobody, or the writer's service a STOP_RESTORE_START
    stops for the restore)."""
    method = writer.restore_method
    released = {writer.restore_service} if method == RestoreMethod.STOP_RESTORE_START else set()

    def holder(path: str) -> str | None:
        file = namespace.find(path)
        if file is None or file.in_use_by in released:
            return None
        return file.in_use_by

    return holder


def _targets(
    namespace: Namespace,
    archive: BackupArchive,
    record: BackedUpComponent,
    writer: WriterMetadata,
    holder: Callable[[str], str | None],
) -> tuple[list[tuple[CopiedFile, str]], bool]:
    """Each backed-up file and where the method puts it, and whether all wait for the
    reboot."""
    method = writer.restore_method
    plan: list[tuple[CopiedFile, str]] = []
    at_reboot = method == RestoreMethod.RESTORE_AT_REBOOT
    for path in record.files:
        copied = archive.file(path)
        assert copied is not None  # checked before selection
        alternate_path = alternate(namespace, writer, record.logical_path, record.name, path)
        target = path
        if method == RestoreMethod.RESTORE_IF_NOT_THERE:
            if namespace.find(path) is not None:
                if alternate_path is None or namespace.find(alternate_path) is not None:
                    where = (
                        f" and at its alternate location {alternate_path}" if alternate_path else ""
                    )
                    raise NotRestorable(f"{method.vss_name}: {path} is on disk{where}")
                target = alternate_path
        elif method == RestoreMethod.RESTORE_TO_ALTERNATE_LOCATION:
            assert alternate_path is not None  # checked before selection
            target = alternate_path
            if holder(target) is not None:
                raise NotRestorable(f"{method.vss_name}: {target} is in use by {holder(target)}")
        elif method in _REPLACE_NOW and holder(path) is not None:
            if method == RestoreMethod.RESTORE_AT_REBOOT_IF_CANNOT_REPLACE:
                at_reboot = True
            elif method == RestoreMethod.RESTORE_IF_CAN_REPLACE and alternate_path is not None:
                target = alternate_path
            else:
                raise NotRestorable(f"{method.vss_name}: {path} is in use by {holder(path)}")
        plan.append((copied, target))
    return plan, at_reboot


def alternate(
    namespace: Namespace, writer: WriterMetadata, logical_path: str, name: str, path: str
) -> str | None:
    """The alternate location the writer's mappings (``AddAlternateLocationMapping``) send
    ``path`` (of its component ``logical_path`` and ``name``) to, or None. A file spec's
    alternate path (where it was backed up from) is no such mapping."""
    writer.component(logical_path, name)  # the component must exist
    for mapping in writer.alternate_location_mappings:
        folder = namespace.expand(mapping.path).rstrip("\\")
        if namespace.in_scope(path, folder, mapping.filespec, mapping.recursive):
            rest = path[len(folder) :].lstrip("\\")
            return namespace.expand(mapping.destination).rstrip("\\") + "\\" + rest
    return None


def _a(kind: BackupType) -> str:
    """``kind`` with its article, as a message says it: "an incremental", "a differential"."""
    name = kind.name.lower()
    return f"{'an' if name[0] in 'aeiou' else 'a'} {name}"
