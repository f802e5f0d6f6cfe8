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

It reads the trace and the vocabulary only (:mod:`vsssim.sim`), never the model that wrote
them: :mod:`.sequence_cast` finds the lifelines in the records, :mod:`.sequence_text` escapes
and shortens their text, and this module draws them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import attrs

from vsssim.render.sequence_cast import (
    AGENT,
    ARRAY,
    COORDINATOR,
    PROVIDER,
    VOLUME,
    WRITER,
    Cast,
    Context,
    Participant,
    kind_of,
)
from vsssim.render.sequence_text import (
    detail,
    escape,
    results_text,
    shorten,
    size_text,
    status_text,
)
from vsssim.render.text import AFTER_TITLE, PHASE_TITLES, section_of
from vsssim.sim import vocabulary as V
from vsssim.sim.trace import Trace, TraceRecord, writes_in

#: Actions counted and summarised rather than drawn (as ``render_text`` leaves them out).
QUIET_ACTIONS: frozenset[str] = frozenset({V.WRITE, V.WRITE_HELD, V.WRITES})

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


@attrs.define
class _Section:
    """One phase block; counts the quiet records (workload writes) that fall in it."""

    key: object
    landed: dict[str, int] = attrs.field(factory=dict)
    held: dict[str, int] = attrs.field(factory=dict)


class _Diagram:
    """The lines of the diagram being written, with helpers for Mermaid's statements. Only the
    ``kept`` lifelines are drawn: a message to or from another is left out, and so is a note
    over none of them."""

    def __init__(self, cast: Cast, kept: Sequence[Participant]) -> None:
        self.cast = cast
        self.kept = list(kept)
        self._kept_ids = {p.pid for p in kept}
        self.lines = ["sequenceDiagram"]
        for p in self.kept:
            self.lines.append(f"    participant {p.pid} as {escape(p.label)}")
        self.indent = "    "
        self.shown: set[object] = set()

    def arrow(self, source: Participant, kind: str, target: Participant, text: str) -> None:
        """A message: ``->>`` call, ``-->>`` reply, ``-x``/``--x`` failure or abort."""
        if source.pid in self._kept_ids and target.pid in self._kept_ids:
            self.lines.append(f"{self.indent}{source.pid}{kind}{target.pid}: {escape(text)}")

    def note(self, over: Iterable[Participant], text: str) -> None:
        """A note over one participant or spanning from the first to the last given (of those
        kept)."""
        pids = [p.pid for p in over if p.pid in self._kept_ids]
        if not pids:
            return
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
        self.note([self.kept[0], self.kept[-1]], title)

    def close_section(self, section: _Section) -> None:
        """End a phase block, first counting the workload writes it did not draw.

        A held write is counted twice on purpose: held when the gate stopped it, landed when
        the release applied it.
        """
        volumes = [v for v in self.cast.volumes if v.pid in self._kept_ids]
        landed, held = sum(section.landed.values()), sum(section.held.values())
        if (landed or held) and volumes:
            text = f"{landed} application writes landed, not drawn"
            text += f" ({_per_volume(section.landed, volumes)})"
            if held:
                text += f". {held} held at the write gate ({_per_volume(section.held, volumes)})"
            self.note([volumes[0], volumes[-1]], text)
        self.lines.append("    end")
        self.indent = "    "


def _per_volume(counts: Mapping[str, int], volumes: Sequence[Participant]) -> str:
    """``3 on C:, 7 on F:`` in the volumes' declaration order."""
    return ", ".join(f"{counts[v.name]} on {v.name}" for v in volumes if v.name in counts)


