"""A run as a Mermaid sequence diagram: who called whom, phase by phase.

The narrated text tells one record a line; the diagram shows the same run as the conversation it
is: each agent (requester) calling VSS, VSS sending events to the writers and calls to the
providers, writers replying, and VSS flushing, holding and releasing the writes of the volumes.
The seven phases of the narration (:data:`~vsssim.render.text.PHASE_TITLES`) are shaded ``rect``
blocks, each headed by a note; failures are crossed arrows (``-x``/``--x``) or notes that name
the ``VSS_E_*`` result, and injected faults are notes over their target.

Everything is drawn from the trace alone, so any finished run can be drawn. Workload writes are
not drawn one by one (a busy server makes thousands): each phase block ends with a note counting
them per volume, and each release of writes says how many held writes it applied. Text is
escaped with Mermaid's entity codes (``#59;`` for ``;`` and so on) so that names and reasons
cannot break the diagram's grammar; the output is a pure function of the trace.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable, Mapping, Sequence

import attrs

from vsssim.render.text import AFTER_TITLE, PHASE_TITLES, section_of
from vsssim.sim import vocabulary as V
from vsssim.sim.trace import Json, Trace, TraceRecord
from vsssim.vss.providers.xp.pairs import PairCommand
from vsssim.vss.states import WRITER_EVENTS

#: Actions counted and summarised rather than drawn (as ``render_text`` leaves them out).
QUIET_ACTIONS: frozenset[str] = frozenset({V.WRITE, V.WRITE_HELD})

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
        V.PAIRS_SPLIT,
        V.REPLICA_LOST,
    }
)

#: What a disk array does (the array is the actor): RAID Manager commands, copies, reports.
ARRAY_ACTIONS: frozenset[str] = frozenset(
    {str(command) for command in PairCommand}
    | {V.IMAGE_TAKEN, V.PAIRDISPLAY, V.RESTORE_INTERRUPTED, V.DISKS_SWITCHED}
)

#: What a writer does of its own (the writer is the actor): its freeze timing out, its calls on
#: its components in the Backup Components Document, what it tells of its history and logs.
WRITER_ACTIONS: frozenset[str] = frozenset(
    {
        V.FREEZE_TIMEOUT,
        V.SET_BACKUP_STAMP,
        V.ADD_PARTIAL_FILE,
        V.PREVIOUS_BACKUP_STAMP_UNKNOWN,
        V.LOG_TRUNCATED,
    }
)

#: Requester calls drawn as a plain ``agent ->> VSS`` arrow with no arguments worth showing.
_PLAIN_CALLS = frozenset(
    {
        V.INITIALIZE_FOR_BACKUP,
        V.GATHER_WRITER_METADATA,
        V.GATHER_WRITER_STATUS,
        V.BACKUP_COMPLETE,
        V.ABORT_BACKUP,
        V.RELEASE,
    }
)

# Participant kinds, in the order they are declared (left to right in the diagram).
_AGENT, _VSS, _WRITER, _PROVIDER, _VOLUME = "agent", "vss", "writer", "provider", "volume"
_ARRAY = "array"
_KIND_ORDER = (_AGENT, _VSS, _WRITER, _PROVIDER, _ARRAY, _VOLUME)

# Shading of the phase blocks (and of the blocks before phase 1 and after phase 7).
_PHASE_COLOURS: Mapping[object, str] = {
    1: "rgb(235, 243, 255)",
    2: "rgb(238, 250, 238)",
    3: "rgb(255, 248, 230)",
    4: "rgb(243, 236, 255)",
    5: "rgb(230, 248, 250)",
    6: "rgb(255, 236, 236)",
    7: "rgb(240, 255, 240)",
    "after": "rgb(245, 245, 245)",
    "before": "rgb(245, 245, 245)",
}
BEFORE_TITLE = "Before phase 1: what happened before any agent's first call"

_UUID = re.compile(r"\b([0-9a-f]{8})-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")
# What cannot appear raw in Mermaid text: ';' ends a statement, '#' starts a comment (and
# Mermaid's own entity codes), '%%' a comment, '<' '>' '&' would be read as HTML.
_ENTITIES: Mapping[str, str] = {
    "#": "#35;",
    ";": "#59;",
    "%": "#37;",
    "<": "#lt;",
    ">": "#gt;",
    "&": "#amp;",
    "{": "#123;",
    "}": "#125;",
    '"': "#quot;",
}
_MAX_TEXT = 110


def escape(text: str, *, limit: int = _MAX_TEXT) -> str:
    """``text`` made safe for a Mermaid message, note or alias: one line, entity-encoded.

    Whitespace runs become one space, long text is clipped to ``limit`` characters (before
    encoding, with an ellipsis) and the result is never empty. A leading ``wrap:`` or
    ``nowrap:`` (a Mermaid directive there) is defused.
    """
    flat = " ".join(text.split())
    if len(flat) > limit:
        flat = flat[: limit - 1].rstrip() + "\u2026"
    encoded = "".join(_ENTITIES.get(ch, ch) for ch in flat)
    if re.match(r"(?i)(no)?wrap:", encoded):
        encoded = f"#{ord(encoded[0])};{encoded[1:]}"
    return encoded or "#160;"


def _short(text: str) -> str:
    """UUIDs shortened to their first group: ``5afb7c4f`` reads better than 36 characters."""
    return _UUID.sub(r"\1", text)


def _str(details: Mapping[str, Json], key: str) -> str:
    """A detail as plain text ('' when absent): lists joined with commas, objects as k: v."""
    value = details.get(key)
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(_str({"v": v}, "v") for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_str(value, k)}" for k in value)
    return str(value)


def _size(size: Json) -> str:
    """A byte count as MiB or GiB, the unit a file copy is read in."""
    if not isinstance(size, int) or isinstance(size, bool):
        return "?"
    mib = size / 1024**2
    return f"{mib / 1024:g} GiB" if mib >= 1024 else f"{mib:g} MiB"


@attrs.frozen
class _Participant:
    """One lifeline: its kind, the trace's name for it, its Mermaid id and its label."""

    kind: str
    name: str
    pid: str
    label: str


