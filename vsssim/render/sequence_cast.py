"""Who is in a sequence diagram, and what the whole trace tells of them before any is drawn.

A record's actor is a lifeline of the kind its action says (:func:`kind_of`): an agent, VSS, a
writer, a provider, an array or a volume. :class:`Cast` orders the lifelines; :class:`Context`
learns which agent owns each set and writer session, and which sets were committed."""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from vsssim.render.sequence_text import detail, natural_order, safe_id
from vsssim.sim import vocabulary as V
from vsssim.sim.trace import TraceRecord

#: The calls VSS makes on a provider (the provider is the actor of their records).
PROVIDER_ACTIONS: frozenset[str] = frozenset(
    {
        V.BEGIN_PREPARE_SNAPSHOT,
        V.END_PREPARE_SNAPSHOTS,
        V.PRE_COMMIT_SNAPSHOTS,
        V.COMMIT_SNAPSHOTS,
        V.POST_COMMIT_SNAPSHOTS,
        V.ABORT_SNAPSHOTS,
        V.DELETE_SNAPSHOT,
        V.SHADOW_COPY_DISCARDED,
        V.OLDEST_SHADOW_COPY_DELETED,
        V.PAIRS_SPLIT,
        V.REPLICA_LOST,
    }
)

#: What a disk array does (the array is the actor): RAID Manager commands, copies, reports.
ARRAY_ACTIONS: frozenset[str] = V.PAIR_COMMANDS | frozenset(
    {V.IMAGE_TAKEN, V.PAIRDISPLAY, V.RESTORE_INTERRUPTED, V.DISKS_SWITCHED}
)

#: What a writer does of its own (the writer is the actor): its freeze timing out, its calls on
#: its components in the Backup Components Document, what it tells of its history and logs.
WRITER_ACTIONS: frozenset[str] = frozenset(
    {
        V.FREEZE_TIMEOUT,
        V.SET_BACKUP_STAMP,
        V.ADD_PARTIAL_FILE,
        V.ADD_DIFFERENCED_FILES,
        V.PREVIOUS_BACKUP_STAMP_UNKNOWN,
        V.LOG_TRUNCATED,
    }
)

# Participant kinds, in the order they are declared (left to right in the diagram).
AGENT, COORDINATOR, WRITER, PROVIDER, VOLUME = "agent", "vss", "writer", "provider", "volume"
ARRAY = "array"
KIND_ORDER = (AGENT, COORDINATOR, WRITER, PROVIDER, ARRAY, VOLUME)


@attrs.frozen
class Participant:
    """One lifeline: its kind, the trace's name for it, its Mermaid id and its label."""

    kind: str
    name: str
    pid: str
    label: str


def kind_of(record: TraceRecord) -> str | None:
    """Which kind of party ``record``'s actor is, from what it does (None: not a lifeline)."""
    if record.actor == V.VSS:
        return COORDINATOR
    if record.actor == V.FAULT:
        return None
    first = record.action.split(" ", 1)[0]
    if first in V.WRITER_EVENTS or record.action in WRITER_ACTIONS:
        return WRITER
    if record.action in PROVIDER_ACTIONS:
        return PROVIDER
    if record.action in ARRAY_ACTIONS:
        return ARRAY
    if record.action in (V.WRITE, V.WRITE_HELD, V.WRITES, V.BLOCKS_REPLACED):
        return VOLUME
    return AGENT


def volumes_named(record: TraceRecord) -> list[str]:
    """The volume labels a record names in its details (fault records name sites instead)."""
    names: list[str] = []
    if record.actor != V.FAULT:
        volume = record.details.get("volume")
        if isinstance(volume, str):
            names.append(volume)
        volumes = record.details.get("volumes")
        if isinstance(volumes, list):
            names.extend(v for v in volumes if isinstance(v, str))
    return names


