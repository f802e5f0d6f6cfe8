"""The trace vocabulary holds: writers and readers of the trace spell every action by its name.

Three checks: no literal action where a record is made or where the trace is read (an AST
scan); every action recorded in real runs is in the vocabulary; every name in the vocabulary
is recorded somewhere (so it does not rot).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

from vsssim.faults import FAULT_KINDS
from vsssim.host.demo import build_demo_world, run_instant_recovery_demo, run_restore_demo
from vsssim.host.scenario_file import load_scenario
from vsssim.host.scenario_limits import run_horizon_us
from vsssim.host.world import World
from vsssim.sim import vocabulary as V
from vsssim.sim.choices import RecordingChoices, SeededChoices
from vsssim.sim.trace import TraceRecord
from vsssim.testing.draw import draw_scenario
from vsssim.testing.fuzz import load_writer, run_seed, run_world
from vsssim.vss.providers.xp.pairs import PairCommand
from vsssim.vss.states import WRITER_EVENTS

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "vsssim"
VOCABULARY = PACKAGE / "vocabulary.py"

#: Where an action is made: call name -> the positions of its arguments that become actions
#: (``trace.record(phase, actor, action)``; the coordinator's ``_record(phase, call)`` and the
#: array's ``_record(pair, command)``; the event ``send`` and ``_notify`` deliver, which the
#: writer records, and the action ``_notify`` records on completion; a run crash's kind).
PRODUCERS: dict[str, tuple[int, ...]] = {
    "record": (2,),
    "record_plain": (2,),
    "batched": (1,),
    "_record": (1,),
    "send": (0,),
    "_notify": (0, 1),
    "RunCrash": (0,),
    "_service": (1,),
    "_provider_step": (2,),
}
#: Calls whose string arguments are matched against actions (or against their suffixes).
MATCHERS = frozenset({"find", "endswith", "startswith", "removesuffix", "removeprefix"})
FAMILIES = {
    "done": V.DONE_SUFFIX,
    "late_reply_ignored": V.LATE_REPLY_IGNORED_SUFFIX,
    "not_responding": V.NOT_RESPONDING_SUFFIX,
    "not_sent": V.NOT_SENT_SUFFIX,
}
FAULT_NAMES = frozenset(kind.name for kind in FAULT_KINDS)


def _modules(root: Path) -> Iterator[tuple[Path, ast.Module]]:
    for path in sorted(root.rglob("*.py")):
        if path != VOCABULARY:
            yield path, ast.parse(path.read_text(encoding="utf-8"), str(path))


def _call_name(node: ast.Call) -> str:
    func = node.func
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def _literals(node: ast.AST) -> list[ast.AST]:
    """String literals in ``node``: constants and f-strings (whose parts are literals too)."""
    found: list[ast.AST] = []
    for sub in ast.walk(node):
        if isinstance(sub, ast.JoinedStr):
            return [sub]
        if isinstance(sub, ast.Constant) and isinstance(sub.value, str):
            found.append(sub)
    return found


def _is_action(node: ast.AST) -> bool:
    """``x.action``, or a variable ``action`` (as the renderers name a record's action)."""
    return (isinstance(node, ast.Attribute) and node.attr == "action") or (
        isinstance(node, ast.Name) and node.id == "action"
    )


def _spells_action(literal: ast.AST) -> bool:
    """A literal that spells a vocabulary action, or an f-string that ends like one."""
    suffixes = (*V.EVENT_SUFFIXES, V.COMPLETE_SUFFIX)
    parts = literal.values if isinstance(literal, ast.JoinedStr) else [literal]
    texts = [p.value for p in parts if isinstance(p, ast.Constant) and isinstance(p.value, str)]
    return any(t in V.ACTIONS or t.endswith(suffixes) or t.strip() in V.ACTIONS for t in texts)


def _literal_actions(
    modules: Iterable[tuple[Path, ast.Module]], *, strict: bool = True
) -> list[str]:
    """Where in ``modules`` a literal is passed as an action or compared with one. Not
    ``strict`` (for the tests, which also feed the renderers made-up actions): only literals
    that spell a vocabulary action. A variable ``action`` is an ordinary name too: compared
    with literals that spell no action (``action == "stop"``), it passes."""
    bad: list[str] = []
    for path, tree in modules:

        def check(node: ast.AST, always: bool, path: Path = path) -> None:
            for literal in _literals(node):
                if (always and strict) or _spells_action(literal):
                    bad.append(f"{path.relative_to(ROOT)}:{getattr(literal, 'lineno', '?')}")

        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                name, func = _call_name(node), node.func
                for i in PRODUCERS.get(name, ()):
                    if i < len(node.args):
                        check(node.args[i], True)
                if name in MATCHERS and isinstance(func, ast.Attribute) and _is_action(func.value):
                    for arg in node.args:
                        check(arg, True)
                if name == "find":
                    for keyword in node.keywords:
                        if keyword.arg == "action":
                            check(keyword.value, True)
            elif isinstance(node, ast.Compare):
                sides = [node.left, *node.comparators]
                if any(_is_action(side) for side in sides):
                    attribute = any(isinstance(s, ast.Attribute) and _is_action(s) for s in sides)
                    for side in sides:
                        check(side, attribute)
    return bad


def test_the_package_names_every_action_it_records_or_reads() -> None:
    assert _literal_actions(_modules(PACKAGE)) == []


def test_the_tests_read_the_trace_by_name_too() -> None:
    assert _literal_actions(_modules(ROOT / "tests"), strict=False) == []


def test_the_scan_sees_literal_actions() -> None:
    source = (
        "trace.record(1, VSS, 'hold writes')\n"
        "self._record(1, f'{call} complete')\n"
        "r.action == 'write'\n"
        "r.action in ('a', V.B)\n"
        "r.action.endswith(' done')\n"
        "trace.find(action='write held')\n"
        "action == 'OnFreeze done'\n"
        "action == 'stop'\n"
    )
    bad = _literal_actions([(PACKAGE / "example.py", ast.parse(source))])
    # every line but the last (``stop`` is no action; ``action`` is also an ordinary name)
    assert sorted({int(b.rsplit(":", 1)[1]) for b in bad}) == [1, 2, 3, 4, 5, 6, 7]


# -- every action recorded in real runs is named -----------------------------------------------
def _worlds() -> Iterator[World]:
    for seed, agents, provider in (
        (0, 1, "software"),
        (0, 2, "software"),
        (0, 1, "xp"),
        (5, 3, "software"),
    ):
        world = build_demo_world(seed, agents=agents, provider=provider)
        world.run()
        yield world
    yield run_restore_demo(1).world
    yield run_restore_demo(2, provider="xp").world
    yield run_instant_recovery_demo(1).world
    for example in sorted((ROOT / "examples").glob("*.toml")):
        scenario = load_scenario(example).scenario
        world = scenario.build(1)
        horizon = run_horizon_us(scenario)
        world.run(limit_us=horizon)
        if scenario.restore is not None and world.finished and world.crash is None:
            scenario.restore.run(world, limit_us=horizon)
        yield world
    for index in range(300):
        recorder = RecordingChoices(SeededChoices(run_seed(7, index)))
        scenario = draw_scenario(recorder, misbehaviour=True)
        world, _ = run_world(scenario, recorder, load_writer(None))
        yield world


def _named(record: TraceRecord) -> bool:
    if record.actor == V.FAULT:
        return record.action in FAULT_NAMES
    return record.action in V.ACTIONS


@pytest.fixture(scope="module")
def recorded() -> dict[str, TraceRecord]:
    """One record of each action recorded over demos, examples and fuzzed runs."""
    first: dict[str, TraceRecord] = {}
    for world in _worlds():
        for record in world.sim.trace:
            first.setdefault(record.action, record)
    return first


def test_every_recorded_action_is_in_the_vocabulary(recorded: dict[str, TraceRecord]) -> None:
    assert [r for r in recorded.values() if not _named(r)] == []
    # the runs are varied enough to mean something: most actions and fault kinds show up
    assert len(V.ACTIONS & recorded.keys()) > 0.75 * len(V.ACTIONS)
    assert len(FAULT_NAMES & recorded.keys()) > 0.75 * len(FAULT_NAMES)


def test_the_families_match_their_sources() -> None:
    assert frozenset(WRITER_EVENTS) == V.WRITER_EVENTS
    assert frozenset(str(command) for command in PairCommand) == V.PAIR_COMMANDS
    assert not FAULT_NAMES & V.ACTIONS  # a fired fault's name is never another action
    assert not V.ACTORS & V.ACTIONS
    for function, suffix in FAMILIES.items():
        assert getattr(V, function)(V.ON_FREEZE) == V.ON_FREEZE + suffix


# -- every name in the vocabulary is recorded somewhere ----------------------------------------
def _vocabulary_names(node: ast.AST) -> Iterator[str]:
    for sub in ast.walk(node):
        if (
            isinstance(sub, ast.Attribute)
            and isinstance(sub.value, ast.Name)
            and sub.value.id == "V"
        ):
            yield sub.attr


def _produced() -> set[str]:
    """Vocabulary names the package makes actions of: at a producing call, as an enum value
    of ``PairCommand`` (recorded as ``str(command)``), assigned to a variable ``action``."""
    names: set[str] = set()
    for _, tree in _modules(PACKAGE):
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                for i in PRODUCERS.get(_call_name(node), ()):
                    if i < len(node.args):
                        names.update(_vocabulary_names(node.args[i]))
            elif isinstance(node, ast.ClassDef) and node.name == "PairCommand":
                names.update(_vocabulary_names(node))
            elif isinstance(node, ast.Assign):
                for target in node.targets:
                    targets = target.elts if isinstance(target, ast.Tuple) else [target]
                    for i, one in enumerate(targets):
                        if isinstance(one, ast.Name) and one.id == "action":
                            value = node.value
                            if isinstance(value, ast.Tuple) and isinstance(target, ast.Tuple):
                                value = value.elts[i]
                            names.update(_vocabulary_names(value))
    return names


def test_every_action_in_the_vocabulary_is_recorded() -> None:
    produced = _produced()
    families = {suffix for function, suffix in FAMILIES.items() if function in produced}
    assert families == set(FAMILIES.values()), "a family of writer-event actions is not recorded"
    events = {getattr(V, name) for name in produced} & V.WRITER_EVENTS
    assert events == V.WRITER_EVENTS
    made = {getattr(V, name) for name in produced if isinstance(getattr(V, name), str)}
    made |= {event + suffix for event in events for suffix in families}
    assert sorted(V.ACTIONS - made) == []
    constants = {
        value
        for name, value in vars(V).items()
        if name.isupper() and not name.startswith("_") and isinstance(value, str)
    }
    suffixes = {*V.EVENT_SUFFIXES, V.COMPLETE_SUFFIX}
    assert sorted(constants - V.ACTIONS - V.ACTORS - suffixes) == []


def test_every_actor_in_the_vocabulary_is_used() -> None:
    used = {name for _, tree in _modules(PACKAGE) for name in _vocabulary_names(tree)}
    assert sorted(V.ACTORS - {getattr(V, name) for name in used}) == []
