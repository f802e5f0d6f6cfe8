"""Replay tokens: what a run was (a small header) and, unless its seed decides it, its choices.

A token is ``v2.`` and base64url of a deflated payload: the header's length (LEB128), the
header (a JSON object: the token's ``kind``, the vsssim version that made it, and what the kind
needs to run again: a seed, a scenario file's path and digest, a fuzz campaign's seed and run
index...), then the choices as LEB128 numbers. A run that is a function of its seed (``vsssim
demo --seed 3``, a fuzzed run) needs no choices: its token is the header alone, a few dozen
characters. A token a :class:`~vsssim.World` built in Python prints has the kind ``choices``:
its choices only.

Reading a token costs bounded time and memory whatever it holds (the limits below); anything
wrong is one :class:`~vsssim.errors.ReplayError` saying what, and a token of another format
names the vsssim that made it.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import zlib
from collections.abc import Callable, Mapping, Sequence
from typing import TypeAlias

import attrs

from vsssim._version import __version__
from vsssim.errors import ReplayError

#: The format a token is written in, named by its prefix.
TOKEN_FORMAT = 2
_TOKEN_PREFIX = f"v{TOKEN_FORMAT}."
#: The formats earlier versions wrote, and the last vsssim that wrote each.
OLD_FORMATS: Mapping[int, str] = {1: "0.1.0"}

# Limits a token must keep to, so that a bad token costs bounded time and memory. The largest
# fuzzed run of a 100-run sample makes about 5,000 choices (a 10,000-character token): the
# limits leave a factor of 200 above that.
#: Characters of a token, checked before anything is decoded.
MAX_TOKEN_CHARS = 3_000_000
#: Choices one token may carry.
MAX_CHOICES = 1_000_000
#: Bytes a token may inflate to (header and choices), enforced while it inflates.
MAX_DECODED_BYTES = 4_000_000
#: Bytes of a token's header (a state machine's rounds are the longest: a few KiB).
MAX_HEADER_BYTES = 256 * 1024
#: LEB128 bytes of one number: 10 bytes carry 64 bits, more than any choice needs.
MAX_NUMBER_BYTES = 10
#: The largest value of one choice (a choice among at most 2**64 ways).
MAX_CHOICE_VALUE = 2**64 - 1

#: The kind of a token of choices alone (a world built in Python).
CHOICES = "choices"

#: A value of a token's header.
Json: TypeAlias = "str | int | bool | list[Json] | dict[str, Json] | None"

_INFLATE_CHUNK = 1 << 16
_NUMBER_ENDS = bytes(range(0x80))  # a LEB128 byte below 0x80 is the last of its number
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")
_NOT_BASE64URL = re.compile(r"[^A-Za-z0-9_-]")
_VERSION_PREFIX = re.compile(r"v([0-9]{1,9})\.")
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_KIND = re.compile(r"[a-z][a-z_]{0,30}")


@attrs.frozen(hash=False)
class ReplayToken:
    """A decoded token: its ``kind``, the header ``fields`` the kind reads, and its choices
    (None: the run is a function of the seed its fields name)."""

    kind: str
    fields: Mapping[str, Json] = attrs.field(factory=dict)
    choices: tuple[int, ...] | None = None
    #: The vsssim version that made the token.
    made_by: str = __version__

    def encode(self) -> str:
        """The printable token (``v2.`` + base64url of deflated header and choices)."""
        header = {**self.fields, "kind": self.kind, "vsssim": self.made_by}
        header["choices"] = self.choices is not None
        text = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
        if len(text) > MAX_HEADER_BYTES:
            raise ReplayError(
                f"the token's header has {len(text)} bytes, more than a token carries"
            )
        raw = bytearray(_leb128([len(text)]))
        raw += text
        raw += _leb128(self.choices or ())
        packed = base64.urlsafe_b64encode(zlib.compress(bytes(raw), 9)).decode("ascii")
        return _TOKEN_PREFIX + packed.rstrip("=")

    def value(self, key: str) -> Json:
        """The header's ``key``; a token without it is damaged."""
        if key not in self.fields:
            raise _damaged(f"its header has no {key!r} (a {self.kind} token needs one)")
        return self.fields[key]

    def text(self, key: str) -> str:
        """The header's ``key``, a string."""
        value = self.value(key)
        if not isinstance(value, str):
            raise _damaged(f"its header's {key!r} is {value!r}, not a string")
        return value

    def optional_text(self, key: str) -> str | None:
        """The header's ``key``, a string or null (or missing)."""
        return None if self.fields.get(key) is None else self.text(key)

    def number(self, key: str) -> int:
        """The header's ``key``, a whole number from 0 to 2**64 - 1."""
        value = self.value(key)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**64:
            raise _damaged(f"its header's {key!r} is {value!r}, not a whole number")
        return value

    def flag(self, key: str) -> bool:
        """The header's ``key``, true or false."""
        value = self.value(key)
        if not isinstance(value, bool):
            raise _damaged(f"its header's {key!r} is {value!r}, not true or false")
        return value


def _leb128(values: Sequence[int]) -> bytes:
    """``values`` as LEB128 numbers (refusing what no token carries)."""
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
    return bytes(raw)


