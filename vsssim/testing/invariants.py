"""Invariant checkers: the seed's safety rules and the model's promises, checked after a run.

Each checker reads the trace and the final world and returns :class:`Violation` objects that
say what broke and name the trace records involved (their ``seq``). None of them trusts the
component it checks: the point-in-time check rebuilds volume contents from the write history,
the write-gate check reads the trace, not the gate.

``check_all(world)`` runs every checker in :data:`INVARIANTS`; each test suite that builds a
broken variant (a coordinator that skips the hold, a writer that keeps writing while frozen...)
shows the matching checker can fail.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import attrs

from vsssim.errors import HResult, VssError
from vsssim.host.world import RestoreRun, World
from vsssim.requesters.backup_result import verify_copy
from vsssim.requesters.restore import verify_restore
from vsssim.sim import vocabulary as V
from vsssim.sim.trace import TraceRecord
from vsssim.vss.constants import RestoreStatus, SnapshotState, WriterState
from vsssim.vss.metadata import ComponentKey
from vsssim.vss.namespace import normalize, reads_as_zeros
from vsssim.vss.providers.xp.pairs import COPYING
from vsssim.vss.states import FAILED_STATES
from vsssim.vss.writers.base import ApplicationHold


@attrs.frozen
class Violation:
    """One broken invariant: which, why, and the trace records (``seq``) involved."""

    invariant: str
    message: str
    records: tuple[int, ...] = ()
    #: The writer (or other component) the violation is about, when it is about one.
    subject: str = ""

    def __str__(self) -> str:
        where = f" (records {', '.join(map(str, self.records))})" if self.records else ""
        return f"{self.invariant}: {self.message}{where}"


Checker = Callable[[World], list[Violation]]


@attrs.frozen
class Invariant:
    """A named checker with a one-line statement of what it promises."""

    name: str
    statement: str
    check: Checker


def _closes_set(record: TraceRecord) -> str | None:
    if record.actor == V.VSS and record.action in (V.DO_SNAPSHOT_SET_COMPLETE, V.ABORT_DONE):
        set_id = record.details.get("set_id")
        return str(set_id) if set_id is not None else None
    return None


def one_set_at_a_time(world: World) -> list[Violation]:
    """At most one shadow copy set in creation at any instant; no volume in two such sets."""
    name = "one set at a time"
    violations = []
    open_sets: dict[str, int] = {}
    volume_owner: dict[str, tuple[str, int]] = {}
    for record in world.sim.trace:
        if record.action == V.START_SNAPSHOT_SET:
            set_id = str(record.details["set_id"])
            for other, seq in open_sets.items():
                violations.append(
                    Violation(
                        name,
                        f"set {set_id} started while set {other} was being created",
                        (seq, record.seq),
                    )
                )
            open_sets[set_id] = record.seq
        elif record.action == V.ADD_TO_SNAPSHOT_SET:
            set_id, volume = str(record.details["set_id"]), str(record.details["volume"])
            owner = volume_owner.get(volume)
            if owner is not None and owner[0] != set_id:
                violations.append(
                    Violation(
                        name,
                        f"volume {volume} added to set {set_id} while in set {owner[0]}",
                        (owner[1], record.seq),
                    )
                )
            volume_owner[volume] = (set_id, record.seq)
        else:
            closed = _closes_set(record)
            if closed is not None:
                open_sets.pop(closed, None)
                for volume in [v for v, (s, _) in volume_owner.items() if s == closed]:
                    del volume_owner[volume]
    return violations


def no_write_during_hold(world: World) -> list[Violation]:
    """No write lands on a volume of a set between its flush-and-hold and its release."""
    name = "no write while held"
    violations = []
    held: dict[str, int] = {}
    for record in world.sim.trace:
        if record.actor == V.VSS and record.action == V.HOLD_WRITES:
            for volume in record.details["volumes"]:  # type: ignore[union-attr]
                held[str(volume)] = record.seq
        elif record.actor == V.VSS and record.action == V.RELEASE_WRITES:
            held.pop(str(record.details["volume"]), None)
        elif record.action == V.WRITE and record.actor in held:
            violations.append(
                Violation(
                    name,
                    f"a write of {record.details['origin']} landed on {record.actor} while its "
                    "writes were held",
                    (held[record.actor], record.seq),
                )
            )
    return violations


def point_in_time(world: World) -> list[Violation]:
    """All copies of a set share one commit instant; what they hold is the volume at that instant.

    Checked on what the agents copied and on every shadow copy still alive at the end, against
    the volume content rebuilt from its write history.
    """
    name = "point in time"
    violations = []
    for record in world.sim.trace.find(action=V.DO_SNAPSHOT_SET_COMPLETE, actor=V.VSS):
        commit_seq = record.details["commit_seq"]
        commit = world.sim.trace.records[int(commit_seq)]  # type: ignore[arg-type]
        if commit.action != V.COMMIT_SNAPSHOTS:
            violations.append(
                Violation(
                    name,
                    f"set {record.details['set_id']} names record {commit_seq} as its commit",
                    (record.seq, commit.seq),
                )
            )
    for result in world.results:
        for problem in verify_copy(world.namespace, result):
            violations.append(
                Violation(
                    name,
                    f"{result.agent} copied {problem}",
                    ((result.commit_seq,) if result.commit_seq is not None else ()),
                )
            )
    for snapshot in world.coordinator.snapshots.values():
        if snapshot.state != SnapshotState.CREATED or not snapshot.usable:
            continue
        assert snapshot.commit_seq is not None
        volume = snapshot.volume
        expected = volume.content_at(snapshot.commit_seq)
        try:
            actual = snapshot.read_range(range(volume.block_count))
        except VssError:  # the provider lost it since (reported in the trace), not a mix-up
            continue
        if actual != expected:
            violations.append(
                Violation(
                    name,
                    f"shadow copy {snapshot.device_object} of {volume.label} differs from the "
                    "volume at its commit instant",
                    (snapshot.commit_seq,),
                )
            )
    return violations


def no_write_lost(world: World) -> list[Violation]:
    """Every write issued to a volume is on it at the end, once, in issue order."""
    name = "no write lost"
    violations = []
    for volume in world.namespace.volumes:
        issues = [w.issue for w in volume.history if w.issue]  # 0: written by an array
        expected = list(range(1, volume.writes_issued + 1))
        if issues != expected:
            missing = sorted(set(expected) - set(issues))
            doubled = len(issues) - len(set(issues))
            reordered = issues != sorted(issues)
            parts = []
            if missing:
                parts.append(f"{len(missing)} lost (first issue #{missing[0]})")
            if doubled:
                parts.append(f"{doubled} applied twice")
            if reordered:
                parts.append("applied out of issue order")
            violations.append(Violation(name, f"volume {volume.label}: " + ", ".join(parts)))
    return violations


def application_consistency(world: World) -> list[Violation]:
    """A writer that froze sees none of its application's writes between freeze and thaw."""
    name = "application consistency"
    # A writer's application is its linked workloads and the writer process itself.
    apps: dict[str, set[str]] = {w.name: {w.name} for w in world.coordinator.writers}
    for workload in world.workloads:
        if workload.writer is not None:
            apps.setdefault(workload.writer.name, set()).add(workload.name)
    violations = []
    frozen: dict[tuple[str, str], int] = {}
    ends = {V.ON_THAW, V.ON_ABORT, V.FREEZE_TIMEOUT, V.ON_FREEZE_NOT_RESPONDING}
    for record in world.sim.trace:
        if record.actor in apps:
            key = (record.actor, str(record.details.get("session")))
            if record.action == V.ON_FREEZE_DONE and record.details.get("result") == "S_OK":
                frozen[key] = record.seq
            elif record.action in ends:
                frozen.pop(key, None)
            continue
        if record.action in (V.WRITE, V.WRITE_HELD):
            origin = str(record.details["origin"])
            for (writer, _), since in frozen.items():
                if origin in apps[writer]:
                    violations.append(
                        Violation(
                            name,
                            f"{origin} wrote to {record.actor} while {writer} was frozen",
                            (since, record.seq),
                        )
                    )
    return violations


