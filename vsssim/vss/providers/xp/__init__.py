"""The HP StorageWorks Disk Array XP: the array model and its VSS hardware provider."""

from vsssim.vss.providers.xp.array import Ldev, Pair, PairStatus, Pool, XpArray
from vsssim.vss.providers.xp.pairs import (
    PAIR_TRANSITIONS,
    PairCommand,
    PairCommandError,
    PairState,
    pair_graph,
)
from vsssim.vss.providers.xp.provider import (
    XP_PROVIDER_ID,
    Replica,
    ReplicaMode,
    ReplicaOptions,
    XpProvider,
)

__all__ = [
    "PAIR_TRANSITIONS",
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
