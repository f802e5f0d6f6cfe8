"""Replay tokens as an adversary writes them: every bad token is one ReplayError, in bounded
time and memory, and a replay refuses a token whose choices its run did not use up."""

from __future__ import annotations

import base64
import re
import tracemalloc
import zlib
from pathlib import Path

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vsssim.cli.main import main
from vsssim.errors import ReplayError
from vsssim.host.demo import build_demo_world
from vsssim.host.scenario_file import load_scenario
from vsssim.host.world import World
from vsssim.sim.choices import (
    MAX_CHOICE_VALUE,
    MAX_CHOICES,
    MAX_DECODED_BYTES,
    MAX_NUMBER_BYTES,
    MAX_TOKEN_CHARS,
    RecordingChoices,
    SeededChoices,
    SequenceChoices,
    decode_token,
    encode_token,
)
from vsssim.sim.tokens import CHOICES, ReplayToken, read_token
from vsssim.testing import fuzz
from vsssim.testing.explore import ExploreOptions, explore, replay_explored

EXPLORE_EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "explore_2x2x2.toml"
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
#: what decoding one hostile token may allocate at its peak
MEMORY_BOUND = 20 * 1024 * 1024


#: The header of a token of choices alone, as a payload starts with it (length, JSON).
_HEADER = b'{"choices":true,"kind":"choices","vsssim":"0.1.0"}'
HEADER = bytes([len(_HEADER)]) + _HEADER
#: The token of the choices 1, 2, 3 (made by vsssim 0.1.0).
PINNED = "v2.eNozqlZKzsjPTE4tVrIqKSpN1VHKzsxLUbKCi-oolRUXF2fmAoUM9Az1DJRqGZmYAe42ED8"


def token_of(payload: bytes) -> str:
    """A well-formed container (prefix, base64url, zlib) around any LEB128 payload."""
    packed = zlib.compress(HEADER + payload, 9)
    return "v2." + base64.urlsafe_b64encode(packed).decode().rstrip("=")