#: Writer records that end a session's freeze window: the writer handled VSS's thaw or abort,
#: or its own freeze timeout (``CVssWriter`` calls OnAbort then).
_WINDOW_ENDS = (V.ON_ABORT_DONE, V.ON_ABORT_LATE_REPLY_IGNORED, V.FREEZE_TIMEOUT_HANDLED)


def _ends_window(record: TraceRecord) -> bool:
    if record.action == V.ON_THAW_DONE:
        return record.details.get("result") == "S_OK"
    return record.action in _WINDOW_ENDS


def application_thawed(world: World) -> list[Violation]:
    """A writer's application frozen for a backup session is thawed by the end of that
    session's freeze window, and is not left frozen for it afterwards.

    The window runs from the writer's receipt of Freeze until it has handled VSS's thaw or
    abort for the session, or its freeze timeout (counted from its freeze reply) has passed and
    its OnAbort ran. A freeze made after the window (a late OnFreeze: VSS gave up and aborted
    already) must be undone at the instant it is made, before the writer answers. Read from
    each writer's holds of its application
    (:attr:`~vsssim.vss.writers.base.Writer.application_holds`)
    placed among the writer's trace records.
    """
    name = "application thawed"
    writers = {w.name for w in world.coordinator.writers if w.application_holds}
    by_writer: dict[str, dict[str, list[TraceRecord]]] = {}
    for record in world.sim.trace:
        if record.actor not in writers:
            continue
        session = record.details.get("session")
        if session is not None:
            by_writer.setdefault(record.actor, {}).setdefault(str(session), []).append(record)
    violations = []
    for writer in world.coordinator.writers:
        sessions = by_writer.get(writer.name, {})
        for hold in writer.application_holds:
            if hold.kind != "freeze":
                continue
            problem = _hold_problem(
                world, writer.freeze_timeout_us, hold, sessions.get(hold.holder, [])
            )
            if problem is not None:
                message, records = problem
                violations.append(
                    Violation(
                        name,
                        f"{writer.name}'s application {message} (session {hold.holder})",
                        records,
                        writer.name,
                    )
                )
    return violations


