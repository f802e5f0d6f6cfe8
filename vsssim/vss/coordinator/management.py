"""The management calls of a backup components object: what any object initialized for backup
may do with the shadow copies that exist, whichever object made them.

:class:`ManagementCalls` adds to :class:`~vsssim.vss.coordinator.session_base.SessionBase`
``Query``, ``GetSnapshotProperties``, ``DeleteSnapshots``, ``ExposeSnapshot`` and
``UnexposeSnapshot``, ``BreakSnapshotSet`` and ``BreakSnapshotSetEx`` and ``RevertToSnapshot``;
:class:`~vsssim.vss.coordinator.session.BackupComponents` is built on it.

What an object sees is its context's (the Query page: only the shadow copies "that reside in the
current context"): a copy made in the object's context, by it or by another object, or every
copy in ``VSS_CTX_ALL``; a copy of another context is ``VSS_E_OBJECT_NOT_FOUND`` to it. A copy
whose context is not persistent still dies with the object that made it (Release). The calls
are allowed from InitializeForBackup on, never in a restore (``VSS_E_BAD_STATE``). Every refusal
is raised before anything changes.
"""

from __future__ import annotations

import uuid

import attrs

from vsssim.errors import DeleteSnapshotsError, HResult, VssError
from vsssim.sim import vocabulary as V
from vsssim.sim.kernel import ProcessGenerator
from vsssim.vss import _args
from vsssim.vss.constants import Context, HardwareOptions, ObjectType, ProviderType, SnapshotAttr
from vsssim.vss.coordinator import snapshot_set as coordinator_set
from vsssim.vss.coordinator.service import SnapshotProperties
from vsssim.vss.coordinator.session_base import SessionBase
from vsssim.vss.coordinator.vss_async import VssAsync
from vsssim.vss.documents.backup_document import BackupComponentsDocument
from vsssim.vss.namespace import normalize
from vsssim.vss.providers.base import ShadowCopy

_H = HardwareOptions
#: The ``VSS_BREAKEX_FLAG_*`` bits BreakSnapshotSetEx takes.
BREAK_FLAGS = (
    _H.BREAKEX_FLAG_MASK_LUNS
    | _H.BREAKEX_FLAG_MAKE_READ_WRITE
    | _H.BREAKEX_FLAG_REVERT_IDENTITY_ALL
    | _H.BREAKEX_FLAG_REVERT_IDENTITY_NONE
)
#: How ExposeSnapshot exposes a copy: one of these two attributes (the ExposeSnapshot page).
EXPOSE_ATTRIBUTES = (SnapshotAttr.EXPOSED_LOCALLY, SnapshotAttr.EXPOSED_REMOTELY)
#: What a share name cannot hold (Windows' rule for share names).
_NOT_IN_SHARE_NAMES = frozenset('\\/[]:|<>+=;,?*"')


@attrs.frozen
class ProviderProperties:
    """``VSS_PROVIDER_PROP`` of a registered provider (``Query`` of ``VSS_OBJECT_PROVIDER``)."""

    provider_id: uuid.UUID
    provider_name: str
    provider_type: ProviderType
    provider_version: str


@attrs.frozen
class ImportResult:
    """What ImportSnapshots did: the copies imported, those it could not import, and the
    status QueryStatus gives (``VSS_S_ASYNC_FINISHED`` or ``VSS_S_SOME_SNAPSHOTS_NOT_IMPORTED``)."""

    imported: tuple[uuid.UUID, ...]
    not_imported: tuple[uuid.UUID, ...]
    async_status: HResult


