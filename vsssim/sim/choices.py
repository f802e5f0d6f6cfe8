"""Choice sources: every place the simulated world could go several ways asks one of these.

A run is a pure function of (scenario, choices). Three sources share one interface:

* :class:`FifoChoices` always takes the first option (the cheap, plain default);
* :class:`SeededChoices` draws from a PRNG, one independent stream per *site* (derived from the
  root seed and the site's name), so adding a new kind of decision does not reshuffle the others;
* :class:`SequenceChoices` replays an explicit sequence, e.g. from a :func:`decode_token` token.

Wrap any of them in :class:`RecordingChoices` to keep the sequence a run consumed, and turn it
into a printable replay token with :func:`encode_token` (the token format is
:mod:`vsssim.sim.tokens`; its names are here too).
"""

from __future__ import annotations

import abc
import hashlib
from collections.abc import Iterable

from vsssim.errors import ReplayError
from vsssim.sim.tokens import (
    MAX_CHOICE_VALUE,
    MAX_CHOICES,
    MAX_DECODED_BYTES,
    MAX_NUMBER_BYTES,
    MAX_TOKEN_CHARS,
    TOKEN_FORMAT,
    decode_token,
    encode_token,
)

__all__ = [
    "MAX_CHOICES",
    "MAX_CHOICE_VALUE",
    "MAX_DECODED_BYTES",
    "MAX_NUMBER_BYTES",
    "MAX_TOKEN_CHARS",
    "TOKEN_FORMAT",
    "ChoiceSource",
    "FifoChoices",
    "RecordingChoices",
    "SeededChoices",
    "SequenceChoices",
    "decode_token",
    "encode_token",
    "splitmix64",
]

_MASK = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15


def splitmix64(state: int) -> tuple[int, int]:
    """One step of SplitMix64: the next state and a 64-bit output.

    A small, fast, well-mixed generator (Steele, Lea and Flood, 2014): one addition and two
    multiply-xorshifts per number, so a new stream costs nothing to start, unlike a
    Mersenne Twister (what a per-site stream needs: most sites of a run draw a few times)."""
    state = (state + _GOLDEN) & _MASK
    z = ((state ^ (state >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return state, z ^ (z >> 31)


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

    def check_consumed(self) -> None:
        """Refuse a replay that left recorded choices unused (nothing to check by default)."""
        return None

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
    """Pseudo-random choices from ``seed``, with an independent stream per site name.

    Each site's stream is SplitMix64 (:func:`splitmix64`) started from a hash of the seed and
    the site's name; a draw in ``range(n)`` is the next output modulo ``n`` (its bias is below
    ``n / 2**64``, and the same on every machine)."""

    def __init__(self, seed: int) -> None:
        self._seed = seed
        # What every site's hash starts with (a run starts a few hundred sites).
        self._prefix = f"{seed}/".encode()
        #: Each site's stream state.
        self._states: dict[str, int] = {}

    @property
    def seed(self) -> int:
        """The root seed (fixed: every site's stream derives from it)."""
        return self._seed

    def _start(self, site: str) -> int:
        """A new site's first state: from the hash of ``f"{seed}/{site}"``."""
        digest = hashlib.blake2b(self._prefix + site.encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big")

    def choose(self, site: str, n: int) -> int:
        if n <= 1:
            return 0
        states = self._states
        state = states.get(site)
        states[site], value = splitmix64(self._start(site) if state is None else state)
        return value % n


class SequenceChoices(ChoiceSource):
    """Replays ``values`` in order; a value out of range or running out is a :class:`ReplayError`.

    With ``strict=False`` an exhausted sequence goes on with the first way (0), which is how an
    explorer extends a prefix. A replay that is over calls :meth:`check_consumed`: choices left
    over mean the token was recorded by another run.
    """

    def __init__(self, values: Iterable[int], *, strict: bool = True) -> None:
        self.values: tuple[int, ...] = tuple(values)
        for index, value in enumerate(self.values):
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ReplayError(
                    f"recorded choice #{index} is {value!r}: a choice is an integer from 0 up"
                )
        self.position = 0
        self.strict = strict

    def choose(self, site: str, n: int) -> int:
        if n <= 1:  # not a choice: never recorded, so nothing to consume
            return 0
        return self._next(site, n, f"{n} ways")

    def between(self, site: str, low: int, high: int) -> int:
        if high < low:
            raise ValueError(f"empty range [{low}, {high}] at {site!r}")
        if high == low:
            return low
        ways = high - low + 1
        return low + self._next(site, ways, f"{ways} values ({low}..{high})")

    def _next(self, site: str, n: int, offers: str) -> int:
        """The next recorded value, checked against the ``n`` ways ``site`` offers."""
        if self.position >= len(self.values):
            if self.strict:
                raise ReplayError(
                    f"the recorded choices ran out at choice #{self.position} ({site!r}): "
                    "the replayed run differs from the recorded one"
                )
            return 0
        value = self.values[self.position]
        if value >= n:
            raise ReplayError(
                f"recorded choice #{self.position} is {value} but {site!r} offers {offers}: "
                "the replayed run differs from the recorded one"
            )
        self.position += 1
        return value

    def check_consumed(self) -> None:
        """Refuse leftovers: a replay that is over must have used every recorded choice."""
        left = len(self.values) - self.position
        if left > 0:
            used = "choice was" if left == 1 else "choices were"
            raise ReplayError(
                f"{left} recorded {used} not used (the run ended after {self.position} of "
                f"{len(self.values)}): the token belongs to another run (another scenario, "
                "writer, option or vsssim version)"
            )


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

    def check_consumed(self) -> None:
        """Refuse leftovers of the source this records (a replayed token's)."""
        self.inner.check_consumed()

    def token(self) -> str:
        """The recorded sequence as a replay token of choices alone."""
        return encode_token(self.recorded)
