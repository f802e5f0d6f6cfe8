"""What each step of a run touches: the objects whose attributes it reads or writes.

The explorer's partial-order reduction (:mod:`vsssim.testing.reduction`) needs to know when two
steps *commute*: run in either order from one state, they give the same state. Two steps that
touch no model object in common commute, so a step's *footprint* is the set of model objects
it read and wrote, and two steps are dependent when one writes what the other touches.

While a :class:`Footprints` is active, every class of the model (the kernel's events and
processes, the tickers and their queue, the coordinator, writers, volumes, providers, the
fault plan, requesters, the world, and any
subclass a user defines of them) reads and writes its attributes through a hook that notes
the object. What is *not* part of a footprint, and why:

- the kernel (:class:`~vsssim.sim.kernel.Simulation`): every step schedules into it; the order
  of its queue is what the schedule choices decide, which the explorer enumerates itself;
- the trace's records: steps that commute append theirs in either order (the two runs are the
  same run up to that order, which invariants must not depend on; the explorer's tests check
  it). Nor is its length: the model reads it only to number a record it refers to later (a
  commit's, an application hold's), and that number points at the same record in either
  order. A writer that decides something by the trace's length is not seen (watching the
  length would make every step that records conflict with every such reader);
- the choice source: the explorer's own;
- frozen values (``attrs.frozen``): nothing can rebind their fields, so reading them
  conflicts with nothing (a list inside one, changed in place, is not seen; the model's
  frozen values hold none that it changes).

A footprint is made of (object, attribute) pairs, read or written. An attribute that holds a
list, dict or set is written when the step changed it in place: its contents (nested
containers opened, other objects by identity) read differently at the step's end than when the
step first read it; a container of more than :data:`CONTENTS_BUDGET` items counts as written.
The relation errs on the side of dependence: more orders explored, never fewer than needed. What
the hooks cannot see is a container a process took out of a model object in an earlier step
and changes later through a local variable, without touching the object's attribute again; the
explorer's tests compare the reduced exploration with runs in random orders to catch that.
A user's writer is watched through the model class it subclasses; state it keeps elsewhere
(objects of its own classes, module globals shared by two writers) is not, so two steps that
share only such state are taken to commute (``ExploreOptions(reduction=False)`` runs them all).
"""

from __future__ import annotations

import collections
import enum
import sys
from types import TracebackType
from typing import Any

import attrs

from vsssim.sim.events import Condition, Event, _all_done
from vsssim.sim.keyed import KeyedDict

__all__ = ["Footprint", "Footprints", "model_classes"]

#: The subpackages whose classes are the model (the rest reads it from outside).
_MODEL = (
    "vsssim.vss",
    "vsssim.requesters",
    "vsssim.host",
    "vsssim.faults",
    "vsssim.sim.events",
    "vsssim.sim.tickers",
)

_get = object.__getattribute__
_set = object.__setattr__


@attrs.frozen
class _Frozen:
    """Its ``__setattr__`` is the one every frozen attrs class shares."""


_FROZEN = _Frozen.__setattr__

#: What the step running now has read and written, as (object id, attribute) pairs (None: no
#: step is watched). Module globals, read by the hooks: the model runs no threads, and one
#: footprint is collected at a time.
_reads: set[tuple[int, str]] | None = None
_writes: set[tuple[int, str]] = set()

#: Values a reader can change in place: a step that reads an attribute holding one has
#: written it when the container reads differently at the step's end (:func:`_contents`).
_MUTABLE = (list, dict, set, bytearray, collections.deque)
#: The containers the step running now has read, by (container id, ""): the container and its
#: contents when first read (None: too big to compare, counted as written). Keyed by the
#: container, not by the attribute it was read from, so one list two objects hold is one key.
_containers: dict[tuple[int, str], tuple[Any, Any]] = {}
#: Every object a footprint of this run names, by id, kept alive until the run's hooks come
#: off: an id freed and taken by a new object would make a conflict that depends on memory
#: allocation, and the exploration would not be the same every time.
_alive: dict[int, object] = {}
#: The object whose accesses commute with each other's now (see :func:`_commuting_check`).
_commuting_on: int | None = None
_commuting: set[tuple[int, str]] = set()
#: The most items :func:`_contents` compares; a bigger container read counts as written.
CONTENTS_BUDGET = 256

#: Values compared by value in a container's contents (the rest by identity).
_PLAIN = frozenset({int, str, bytes, float, bool, type(None)})


#: What a value's type is to the hooks (see :func:`_shape`), by type.
_SHAPES: dict[type, int] = {}
_OBJECT, _CONTAINER, _TUPLE, _VALUE, _KEYED = range(5)


def _shape(kind: type) -> int:
    """A value's type as the hooks see it: an object watched by its own hooks (or not at
    all), a container that can change in place, a tuple (which may hold one), a plain value,
    or a keyed dict. Cached by type: the hooks ask at every attribute read."""
    shape = _SHAPES.get(kind)
    if shape is None:
        if kind in _PLAIN:
            shape = _VALUE
        elif issubclass(kind, KeyedDict):
            shape = _KEYED
        elif issubclass(kind, _MUTABLE):
            shape = _CONTAINER
        elif issubclass(kind, tuple):
            shape = _TUPLE
        else:
            shape = _OBJECT
        _SHAPES[kind] = shape
    return shape


