"""The seed's safety rules, read from the trace: one set at a time, no write while held,
point in time, no write lost, application consistency."""

from __future__ import annotations

from vsssim.errors import VssError
from vsssim.host.world import World
from vsssim.requesters.backup_result import verify_copy
from vsssim.sim import vocabulary as V
from vsssim.sim.trace import TraceRecord
from vsssim.testing.invariants.violation import Violation
from vsssim.vss.constants import SnapshotState
from vsssim.vss.volumes import Volume


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
        elif record.action in (V.WRITE, V.WRITES) and record.actor in held:
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
    the volume content rebuilt from what the volume kept of its writes (its image at the
    commit, an instant every volume keeps: :meth:`Volume.keep_image
    <vsssim.vss.volumes.Volume.keep_image>`).
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
        # From every write if the volume kept them, else from the runs of issue numbers.
        parts = _history_problems(volume) if volume.keep_history else volume.lost_write_problems()
        if parts is not None:
            violations.append(Violation(name, f"volume {volume.label}: " + ", ".join(parts)))
    return violations


def _history_problems(volume: Volume) -> list[str] | None:
    """:meth:`Volume.lost_write_problems` recomputed from every write the volume kept (the
    ground truth the bounded runs are tested against)."""
    issues = [w.issue for w in volume.history if w.issue]  # 0: written by an array
    expected = list(range(1, volume.writes_issued + 1))
    if issues == expected:
        return None
    missing = sorted(set(expected) - set(issues))
    doubled = len(issues) - len(set(issues))
    parts = []
    if missing:
        parts.append(f"{len(missing)} lost (first issue #{missing[0]})")
    if doubled:
        parts.append(f"{doubled} applied twice")
    if issues != sorted(issues):
        parts.append("applied out of issue order")
    return parts


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
        if record.action in (V.WRITE, V.WRITE_HELD, V.WRITES):
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