class Cast:
    """The participants of a run, found in its records, in a stable declaration order.

    Agents by name (``agent 2`` before ``agent 10``), then VSS, the writers in the order VSS
    lists their metadata (then any others as they appear), the providers as they appear, and the
    volumes in the order the trace first names them (the demo's setup writes give C:, D:, ...).
    """

    def __init__(self, records: Sequence[TraceRecord], start: int) -> None:
        seen: dict[str, dict[str, int]] = {kind: {} for kind in KIND_ORDER}
        volume_rank: dict[str, int] = {}
        writer_rank: dict[str, int] = {}
        mounts: dict[str, str] = {}
        for index, record in enumerate(records):
            for volume in volumes_named(record):
                volume_rank.setdefault(volume, len(volume_rank))
            if kind_of(record) == VOLUME:
                volume_rank.setdefault(record.actor, len(volume_rank))
            if record.action == V.ADD_TO_SNAPSHOT_SET:
                mounts.setdefault(
                    detail(record.details, "volume"), detail(record.details, "mount_point")
                )
            if record.action == V.GATHER_WRITER_METADATA_COMPLETE and not writer_rank:
                listed = record.details.get("writers")
                if isinstance(listed, list):
                    writer_rank = {str(w): i for i, w in enumerate(listed)}
            if index < start:
                continue
            kind = kind_of(record)
            if kind is not None:
                seen[kind].setdefault(record.actor, index)
            for volume in volumes_named(record):
                seen[VOLUME].setdefault(volume, index)
            if record.actor == V.VSS and "writer" in record.details:
                seen[WRITER].setdefault(detail(record.details, "writer"), index)
        seen[COORDINATOR].setdefault(V.VSS, start)

        orders: dict[str, list[str]] = {
            AGENT: sorted(seen[AGENT], key=natural_order),
            COORDINATOR: [V.VSS],
            WRITER: sorted(
                seen[WRITER],
                key=lambda w: (writer_rank.get(w, len(writer_rank)), seen[WRITER][w]),
            ),
            PROVIDER: sorted(seen[PROVIDER], key=seen[PROVIDER].__getitem__),
            ARRAY: sorted(seen[ARRAY], key=seen[ARRAY].__getitem__),
            VOLUME: sorted(seen[VOLUME], key=lambda v: volume_rank.get(v, len(volume_rank))),
        }
        taken: set[str] = set()
        self.participants: list[Participant] = []
        self._by_key: dict[tuple[str, str], Participant] = {}
        for kind in KIND_ORDER:
            for n, name in enumerate(orders[kind], 1):
                if kind == COORDINATOR:
                    pid, label = safe_id("", "VSS", taken), "VSS (coordinator)"
                elif kind == VOLUME:
                    pid, label = safe_id("vol_", name, taken), f"Volume {name}"
                    mount = mounts.get(name, "")
                    if mount and mount.rstrip("\\") != name:
                        label += f" ({mount})"
                else:
                    pid, label = safe_id(kind, str(n), taken), name
                participant = Participant(kind, name, pid, label)
                self.participants.append(participant)
                self._by_key[(kind, name)] = participant
        self.agents = [p for p in self.participants if p.kind == AGENT]
        self.volumes = [p for p in self.participants if p.kind == VOLUME]

    def get(self, kind: str, name: str) -> Participant | None:
        """The participant of this kind and name, if the run has one."""
        return self._by_key.get((kind, name))

    @property
    def vss(self) -> Participant:
        """The coordinator's lifeline."""
        return self._by_key[(COORDINATOR, V.VSS)]

    def by_name(self, name: str) -> Participant | None:
        """The writer, provider, array or agent called ``name`` (a fault site's target)."""
        for kind in (WRITER, PROVIDER, ARRAY, AGENT, COORDINATOR):
            found = self.get(kind, name)
            if found is not None:
                return found
        return None


class Context:
    """What the renderer learns from the whole trace before drawing: who owns which set, which
    sets were committed, and (with several agents) which agent each writer session serves."""

    def __init__(
        self, records: Sequence[TraceRecord], cast: Cast, quiet_actions: frozenset[str]
    ) -> None:
        self.set_owner: dict[str, str] = {}
        self.snapshot_set: dict[str, str] = {}
        self.set_members: dict[str, list[tuple[str, str]]] = {}
        self.committed: set[str] = set()
        self.session_agent: dict[str, str] = {}
        # DeleteSnapshots is recorded after the provider deletes it caused: its call arrow is
        # drawn before the first of them (seq of that record -> the DeleteSnapshots record).
        self.call_before: dict[int, TraceRecord] = {}
        aborted: set[str] = set()
        agent_names = {p.name for p in cast.agents}
        for index, record in enumerate(records):
            details = record.details
            set_id = detail(details, "set_id")
            if record.action == V.DELETE_SNAPSHOTS and record.actor in agent_names:
                first = index
                for earlier in range(index - 1, -1, -1):
                    previous = records[earlier]
                    if previous.action == V.DELETE_SNAPSHOT and previous.actor != V.VSS:
                        first = earlier
                    elif previous.action not in quiet_actions:
                        break
                self.call_before[records[first].seq] = record
            if record.action in (V.START_SNAPSHOT_SET, V.ADD_TO_SNAPSHOT_SET):
                self.set_owner.setdefault(set_id, record.actor)
            if record.action == V.ADD_TO_SNAPSHOT_SET:
                self.snapshot_set[detail(details, "snapshot_id")] = set_id
                self.set_members.setdefault(set_id, []).append(
                    (detail(details, "volume"), detail(details, "provider"))
                )
            if record.actor == V.VSS and record.action == V.ABORT and set_id:
                aborted.add(set_id)
            if record.action == V.RELEASE_WRITES and set_id not in aborted:
                self.committed.add(set_id)
            # An agent's GatherWriterMetadata names its session, which its writers' records name.
            session = details.get("session")
            if isinstance(session, str):
                if record.actor in agent_names and record.action == V.GATHER_WRITER_METADATA:
                    self.session_agent[session] = record.actor
                else:
                    self.session_agent.setdefault(session, "")
        self.several_agents = len(cast.agents) > 1

    def owner_of(self, record: TraceRecord) -> str:
        """The agent a VSS, provider or writer record works for ('' when unknown)."""
        details = record.details
        session = details.get("session")
        if isinstance(session, str):
            return self.session_agent.get(session, "")
        set_id = detail(details, "set_id") or self.snapshot_set.get(
            detail(details, "snapshot_id"), ""
        )
        return self.set_owner.get(set_id, "")

    def suffix(self, record: TraceRecord) -> str:
        """`` (for <agent>)`` when several agents share the diagram and the owner is known."""
        if not self.several_agents:
            return ""
        owner = self.owner_of(record)
        return f" (for {owner})" if owner else ""
