"""Restores fuzzed too: writer faults at OnPreRestore and OnPostRestore, scenarios that restore
after their backups, and the "restore honest" invariant, shown able to fail."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import attrs
import pytest

from vsssim import FaultPlan, HResult, RestoreAgent, World, WriterState
from vsssim.faults import FAULT_KINDS, KINDS, WRITER_FAULT_EVENTS, Effect
from vsssim.host.scenario import RestoreSpec
from vsssim.host.scenario_codec import scenario_from_dict, scenario_to_dict
from vsssim.requesters.archive import BackupArchive
from vsssim.requesters.restore_result import ComponentRestore
from vsssim.sim import vocabulary as V
from vsssim.sim.choices import ChoiceSource, SeededChoices
from vsssim.testing.draw import draw_scenario
from vsssim.testing.fuzz import fuzz_one, replay, run_seed
from vsssim.testing.invariants import check_all, restore_honest
from vsssim.vss.constants import RestoreMethod, RestoreStatus
from vsssim.vss.constants import RestoreMethod as Method
from vsssim.vss.documents.backup_document import BackedUpComponent
from vsssim.vss.namespace import File, Namespace
from vsssim.vss.states import RESTORE_EVENTS

from .test_restore import FILES, app_world, backed_up, content_of

_Gen = Generator[Any, Any, Any]


def faulty_restore(
    kind: str, site: str
) -> tuple[World, BackupArchive, dict[str, dict[int, bytes]]]:
    """AppWriter's files (and OtherWriter's) backed up and damaged, then restored with ``kind``
    forced at ``site``; the faults are healed and the world settled. Also: the damaged content."""
    world = app_world(RestoreMethod.RESTORE_IF_CAN_REPLACE, other=True)
    archive = backed_up(world)
    damaged = {p: content_of(world, p) for p in FILES}
    world.coordinator.install_faults(FaultPlan.forced(kind, site))
    world.restore(archive)
    assert world.heal_and_settle(3600 * 1_000_000)
    return world, archive, damaged


# -- the catalogue ---------------------------------------------------------------------------


def test_writer_faults_fire_at_the_restore_events_and_misbehaviours_do_not() -> None:
    for kind in FAULT_KINDS:
        if kind.target not in ("writer", "timing") or kind.effect in (
            Effect.SLOW_COMMIT,
            Effect.SLOW_FLUSH,
        ):
            continue
        restores = set(RESTORE_EVENTS) <= set(kind.where)
        assert restores == (not kind.misbehaviour), kind.name
        if restores:
            # SetWriterFailure cannot be called from OnIdentify: vetoes fire at every other event
            vetoes = kind.effect is Effect.FAIL_NONFATAL
            assert kind.where == tuple(
                e for e in WRITER_FAULT_EVENTS if not (vetoes and e == V.ON_IDENTIFY)
            ), kind.name


@pytest.mark.parametrize(
    ("kind", "failure"),
    [
        ("writer-retryable", HResult.VSS_E_WRITERERROR_RETRYABLE),
        ("writer-veto", HResult.VSS_E_WRITERERROR_NONRETRYABLE),
        ("writer-hang", HResult.VSS_E_WRITER_NOT_RESPONDING),
        ("writer-slow", HResult.VSS_E_WRITER_NOT_RESPONDING),
        ("writer-late-reply", HResult.VSS_E_WRITER_NOT_RESPONDING),
    ],
)
def test_a_fault_at_on_pre_restore_leaves_the_writer_s_files_alone(
    kind: str, failure: HResult
) -> None:
    world, _, damaged = faulty_restore(kind, "AppWriter.OnPreRestore")
    [run] = world.restores
    app, other = run.result.components
    assert app.status == RestoreStatus.NONE and not app.files
    assert "AppWriter failed OnPreRestore" in app.reason and failure.name in app.reason
    assert {p: content_of(world, p) for p in FILES} == damaged
    assert other.restored
    status = {s.writer_name: s for s in run.result.writer_status}["AppWriter"]
    assert (status.state, status.failure) == (WriterState.FAILED_AT_PRE_RESTORE, failure)
    [fired] = world.coordinator.faults.fired  # type: ignore[union-attr]
    assert (fired.kind, fired.site) == (kind, "AppWriter.OnPreRestore")
    assert not any(check_all(world).values()), check_all(world)


def test_a_fault_at_on_post_restore_is_reported_with_the_restored_files() -> None:
    world, archive, _ = faulty_restore("writer-out-of-resources", "AppWriter.OnPostRestore")
    [run] = world.restores
    app, other = run.result.components
    assert app.status == RestoreStatus.ALL and not app.restored
    assert "failed OnPostRestore" in app.reason
    assert HResult.VSS_E_WRITERERROR_OUTOFRESOURCES.name in app.reason
    assert [f.path for f in app.files] == list(FILES)
    for path in FILES:
        assert content_of(world, path) == archive.file(path).content  # type: ignore[union-attr]
    assert other.restored
    assert not any(check_all(world).values()), check_all(world)


# -- the invariant can fail ------------------------------------------------------------------


def test_restore_honest_holds_for_honest_restores_and_names_every_check() -> None:
    world, _, _ = faulty_restore("writer-veto", "AppWriter.OnPreRestore")
    assert restore_honest(world) == []


def test_a_restore_that_skips_a_file_but_reports_it_restored_is_caught(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    honest = Namespace.put_file

    def skips_a(self: Namespace, path: str, *args: Any) -> File:
        if path == FILES[0]:
            return self.file(path)  # nothing written, yet reported put back
        return honest(self, path, *args)

    world = app_world(RestoreMethod.RESTORE_IF_CAN_REPLACE)
    archive = backed_up(world)
    monkeypatch.setattr(Namespace, "put_file", skips_a)
    result = world.restore(archive)
    assert result.components[0].restored  # the restore believes it
    [violation] = restore_honest(world)
    assert violation.message.startswith(f"VSSBAR restore restored {FILES[0]}: blocks")
    assert "differ from the backup" in violation.message


def test_a_restore_that_writes_despite_a_failed_pre_restore_is_caught(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    honest = RestoreAgent.restore_writer

    def ignores_failure(self: RestoreAgent, bc: Any, writer: Any, records: Any, *rest: Any) -> _Gen:
        _, outcomes = rest
        return honest(self, bc, writer, records, None, outcomes)

    monkeypatch.setattr(RestoreAgent, "restore_writer", ignores_failure)
    world, _, damaged = faulty_restore("writer-nonretryable", "AppWriter.OnPreRestore")
    assert {p: content_of(world, p) for p in FILES} != damaged  # it did write
    messages = [v.message for v in check_all(world)["restore honest"]]
    assert (
        "VSSBAR restore reported AppWriter:App\\Data restored though AppWriter failed OnPreRestore"
        in messages
    )
    for path in FILES:
        assert any(
            m == f"VSSBAR restore: file restored {path}, a file of AppWriter, which failed "
            "OnPreRestore"
            for m in messages
        ), messages
    assert any(m.startswith("VSSBAR restore wrote block ") for m in messages)


def test_a_restore_that_misreports_its_components_is_caught(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    honest = RestoreAgent.restore_component

    def misreports(self: RestoreAgent, record: BackedUpComponent, writer: Any) -> _Gen:
        outcome: ComponentRestore = yield from honest(self, record, writer)
        if record.writer_name == "AppWriter":  # one file left out of an ALL report
            return attrs.evolve(outcome, files=outcome.files[1:])
        return attrs.evolve(outcome, status=RestoreStatus.FAILED, reason="")

    monkeypatch.setattr(RestoreAgent, "restore_component", misreports)
    world = app_world(RestoreMethod.RESTORE_IF_CAN_REPLACE, other=True)
    world.restore(backed_up(world))
    assert sorted(v.message for v in restore_honest(world)) == [
        f"VSSBAR restore reported AppWriter:App\\Data restored without {FILES[0]}",
        "VSSBAR restore reported OtherWriter:Files VSS_RS_FAILED without a reason",
    ]


# -- scenarios that restore --------------------------------------------------------------------


class NoRestore(ChoiceSource):
    """A seed's choices, but never a restore (and a record of the sites asked)."""

    def __init__(self, seed: int) -> None:
        self.inner = SeededChoices(seed)
        self.sites: list[str] = []

    def choose(self, site: str, n: int) -> int:
        self.sites.append(site)
        return n - 1 if site == "s/restore" else self.inner.choose(site, n)


