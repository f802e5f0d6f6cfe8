"""The XP array's pair state machine, as data (the code runs on it and ``vsssim graph xp-pair``
draws it).

A Business Copy pair joins a P-VOL (the production LDEV) and an S-VOL per mirror unit. Its
states are the array's own, finer ones (``COPY(PD)``, ``PSUS(SP)``... as Remote Web Console
shows them); ``pairdisplay`` prints RAID Manager's coarser status names
(:data:`RAID_MANAGER_STATUS`, after the "RAID Manager pair status names" table of the HP XP7
Business Copy User Guide): ``COPY`` for the initial copy, a steady split and a resync, ``RCPY``
for a reverse resync, ``PSUS`` for a quick split still copying and for a split P-VOL, ``SSUS``
for a split S-VOL. Commands are RAID Manager's, accepted in the states the "Pair status and
supported pair user tasks" table of that guide allows (a quick split still copying,
``PSUS(SP)``, takes a resync but no split, reverse resync or delete; a resync under way,
``COPY(RS)``, takes no split); a command a state does not accept is refused
(:class:`PairCommandError`). The array moves a pair on by itself when a copy finishes (``copy
done``) or an error suspends it (``suspend``). Snapshot pairs use the same states: ``PAIR``
waits for a split, the split takes the snapshot, ``PSUE`` means the pool overflowed and the
snapshot is lost. Their status names are the same set (table 4 of the HP XP24000/XP20000
Snapshot User Guide) less ``PFUL``/``PFUS``: the model has no pool threshold.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

import networkx as nx

from vsssim.errors import VssimError
from vsssim.sim import vocabulary as V
from vsssim.vss.states import check_machine


class PairState(enum.Enum):
    """A pair's status as ``pairdisplay`` prints it."""

    SMPL = "SMPL"  # no pair (simplex)
    COPY_PD = "COPY(PD)"  # initial copy under way
    PAIR = "PAIR"  # in sync: every P-VOL update is copied
    COPY_SP = "COPY(SP)"  # steady split: the S-VOL gets the last updates, then PSUS
    PSUS_SP = "PSUS(SP)"  # quick split: S-VOL usable now, the rest copied in the background
    PSUS = "PSUS"  # split: both sides track the tracks they change
    COPY_RS = "COPY(RS)"  # resync: changed tracks copied P-VOL -> S-VOL
    COPY_RS_R = "COPY(RS-R)"  # reverse resync (restore): S-VOL -> P-VOL; P-VOL offline
    PSUE = "PSUE"  # suspended by an error: every track counts as changed

    def __str__(self) -> str:
        return self.value


class PairCommand(enum.Enum):
    """RAID Manager commands, and the array's own moves (``COPY_DONE``, ``SUSPEND``)."""

    CREATE = V.PAIRCREATE
    SPLIT = V.PAIRSPLIT
    QUICK_SPLIT = V.PAIRSPLIT_QUICK
    RESYNC = V.PAIRRESYNC
    RESTORE = V.PAIRRESYNC_RESTORE
    DELETE = V.PAIRSPLIT_DELETE
    COPY_DONE = V.COPY_DONE
    SUSPEND = V.SUSPEND

    def __str__(self) -> str:
        return self.value


_P = PairState
_C = PairCommand

#: What the array does by itself; RAID Manager cannot send these.
ARRAY_MOVES: frozenset[PairCommand] = frozenset({_C.COPY_DONE, _C.SUSPEND})

#: States where a copy runs in the background and ends with ``COPY_DONE``.
COPYING: frozenset[PairState] = frozenset(
    {_P.COPY_PD, _P.COPY_SP, _P.PSUS_SP, _P.COPY_RS, _P.COPY_RS_R}
)


