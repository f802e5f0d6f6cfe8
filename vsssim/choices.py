"""Choice sources: every place the simulated world could go several ways asks one of these.

A run is a pure function of (scenario, choices). Three sources share one interface:

* :class:`FifoChoices` always takes the first option (the cheap, plain default);
* :class:`SeededChoices` draws from a PRNG, one independent stream per *site* (derived from the
  root seed and the site's name), so adding a new kind of decision does not reshuffle the others;
* :class:`SequenceChoices` replays an explicit sequence, e.g. from a :func:`decode_token` token.

Wrap any of them in :class:`RecordingChoices` to keep the sequence a run consumed, and turn it
into a printable replay token with :func:`encode_token`.
"""

from __future__ import annotations

import abc
import base64
import hashlib
import random
import zlib
from collections.abc import Callable, Iterable, Sequence

from vsssim.errors import ReplayError

_TOKEN_PREFIX = "v1."


class ChoiceSource(abc.ABC):
    """Answers "which of ``n`` ways?" at a named decision site."""

    @abc.abstractmethod
    def choose(self, site: str, n: int) -> int:
        """Return an integer in ``range(n)`` for the decision named ``site`` (``n >= 1``)."""

    def between(self, site: str, low: int, high: int) -> int:
        """An integer in ``[low, high]`` (both included), drawn at ``site``."""
        if high < low:
            raise ValueError(f"empty range [{low}, {high}] at {site!r}")
        if high == low:
            return low
        return low + self.choose(site, high - low + 1)

    def chance(self, site: str, percent: int) -> bool:
        """True with probability ``percent``/100 (an integer, so it replays exactly)."""
        if percent <= 0:
            return False
        if percent >= 100:
            return True
        return self.choose(site, 100) < percent


class FifoChoices(ChoiceSource):
    """Always the first way: ties run in scheduling order, ranges give their low end."""

    def choose(self, site: str, n: int) -> int:
        return 0


class SeededChoices(ChoiceSource):
    """Pseudo-random choices from ``seed``, with an independent stream per site name."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._streams: dict[str, random.Random] = {}
        self._draws: dict[str, Callable[[int], int]] = {}

    def _stream(self, site: str) -> random.Random:
        stream = self._streams.get(site)
        if stream is None:
            digest = hashlib.sha256(f"{self.seed}/{site}".encode()).digest()
            stream = random.Random(int.from_bytes(digest[:16], "big"))
            self._streams[site] = stream
        return stream

    def _draw(self, site: str) -> Callable[[int], int]:
        stream = self._stream(site)
        # randrange(n), for an int n > 1, only checks its argument and returns _randbelow(n):
        # calling that directly draws the same values, faster (randrange where it is missing).
        draw: Callable[[int], int] = getattr(stream, "_randbelow", stream.randrange)
        self._draws[site] = draw
        return draw

    def choose(self, site: str, n: int) -> int:
        if n <= 1:
            return 0
        draw = self._draws.get(site)
        if draw is None:
            draw = self._draw(site)
        return draw(n)


class SequenceChoices(ChoiceSource):
    """Replays ``values`` in order; a value out of range or running out is a :class:`ReplayError`.

    With ``strict=False`` an exhausted sequence goes on with the first way (0), which is how an
    explorer extends a prefix.
    """

    def __init__(self, values: Iterable[int], *, strict: bool = True) -> None:
        self.values: tuple[int, ...] = tuple(values)
        self.position = 0
        self.strict = strict

    def choose(self, site: str, n: int) -> int:
        if n <= 1:  # not a choice: never recorded, so nothing to consume
            return 0
        if self.position >= len(self.values):
            if self.strict:
                raise ReplayError(
                    f"the recorded choices ran out at choice #{self.position} ({site!r}): "
                    "the replayed run differs from the recorded one"
                )
            return 0
        value = self.values[self.position]
        if not 0 <= value < n:
            raise ReplayError(
                f"recorded choice #{self.position} is {value} but {site!r} offers {n} ways: "
                "the replayed run differs from the recorded one"
            )
        self.position += 1
        return value


class RecordingChoices(ChoiceSource):
    """Passes choices through from ``inner`` and records them (only where ``n > 1``)."""

    def __init__(self, inner: ChoiceSource) -> None:
        self.inner = inner
        self.recorded: list[int] = []

    def choose(self, site: str, n: int) -> int:
        value = self.inner.choose(site, n)
        if n > 1:
            self.recorded.append(value)
        return value

    def token(self) -> str:
        """The recorded sequence as a replay token."""
        return encode_token(self.recorded)


def encode_token(values: Sequence[int]) -> str:
    """A compact printable token for a choice sequence (LEB128, deflate, base64url)."""
    raw = bytearray()
    for value in values:
        if value < 0:
            raise ValueError("choices are never negative")
        while True:
            byte = value & 0x7F
            value >>= 7
            if value:
                raw.append(byte | 0x80)
            else:
                raw.append(byte)
                break
    packed = base64.urlsafe_b64encode(zlib.compress(bytes(raw), 9)).decode("ascii").rstrip("=")
    return _TOKEN_PREFIX + packed


def decode_token(token: str) -> tuple[int, ...]:
    """The choice sequence of a token made by :func:`encode_token`."""
    if not token.startswith(_TOKEN_PREFIX):
        raise ReplayError(f"not a vsssim replay token (it should start with {_TOKEN_PREFIX!r})")
    body = token[len(_TOKEN_PREFIX) :]
    try:
        raw = zlib.decompress(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except (ValueError, zlib.error) as exc:
        raise ReplayError(f"the replay token is damaged: {exc}") from None
    values: list[int] = []
    value = shift = 0
    for byte in raw:
        value |= (byte & 0x7F) << shift
        if byte & 0x80:
            shift += 7
            continue
        values.append(value)
        value = shift = 0
    if shift:
        raise ReplayError("the replay token is damaged: it ends in the middle of a number")
    return tuple(values)
