"""Argument checks of the public API: refuse a bad argument before anything changes.

Real VSS answers a NULL or out-of-range parameter with ``E_INVALIDARG`` before it looks at the
session's state, so every check here runs first in its call and raises
``VssError(E_INVALIDARG, "<parameter>: what is wrong")``. Option objects (model configuration,
read from scenario files too) pass ``config=True`` and get a :class:`ConfigurationError`
naming the field instead.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Mapping, Sequence
from typing import TypeVar

from vsssim.errors import ConfigurationError, HResult, VssError, VssimError
from vsssim.vss.constants import Context, SnapshotAttr

#: The longest path Windows accepts (``\\?\`` paths, in UTF-16 units).
MAX_PATH_CHARS = 32767
#: The longest logical path, component name, stamp or requester name taken (not documented
#: by VSS; a bound that no real one comes near, so a huge string is refused, not kept).
MAX_NAME_CHARS = 32767

E = TypeVar("E", bound=enum.Enum)


def invalid(param: str, what: str, *, config: bool = False) -> VssimError:
    """The error of a bad argument: ``E_INVALIDARG`` (or a configuration error)."""
    if config:
        return ConfigurationError(f"{param}: {what}")
    return VssError(HResult.E_INVALIDARG, f"{param}: {what}")


def _shown(value: object) -> str:
    """A short picture of a refused value (a huge string is not echoed whole)."""
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:40]}... ({type(value).__name__})"


def check_enum(param: str, value: object, kind: type[E], *, config: bool = False) -> E:
    """``value`` as a member of ``kind``: a member, or the int value of one (not a bool)."""
    if isinstance(value, kind):
        return value
    if isinstance(value, int) and not isinstance(value, (bool, enum.Enum)):
        try:
            return kind(value)
        except ValueError:
            pass
        raise invalid(param, f"{value} is not a {_enum_name(kind)} value", config=config)
    raise invalid(param, f"expected a {_enum_name(kind)} value, got {_shown(value)}", config=config)


def _enum_name(kind: type[enum.Enum]) -> str:
    first = next(iter(kind))
    vss_name = getattr(first, "vss_name", "")
    return f"{vss_name[: -len(first.name)]}*" if vss_name else kind.__name__


def check_bool(param: str, value: object, *, config: bool = False) -> bool:
    """``value`` if it is a bool (VSS's ``bool`` parameters)."""
    if not isinstance(value, bool):
        raise invalid(param, f"expected True or False, got {_shown(value)}", config=config)
    return value


def check_str(
    param: str,
    value: object,
    *,
    max_chars: int = MAX_NAME_CHARS,
    empty: bool = True,
    config: bool = False,
) -> str:
    """``value`` if it is a string of at most ``max_chars`` characters, without NUL (a
    ``BSTR``/``LPCWSTR`` ends at the first NUL), and not empty unless ``empty``."""
    if not isinstance(value, str):
        raise invalid(param, f"expected a string, got {_shown(value)}", config=config)
    if len(value) > max_chars:
        raise invalid(param, f"{len(value)} characters is longer than {max_chars}", config=config)
    if "\0" in value:
        raise invalid(param, "a string cannot hold a NUL character", config=config)
    if not empty and not value:
        raise invalid(param, "cannot be empty", config=config)
    return value


def check_path(param: str, value: object) -> str:
    """A path: a non-empty string of at most :data:`MAX_PATH_CHARS` characters."""
    return check_str(param, value, max_chars=MAX_PATH_CHARS, empty=False)


def check_uuid(
    param: str, value: object, *, optional: bool = False, config: bool = False
) -> uuid.UUID | None:
    """``value`` if it is a :class:`uuid.UUID` (a GUID), or None when ``optional``."""
    if value is None and optional:
        return None
    if not isinstance(value, uuid.UUID):
        raise invalid(param, f"expected a GUID (uuid.UUID), got {_shown(value)}", config=config)
    return value


def check_id(param: str, value: object) -> uuid.UUID:
    """A required GUID."""
    checked = check_uuid(param, value)
    assert checked is not None
    return checked


def check_int(
    param: str,
    value: object,
    *,
    low: int | None = None,
    high: int | None = None,
    config: bool = False,
) -> int:
    """``value`` if it is an int (not a bool) within ``low``..``high``."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise invalid(param, f"expected an integer, got {_shown(value)}", config=config)
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = f"{'' if low is None else low}..{'' if high is None else high}"
        raise invalid(param, f"{_shown(value)} is outside {bounds}", config=config)
    return value


def check_instance(
    param: str, value: object, kind: type | tuple[type, ...], what: str, *, config: bool = False
) -> None:
    """Refuse ``value`` unless it is a ``kind`` (``what`` names it in the message)."""
    if not isinstance(value, kind):
        raise invalid(param, f"expected {what}, got {_shown(value)}", config=config)


def check_items(
    param: str,
    value: object,
    kind: type | tuple[type, ...],
    what: str,
    *,
    config: bool = False,
) -> tuple[object, ...]:
    """``value`` as a tuple if it is a sequence or set (not a string) of ``kind``."""
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(
        value, (Sequence, frozenset, set)
    ):
        raise invalid(param, f"expected a collection of {what}, got {_shown(value)}", config=config)
    items = tuple(value)
    for item in items:
        if not isinstance(item, kind):
            raise invalid(param, f"expected {what}, found {_shown(item)}", config=config)
    return items


#: The attribute bits that make a context what it is: a SetContext value's bits among these
#: must be exactly one ``VSS_CTX_*`` value (``VSS_VOLSNAP_ATTR_PERSISTENT`` "should not be used
#: explicitly by requesters", Microsoft's VSS_VOLUME_SNAPSHOT_ATTRIBUTES page).
_CONTEXT_BITS = (
    SnapshotAttr.PERSISTENT
    | SnapshotAttr.CLIENT_ACCESSIBLE
    | SnapshotAttr.NO_AUTO_RELEASE
    | SnapshotAttr.NO_WRITERS
)
#: The attributes a requester may OR into a context: what kind of copy to make. *Assumption*:
#: the others (NOT_SURFACED, IMPORTED, EXPOSED_*, AUTORECOVER, DELAYED_POSTSNAPSHOT,
#: FILE_SHARE) describe a copy's state, which VSS and the providers set, not the requester.
REQUESTER_ATTRIBUTES = (
    SnapshotAttr.NO_AUTORECOVERY
    | SnapshotAttr.TRANSPORTABLE
    | SnapshotAttr.NOT_TRANSACTED
    | SnapshotAttr.HARDWARE_ASSISTED
    | SnapshotAttr.DIFFERENTIAL
    | SnapshotAttr.PLEX
    | SnapshotAttr.ROLLBACK_RECOVERY
    | SnapshotAttr.TXF_RECOVERY
)


def split_context(param: str, value: object) -> tuple[Context, SnapshotAttr]:
    """A ``SetContext`` value: a ``VSS_CTX_*`` context, or one OR'd with the
    ``VSS_VOLSNAP_ATTR_*`` bits a requester may add (:data:`REQUESTER_ATTRIBUTES`), split into
    the context and the added attributes.

    Every context is itself made of attribute bits (:data:`_CONTEXT_BITS`); those of the value
    must be exactly a context's. ``VSS_CTX_ALL`` stays whole: it is a context for queries,
    which the caller refuses as unsupported. Anything else is ``E_INVALIDARG``.
    """
    if isinstance(value, Context) and value is Context.ALL:
        return value, SnapshotAttr(0)
    if isinstance(value, enum.Enum) and not isinstance(value, Context):
        raise invalid(param, f"expected a VSS_CTX_* value, got {_shown(value)}")
    number = check_int(param, value)
    if number == Context.ALL.value:
        return Context.ALL, SnapshotAttr(0)
    bases = [c for c in Context if c is not Context.ALL and c.value == number & _CONTEXT_BITS]
    # int(): ``~`` of an IntFlag keeps only the flag's own bits, and would let unknown ones by.
    if number < 0 or not bases or number & ~int(_CONTEXT_BITS | REQUESTER_ATTRIBUTES):
        raise invalid(
            param,
            f"{_shown(value)} is not a VSS_CTX_* value, alone or OR'd with VSS_VOLSNAP_ATTR_* "
            "bits a requester may add (NO_AUTORECOVERY, TRANSPORTABLE, NOT_TRANSACTED, "
            "HARDWARE_ASSISTED, DIFFERENTIAL, PLEX, ROLLBACK_RECOVERY, TXF_RECOVERY)",
        )
    return bases[0], SnapshotAttr(number & ~int(_CONTEXT_BITS))