def _pair_table() -> dict[tuple[PairState, PairCommand], PairState]:
    table: dict[tuple[PairState, PairCommand], PairState] = {
        (_P.SMPL, _C.CREATE): _P.COPY_PD,
        (_P.COPY_PD, _C.COPY_DONE): _P.PAIR,
        # A split of a pair still copying waits for the copy (steady split).
        (_P.COPY_PD, _C.SPLIT): _P.COPY_SP,
        (_P.PAIR, _C.SPLIT): _P.COPY_SP,
        (_P.PAIR, _C.QUICK_SPLIT): _P.PSUS_SP,
        (_P.COPY_SP, _C.COPY_DONE): _P.PSUS,
        (_P.PSUS_SP, _C.COPY_DONE): _P.PSUS,
        (_P.PSUS, _C.RESYNC): _P.COPY_RS,
        (_P.PSUE, _C.RESYNC): _P.COPY_RS,
        # A quick split still copying in the background may be resynced (not split again,
        # restored or deleted); a resync under way cannot be split (HP XP7 Business Copy User
        # Guide, "Pair status and supported pair user tasks").
        (_P.PSUS_SP, _C.RESYNC): _P.COPY_RS,
        (_P.COPY_RS, _C.COPY_DONE): _P.PAIR,
        # Reverse resync only from a split pair: the S-VOL must be a consistent image.
        (_P.PSUS, _C.RESTORE): _P.COPY_RS_R,
        (_P.COPY_RS_R, _C.COPY_DONE): _P.PAIR,
    }
    for state in PairState:
        if state is not _P.SMPL and state is not _P.PSUS_SP:
            table[(state, _C.DELETE)] = _P.SMPL
        if state is not _P.SMPL and state is not _P.PSUE:
            table[(state, _C.SUSPEND)] = _P.PSUE
    return table


#: (state, command) -> state after it; a pair not in the table refuses the command.
PAIR_TRANSITIONS: Mapping[tuple[PairState, PairCommand], PairState] = _pair_table()

#: What ``pairdisplay`` prints for a pair in each state: (the P-VOL's status, the S-VOL's).
RAID_MANAGER_STATUS: Mapping[PairState, tuple[str, str]] = {
    _P.SMPL: ("SMPL", "SMPL"),
    _P.COPY_PD: ("COPY", "COPY"),
    _P.PAIR: ("PAIR", "PAIR"),
    _P.COPY_SP: ("COPY", "COPY"),
    _P.PSUS_SP: ("PSUS", "PSUS"),
    _P.PSUS: ("PSUS", "SSUS"),
    _P.COPY_RS: ("COPY", "COPY"),
    _P.COPY_RS_R: ("RCPY", "RCPY"),
    _P.PSUE: ("PSUE", "PSUE"),
}


class PairCommandError(VssimError):
    """The array refused a command: the pair's state does not accept it."""

    def __init__(self, pair: str, state: PairState, command: PairCommand) -> None:
        accepted = sorted(
            str(c) for (s, c) in PAIR_TRANSITIONS if s is state and c not in ARRAY_MOVES
        )
        super().__init__(
            f"pair {pair} is {state}: {command} is not accepted in that state "
            f"(accepted: {', '.join(accepted) or 'none'})"
        )
        self.pair = pair
        self.state = state
        self.command = command

    def __reduce__(self) -> tuple[type[PairCommandError], tuple[str, PairState, PairCommand]]:
        return (type(self), (self.pair, self.state, self.command))


def pair_next_state(pair: str, state: PairState, command: PairCommand) -> PairState:
    """The state after ``command``, or :class:`PairCommandError` naming pair, state, command."""
    target = PAIR_TRANSITIONS.get((state, command))
    if target is None:
        raise PairCommandError(pair, state, command)
    return target


def pair_graph() -> nx.MultiDiGraph:
    """The pair machine as a graph; edges carry the ``event`` (the command)."""
    graph = nx.MultiDiGraph()
    graph.add_nodes_from(PairState)
    for (state, command), target in PAIR_TRANSITIONS.items():
        graph.add_edge(state, target, event=str(command))
    return graph


check_machine("XP pair states", pair_graph(), PairState.SMPL, {PairState.SMPL})
