"""Check writer status after a DoSnapshotSet that succeeded, as a requester must.

A writer can veto an event without stopping it ("Writer Errors and Vetoes" on Microsoft
Learn): it calls SetWriterFailure and returns true. VSS goes on, DoSnapshotSet succeeds, and
only GatherWriterStatus tells you that the writer is in VSS_WS_FAILED_AT_FREEZE: its data in
the shadow copy is not consistent. Here SQL Server's writer vetoes at Freeze (forced by a fault
plan); the requester leaves its components out (SetBackupSucceeded false) and backs up the
rest.

Run: python examples/check_writer_status.py
"""

from __future__ import annotations

import vsssim
from vsssim.host.demo import build_demo_world


def main() -> None:
    world = build_demo_world(seed=1)
    sim, vss = world.sim, world.coordinator
    vss.install_faults(
        vsssim.FaultPlan.forced("writer-vetoes-nonretryable", "SqlServerWriter.OnFreeze")
    )
    bc = vss.create_backup_components("my requester")
    bc.initialize_for_backup()
    bc.set_backup_state(select_components=True, backup_type=vsssim.BackupType.FULL)
    metadata = sim.run(until=bc.gather_writer_metadata())
    wanted = {("SqlServerWriter", "SQLSRV01\\Sales"), ("Registry Writer", "Registry")}
    chosen = [
        (m, c) for m in metadata for c in m.components if (m.writer_name, c.full_path) in wanted
    ]
    for writer, component in chosen:
        bc.add_component(writer.writer_class_id, component.logical_path, component.name)
    bc.start_snapshot_set()
    for volume in ("C:\\", "D:\\", "E:\\"):
        bc.add_to_snapshot_set(volume)
    sim.run(until=bc.prepare_for_backup())

    # 1. DoSnapshotSet succeeds: the shadow copies exist.
    snapshot_set = sim.run(until=bc.do_snapshot_set())
    print(f"DoSnapshotSet succeeded: {len(snapshot_set.snapshots)} shadow copies")

    # 2. That is not the end of it: ask every writer how the events went.
    statuses = sim.run(until=bc.gather_writer_status())
    failed = {s.writer_class_id for s in statuses if s.failed}
    for status in statuses:
        if status.failed:
            print(f"{status.writer_name}: {status.state.vss_name}, {status.failure.name}")

    # 3. Back up only what a writer stands behind; tell VSS which components made it.
    for writer, component in chosen:
        ok = writer.writer_class_id not in failed
        bc.set_backup_succeeded(writer.writer_class_id, component.logical_path, component.name, ok)
        print(f"{'backed up' if ok else 'left out '} {writer.writer_name}: {component.full_path}")

    # 4. BackupComplete goes to the writers that did not fail; release deletes the copies.
    sim.run(until=bc.backup_complete())
    sim.run(until=bc.release())
    print(f"shadow copies left: {len(vss.snapshots)}")


if __name__ == "__main__":
    main()
