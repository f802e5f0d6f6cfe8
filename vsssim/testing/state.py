"""A paused world's whole state as data: the explorer's sound fingerprint.

The explorer cuts a run at a state it has explored before. That is sound only if two states
with one fingerprint have one future: every sequence of choices from either makes the same
rest of the run, and so the same verdicts. A world's future is a function of what its code
can read: every object reachable from it (entities, queues, volumes, the trace so far, each
process's generator with its position, its locals and what its frame holds) and the frames
of the run loop on the call stack. :class:`StateEncoder` writes all of that out, canonically,
and hashes it:

- values (None, booleans, numbers, strings, bytes) by value; enum members, classes, modules,
  code and built-in functions by name (the model keeps no state in them);
- containers with their items in their order: a dict in insertion order, a set in iteration
  order (two equal sets built in two orders may encode apart: a merge missed, never a wrong
  one);
- instances of Python classes by class and every slot and attribute; functions by code and
  closure cells; bound methods by function and ``self``;
- generators by code and the instruction they stand at, their locals by name and everything
  their frame holds (its value stack too: a loop's iterator, a delegated generator);
- an object met again by the number it got first (sharing and cycles are part of the state);
- an object of a type it cannot read (a C object with hidden state) by a number never given
  twice, so a state that holds one is never merged: unknown means different, never equal.

Where an object keeps history that does not decide its future, a *view* says what does: the
kernel's queues by content, not by heap layout or arming counters (:func:`simulation_view`).
The trace is in the state in order, as its digest: the invariants read the order of records,
so two runs that only wrote them in another order are different states.
"""

from __future__ import annotations

import enum
import gc
import hashlib
import itertools
import sys
import types
from collections import OrderedDict, defaultdict, deque
from collections.abc import Callable, Collection, Mapping
from typing import Any

from vsssim.sim.kernel import LOCALS_AT_CHOICE, Simulation
from vsssim.sim.tickers import Ticker, TickerQueue
from vsssim.sim.trace import Trace

__all__ = [
    "StateEncoder",
    "View",
    "default_views",
    "simulation_view",
    "stack_state",
    "ticker_queue_view",
    "ticker_view",
    "trace_view",
]

#: A view: what of an object decides its future, as plain data to encode in its place.
View = Callable[[Any], object]

_VALUES: dict[type, str] = {
    type(None): "n",
    bool: "b",
    int: "i",
    float: "f",
    complex: "j",
    str: "s",
    bytes: "y",
}
#: Objects the model never changes, named rather than read.
_NAMED = (
    type,
    types.ModuleType,
    types.BuiltinFunctionType,
    types.MethodDescriptorType,
    types.WrapperDescriptorType,
    types.MethodWrapperType,
    types.GetSetDescriptorType,
    types.MemberDescriptorType,
    types.CodeType,
)
#: Iterators whose ``__reduce__`` tells their whole state (the sequence and the position).
_REDUCIBLE: frozenset[type] = frozenset(
    {
        type(iter([])),
        type(iter(())),
        type(iter(range(0))),
        type(iter("")),
        type(reversed([])),
        enumerate,
        zip,
        map,
        filter,
    }
)
#: Containers a Python class may extend, by the encoding of their contents.
_CONTAINERS = (list, tuple, dict, set, frozenset, deque)
_HEAP_TYPE = 1 << 9  # Py_TPFLAGS_HEAPTYPE: a class defined in Python, or some C types
_SKIPPED = "x"  # an object the explorer left out (its own), where it is met


def _name(obj: Any) -> str:
    module = getattr(obj, "__module__", None) or ""
    return f"{module}.{getattr(obj, '__qualname__', getattr(obj, '__name__', '?'))}"


def _code_name(code: types.CodeType) -> str:
    return f"{code.co_qualname}@{code.co_filename}:{code.co_firstlineno}"


