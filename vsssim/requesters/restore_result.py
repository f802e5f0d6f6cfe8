"""What a restore is asked and what it reports: its options, each file put back, each
component's restore, the whole restore's result."""

from __future__ import annotations

import attrs

from vsssim.requesters.backup_result import Outcome
from vsssim.sim.kernel import MILLISECOND
from vsssim.vss import _args
from vsssim.vss.constants import RestoreMethod, RestoreStatus
from vsssim.vss.coordinator.service import WriterStatus


@attrs.frozen
class RestoreOptions:
    """How the agent restores: copy speed, and how long stopping or starting a service takes."""

    copy_bytes_per_s: int = 400 * 1024 * 1024
    service_control_us: int = 500 * MILLISECOND

    def __attrs_post_init__(self) -> None:
        _args.check_int("copy_bytes_per_s", self.copy_bytes_per_s, low=1, config=True)
        _args.check_int("service_control_us", self.service_control_us, low=0, config=True)


@attrs.frozen
class RestoredFile:
    """A file put back: the backed-up ``path``, the ``target`` it went to, and where the target
    lies. ``seq`` is the trace record after which the target held the backed-up content; it is
    None while the file waits for a reboot. ``ranges`` are the byte ranges written of a partial
    file (None: the whole file)."""

    path: str
    target: str
    seq: int | None
    volume: str = ""
    first_block: int = 0
    block_count: int = 0
    ranges: tuple[tuple[int, int], ...] | None = None

    @property
    def pending_reboot(self) -> bool:
        """True while the file is staged for the next reboot."""
        return self.seq is None


@attrs.frozen
class ComponentRestore:
    """How one component of the document was restored.

    ``status`` is what the agent reported with ``SetFileRestoreStatus`` (``VSS_RS_NONE`` for a
    component it did not select): ``ALL`` restored (or staged for the reboot), ``NONE`` nothing
    written, ``FAILED`` some files written. ``reason`` says why a component is not restored,
    or what went wrong after its files were put back. ``removed`` are the files a restore that
    continues a chain took away: put back by the earlier restores of the chain, but gone by
    the time of this backup.
    """

    writer: str
    component: str
    method: RestoreMethod
    status: RestoreStatus
    files: tuple[RestoredFile, ...] = ()
    reason: str = ""
    removed: tuple[str, ...] = ()

    @property
    def restored(self) -> bool:
        """True if every file was put back (or staged) and the writer had no complaint."""
        return self.status == RestoreStatus.ALL and not self.reason

    def __str__(self) -> str:
        state = "restored" if self.restored else f"{self.status.vss_name}: {self.reason}"
        return f"{self.writer}:{self.component} ({self.method.vss_name}) {state}"


@attrs.frozen
class RestoreResult:
    """What one restore did, component by component."""

    agent: str
    outcome: Outcome
    message: str
    components: tuple[ComponentRestore, ...] = ()
    writer_status: tuple[WriterStatus, ...] = ()
    started_us: int = 0
    finished_us: int = 0

    @property
    def restored(self) -> tuple[ComponentRestore, ...]:
        """The components put back whole."""
        return tuple(c for c in self.components if c.restored)

    @property
    def not_restored(self) -> tuple[ComponentRestore, ...]:
        """The components not (or not wholly, or not cleanly) put back, each with its reason."""
        return tuple(c for c in self.components if not c.restored)

    @property
    def files(self) -> tuple[RestoredFile, ...]:
        """Every file written back or staged, in order."""
        return tuple(f for c in self.components for f in c.files)
