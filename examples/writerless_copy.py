"""A shadow copy made without writers (VSS_CTX_NAS_ROLLBACK), call by call, as your requester
would make it.

Some copies need no writer: a quick safety net of a file share, a rollback point of a data
volume with no database on it. Microsoft's "Shadow Copy Creation Details" gives the rules for
the writerless contexts (VSS_CTX_FILE_SHARE_BACKUP, VSS_CTX_NAS_ROLLBACK; also
VSS_CTX_CLIENT_ACCESSIBLE): InitializeForBackup and StartSnapshotSet are all that is needed,
GatherWriterMetadata is allowed but not required, AddComponent, PrepareForBackup and
BackupComplete are errors, and no writer hears PrepareForSnapshot, Freeze, Thaw or PostSnapshot.
The copy is crash-consistent only: an application writing to the volume is not asked to pause.

Run: python examples/writerless_copy.py
"""

from __future__ import annotations

import vsssim
from vsssim.host.demo import build_demo_world
from vsssim.sim import vocabulary as V
from vsssim.vss.constants import SnapshotAttr


def refused(call: str, make_call: object) -> None:
    """Show that a call the writerless context does not allow is refused, and how."""
    try:
        make_call()  # type: ignore[operator]
    except vsssim.VssError as error:
        print(f"  {call:20} refused: {error.hresult.name}")
    else:
        raise SystemExit(f"{call} was accepted; a writerless context refuses it")


def main() -> None:
    world = build_demo_world(seed=1)
    sim, vss = world.sim, world.coordinator
    bc = vss.create_backup_components("my requester")

    # 1. Initialize, then choose the context: SetContext once, before most other calls.
    #    NAS_ROLLBACK copies are persistent (they outlive the session) and made without writers.
    bc.initialize_for_backup()
    bc.set_context(vsssim.Context.NAS_ROLLBACK)

    # 2. No GatherWriterMetadata, no components: the set is defined at once.
    bc.start_snapshot_set()
    snapshot_id = bc.add_to_snapshot_set("F:\\")

    # 3. The calls that involve writers are errors in this context (VSS_E_BAD_STATE here).
    print("calls a writerless context refuses:")
    refused("PrepareForBackup", bc.prepare_for_backup)

    # 4. DoSnapshotSet: the providers make the copy; the writers hear nothing.
    sim.run(until=bc.do_snapshot_set())
    heard = [r for r in sim.trace if r.action in (V.ON_PREPARE_SNAPSHOT, V.ON_FREEZE, V.ON_THAW)]
    print(f"writer events during DoSnapshotSet: {len(heard)}")
    props = bc.get_snapshot_properties(snapshot_id)
    print(f"{props.original_volume_label} -> {props.snapshot_device_object}")
    wanted = (SnapshotAttr.NO_WRITERS, SnapshotAttr.PERSISTENT, SnapshotAttr.NO_AUTO_RELEASE)
    for attribute in wanted:
        print(f"  {attribute.vss_name:34} {bool(props.attributes & attribute)}")

    # 5. No BackupComplete either: there is no writer to tell. Release the object; a persistent
    #    copy stays (a FILE_SHARE_BACKUP copy, auto-release, would be deleted now).
    refused("BackupComplete", bc.backup_complete)
    sim.run(until=bc.release())
    print(f"shadow copies left after Release: {len(vss.snapshots)}")


if __name__ == "__main__":
    main()