def _hold_problem(
    world: World, timeout_us: int, hold: ApplicationHold, records: Sequence[TraceRecord]
) -> tuple[str, tuple[int, ...]] | None:
    """What is wrong with one hold of an application for a session (None if nothing)."""
    thawed = hold.thawed_at
    end = next((r for r in records if _ends_window(r)), None)
    if end is not None and hold.frozen_at <= end.seq:
        if thawed is None or thawed > end.seq:
            return f"was still frozen when the writer finished {end.action}", (end.seq,)
        return None
    if end is not None:
        answer = next((r for r in records if r.seq >= hold.frozen_at), None)
        answered = answer is not None and (thawed is None or answer.seq < thawed)
        if thawed is None or hold.thawed_us != hold.frozen_us or answered:
            shown = (end.seq,) + ((answer.seq,) if answer is not None else ())
            return "was frozen after its freeze window ended and left frozen", shown
        return None
    reply = next(
        (r for r in records if r.action == V.ON_FREEZE_DONE and r.details.get("result") == "S_OK"),
        None,
    )
    if reply is None:
        return None  # no freeze answered in time and no thaw or abort yet: the window is open
    deadline = reply.time_us + timeout_us
    last = hold.thawed_us if hold.thawed_us is not None else world.sim.now
    if last > deadline:
        return f"was still frozen {timeout_us / 1_000_000:g} s after the freeze", (reply.seq,)
    return None


