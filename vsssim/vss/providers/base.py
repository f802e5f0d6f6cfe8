"""The provider interface and the shadow copy entity every provider produces.

The calls mirror VSS's provider interfaces (``IVssHardwareSnapshotProvider`` /
``IVssProviderCreateSnapshotSet``): per-volume ``begin_prepare_snapshot``, then per set
``end_prepare_snapshots``, ``pre_commit_snapshots``, ``commit_snapshots`` (run while writes are
held: keep it short), ``post_commit_snapshots``, and ``abort_snapshots`` at any point before the
set is complete. The long calls are generators run as simulated processes; a provider fails a
call by raising :class:`~vsssim.errors.VssError`.
"""

from __future__ import annotations

import abc
import uuid
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import attrs

from vsssim.errors import HResult, VssError
from vsssim.sim.kernel import ProcessGenerator
from vsssim.vss.constants import Context, ProviderType, SnapshotAttr, SnapshotState
from vsssim.vss.hooks import NO_FAULTS, FaultHooks
from vsssim.vss.states import shadow_copy_next_state
from vsssim.vss.volumes import Volume

if TYPE_CHECKING:
    from vsssim.sim.kernel import Simulation


@runtime_checkable
class SetOptions(Protocol):
    """What a requester knows of a provider's product options for a set (the rest it hands
    over unread, through :meth:`Provider.configure_set`): whether the shadow copies stay after
    the backup (which needs a context whose copies outlive the session) and whether the set
    is recorded for instant recovery."""

    @property
    def keeps(self) -> bool:
        """True if the requester leaves the set's shadow copies after the backup."""

    @property
    def track_for_instant_recovery(self) -> bool:
        """True if the requester records the set for instant recovery."""


@attrs.define(eq=False)
class ShadowCopy:
    """One volume's shadow copy, from its addition to a set until it is deleted."""

    snapshot_id: uuid.UUID
    set_id: uuid.UUID
    volume: Volume
    provider: Provider
    attributes: SnapshotAttr
    device_object: str
    state: SnapshotState = SnapshotState.PREPARING
    created_us: int | None = None
    commit_seq: int | None = None
    invalid_reason: str = ""
    #: True until the requester that created it releases its session (its backup may still
    #: be reading it); a provider must not reuse its storage before.
    in_use: bool = True
    #: The context it was created in (``Query`` and the other management calls see a copy
    #: from an object of the same context, or of ``VSS_CTX_ALL``).
    context: Context = Context.BACKUP
    #: Where ``ExposeSnapshot`` exposed it (a drive letter, mounted folder or share name),
    #: and the part of the volume a share shows; None while it is not exposed.
    exposed_name: str | None = None
    exposed_path: str | None = None

    def advance(self, step: str) -> None:
        """Move to the state ``step`` leads to in the shadow copy table
        (:data:`~vsssim.vss.states.SHADOW_COPY_TRANSITIONS`); a step it does not allow from
        here raises :class:`~vsssim.vss.states.StateTableError`, changing nothing."""
        self.state = shadow_copy_next_state(
            f"{self.volume.label} {self.snapshot_id}", self.state, step
        )

    @property
    def usable(self) -> bool:
        """True while the copy exists and can be read."""
        return self.state == SnapshotState.CREATED and not self.invalid_reason

    def read(self, block: int) -> bytes | None:
        """The block as it was at the commit instant (None: never written)."""
        return self.provider.read_block(self, block)

    def read_range(self, blocks: range) -> dict[int, bytes]:
        """The written blocks of ``blocks`` as they were at the commit instant."""
        return self.provider.read_range(self, blocks)


class Provider(abc.ABC):
    """A shadow copy provider. ``name`` is what the trace shows."""

    provider_id: uuid.UUID
    name: str
    provider_type: ProviderType
    version: str = "1.0"

    def __init__(self, sim: Simulation) -> None:
        self.sim = sim
        #: What the provider asks where a fault can strike inside its own calls (set by the
        #: coordinator; see :mod:`vsssim.vss.hooks`).
        self.hooks: FaultHooks = NO_FAULTS

    def configure_set(self, set_id: uuid.UUID, options: object) -> None:  # noqa: B027 (optional)
        """Take a requester's product settings for set ``set_id`` (the default ignores them).

        VSS has no channel for these: a vendor's requester hands them to the same vendor's
        provider itself. Called after the set's volumes are added, before DoSnapshotSet.
        """

    @abc.abstractmethod
    def is_volume_supported(self, volume: Volume) -> bool:
        """Whether this provider can shadow-copy ``volume``."""

    def supports(self, volume: Volume, attributes: SnapshotAttr) -> bool:
        """Whether this provider can shadow-copy ``volume`` with ``attributes`` (a copy's
        kind, from its context: persistent or not...). The default asks only the volume."""
        return self.is_volume_supported(volume)

    def check_room(self, volume: Volume) -> None:
        """Raise the ``VssError`` AddToSnapshotSet gives when ``volume`` cannot have one more
        shadow copy now (the default has no limit)."""
        return

    @abc.abstractmethod
    def begin_prepare_snapshot(self, snapshot: ShadowCopy) -> ProcessGenerator:
        """Start preparing ``snapshot`` (may take long; must accept an abort at any time)."""

    @abc.abstractmethod
    def end_prepare_snapshots(self, set_id: uuid.UUID) -> ProcessGenerator:
        """Finish preparing every snapshot of the set."""

    @abc.abstractmethod
    def pre_commit_snapshots(self, set_id: uuid.UUID) -> ProcessGenerator:
        """Last step before writes are held."""

    @abc.abstractmethod
    def commit_snapshots(self, set_id: uuid.UUID) -> ProcessGenerator:
        """Make the shadow copies, all at this instant, while writes are held."""

    @abc.abstractmethod
    def post_commit_snapshots(self, set_id: uuid.UUID) -> ProcessGenerator:
        """Writes flow again; finish up."""

    @abc.abstractmethod
    def abort_snapshots(self, set_id: uuid.UUID) -> None:
        """Undo everything done for the set; a late call for it afterwards must do nothing."""

    @abc.abstractmethod
    def delete_snapshot(self, snapshot: ShadowCopy) -> None:
        """Free a created shadow copy."""

    def revert_in_progress(self, volume: Volume) -> bool:
        """Whether a revert of ``volume`` is still running (the default never has one)."""
        return False

    def revert_to_snapshot(self, snapshot: ShadowCopy) -> None:
        """Put ``snapshot``'s content back onto its volume (``RevertToSnapshot``); VSS checked
        the context and the volume first. The default does not revert: ``E_NOTIMPL``, as the
        RevertToSnapshot page says of a provider that does not support revert operations."""
        raise VssError(HResult.E_NOTIMPL, f"{self.name} does not support revert operations")

    def break_snapshot(self, snapshot: ShadowCopy, read_write: bool) -> None:  # noqa: B027
        """``BreakSnapshotSet``: ``snapshot`` stops being a shadow copy and stays as a volume
        of its own (read-write if asked); VSS forgets it after. VSS only asks a hardware
        provider; the default keeps nothing more to do."""

    @abc.abstractmethod
    def read_block(self, snapshot: ShadowCopy, block: int) -> bytes | None:
        """One block of a created shadow copy."""

    @abc.abstractmethod
    def read_range(self, snapshot: ShadowCopy, blocks: range) -> dict[int, bytes]:
        """The written blocks of ``blocks`` in a created shadow copy."""
