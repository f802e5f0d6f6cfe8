"""A state machine's token carries every rule its run took, not only its backup rounds.

A subclass's own rules (here: one that breaks a writer, one that lets the applications write
for a while, one that raises) change the world outside :meth:`run_round`; the failing run's
token must replay them, so that ``vsssim replay TOKEN --machine ...`` gives the run's trace
and verdict exactly.
"""

from __future__ import annotations

import enum
import json
import os
import shlex
import subprocess
import sys
from collections.abc import Generator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import invariant, rule, run_state_machine_as_test

from tests.test_stateful import _settings
from vsssim import MILLISECOND, EventContext, Writer
from vsssim.cli.main import main
from vsssim.errors import ReplayError
from vsssim.host.scenario import FaultSpec
from vsssim.sim.kernel import Event
from vsssim.sim.tokens import ReplayToken, read_token
from vsssim.testing.stateful import WriterProtocolMachine
from vsssim.testing.stateful_steps import Unrecordable, decode_value, encode_value

ROOT = Path(__file__).resolve().parent.parent
HERE = "tests.test_stateful_replay"


class Breakable(Writer):
    """Keeps the protocol until a rule breaks it; then its application stays frozen."""

    broken = False

    def on_thaw(self, ctx: EventContext) -> Generator[Event, Any, Any]:
        if not self.broken:
            self.thaw_application(ctx)
        yield from self.take_time(ctx)

    def on_abort(self, ctx: EventContext) -> Generator[Event, Any, Any]:
        if not self.broken:
            self.thaw_application(ctx)
        yield from self.take_time(ctx)


class BreakMachine(WriterProtocolMachine):
    """The protocol machine with rules that change the world outside a round."""

    writer_class = Breakable
    #: The last machine that ran (hypothesis's final, failing run).
    last: ClassVar[BreakMachine | None] = None

    @rule(data=st.data())
    def break_a_writer(self, data: st.DataObject) -> None:
        """Break one writer: its next abort leaves its application frozen."""
        name = data.draw(st.sampled_from(self._writer_names), label="writer")
        writer = self.world.coordinator.writer(name)
        assert isinstance(writer, Breakable)
        writer.broken = True
        self.last_step = f"{name} broken"

    @rule(ms=st.integers(1, 2000))
    def let_them_write(self, ms: int) -> None:
        """The applications write for ``ms`` milliseconds, no backup running."""
        sim = self.world.sim
        sim.run(until=sim.now + ms * MILLISECOND)
        self.last_step = f"the applications wrote for {ms} ms"

    def teardown(self) -> None:
        type(self).last = self


def _token_and_command(failure: BaseException) -> tuple[str, list[str]]:
    text = "\n".join([str(failure), *getattr(failure, "__notes__", [])])
    [token] = [
        x.removeprefix("replay token: ")
        for x in text.splitlines()
        if x.startswith("replay token: ")
    ][:1]
    [line] = [x for x in text.splitlines() if x.startswith("replay it: ")][:1]
    argv = shlex.split(line.removeprefix("replay it: "))
    assert argv[0] == "vsssim"
    return token, argv[1:]


def test_a_failing_run_that_took_other_rules_replays_exactly(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)  # the machine imports from here
    with pytest.raises(AssertionError, match="left its application frozen") as e:
        run_state_machine_as_test(BreakMachine, settings=_settings(60, 6))
    live = BreakMachine.last
    assert live is not None
    token, argv = _token_and_command(e.value)
    steps = read_token(token).fields["steps"]
    assert isinstance(steps, list)
    rules = [s["rule"] for s in steps if isinstance(s, dict)]
    assert rules[0] == "build_world" and "break_a_writer" in rules, rules
    assert argv == ["replay", token, "--machine", f"{HERE}:BreakMachine"]
    status, trace = main([*argv, "--format", "json"]), capsys.readouterr().out
    assert status == 1 and trace == live.world.sim.trace.to_jsonl()
    status, out = main(argv), capsys.readouterr().out
    assert status == 1 and "The state machine fails:" in out
    assert str(e.value) in out  # the same failure, its token and all