def quiescence(world: World) -> list[Violation]:
    """At the end nothing is locked, marked, held or frozen, writers are stable or failed, and
    every process has finished (no deadlock, no leak)."""
    name = "quiescence"
    violations = []
    coordinator = world.coordinator
    if coordinator.creating is not None:
        violations.append(
            Violation(name, f"set {coordinator.creating.set_id} still holds the set lock")
        )
    for volume in world.namespace.volumes:
        if volume.marked_by is not None:
            violations.append(Violation(name, f"volume {volume.label} still marked by a set"))
        if volume.held or volume.pending_writes:
            violations.append(
                Violation(name, f"volume {volume.label} still holds {volume.pending_writes} writes")
            )
    for writer in coordinator.writers:
        if writer.application_frozen:
            violations.append(
                Violation(name, f"{writer.name} left its application frozen", (), writer.name)
            )
        for session in writer.sessions:
            if session.state != WriterState.STABLE and session.state not in FAILED_STATES:
                violations.append(
                    Violation(
                        name,
                        f"{writer.name} ended session {session.session_id} in "
                        f"{session.state.vss_name}",
                    )
                )
            if session.thaw_signal is not None:
                violations.append(
                    Violation(
                        name, f"{writer.name}'s freeze timer still runs in {session.session_id}"
                    )
                )
    for process in world.sim.live_processes:
        violations.append(Violation(name, f"process {process.name!r} never finished"))
    return violations


def _set_windows(world: World) -> dict[str, tuple[int, int]]:
    """Each set's hold window: (hold writes seq, first release writes seq)."""
    windows: dict[str, tuple[int, int]] = {}
    for record in world.sim.trace:
        if record.actor != V.VSS:
            continue
        set_id = str(record.details.get("set_id"))
        if record.action == V.HOLD_WRITES:
            windows[set_id] = (record.seq, len(world.sim.trace))
        elif record.action == V.RELEASE_WRITES and set_id in windows:
            start, end = windows[set_id]
            windows[set_id] = (start, min(end, record.seq))
    return windows


def replicas_split_together(world: World) -> list[Violation]:
    """The pairs of one set split at one instant inside the set's hold, and each split-mirror
    S-VOL then equals its P-VOL (both rebuilt from their write histories)."""
    name = "replicas split together"
    violations = []
    volumes = {ldev.volume.label: ldev.volume for a in world.arrays for ldev in a.ldevs.values()}
    windows = _set_windows(world)
    records = world.sim.trace.records
    for split in world.sim.trace.find(action=V.PAIRS_SPLIT):
        set_id = str(split.details["set_id"])
        images = split.details["images"]
        assert isinstance(images, list)
        seqs = [int(image["seq"]) for image in images]  # type: ignore[arg-type,index,call-overload]
        times = {records[seq].time_us for seq in seqs}
        if len(times) > 1:
            violations.append(
                Violation(
                    name,
                    f"the pairs of set {set_id} split at {len(times)} instants",
                    (split.seq, *seqs),
                )
            )
        start, end = windows.get(set_id, (len(records), -1))
        for image, seq in zip(images, seqs, strict=True):
            assert isinstance(image, dict)
            if not start < seq < end:
                violations.append(
                    Violation(
                        name, f"pair {image['pair']} split outside the hold of set {set_id}", (seq,)
                    )
                )
            pvol, svol = volumes.get(str(image["pvol"])), volumes.get(str(image["svol"]))
            if image.get("kind") != "BC" or pvol is None or svol is None:
                continue  # a snapshot's image is the P-VOL itself; an LDEV deleted since
            if pvol.content_at(seq) != svol.content_at(seq):
                violations.append(
                    Violation(
                        name,
                        f"S-VOL of pair {image['pair']} differs from its P-VOL at the split",
                        (seq,),
                    )
                )
    return violations