class StateEncoder:
    """Encodes states canonically; one per search (it numbers what it cannot read).

    ``views`` maps exact types to their views (see the module docstring); by default the
    kernel's (:func:`default_views`)."""

    def __init__(self, views: Mapping[type, View] | None = None) -> None:
        self.views: dict[type, View] = dict(default_views() if views is None else views)
        self._unknown = itertools.count(1)
        #: The types met that it could not read (each made its state unmergeable), by name.
        self.unreadable: dict[str, int] = {}
        #: How each type met is encoded: whether it is numbered, and its handler.
        self.kinds: dict[type, tuple[bool, _Handler]] = {_Unset: (False, _unset)}

    def fingerprint(self, roots: tuple[object, ...], skip: Collection[object] = ()) -> bytes:
        """The digest of everything reachable from ``roots``; objects in ``skip`` (by
        identity: the explorer's own) are left out wherever they are met. An object that
        fails to be read (a broken ``__reduce__``) makes the state unique, as an unknown
        one does."""
        try:
            return _Walk(self, {id(obj) for obj in skip}).run(roots)
        except Exception as exc:  # unreadable means unique, never a crash
            return self.unknown(exc).encode()

    def unknown(self, obj: object) -> str:
        """A token no other object, in any state of this search, ever gets."""
        name = _name(type(obj))
        self.unreadable[name] = self.unreadable.get(name, 0) + 1
        return f"?{name}#{next(self._unknown)}"

    def classify(self, kind: type) -> tuple[bool, _Handler]:
        """How objects of ``kind`` are encoded (found once per type)."""
        view = self.views.get(kind)
        found: tuple[bool, _Handler]
        if view is not None:
            found = (True, _viewed(f"V{_name(kind)}", view))
        elif issubclass(kind, enum.Enum):
            found = (False, _enum)
        elif issubclass(kind, _NAMED):
            found = (False, _named)
        elif kind in _STRUCTURES:
            found = (True, _STRUCTURES[kind])
        elif _python_class(kind) or issubclass(kind, BaseException):
            found = (True, _instance_of(kind))
        else:
            found = (True, _unknown)
        self.kinds[kind] = found
        return found


_Handler = Callable[["_Walk", Any], None]


class _Walk:
    """One encoding: depth first, each object numbered at its first meeting."""

    def __init__(self, encoder: StateEncoder, skip: set[int]) -> None:
        self.encoder = encoder
        self.skip = skip
        self.alive: list[object] = []  # what the walk made: no id is reused while it runs
        self.parts: list[str] = []
        self.stack: list[object] = []

    def run(self, roots: tuple[object, ...]) -> bytes:
        stack, parts, skip = self.stack, self.parts, self.skip
        kinds, classify = self.encoder.kinds, self.encoder.classify
        numbers: dict[int, int] = {}
        stack.append(roots)
        while stack:
            obj = stack.pop()
            kind = type(obj)
            code = _VALUES.get(kind)
            if code is not None:
                parts.append(f"{code}{obj!r}")
                continue
            numbered, handle = kinds.get(kind) or classify(kind)
            if numbered:
                key = id(obj)
                if key in skip:
                    parts.append(_SKIPPED)
                    continue
                number = numbers.get(key)
                if number is not None:
                    parts.append(f"@{number}")
                    continue
                numbers[key] = len(numbers)
            handle(self, obj)
        return hashlib.blake2b("\x1f".join(parts).encode(), digest_size=20).digest()

    def push(self, *children: object) -> None:
        """Encode ``children`` next, in order."""
        self.stack.extend(reversed(children))

    def made(self, obj: object) -> object:
        """``obj``, made by the walk, kept alive until it ends."""
        self.alive.append(obj)
        return obj


class _Unset:
    """A slot never set."""


_UNSET = _Unset()


def _unset(walk: _Walk, obj: object) -> None:
    walk.parts.append("u")


def _unknown(walk: _Walk, obj: object) -> None:
    walk.parts.append(walk.encoder.unknown(obj))


def _enum(walk: _Walk, obj: enum.Enum) -> None:
    walk.parts.append(f"E{_name(type(obj))}.{obj.name}")


def _named(walk: _Walk, obj: Any) -> None:
    label = _code_name(obj) if isinstance(obj, types.CodeType) else _name(obj)
    owner = getattr(obj, "__self__", None)
    if isinstance(obj, types.BuiltinFunctionType) and not isinstance(
        owner, types.ModuleType | type(None)
    ):
        walk.parts.append(f"b{label}")  # a bound built-in method: its object counts
        walk.push(owner)
    else:
        walk.parts.append(f"N{label}")


def _viewed(label: str, view: View) -> _Handler:
    def encode(walk: _Walk, obj: object) -> None:
        walk.parts.append(label)
        walk.push(walk.made(view(obj)))

    return encode