def _contents(value: Any, budget: list[int]) -> Any:
    """What a container holds, nested containers opened, everything else by identity (an
    object changed in place is watched by its own hooks); None past the budget."""
    kind = type(value)
    shape = _SHAPES.get(kind)
    if shape is None:
        shape = _shape(kind)
    if shape == _VALUE:
        return value
    if shape == _OBJECT:
        return (id(value), value)  # the object itself kept: no other can take its id
    budget[0] -= len(value)
    if budget[0] < 0:
        return None
    if isinstance(value, dict):
        items = [(_contents(k, budget), _contents(v, budget)) for k, v in value.items()]
    else:
        items = [_contents(item, budget) for item in value]
    if budget[0] < 0 or None in items:
        return None
    return (kind, frozenset(items) if isinstance(value, set) else tuple(items))


def _holds_mutable(value: tuple[Any, ...]) -> bool:
    """True for a tuple with a list, dict or set in it (which can change in place)."""
    for item in value:
        shape = _SHAPES.get(type(item))
        if shape is None:
            shape = _shape(type(item))
        if shape in (_CONTAINER, _KEYED):
            return True
    return False


def _getattribute_hook(original: Any) -> Any:
    def __getattribute__(self: object, name: str) -> Any:
        value = original(self, name)
        reads = _reads
        if reads is not None:
            key = (id(self), name)
            _alive[key[0]] = self
            if key[0] == _commuting_on:
                _commuting.add(key)
                return value
            reads.add(key)
            shape = _SHAPES.get(type(value))
            if shape is None or shape in (_CONTAINER, _TUPLE):
                _note_container(value)
        return value

    return __getattribute__


def _note_container(value: Any) -> None:
    """Watch a list, dict or set a step read (or a tuple holding one): the step wrote it if
    it reads differently at the step's end. A keyed dict is watched entry by entry instead."""
    shape = _shape(type(value))
    if shape == _CONTAINER or (shape == _TUPLE and _holds_mutable(value)):
        held = (id(value), "")
        if held not in _containers:
            _alive[held[0]] = value
            _containers[held] = (value, _contents(value, [CONTENTS_BUDGET]))


#: A keyed dict's set of keys, as a footprint's attribute name (an entry's is ``[key]``).
_KEYS = "[*]"


def _entry(table: dict[Any, Any], key: Any, kind: str) -> None:
    """Note a step's access to one entry of a keyed dict: ``"read"`` it, ``"set"`` it or
    ``"remove"`` it (adding or removing an entry also writes the set of keys)."""
    if _reads is None:
        return
    _alive[id(table)] = table
    name = f"[{key!r}]"
    if kind == "read":
        _reads.add((id(table), name))
        return
    _writes.add((id(table), name))
    if dict.__contains__(table, key) == (kind == "remove"):
        _writes.add((id(table), _KEYS))


def _entries(table: dict[Any, Any], write: bool) -> None:
    """Note a step's access to every entry of a keyed dict and its set of keys."""
    if _reads is None:
        return
    _alive[id(table)] = table
    noted = _writes if write else _reads
    noted.add((id(table), _KEYS))
    noted.update((id(table), f"[{key!r}]") for key in dict.__iter__(table))
    for value in dict.values(table):  # a value changed in place is read (or written) too
        _note_container(value)


def _keyed_hook(original: Any, kind: str) -> Any:
    """A keyed dict's method ``original``, noting what it touches: one entry (its first
    argument; see :func:`_entry`), or ``"all"`` (read) or ``"write-all"`` every entry."""
    if kind in ("read", "set", "remove"):

        def one(self: dict[Any, Any], key: Any, *args: Any) -> Any:
            _entry(self, key, kind)
            value = original(self, key, *args)
            if _reads is not None:
                _note_container(value)
            return value

        return one
    write = kind == "write-all"

    def every(self: dict[Any, Any], *args: Any, **kwargs: Any) -> Any:
        _entries(self, write)
        result = original(self, *args, **kwargs)
        if write:
            _entries(self, write)  # the entries it added
        return result

    return every


#: What each method of a keyed dict touches (see :func:`_keyed_hook`).
_KEYED_METHODS = {
    **dict.fromkeys(("__getitem__", "get", "__contains__"), "read"),
    **dict.fromkeys(("__setitem__", "setdefault"), "set"),
    **dict.fromkeys(("__delitem__", "pop"), "remove"),
    **dict.fromkeys(
        ("__iter__", "__len__", "__reversed__", "keys", "values", "items", "copy", "__eq__",
         "__ne__", "__or__", "__repr__"),
        "all",
    ),
    **dict.fromkeys(("update", "clear", "popitem", "__ior__"), "write-all"),
}


def _setattr_hook(original: Any) -> Any:
    def __setattr__(self: object, name: str, value: Any) -> None:
        if _reads is not None:
            _alive[id(self)] = self
            if id(self) == _commuting_on:
                _commuting.add((id(self), name))
            else:
                _writes.add((id(self), name))
        original(self, name, value)

    return __setattr__