def array_settled(world: World) -> list[Violation]:
    """At the end no pair is still copying, and each Snapshot pool counts exactly what its
    snapshots hold and never held more than its capacity."""
    name = "array settled"
    violations = []
    for array in world.arrays:
        for pair in array.pairs:
            if pair.state in COPYING:
                violations.append(Violation(name, f"pair {pair.name} ended in {pair.state}"))
        for pool in array.pools.values():
            held = sum(p.preserved_bytes for p in array.pairs if p.pool is pool)
            if pool.used_bytes != held:
                violations.append(
                    Violation(
                        name,
                        f"pool {pool.pool_id} of {array.name} counts {pool.used_bytes} bytes "
                        f"used, its snapshots hold {held}",
                    )
                )
            if pool.peak_bytes > pool.capacity_bytes:
                violations.append(
                    Violation(
                        name,
                        f"pool {pool.pool_id} of {array.name} held {pool.peak_bytes} bytes of "
                        f"{pool.capacity_bytes}",
                    )
                )
    return violations


#: What a restore agent records when it puts back, stages or takes away a file.
_FILE_ACTIONS = frozenset(
    {V.FILE_RESTORED, V.PARTIAL_FILE_RESTORED, V.FILE_STAGED_FOR_REBOOT, V.FILE_REMOVED}
)


def _failed_writers(records: Sequence[TraceRecord], agent: str, completed: str) -> dict[str, int]:
    """The writers whose call (PreRestore, PostRestore) of ``agent``'s restore failed, as VSS
    recorded their answers (``completed``): writer name -> the ``completed`` record."""
    failed: dict[str, int] = {}
    for record in records:
        if record.actor == agent and record.action == completed:
            results = record.details.get("results")
            assert isinstance(results, dict)
            for writer, hresult in results.items():
                if hresult != HResult.S_OK.name:
                    failed[str(writer)] = record.seq
    return failed


def restore_honest(world: World) -> list[Violation]:
    """Every restore (:attr:`World.restores`) tells the truth: each file it reports put back
    held the backed-up data at that instant (rebuilt from the write history); each component it
    was to restore is reported once, restored with all its backed-up files, or not restored
    with a reason and a status other than ``VSS_RS_ALL`` (unless its writer failed
    OnPostRestore after the copy); and nothing of a writer that failed OnPreRestore, or of a
    component reported ``VSS_RS_NONE``, was touched: no file of its components restored, staged
    or removed, no block of them written by the restore; a partial file only continues a chain.

    The restores of a chain (:meth:`World.restore_backups`) follow more rules: a partial file
    holds the backup's data on its ranges (as above); a restore continues a component's chain
    only after an earlier restore told its writer more restores follow
    (``SetAdditionalRestores``), and tells it exactly when more do; it removes only files the
    earlier restores of the chain put back that this backup no longer lists, each it reports;
    and the last restore of a chain leaves every file it reports put back holding the data of
    the backup point, whole (rebuilt from the write history at the point's commit): a chain
    whose partial files miss a change is caught there."""
    name = "restore honest"
    violations: list[Violation] = []
    announced: set[ComponentKey] = set()
    records = world.sim.trace.records
    ends: dict[str, list[TraceRecord]] = {}
    for record in world.sim.trace.find(action=V.RESTORE_RESULT):
        ends.setdefault(record.actor, []).append(record)
    seen: dict[str, int] = {}
    for run in world.restores:
        agent = run.result.agent
        number = seen.get(agent, 0)
        seen[agent] = number + 1
        if number >= len(ends.get(agent, [])):
            violations.append(Violation(name, f"{agent}'s restore left no restore result record"))
            continue
        end = ends[agent][number]
        start = ends[agent][number - 1].seq + 1 if number else 0
        window = records[start : end.seq + 1]
        written = [f for f in run.result.files if not f.pending_reboot]
        for problem in verify_restore(world.namespace, run.archive, written):
            violations.append(Violation(name, f"{agent} restored {problem}", (end.seq,)))
        pre_failed = _failed_writers(window, agent, V.PRE_RESTORE_COMPLETE)
        post_failed = _failed_writers(window, agent, V.POST_RESTORE_COMPLETE)
        violations.extend(_reports(name, run, pre_failed, post_failed, end.seq))
        violations.extend(_untouched(name, world, run, window, pre_failed))
        violations.extend(_partials_continue(name, run, end.seq))
        violations.extend(_chain_step(name, run, window, announced, end.seq))
        violations.extend(_at_point(name, world, run, end.seq))
    return violations