class _Renderer:
    """Draws each record; the dispatch follows the actor's kind and the action."""

    def __init__(self, diagram: _Diagram, cast: Cast, context: Context) -> None:
        self.d = diagram
        self.cast = cast
        self.ctx = context
        #: Releases of writes not drawn yet: one arrow per set gathers them (:meth:`flush`).
        self._releases: list[TraceRecord] = []

    def draw(self, record: TraceRecord) -> None:
        """Draw one (non-quiet) record."""
        if record.action == V.RELEASE_WRITES:
            if self._releases and self._set_of(self._releases[0]) != self._set_of(record):
                self.flush()
            self._releases.append(record)
            return
        self.flush()
        call = self.ctx.call_before.get(record.seq)
        if call is not None:
            agent = self.cast.get(AGENT, call.actor)
            assert agent is not None
            text = shorten(f"DeleteSnapshots(set {detail(call.details, 'id')})")
            self.d.arrow(agent, "->>", self.cast.vss, text)
        kind = kind_of(record)
        if record.actor == V.FAULT:
            self._fault(record)
        elif kind == COORDINATOR:
            self._vss(record)
        elif kind == WRITER:
            self._writer(record)
        elif kind == PROVIDER:
            self._provider(record)
        elif kind == AGENT:
            self._agent(record)
        else:
            self._fallback(record)

    def flush(self) -> None:
        """Draw the releases of writes gathered so far: one arrow for the set, its volumes
        listed with the held writes each release applied."""
        releases, self._releases = self._releases, []
        if not releases:
            return
        vss, suffix = self.cast.vss, self.ctx.suffix(releases[0])
        names = [detail(r.details, "volume") for r in releases]
        counts = [r.details.get("applied") for r in releases]
        total = sum(c for c in counts if isinstance(c, int))
        text = f"release writes ({total} held writes applied)"
        if len(releases) > 1:
            listed = ", ".join(names) if not total else _counted(names, counts)
            text += f" on {listed}"
        volume = next((v for v in map(self._volume, names) if v is not None), None)
        if volume is not None:
            self.d.arrow(vss, "->>", volume, text + suffix)
        else:
            self.d.note([vss], f"{', '.join(names)}: {text}{suffix}")

    @staticmethod
    def _set_of(record: TraceRecord) -> str:
        return detail(record.details, "set_id")

    # -- helpers -------------------------------------------------------------------------
    def _fallback(self, record: TraceRecord) -> None:
        details = "  ".join(f"{k}={detail(record.details, k)}" for k in record.details)
        who = self.cast.by_name(record.actor) or self._volume(record.actor) or self.cast.vss
        self.d.note([who], shorten(f"{record.actor}: {record.action} {details}".strip()))

    def _volume(self, name: str) -> Participant | None:
        return self.cast.get(VOLUME, name)

    def _agent_of(self, record: TraceRecord) -> Participant | None:
        owner = self.ctx.owner_of(record)
        return self.cast.get(AGENT, owner) if owner else None

    # -- faults --------------------------------------------------------------------------
    def _fault(self, record: TraceRecord) -> None:
        site = detail(record.details, "site")
        target_name, _, where = site.rpartition(".")
        target = self.cast.by_name(target_name)
        if target is None:  # e.g. a provider refused a volume before VSS ever called it
            target, where = self.cast.vss, site
        text = f"FAULT {record.action} ({detail(record.details, 'effect')}) at {where or site}"
        if record.details.get("hresult"):
            text += f": {detail(record.details, 'hresult')}"
        if record.details.get("volume"):
            text += f", volume {detail(record.details, 'volume')}"
        self.d.note([target], text)

    # -- the coordinator -----------------------------------------------------------------
    def _vss(self, record: TraceRecord) -> None:
        d, details, vss = self.d, record.details, self.cast.vss
        action, suffix = record.action, self.ctx.suffix(record)
        if action == V.DO_SNAPSHOT_SET:
            agent = self._agent_of(record)
            text = f"DoSnapshotSet({detail(details, 'volumes')})"
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
            names = detail(details, "volumes").split(", ")
            volume = next((v for v in map(self._volume, names) if v is not None), None)
            text = action if len(names) == 1 else f"{action} on {', '.join(names)}"
            if volume is not None:
                d.arrow(vss, "->>", volume, text + suffix)
        elif action == V.ABORT:
            result = detail(details, "result")
            failure = f" {result}" if result and result != "S_OK" else ""
            text = f"abort{failure}: {detail(details, 'reason')}{suffix}"
            d.note([vss], shorten(text))
        elif action == V.ABORT_DONE:
            d.note([vss], f"abort done ({detail(details, 'result')}){suffix}")
        elif action.endswith(V.NOT_SENT_SUFFIX):
            writer = self.cast.get(WRITER, detail(details, "writer"))
            text = f"{action} ({detail(details, 'state')})"
            d.note([writer or vss], text if writer else f"{detail(details, 'writer')}: {text}")
        else:
            self._fallback(record)

    # -- writers -------------------------------------------------------------------------
    def _writer(self, record: TraceRecord) -> None:
        d, details, vss = self.d, record.details, self.cast.vss
        writer = self.cast.get(WRITER, record.actor)
        assert writer is not None
        action, suffix = record.action, self.ctx.suffix(record)
        event, _, rest = action.partition(" ")
        state = detail(details, "state")
        result = detail(details, "result")
        reason = detail(details, "reason")
        if action in (V.SET_BACKUP_STAMP, V.ADD_PARTIAL_FILE, V.ADD_DIFFERENCED_FILES):
            d.arrow(writer, "->>", vss, f"{action}({detail(details, 'component')}){suffix}")
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
        provider = self.cast.get(PROVIDER, record.actor)
        assert provider is not None
        action, suffix = record.action, self.ctx.suffix(record)
        volume_name = detail(details, "volume")
        if action in (V.BEGIN_PREPARE_SNAPSHOT, V.DELETE_SNAPSHOT):
            d.arrow(vss, "->>", provider, f"{action}({volume_name}){suffix}")
        elif action == V.ABORT_SNAPSHOTS:
            d.arrow(vss, "-x", provider, action + suffix)
        elif action == V.COMMIT_SNAPSHOTS:
            d.arrow(vss, "->>", provider, action + suffix)
            set_id = detail(details, "set_id")
            if set_id in self.ctx.committed:
                for name, owner in self.ctx.set_members.get(set_id, []):
                    volume = self._volume(name)
                    if owner == record.actor and volume is not None:
                        d.arrow(provider, "->>", volume, f"shadow copy committed{suffix}")
        elif action in (V.PAIRS_SPLIT, V.REPLICA_LOST):
            shown = "every pair split at one instant" if action == V.PAIRS_SPLIT else action
            reason = detail(details, "reason")
            d.note([provider], shorten(f"{shown} {volume_name}: {reason}" if reason else shown))
        elif action in (V.SHADOW_COPY_DISCARDED, V.OLDEST_SHADOW_COPY_DELETED):
            volume = self._volume(volume_name)
            over = [provider] if volume is None else [provider, volume]
            what = "discarded" if action == V.SHADOW_COPY_DISCARDED else "deleted"
            d.note(over, f"shadow copy of {volume_name} {what}: {detail(details, 'reason')}")
        else:
            d.arrow(vss, "->>", provider, action + suffix)

    # -- agents (requesters) -------------------------------------------------------------
    def _agent(self, record: TraceRecord) -> None:
        agent = self.cast.get(AGENT, record.actor)
        assert agent is not None
        # One chain of tests cut in three, in its order: the catch-all "... complete" reply
        # comes after the replies drawn with their details.
        drawn = (
            self._agent_call(agent, record)
            or self._agent_reply(agent, record)
            or self._agent_other(agent, record)
        )
        if not drawn:
            self._fallback(record)

    def _agent_call(self, agent: Participant, record: TraceRecord) -> bool:
        """An agent's call on VSS, as an arrow with its arguments (False: not one)."""
        d, details, vss = self.d, record.details, self.cast.vss
        action = record.action
        if action in _PLAIN_CALLS:
            d.arrow(agent, "->>", vss, action)
        elif action == V.SET_BACKUP_STATE:
            d.arrow(agent, "->>", vss, f"SetBackupState({detail(details, 'backup_type')})")
        elif action == V.SET_CONTEXT:
            d.arrow(agent, "->>", vss, f"SetContext({detail(details, 'context')})")
        elif action == V.ADD_COMPONENT:
            text = f"AddComponent({detail(details, 'writer')}, {detail(details, 'component')})"
            d.arrow(agent, "->>", vss, text)
        elif action == V.SET_PREVIOUS_BACKUP_STAMP:
            component, stamp = detail(details, "component"), detail(details, "stamp")
            text = f"SetPreviousBackupStamp({component}, {stamp})"
            d.arrow(agent, "->>", vss, shorten(text))
        elif action == V.PREPARE_FOR_BACKUP:
            writers = details.get("writers")
            count = len(writers) if isinstance(writers, list) else 0
            d.arrow(agent, "->>", vss, f"PrepareForBackup ({count} writers)")
        elif action == V.START_SNAPSHOT_SET:
            d.arrow(
                agent, "->>", vss, shorten(f"StartSnapshotSet: set {detail(details, 'set_id')}")
            )
        elif action == V.ADD_TO_SNAPSHOT_SET:
            mount, label = detail(details, "mount_point"), detail(details, "volume")
            shown = mount if mount.rstrip("\\") == label else f"{mount}, volume {label}"
            d.arrow(agent, "->>", vss, f"AddToSnapshotSet({shown})")
        elif action == V.GET_SNAPSHOT_PROPERTIES:
            d.arrow(agent, "->>", vss, f"GetSnapshotProperties({detail(details, 'volume')})")
        elif action == V.SET_BACKUP_SUCCEEDED:
            ok = "true" if details.get("succeeded") else "false"
            d.arrow(agent, "->>", vss, f"SetBackupSucceeded({detail(details, 'component')}, {ok})")
        else:
            return False
        return True

    def _agent_reply(self, agent: Participant, record: TraceRecord) -> bool:
        """VSS's reply to an agent's call (False: not one)."""
        d, details, vss = self.d, record.details, self.cast.vss
        action = record.action
        if action == V.DELETE_SNAPSHOTS:
            # its call arrow was drawn by draw()
            d.arrow(vss, "-->>", agent, f"DeleteSnapshots: {detail(details, 'deleted')} deleted")
        elif action == V.GATHER_WRITER_METADATA_COMPLETE:
            writers = details.get("writers")
            count = len(writers) if isinstance(writers, list) else 0
            text = f"GatherWriterMetadata complete: {count} writer metadata documents"
            d.arrow(vss, "-->>", agent, text)
        elif action in (V.PREPARE_FOR_BACKUP_COMPLETE, V.BACKUP_COMPLETE_COMPLETE):
            call = action.removesuffix(V.COMPLETE_SUFFIX)
            d.arrow(vss, "-->>", agent, results_text(call, details.get("results")))
        elif action == V.GATHER_WRITER_STATUS_COMPLETE:
            d.arrow(vss, "-->>", agent, status_text(details.get("writers")))
        elif action.endswith(V.COMPLETE_SUFFIX):
            d.arrow(vss, "-->>", agent, action)
        else:
            return False
        return True

    def _agent_other(self, agent: Participant, record: TraceRecord) -> bool:
        """What an agent does besides calls: selects, copies, waits, retries, ends."""
        d, details, vss = self.d, record.details, self.cast.vss
        action = record.action
        if action == V.COMPONENTS_SELECTED:
            text = f"selects {len(detail(details, 'components').split(', '))} components"
            if details.get("pulled_in"):
                text += f" (pulled in: {detail(details, 'pulled_in')})"
            if details.get("left_out"):
                text += f", left out: {detail(details, 'left_out')}"
            text += f"; volumes {detail(details, 'volumes')}"
            d.note([agent], text)
        elif action == V.FILE_COPIED:
            volume = self._volume(detail(details, "volume"))
            size = size_text(details.get("size"))
            text = f"copy {detail(details, 'path')} from the shadow copy ({size})"
            if volume is not None:
                d.arrow(agent, "->>", volume, text)
            else:
                d.note([agent], text)
        elif action == V.BACKUP_FAILED:
            text = f"backup failed: {detail(details, 'result')}: {detail(details, 'reason')}"
            d.arrow(vss, "--x", agent, shorten(text))
        elif action == V.WAITING_FOR_THE_SET_LOCK:
            d.note([agent], shorten(f"waiting for the set lock: {detail(details, 'reason')}"))
        elif action == V.RETRY:
            wait = details.get("wait_us")
            seconds = f"{wait / 1_000_000:g} s" if isinstance(wait, int) else "?"
            text = f"retry, attempt {detail(details, 'attempt')} after {seconds}: "
            d.note([agent], shorten(text + detail(details, "reason")))
        elif action == V.AGENT_DIED:
            d.note([agent], f"agent died before {detail(details, 'before')}")
        elif action == V.REQUESTER_GONE:
            d.note([agent, vss], f"requester gone ({detail(details, 'state')}): VSS runs it down")
        elif action == V.RUNDOWN:
            d.note([vss], f"rundown of {record.actor}'s session ({detail(details, 'state')})")
        elif action == V.BACKUP_RESULT:
            text = (
                f"backup result: {detail(details, 'outcome')}, {detail(details, 'result')}, "
                f"{detail(details, 'attempts')} attempt(s)"
            )
            d.note([agent], text)
        else:
            return False
        return True


