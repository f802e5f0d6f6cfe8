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
import binascii
import hashlib
import random
import re
import zlib
from collections.abc import Callable, Iterable, Sequence

from vsssim.errors import ReplayError

#: The format a token is written in, named by its prefix ("v1." + base64url of deflated LEB128).
TOKEN_FORMAT = 1
_TOKEN_PREFIX = f"v{TOKEN_FORMAT}."

# Limits a token must keep to, so that a bad token costs bounded time and memory. The largest
# fuzzed run of a 100-run sample makes about 5,000 choices (a 10,000-character token): the
# limits leave a factor of 200 above that.
#: Characters of a token, checked before anything is decoded.
MAX_TOKEN_CHARS = 3_000_000
#: Choices one token may carry.
MAX_CHOICES = 1_000_000
#: Bytes of LEB128 numbers a token may inflate to, enforced while it inflates.
MAX_DECODED_BYTES = 4_000_000
#: LEB128 bytes of one number: 10 bytes carry 64 bits, more than any choice needs.
MAX_NUMBER_BYTES = 10
#: The largest value of one choice (a choice among at most 2**64 ways).
MAX_CHOICE_VALUE = 2**64 - 1

_INFLATE_CHUNK = 1 << 16
_NUMBER_ENDS = bytes(range(0x80))  # a LEB128 byte below 0x80 is the last of its number
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")
_NOT_BASE64URL = re.compile(r"[^A-Za-z0-9_-]")
_VERSION_PREFIX = re.compile(r"v([0-9]{1,9})\.")
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


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
    """Pseudo-random choices from ``seed``, with an independent stream per site name."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._streams: dict[str, random.Random] = {}
        #: Each site's stream's getrandbits.
        self._draws: dict[str, Callable[[int], int]] = {}

    def _stream(self, site: str) -> random.Random:
        stream = self._streams.get(site)
        if stream is None:
            digest = hashlib.sha256(f"{self.seed}/{site}".encode()).digest()
            stream = random.Random(int.from_bytes(digest[:16], "big"))
            self._streams[site] = stream
        return stream

    def _bits(self, site: str) -> Callable[[int], int]:
        """The site's stream's ``getrandbits``, kept for the next draws."""
        bits: Callable[[int], int] = self._stream(site).getrandbits
        self._draws[site] = bits
        return bits

    def choose(self, site: str, n: int) -> int:
        if n <= 1:
            return 0
        bits = self._draws.get(site)
        if bits is None:
            bits = self._bits(site)
        # What random.Random.randrange(n) draws (its _randbelow: k bits until below n),
        # without the two calls.
        k = n.bit_length()
        value = bits(k)
        while value >= n:
            value = bits(k)
        return value


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
        inner = self.inner
        if type(inner) is SeededChoices and n > 1:  # the usual pair: SeededChoices.choose inline
            bits = inner._draws.get(site)
            if bits is None:
                bits = inner._bits(site)
            k = n.bit_length()
            value = bits(k)
            while value >= n:
                value = bits(k)
            self.recorded.append(value)
            return value
        value = inner.choose(site, n)
        if n > 1:
            self.recorded.append(value)
        return value

    def check_consumed(self) -> None:
        """Refuse leftovers of the source this records (a replayed token's)."""
        self.inner.check_consumed()

    def token(self) -> str:
        """The recorded sequence as a replay token."""
        return encode_token(self.recorded)


def encode_token(values: Sequence[int]) -> str:
    """A compact printable token for a choice sequence (LEB128, deflate, base64url).

    A token carries at most :data:`MAX_CHOICES` choices of at most :data:`MAX_CHOICE_VALUE`;
    a run beyond that has no token (:class:`ReplayError`), rather than one no replay accepts.
    """
    if len(values) > MAX_CHOICES:
        raise ReplayError(
            f"the run made {len(values)} choices, more than a replay token carries ({MAX_CHOICES})"
        )
    raw = bytearray()
    for value in values:
        if value < 0:
            raise ValueError("choices are never negative")
        if value > MAX_CHOICE_VALUE:
            raise ValueError(f"a choice is at most 2**64 - 1, not {value}")
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


def decode_token(token: object) -> tuple[int, ...]:
    """The choice sequence of a token made by :func:`encode_token`.

    Anything else is refused with one :class:`ReplayError` saying what is wrong, in time and
    memory bounded by the limits above: a token of more than :data:`MAX_TOKEN_CHARS`
    characters is refused unread, inflating stops at :data:`MAX_DECODED_BYTES`, a number at
    :data:`MAX_NUMBER_BYTES` bytes, and the sequence at :data:`MAX_CHOICES` choices. Blanks
    around the token (as copying leaves them) are ignored; nothing else is forgiven.
    """
    packed = _unpack_text(token)
    _inflate(packed, _count_choices())  # first count, so that a bomb allocates nothing
    numbers = _Numbers()
    _inflate(packed, numbers.feed)
    return numbers.finish()


def _damaged(what: str) -> ReplayError:
    return ReplayError(f"the replay token is damaged: {what}")


def _unpack_text(token: object) -> bytes:
    """The deflated bytes a token's text carries, after checking every character."""
    if not isinstance(token, str):
        raise ReplayError(f"a replay token is text (str), not {type(token).__name__}")
    if len(token) > MAX_TOKEN_CHARS:
        raise ReplayError(
            f"the replay token has {len(token)} characters, more than the {MAX_TOKEN_CHARS} "
            "a token may have"
        )
    token = token.strip()
    if not token.startswith(_TOKEN_PREFIX):
        version = _VERSION_PREFIX.match(token)
        if version is not None:
            raise ReplayError(
                f"the replay token is in token format v{version.group(1)}; this vsssim reads "
                f"format v{TOKEN_FORMAT} (replay it with the vsssim that made it)"
            )
        raise ReplayError(f"not a vsssim replay token (it should start with {_TOKEN_PREFIX!r})")
    body = token[len(_TOKEN_PREFIX) :]
    if not body:
        raise _damaged(f"nothing follows {_TOKEN_PREFIX!r}")
    if not _BASE64URL.fullmatch(body):
        bad = _NOT_BASE64URL.search(body)
        assert bad is not None
        where = len(_TOKEN_PREFIX) + bad.start()
        if bad.group() == "=":
            raise _damaged(f"'=' padding at character {where}, which tokens never carry")
        raise _damaged(f"character {where} is {bad.group()!r}, not one of A-Z a-z 0-9 - _")
    spare = len(body) % 4
    if spare == 1:
        raise _damaged(f"{len(body)} characters after {_TOKEN_PREFIX!r} cannot be base64")
    # the bits of the last character past the last whole byte are always zero in a real token
    if spare and _ALPHABET.index(body[-1]) & (0x0F if spare == 2 else 0x03):
        raise _damaged(f"its last character {body[-1]!r} is not one vsssim writes there")
    try:
        return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (ValueError, binascii.Error) as exc:  # pragma: no cover - the checks above
        raise _damaged(str(exc)) from None


def _inflate(packed: bytes, feed: Callable[[bytes], None]) -> None:
    """Inflate ``packed`` in bounded chunks into ``feed``, refusing past the size limit."""
    inflater = zlib.decompressobj()
    data, total = packed, 0
    while True:
        try:
            chunk = inflater.decompress(data, _INFLATE_CHUNK)
        except zlib.error as exc:
            raise _damaged(f"its compressed choices are corrupt ({exc})") from None
        total += len(chunk)
        if total > MAX_DECODED_BYTES:
            raise ReplayError(
                f"the replay token inflates to more than {MAX_DECODED_BYTES} bytes of choices, "
                "more than a token may carry"
            )
        feed(chunk)
        if inflater.eof:
            break
        left = inflater.unconsumed_tail
        if not chunk and len(left) == len(data):
            raise _damaged("its compressed choices stop before their end (truncated)")
        data = left
    if inflater.unused_data:
        raise _damaged(f"{len(inflater.unused_data)} bytes follow its compressed choices")


def _too_many() -> ReplayError:
    return ReplayError(
        f"the replay token carries more than {MAX_CHOICES} choices, more than a token may carry"
    )


def _count_choices() -> Callable[[bytes], None]:
    """A feed that counts the numbers (bytes without the continuation bit), refusing too many."""
    count = 0

    def feed(chunk: bytes) -> None:
        nonlocal count
        count += len(chunk) - len(chunk.translate(None, _NUMBER_ENDS))
        if count > MAX_CHOICES:
            raise _too_many()

    return feed


class _Numbers:
    """Reads LEB128 numbers chunk by chunk, refusing long numbers and too many choices."""

    def __init__(self) -> None:
        self.values: list[int] = []
        self._value = self._shift = self._length = 0

    def feed(self, chunk: bytes) -> None:
        values = self.values
        if not self._length and chunk.isascii():  # every byte is a number by itself
            values.extend(chunk)
        else:
            value, shift, length = self._value, self._shift, self._length
            for byte in chunk:
                length += 1
                if length > MAX_NUMBER_BYTES:
                    raise _damaged(
                        f"choice #{len(values)} is longer than {MAX_NUMBER_BYTES} bytes "
                        "(no choice needs more than 64 bits)"
                    )
                value |= (byte & 0x7F) << shift
                if byte & 0x80:
                    shift += 7
                    continue
                if not byte and length > 1:
                    raise _damaged(f"choice #{len(values)} is written with a needless zero byte")
                if value > MAX_CHOICE_VALUE:
                    raise _damaged(f"choice #{len(values)} is {value}, beyond any choice (2**64)")
                values.append(value)
                value = shift = length = 0
            self._value, self._shift, self._length = value, shift, length
        if len(values) > MAX_CHOICES:
            raise _too_many()

    def finish(self) -> tuple[int, ...]:
        if self._length:
            raise _damaged("it ends in the middle of a number")
        return tuple(self.values)
