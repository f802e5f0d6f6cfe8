"""The restore's promises: what a restore reports is true, chains continue and end right, and
what it was to leave alone is left alone."""

from __future__ import annotations

from collections.abc import Sequence

from vsssim.errors import HResult
from vsssim.host.world import RestoreRun, World
from vsssim.requesters.restore import verify_restore
from vsssim.sim import vocabulary as V
from vsssim.sim.trace import TraceRecord
from vsssim.testing.invariants.violation import Violation
from vsssim.vss.constants import RestoreStatus
from vsssim.vss.metadata import ComponentKey
from vsssim.vss.namespace import normalize, reads_as_zeros

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
    continues = {key.folded: files for key, files in run.continues}
    violations = []
    for key in continues:
        if key not in announced:
            violations.append(
                Violation(
                    name,
                    f"{run.result.agent} continued the chain of {key.full_path}, which no earlier "
                    "restore told its writer goes on (SetAdditionalRestores)",
                    (seq,),
                )
            )
        announced.discard(key)
    violations.extend(_announced_and_removed(name, run, window, continues, announced, seq))
    violations.extend(_removals_reported(name, run, window))
    return violations


def _announced_and_removed(
    name: str,
    run: RestoreRun,
    window: Sequence[TraceRecord],
    continues: dict[ComponentKey, frozenset[str]],
    announced: set[ComponentKey],
    seq: int,
) -> list[Violation]:
    """Each component restored whole: its writer told more restores follow exactly when they do
    (then ``announced`` gets it), and the files reported removed are the chain's files this
    backup no longer lists (``continues``: each continued chain's files, by folded key)."""
    agent = run.result.agent
    violations = []
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
    return violations


def _removals_reported(
    name: str, run: RestoreRun, window: Sequence[TraceRecord]
) -> list[Violation]:
    """Every file the restore removed is one it reports removed."""
    agent = run.result.agent
    everything_allowed = {
        normalize(p)
        for record, outcome in zip(run.chosen, run.result.components, strict=True)
        for p in outcome.removed
    }
    violations = []
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