def restoring_seeds(campaign_seed: int, wanted: int) -> list[int]:
    """Indices of runs of the campaign that draw a restore step."""
    found = []
    index = 0
    while len(found) < wanted:
        scenario = draw_scenario(SeededChoices(run_seed(campaign_seed, index)), misbehaviour=True)
        if scenario.restore is not None:
            found.append(index)
        index += 1
    return found


def test_a_host_that_restores_draws_the_rest_as_a_host_that_does_not() -> None:
    for index in restoring_seeds(1, 5):
        seed = run_seed(1, index)
        drawn = draw_scenario(SeededChoices(seed), misbehaviour=True)
        plain_choices = NoRestore(seed)
        plain = draw_scenario(plain_choices, misbehaviour=True)
        assert plain.restore is None and drawn.restore is not None
        assert [s for s in plain_choices.sites if s.startswith("s/restore")] == ["s/restore"]
        default = Method.RESTORE_IF_CAN_REPLACE
        assert plain == attrs.evolve(
            drawn,
            restore=None,
            writers=tuple(attrs.evolve(m, restore_method=default) for m in drawn.writers),
        )


def test_a_scenario_with_a_restore_step_round_trips_as_data() -> None:
    for index in restoring_seeds(2, 3):
        scenario = draw_scenario(SeededChoices(run_seed(2, index)))
        assert scenario_from_dict(scenario_to_dict(scenario)) == scenario
    spec = RestoreSpec(2_000_000, ("D:\\App\\a.dat",))
    data = scenario_to_dict(attrs.evolve(scenario, restore=spec))
    assert data["restore"] == {"write_for_us": 2_000_000, "delete": ["D:\\App\\a.dat"]}
    assert scenario_from_dict(data).restore == spec


def test_fuzzed_restores_replay_byte_for_byte_and_restore_faults_are_survived() -> None:
    restoring = []
    fired_at_restore: list[tuple[str, str]] = []
    for index in restoring_seeds(1, 120):
        report = fuzz_one(1, index)
        if not report.restores:
            continue  # no backup of the run succeeded: nothing to restore
        assert not report.failed, report.violations
        world, again = replay(report.token)
        assert again.trace_hash == report.trace_hash
        assert again.restores == report.restores
        assert [r.result.agent for r in world.restores] == [
            f"restore-{n + 1}" for n in range(len(report.restores))
        ]
        faults = world.coordinator.faults
        assert faults is not None
        fired_at_restore += [
            (f.kind, f.site) for f in faults.fired if f.site.endswith(RESTORE_EVENTS)
        ]
        restoring.append(index)
    assert len(restoring) >= 5
    assert fired_at_restore, "no restore-time fault fired"
    for kind, site in fired_at_restore:
        assert site.rpartition(".")[2] in KINDS[kind].where