def _chain_step(
    name: str,
    run: RestoreRun,
    window: Sequence[TraceRecord],
    announced: set[ComponentKey],
    seq: int,
) -> list[Violation]:
    """A chain's restore: it continues only announced chains, announces exactly the chains
    that go on, and removes only (and all it reports of) the chain's files this backup no
    longer lists. ``announced``: the components (folded keys) whose chain an earlier restore
    said goes on; updated."""
    agent = run.result.agent
    violations = []
    continues = {key.folded: files for key, files in run.continues}
    for key in continues:
        if key not in announced:
            violations.append(
                Violation(
                    name,
                    f"{agent} continued the chain of {key.full_path}, which no earlier restore "
                    "told its writer goes on (SetAdditionalRestores)",
                    (seq,),
                )
            )
        announced.discard(key)
    marked = {
        str(r.details.get("component")).upper()
        for r in window
        if r.actor == agent
        and r.action == V.SET_ADDITIONAL_RESTORES
        and r.details.get("additional") is True
    }
    additional = {k.folded for k in run.additional_restores}
    for record, outcome in zip(run.chosen, run.result.components, strict=True):
        key = record.key.folded
        if outcome.status != RestoreStatus.ALL:
            continue
        told = record.full_path.upper() in marked
        if told != (key in additional):
            said = "told" if told else "did not tell"
            violations.append(
                Violation(
                    name,
                    f"{agent} {said} {record.writer_name} more restores of {record.full_path} "
                    f"follow, but {'none do' if told else 'they do'}",
                    (seq,),
                )
            )
        if told:
            announced.add(key)
        listed = {normalize(p) for p in record.files}
        allowed = {normalize(p) for p in continues.get(key, ())} - listed
        reported = {normalize(p) for p in outcome.removed}
        for path in sorted(reported - allowed):
            violations.append(
                Violation(
                    name,
                    f"{agent} reported {path} removed, which is not a file of the chain of "
                    f"{record.full_path} the backup no longer lists",
                    (seq,),
                )
            )
    everything_allowed = {
        normalize(p)
        for record, outcome in zip(run.chosen, run.result.components, strict=True)
        for p in outcome.removed
    }
    for r in window:
        if r.actor == agent and r.action == V.FILE_REMOVED:
            path = normalize(str(r.details.get("path")))
            if path not in everything_allowed:
                violations.append(
                    Violation(
                        name,
                        f"{agent} removed {r.details.get('path')} without reporting it",
                        (r.seq,),
                    )
                )
    return violations


def _at_point(name: str, world: World, run: RestoreRun, seq: int) -> list[Violation]:
    """The last restore of a chain: each file it reports put back holds, whole, the data of
    the backup point (its source volume at the commit, rebuilt from the write history)."""
    if run.point_seq is None:
        return []
    agent = run.result.agent
    violations = []
    namespace = world.namespace
    for outcome in run.result.components:
        if outcome.status != RestoreStatus.ALL:
            continue
        for restored in outcome.files:
            copied = run.archive.file(restored.path)
            if restored.seq is None or copied is None:
                continue  # reported by verify_restore
            first, count = copied.first_block, copied.block_count
            at_point = namespace.volume_labelled(copied.volume).content_at(run.point_seq)
            want = {
                b - first: d
                for b, d in at_point.items()
                if first <= b < first + count and not reads_as_zeros(d)
            }
            start = restored.first_block
            on_disk = namespace.volume_labelled(restored.volume).content_at(restored.seq)
            got = {
                b - start: d
                for b, d in on_disk.items()
                if start <= b < start + restored.block_count and not reads_as_zeros(d)
            }
            if got != want or restored.block_count != count:
                differing = sorted(
                    set(got) ^ set(want) | {i for i in got if i in want and got[i] != want[i]}
                )
                violations.append(
                    Violation(
                        name,
                        f"{agent} ended the chain of {outcome.component} with "
                        f"{restored.target} unlike {restored.path} at the backup point: blocks "
                        f"{differing[:5]} differ",
                        (run.point_seq, seq),
                    )
                )
    return violations


