"""A value tree of attrs classes checked against their fields' type hints, at run time.

For data read from outside (a failure file's scenario): the values were built by hand from
JSON, so a list where a string belongs, or a string where a number does, must be refused
where it stands, with its path, before anything uses it.
"""

from __future__ import annotations

import enum
import types
import typing
from collections.abc import Mapping
from typing import Any

import attrs

from vsssim.errors import ConfigurationError


def check_types(value: object, path: str = "") -> None:
    """Raise :class:`ConfigurationError` naming the first field of ``value`` (an attrs
    instance, checked all the way down) whose value does not fit its type hint."""
    _check_attrs(value, path)


def _check_attrs(value: object, path: str) -> None:
    cls = type(value)
    try:
        hints = typing.get_type_hints(cls)
    except Exception:  # a hint that only names a type under TYPE_CHECKING: not checked
        return
    for field in attrs.fields(cls):  # type: ignore[arg-type]  # an attrs instance's class
        hint = hints.get(field.name)
        if hint is not None:
            _check(getattr(value, field.name), hint, f"{path}.{field.name}".lstrip("."))


def _check(value: object, hint: Any, path: str) -> None:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if hint is Any or hint is object:
        return
    if origin in (types.UnionType, typing.Union):
        for option in args:
            try:
                _check(value, option, path)
                return
            except ConfigurationError:
                continue
        _refuse(value, " or ".join(_name(a) for a in args), path)
    if origin is None:
        _check_plain(value, hint, path)
        return
    if origin is typing.Literal:
        if value not in args:
            _refuse(value, f"one of {args}", path)
        return
    if origin is tuple:
        _check_tuple(value, args, path)
    elif origin in (list, frozenset, set):
        if not isinstance(value, origin):
            _refuse(value, origin.__name__, path)
        assert isinstance(value, list | frozenset | set)
        for n, item in enumerate(value):
            _check(item, args[0], f"{path}[{n}]")
    elif isinstance(origin, type) and issubclass(origin, Mapping):
        if not isinstance(value, Mapping):
            _refuse(value, "a mapping", path)
        for key, item in value.items():
            _check(key, args[0], f"{path}[{key!r}]")
            _check(item, args[1], f"{path}[{key!r}]")
    # Other generics (callables, type variables): not data, not checked.


def _check_tuple(value: object, args: tuple[Any, ...], path: str) -> None:
    if not isinstance(value, tuple):
        _refuse(value, "a tuple", path)
    assert isinstance(value, tuple)
    if len(args) == 2 and args[1] is Ellipsis:
        for n, item in enumerate(value):
            _check(item, args[0], f"{path}[{n}]")
        return
    if len(value) != len(args):
        _refuse(value, f"{len(args)} items", path)
    for n, (item, hint) in enumerate(zip(value, args, strict=True)):
        _check(item, hint, f"{path}[{n}]")


def _check_plain(value: object, hint: Any, path: str) -> None:
    if hint is None or hint is type(None):
        if value is not None:
            _refuse(value, "nothing (None)", path)
        return
    if not isinstance(hint, type):
        return  # a string or special form it cannot resolve: not checked
    if hint is int and isinstance(value, bool):
        _refuse(value, "a whole number", path)
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return
    if not isinstance(value, hint):
        _refuse(value, _name(hint), path)
    if attrs.has(hint):
        _check_attrs(value, path)


def _name(hint: Any) -> str:
    if hint is type(None):
        return "None"
    if isinstance(hint, type):
        if issubclass(hint, enum.Enum):
            return f"a {hint.__name__}"
        return {int: "a whole number", str: "a string", bool: "true or false"}.get(
            hint, hint.__name__
        )
    return str(hint)


def _refuse(value: object, expected: str, path: str) -> typing.NoReturn:
    shown = repr(value)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    raise ConfigurationError(f"{path or 'the value'}: expected {expected}, got {shown}")