def _counted(names: Sequence[str], counts: Sequence[object]) -> str:
    """``C: 2, D: 0``: each volume with the held writes its release applied."""
    return ", ".join(f"{name} {count}" for name, count in zip(names, counts, strict=True))


#: Names that keep every lifeline of a kind (``--participants writers,VSS``).
KIND_SELECTORS: Mapping[str, str] = {
    "agents": AGENT,
    "writers": WRITER,
    "providers": PROVIDER,
    "arrays": ARRAY,
    "volumes": VOLUME,
}


def kept_participants(cast: Cast, selectors: Sequence[str] | None) -> list[Participant]:
    """The lifelines ``selectors`` choose (all with None): each selector is a participant's
    name, label or id, or a kind (:data:`KIND_SELECTORS`), compared without case; VSS is
    always kept. A selector that names nobody raises ``ValueError`` listing who there is."""
    if selectors is None:
        return list(cast.participants)
    wanted = {s.strip().casefold() for s in selectors if s.strip()}
    kinds = {KIND_SELECTORS[s] for s in wanted if s in KIND_SELECTORS}
    kept, matched = [], set(wanted & KIND_SELECTORS.keys())
    for p in cast.participants:
        names = {p.name.casefold(), p.label.casefold(), p.pid.casefold()}
        if p.kind in kinds or p.kind == COORDINATOR or names & wanted:
            kept.append(p)
            matched |= names & wanted
    unknown = sorted(wanted - matched - {"vss"})
    if unknown:
        everyone = ", ".join(p.name for p in cast.participants)
        raise ValueError(
            f"no participant {', '.join(map(repr, unknown))} in this run (there are: "
            f"{everyone}; or a kind: {', '.join(KIND_SELECTORS)})"
        )
    return kept