def _reports(
    name: str, run: RestoreRun, pre_failed: dict[str, int], post_failed: dict[str, int], seq: int
) -> list[Violation]:
    """Each component the restore was to put back reported once, and truthfully."""
    agent = run.result.agent
    reported = run.result.components
    if [c.full_path.upper() for c in run.chosen] != [c.component.upper() for c in reported]:
        return [
            Violation(
                name,
                f"{agent} reported components {[c.component for c in reported]} for the "
                f"{[c.full_path for c in run.chosen]} of the archive it was to restore",
                (seq,),
            )
        ]
    violations = []
    for record, outcome in zip(run.chosen, reported, strict=True):
        label = f"{record.writer_name}:{record.full_path}"
        status = outcome.status.vss_name
        if outcome.restored:
            listed = {normalize(f.path) for f in outcome.files}
            missing = [p for p in record.files if normalize(p) not in listed]
            if missing:
                violations.append(
                    Violation(name, f"{agent} reported {label} restored without {missing[0]}")
                )
            if outcome.writer in pre_failed:
                violations.append(
                    Violation(
                        name,
                        f"{agent} reported {label} restored though {outcome.writer} failed "
                        "OnPreRestore",
                        (pre_failed[outcome.writer], seq),
                    )
                )
        elif not outcome.reason:
            violations.append(
                Violation(name, f"{agent} reported {label} {status} without a reason", (seq,))
            )
        elif outcome.status == RestoreStatus.ALL and outcome.writer not in post_failed:
            violations.append(
                Violation(
                    name,
                    f"{agent} reported {label} {status} and not restored ({outcome.reason}), "
                    f"but {outcome.writer} did not fail OnPostRestore",
                    (seq,),
                )
            )
        if outcome.status == RestoreStatus.NONE and outcome.files:
            violations.append(
                Violation(
                    name,
                    f"{agent} reported {label} {status} but lists {len(outcome.files)} files "
                    "put back",
                    (seq,),
                )
            )
    return violations


def _untouched(
    name: str,
    world: World,
    run: RestoreRun,
    window: Sequence[TraceRecord],
    pre_failed: dict[str, int],
) -> list[Violation]:
    """No file restored, staged, removed or written of a writer that failed OnPreRestore
    (after it failed), nor of a component the restore reports ``VSS_RS_NONE`` (at all)."""
    agent = run.result.agent
    keep_out: list[tuple[str, int, set[str]]] = []  # (whose files, since which record, paths)
    for writer, failed_at in sorted(pre_failed.items()):
        paths = {normalize(p) for c in run.chosen if c.writer_name == writer for p in c.files}
        keys = {c.key.folded for c in run.chosen if c.writer_name == writer}
        paths |= {normalize(p) for key, files in run.continues if key.folded in keys for p in files}
        keep_out.append((f"{writer}, which failed OnPreRestore", failed_at, paths))
    for component, outcome in zip(run.chosen, run.result.components, strict=True):
        if outcome.status == RestoreStatus.NONE and component.writer_name not in pre_failed:
            paths = {normalize(p) for p in component.files}
            keep_out.append((f"{component.full_path}, reported VSS_RS_NONE", -1, paths))
    violations = []
    for whose, since, paths in keep_out:
        blocks: dict[str, set[int]] = {}
        for path in sorted(paths):
            file = world.namespace.find(path)
            if file is not None:
                blocks.setdefault(file.volume.label, set()).update(file.volume_blocks())
        for record in window:
            if record.seq <= since or record.details.get("origin", agent) != agent:
                continue
            if record.actor == agent and record.action in _FILE_ACTIONS:
                path = str(record.details.get("path"))
                if normalize(path) in paths:
                    violations.append(
                        Violation(
                            name,
                            f"{agent}: {record.action} {path}, a file of {whose}",
                            (record.seq,),
                        )
                    )
            elif record.action == V.WRITE:
                block = record.details.get("block")
                if isinstance(block, int) and block in blocks.get(record.actor, ()):
                    violations.append(
                        Violation(
                            name,
                            f"{agent} wrote block {block} of {record.actor}, in a file of {whose}",
                            (record.seq,),
                        )
                    )
        for operation in world.namespace.pending_operations:
            if operation.origin == agent and normalize(operation.path) in paths:
                violations.append(
                    Violation(
                        name, f"{agent} staged {operation.path}, a file of {whose}, for the reboot"
                    )
                )
    return violations


