"""A shadow copy set's life in the coordinator: its volumes added (IsVolumeSupported says
whether one could be, AddToSnapshotSet adds it), its creation (what VSS does between
DoSnapshotSet and its answer, phases 5 to 7 of the seed), its abort when it cannot be created,
and the deletion of its shadow copies.

:func:`create_set` runs the creation as named steps, each a stretch of the seed: the writers
prepare and freeze and the providers prepare (:meth:`_SetCreation.prepare`), writes are flushed
and held (:meth:`~_SetCreation.flush_and_hold`), the providers commit side by side
(:meth:`~_SetCreation.commit`), writes flow again and the writers thaw
(:meth:`~_SetCreation.release_and_thaw`), and the writers hear PostSnapshot
(:meth:`~_SetCreation.complete`). Every provider call is recorded, then made, through one
helper. Any failure aborts the set (:func:`abort_set`) and raises :class:`VssError`.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Mapping

import attrs

from vsssim.errors import HResult, VssError
from vsssim.sim import vocabulary as V
from vsssim.sim.kernel import SECOND, Event, ProcessGenerator, Simulation
from vsssim.vss import volume_names
from vsssim.vss.constants import ProviderType, SnapshotAttr, WriterState
from vsssim.vss.coordinator.service import (
    CONTEXT_ATTRIBUTES,
    VSS,
    SnapshotSet,
    VssService,
    writers_take_part,
)
from vsssim.vss.coordinator.session_base import SessionBase
from vsssim.vss.providers.base import Provider, ShadowCopy
from vsssim.vss.writers.base import Writer


def session_attributes(session: SessionBase) -> SnapshotAttr:
    """The attributes the session's context gives its shadow copies. ``VSS_CTX_ALL`` makes
    none (StartSnapshotSet refuses it) and asks for none: IsVolumeSupported in it answers
    whether a provider could shadow-copy the volume at all."""
    base = CONTEXT_ATTRIBUTES.get(session.context, SnapshotAttr(0))
    return base | session.context_attributes


def volume_supported(
    coordinator: VssService,
    volume_path: str,
    provider_id: uuid.UUID | None,
    session: SessionBase,
) -> bool:
    """IsVolumeSupported's work: whether the provider (any, without one) could shadow-copy the
    volume holding ``volume_path`` in a set (a provider not registered is an error)."""
    volume = volume_names.resolve(coordinator.namespace, volume_path)
    try:
        if volume is None:
            raise volume_names.share_refused(volume_path, provider_id, coordinator.providers)
        coordinator.provider_for(volume, provider_id, session_attributes(session))
    except VssError as refused:
        if refused.hresult == HResult.VSS_E_PROVIDER_NOT_REGISTERED:
            raise
        return False
    return True


def add_volume(
    coordinator: VssService,
    session: SessionBase,
    snapshot_set: SnapshotSet,
    volume_path: str,
    provider_id: uuid.UUID | None,
) -> ShadowCopy:
    """AddToSnapshotSet's work: a shadow copy of the volume holding ``volume_path`` joins the
    set being defined (its provider chosen, the volume marked as in the set)."""
    volume = volume_names.resolve(coordinator.namespace, volume_path)
    if volume is None:
        raise volume_names.share_refused(volume_path, provider_id, coordinator.providers)
    if snapshot_set.holds(volume):
        raise VssError(
            HResult.VSS_E_OBJECT_ALREADY_EXISTS,
            f"volume {volume.label} is in shadow copy set {snapshot_set.set_id} already",
        )
    if len(snapshot_set.snapshots) >= coordinator.config.max_volumes_per_set:
        raise VssError(
            HResult.VSS_E_MAXIMUM_NUMBER_OF_VOLUMES_REACHED,
            f"a shadow copy set holds at most {coordinator.config.max_volumes_per_set} volumes",
        )
    if volume.marked_by is not None:
        raise VssError(
            HResult.VSS_E_VOLUME_IN_USE,
            f"volume {volume.label} is in shadow copy set {volume.marked_by}, being created",
        )
    attributes = session_attributes(session)
    provider = coordinator.provider_for(volume, provider_id, attributes)
    provider.check_room(volume)
    if provider.provider_type == ProviderType.HARDWARE:
        attributes |= SnapshotAttr.HARDWARE_ASSISTED
    snapshot = ShadowCopy(
        snapshot_id=coordinator.new_id("snapshot"),
        set_id=snapshot_set.set_id,
        volume=volume,
        provider=provider,
        attributes=attributes,
        device_object=coordinator.next_shadow_device(),
        context=session.context,
    )
    volume.marked_by = str(snapshot_set.set_id)
    snapshot_set.add(snapshot)
    return snapshot


def abort_set(
    coordinator: VssService,
    session: SessionBase,
    snapshot_set: SnapshotSet | None,
    hresult: HResult,
    reason: str,
    phase: int | None,
) -> ProcessGenerator:
    """Abort as VSS does: release writes, undo providers, OnAbort, drop marks and lock."""
    sim = coordinator.sim
    set_id = str(snapshot_set.set_id) if snapshot_set is not None else None
    sim.trace.record(phase, VSS, V.ABORT, set_id=set_id, result=hresult, reason=reason)
    if snapshot_set is not None:
        for volume in snapshot_set.volumes:
            if volume.held:
                coordinator._release_writes(volume, snapshot_set, phase)
        for provider in snapshot_set.providers():
            provider.abort_snapshots(snapshot_set.set_id)
            sim.trace.record(
                phase, provider.name, V.ABORT_SNAPSHOTS, set_id=str(snapshot_set.set_id)
            )
        for snapshot in snapshot_set.snapshots:
            snapshot.advance(V.ABORT)
            coordinator._forget_snapshot(snapshot)
        snapshot_set.advance(V.ABORT)
    yield from coordinator.send(V.ON_ABORT, session.involved_writers, phase, session, snapshot_set)
    if snapshot_set is not None:
        coordinator._unlock(snapshot_set)
    sim.trace.record(phase, VSS, V.ABORT_DONE, set_id=set_id, result=hresult)


def create_set(
    coordinator: VssService, session: SessionBase, snapshot_set: SnapshotSet
) -> ProcessGenerator:
    """DoSnapshotSet: phases 5 to 7 of the seed. Raises VssError after a clean abort."""
    creation = _SetCreation(coordinator, session, snapshot_set)
    yield from creation.prepare()
    yield from creation.flush_and_hold()
    commit_seq = yield from creation.commit()
    yield from creation.release_and_thaw()
    yield from creation.complete(commit_seq)
    return snapshot_set


def delete_snapshot(coordinator: VssService, snapshot: ShadowCopy) -> None:
    """Delete a created shadow copy: its provider drops it, the coordinator forgets it."""
    snapshot.provider.delete_snapshot(snapshot)
    coordinator._forget_snapshot(snapshot)
    coordinator.sim.trace.record(
        None,
        snapshot.provider.name,
        V.DELETE_SNAPSHOT,
        volume=snapshot.volume.label,
        snapshot_id=str(snapshot.snapshot_id),
    )


@attrs.define(eq=False)
class _SetCreation:
    """One run of DoSnapshotSet: the set, who asked for it, and the steps that create it."""

    coordinator: VssService
    session: SessionBase
    snapshot_set: SnapshotSet
    writers: list[Writer] = attrs.field(init=False)
    set_id: uuid.UUID = attrs.field(init=False)
    providers: list[Provider] = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        # A writerless context ("Shadow Copy Creation Details"): no writer hears an event.
        writerless = not writers_take_part(self.session.context)
        self.writers = [] if writerless else self.session.involved_writers
        self.set_id = self.snapshot_set.set_id
        self.providers = self.snapshot_set.providers()

    @property
    def sim(self) -> Simulation:
        """The simulation the set is created in."""
        return self.coordinator.sim

    # -- the steps -----------------------------------------------------------------------
    def prepare(self) -> ProcessGenerator:
        """Phase 5: writers prepare and freeze; providers prepare each volume."""
        sim, session, snapshot_set = self.sim, self.session, self.snapshot_set
        writers, set_id = self.writers, self.set_id
        sim.trace.record(
            5,
            VSS,
            V.DO_SNAPSHOT_SET,
            set_id=str(set_id),
            volumes=[v.label for v in snapshot_set.volumes],
        )
        results = yield from self.coordinator.send(
            V.ON_PREPARE_SNAPSHOT, writers, 5, session, snapshot_set
        )
        yield from self._check_writers(results, V.ON_PREPARE_SNAPSHOT, 5)
        for snapshot in snapshot_set.snapshots:
            provider = snapshot.provider
            yield from self._provider_step(
                5,
                provider,
                V.BEGIN_PREPARE_SNAPSHOT,
                functools.partial(provider.begin_prepare_snapshot, snapshot),
                volume=snapshot.volume.label,
                snapshot_id=str(snapshot.snapshot_id),
            )
        for provider in self.providers:
            yield from self._provider_step(
                5,
                provider,
                V.END_PREPARE_SNAPSHOTS,
                functools.partial(provider.end_prepare_snapshots, set_id),
                set_id=str(set_id),
            )
        results = yield from self.coordinator.send(V.ON_FREEZE, writers, 5, session, snapshot_set)
        yield from self._check_writers(results, V.ON_FREEZE, 5)

    def flush_and_hold(self) -> ProcessGenerator:
        """Phase 6, first part: providers pre-commit; file system buffers are flushed (within
        the flush limit) and writes to the set's volumes are held."""
        sim, snapshot_set, set_id = self.sim, self.snapshot_set, self.set_id
        config = self.coordinator.config
        for provider in self.providers:
            yield from self._provider_step(
                6,
                provider,
                V.PRE_COMMIT_SNAPSHOTS,
                functools.partial(provider.pre_commit_snapshots, set_id),
                set_id=str(set_id),
            )
        flush = sim.choices.between("vss/flush", *config.flush_us)
        flush = self.coordinator.hooks.flush_time(flush, config.flush_limit_us)
        sim.trace.record(6, VSS, V.FLUSH_WRITES, volumes=[v.label for v in snapshot_set.volumes])
        if flush > config.flush_limit_us:
            yield sim.timeout(config.flush_limit_us)
            yield from self._fail(
                HResult.VSS_E_FLUSH_WRITES_TIMEOUT,
                "the flush of file system buffers did not finish in time",
                6,
            )
        if flush:
            yield sim.timeout(flush)
        for volume in snapshot_set.volumes:
            volume.hold(str(set_id))
        sim.trace.record(
            6,
            VSS,
            V.HOLD_WRITES,
            set_id=str(set_id),
            volumes=[v.label for v in snapshot_set.volumes],
        )

    def commit(self) -> ProcessGenerator:
        """Phase 6: the providers commit side by side while writes are held, within the hold
        limit. The process's value is the commit's trace position (the backup point)."""
        sim, snapshot_set, set_id = self.sim, self.snapshot_set, self.set_id
        config = self.coordinator.config
        commits = []
        first_failure = sim.event()
        for provider in self.providers:
            sim.trace.record(6, provider.name, V.COMMIT_SNAPSHOTS, set_id=str(set_id))
            commit = self._commit(provider, first_failure)
            commits.append(sim.process(commit, f"{provider.name} commit"))
        commit_seq = len(sim.trace) - 1
        commit_time = sim.now
        for volume in self.coordinator.namespace.volumes:  # the backup point will be read
            volume.keep_image(commit_seq)
        timer = sim.timeout(config.hold_limit_us)
        all_commits = sim.all_of(commits)
        yield sim.any_of([all_commits, first_failure, timer])
        timer.cancel()
        if first_failure.triggered:
            error: VssError = first_failure.value
            yield from self._fail(error.hresult, error.message, 6)
        if not all_commits.triggered:
            yield from self._fail(
                HResult.VSS_E_HOLD_WRITES_TIMEOUT,
                f"writes were held {config.hold_limit_us / SECOND:g} s and the commit had "
                "not finished",
                6,
            )
        for snapshot in snapshot_set.snapshots:
            snapshot.created_us = commit_time
            snapshot.commit_seq = commit_seq
        return commit_seq

    def release_and_thaw(self) -> ProcessGenerator:
        """Phase 6, last part: writes flow again, providers post-commit, writers thaw (a writer
        whose freeze window passed before its Thaw came aborts the set)."""
        session, snapshot_set, set_id = self.session, self.snapshot_set, self.set_id
        writers = self.writers
        for volume in snapshot_set.volumes:
            self.coordinator._release_writes(volume, snapshot_set, 6)
        for provider in self.providers:
            yield from self._provider_step(
                6,
                provider,
                V.POST_COMMIT_SNAPSHOTS,
                functools.partial(provider.post_commit_snapshots, set_id),
                set_id=str(set_id),
            )
        results = yield from self.coordinator.send(V.ON_THAW, writers, 6, session, snapshot_set)
        yield from self._check_writers(results, V.ON_THAW, 6)
        timed_out = [w for w in writers if _froze_out(w, session.session_id)]
        if timed_out:
            yield from self._fail(
                WRITER_ABORT_RESULT,
                f"{timed_out[0].name} failed while frozen: "
                f"{timed_out[0].session(session.session_id).failure.name}",
                6,
            )

    def complete(self, commit_seq: int) -> ProcessGenerator:
        """Phase 7: the shadow copies exist; writers get PostSnapshot; VSS answers."""
        sim, session, snapshot_set, set_id = self.sim, self.session, self.snapshot_set, self.set_id
        for snapshot in snapshot_set.snapshots:
            snapshot.advance(V.DO_SNAPSHOT_SET_COMPLETE)
        snapshot_set.advance(V.DO_SNAPSHOT_SET_COMPLETE)
        yield from self.coordinator.send(V.ON_POST_SNAPSHOT, self.writers, 7, session, snapshot_set)
        self.coordinator._unlock(snapshot_set)
        sim.trace.record(
            7,
            VSS,
            V.DO_SNAPSHOT_SET_COMPLETE,
            set_id=str(set_id),
            commit_seq=commit_seq,
            snapshots=[
                {
                    "volume": s.volume.label,
                    "snapshot_id": str(s.snapshot_id),
                    "device": s.device_object,
                    "provider": s.provider.name,
                }
                for s in snapshot_set.snapshots
            ],
        )

    # -- provider calls ------------------------------------------------------------------
    def _provider_step(
        self,
        phase: int,
        provider: Provider,
        label: str,
        call: Callable[[], ProcessGenerator],
        **details: object,
    ) -> ProcessGenerator:
        """Record the provider call ``label`` in the trace, then make it (``call()``) and wait
        for it, within the provider's reply limit."""
        self.sim.trace.record(phase, provider.name, label, **details)
        yield from self._provider_call(provider, label, call(), phase)

    def _commit(self, provider: Provider, first_failure: Event) -> ProcessGenerator:
        """The provider's CommitSnapshots, with the faults that can strike it.

        A failure is the process's value, never a failed event: the providers of one set commit
        side by side, and several may fail at one instant, or after the hold timed out, when
        nobody waits for them any more. The first failure triggers ``first_failure``.
        """
        hooks = self.coordinator.hooks
        try:
            error = hooks.provider_error(provider.name, V.COMMIT_SNAPSHOTS, 6)
            if error is not None:
                raise VssError(error, f"{provider.name} failed CommitSnapshots: {error.name}")
            delay = hooks.commit_delay(provider.name, self.coordinator.config.hold_limit_us)
            if delay:
                yield self.sim.timeout(delay)
            yield from provider.commit_snapshots(self.set_id)
        except VssError as exc:
            if not first_failure.triggered:
                first_failure.succeed(exc)
            return exc
        return None

    def _provider_call(
        self,
        provider: Provider,
        label: str,
        call: ProcessGenerator,
        phase: int,
    ) -> ProcessGenerator:
        sim = self.sim
        config = self.coordinator.config
        name = provider.name
        error = self.coordinator.hooks.provider_error(name, label, phase)
        if error is not None:
            call.close()
            yield from self._fail(error, f"{name} failed {label}: {error.name}", phase)
        proc = sim.process(_failure_of(call), f"{name} {label}")
        timer = sim.timeout(config.provider_reply_us)
        yield sim.any_of([proc, timer])
        timer.cancel()
        if proc.triggered and proc.value is not None:
            failure: VssError = proc.value
            yield from self._fail(failure.hresult, failure.message, phase)
        if not proc.triggered:
            yield from self._fail(
                HResult.VSS_E_UNEXPECTED_PROVIDER_ERROR,
                f"{name} did not return from {label} within "
                f"{config.provider_reply_us / SECOND:g} s",
                phase,
            )

    # -- failures ------------------------------------------------------------------------
    def _check_writers(
        self, results: Mapping[Writer, HResult], event: str, phase: int
    ) -> ProcessGenerator:
        """After ``event``: a writer's fatal failure at Freeze or Thaw (it returned false, did
        not answer, or its freeze window passed) aborts the set ("Aborting VSS Operations");
        any other failure is a veto: VSS notes it and goes on, and the writer's status shows
        it (a failure at PrepareForSnapshot generates no Abort event)."""
        session_id = self.session.session_id
        for writer, result in results.items():
            if result == HResult.S_OK:
                continue
            state = writer.state_in(session_id)
            writer_session = writer.session_of(session_id)
            fatal = result == HResult.VSS_E_WRITER_NOT_RESPONDING or (
                writer_session is not None and writer_session.fatal
            )
            if fatal and event in _ABORTING_EVENTS:
                yield from self._fail(
                    WRITER_ABORT_RESULT,
                    f"{writer.name} failed {event} fatally: {state.vss_name}, {result.name}",
                    phase,
                )
            details: dict[str, object] = {"writer": writer.name, "event": event}
            if fatal:
                details["fatal"] = True
            self.sim.trace.record(
                phase, VSS, V.WRITER_VETOED, **details, state=state, result=result
            )

    def _fail(self, hresult: HResult, reason: str, phase: int) -> ProcessGenerator:
        yield from abort_set(
            self.coordinator, self.session, self.snapshot_set, hresult, reason, phase
        )
        raise VssError(hresult, reason)