def _commuting_check(original: Any) -> Any:
    """``Condition._check`` where an all-of condition counts an event that succeeded: what it
    does to the condition (count it; trigger when it is the last) ends the same whichever of
    its events comes first, so those accesses commute with each other (they still conflict
    with any other read or write of the condition)."""

    def _check(self: Condition, event: Event) -> None:
        global _commuting_on
        # Looked at past the hooks: the check itself reads them, in its own footprint.
        if _reads is None or _get(self, "_evaluate") is not _all_done or not _get(event, "_ok"):
            original(self, event)
            return
        _commuting_on = id(self)
        try:
            original(self, event)
        finally:
            _commuting_on = None

    return _check


def _method_hooks() -> list[tuple[type, str, Any, Any]]:
    """The methods watched besides attribute access: an all-of condition's check, and a keyed
    dict's methods (its own are dict's: the hooks are set on it, then deleted again)."""
    check = Condition.__dict__["_check"]
    keyed = [
        (KeyedDict, name, None, _keyed_hook(getattr(dict, name), kind))
        for name, kind in _KEYED_METHODS.items()
    ]
    return [(Condition, "_check", check, _commuting_check(check)), *keyed]


_HOOKS = (("__getattribute__", _getattribute_hook, _get), ("__setattr__", _setattr_hook, _set))


def _is_state(cls: type) -> bool:
    """True for a class whose instances are mutable model state."""
    if issubclass(cls, (BaseException, enum.Enum)) or getattr(cls, "_is_protocol", False):
        return False
    return cls.__setattr__ is not _FROZEN


def model_classes() -> list[type]:
    """Every loaded class of the model that holds mutable state, in a stable order."""
    found: dict[str, type] = {}
    for module_name in sorted(sys.modules):
        if not module_name.startswith(_MODEL):
            continue
        for value in vars(sys.modules[module_name]).values():
            if isinstance(value, type) and value.__module__ == module_name and _is_state(value):
                found[f"{module_name}.{value.__qualname__}"] = value
    return [found[name] for name in sorted(found)]


class Footprints:
    """Collects the footprint of each step while active (``with Footprints() as watch:``).

    Entering (or :meth:`install`) puts the hooks on :func:`model_classes`; leaving (or
    :meth:`remove`) takes them off again, so the model runs at full speed outside the runs
    watched (building a world and judging it are not)."""

    def __init__(self) -> None:
        self._saved: list[tuple[type, str, Any]] = []
        #: The classes to hook and their hooks, found at the first install (one scan of the
        #: loaded modules, not one per run).
        self._hooks: list[tuple[type, str, Any, Any]] | None = None

    def __enter__(self) -> Footprints:
        self.install()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.remove()

    def install(self) -> None:
        """Put the hooks on the model's classes (again: nothing happens while they are on)."""
        if self._saved:
            return
        if self._hooks is None:
            self._hooks = _method_hooks()
            for cls in model_classes():
                for name, make, default in _HOOKS:
                    own = cls.__dict__.get(name)
                    self._hooks.append((cls, name, own, make(own if own is not None else default)))
        for cls, name, own, hook in self._hooks:
            self._saved.append((cls, name, own))
            setattr(cls, name, hook)

    def remove(self) -> None:
        """Take the hooks off again (nothing happens when they are off)."""
        global _reads
        _reads = None
        _alive.clear()
        for cls, name, original in reversed(self._saved):
            if original is None:
                delattr(cls, name)
            else:
                setattr(cls, name, original)
        self._saved.clear()

    def begin(self) -> None:
        """Start the footprint of a new step."""
        global _reads, _writes
        _reads, _writes = set(), set()
        _containers.clear()
        _commuting.clear()

    def end(self) -> Footprint:
        """The footprint of the step that began last."""
        global _reads, _writes
        reads, writes = _reads or set(), _writes
        _reads, _writes = None, set()
        for key, (container, before) in _containers.items():
            changed = before is None or _contents(container, [CONTENTS_BUDGET]) != before
            (writes if changed else reads).add(key)
        _containers.clear()
        commuting = frozenset(_commuting)
        _commuting.clear()
        return Footprint(frozenset(reads - writes), frozenset(writes), commuting)


@attrs.frozen
class Footprint:
    """What one step read and wrote: (object id, attribute name) pairs."""

    reads: frozenset[tuple[int, str]]
    writes: frozenset[tuple[int, str]]
    #: Accesses that commute with each other's (an all-of condition's count): they conflict
    #: with the other step's reads and writes only.
    commuting: frozenset[tuple[int, str]] = frozenset()

    def __bool__(self) -> bool:
        return bool(self.reads or self.writes or self.commuting)

    def conflicts(self, other: Footprint) -> bool:
        """True when the two steps may not commute: one writes what the other touches."""
        mine = self.writes | self.commuting
        theirs = other.writes | other.commuting
        return not (
            self.writes.isdisjoint(theirs)
            and other.writes.isdisjoint(mine)
            and mine.isdisjoint(other.reads)
            and theirs.isdisjoint(self.reads)
        )