def _partials_continue(name: str, run: RestoreRun, seq: int) -> list[Violation]:
    """A partial file is written only on top of what an earlier restore of its chain put back:
    its component must continue a chain (:attr:`RestoreRun.continues`)."""
    continued = {key.folded for key, _ in run.continues}
    owner = {normalize(p): c for c in run.chosen for p in c.files}
    violations = []
    for restored in run.result.files:
        component = owner.get(normalize(restored.path))
        if restored.ranges is None or component is None:
            continue
        if component.key.folded not in continued:
            violations.append(
                Violation(
                    name,
                    f"{run.result.agent} wrote the ranges of {restored.path} on top of a "
                    f"file no earlier restore of {component.full_path}'s chain put back",
                    (seq,),
                )
            )
    return violations


#: Every invariant, in the order reports list them.
INVARIANTS: tuple[Invariant, ...] = (
    Invariant(
        "one set at a time",
        "at most one shadow copy set is created at a time, and no "
        "volume is in two sets being created",
        one_set_at_a_time,
    ),
    Invariant(
        "no write while held",
        "no write lands on a volume between the flush-and-hold and the release of its set",
        no_write_during_hold,
    ),
    Invariant(
        "point in time",
        "every shadow copy equals its volume at the commit instant, "
        "shared by all volumes of the set",
        point_in_time,
    ),
    Invariant(
        "no write lost",
        "every write issued is on its volume at the end, once, in issue order",
        no_write_lost,
    ),
    Invariant(
        "application consistency",
        "a frozen writer's application writes nothing between freeze and thaw",
        application_consistency,
    ),
    Invariant(
        "application thawed",
        "a writer's application frozen for a backup is thawed by the end of its freeze window "
        "(VSS's thaw or abort, or the writer's freeze timeout) and not frozen for it after",
        application_thawed,
    ),
    Invariant(
        "replicas split together",
        "the pairs of a set split at one instant inside its hold, each S-VOL then equal to its "
        "P-VOL",
        replicas_split_together,
    ),
    Invariant(
        "array settled",
        "at the end no pair is copying; snapshot pools add up and never exceeded capacity",
        array_settled,
    ),
    Invariant(
        "restore honest",
        "every file a restore reports put back equals the backup; every component is reported "
        "restored, or not with a reason; a writer that failed OnPreRestore is left untouched",
        restore_honest,
    ),
    Invariant(
        "quiescence",
        "at the end nothing is locked, marked, held or frozen and every process has finished",
        quiescence,
    ),
)


def check_all(
    world: World, invariants: Sequence[Invariant] = INVARIANTS
) -> dict[str, list[Violation]]:
    """Run ``invariants`` over a finished world; maps each name to its violations."""
    return {inv.name: inv.check(world) for inv in invariants}