def render_mermaid(
    trace: Trace,
    *,
    quiet_actions: frozenset[str] = QUIET_ACTIONS,
    participants: Sequence[str] | None = None,
) -> str:
    """Draw ``trace`` as a Mermaid ``sequenceDiagram``, one shaded block per phase.

    Takes what :func:`~vsssim.render.text.render_text` takes and groups records the same way: a
    record without a phase belongs to the phase running, or after phase 7 to the closing
    block. Unlike the text, records before phase 1 (an agent that died before its first call)
    are drawn, in a block of their own, except the quiet ones: ``quiet_actions`` (the
    workload's writes, including the setup writes before the run) are counted per volume in a
    note at the end of each block instead of being drawn. VSS's flush, hold and release of
    writes are one arrow each per set, the set's volumes listed. ``participants`` keeps only
    the lifelines it chooses (see :func:`kept_participants`), for a diagram that reads at a
    page's width.
    """
    records = list(trace)
    start = next((i for i, r in enumerate(records) if r.action not in quiet_actions), len(records))
    cast = Cast(records, start)
    diagram = _Diagram(cast, kept_participants(cast, participants))
    renderer = _Renderer(diagram, cast, Context(records, cast, quiet_actions))
    section: _Section | None = None
    for record in records[start:]:
        if record.action in quiet_actions:
            if section is not None:
                counts = section.held if record.action == V.WRITE_HELD else section.landed
                counts[record.actor] = counts.get(record.actor, 0) + writes_in(record)
            continue
        key = section_of(record.phase, section.key if section is not None else None)
        if section is None or key != section.key:
            if section is not None:
                renderer.flush()
                diagram.close_section(section)
            section = _Section(key)
            diagram.open_section(key)
        renderer.draw(record)
    if section is not None:
        renderer.flush()
        diagram.close_section(section)
    return "\n".join(diagram.lines) + "\n"
