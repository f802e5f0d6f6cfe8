"""Drive the simulated VSS call by call, as your own requester would.

Run: python examples/drive_vss_yourself.py
"""

from __future__ import annotations

import vsssim
from vsssim.host.demo import build_demo_world


def main() -> None:
    world = build_demo_world(seed=1)
    sim, vss = world.sim, world.coordinator
    bc = vss.create_backup_components("my requester")

    # Phases 1 and 2: start, and gather the writers' metadata (OnIdentify).
    bc.initialize_for_backup()
    bc.set_backup_state(select_components=True, backup_type=vsssim.BackupType.FULL)
    metadata = sim.run(until=bc.gather_writer_metadata())
    sql = next(m for m in metadata if m.writer_name == "SqlServerWriter")

    # Phase 3: the components; phase 4: the set, then PrepareForBackup (the order VSS enforces).
    bc.add_component(sql.writer_class_id, "SQLSRV01", "Sales")
    bc.start_snapshot_set()
    bc.add_to_snapshot_set("D:\\")
    bc.add_to_snapshot_set("E:\\")
    sim.run(until=bc.prepare_for_backup())

    # Phases 5 to 7: prepare, freeze, flush and hold, commit, release, thaw, post-snapshot.
    snapshot_set = sim.run(until=bc.do_snapshot_set())
    for snapshot in snapshot_set.snapshots:
        props = bc.get_snapshot_properties(snapshot.snapshot_id)
        print(f"{props.original_volume_label:4} -> {props.snapshot_device_object}")

    statuses = sim.run(until=bc.gather_writer_status())
    for status in statuses:
        print(f"{status.writer_name:32} {status.state.vss_name}")

    sim.run(until=bc.backup_complete())
    sim.run(until=bc.release())  # auto-release: the shadow copies are deleted
    print(f"shadow copies left: {len(vss.snapshots)}")


if __name__ == "__main__":
    main()