def _sequence(walk: _Walk, obj: Any) -> None:
    walk.parts.append(f"{type(obj).__name__}{len(obj)}")
    walk.stack.extend(reversed(obj))


def _set(walk: _Walk, obj: Any) -> None:
    walk.parts.append(f"{type(obj).__name__}{len(obj)}")
    walk.push(*obj)


def _mapping(walk: _Walk, obj: Any) -> None:
    walk.parts.append(f"{type(obj).__name__}{len(obj)}")
    walk.push(getattr(obj, "default_factory", None), *itertools.chain.from_iterable(obj.items()))


def _deque(walk: _Walk, obj: deque[Any]) -> None:
    walk.parts.append(f"deque{obj.maxlen}:{len(obj)}")
    walk.stack.extend(reversed(obj))


def _function(walk: _Walk, obj: types.FunctionType) -> None:
    walk.parts.append(f"F{_code_name(obj.__code__)}")
    cells = tuple(obj.__closure__ or ())
    walk.push(walk.made(cells), obj.__defaults__, obj.__kwdefaults__, obj.__dict__ or None)


def _cell(walk: _Walk, obj: types.CellType) -> None:
    try:
        contents = obj.cell_contents
    except ValueError:  # an empty cell
        walk.parts.append("c-")
    else:
        walk.parts.append("c")
        walk.push(contents)


def _method(walk: _Walk, obj: types.MethodType) -> None:
    walk.parts.append("m")
    walk.push(obj.__func__, obj.__self__)


def _reduced(walk: _Walk, obj: Any) -> None:
    walk.parts.append(f"R{type(obj).__name__}")
    walk.push(walk.made(obj.__reduce__()))


def _count(walk: _Walk, obj: itertools.count[Any]) -> None:
    walk.parts.append(f"R{obj!r}")


def _traceback(walk: _Walk, obj: types.TracebackType) -> None:
    walk.parts.append(f"t{_code_name(obj.tb_frame.f_code)}:{obj.tb_lineno}")
    walk.push(obj.tb_next)


def _generator(walk: _Walk, gen: types.GeneratorType[Any, Any, Any]) -> None:
    """A generator: where it stands, its locals by name, and what its frame holds (the
    value stack too), as the garbage collector sees it."""
    frame = gen.gi_frame
    if frame is None:
        walk.parts.append(f"G{_code_name(gen.gi_code)}:done")
        return
    walk.parts.append(f"G{_code_name(gen.gi_code)}:{frame.f_lasti}")
    named = walk.made(dict(frame.f_locals)) if frame.f_lasti >= 0 else {}
    stored = frame.f_locals if sys.version_info < (3, 13) else None  # the frame's own dict
    held = [
        r
        for r in gc.get_referents(gen)
        if not isinstance(r, types.FrameType | types.CodeType) and r is not stored
    ]
    walk.push(named, walk.made(held))


def _instance_of(kind: type) -> _Handler:
    """The handler of a Python class's instances (or an exception's): its class, the contents
    of the built-in it extends, each slot, and its attributes."""
    label = f"O{_name(kind)}"
    base = next(b for b in kind.__mro__ if not _python_class(b))
    slots = tuple(name for cls in kind.__mro__ for name in _slot_names(cls))
    readable = base in _CONTAINERS or base in _VALUES or issubclass(base, BaseException)
    if base is not object and not readable:
        return _unknown

    def encode(walk: _Walk, obj: Any) -> None:
        walk.parts.append(label)
        if base in _CONTAINERS:
            walk.push(walk.made(list(obj) if base is deque else base(obj)))
        elif base in _VALUES:
            walk.push(base(obj))
        elif base is not object:  # an exception
            walk.push(obj.args, obj.__cause__, obj.__context__, obj.__traceback__)
        held = tuple([getattr(obj, name, _UNSET) for name in slots])
        walk.push(walk.made(held), getattr(obj, "__dict__", None))

    return encode


#: The handlers of the built-in types it reads.
_STRUCTURES: dict[type, _Handler] = {
    tuple: _sequence,
    list: _sequence,
    set: _set,
    frozenset: _set,
    dict: _mapping,
    defaultdict: _mapping,
    OrderedDict: _mapping,
    deque: _deque,
    types.FunctionType: _function,
    types.CellType: _cell,
    types.MethodType: _method,
    types.GeneratorType: _generator,
    itertools.count: _count,
    types.TracebackType: _traceback,
    **{kind: _reduced for kind in _REDUCIBLE},
}