#: The writer events whose fatal failure generates an Abort event ("Aborting VSS Operations":
#: OnFreeze or OnThaw returned false, or could not finish within the freeze window).
_ABORTING_EVENTS = (V.ON_FREEZE, V.ON_THAW)
#: What DoSnapshotSet's IVssAsync reports after a writer's fatal failure aborted the set.
#: *Assumption*: the DoSnapshotSet page lists no writer code (the writer's own error is in its
#: status, GatherWriterStatus); of its documented codes ``VSS_E_UNEXPECTED`` is the one left.
WRITER_ABORT_RESULT = HResult.VSS_E_UNEXPECTED


def _froze_out(writer: Writer, session_id: str) -> bool:
    """Whether the writer's freeze window passed in the session (its freeze timer fired)."""
    found = writer.session_of(session_id)
    return (
        found is not None
        and found.fatal
        and found.state == WriterState.FAILED_AT_FREEZE
        and found.failure == HResult.VSS_E_WRITERERROR_TIMEOUT
    )


def _failure_of(call: ProcessGenerator) -> ProcessGenerator:
    """Run a provider call; its value is the VssError it raised, or None.

    A provider that fails after VSS stopped waiting for it (its reply limit passed) then fails
    nobody's wait: the late failure is dropped, as a late reply is.
    """
    try:
        yield from call
    except VssError as exc:
        return exc
    return None
