"""The parameters of the protocol's methods: what each is, how a JSON value becomes the model's
value, and its JSON Schema for the OpenRPC document (one declaration serves both).

Names are Microsoft's parameter names without their type prefix, in snake_case
(``bSelectComponents`` is ``select_components``). GUIDs travel as strings, enumerations as their
``VSS_*`` names (their numbers are accepted too), flag sets as a name, a list of names or a number.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Mapping
from typing import Any

import attrs

from vsssim.errors import HResult
from vsssim.vss.constants import ObjectType as ObjectType  # VSS_OBJECT_TYPE, re-exported


class ParamError(Exception):
    """A parameter the method cannot take (JSON-RPC -32602, ``E_INVALIDARG``)."""

    def __init__(self, message: str, hresult: HResult = HResult.E_INVALIDARG) -> None:
        super().__init__(message)
        self.message = message
        self.hresult = hresult

    def __reduce__(self) -> tuple[type[ParamError], tuple[str, HResult]]:
        return (type(self), (self.message, self.hresult))


class _Required:
    """The default of a parameter that has none: the caller must give it."""

    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()

#: The kinds of parameter, and each kind's JSON Schema.
KINDS: Mapping[str, Mapping[str, Any]] = {
    "object": {"type": "string", "description": "an object handle"},
    "guid": {"type": "string", "format": "uuid"},
    "bool": {"type": "boolean"},
    "string": {"type": "string"},
    "int": {"type": "integer", "minimum": 0},
    "enum": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
    "flags": {
        "oneOf": [
            {"type": "string"},
            {"type": "integer"},
            {"type": "array", "items": {"type": "string"}},
        ]
    },
}


@attrs.frozen
class Param:
    """One parameter: its name, kind, meaning and default (:data:`REQUIRED` if none).

    ``interface`` names the object a handle must be (kind ``object``); ``enums`` the
    enumerations whose ``VSS_*`` names a value may use (kinds ``enum`` and ``flags``);
    ``nullable`` lets a GUID or string be ``null``.
    """

    name: str
    kind: str
    doc: str
    default: Any = REQUIRED
    interface: str = ""
    enums: tuple[type[enum.Enum], ...] = ()
    nullable: bool = False
    maximum: int | None = None

    @property
    def required(self) -> bool:
        """True if the caller must give it."""
        return self.default is REQUIRED

    def schema(self) -> dict[str, Any]:
        """The parameter's JSON Schema."""
        schema: dict[str, Any] = dict(KINDS[self.kind])
        if self.enums:
            named: dict[str, Any] = {"type": "string", "enum": sorted(_names(self.enums))}
            if self.kind == "flags":
                named = {"oneOf": [named, {"type": "array", "items": named}]}
            schema = {"oneOf": [named, {"type": "integer", "minimum": 0}]}
        if self.maximum is not None:
            schema["maximum"] = self.maximum
        if self.nullable:
            schema = {"oneOf": [schema, {"type": "null"}]}
        return schema

    def decode(self, value: object) -> Any:
        """The model's value of the JSON ``value``; :class:`ParamError` if it does not fit."""
        if value is None and (self.nullable or self.default is None):
            return None
        decoder = _DECODERS[self.kind]
        return decoder(self, value)


def _names(kinds: tuple[type[enum.Enum], ...]) -> dict[str, enum.Enum]:
    found: dict[str, enum.Enum] = {}
    for kind in kinds:
        for member in kind:
            found[str(getattr(member, "vss_name", member.name))] = member
    return found


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _object(param: Param, value: object) -> str:
    if not isinstance(value, str):
        raise ParamError(f"{param.name}: expected an object handle, got {_shown(value)}")
    return value


def _guid(param: Param, value: object) -> uuid.UUID:
    if isinstance(value, str) and len(value) <= 40:
        try:
            return uuid.UUID(value.strip("{}"))
        except ValueError:
            pass
    raise ParamError(f"{param.name}: expected a GUID string, got {_shown(value)}")


def _bool(param: Param, value: object) -> bool:
    if not isinstance(value, bool):
        raise ParamError(f"{param.name}: expected true or false, got {_shown(value)}")
    return value


def _string(param: Param, value: object) -> str:
    if not isinstance(value, str):
        raise ParamError(f"{param.name}: expected a string, got {_shown(value)}")
    if "\x00" in value:
        raise ParamError(f"{param.name}: a string holds no NUL character")
    return value


def _int(param: Param, value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ParamError(f"{param.name}: expected a whole number >= 0, got {_shown(value)}")
    if param.maximum is not None and value > param.maximum:
        raise ParamError(f"{param.name}: at most {param.maximum}, got {value}")
    return value


def _enum(param: Param, value: object) -> Any:
    (kind,) = param.enums
    names = _names(param.enums)
    if isinstance(value, str) and value in names:
        return names[value]
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            return kind(value)
        except ValueError:
            pass
    raise ParamError(f"{param.name}: not a {kind.__name__} value: {_shown(value)}")


def _flags(param: Param, value: object) -> int:
    names = _names(param.enums)
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 1 << 32:
        return value
    parts = [value] if isinstance(value, str) else value
    if isinstance(parts, list) and parts and all(isinstance(p, str) for p in parts):
        total = 0
        for part in parts:
            if part not in names:
                raise ParamError(f"{param.name}: no such name {_shown(part)}")
            total |= int(names[part].value)
        return total
    raise ParamError(f"{param.name}: expected a VSS_* name, a list of them or a number")


_DECODERS = {
    "object": _object,
    "guid": _guid,
    "bool": _bool,
    "string": _string,
    "int": _int,
    "enum": _enum,
    "flags": _flags,
}


def decode_params(params: tuple[Param, ...], given: object) -> dict[str, Any]:
    """The named arguments of a call: every parameter decoded, defaults filled in.

    ``given`` must be a JSON object (or absent: ``None``); an unknown name is an error, so a
    misspelt optional parameter is not silently ignored.
    """
    if given is None:
        given = {}
    if not isinstance(given, dict):
        raise ParamError("params: expected an object of named parameters")
    known = {p.name for p in params}
    unknown = sorted(k for k in given if k not in known)
    if unknown:
        raise ParamError(f"unknown parameter {unknown[0]!r} (takes: {', '.join(sorted(known))})")
    decoded: dict[str, Any] = {}
    for param in params:
        if param.name in given:
            decoded[param.name] = param.decode(given[param.name])
        elif param.required:
            raise ParamError(f"missing parameter {param.name!r}")
        else:
            decoded[param.name] = param.default
    return decoded
