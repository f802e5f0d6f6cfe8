"""The product's replica options, and the replica behind each shadow copy the XP provider made."""

from __future__ import annotations

import enum

import attrs

from vsssim.errors import ConfigurationError, HResult
from vsssim.sim.kernel import SECOND
from vsssim.vss.providers.base import ShadowCopy
from vsssim.vss.providers.xp.array import (
    BC_MIRROR_UNITS,
    Ldev,
    Pair,
)
from vsssim.vss.providers.xp.pairs import PairState


class ReplicaMode(enum.Enum):
    """How the provider leaves a replica after the backup (HP's two configuration modes)."""

    VSS_COMPLIANT = "VSS compliant"  # pair deleted: a clone; restore by switching disks
    RESYNC = "resync"  # pair left split; restore by reverse resync

    def __str__(self) -> str:
        return self.value


#: Replicas a P-VOL can have in resync mode: one per Business Copy mirror unit (MU 0-2).
RESYNC_MAX_REPLICAS = BC_MIRROR_UNITS


def _positive(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if value < 1:
        raise ConfigurationError(f"{attribute.name} must be at least 1, not {value}")


@attrs.frozen
class ReplicaOptions:
    """The backup product's options for array replicas, as it names them.

    ``replicas_rotated``: how many replicas per P-VOL the backups rotate through (the oldest
    is reused); ``keep_replica``: the agent keeps the replica after the backup instead of
    deleting it; ``track_for_instant_recovery``: the agent records the replica for instant
    recovery, which forces keeping it (both the agent's choice: in a provider's own options
    they mean nothing); ``sync_wait_us``: how long the mirrors may take to
    synchronise before the session is aborted; ``pool``: take snapshot pairs into this
    Snapshot pool instead of split mirrors (an extension: the 2008-era provider had none).
    """

    mode: ReplicaMode = ReplicaMode.RESYNC
    replicas_rotated: int = attrs.field(default=1, validator=_positive)
    keep_replica: bool = False
    track_for_instant_recovery: bool = False
    sync_wait_us: int = attrs.field(default=10 * 60 * SECOND, validator=_positive)
    pool: int | None = None

    def __attrs_post_init__(self) -> None:
        if self.mode is ReplicaMode.RESYNC and self.replicas_rotated > RESYNC_MAX_REPLICAS:
            raise ConfigurationError(
                f"resync mode rotates at most {RESYNC_MAX_REPLICAS} replicas per P-VOL "
                f"(MU 0-2), not {self.replicas_rotated}"
            )
        if self.mode is ReplicaMode.VSS_COMPLIANT and self.pool is not None:
            raise ConfigurationError(
                "a snapshot pair cannot be deleted and kept: snapshots need resync mode"
            )

    @property
    def kind(self) -> str:
        """The pair kind the replicas are: ``BC`` (split mirror) or ``SS`` (snapshot)."""
        return "BC" if self.pool is None else "SS"

    @property
    def keeps(self) -> bool:
        """Whether the replica outlives the backup (tracking forces keeping)."""
        return self.keep_replica or self.track_for_instant_recovery


@attrs.define(eq=False)
class Replica:
    """One volume's replica: the shadow copy, the pair that made it, what it replaced."""

    snapshot: ShadowCopy
    mode: ReplicaMode
    pvol: Ldev
    svol: Ldev
    pair: Pair | None
    #: The pair's state before this set touched it (SMPL: the set created the pair).
    before: PairState
    image_seq: int | None = None
    image_us: int | None = None
    gone: str = ""  # why the image cannot be read any more
    #: What reading a lost image fails with (a Snapshot pool overflow: out of storage).
    lost_with: HResult = HResult.VSS_E_OBJECT_NOT_FOUND

    @property
    def usable(self) -> bool:
        """Whether the image can still be read."""
        return self.image_seq is not None and not self.gone and self.snapshot.usable