class Odd(enum.Enum):
    ONE = 1
    PAIR = (1, 2)


class CrashMachine(WriterProtocolMachine):
    """A rule that raises (not an assertion), a rule given a value no token carries."""

    crashed_at: ClassVar[int] = 7

    @rule(n=st.integers(0, 10), data=st.data())
    def count(self, n: int, data: st.DataObject) -> None:
        drawn = data.draw(st.integers(0, 10), label="m")
        if n + drawn > 2 * self.crashed_at:
            raise ValueError(f"{n} + {drawn} is too many")

    def odd(self, thing: object) -> None:
        """Not a rule: the replay refuses to call it."""

    @rule(thing=st.builds(object))
    def take_anything(self, thing: object) -> None:
        self.last_step = "took a thing"


class FewAgentsMachine(WriterProtocolMachine):
    """An invariant of its own, which fails once a fifth agent came."""

    @invariant()
    def few_agents(self) -> None:
        assert self._agents <= 4, f"{self._agents} agents"


def test_a_rule_that_raises_carries_the_token_and_replays_its_failure(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    machine = CrashMachine()
    machine.build_world(0)
    with pytest.raises(ValueError, match="7 \\+ 8 is too many") as e:
        machine.count(7, _Data(8))
    token, argv = _token_and_command(e.value)
    status, out = main(argv), capsys.readouterr()
    assert status == 1 and "ValueError: 7 + 8 is too many" in out.out, out.err
    assert f"replay token: {token}" in out.out  # the replayed run has the same token
    assert "the replayed state machine failed: ValueError: 7 + 8" in out.err


def test_an_invariant_of_a_subclass_fails_with_the_token_and_replays(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    with pytest.raises(AssertionError, match="agents") as e:
        run_state_machine_as_test(FewAgentsMachine, settings=_settings(30, 8))
    token, argv = _token_and_command(e.value)
    status, out = main(argv), capsys.readouterr().out
    # the invariant's own message, and the note with the token the replay gives again
    assert status == 1 and str(e.value).splitlines()[0] in out
    assert f"replay token: {token}" in out


class _Data:
    """A stand-in for hypothesis's ``data()`` giving set values."""

    def __init__(self, *values: object) -> None:
        self._values = list(values)

    def draw(self, strategy: object, label: object = None) -> object:
        return self._values.pop(0)


def test_a_value_no_token_carries_is_refused_on_replay_naming_it(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    machine = CrashMachine()
    machine.build_world(0)
    machine.take_anything(object())
    status = main(["replay", machine.world.token(), "--machine", f"{HERE}:CrashMachine"])
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1
    assert "step 2 (take_anything) cannot be replayed: its argument thing: a object" in err


_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=5)
    | st.floats(allow_nan=False)
    | st.binary(max_size=4)
    | st.uuids()
    | st.sampled_from(Odd)
    | st.builds(FaultSpec, st.tuples(st.text(max_size=3))),
    lambda inner: (
        st.tuples(inner)
        | st.lists(inner, max_size=3)
        | st.frozensets(st.integers() | st.text(max_size=3), max_size=3)
        | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=10,
)


@given(_VALUES)
@settings(max_examples=200, deadline=None)
def test_values_round_trip_through_a_token(value: object) -> None:
    encoded = encode_value(value)
    again = decode_value(ReplayToken("stateful", {"v": encoded}).fields["v"])
    assert again == value and type(again) is type(value)
    assert encode_value(again) == encoded  # the same text in any process


def _nested(depth: int) -> object:
    value: object = 0
    for _ in range(depth):
        value = (value,)
    return value


def test_values_no_token_carries_are_named() -> None:
    for value, says in [
        (object(), "a object"),
        (Path("x"), "a PosixPath"),
        (_nested(30), "nested more than"),
    ]:
        with pytest.raises(Unrecordable, match=says):
            encode_value(value)


def _nested_json(depth: int) -> Any:
    value: Any = 0
    for _ in range(depth):
        value = {"tuple": [value]}
    return value


@pytest.mark.parametrize(
    ("data", "says"),
    [
        ({"enum": "no.such.module:E", "value": 1}, "whose module is not imported"),
        ({"enum": "os:system", "value": 1}, "which is not one"),
        ({"attrs": "vsssim.host.scenario:FaultSpec", "fields": {"nope": 1}}, "FaultSpec"),
        ({"attrs": "builtins:object", "fields": {}}, "not an attrs class"),
        ({"enum": f"{HERE}:Odd", "value": 3}, "not a valid Odd"),
        ({"enum": f"{HERE}:Odd.__class__", "value": 3}, "not a class's name"),
        ({"dict": [[{"list": []}, 1]]}, "unhashable"),
        ({"dict": ["ab"]}, "not pairs"),
        ({"float": "zz"}, "float"),
        ([1], "not a value a token carries"),
        ({"eval": "1"}, "not a value a token carries"),
        (_nested_json(40), "nested more than"),
    ],
)
def test_a_damaged_value_is_one_replay_error(data: Any, says: str) -> None:
    with pytest.raises(ReplayError, match=says):
        decode_value(data)


@pytest.mark.parametrize(
    ("steps", "says"),
    [
        ([{"rule": "odd", "args": {}}], "'odd', which is not a rule of CrashMachine"),
        ([{"rule": "__init__", "args": {}}], "not a rule"),
        ([{"rule": "run_round", "args": {}}], "not a rule"),
        ([{"rule": "build_world"}], "step 1 is not a rule and its arguments"),
        (
            [
                {"rule": "build_world", "args": {"seed": 0}},
                {"rule": "count", "args": {"n": 1, "data": {"data": []}}},
            ],
            "step 2 (count) draws more values than the token recorded",
        ),
        (
            [
                {"rule": "build_world", "args": {"seed": 0}},
                {"rule": "count", "args": {"n": 1, "data": {"data": [1, 2]}}},
            ],
            "step 2 (count) draws fewer values",
        ),
        (
            [{"rule": "count", "args": {"n": 1, "data": {"data": [0]}}}],
            "never build the machine's world",
        ),
    ],
)
def test_a_bad_step_is_refused(
    steps: list[Any], says: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    token = ReplayToken("stateful", {"machine": f"{HERE}:CrashMachine", "seed": 0, "steps": steps})
    status = main(["replay", token.encode(), "--machine", f"{HERE}:CrashMachine"])
    captured = capsys.readouterr()
    assert status == 2 and captured.out == "" and says in captured.err, captured.err


MOOD = """\
import enum
from hypothesis import settings, strategies as st
from hypothesis.stateful import rule, run_state_machine_as_test
from vsssim.testing.stateful import WriterProtocolMachine

class Mood(enum.Enum):
    CALM = 1
    ANGRY = 2

class MoodMachine(WriterProtocolMachine):
    @rule(mood=st.sampled_from(Mood))
    def feel(self, mood):
        self.last_step = f"felt {mood.name}"
        assert mood is not Mood.ANGRY or self._agents < 1, "angry after a backup"

try:
    run_state_machine_as_test(MoodMachine, settings=settings(
        derandomize=True, database=None, deadline=None, max_examples=50, stateful_step_count=5))
except AssertionError as failure:
    print("\\n".join([str(failure), *getattr(failure, "__notes__", [])]))
"""


def test_a_script_s_machine_replays_from_the_console_script(tmp_path: Path) -> None:
    """A machine run as a script (``__main__``), with an enum of its own in its steps,
    replays as printed: the replay loads the script under another name."""
    from tests.test_writer_loop import vsssim

    (tmp_path / "mood.py").write_text(MOOD, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "mood.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        check=False,
        timeout=300,
    )
    assert "angry after a backup" in done.stdout, done.stdout + done.stderr
    token, argv = _token_and_command(AssertionError(done.stdout))
    assert argv[-2:] == ["--machine", "mood.py:MoodMachine"]
    assert '"enum":"__main__:Mood"' in json.dumps(read_token(token).fields, separators=(",", ":"))
    replayed = vsssim(tmp_path, *argv)
    assert replayed.returncode == 1, replayed.stdout + replayed.stderr
    assert "angry after a backup" in replayed.stdout and "Traceback" not in replayed.stderr