def _python_class(cls: type) -> bool:
    """True for a class a ``class`` statement made (all its state in slots and attributes);
    False for a built-in or C extension type, heap-allocated or not (it may hold state no
    attribute shows: a lock, a hash)."""
    known = _PYTHON_CLASSES.get(cls)
    if known is None:
        slots = set(_slot_names(cls))
        known = _PYTHON_CLASSES[cls] = bool(cls.__flags__ & _HEAP_TYPE) and not any(
            isinstance(value, _C_MEMBERS)
            or (isinstance(value, types.MemberDescriptorType) and name not in slots)
            or (isinstance(value, types.GetSetDescriptorType) and name not in _INSTANCE_DICTS)
            for name, value in cls.__dict__.items()
        )
    return known


#: What the dict of a type written in C holds (and a class statement never puts there).
_C_MEMBERS = (
    types.WrapperDescriptorType,
    types.MethodDescriptorType,
    types.ClassMethodDescriptorType,
    types.BuiltinFunctionType,
)
_INSTANCE_DICTS = frozenset({"__dict__", "__weakref__"})
_PYTHON_CLASSES: dict[type, bool] = {object: False}


def _slot_names(cls: type) -> list[str]:
    """The attribute names of ``cls``'s own slots (private names mangled)."""
    declared = cls.__dict__.get("__slots__", ())
    if isinstance(declared, str):
        declared = (declared,)
    names = []
    for name in declared:
        if name in ("__dict__", "__weakref__"):
            continue
        if name.startswith("__") and not name.endswith("__"):
            name = f"_{cls.__name__.lstrip('_')}{name}"
        names.append(name)
    return names


# -- the kernel's views ---------------------------------------------------------------------


def simulation_view(sim: Simulation) -> object:
    """A simulation's state: every attribute, but the future by instant in time order (the
    heap's layout is history) and the choice source and step observer left out (the
    explorer's)."""
    view = {k: v for k, v in vars(sim).items() if k not in _SIM_OMITTED}
    view["_due"] = sorted(sim._due.items())
    return view


#: Attributes a simulation view leaves out: the instants heap (its keys are ``_due``'s) and
#: the explorer's own objects.
_SIM_OMITTED = frozenset({"_instants", "_choices", "step_observer"})


def ticker_queue_view(queue: TickerQueue) -> object:
    """The live tickers, the armed ones in firing order (:meth:`TickerQueue.in_order`): not
    the heap's stale entries or the count of armings (it only orders them)."""
    return (queue.clock, queue.in_order())


def ticker_view(ticker: Ticker) -> object:
    """A ticker by what it does and whether it is armed (its order is the queue's)."""
    return (ticker.name, ticker._fire, ticker.due, ticker._key != 0, ticker._queue)


def trace_view(trace: Trace) -> object:
    """The trace so far, in order, as its digest (every record is hashed once; the batches
    still counting as they stand), and what decides the records to come."""
    return (trace.digest(), trace.batch_writes, trace.clock)


def default_views() -> dict[type, View]:
    """The views of the kernel's objects (see the module docstring)."""
    return {
        Simulation: simulation_view,
        TickerQueue: ticker_queue_view,
        Ticker: ticker_view,
        Trace: trace_view,
    }


def stack_state(
    start: types.FrameType | None, stop: types.CodeType
) -> list[tuple[str, dict[str, Any]]] | None:
    """The frames from ``start`` up to the one running ``stop`` (included): each one's code,
    instruction and locals (only those :data:`~vsssim.sim.kernel.LOCALS_AT_CHOICE` names for
    the kernel's run loops). None when no frame runs ``stop``."""
    found: list[tuple[str, dict[str, Any]]] = []
    frame: types.FrameType | None = start
    while frame is not None:
        code = frame.f_code
        local = frame.f_locals
        live = _LIVE.get(code)
        if live is not None:
            local = {name: local[name] for name in live if name in local}
        found.append((f"{_code_name(code)}:{frame.f_lasti}", dict(local)))
        if code is stop:
            return found
        frame = frame.f_back
    return None


_LIVE: dict[types.CodeType, tuple[str, ...]] = {
    getattr(Simulation, name).__code__: live for name, live in LOCALS_AT_CHOICE.items()
}
