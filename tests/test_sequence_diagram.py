"""The Mermaid sequence diagram of a run: well formed line by line, and it shows the protocol.

Mermaid itself is not needed: a small validator below checks every line against the part of
Mermaid's sequence-diagram grammar the renderer uses (participants, notes, messages and blocks,
with balanced ``end``), including the characters that would end or comment out a statement.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.conftest import NO_RETRY, small_world
from vsssim import World
from vsssim.faults import FAULT_KINDS, KINDS, FaultPlan
from vsssim.host.demo import build_demo_world
from vsssim.render.sequence import QUIET_ACTIONS, escape, render_mermaid
from vsssim.render.text import AFTER_TITLE, PHASE_TITLES
from vsssim.sim import vocabulary as V
from vsssim.sim.trace import Trace
from vsssim.vss.states import BACKUP_EVENTS

DB = "TestDbWriter:Inst\\Db"
SETTLE_US = 3600 * 1_000_000

# -- a validator for the Mermaid sequence-diagram subset ------------------------------------

# Text after ':' (and a participant's alias) runs to the end of the line, but ';' ends the
# statement, '#' starts a comment and '%%' a comment; '<', '>' and '&' would be HTML. Entity
# codes (#59; #lt; ...) are how such characters are written.
TEXT = r"(?:[^;#%<>&\r\n\t]|#[A-Za-z0-9]+;)+"
ID = r"[A-Za-z][A-Za-z0-9_]*"
ARROW = r"(?:-->>|->>|-->|->|--x|-x|--\)|-\))"
# Mermaid's lexer matches keywords before names (first match wins, case-insensitively): a
# participant id starting with one would be cut in two.
KEYWORDS = (
    "participant",
    "actor",
    "create",
    "destroy",
    "box",
    "loop",
    "rect",
    "opt",
    "alt",
    "else",
    "par",
    "and",
    "critical",
    "option",
    "break",
    "end",
    "left of",
    "right of",
    "links",
    "link",
    "properties",
    "details",
    "over",
    "note",
    "activate",
    "deactivate",
    "title",
    "acctitle",
    "accdescr",
    "sequencediagram",
    "autonumber",
    "off",
)

PARTICIPANT = re.compile(rf"participant (?P<id>{ID}) as (?P<label>{TEXT})")
NOTE = re.compile(
    rf"Note (?:over (?P<a>{ID})(?:,(?P<b>{ID}))?|left of (?P<l>{ID})|right of (?P<r>{ID}))"
    rf": (?P<text>{TEXT})"
)
MESSAGE = re.compile(rf"(?P<src>{ID})(?P<arrow>{ARROW})[+-]?(?P<dst>{ID}): (?P<text>{TEXT})")
RECT = re.compile(
    r"rect (?:rgb\(\d{1,3}, ?\d{1,3}, ?\d{1,3}\)|rgba\(\d{1,3}, ?\d{1,3}, ?\d{1,3}, ?[0-9.]+\))"
)
OPENERS = re.compile(rf"(?P<kw>alt|opt|loop|par|critical|break)(?: {TEXT})?")
MIDDLES = {"else": "alt", "and": "par", "option": "critical"}
MIDDLE = re.compile(rf"(?P<kw>else|and|option)(?: {TEXT})?")


def validate(diagram: str) -> dict[str, str]:
    """Check every line of ``diagram``; return the declared participants (id -> label)."""
    assert diagram.endswith("\n")
    lines = diagram.splitlines()
    assert lines[0] == "sequenceDiagram"
    participants: dict[str, str] = {}
    used: set[str] = set()
    blocks: list[str] = []
    for number, raw in enumerate(lines[1:], 2):
        where = f"line {number}: {raw!r}"
        assert "\t" not in raw and raw == raw.rstrip(), where
        line = raw.lstrip(" ")
        assert line, where
        if match := PARTICIPANT.fullmatch(line):
            assert not blocks, f"participant inside a block, {where}"
            pid = match["id"]
            assert pid not in participants, f"declared twice, {where}"
            assert not pid.lower().startswith(KEYWORDS), f"id starts with a keyword, {where}"
            participants[pid] = match["label"]
        elif match := NOTE.fullmatch(line):
            used.update(p for p in match.group("a", "b", "l", "r") if p)
        elif match := MESSAGE.fullmatch(line):
            used.update((match["src"], match["dst"]))
        elif RECT.fullmatch(line):
            blocks.append("rect")
        elif match := OPENERS.fullmatch(line):
            blocks.append(match["kw"])
        elif match := MIDDLE.fullmatch(line):
            assert blocks and blocks[-1] == MIDDLES[match["kw"]], where
        elif line == "end":
            assert blocks, f"end without a block, {where}"
            blocks.pop()
        else:
            raise AssertionError(f"not a sequence-diagram statement, {where}")
    assert not blocks, f"unclosed blocks: {blocks}"
    assert used <= set(participants), f"undeclared: {used - set(participants)}"
    return participants


def messages(diagram: str) -> Iterator[re.Match[str]]:
    """The message lines of ``diagram``, parsed."""
    for line in diagram.splitlines():
        match = MESSAGE.fullmatch(line.strip())
        if match:
            yield match


def by_label(participants: dict[str, str]) -> dict[str, str]:
    """label -> id."""
    return {label: pid for pid, label in participants.items()}


# -- runs --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo() -> World:
    world = build_demo_world(0)
    world.run()
    return world


@pytest.fixture(scope="module")
def demo_diagram(demo: World) -> str:
    return render_mermaid(demo.sim.trace)


@pytest.fixture(scope="module")
def two_agents() -> World:
    world = build_demo_world(0, agents=2)
    world.run()
    return world


def _faulty(kind: str, site: str = "*") -> World:
    world = small_world(1, workload=False, array=KINDS[kind].target == "array")
    world.coordinator.install_faults(FaultPlan.forced(kind, site, times=1))
    world.add_agent("agent", [DB], NO_RETRY)
    world.run()
    assert world.heal_and_settle(SETTLE_US)
    return world


# -- the demo ----------------------------------------------------------------------------------


def test_the_demo_renders_a_valid_sequence_diagram_of_reasonable_size(demo_diagram: str) -> None:
    assert demo_diagram.startswith("sequenceDiagram\n")
    validate(demo_diagram)
    assert 100 < len(demo_diagram.splitlines()) < 300


def test_every_party_of_the_demo_is_a_participant_in_a_stable_order(
    demo: World, demo_diagram: str
) -> None:
    participants = validate(demo_diagram)
    labels = list(participants.values())
    writers = [w.name for w in demo.coordinator.writers]
    volumes = [f"Volume {v.label}" for v in demo.namespace.volumes]
    assert labels[:2] == ["VSSBAR agent 1", "VSS (coordinator)"]
    assert labels[2 : 2 + len(writers)] == writers
    assert labels[2 + len(writers)] == V.SOFTWARE_PROVIDER
    assert [label.split(" (")[0] for label in labels[3 + len(writers) :]] == volumes
    assert "Volume ARCHIVE (F:\\Shares\\Archive\\)" in labels
    for line in demo_diagram.splitlines():
        if line.lstrip().startswith("participant "):
            assert PARTICIPANT.fullmatch(line.strip()), line


def test_the_seven_phases_appear_in_order_with_the_narration_titles(demo_diagram: str) -> None:
    notes = [m["text"] for line in demo_diagram.splitlines() if (m := NOTE.fullmatch(line.strip()))]
    headings = [n for n in notes if n.startswith("Phase ") or n.startswith("After phase")]
    expected = [escape(f"Phase {n} \u2014 {PHASE_TITLES[n]}", limit=400) for n in range(1, 8)]
    assert headings == [*expected, escape(AFTER_TITLE, limit=400)]
    lines = demo_diagram.splitlines()
    assert sum(1 for line in lines if RECT.fullmatch(line.strip())) == 8


#: The demo's shadow copy set, as the flush, hold and release arrows list it.
DEMO_SET = "C:, D:, E:, F:, ARCHIVE"


def release_text(world: World) -> str:
    """The one release arrow of a run with one set: the held writes applied, per volume."""
    releases = [r for r in world.sim.trace if r.action == V.RELEASE_WRITES]
    counts = [int(r.details["applied"]) for r in releases]  # type: ignore[call-overload]
    names = [str(r.details["volume"]) for r in releases]
    listed = (
        ", ".join(names)
        if not sum(counts)
        else ", ".join(f"{n} {c}" for n, c in zip(names, counts, strict=True))
    )
    return f"release writes ({sum(counts)} held writes applied) on {listed}"


def test_the_protocol_calls_are_arrows(demo: World, demo_diagram: str) -> None:
    """Flush, hold and release of writes are one arrow each for the set, its volumes listed
    (to the first volume's lifeline), not one per volume."""
    ids = by_label(validate(demo_diagram))
    agent, vss = ids["VSSBAR agent 1"], ids["VSS (coordinator)"]
    sql = ids["SqlServerWriter"]
    provider = ids["Microsoft Software Shadow Copy provider 1.0"]
    d_volume, c_volume = ids["Volume D:"], ids["Volume C:"]
    drawn = {(m["src"], m["arrow"], m["dst"], m["text"]) for m in messages(demo_diagram)}
    for call in (V.INITIALIZE_FOR_BACKUP, V.GATHER_WRITER_METADATA, V.BACKUP_COMPLETE, V.RELEASE):
        assert (agent, "->>", vss, call) in drawn
    assert (agent, "->>", vss, "AddToSnapshotSet(D:\\)") in drawn
    assert (agent, "->>", vss, "DoSnapshotSet(C:, D:, E:, F:, ARCHIVE)") in drawn
    for event in BACKUP_EVENTS:
        assert (vss, "->>", sql, event) in drawn
        assert (sql, "-->>", vss, f"{event} done") in drawn
    for call in (V.PRE_COMMIT_SNAPSHOTS, V.COMMIT_SNAPSHOTS, V.POST_COMMIT_SNAPSHOTS):
        assert (vss, "->>", provider, call) in drawn
    assert (vss, "->>", provider, "BeginPrepareSnapshot(D:)") in drawn
    for text in (f"flush writes on {DEMO_SET}", f"hold writes on {DEMO_SET}", release_text(demo)):
        assert (vss, "->>", c_volume, text) in drawn
    kinds = ("flush writes", "hold writes", "release writes")
    assert sum(1 for *_, text in drawn if text.startswith(kinds)) == 3
    assert (provider, "->>", d_volume, "shadow copy committed") in drawn
    assert (vss, "-->>", agent, "DoSnapshotSet complete: 5 shadow copies") in drawn


def test_the_order_of_the_arrows_follows_the_protocol(demo: World, demo_diagram: str) -> None:
    texts = [m["text"] for m in messages(demo_diagram)]

    def first(text: str) -> int:
        return texts.index(text)

    order = [
        "GatherWriterMetadata",
        "OnIdentify",
        "PrepareForBackup (4 writers)",
        "OnPrepareBackup",
        "OnPrepareSnapshot",
        "BeginPrepareSnapshot(C:)",
        "OnFreeze",
        "PreCommitSnapshots",
        f"flush writes on {DEMO_SET}",
        f"hold writes on {DEMO_SET}",
        "CommitSnapshots",
        "shadow copy committed",
        release_text(demo),
        "OnThaw",
        "OnPostSnapshot",
        "BackupComplete",
        "DeleteSnapshots(set 5afb7c4f)",
        "DeleteSnapshot(C:)",
        "Release",
    ]
    assert [first(t) for t in order] == sorted(first(t) for t in order)


def test_workload_writes_are_summarised_not_drawn(demo: World, demo_diagram: str) -> None:
    trace = demo.sim.trace
    assert not any(m["text"] == V.WRITE for m in messages(demo_diagram))
    start = next(r.seq for r in trace if r.action not in QUIET_ACTIONS)
    landed = sum(1 for r in trace.find(action=V.WRITE) if r.seq > start)
    counted = [
        int(m[1])
        for m in re.finditer(r"Note over \w+,\w+: (\d+) application writes landed", demo_diagram)
    ]
    assert sum(counted) == landed > 1000


def test_the_diagram_is_deterministic(demo_diagram: str) -> None:
    again = build_demo_world(0)
    again.run()
    assert render_mermaid(again.sim.trace) == demo_diagram


# -- several agents ----------------------------------------------------------------------------


def test_two_agents_both_appear_and_the_writer_events_name_their_agent(
    two_agents: World,
) -> None:
    diagram = render_mermaid(two_agents.sim.trace)
    ids = by_label(validate(diagram))
    vss = ids["VSS (coordinator)"]
    callers = {m["src"] for m in messages(diagram) if m["dst"] == vss}
    assert {ids["VSSBAR agent 1"], ids["VSSBAR agent 2"]} <= callers
    assert list(ids)[:2] == ["VSSBAR agent 1", "VSSBAR agent 2"]
    # Each agent's OnPrepareBackup events reach exactly the writers its PrepareForBackup named.
    names = {pid: label for label, pid in ids.items()}
    for call in two_agents.sim.trace.find(action=V.PREPARE_FOR_BACKUP):
        suffix = f" (for {call.actor})"
        reached = {
            names[m["dst"]] for m in messages(diagram) if m["text"] == "OnPrepareBackup" + suffix
        }
        assert reached == set(call.details["writers"])  # type: ignore[arg-type]


def test_many_agents_render_valid_diagrams() -> None:
    world = build_demo_world(3, agents=5)
    world.run()
    participants = validate(render_mermaid(world.sim.trace))
    assert sum(1 for label in participants.values() if label.startswith("VSSBAR agent")) == 5


# -- failures ----------------------------------------------------------------------------------


def test_an_injected_writer_failure_is_shown() -> None:
    world = _faulty("writer-retryable", "TestDbWriter.OnFreeze")
    diagram = render_mermaid(world.sim.trace)
    ids = by_label(validate(diagram))
    writer, vss, agent = ids["TestDbWriter"], ids["VSS (coordinator)"], ids["agent"]
    assert f"Note over {writer}: FAULT writer-retryable (FAIL) at OnFreeze" in diagram
    failed = [m for m in messages(diagram) if m["src"] == writer and m["arrow"] == "--x"]
    assert [m["text"].split(" \u2192")[0] for m in failed] == [
        "OnFreeze failed VSS_E_WRITERERROR_RETRYABLE"
    ]
    assert f"Note over {vss}: abort VSS_E_UNEXPECTED" in diagram
    assert (vss, "-x", writer, "OnAbort") in {
        (m["src"], m["arrow"], m["dst"], m["text"]) for m in messages(diagram)
    }
    back = [m for m in messages(diagram) if m["dst"] == agent and m["arrow"] == "--x"]
    assert back and back[0]["text"].startswith("backup failed: VSS_E_UNEXPECTED")
    assert f"Note over {agent}: backup result: failed, VSS_E_UNEXPECTED" in diagram
    assert "shadow copy committed" not in diagram


def test_a_writer_that_does_not_answer_is_shown() -> None:
    diagram = render_mermaid(_faulty("writer-hang", "TestDbWriter.OnPrepareSnapshot").sim.trace)
    validate(diagram)
    assert "no reply to OnPrepareSnapshot in time: VSS_E_WRITER_NOT_RESPONDING" in diagram


def test_a_failed_commit_releases_the_held_writes_and_commits_nothing() -> None:
    diagram = render_mermaid(_faulty("provider-commit-failure").sim.trace)
    validate(diagram)
    assert "FAULT provider-commit-failure (PROVIDER_ERROR) at CommitSnapshots" in diagram
    assert "abort VSS_E_UNEXPECTED_PROVIDER_ERROR" in diagram
    assert "-xprovider1: AbortSnapshots" in diagram
    assert "shadow copy committed" not in diagram
    assert re.search(r"->>vol_\w+: release writes \(\d+ held writes applied\)", diagram)


def test_an_agent_that_dies_before_its_first_call_is_drawn() -> None:
    diagram = render_mermaid(_faulty("agent-dies").sim.trace)
    validate(diagram)
    assert "Before phase 1" in diagram
    assert "agent died before InitializeForBackup" in diagram


@pytest.mark.parametrize("kind", [k.name for k in FAULT_KINDS])
def test_every_fault_kind_gives_a_valid_diagram_that_shows_it(kind: str) -> None:
    diagram = render_mermaid(_faulty(kind).sim.trace)
    validate(diagram)
    assert f"FAULT {kind} (" in diagram


# -- escaping ----------------------------------------------------------------------------------


def test_escape_leaves_nothing_that_breaks_the_grammar() -> None:
    nasty = 'a;b#c %% d <b>x</b> & e\nf\r\tg {h} "i"'
    escaped = escape(nasty)
    assert re.fullmatch(TEXT, escaped)
    assert "%%" not in escaped and "\n" not in escaped
    assert escaped.startswith("a#59;b#35;c #37;#37; d #lt;b#gt;")
    assert re.fullmatch(TEXT, escape("wrap: me")) and not escape("wrap: me").startswith("wrap:")
    assert escape("") == "#160;"
    assert len(escape("x" * 500)) == 110


def test_hostile_names_still_give_a_valid_diagram() -> None:
    trace = Trace()
    agent = "end; agent #1 %% <x>"
    writer = "Note over: Writer\\with;colons#"
    provider = "participant; provider"
    volume = "X:"
    trace.record(1, agent, V.INITIALIZE_FOR_BACKUP)
    trace.record(2, agent, V.GATHER_WRITER_METADATA)
    trace.record(2, writer, V.ON_IDENTIFY, session="s1", state="VSS_WS_STABLE")
    trace.record(
        2,
        writer,
        V.done(V.ON_IDENTIFY),
        session="s1",
        state="VSS_WS_STABLE",
        result="VSS_E_WRITERERROR_RETRYABLE",
        reason="disk; full #3\nsecond line",
    )
    trace.record(4, agent, V.START_SNAPSHOT_SET, set_id="set-1")
    trace.record(
        4,
        agent,
        V.ADD_TO_SNAPSHOT_SET,
        set_id="set-1",
        volume=volume,
        mount_point="X:\\",
        provider=provider,
        snapshot_id="snap-1",
    )
    trace.record(5, V.VSS, V.DO_SNAPSHOT_SET, set_id="set-1", volumes=[volume])
    trace.record(5, provider, V.BEGIN_PREPARE_SNAPSHOT, volume=volume, snapshot_id="snap-1")
    trace.record(None, volume, V.WRITE, block=1, origin="users", issue=1, data="x")
    trace.record(6, V.VSS, V.HOLD_WRITES, set_id="set-1", volumes=[volume])
    trace.record(None, volume, V.WRITE_HELD, block=1, origin="users", issue=2, held_by="set-1")
    trace.record(6, provider, V.COMMIT_SNAPSHOTS, set_id="set-1")
    trace.record(6, V.VSS, V.RELEASE_WRITES, set_id="set-1", volume=volume, applied=1)
    trace.record(None, volume, V.WRITE, block=1, origin="users", issue=2, data="y")
    trace.record(None, agent, "some future action", odd="a;b")
    diagram = render_mermaid(trace)
    participants = validate(diagram)
    assert len(participants) == 5
    assert "shadow copy committed" in diagram
    assert "1 held at the write gate (1 on X:)" in diagram
    assert "#59;" in diagram and "#35;" in diagram


def test_the_xp_array_is_a_lifeline_and_the_split_a_note_of_the_provider() -> None:
    world = build_demo_world(0, provider="xp")
    world.run()
    diagram = render_mermaid(world.sim.trace)
    participants = by_label(validate(diagram))
    assert "XP array 10053" in participants
    assert "HP XP VSS hardware provider (10053)" in participants
    agents = [label for label in participants if label.startswith("VSSBAR")]
    assert agents == ["VSSBAR agent 1"]  # the array and its provider are not drawn as agents
    array = participants["XP array 10053"]
    assert f"Note over {array}: XP array 10053: pairsplit -fq quick" in diagram
    provider = participants["HP XP VSS hardware provider (10053)"]
    assert f"Note over {provider}: every pair split at one instant" in diagram


def test_a_diagram_limited_to_chosen_participants_draws_only_them(demo: World) -> None:
    """``participants``: names, labels or kinds choose the lifelines (VSS always); a message to
    or from one left out is not drawn, and a name that is nobody's is refused, naming who
    there is (``vsssim demo --format mermaid --participants``: exit status 2)."""
    full = render_mermaid(demo.sim.trace)
    chosen = render_mermaid(demo.sim.trace, participants=["agents", "sqlserverwriter"])
    validate(chosen)
    labels = set(by_label(validate(chosen)))
    assert labels == {"VSSBAR agent 1", "VSS (coordinator)", "SqlServerWriter"}
    ids = set(by_label(validate(chosen)).values())
    assert all({m["src"], m["dst"]} <= ids for m in messages(chosen))
    kept = [m for m in messages(full) if {m["src"], m["dst"]} <= ids]
    assert [m["text"] for m in messages(chosen)] == [m["text"] for m in kept]
    with pytest.raises(ValueError, match=r"no participant 'nobody'.*SqlServerWriter"):
        render_mermaid(demo.sim.trace, participants=["nobody"])
    done = subprocess.run(
        [sys.executable, "-m", "vsssim", "demo", "--format", "mermaid", "--participants", "x"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2 and "--participants: no participant 'x'" in done.stderr
