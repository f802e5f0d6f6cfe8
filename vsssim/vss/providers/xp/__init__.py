"""The HP StorageWorks Disk Array XP: the array model and its VSS hardware provider."""

from vsssim.vss.providers.xp.array import Ldev, Pair, PairStatus, Pool, XpArray
from vsssim.vss.providers.xp.pairs import (
    PAIR_TRANSITIONS,
    PairCommand,
    PairCommandError,
    PairState,
    pair_graph,
)
from vsssim.vss.providers.xp.provider import XP_PROVIDER_ID, XpProvider
from vsssim.vss.providers.xp.replicas import (
    RESYNC_MAX_REPLICAS,
    Replica,
    ReplicaMode,
    ReplicaOptions,
)

__all__ = [
    "PAIR_TRANSITIONS",
    "RESYNC_MAX_REPLICAS",
    "XP_PROVIDER_ID",
    "Ldev",
    "Pair",
    "PairCommand",
    "PairCommandError",
    "PairState",
    "PairStatus",
    "Pool",
    "Replica",
    "ReplicaMode",
    "ReplicaOptions",
    "XpArray",
    "XpProvider",
    "pair_graph",
]