def encode_token(values: Sequence[int]) -> str:
    """A token of a choice sequence alone (kind ``choices``), as a world built in Python has.

    A token carries at most :data:`MAX_CHOICES` choices of at most :data:`MAX_CHOICE_VALUE`;
    a run beyond that has no token (:class:`ReplayError`), rather than one no replay accepts.
    """
    return ReplayToken(CHOICES, {}, tuple(values)).encode()


def decode_token(token: object) -> tuple[int, ...]:
    """The choice sequence of any token that carries one (see :func:`read_token`)."""
    read = read_token(token)
    if read.choices is None:
        raise ReplayError(
            f"this {read.kind} token carries no choices (its run is a function of its seed): "
            "replay it with vsssim replay TOKEN"
        )
    return read.choices


def read_token(token: object) -> ReplayToken:
    """The header and choices of a token made by :meth:`ReplayToken.encode`.

    Anything else is refused with one :class:`ReplayError` saying what is wrong, in time and
    memory bounded by the limits above: a token of more than :data:`MAX_TOKEN_CHARS`
    characters is refused unread, inflating stops at :data:`MAX_DECODED_BYTES`, the header at
    :data:`MAX_HEADER_BYTES`, a number at :data:`MAX_NUMBER_BYTES` bytes, and the sequence at
    :data:`MAX_CHOICES` choices. Blanks around the token (as copying leaves them) are ignored;
    nothing else is forgiven.
    """
    packed = _unpack_text(token)
    _inflate(packed, _Payload(_count_choices()).feed)  # first count: a bomb allocates nothing
    numbers = _Numbers()
    payload = _Payload(numbers.feed)
    _inflate(packed, payload.feed)
    choices = numbers.finish()
    header = payload.header()
    kind = header.pop("kind", None)
    made_by = header.pop("vsssim", None)
    carries = header.pop("choices", None)
    if not isinstance(kind, str) or not _KIND.fullmatch(kind):
        raise _damaged(f"its header's kind is {kind!r}, not a kind of run")
    if not isinstance(made_by, str) or len(made_by) > 40:
        raise _damaged(f"its header's vsssim version is {made_by!r}, not a version")
    if not isinstance(carries, bool):
        raise _damaged(f"its header's 'choices' is {carries!r}, not true or false")
    if not carries and choices:
        raise _damaged(f"its header says it has no choices, and {len(choices)} follow")
    return ReplayToken(kind, header, choices if carries else None, made_by)


def _damaged(what: str) -> ReplayError:
    return ReplayError(f"the replay token is damaged: {what}")


def _old_format(version: int) -> ReplayError:
    made = OLD_FORMATS.get(version)
    if made is not None:
        return ReplayError(
            f"the replay token is in token format v{version}, which vsssim {made} and earlier "
            f"wrote; this vsssim ({__version__}) reads format v{TOKEN_FORMAT} only: run the "
            f"command that printed it again for a v{TOKEN_FORMAT} token, or replay it with the "
            "vsssim that made it"
        )
    return ReplayError(
        f"the replay token is in token format v{version}, made by a newer vsssim; this vsssim "
        f"({__version__}) reads format v{TOKEN_FORMAT} (replay it with the vsssim that made it)"
    )


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
            raise _old_format(int(version.group(1)))
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
            raise _damaged(f"its compressed contents are corrupt ({exc})") from None
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
            raise _damaged("its compressed contents stop before their end (truncated)")
        data = left
    if inflater.unused_data:
        raise _damaged(f"{len(inflater.unused_data)} bytes follow its compressed contents")


class _Payload:
    """Splits an inflated payload: the header's length and the header are kept (bounded), the
    rest goes to ``choices`` as it comes."""

    def __init__(self, choices: Callable[[bytes], None]) -> None:
        self._choices = choices
        self._length: int | None = None
        self._length_bytes = bytearray()
        self._header = bytearray()

    def feed(self, chunk: bytes) -> None:
        while self._length is None and chunk:
            byte, chunk = chunk[0], chunk[1:]
            self._length_bytes.append(byte)
            if len(self._length_bytes) > 3:
                raise _damaged(f"its header is longer than {MAX_HEADER_BYTES} bytes")
            if byte < 0x80:
                if not byte and len(self._length_bytes) > 1:
                    raise _damaged("its header's length is written with a needless zero byte")
                self._length = sum((b & 0x7F) << 7 * i for i, b in enumerate(self._length_bytes))
                if self._length > MAX_HEADER_BYTES:
                    raise _damaged(f"its header is longer than {MAX_HEADER_BYTES} bytes")
        if self._length is not None and len(self._header) < self._length:
            take = self._length - len(self._header)
            self._header += chunk[:take]
            chunk = chunk[take:]
        if chunk:
            self._choices(chunk)

    def header(self) -> dict[str, Json]:
        """The header, a JSON object (after the whole payload was fed)."""
        if self._length is None or len(self._header) < self._length:
            raise _damaged("it ends inside its header")
        try:
            header = json.loads(self._header.decode("utf-8"))
        except (ValueError, RecursionError) as exc:
            raise _damaged(f"its header is not JSON ({str(exc)[:80]})") from None
        if not isinstance(header, dict):
            raise _damaged(f"its header is a JSON {type(header).__name__}, not an object")
        return header


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
