"""The HP StorageWorks Disk Array XP: the array model and its VSS hardware provider."""

from vsssim.providers.xp.array import Ldev, Pair, PairStatus, Pool, XpArray
from vsssim.providers.xp.pairs import (
    PAIR_TRANSITIONS,
    PairCommand,
    PairCommandError,
    PairState,
    pair_graph,
)

__all__ = [
    "PAIR_TRANSITIONS",
    "Ldev",
    "Pair",
    "PairCommand",
    "PairCommandError",
    "PairState",
    "PairStatus",
    "Pool",
    "XpArray",
    "pair_graph",
]