def bomb(pattern: bytes, total: int) -> str:
    """A token whose payload is ``pattern`` repeated to ``total`` bytes, compressed in pieces
    so that building it stays small too."""
    packer = zlib.compressobj(9)
    piece = pattern * (65536 // len(pattern))
    whole, rest = divmod(total, len(piece))
    packed = [packer.compress(HEADER)]
    packed += [packer.compress(piece) for _ in range(whole)]
    packed += [packer.compress(piece[:rest]), packer.flush()]
    return "v2." + base64.urlsafe_b64encode(b"".join(packed)).decode().rstrip("=")


def refusal(token: object) -> str:
    """The message decoding ``token`` is refused with: exactly one line."""
    with pytest.raises(ReplayError) as caught:
        decode_token(token)
    message = str(caught.value)
    assert message and "\n" not in message
    return message


def decodes_or_refuses(token: object) -> None:
    """A token gives a tuple of choices or one ReplayError, never any other exception."""
    try:
        values = decode_token(token)
    except ReplayError as error:
        assert str(error) and "\n" not in str(error)
    else:
        assert isinstance(values, tuple)
        assert all(0 <= value <= MAX_CHOICE_VALUE for value in values)


def peak_while_refusing(token: str) -> tuple[int, str]:
    tracemalloc.start()
    try:
        with pytest.raises(ReplayError) as caught:
            decode_token(token)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, str(caught.value)


# -- what a good token is ----------------------------------------------------------------------


choice_values = st.one_of(
    st.integers(min_value=0, max_value=200),
    st.integers(min_value=0, max_value=MAX_CHOICE_VALUE),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(choice_values, max_size=400))
def test_any_choice_sequence_round_trips(values: list[int]) -> None:
    assert decode_token(encode_token(values)) == tuple(values)


def test_the_token_format_is_pinned() -> None:
    # tokens printed by earlier versions keep replaying: the format must not drift
    assert ReplayToken(CHOICES, {}, (1, 2, 3), made_by="0.1.0").encode() == PINNED
    assert decode_token(PINNED) == (1, 2, 3)
    assert read_token(PINNED) == ReplayToken(CHOICES, {}, (1, 2, 3), made_by="0.1.0")
    assert decode_token(encode_token([])) == ()


def test_blanks_around_a_pasted_token_are_ignored() -> None:
    assert decode_token("  " + encode_token([4, 5]) + "\n") == (4, 5)


def test_the_limits_themselves_are_accepted() -> None:
    assert decode_token(encode_token([MAX_CHOICE_VALUE])) == (MAX_CHOICE_VALUE,)
    assert len(decode_token(bomb(b"\x00", MAX_CHOICES))) == MAX_CHOICES


# -- malformed text ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("token", "says"),
    [
        (None, "text (str), not NoneType"),
        (PINNED.encode(), "not bytes"),
        (12, "not int"),
        ("", "should start with 'v2.'"),
        ("   ", "should start with 'v2.'"),
        ("garbage", "should start with 'v2.'"),
        ("V" + PINNED[1:], "should start with 'v2.'"),
        ("v1.eNpjZGIGAAANAAc", "token format v1, which vsssim 0.1.0 and earlier wrote"),
        ("v3." + PINNED[3:], "format v3, made by a newer vsssim"),
        ("v10.abc", "format v10"),
        ("v2.", "nothing follows"),
        (PINNED + "=", "'=' padding"),
        (PINNED + "==", "'=' padding"),
        (PINNED[:7] + " " + PINNED[7:], "character 7 is ' '"),
        (PINNED[:7] + "+" + PINNED[7:], "character 7 is '+'"),
        (PINNED[:-1] + "é", "'é'"),
        (PINNED[:-1] + "\x00", "'\\x00'"),
        ("v2.A", "cannot be base64"),
        (PINNED + "AA", "cannot be base64"),
        (PINNED[:-1] + "9", "last character '9'"),  # spare bits set: not a written token
    ],
)
def test_malformed_text_is_refused_saying_what_is_wrong(token: object, says: str) -> None:
    assert says in refusal(token)


def test_an_overlong_token_is_refused_before_it_is_read() -> None:
    message = refusal("v2." + "A" * MAX_TOKEN_CHARS)
    assert f"more than the {MAX_TOKEN_CHARS}" in message


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"not zlib", "corrupt"),
        (zlib.compress(b"\x01\x02")[:-3], "truncated"),
        (zlib.compress(b"\x01\x02")[:2], "truncated"),
        (zlib.compress(b"\x01\x02") + b"\x00\x00\x00", "3 bytes follow"),
        (zlib.compress(b"\x01\x02") + zlib.compress(b"\x03"), "bytes follow"),
        (zlib.compress(b"\x01\x02")[:-1] + b"\x00", "corrupt"),  # wrong checksum
        (zlib.compress(b"\x01\x02", wbits=-15), "corrupt"),  # raw deflate, no zlib header
        (zlib.compress(b"\x01\x02", wbits=31), "corrupt"),  # gzip
        (b"", "nothing follows"),
        (zlib.compress(b"")[:1], "truncated"),
        (zlib.compress(b"")[:2], "truncated"),
    ],
)
def test_a_wrong_compressed_stream_is_refused(body: bytes, says: str) -> None:
    token = "v2." + base64.urlsafe_b64encode(body).decode().rstrip("=")
    assert says in refusal(token)


@pytest.mark.parametrize(
    ("payload", "says"),
    [
        (b"\x05\x80", "middle of a number"),
        (b"\x05" + b"\xff" * 5, "middle of a number"),
        (b"\x80\x00", "needless zero byte"),
        (b"\x81\x80\x00", "needless zero byte"),
        (b"\xff" * 9 + b"\x02", "beyond any choice"),
        (b"\x01" + b"\x80" * MAX_NUMBER_BYTES + b"\x01", f"#1 is longer than {MAX_NUMBER_BYTES}"),
    ],
)
def test_a_wrong_number_is_refused(payload: bytes, says: str) -> None:
    assert says in refusal(token_of(payload))