class ManagementCalls(SessionBase):
    """The management calls, on any backup components object initialized for backup."""

    # -- what the object sees ----------------------------------------------------------------
    def sees(self, snapshot: ShadowCopy) -> bool:
        """Whether this object's context lets it see ``snapshot`` (its own context, or all)."""
        return self.context == Context.ALL or snapshot.context == self.context

    def _visible(self, snapshot_id: uuid.UUID) -> ShadowCopy:
        snapshot = self.coordinator.snapshots.get(snapshot_id)
        if snapshot is None or not self.sees(snapshot):
            raise VssError(
                HResult.VSS_E_OBJECT_NOT_FOUND,
                f"no shadow copy {snapshot_id} in {self.requester}'s context "
                f"{self.context.vss_name}",
            )
        return snapshot

    def _visible_set(self, set_id: uuid.UUID) -> list[ShadowCopy]:
        found = [s for s in self.coordinator.snapshots.values() if s.set_id == set_id]
        if not found or not all(self.sees(s) for s in found):
            raise VssError(
                HResult.VSS_E_OBJECT_NOT_FOUND,
                f"no shadow copy set {set_id} in {self.requester}'s context "
                f"{self.context.vss_name}",
            )
        return found

    # -- Query, GetSnapshotProperties --------------------------------------------------------
    def query(
        self,
        returned_objects_type: ObjectType | int = ObjectType.SNAPSHOT,
        *,
        snapshot_set_id: uuid.UUID | None = None,
    ) -> list[SnapshotProperties] | list[ProviderProperties]:
        """``Query``: the completed shadow copies of this object's context
        (``VSS_OBJECT_SNAPSHOT``), or the registered providers (``VSS_OBJECT_PROVIDER``); any
        other type is ``E_INVALIDARG``. ``snapshot_set_id`` keeps the copies of one set
        (vsssim's filter: VSS reserves QueriedObjectId, and filtering is the caller's)."""
        kind = _args.check_enum("returned_objects_type", returned_objects_type, ObjectType)
        _args.check_uuid("snapshot_set_id", snapshot_set_id, optional=True)
        if kind not in (ObjectType.SNAPSHOT, ObjectType.PROVIDER):
            raise VssError(
                HResult.E_INVALIDARG,
                "returned_objects_type: VSS_OBJECT_SNAPSHOT or VSS_OBJECT_PROVIDER",
            )
        self._check("query")
        coordinator = self.coordinator
        if kind == ObjectType.PROVIDER:
            providers = [
                ProviderProperties(p.provider_id, p.name, p.provider_type, p.version)
                for p in coordinator.providers
            ]
            self._record(None, V.QUERY, returned=kind.vss_name, found=len(providers))
            return providers
        found = [
            coordinator.snapshot_properties(s)
            for s in coordinator.snapshots.values()
            if self.sees(s) and snapshot_set_id in (None, s.set_id)
        ]
        self._record(None, V.QUERY, returned=kind.vss_name, found=len(found))
        return found

    def get_snapshot_properties(self, snapshot_id: uuid.UUID) -> SnapshotProperties:
        """``GetSnapshotProperties``: the ``VSS_SNAPSHOT_PROP`` of a shadow copy this object's
        context sees (``VSS_E_OBJECT_NOT_FOUND`` otherwise)."""
        _args.check_id("snapshot_id", snapshot_id)
        self._check("get_snapshot_properties")
        snapshot = self._visible(snapshot_id)
        self._record(
            7,
            V.GET_SNAPSHOT_PROPERTIES,
            snapshot_id=str(snapshot_id),
            volume=snapshot.volume.label,
            device=snapshot.device_object,
        )
        return self.coordinator.snapshot_properties(snapshot)

    # -- DeleteSnapshots ---------------------------------------------------------------------
    def delete_snapshots(
        self,
        source_object_id: uuid.UUID,
        source_object_type: ObjectType | int | None = None,
        force_delete: bool = False,
    ) -> int:
        """``DeleteSnapshots`` of one shadow copy (``VSS_OBJECT_SNAPSHOT``) or of every copy of
        a set (``VSS_OBJECT_SNAPSHOT_SET``); without a type, ``source_object_id`` may be
        either. Returns how many were deleted. The copies of a set are deleted in order; the
        first a provider fails stops the call: :class:`~vsssim.errors.DeleteSnapshotsError`
        carries the count deleted and that copy's id (``pNondeletedSnapshotID``)."""
        _args.check_id("source_object_id", source_object_id)
        kind = None
        if source_object_type is not None:
            kind = _args.check_enum("source_object_type", source_object_type, ObjectType)
            if kind not in (ObjectType.SNAPSHOT, ObjectType.SNAPSHOT_SET):
                raise VssError(
                    HResult.E_INVALIDARG,
                    "source_object_type: VSS_OBJECT_SNAPSHOT or VSS_OBJECT_SNAPSHOT_SET",
                )
        _args.check_bool("force_delete", force_delete)
        self._check("delete_snapshots")
        doomed = self._doomed(source_object_id, kind)
        deleted = 0
        for snapshot in doomed:
            try:
                coordinator_set.delete_snapshot(self.coordinator, snapshot)
            except VssError as failed:
                self._record_delete(source_object_id, force_delete, deleted, snapshot)
                raise DeleteSnapshotsError(
                    failed.hresult, failed.message, deleted, snapshot.snapshot_id
                ) from failed
            deleted += 1
        self._record_delete(source_object_id, force_delete, deleted, None)
        return deleted

    def _doomed(self, source: uuid.UUID, kind: ObjectType | None) -> list[ShadowCopy]:
        snapshots = self.coordinator.snapshots
        if kind != ObjectType.SNAPSHOT_SET and source in snapshots:
            return [self._visible(source)]
        if kind == ObjectType.SNAPSHOT:
            raise VssError(HResult.VSS_E_OBJECT_NOT_FOUND, f"no shadow copy {source}")
        return self._visible_set(source)

    def _record_delete(
        self, source: uuid.UUID, force: bool, deleted: int, stopped_at: ShadowCopy | None
    ) -> None:
        details: dict[str, object] = {"id": str(source), "deleted": deleted}
        if force:
            details["force"] = True
        if stopped_at is not None:
            details["not_deleted"] = str(stopped_at.snapshot_id)
        self._record(None, V.DELETE_SNAPSHOTS, **details)

    # -- ExposeSnapshot, UnexposeSnapshot ----------------------------------------------------
    def expose_snapshot(
        self,
        snapshot_id: uuid.UUID,
        path_from_root: str | None,
        attributes: SnapshotAttr | int,
        expose: str | None,
    ) -> str:
        """``ExposeSnapshot``: make a shadow copy visible, read-only, as a drive letter
        (``"X:"``) or mounted folder (``VSS_VOLSNAP_ATTR_EXPOSED_LOCALLY``, persistent copies
        only: "Exposing and Surfacing Shadow Copied Volumes"), or as a file share of the part
        ``path_from_root`` of the volume (``VSS_VOLSNAP_ATTR_EXPOSED_REMOTELY``; VSS names the
        share when ``expose`` is None). Returns the exposed name; the copy carries it (and the
        attribute) in its ``VSS_SNAPSHOT_PROP``."""
        _args.check_id("snapshot_id", snapshot_id)
        if path_from_root is not None:
            _args.check_path("path_from_root", path_from_root)
        if expose is not None:
            _args.check_path("expose", expose)
        if attributes not in EXPOSE_ATTRIBUTES:
            raise VssError(
                HResult.E_INVALIDARG,
                "attributes: VSS_VOLSNAP_ATTR_EXPOSED_LOCALLY or VSS_VOLSNAP_ATTR_EXPOSED_REMOTELY",
            )
        self._check("expose_snapshot")
        snapshot = self._visible(snapshot_id)
        if snapshot.exposed_name is not None:
            raise VssError(
                HResult.VSS_E_OBJECT_ALREADY_EXISTS,
                f"shadow copy {snapshot_id} is exposed already as {snapshot.exposed_name}",
            )
        if attributes == SnapshotAttr.EXPOSED_LOCALLY:
            name = self._local_name(snapshot, path_from_root, expose)
        else:
            name = self._share_name(snapshot, path_from_root, expose)
        snapshot.exposed_name, snapshot.exposed_path = name, path_from_root
        snapshot.attributes |= SnapshotAttr(attributes)
        self._record(
            None,
            V.EXPOSE_SNAPSHOT,
            snapshot_id=str(snapshot_id),
            volume=snapshot.volume.label,
            exposed=name,
            attributes=SnapshotAttr(attributes),
            read_only=True,
        )
        return name

    def _taken(self, name: str) -> ShadowCopy | None:
        key = normalize(name)
        for other in self.coordinator.snapshots.values():
            if other.exposed_name is not None and normalize(other.exposed_name) == key:
                return other
        return None

    def _local_name(
        self, snapshot: ShadowCopy, path_from_root: str | None, expose: str | None
    ) -> str:
        if path_from_root is not None or expose is None:
            raise VssError(
                HResult.E_INVALIDARG,
                "a copy exposed locally needs a drive letter or mounted folder (expose) and "
                "no path_from_root",
            )
        if not snapshot.attributes & SnapshotAttr.PERSISTENT:
            raise VssError(
                HResult.E_INVALIDARG,
                f"shadow copy {snapshot.snapshot_id} is not persistent: only persistent copies "
                "are exposed locally",
            )
        key = normalize(expose)
        namespace = self.coordinator.namespace
        drive = len(key) == 3 and key[0].isalpha() and key[1:] == ":\\"
        if not drive and (len(key) < 4 or key[1:3] != ":\\"):
            raise VssError(HResult.E_INVALIDARG, f"expose: {expose!r} is no drive letter or folder")
        on_volume = drive or namespace.volume_mounted_at(key[:3]) is not None
        if not on_volume:
            raise VssError(HResult.E_INVALIDARG, f"expose: {expose!r} is on no mounted volume")
        if namespace.volume_mounted_at(key) is not None or self._taken(expose) is not None:
            raise VssError(HResult.VSS_E_OBJECT_ALREADY_EXISTS, f"{expose} is in use already")
        return expose

    def _share_name(
        self, snapshot: ShadowCopy, path_from_root: str | None, expose: str | None
    ) -> str:
        if path_from_root is not None and any(c in path_from_root for c in "%*?"):
            raise VssError(
                HResult.E_INVALIDARG,
                f"path_from_root: {path_from_root!r} holds a variable or a wildcard",
            )
        name = expose if expose is not None else snapshot.device_object.rsplit("\\", 1)[-1]
        if _NOT_IN_SHARE_NAMES & set(name):
            raise VssError(HResult.E_INVALIDARG, f"expose: {name!r} is no share name")
        if self._taken(name) is not None:
            raise VssError(HResult.VSS_E_OBJECT_ALREADY_EXISTS, f"share {name} exists already")
        return name

    def unexpose_snapshot(self, snapshot_id: uuid.UUID) -> None:
        """``UnexposeSnapshot`` (IVssBackupComponentsEx2): remove the copy's drive letter,
        mounted folder or share; a copy not exposed is ``VSS_E_OBJECT_NOT_FOUND``."""
        _args.check_id("snapshot_id", snapshot_id)
        self._check("unexpose_snapshot")
        snapshot = self._visible(snapshot_id)
        if snapshot.exposed_name is None:
            raise VssError(
                HResult.VSS_E_OBJECT_NOT_FOUND, f"shadow copy {snapshot_id} is not exposed"
            )
        name, snapshot.exposed_name, snapshot.exposed_path = snapshot.exposed_name, None, None
        snapshot.attributes &= ~(SnapshotAttr.EXPOSED_LOCALLY | SnapshotAttr.EXPOSED_REMOTELY)
        self._record(None, V.UNEXPOSE_SNAPSHOT, snapshot_id=str(snapshot_id), exposed=name)

    # -- BreakSnapshotSet, BreakSnapshotSetEx ------------------------------------------------
    def break_snapshot_set(self, snapshot_set_id: uuid.UUID) -> None:
        """``BreakSnapshotSet``: VSS forgets the set; its hardware copies stay as volumes of
        their own. A set of the system provider cannot be broken (``VSS_E_PROVIDER_VETO``)."""
        _args.check_id("snapshot_set_id", snapshot_set_id)
        self._check("break_snapshot_set")
        self._break(snapshot_set_id, HardwareOptions(0))

    def break_snapshot_set_ex(
        self, snapshot_set_id: uuid.UUID, break_flags: HardwareOptions | int
    ) -> VssAsync:
        """``BreakSnapshotSetEx`` (IVssBackupComponentsEx2): BreakSnapshotSet with
        ``VSS_BREAKEX_FLAG_*`` options: mask the LUNs, make them read-write, revert their disk
        identities to the originals' (which fails, ``VSS_E_BREAK_REVERT_ID_FAILED``, while the
        original LUNs are on the host: in vsssim they always are) or keep them. The break is
        done when the call returns; its IVssAsync ends at once."""
        _args.check_id("snapshot_set_id", snapshot_set_id)
        if not isinstance(break_flags, int) or break_flags & ~BREAK_FLAGS or break_flags < 0:
            raise VssError(
                HResult.E_INVALIDARG, f"break_flags: not VSS_BREAKEX_FLAG_* bits: {break_flags!r}"
            )
        flags = HardwareOptions(break_flags)
        both = (
            _H.BREAKEX_FLAG_MASK_LUNS | _H.BREAKEX_FLAG_MAKE_READ_WRITE,
            _H.BREAKEX_FLAG_REVERT_IDENTITY_ALL | _H.BREAKEX_FLAG_REVERT_IDENTITY_NONE,
        )
        if any(flags & pair == pair for pair in both):
            raise VssError(HResult.E_INVALIDARG, f"break_flags: {flags!r} contradict each other")
        self._check("break_snapshot_set")
        self._break(snapshot_set_id, flags)
        return self._start(_nothing(), V.BREAK_SNAPSHOT_SET)

    def _break(self, set_id: uuid.UUID, flags: HardwareOptions) -> None:
        copies = self._visible_set(set_id)
        software = next(
            (s for s in copies if s.provider.provider_type != ProviderType.HARDWARE), None
        )
        if software is not None:
            raise VssError(
                HResult.VSS_E_PROVIDER_VETO,
                f"shadow copy {software.snapshot_id} was made by {software.provider.name}, a "
                "software provider: it cannot be broken",
            )
        waiting = next((s for s in copies if _waits_for_import(s)), None)
        if waiting is not None:
            raise VssError(
                HResult.VSS_E_BAD_STATE,
                f"shadow copy {waiting.snapshot_id} is transportable and not imported: import "
                "the set (ImportSnapshots) before breaking it",
            )
        lost = next((s for s in copies if not s.usable), None)
        if lost is not None:
            raise VssError(
                HResult.VSS_E_OBJECT_NOT_FOUND,
                f"shadow copy {lost.snapshot_id} is gone: {lost.invalid_reason}",
            )
        if flags & _H.BREAKEX_FLAG_REVERT_IDENTITY_ALL:
            raise VssError(
                HResult.VSS_E_BREAK_REVERT_ID_FAILED,
                f"the original LUNs of set {set_id} are on {self.coordinator.machine}: their "
                "identities cannot be given to the copies",
            )
        read_write = bool(flags & _H.BREAKEX_FLAG_MAKE_READ_WRITE)
        for snapshot in copies:
            snapshot.provider.break_snapshot(snapshot, read_write)
            self.coordinator._forget_snapshot(snapshot)
        details: dict[str, object] = {
            "set_id": str(set_id),
            "snapshots": [str(s.snapshot_id) for s in copies],
            "read_write": read_write,
        }
        if flags:
            details["flags"] = [f.vss_name for f in HardwareOptions if f & flags]
        self._record(None, V.BREAK_SNAPSHOT_SET, **details)

    # -- ImportSnapshots ---------------------------------------------------------------------
    def import_snapshots(self) -> VssAsync:
        """``ImportSnapshots``: surface on this host the transportable set whose Backup
        Components Document InitializeForBackup was given ("Importing Transportable Shadow
        Copied Volumes"). Only right after InitializeForBackup with a document
        (``VSS_E_BAD_STATE``); a document of no transportable set is
        ``VSS_E_NONTRANSPORTABLE_BCD``. The call's value is an :class:`ImportResult`;
        QueryStatus says ``VSS_S_SOME_SNAPSHOTS_NOT_IMPORTED`` when some copies could not be
        imported (deleted since, broken, imported before) and the call fails with
        ``VSS_E_NO_SNAPSHOTS_IMPORTED`` when none could. An imported copy carries
        ``VSS_VOLSNAP_ATTR_IMPORTED`` and may then be exposed, broken or deleted."""
        self._check("import_snapshots")
        document = self.transported_document
        if document is None:
            raise VssError(
                HResult.VSS_E_BAD_STATE,
                f"import_snapshots is not allowed now: {self.requester}'s InitializeForBackup "
                "was given no Backup Components Document to import",
            )
        if not document.snapshots or not all(s.transportable for s in document.snapshots):
            raise VssError(
                HResult.VSS_E_NONTRANSPORTABLE_BCD,
                f"the document of set {document.snapshot_set_id} describes no transportable "
                "shadow copy set (VSS_VOLSNAP_ATTR_TRANSPORTABLE)",
            )
        self._record(None, V.IMPORT_SNAPSHOTS, set_id=str(document.snapshot_set_id))
        return self._start(self._import(document), V.IMPORT_SNAPSHOTS)

    def _import(self, document: BackupComponentsDocument) -> ProcessGenerator:
        imported: list[uuid.UUID] = []
        refused: dict[uuid.UUID, str] = {}
        for described in document.snapshots:
            snapshot = self.coordinator.snapshots.get(described.snapshot_id)
            reason = _not_importable(snapshot, described.provider_id)
            if reason:
                refused[described.snapshot_id] = reason
                continue
            assert snapshot is not None
            snapshot.attributes |= SnapshotAttr.IMPORTED
            imported.append(snapshot.snapshot_id)
        status = (
            HResult.VSS_S_SOME_SNAPSHOTS_NOT_IMPORTED if refused else HResult.VSS_S_ASYNC_FINISHED
        )
        self._record(
            None,
            V.IMPORT_SNAPSHOTS_COMPLETE,
            set_id=str(document.snapshot_set_id),
            imported=[str(i) for i in imported],
            not_imported={str(i): why for i, why in refused.items()},
        )
        if not imported:
            raise VssError(
                HResult.VSS_E_NO_SNAPSHOTS_IMPORTED,
                f"no shadow copy of set {document.snapshot_set_id} could be imported: "
                + "; ".join(f"{i}: {why}" for i, why in refused.items()),
            )
        return ImportResult(tuple(imported), tuple(refused), status)
        yield  # a generator: the import runs as the call's process

    # -- RevertToSnapshot --------------------------------------------------------------------
    def revert_to_snapshot(self, snapshot_id: uuid.UUID, force_dismount: bool) -> None:
        """``RevertToSnapshot``: put the volume back as the shadow copy has it. Only copies of a
        persistent context (``VSS_E_UNSUPPORTED_CONTEXT``); one revert of a volume at a time
        (``VSS_E_REVERT_IN_PROGRESS``); a volume in a set being created or with its writes held
        cannot be locked (``VSS_E_VOLUME_IN_USE``); a provider that cannot revert says
        ``E_NOTIMPL``. A revert cannot be undone."""
        _args.check_id("snapshot_id", snapshot_id)
        _args.check_bool("force_dismount", force_dismount)
        self._check("revert_to_snapshot")
        snapshot = self._visible(snapshot_id)
        volume, provider = snapshot.volume, snapshot.provider
        if not snapshot.attributes & SnapshotAttr.PERSISTENT:
            raise VssError(
                HResult.VSS_E_UNSUPPORTED_CONTEXT,
                f"shadow copy {snapshot_id} ({snapshot.context.vss_name}) is not persistent: "
                "revert is only supported for persistent shadow copies",
            )
        if provider.revert_in_progress(volume):
            raise VssError(
                HResult.VSS_E_REVERT_IN_PROGRESS, f"volume {volume.label} is being reverted"
            )
        if volume.marked_by is not None or volume.held:
            raise VssError(
                HResult.VSS_E_VOLUME_IN_USE,
                f"volume {volume.label} cannot be locked: a shadow copy set is being made of it",
            )
        provider.revert_to_snapshot(snapshot)
        self._record(
            None,
            V.REVERT_TO_SNAPSHOT,
            snapshot_id=str(snapshot_id),
            volume=volume.label,
            provider=provider.name,
            force_dismount=force_dismount,
        )


def _waits_for_import(snapshot: ShadowCopy) -> bool:
    """Whether ``snapshot`` is transportable and not imported yet."""
    attributes = snapshot.attributes
    return bool(attributes & SnapshotAttr.TRANSPORTABLE and not attributes & SnapshotAttr.IMPORTED)


def _not_importable(snapshot: ShadowCopy | None, provider_id: uuid.UUID) -> str:
    """Why a described copy cannot be imported ("" when it can)."""
    if snapshot is None:
        return "the shadow copy no longer exists"
    if not snapshot.usable:
        return f"the shadow copy is lost: {snapshot.invalid_reason or snapshot.state.value}"
    if snapshot.provider.provider_id != provider_id:
        return f"the shadow copy was made by {snapshot.provider.name}, not provider {provider_id}"
    if not snapshot.attributes & SnapshotAttr.TRANSPORTABLE:
        return "the shadow copy is not transportable"
    if snapshot.attributes & SnapshotAttr.IMPORTED:
        return "the shadow copy is imported already"
    return ""


def _nothing() -> ProcessGenerator:
    """A process that ends at once (a call whose work is done when it returns)."""
    return
    yield