@attrs.define
class _Section:
    """One phase block; counts the quiet records (workload writes) that fall in it."""

    key: object
    landed: dict[str, int] = attrs.field(factory=dict)
    held: dict[str, int] = attrs.field(factory=dict)


def _kind_of(record: TraceRecord) -> str | None:
    """Which kind of party ``record``'s actor is, from what it does (None: not a lifeline)."""
    if record.actor == V.VSS:
        return _VSS
    if record.actor == V.FAULT:
        return None
    first = record.action.split(" ", 1)[0]
    if first in WRITER_EVENTS or record.action in WRITER_ACTIONS:
        return _WRITER
    if record.action in PROVIDER_ACTIONS:
        return _PROVIDER
    if record.action in ARRAY_ACTIONS:
        return _ARRAY
    if record.action in (V.WRITE, V.WRITE_HELD, V.BLOCKS_REPLACED):
        return _VOLUME
    return _AGENT


def _volumes_named(record: TraceRecord) -> list[str]:
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


def _natural(name: str) -> list[tuple[int, str]]:
    """Sort key that puts ``agent 2`` before ``agent 10``."""
    return [(int(part), "") if part.isdigit() else (-1, part) for part in re.split(r"(\d+)", name)]


def _safe_id(prefix: str, name: str, taken: set[str]) -> str:
    """A unique Mermaid id: letters, digits and '_' only, led by a prefix no keyword starts."""
    base = prefix + (re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_") or "x")
    pid, n = base, 2
    while pid in taken:
        pid, n = f"{base}_{n}", n + 1
    taken.add(pid)
    return pid


class _Cast:
    """The participants of a run, found in its records, in a stable declaration order.

    Agents by name (``agent 2`` before ``agent 10``), then VSS, the writers in the order VSS
    lists their metadata (then any others as they appear), the providers as they appear, and the
    volumes in the order the trace first names them (the demo's setup writes give C:, D:, ...).
    """

    def __init__(self, records: Sequence[TraceRecord], start: int) -> None:
        seen: dict[str, dict[str, int]] = {kind: {} for kind in _KIND_ORDER}
        volume_rank: dict[str, int] = {}
        writer_rank: dict[str, int] = {}
        mounts: dict[str, str] = {}
        for index, record in enumerate(records):
            for volume in _volumes_named(record):
                volume_rank.setdefault(volume, len(volume_rank))
            if _kind_of(record) == _VOLUME:
                volume_rank.setdefault(record.actor, len(volume_rank))
            if record.action == V.ADD_TO_SNAPSHOT_SET:
                mounts.setdefault(
                    _str(record.details, "volume"), _str(record.details, "mount_point")
                )
            if record.action == V.GATHER_WRITER_METADATA_COMPLETE and not writer_rank:
                listed = record.details.get("writers")
                if isinstance(listed, list):
                    writer_rank = {str(w): i for i, w in enumerate(listed)}
            if index < start:
                continue
            kind = _kind_of(record)
            if kind is not None:
                seen[kind].setdefault(record.actor, index)
            for volume in _volumes_named(record):
                seen[_VOLUME].setdefault(volume, index)
            if record.actor == V.VSS and "writer" in record.details:
                seen[_WRITER].setdefault(_str(record.details, "writer"), index)
        seen[_VSS].setdefault(V.VSS, start)

        orders: dict[str, list[str]] = {
            _AGENT: sorted(seen[_AGENT], key=_natural),
            _VSS: [V.VSS],
            _WRITER: sorted(
                seen[_WRITER],
                key=lambda w: (writer_rank.get(w, len(writer_rank)), seen[_WRITER][w]),
            ),
            _PROVIDER: sorted(seen[_PROVIDER], key=seen[_PROVIDER].__getitem__),
            _ARRAY: sorted(seen[_ARRAY], key=seen[_ARRAY].__getitem__),
            _VOLUME: sorted(seen[_VOLUME], key=lambda v: volume_rank.get(v, len(volume_rank))),
        }
        taken: set[str] = set()
        self.participants: list[_Participant] = []
        self._by_key: dict[tuple[str, str], _Participant] = {}
        for kind in _KIND_ORDER:
            for n, name in enumerate(orders[kind], 1):
                if kind == _VSS:
                    pid, label = _safe_id("", "VSS", taken), "VSS (coordinator)"
                elif kind == _VOLUME:
                    pid, label = _safe_id("vol_", name, taken), f"Volume {name}"
                    mount = mounts.get(name, "")
                    if mount and mount.rstrip("\\") != name:
                        label += f" ({mount})"
                else:
                    pid, label = _safe_id(kind, str(n), taken), name
                participant = _Participant(kind, name, pid, label)
                self.participants.append(participant)
                self._by_key[(kind, name)] = participant
        self.agents = [p for p in self.participants if p.kind == _AGENT]
        self.volumes = [p for p in self.participants if p.kind == _VOLUME]

    def get(self, kind: str, name: str) -> _Participant | None:
        """The participant of this kind and name, if the run has one."""
        return self._by_key.get((kind, name))

    @property
    def vss(self) -> _Participant:
        """The coordinator's lifeline."""
        return self._by_key[(_VSS, V.VSS)]

    def by_name(self, name: str) -> _Participant | None:
        """The writer, provider, array or agent called ``name`` (a fault site's target)."""
        for kind in (_WRITER, _PROVIDER, _ARRAY, _AGENT, _VSS):
            found = self.get(kind, name)
            if found is not None:
                return found
        return None


class _Context:
    """What the renderer learns from the whole trace before drawing: who owns which set, which
    sets were committed, and (with several agents) which agent each writer session serves."""

    def __init__(
        self, records: Sequence[TraceRecord], cast: _Cast, quiet_actions: frozenset[str]
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
        waiting: deque[str] = deque()
        agent_names = {p.name for p in cast.agents}
        for index, record in enumerate(records):
            details = record.details
            set_id = _str(details, "set_id")
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
                self.snapshot_set[_str(details, "snapshot_id")] = set_id
                self.set_members.setdefault(set_id, []).append(
                    (_str(details, "volume"), _str(details, "provider"))
                )
            if record.actor == V.VSS and record.action == V.ABORT and set_id:
                aborted.add(set_id)
            if record.action == V.RELEASE_WRITES and set_id not in aborted:
                self.committed.add(set_id)
            # A session's first writer event is the OnIdentify of its GatherWriterMetadata;
            # the coordinator sends them in the order the agents call.
            if record.actor in agent_names and record.action == V.GATHER_WRITER_METADATA:
                waiting.append(record.actor)
            if record.action == V.GATHER_WRITER_METADATA_COMPLETE and record.actor in waiting:
                waiting.remove(record.actor)  # no writer heard it: it opened no session
            session = details.get("session")
            if isinstance(session, str) and session not in self.session_agent:
                owner = waiting.popleft() if waiting and record.action == V.ON_IDENTIFY else ""
                self.session_agent[session] = owner
        self.several_agents = len(cast.agents) > 1

    def owner_of(self, record: TraceRecord) -> str:
        """The agent a VSS, provider or writer record works for ('' when unknown)."""
        details = record.details
        session = details.get("session")
        if isinstance(session, str):
            return self.session_agent.get(session, "")
        set_id = _str(details, "set_id") or self.snapshot_set.get(_str(details, "snapshot_id"), "")
        return self.set_owner.get(set_id, "")

    def suffix(self, record: TraceRecord) -> str:
        """`` (for <agent>)`` when several agents share the diagram and the owner is known."""
        if not self.several_agents:
            return ""
        owner = self.owner_of(record)
        return f" (for {owner})" if owner else ""


class _Diagram:
    """The lines of the diagram being written, with helpers for Mermaid's statements."""

    def __init__(self, cast: _Cast) -> None:
        self.cast = cast
        self.lines = ["sequenceDiagram"]
        for p in cast.participants:
            self.lines.append(f"    participant {p.pid} as {escape(p.label)}")
        self.indent = "    "
        self.shown: set[object] = set()

    def arrow(self, source: _Participant, kind: str, target: _Participant, text: str) -> None:
        """A message: ``->>`` call, ``-->>`` reply, ``-x``/``--x`` failure or abort."""
        self.lines.append(f"{self.indent}{source.pid}{kind}{target.pid}: {escape(text)}")

    def note(self, over: Iterable[_Participant], text: str) -> None:
        """A note over one participant or spanning from the first to the last given."""
        pids = [p.pid for p in over]
        span = pids[0] if len(pids) == 1 or pids[0] == pids[-1] else f"{pids[0]},{pids[-1]}"
        self.lines.append(f"{self.indent}Note over {span}: {escape(text, limit=400)}")

    def open_section(self, key: object) -> None:
        """Start a shaded phase block headed by the phase's title."""
        colour = _PHASE_COLOURS.get(key, _PHASE_COLOURS["after"])
        self.lines.append(f"    rect {colour}")
        self.indent = "        "
        if isinstance(key, int):
            title = f"Phase {key} \u2014 {PHASE_TITLES[key]}"
            if key in self.shown:  # agents interleave: name the phase again, briefly
                title = f"Phase {key} (again)"
        elif key == "before":
            title = BEFORE_TITLE
        else:
            title = AFTER_TITLE if key not in self.shown else "After phase 7 (again)"
        self.shown.add(key)
        everyone = self.cast.participants
        self.note([everyone[0], everyone[-1]], title)

    def close_section(self, section: _Section) -> None:
        """End a phase block, first counting the workload writes it did not draw.

        A held write is counted twice on purpose: held when the gate stopped it, landed when
        the release applied it.
        """
        volumes = self.cast.volumes
        landed, held = sum(section.landed.values()), sum(section.held.values())
        if (landed or held) and volumes:
            text = f"{landed} application writes landed, not drawn"
            text += f" ({_per_volume(section.landed, volumes)})"
            if held:
                text += f". {held} held at the write gate ({_per_volume(section.held, volumes)})"
            self.note([volumes[0], volumes[-1]], text)
        self.lines.append("    end")
        self.indent = "    "


def _per_volume(counts: Mapping[str, int], volumes: Sequence[_Participant]) -> str:
    """``3 on C:, 7 on F:`` in the volumes' declaration order."""
    return ", ".join(f"{counts[v.name]} on {v.name}" for v in volumes if v.name in counts)


def _results_text(call: str, results: Json) -> str:
    """The reply to a call that went to writers: how many said S_OK, or who failed with what."""
    if not isinstance(results, dict) or not results:
        return f"{call} complete"
    failed = [f"{w} {r}" for w, r in results.items() if r != "S_OK"]
    if not failed:
        return f"{call} complete: {len(results)} writers S_OK"
    return f"{call} complete: " + ", ".join(failed)


def _status_text(writers: Json) -> str:
    """The GatherWriterStatus reply: the failed writers with state and error, if any."""
    if not isinstance(writers, dict):
        return "GatherWriterStatus complete"
    bad = []
    for name, status in writers.items():
        if not isinstance(status, dict):
            continue
        state, failure = str(status.get("state", "")), str(status.get("failure", ""))
        if failure != "S_OK" or "FAILED" in state:
            bad.append(f"{name} {state} {failure}")
    if not bad:
        return f"GatherWriterStatus complete: {len(writers)} writers, none failed"
    return "GatherWriterStatus complete: " + ", ".join(bad)


class _Renderer:
    """Draws each record; the dispatch follows the actor's kind and the action."""

    def __init__(self, diagram: _Diagram, cast: _Cast, context: _Context) -> None:
        self.d = diagram
        self.cast = cast
        self.ctx = context

    def draw(self, record: TraceRecord) -> None:
        """Draw one (non-quiet) record."""
        call = self.ctx.call_before.get(record.seq)
        if call is not None:
            agent = self.cast.get(_AGENT, call.actor)
            assert agent is not None
            text = _short(f"DeleteSnapshots(set {_str(call.details, 'id')})")
            self.d.arrow(agent, "->>", self.cast.vss, text)
        kind = _kind_of(record)
        if record.actor == V.FAULT:
            self._fault(record)
        elif kind == _VSS:
            self._vss(record)
        elif kind == _WRITER:
            self._writer(record)
        elif kind == _PROVIDER:
            self._provider(record)
        elif kind == _AGENT:
            self._agent(record)
        else:
            self._fallback(record)

    # -- helpers -------------------------------------------------------------------------
    def _fallback(self, record: TraceRecord) -> None:
        details = "  ".join(f"{k}={_str(record.details, k)}" for k in record.details)
        who = self.cast.by_name(record.actor) or self._volume(record.actor) or self.cast.vss
        self.d.note([who], _short(f"{record.actor}: {record.action} {details}".strip()))

    def _volume(self, name: str) -> _Participant | None:
        return self.cast.get(_VOLUME, name)

    def _agent_of(self, record: TraceRecord) -> _Participant | None:
        owner = self.ctx.owner_of(record)
        return self.cast.get(_AGENT, owner) if owner else None

    # -- faults --------------------------------------------------------------------------
    def _fault(self, record: TraceRecord) -> None:
        site = _str(record.details, "site")
        target_name, _, where = site.rpartition(".")
        target = self.cast.by_name(target_name)
        if target is None:  # e.g. a provider refused a volume before VSS ever called it
            target, where = self.cast.vss, site
        text = f"FAULT {record.action} ({_str(record.details, 'effect')}) at {where or site}"
        if record.details.get("hresult"):
            text += f": {_str(record.details, 'hresult')}"
        if record.details.get("volume"):
            text += f", volume {_str(record.details, 'volume')}"
        self.d.note([target], text)

    # -- the coordinator -----------------------------------------------------------------
    def _vss(self, record: TraceRecord) -> None:
        d, details, vss = self.d, record.details, self.cast.vss
        action, suffix = record.action, self.ctx.suffix(record)
        if action == V.DO_SNAPSHOT_SET:
            agent = self._agent_of(record)
            text = f"DoSnapshotSet({_str(details, 'volumes')})"
            if agent is not None:
                d.arrow(agent, "->>", vss, text)
            else:
                d.note([vss], text)
        elif action == V.DO_SNAPSHOT_SET_COMPLETE:
            agent = self._agent_of(record)
            shots = details.get("snapshots")
            count = len(shots) if isinstance(shots, list) else 0
            text = f"DoSnapshotSet complete: {count} shadow copies"
            if agent is not None:
                d.arrow(vss, "-->>", agent, text)
            else:
                d.note([vss], text)
        elif action in (V.FLUSH_WRITES, V.HOLD_WRITES):
            for name in _str(details, "volumes").split(", "):
                volume = self._volume(name)
                if volume is not None:
                    d.arrow(vss, "->>", volume, action + suffix)
        elif action == V.RELEASE_WRITES:
            volume = self._volume(_str(details, "volume"))
            applied = details.get("applied")
            text = f"release writes ({applied} held writes applied){suffix}"
            if volume is not None:
                d.arrow(vss, "->>", volume, text)
            else:
                d.note([vss], f"{_str(details, 'volume')}: {text}")
        elif action == V.ABORT:
            result = _str(details, "result")
            failure = f" {result}" if result and result != "S_OK" else ""
            text = f"abort{failure}: {_str(details, 'reason')}{suffix}"
            d.note([vss], _short(text))
        elif action == V.ABORT_DONE:
            d.note([vss], f"abort done ({_str(details, 'result')}){suffix}")
        elif action.endswith(V.NOT_SENT_SUFFIX):
            writer = self.cast.get(_WRITER, _str(details, "writer"))
            text = f"{action} ({_str(details, 'state')})"
            d.note([writer or vss], text if writer else f"{_str(details, 'writer')}: {text}")
        else:
            self._fallback(record)

    # -- writers -------------------------------------------------------------------------
    def _writer(self, record: TraceRecord) -> None:
        d, details, vss = self.d, record.details, self.cast.vss
        writer = self.cast.get(_WRITER, record.actor)
        assert writer is not None
        action, suffix = record.action, self.ctx.suffix(record)
        event, _, rest = action.partition(" ")
        state = _str(details, "state")
        result = _str(details, "result")
        reason = _str(details, "reason")
        if action in (V.SET_BACKUP_STAMP, V.ADD_PARTIAL_FILE):
            d.arrow(writer, "->>", vss, f"{action}({_str(details, 'component')}){suffix}")
        elif not rest:
            d.arrow(vss, "-x" if event == V.ON_ABORT else "->>", writer, event + suffix)
        elif action == V.done(event) and result == "S_OK":
            d.arrow(writer, "-->>", vss, f"{event} done{suffix}")
        elif action == V.done(event):
            text = f"{event} failed {result} \u2192 {state}{suffix}"
            d.arrow(writer, "--x", vss, text + (f": {reason}" if reason else ""))
        elif action == V.late_reply_ignored(event):
            d.arrow(writer, "--x", vss, f"{event} late reply ({result}) ignored{suffix}")
        elif action == V.not_responding(event):
            text = f"no reply to {event} in time: VSS_E_WRITER_NOT_RESPONDING \u2192 {state}"
            d.note([writer], text + suffix)
        elif action == V.FREEZE_TIMEOUT:
            d.note([writer], f"freeze timeout: {result} \u2192 {state}{suffix}")
        else:
            self._fallback(record)

    # -- providers -----------------------------------------------------------------------
    def _provider(self, record: TraceRecord) -> None:
        d, details, vss = self.d, record.details, self.cast.vss
        provider = self.cast.get(_PROVIDER, record.actor)
        assert provider is not None
        action, suffix = record.action, self.ctx.suffix(record)
        volume_name = _str(details, "volume")
        if action in (V.BEGIN_PREPARE_SNAPSHOT, V.DELETE_SNAPSHOT):
            d.arrow(vss, "->>", provider, f"{action}({volume_name}){suffix}")
        elif action == V.ABORT_SNAPSHOTS:
            d.arrow(vss, "-x", provider, action + suffix)
        elif action == V.COMMIT_SNAPSHOTS:
            d.arrow(vss, "->>", provider, action + suffix)
            set_id = _str(details, "set_id")
            if set_id in self.ctx.committed:
                for name, owner in self.ctx.set_members.get(set_id, []):
                    volume = self._volume(name)
                    if owner == record.actor and volume is not None:
                        d.arrow(provider, "->>", volume, f"shadow copy committed{suffix}")
        elif action in (V.PAIRS_SPLIT, V.REPLICA_LOST):
            shown = "every pair split at one instant" if action == V.PAIRS_SPLIT else action
            reason = _str(details, "reason")
            d.note([provider], _short(f"{shown} {volume_name}: {reason}" if reason else shown))
        elif action == V.SHADOW_COPY_DISCARDED:
            volume = self._volume(volume_name)
            over = [provider] if volume is None else [provider, volume]
            d.note(over, f"shadow copy of {volume_name} discarded: {_str(details, 'reason')}")
        else:
            d.arrow(vss, "->>", provider, action + suffix)

    # -- agents (requesters) -------------------------------------------------------------
    def _agent(self, record: TraceRecord) -> None:
        d, details, vss = self.d, record.details, self.cast.vss
        agent = self.cast.get(_AGENT, record.actor)
        assert agent is not None
        action = record.action
        if action in _PLAIN_CALLS:
            d.arrow(agent, "->>", vss, action)
        elif action == V.SET_BACKUP_STATE:
            d.arrow(agent, "->>", vss, f"SetBackupState({_str(details, 'backup_type')})")
        elif action == V.SET_CONTEXT:
            d.arrow(agent, "->>", vss, f"SetContext({_str(details, 'context')})")
        elif action == V.ADD_COMPONENT:
            text = f"AddComponent({_str(details, 'writer')}, {_str(details, 'component')})"
            d.arrow(agent, "->>", vss, text)
        elif action == V.SET_PREVIOUS_BACKUP_STAMP:
            text = f"SetPreviousBackupStamp({_str(details, 'component')}, {_str(details, 'stamp')})"
            d.arrow(agent, "->>", vss, _short(text))
        elif action == V.PREPARE_FOR_BACKUP:
            writers = details.get("writers")
            count = len(writers) if isinstance(writers, list) else 0
            d.arrow(agent, "->>", vss, f"PrepareForBackup ({count} writers)")
        elif action == V.START_SNAPSHOT_SET:
            d.arrow(agent, "->>", vss, _short(f"StartSnapshotSet: set {_str(details, 'set_id')}"))
        elif action == V.ADD_TO_SNAPSHOT_SET:
            mount, label = _str(details, "mount_point"), _str(details, "volume")
            shown = mount if mount.rstrip("\\") == label else f"{mount}, volume {label}"
            d.arrow(agent, "->>", vss, f"AddToSnapshotSet({shown})")
        elif action == V.GET_SNAPSHOT_PROPERTIES:
            d.arrow(agent, "->>", vss, f"GetSnapshotProperties({_str(details, 'volume')})")
        elif action == V.SET_BACKUP_SUCCEEDED:
            ok = "true" if details.get("succeeded") else "false"
            d.arrow(agent, "->>", vss, f"SetBackupSucceeded({_str(details, 'component')}, {ok})")
        elif action == V.DELETE_SNAPSHOTS:  # its call arrow was drawn by draw()
            d.arrow(vss, "-->>", agent, f"DeleteSnapshots: {_str(details, 'deleted')} deleted")
        elif action == V.GATHER_WRITER_METADATA_COMPLETE:
            writers = details.get("writers")
            count = len(writers) if isinstance(writers, list) else 0
            text = f"GatherWriterMetadata complete: {count} writer metadata documents"
            d.arrow(vss, "-->>", agent, text)
        elif action in (V.PREPARE_FOR_BACKUP_COMPLETE, V.BACKUP_COMPLETE_COMPLETE):
            call = action.removesuffix(V.COMPLETE_SUFFIX)
            d.arrow(vss, "-->>", agent, _results_text(call, details.get("results")))
        elif action == V.GATHER_WRITER_STATUS_COMPLETE:
            d.arrow(vss, "-->>", agent, _status_text(details.get("writers")))
        elif action.endswith(V.COMPLETE_SUFFIX):
            d.arrow(vss, "-->>", agent, action)
        elif action == V.COMPONENTS_SELECTED:
            text = f"selects {len(_str(details, 'components').split(', '))} components"
            if details.get("pulled_in"):
                text += f" (pulled in: {_str(details, 'pulled_in')})"
            if details.get("left_out"):
                text += f", left out: {_str(details, 'left_out')}"
            text += f"; volumes {_str(details, 'volumes')}"
            d.note([agent], text)
        elif action == V.FILE_COPIED:
            volume = self._volume(_str(details, "volume"))
            text = (
                f"copy {_str(details, 'path')} from the shadow copy ({_size(details.get('size'))})"
            )
            if volume is not None:
                d.arrow(agent, "->>", volume, text)
            else:
                d.note([agent], text)
        elif action == V.BACKUP_FAILED:
            text = f"backup failed: {_str(details, 'result')}: {_str(details, 'reason')}"
            d.arrow(vss, "--x", agent, _short(text))
        elif action == V.WAITING_FOR_THE_SET_LOCK:
            d.note([agent], _short(f"waiting for the set lock: {_str(details, 'reason')}"))
        elif action == V.RETRY:
            wait = details.get("wait_us")
            seconds = f"{wait / 1_000_000:g} s" if isinstance(wait, int) else "?"
            text = f"retry, attempt {_str(details, 'attempt')} after {seconds}: "
            d.note([agent], _short(text + _str(details, "reason")))
        elif action == V.AGENT_DIED:
            d.note([agent], f"agent died before {_str(details, 'before')}")
        elif action == V.REQUESTER_GONE:
            d.note([agent, vss], f"requester gone ({_str(details, 'state')}): VSS runs it down")
        elif action == V.RUNDOWN:
            d.note([vss], f"rundown of {record.actor}'s session ({_str(details, 'state')})")
        elif action == V.BACKUP_RESULT:
            text = (
                f"backup result: {_str(details, 'outcome')}, {_str(details, 'result')}, "
                f"{_str(details, 'attempts')} attempt(s)"
            )
            d.note([agent], text)
        else:
            self._fallback(record)


def render_mermaid(trace: Trace, *, quiet_actions: frozenset[str] = QUIET_ACTIONS) -> str:
    """Draw ``trace`` as a Mermaid ``sequenceDiagram``, one shaded block per phase.

    Takes what :func:`~vsssim.render.text.render_text` takes and groups records the same way: a
    record without a phase belongs to the phase running, or after phase 7 to the closing
    block. Unlike the text, records before phase 1 (an agent that died before its first call)
    are drawn, in a block of their own, except the quiet ones: ``quiet_actions`` (the
    workload's writes, including the setup writes before the run) are counted per volume in a
    note at the end of each block instead of being drawn.
    """
    records = list(trace)
    start = next((i for i, r in enumerate(records) if r.action not in quiet_actions), len(records))
    cast = _Cast(records, start)
    diagram = _Diagram(cast)
    renderer = _Renderer(diagram, cast, _Context(records, cast, quiet_actions))
    section: _Section | None = None
    for record in records[start:]:
        if record.action in quiet_actions:
            if section is not None:
                counts = section.held if record.action == V.WRITE_HELD else section.landed
                counts[record.actor] = counts.get(record.actor, 0) + 1
            continue
        key = section_of(record.phase, section.key if section is not None else None)
        if section is None or key != section.key:
            if section is not None:
                diagram.close_section(section)
            section = _Section(key)
            diagram.open_section(key)
        renderer.draw(record)
    if section is not None:
        diagram.close_section(section)
    return "\n".join(diagram.lines) + "\n"