def test_a_choice_beyond_64_bits_cannot_be_encoded() -> None:
    with pytest.raises(ValueError, match="2\\*\\*64"):
        encode_token([MAX_CHOICE_VALUE + 1])


def test_a_run_with_more_choices_than_a_token_carries_has_no_token() -> None:
    with pytest.raises(ReplayError, match=f"more than a replay token carries \\({MAX_CHOICES}\\)"):
        encode_token([0] * (MAX_CHOICES + 1))


# -- bounded time and memory ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "total", "says"),
    [
        (b"\x00", 95_000_000, "more than 1000000 choices"),  # the 129 KB / 95 MB bomb
        (b"\xff\x7f", 20_000_000, "more than 1000000 choices"),  # big numbers, many of them
        (b"\x81\x80\x01", 20_000_000, "more than 1000000 choices"),
        (b"\xff\xff\xff\xff\xff\x01", 20_000_000, f"more than {MAX_DECODED_BYTES} bytes"),
        (b"\xff", 20_000_000, f"more than {MAX_DECODED_BYTES} bytes"),  # one endless number
    ],
)
def test_decompression_bombs_are_refused_in_bounded_memory(
    pattern: bytes, total: int, says: str
) -> None:
    token = bomb(pattern, total)
    assert len(token) < 200_000
    peak, message = peak_while_refusing(token)
    assert says in message
    assert peak < MEMORY_BOUND


def test_one_huge_number_is_refused_after_its_eleventh_byte() -> None:
    # 1.3 KB of token for one number of a million bytes: 30 s of CPU before numbers were capped
    token = token_of(b"\xff" * 1_000_000 + b"\x01")
    assert len(token) < 2_000
    peak, message = peak_while_refusing(token)
    assert "choice #0 is longer than 10 bytes" in message
    assert peak < MEMORY_BOUND


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=MAX_NUMBER_BYTES, max_value=200_000), st.binary(max_size=8))
def test_huge_numbers_are_refused(continuations: int, before: bytes) -> None:
    token = token_of(bytes(b & 0x7F for b in before) + b"\x80" * continuations + b"\x01")
    assert "longer than 10 bytes" in refusal(token)


# -- generated and mutated input -----------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=120))
def test_any_text_decodes_or_is_refused(text: str) -> None:
    decodes_or_refuses(text)
    decodes_or_refuses("v2." + text)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=ALPHABET, max_size=120))
def test_any_base64url_body_decodes_or_is_refused(body: str) -> None:
    decodes_or_refuses("v2." + body)
    decodes_or_refuses("v2.eN" + body)  # past the zlib header, into the deflate stream


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_any_bytes_decode_or_are_refused(payload: bytes) -> None:
    decodes_or_refuses(payload)
    decodes_or_refuses("v2." + base64.urlsafe_b64encode(payload).decode().rstrip("="))
    decodes_or_refuses(token_of(payload))  # a good container around any payload


@st.composite
def mutated_tokens(draw: st.DrawFn) -> str:
    values = draw(st.lists(choice_values, min_size=1, max_size=80))
    token = encode_token(values)
    at = draw(st.integers(min_value=0, max_value=len(token) - 1))
    char = draw(st.sampled_from(ALPHABET + "=.+/ \n\x00é"))
    how = draw(st.sampled_from(["replace", "insert", "delete", "cut", "append", "swap"]))
    if how == "replace":
        return token[:at] + char + token[at + 1 :]
    if how == "insert":
        return token[:at] + char + token[at:]
    if how == "delete":
        return token[:at] + token[at + 1 :]
    if how == "cut":
        return token[:at]
    if how == "append":
        return token + char * draw(st.integers(min_value=1, max_value=8))
    other = draw(st.integers(min_value=0, max_value=len(token) - 1))
    chars = list(token)
    chars[at], chars[other] = chars[other], chars[at]
    return "".join(chars)


