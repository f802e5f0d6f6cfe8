"""The reports the commands print: summaries, invariant verdicts, restores, the writer list."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from vsssim.errors import ConfigurationError, HResult
from vsssim.host.demo import (
    DEMO_DAMAGE_US,
    DEMO_DELETIONS,
    InstantRecoveryDemo,
    RestoreDemo,
)
from vsssim.host.world import World
from vsssim.render.sequence import render_mermaid
from vsssim.render.text import WIDTH, describe
from vsssim.requesters.backup_result import BackupResult
from vsssim.sim import vocabulary as V
from vsssim.sim.trace import Trace, writes_in
from vsssim.testing.invariants import INVARIANTS, check_all
from vsssim.vss.constants import WriterState


def sequence_diagram(trace: Trace, participants: str | None) -> str:
    """The Mermaid sequence diagram of a run, limited to ``participants`` (comma-separated, as
    ``--participants`` takes them); one naming nobody is bad input."""
    chosen = None if participants is None else participants.split(",")
    try:
        return render_mermaid(trace, participants=chosen)
    except ValueError as error:
        raise ConfigurationError(f"--participants: {error}") from None


def add_participants_option(command: argparse.ArgumentParser) -> None:
    """``--participants``: the lifelines a Mermaid sequence diagram keeps."""
    command.add_argument(
        "--participants",
        metavar="NAMES",
        help="mermaid: draw only these lifelines (comma-separated names, or agents, writers, "
        "providers, arrays, volumes; VSS always), for a diagram that reads at a page's width",
    )


#: The units of :func:`human_size`, each 1024 times the one before.
_UNITS = ("KiB", "MiB", "GiB", "TiB")


def human_size(size: int) -> str:
    """A byte count in the largest unit it fills (``512 bytes``, ``2.62 MiB``, ``1.47 GiB``)."""
    if size < 1024:
        return f"{size} bytes"
    value = float(size)
    unit = _UNITS[0]
    for unit in _UNITS:
        value /= 1024
        if value < 1024 or unit == _UNITS[-1]:
            break
    return f"{value:.2f} {unit}"


def _copied(size: int) -> str:
    """The bytes a backup copied: exact, and in a readable unit when it is not bytes."""
    return f"{size} bytes" if size < 1024 else f"{size} bytes, {human_size(size)}"


def _summary(world: World, results: Sequence[BackupResult]) -> tuple[list[str], list[str]]:
    """The summary lines of a run, and its problems (copied data that differs from its volume)."""
    lines = ["", "Summary"]
    problems: list[str] = []
    trace = world.sim.trace
    if world.crash is not None:
        problems.append(f"the run stopped early: {world.crash}")
    running = [agent.name for agent, _ in world.agents if agent.result is None]
    if running and world.crash is None:
        problems.append(f"still running when the run's time ran out: {', '.join(running)}")
    if world.restoring:
        problems.append("the restore was still running when the run's time ran out")
    lines += [f"  problem: {p}" for p in problems]
    for result in results:
        mismatches = world.verify(result)
        problems += [f"{result.agent}: {m}" for m in mismatches]
        duration = (result.finished_us - result.started_us) / 1_000_000
        lines.append(f"  {result.agent}: {result.message} ({result.hresult.name})")
        lines.append(
            f"    components:         {len(result.components)}: {', '.join(result.components)}"
        )
        lines += [f"    left out:           {c.component}: {c.reason}" for c in result.left_out]
        lines.append(f"    volumes:            {', '.join(result.volumes) or '-'}")
        lines.append(
            f"    files copied:       {len(result.files)} ({_copied(result.bytes_copied)})"
        )
        lines.append(f"    simulated duration: {duration:.6f} s")
        if result.commit_seq is not None:
            verdict = (
                (f"copied data equals the data at the snapshot instant ({len(result.files)} files)")
                if not mismatches
                else "; ".join(mismatches)
            )
            lines.append(f"    data check:         {verdict}")
    held = len(trace.find(action=V.WRITE_HELD))
    writes = sum(
        writes_in(r)
        for r in trace.records
        if r.action in (V.WRITE, V.WRITES) and r.details.get("origin") != "setup"
    )
    lines.append(
        f"  application writes:   {writes} landed, {held} of them held during a commit "
        "and applied at release"
    )
    writers = world.coordinator.writers
    stable = [w for w in writers if w.state == WriterState.STABLE]
    lines.append(
        f"  writers:              {len(stable)} of {len(writers)} {WriterState.STABLE.vss_name}"
    )
    for writer in writers:
        if writer.state != WriterState.STABLE:
            lines.append(f"    {writer.name}: {writer.state.vss_name}, {writer.failure}")
    lines.append(
        f"  simulated time:       {world.sim.now / 1_000_000:.6f} s, {len(trace)} trace records"
    )
    return lines, problems


def invariant_report(world: World) -> tuple[list[str], int]:
    """One line per invariant, then ``Invariants: N checked, M violated``; and M."""
    report = check_all(world)
    lines = ["", "Invariants"]
    for invariant in INVARIANTS:
        found = report[invariant.name]
        verdict = "ok" if not found else f"VIOLATED ({len(found)})"
        lines.append(f"  {invariant.name:<26} {verdict:<14} {invariant.statement}")
        lines.extend(f"    {violation}" for violation in found[:5])
    violated = sum(1 for found in report.values() if found)
    lines.append(f"Invariants: {len(report)} checked, {violated} violated")
    return lines, violated


def restore_demo_report(demo: RestoreDemo, *, width: int | None = WIDTH) -> list[str]:
    """The restore demo told: backup, damage, the restore step by step, and the data check."""
    backup, archive, restore = demo.backup, demo.archive, demo.restore
    document = archive.document
    writers = {c.writer_instance_id for c in document.components}
    lines = [
        "Backup",
        f"  {backup.agent}: {backup.message} ({backup.hresult.name}): "
        f"{len(backup.components)} components, {len(backup.files)} files, "
        f"{human_size(backup.bytes_copied)}; backup point {document.time_us / 1_000_000:.6f} s",
        f"  Backup Components Document: {document.backup_type.vss_name}, shadow copy set "
        f"{document.snapshot_set_id}, {len(document.components)} components of "
        f"{len(writers)} writers",
        "",
        "Damage",
        f"  the applications wrote for {DEMO_DAMAGE_US / 1_000_000:g} s more, then a user "
        f"deleted {', '.join(DEMO_DELETIONS)}",
        f"  {len(demo.damaged)} of {len(archive.files)} backed-up files differ from the backup "
        f"or are gone: {', '.join(demo.damaged) or '-'}",
        "",
        "Restore",
    ]
    trace = demo.world.sim.trace
    first = next(r.seq for r in trace if r.action == V.DELETE_FILE)
    quiet = (V.WRITE, V.WRITE_HELD, V.WRITES)
    lines += [describe(r, width=width) for r in trace.records[first:] if r.action not in quiet]
    lines += ["", "Summary", f"  {restore.agent}: {restore.outcome.value}: {restore.message}"]
    for component in restore.components:
        files = f", {len(component.files)} files" if component.files else ""
        lines.append(f"    {component}{files}")
    lines.append(f"  reboot: {len(demo.rebooted)} pending file operations applied")
    restored = [c for c in restore.components if c.files]
    if demo.problems:
        lines += [f"  data check: MISMATCH {p}" for p in demo.problems]
    else:
        lines.append(
            f"  data check: restored data equals the backup point ({len(restore.files)} files "
            f"of {len(restored)} components, each checked when it was put in place)"
        )
    lines += [f"  unexpected: {u}" for u in demo.unexpected]
    return lines


def instant_recovery_demo_report(
    demo: InstantRecoveryDemo, *, width: int | None = WIDTH
) -> list[str]:
    """The instant recovery demo told: the backup and its replica, the damage, the recovery
    step by step, and the check of each volume against its split instant."""
    backup, recovery, world = demo.backup, demo.recovery, demo.world
    lines = ["Backup", f"  {backup.agent}: {backup.message} ({backup.hresult.name})"]
    for r in demo.replicas:
        split = (r.image_us or 0) / 1_000_000
        lines.append(
            f"  {r.snapshot.volume.label} (P-VOL {r.pvol}): replica on LDEV {r.svol} "
            f"({r.mode} mode), split at "
            f"{split:.6f} s, kept and tracked for instant recovery"
        )
    lines += [
        "",
        "Damage",
        f"  the applications wrote for {DEMO_DAMAGE_US / 1_000_000:g} s more: "
        f"{', '.join(demo.damaged) or 'nothing'} no longer equal their replica",
        "",
        "Instant recovery",
    ]
    trace = world.sim.trace
    first = next(r.seq for r in trace if r.actor == recovery_agent_name(trace))
    quiet = (V.WRITE, V.WRITE_HELD, V.WRITES)
    lines += [describe(r, width=width) for r in trace.records[first:] if r.action not in quiet]
    lines += ["", "Summary", f"  instant recovery: {recovery.message} ({recovery.hresult.name})"]
    if demo.problems:
        lines += [f"  data check: MISMATCH {p}" for p in demo.problems]
    else:
        lines.append(
            f"  data check: {', '.join(recovery.volumes)} equal their split instant, rebuilt "
            "from each volume's write history"
        )
    for label in recovery.lost:
        lines.append(f"  LOST: {label}'s data before the recovery")
    return lines


def recovery_agent_name(trace: Trace) -> str:
    """The requester of the first instant recovery in ``trace``."""
    return next(r.actor for r in trace if r.action == V.INSTANT_RECOVERY)


_STATE_WORDS = {
    WriterState.UNKNOWN: "Unknown",
    WriterState.STABLE: "Stable",
    WriterState.WAITING_FOR_FREEZE: "Waiting for freeze",
    WriterState.WAITING_FOR_THAW: "Waiting for thaw",
    WriterState.WAITING_FOR_POST_SNAPSHOT: "Waiting for post snapshot",
    WriterState.WAITING_FOR_BACKUP_COMPLETE: "Waiting for completion",
}


_ERROR_WORDS = {
    HResult.S_OK: "No error",
    HResult.VSS_E_WRITERERROR_RETRYABLE: "Retryable error",
    HResult.VSS_E_WRITERERROR_NONRETRYABLE: "Non-retryable error",
    HResult.VSS_E_WRITERERROR_TIMEOUT: "Timed out",
    HResult.VSS_E_WRITERERROR_INCONSISTENTSNAPSHOT: "Inconsistent shadow copy",
    HResult.VSS_E_WRITERERROR_OUTOFRESOURCES: "Out of resources",
    HResult.VSS_E_WRITER_NOT_RESPONDING: "Not responding",
}


def list_writers(world: World) -> str:
    """The writers of ``world`` the way ``vssadmin list writers`` shows them."""
    lines = []
    for writer in world.coordinator.writers:
        state = writer.state
        words = _STATE_WORDS.get(state, "Failed")
        error = _ERROR_WORDS.get(writer.failure, str(writer.failure))
        lines += [
            f"Writer name: '{writer.name}'",
            f"   Writer Id: {{{writer.class_id}}}",
            f"   Writer Instance Id: {{{writer.instance_id}}}",
            f"   State: [{int(state)}] {words}",
            f"   Last error: {error}",
            "",
        ]
    return "\n".join(lines)
