"""Choice sources: seeded streams per site, replay, recording and replay tokens."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vsssim.errors import ReplayError
from vsssim.sim.choices import (
    ChoiceSource,
    FifoChoices,
    RecordingChoices,
    SeededChoices,
    SequenceChoices,
    decode_token,
    encode_token,
)

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def draws(source: ChoiceSource, site: str, n: int, count: int) -> list[int]:
    return [source.choose(site, n) for _ in range(count)]


class CountingChoices(ChoiceSource):
    """Always answers ``answer`` and counts the questions."""

    def __init__(self, answer: int = 0) -> None:
        self.answer = answer
        self.asked: list[tuple[str, int]] = []

    def choose(self, site: str, n: int) -> int:
        self.asked.append((site, n))
        return self.answer


# -- SeededChoices -------------------------------------------------------------------------


def test_same_seed_gives_the_same_sequence() -> None:
    first = draws(SeededChoices(7), "schedule", 1000, 50)
    second = draws(SeededChoices(7), "schedule", 1000, 50)
    assert first == second
    assert all(0 <= v < 1000 for v in first)
    assert len(set(first)) > 10  # it is not a constant stream


def test_different_seeds_give_different_sequences() -> None:
    assert draws(SeededChoices(1), "s", 1000, 20) != draws(SeededChoices(2), "s", 1000, 20)


def test_sites_are_independent_streams() -> None:
    alone = draws(SeededChoices(3), "a", 1000, 30)

    mixed = SeededChoices(3)
    interleaved: list[int] = []
    for _ in range(30):
        mixed.choose("b", 1000)
        mixed.choose("b", 7)
        interleaved.append(mixed.choose("a", 1000))
    assert interleaved == alone
    # and the two sites do not produce the same stream
    assert draws(SeededChoices(3), "b", 1000, 30) != alone


def test_single_way_choice_does_not_consume_the_stream() -> None:
    plain = draws(SeededChoices(11), "x", 100, 10)
    source = SeededChoices(11)
    mixed = []
    for _ in range(10):
        assert source.choose("x", 1) == 0
        mixed.append(source.choose("x", 100))
    assert mixed == plain


def test_seeded_sequence_does_not_depend_on_the_hash_seed() -> None:
    script = (
        "import json\n"
        "from vsssim.sim.choices import SeededChoices\n"
        "s = SeededChoices(2024)\n"
        "print(json.dumps([[s.choose(site, 1000) for _ in range(5)] "
        "for site in ('schedule', 'provider/software/CommitSnapshots', 'w')]))\n"
    )
    source = SeededChoices(2024)
    expected = [
        [source.choose(site, 1000) for _ in range(5)]
        for site in ("schedule", "provider/software/CommitSnapshots", "w")
    ]
    for hash_seed in ("0", "1", "12345"):
        env = dict(os.environ)
        env["PYTHONHASHSEED"] = hash_seed
        env["PYTHONPATH"] = os.pathsep.join(
            [str(PROJECT_ROOT), *filter(None, [env.get("PYTHONPATH")])]
        )
        out = subprocess.run(
            [sys.executable, "-c", script],
            env=env,
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        assert json.loads(out.stdout) == expected


# -- between / chance ----------------------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=2**32),
    low=st.integers(min_value=-1000, max_value=1000),
    width=st.integers(min_value=0, max_value=50),
)
def test_between_stays_in_the_closed_range(seed: int, low: int, width: int) -> None:
    source = SeededChoices(seed)
    high = low + width
    values = [source.between("range", low, high) for _ in range(20)]
    assert all(low <= v <= high for v in values)


def test_between_reaches_both_ends() -> None:
    assert FifoChoices().between("s", 5, 9) == 5
    assert SequenceChoices([4]).between("s", 5, 9) == 9
    with pytest.raises(ReplayError):
        SequenceChoices([5]).between("s", 5, 9)  # only 5 ways from 5 to 9


def test_between_degenerate_and_empty_ranges() -> None:
    source = CountingChoices()
    assert source.between("s", 8, 8) == 8
    assert source.asked == []  # one way: no choice is drawn
    with pytest.raises(ValueError):
        source.between("s", 9, 8)


def test_chance_extremes_draw_nothing() -> None:
    source = CountingChoices(answer=99)
    assert source.chance("c", 0) is False
    assert source.chance("c", -5) is False
    assert source.chance("c", 100) is True
    assert source.chance("c", 150) is True
    assert source.asked == []


def test_chance_threshold_is_exact() -> None:
    # a draw of d out of 100 is a hit exactly when d < percent
    assert SequenceChoices([29]).chance("c", 30) is True
    assert SequenceChoices([30]).chance("c", 30) is False
    assert SequenceChoices([0]).chance("c", 1) is True
    assert SequenceChoices([99]).chance("c", 99) is False


def test_chance_frequency_is_roughly_the_percentage() -> None:
    source = SeededChoices(5)
    hits = sum(source.chance("coin", 25) for _ in range(4000))
    assert 800 < hits < 1200


# -- SequenceChoices -----------------------------------------------------------------------


def test_sequence_replays_in_order() -> None:
    source = SequenceChoices([2, 0, 1])
    assert [source.choose("a", 3), source.choose("b", 2), source.choose("c", 5)] == [2, 0, 1]
    assert source.position == 3


def test_sequence_out_of_range_is_a_replay_error() -> None:
    source = SequenceChoices([3])
    with pytest.raises(ReplayError):
        source.choose("site", 3)
    assert source.position == 0
    with pytest.raises(ReplayError):
        SequenceChoices([-1], strict=False).choose("site", 3)  # also when not strict


def test_strict_sequence_running_out_is_a_replay_error() -> None:
    source = SequenceChoices([1])
    assert source.choose("s", 2) == 1
    with pytest.raises(ReplayError):
        source.choose("s", 2)


def test_one_way_questions_consume_nothing() -> None:
    # RecordingChoices never records n == 1 questions, so a replay must not consume for them
    source = SequenceChoices([2])
    assert source.choose("only way", 1) == 0
    assert source.position == 0
    assert source.choose("s", 3) == 2
    assert source.choose("only way", 1) == 0  # even when exhausted and strict


def test_non_strict_sequence_goes_on_with_zero() -> None:
    source = SequenceChoices([1, 2], strict=False)
    assert [source.choose("s", 4) for _ in range(5)] == [1, 2, 0, 0, 0]


# -- RecordingChoices and tokens -----------------------------------------------------------


def test_recording_keeps_only_real_choices() -> None:
    inner = CountingChoices(answer=0)
    recorder = RecordingChoices(inner)
    assert recorder.choose("one way", 1) == 0
    assert recorder.recorded == []  # asked, but a single way is not a choice
    assert inner.asked == [("one way", 1)]
    values = [recorder.choose("a", 2), recorder.choose("b", 3)]
    assert recorder.recorded == values == [0, 0]

    seeded = RecordingChoices(SeededChoices(4))
    answers = [seeded.choose("s", n) for n in (1, 5, 1, 1, 9, 1)]
    assert seeded.recorded == [answers[1], answers[4]]


def test_recorded_token_replays_the_same_choices() -> None:
    recorder = RecordingChoices(SeededChoices(99))
    questions = [("schedule", 3), ("y", 50), ("schedule", 2), ("z", 1000)] * 20
    original = [recorder.choose(site, n) for site, n in questions]
    replay = SequenceChoices(decode_token(recorder.token()))
    assert [replay.choose(site, n) for site, n in questions] == original
    assert replay.position == len(replay.values)
    with pytest.raises(ReplayError):  # strict: the replayed run asks no more than recorded
        replay.choose("schedule", 2)


def test_recorded_token_replays_runs_that_ask_one_way_questions() -> None:
    recorder = RecordingChoices(SeededChoices(99))
    questions = [("schedule", 3), ("workload/users/file", 1), ("y", 50), ("z", 1)] * 20
    original = [recorder.choose(site, n) for site, n in questions]
    replay = SequenceChoices(decode_token(recorder.token()))
    assert [replay.choose(site, n) for site, n in questions] == original


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=2**64 - 1), max_size=60))
def test_token_round_trip(values: list[int]) -> None:
    token = encode_token(values)
    assert token.startswith("v2.")
    assert token.isascii() and token.isprintable() and " " not in token
    assert decode_token(token) == tuple(values)


def test_negative_choice_cannot_be_encoded() -> None:
    with pytest.raises(ValueError):
        encode_token([1, -1])


def test_token_is_compact_for_long_runs() -> None:
    token = encode_token([0, 1] * 5000)
    assert len(token) < 200


@pytest.mark.parametrize(
    "token",
    [
        "",
        "v1.eJxjYGBgAAAABAAB",
        "eJxjYGBgAAAABAAB",
        "v2.",
        "v2.A",
        "v2.!!!!",
        "v2.bm90IHpsaWI",  # base64 of "not zlib"
    ],
)
def test_damaged_tokens_raise_replay_error(token: str) -> None:
    with pytest.raises(ReplayError):
        decode_token(token)


def test_truncated_and_corrupted_tokens_raise_replay_error() -> None:
    token = encode_token(list(range(300)))
    with pytest.raises(ReplayError):
        decode_token(token[: len(token) // 2])
    body = bytearray(token.encode())
    middle = len(body) // 2
    body[middle] = ord("A") if body[middle] != ord("A") else ord("B")
    with pytest.raises(ReplayError):
        decode_token(body.decode())


def test_token_ending_inside_a_number_raises_replay_error() -> None:
    # a well-formed container whose LEB128 payload stops after a continuation byte
    header = b'{"choices":true,"kind":"choices","vsssim":"0.1.0"}'
    payload = bytes([len(header)]) + header + bytes([0x05, 0x80])
    packed = base64.urlsafe_b64encode(zlib.compress(payload)).decode().rstrip("=")
    with pytest.raises(ReplayError, match="middle of a number"):
        decode_token("v2." + packed)