@settings(max_examples=400, deadline=None)
@given(mutated_tokens())
def test_mutated_tokens_decode_or_are_refused(token: str) -> None:
    decodes_or_refuses(token)


# -- a replay uses up its token ----------------------------------------------------------


def test_leftover_choices_are_refused() -> None:
    source = SequenceChoices([1, 0, 2])
    assert source.choose("a", 2) == 1
    with pytest.raises(ReplayError, match="2 recorded choices were not used") as caught:
        source.check_consumed()
    assert "after 1 of 3" in str(caught.value) and "belongs to another run" in str(caught.value)
    source.choose("b", 2)
    with pytest.raises(ReplayError, match="1 recorded choice was not used"):
        source.check_consumed()
    source.choose("c", 3)
    source.check_consumed()  # every choice used: nothing to say


def test_a_recorder_checks_the_replay_it_records_and_other_sources_have_nothing_left() -> None:
    recorder = RecordingChoices(SequenceChoices([1, 1]))
    recorder.choose("a", 2)
    with pytest.raises(ReplayError, match="1 recorded choice was not used"):
        recorder.check_consumed()
    RecordingChoices(SeededChoices(1)).check_consumed()
    SeededChoices(1).check_consumed()


def test_a_recorded_value_out_of_range_names_the_site_and_its_ways() -> None:
    said = re.escape("#0 is 7 but 'writer/w/freeze' offers 5 values (10..14)")
    with pytest.raises(ReplayError, match=said):
        SequenceChoices([7]).between("writer/w/freeze", 10, 14)
    source = SequenceChoices([0, 3])
    source.choose("schedule", 2)
    with pytest.raises(ReplayError, match="#1 is 3 but 'schedule' offers 3 ways"):
        source.choose("schedule", 3)
    assert source.position == 1  # a refused choice consumes nothing
    assert SequenceChoices([4]).between("s", 10, 14) == 14


@pytest.mark.parametrize("values", [[1, -1], [0, "1"], [True], [1.0]])
def test_a_sequence_of_non_choices_is_refused(values: list[object]) -> None:
    with pytest.raises(ReplayError, match="a choice is an integer from 0 up"):
        SequenceChoices(values)  # type: ignore[arg-type]


def test_a_fuzz_replay_refuses_a_token_with_choices_left_over() -> None:
    report = fuzz.fuzz_one(5, 0)
    world, again = fuzz.replay(report.token)
    assert again.trace_hash == report.trace_hash
    assert world.recorder is not None and read_token(report.token).choices is None
    header = read_token(report.token)
    longer = attrs.evolve(header, choices=(*world.recorder.recorded, 0, 0)).encode()
    with pytest.raises(ReplayError, match="2 recorded choices were not used"):
        fuzz.replay(longer)
    with pytest.raises(ReplayError, match="2 recorded choices were not used"):
        fuzz.replay(encode_token([*world.recorder.recorded, 0, 0]))


def test_an_explored_replay_refuses_a_token_with_choices_left_over() -> None:
    scenario = load_scenario(EXPLORE_EXAMPLE).scenario
    tokens: list[str] = []

    def visit(world: World) -> None:
        tokens.append(world.token())

    explore(scenario, ExploreOptions(max_choices=4, max_runs=2), visit=visit)
    assert tokens
    replay_explored(scenario, tokens[0])
    with pytest.raises(ReplayError, match="1 recorded choice was not used"):
        replay_explored(scenario, encode_token([*decode_token(tokens[0]), 1]))


@pytest.mark.parametrize(
    "argv",
    [
        ["replay", "garbage"],
        ["replay", "v2.A"],
        ["replay", PINNED[:-1] + "9"],
        ["replay", "v1.eNpjZGIGAAANAAc"],
        ["replay", bomb(b"\x00", 10_000_000)],
        ["demo", "--replay", "v2.!!!!"],
        ["demo", "--replay", encode_token([0] * 9)],  # runs out
    ],
    ids=["garbage", "short", "bad-last-char", "old-format", "bomb", "demo-bad", "demo-short"],
)
def test_the_command_line_refuses_a_bad_token_in_one_line(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("vsssim: error: ") and captured.err.count("\n") == 1


def test_the_command_line_refuses_a_demo_token_with_choices_left_over(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["demo", "--seed", "3", "--show-token"]) == 0
    token = capsys.readouterr().out.strip().splitlines()[-1].removeprefix("Replay token: ")
    assert main(["demo", "--replay", token, "--format", "json"]) == 0
    capsys.readouterr()
    world = build_demo_world(3)
    world.run()
    assert world.recorder is not None
    assert main(["demo", "--replay", encode_token(world.recorder.recorded)]) == 0
    capsys.readouterr()
    assert main(["demo", "--replay", encode_token([*world.recorder.recorded, 1])]) == 2
    assert "1 recorded choice was not used" in capsys.readouterr().err


# -- headers as an adversary writes them ----------------------------------------------------

_STATEFUL = {"machine": "vsssim.testing.stateful:WriterProtocolMachine", "load": None, "seed": 1}
_ROUND = {"step": "a round", "heal_after_us": None, "faults": None}
_BUILD = {"rule": "build_world", "args": {"seed": 1}}
_PICKS = [{"set": ["W1:C0"]}, {"set": ["W1:C0"]}]


def _agent(**options: object) -> dict[str, object]:
    from vsssim.host.scenario import AgentSpec
    from vsssim.host.scenario_codec import parts_to_dict

    [agent] = parts_to_dict([AgentSpec("A1", ("W1:C0",))], None)["agents"]
    agent["options"] = {**agent["options"], **options}
    return agent  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("token", "says"),
    [
        (ReplayToken("nosuchkind", {}), "a kind this vsssim does not know"),
        (ReplayToken("demo", {"seed": 1}), "its header has no 'agents'"),
        (ReplayToken("demo", {"seed": "1", "agents": 1, "provider": "software"}), "not a whole"),
        (ReplayToken("demo", {"seed": 1, "agents": 99, "provider": "software"}), "1 to 8"),
        (ReplayToken("demo", {"seed": 1, "agents": 1, "provider": "x"}), "no provider 'x'"),
        (ReplayToken("demo", {"seed": 1, "agents": 1, "provider": "xp", "story": 3}), "story"),
        (ReplayToken("run", {"file": "/no/such.toml", "sha256": "0", "seed": 1}), "not a file"),
        (ReplayToken("run", {"file": "/dev/zero", "sha256": "0", "seed": 1}), "not a file"),
        (ReplayToken("explore", {"file": [], "sha256": "0"}, ()), "not a string"),
        (ReplayToken("fuzz", {"campaign": 1, "index": -1, "misbehaviour": True}), "not a whole"),
        (ReplayToken("fuzz", {"campaign": 1, "index": 0, "writer": None}), "misbehaviour"),
        (ReplayToken("pytest", {"test": "t.py::t", "base": 0, "file": "t.py"}), "not a file here"),
        (ReplayToken("choices", {}, (1,)), "carries choices alone"),
        (ReplayToken("stateful", {**_STATEFUL, "steps": "x"}), "its steps are str"),
        (ReplayToken("stateful", {**_STATEFUL, "steps": ["x"]}), "step 1 is not an object"),
        (ReplayToken("stateful", {**_STATEFUL, "steps": [{}] * 1001}), "more than the 1000"),
        (ReplayToken("stateful", {**_STATEFUL, "steps": [{}]}), "step 1 is not a rule"),
        (ReplayToken("stateful", {**_STATEFUL, "steps": [_BUILD, {"round": 3}]}), "not an object"),
        (
            ReplayToken("stateful", {**_STATEFUL, "steps": [_BUILD, {"round": {**_ROUND}}]}),
            "step 2: not agents",
        ),
        (
            ReplayToken(
                "stateful", {**_STATEFUL, "steps": [_BUILD, {"round": {**_ROUND, "agents": [{}]}}]}
            ),
            "step 2: not agents",
        ),
        (
            ReplayToken(
                "stateful",
                {
                    **_STATEFUL,
                    "steps": [
                        _BUILD,
                        {"round": {**_ROUND, "agents": [_agent(lock_wait_us=10**15)]}},
                    ],
                },
            ),
            "lock_wait_us is 1000000000000000",
        ),
        (
            # a rule's own arguments are bounded too, where they become a round
            ReplayToken(
                "stateful",
                {
                    **_STATEFUL,
                    "steps": [
                        _BUILD,
                        {
                            "rule": "two_agents",
                            "args": {"data": {"data": _PICKS}, "gap_ms": 10**12},
                        },
                    ],
                },
            ),
            "start_us is 1000000000000000",
        ),
        (
            ReplayToken("stateful", {**_STATEFUL, "machine": "x:Y", "steps": []}),
            "add --machine x:Y",
        ),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_a_bad_header_is_one_line_and_runs_nothing(
    token: ReplayToken, says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["replay", token.encode()]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.startswith("vsssim: error: ")
    assert captured.err.count("\n") == 1 and says in captured.err, captured.err


def _with_length(header: bytes) -> bytes:
    return bytes([len(header)]) + header


@pytest.mark.parametrize(
    ("payload", "says"),
    [
        (b"\x00", "not JSON"),  # an empty header
        (b"\x80\x00", "needless zero byte"),
        (b"\xff\xff\xff\x7f", "longer than"),
        (_with_length(b"[1,2]"), "a JSON list, not an object"),
        (_with_length(b'{"a":'), "not JSON"),
        (_with_length(b"{}"), "kind is None"),
        (_with_length(b'{"kind":"demo","choices":true}'), "vsssim version is None"),
        (_with_length(b'{"kind":"demo","vsssim":"x","choices":1}'), "'choices' is 1"),
        (_with_length(b'{"kind":"demo","vsssim":"x","choices":false}') + b"\x01", "1 follow"),
        (b"\x10" + b"[" * 15, "ends inside its header"),
    ],
)
def test_a_bad_header_is_refused_saying_so(payload: bytes, says: str) -> None:
    packed = base64.urlsafe_b64encode(zlib.compress(payload)).decode().rstrip("=")
    message = refusal("v2." + packed)
    assert "damaged" in message and says in message, message


def test_a_deeply_nested_header_is_refused_in_one_line() -> None:
    nested = b"[" * 100_000 + b"]" * 100_000
    payload = bytes([0x80 | (len(nested) & 0x7F), 0x80 | (len(nested) >> 7 & 0x7F)])
    payload += bytes([len(nested) >> 14]) + nested
    packed = base64.urlsafe_b64encode(zlib.compress(payload)).decode().rstrip("=")
    assert "its header is not JSON" in refusal("v2." + packed)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)
_FIELDS = st.dictionaries(
    st.text(max_size=12).filter(lambda key: key not in ("kind", "vsssim", "choices")), _JSON
)


@settings(max_examples=150, deadline=None)
@given(
    st.from_regex(r"[a-z][a-z_]{0,30}", fullmatch=True),
    _FIELDS,
    st.none() | st.lists(choice_values, max_size=50).map(tuple),
)
def test_any_header_round_trips(
    kind: str, fields: dict[str, object], choices: tuple[int, ...] | None
) -> None:
    token = ReplayToken(kind, fields, choices)  # type: ignore[arg-type]
    assert read_token(token.encode()) == token
