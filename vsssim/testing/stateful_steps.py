"""The steps of a state machine's run as its replay token carries them, and their replay.

A failing run of a :class:`~vsssim.testing.stateful.WriterProtocolMachine` (or a subclass with
rules of its own) must replay from its token alone, whatever its rules do to the world. So the
token carries every rule the run took, in order: the rule's name, its arguments, and every
value the rule drew from hypothesis's ``data()``, each as a small tagged JSON value
(:func:`encode_value`). :func:`record_rules` wraps a machine class's rules (and its
initialize rules) so that every call, from hypothesis or from the user's code, is recorded
before it runs (a rule that fails is in the token), and its invariants so that a failure
escaping either carries the token in a note. The replay calls the same rules with the same
arguments, the draws fed back in order, and checks the class's invariants after each step as
hypothesis does.

A token runs no code it names: the classes of its values (enums, attrs classes, dataclasses)
are looked up among the modules already imported, never imported, and only the machine's own
rules are called. A value no token can carry (an object of another kind) is recorded as
such, and the replay of its step refuses, naming it, rather than replaying another run.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import inspect
import json
import sys
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import attrs
from hypothesis import strategies as st
from hypothesis.stateful import INITIALIZE_RULE_MARKER, INVARIANT_MARKER, RULE_MARKER

from vsssim.errors import ReplayError
from vsssim.sim.tokens import Json

__all__ = [
    "MAX_STEPS",
    "PlannedStep",
    "StepLog",
    "Unrecordable",
    "decode_value",
    "encode_value",
    "plan_rule_step",
    "record_rules",
    "run_steps",
]

#: The most steps a state machine's token may replay (hypothesis runs 50 by default).
MAX_STEPS = 1000
#: How deep a value a token carries may nest (tuples of tuples...).
MAX_DEPTH = 24
#: Set on a function this module made, so that a class's rules are wrapped once.
_WRAPPED = "_vsssim_recorded_step"


class Unrecordable(Exception):
    """A value no token can carry (its text says what it is)."""


def _class_path(cls: type) -> str:
    if "<locals>" in cls.__qualname__:
        raise Unrecordable(f"a {cls.__qualname__} (a class defined in a function)")
    return f"{cls.__module__}:{cls.__qualname__}"


def _init_fields(value: object) -> dict[str, object]:
    """An attrs or dataclass instance's constructor arguments, as its fields hold them."""
    cls = type(value)
    if attrs.has(cls):
        fields = attrs.fields(cls)
        return {f.alias or f.name: getattr(value, f.name) for f in fields if f.init}
    found = dataclasses.fields(value)  # type: ignore[arg-type]
    return {f.name: getattr(value, f.name) for f in found if f.init}


def encode_value(value: object, depth: int = 0) -> Json:
    """``value`` as a token carries it: None, booleans, whole numbers and strings as they are,
    anything else as a one-key object naming its kind (``{"tuple": [...]}``, ``{"enum": ...,
    "value": ...}``, ``{"attrs": CLASS, "fields": {...}}``...); :class:`Unrecordable` if none
    fits, or if an attrs or dataclass value does not rebuild from its fields."""
    if depth > MAX_DEPTH:
        raise Unrecordable(f"a value nested more than {MAX_DEPTH} deep")
    inner = depth + 1
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, enum.Enum):
        return {"enum": _class_path(type(value)), "value": encode_value(value.value, inner)}
    if isinstance(value, int | str) and type(value) in (int, str):
        return value
    if isinstance(value, float) and type(value) is float:
        return {"float": value.hex()}
    if isinstance(value, bytes) and type(value) is bytes:
        return {"bytes": value.hex()}
    if isinstance(value, uuid.UUID):
        return {"uuid": str(value)}
    if isinstance(value, tuple | list) and type(value) in (tuple, list):
        return {type(value).__name__: [encode_value(v, inner) for v in value]}
    if isinstance(value, set | frozenset) and type(value) in (set, frozenset):
        items = [encode_value(v, inner) for v in value]
        items.sort(key=lambda item: json.dumps(item, sort_keys=True))  # the same in any process
        return {type(value).__name__: items}
    if isinstance(value, dict) and type(value) is dict:
        pairs = value.items()
        return {"dict": [[encode_value(k, inner), encode_value(v, inner)] for k, v in pairs]}
    if attrs.has(type(value)) or dataclasses.is_dataclass(value):
        kind = "attrs" if attrs.has(type(value)) else "dataclass"
        fields = {k: encode_value(v, inner) for k, v in _init_fields(value).items()}
        encoded: Json = {kind: _class_path(type(value)), "fields": fields}
        try:
            same = decode_value(encoded) == value
        except ReplayError:
            same = False
        if not same:
            raise Unrecordable(
                f"a {type(value).__qualname__} that does not rebuild from its fields"
            )
        return encoded
    raise Unrecordable(f"a {type(value).__qualname__}")


def _damaged(what: str) -> ReplayError:
    return ReplayError(f"the replay token is damaged: {what}")


def _imported_class(path: object, home: str | None) -> type:
    """The class ``module:Qual`` names, from a module already imported (a token imports
    nothing). A class of ``__main__`` (a script the run was) is looked up in ``home`` if
    this ``__main__`` has none: the replay loads the script under another name."""
    if not isinstance(path, str) or ":" not in path:
        raise _damaged(f"{path!r} is not a class's name")
    module_name, _, qualname = path.partition(":")
    main = sys.modules.get("__main__")
    if module_name == "__main__" and home is not None and not hasattr(main, qualname.split(".")[0]):
        module_name = home
    found: object = sys.modules.get(module_name)
    if found is None:
        raise _damaged(f"it names the class {path}, whose module is not imported")
    for part in qualname.split("."):
        if not part.isidentifier() or part.startswith("__"):
            raise _damaged(f"{path!r} is not a class's name")
        found = getattr(found, part, None)
    if not isinstance(found, type):
        raise _damaged(f"it names the class {path}, which is not one")
    return found


def _built(cls: type, fields: object, depth: int, home: str | None) -> object:
    if not isinstance(fields, dict):
        raise _damaged(f"the fields of a {cls.__qualname__} are not an object")
    try:
        return cls(**{k: decode_value(v, depth, home=home) for k, v in fields.items()})
    except ReplayError:
        raise
    except Exception as error:  # whatever the constructor refuses
        raise _damaged(f"a {cls.__qualname__} of its fields: {error}") from None


def decode_value(data: Json, depth: int = 0, *, home: str | None = None) -> object:
    """The value :func:`encode_value` wrote as ``data``; a :class:`ReplayError` if it is not
    one it writes. ``home``: the module a class of ``__main__`` is in now (the machine's)."""
    if depth > MAX_DEPTH:
        raise _damaged(f"a value is nested more than {MAX_DEPTH} deep")
    inner = depth + 1
    if data is None or isinstance(data, bool | int | str):
        return data
    if not isinstance(data, dict) or not data:
        raise _damaged(f"{str(data)[:40]!r} is not a value a token carries")
    kind, held = next(iter(data.items()))
    try:
        if kind in ("tuple", "list", "set", "frozenset") and isinstance(held, list):
            maker: Callable[[Any], object] = {
                "tuple": tuple, "list": list, "set": set, "frozenset": frozenset
            }[kind]  # fmt: skip
            return maker(decode_value(v, inner, home=home) for v in held)
        if kind == "dict" and isinstance(held, list):
            pairs = [p for p in held if isinstance(p, list) and len(p) == 2]
            if len(pairs) != len(held):
                raise _damaged("a dict's items are not pairs")
            return {
                decode_value(k, inner, home=home): decode_value(v, inner, home=home)
                for k, v in pairs
            }
        if kind in ("float", "bytes", "uuid") and isinstance(held, str):
            return {"float": float.fromhex, "bytes": bytes.fromhex, "uuid": uuid.UUID}[kind](held)
        if kind == "enum" and len(data) == 2:
            cls = _imported_class(held, home)
            if not issubclass(cls, enum.Enum):
                raise _damaged(f"{held} is not an enum")
            return cls(decode_value(data.get("value"), inner, home=home))
        if kind in ("attrs", "dataclass") and len(data) == 2:
            cls = _imported_class(held, home)
            if not (attrs.has(cls) if kind == "attrs" else dataclasses.is_dataclass(cls)):
                raise _damaged(f"{held} is not an {kind} class")
            return _built(cls, data.get("fields"), inner, home)
    except (TypeError, ValueError) as error:  # unhashable keys, bad hex, no such member...
        raise _damaged(f"a {kind} value: {error}") from None
    raise _damaged(f"{str(data)[:40]!r} is not a value a token carries")


class _RecordingData:
    """Hypothesis's ``data()`` for a rule, every value drawn from it also recorded."""

    def __init__(self, inner: Any, draws: list[Json], changed: Callable[[], None]) -> None:
        self._inner, self._draws, self._changed = inner, draws, changed

    def draw(self, strategy: st.SearchStrategy[Any], label: object = None) -> Any:
        value = self._inner.draw(strategy, label=label)
        try:
            self._draws.append(encode_value(value))
        except Unrecordable as why:
            self._draws.append({"unrecorded": f"draw {len(self._draws) + 1}: {why}"})
        self._changed()
        return value


class _ReplayData:
    """A ``data()`` that gives back a token's draws, in order."""

    def __init__(self, draws: Sequence[object], where: str) -> None:
        self._draws, self._where, self.used = draws, where, 0

    def draw(self, strategy: object, label: object = None) -> object:
        if self.used >= len(self._draws):
            raise ReplayError(
                f"{self._where} draws more values than the token recorded: the machine's code "
                "differs from the run's"
            )
        self.used += 1
        return self._draws[self.used - 1]


def _is_data(value: object) -> bool:
    """True for hypothesis's ``data()`` (or a stand-in for it: anything with a ``draw``)."""
    return isinstance(value, st.DataObject) or callable(getattr(value, "draw", None))


@attrs.define
class StepLog:
    """The steps a machine ran, as its token carries them.

    ``changed`` is called whenever they change (the machine puts them in its world's token),
    ``lines`` gives the replay lines a failure's note carries (None: no token yet)."""

    changed: Callable[[], None]
    lines: Callable[[], str | None]
    steps: list[Json] = attrs.field(factory=list)
    #: How many rules are running (a rule a rule calls is its caller's step).
    depth: int = 0

    def add(self, step: Json) -> None:
        self.steps.append(step)
        self.changed()

    def note(self, failure: BaseException) -> None:
        """Give ``failure`` the replay lines, unless its text or a note already has them."""
        lines = self.lines()
        notes = getattr(failure, "__notes__", [])
        if lines is not None and not any("replay token: " in t for t in [str(failure), *notes]):
            failure.add_note(lines)

    def begin(self, name: str, arguments: dict[str, object]) -> dict[str, object]:
        """Record a call of the rule ``name``: the arguments to run it with (a data object
        replaced by one that records its draws)."""
        encoded: dict[str, Json] = {}
        given = dict(arguments)
        for key, value in arguments.items():
            if _is_data(value):
                draws: list[Json] = []
                given[key] = _RecordingData(value, draws, self.changed)
                encoded[key] = {"data": draws}
                continue
            try:
                encoded[key] = encode_value(value)
            except Unrecordable as why:
                encoded[key] = {"unrecorded": f"argument {key}: {why}"}
        self.add({"rule": name, "args": encoded})
        return given


def _recorded(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """``function`` (the rule ``name``), each outermost call recorded in the machine's log."""
    signature = inspect.signature(function)

    @functools.wraps(function)
    def step(machine: Any, *args: Any, **kwargs: Any) -> Any:
        log: StepLog | None = getattr(machine, "_step_log", None)
        if log is None or log.depth:
            return function(machine, *args, **kwargs)
        bound = signature.bind(machine, *args, **kwargs)
        first, *named = signature.parameters.values()
        if any(p.kind in (p.POSITIONAL_ONLY, p.VAR_POSITIONAL) for p in named):
            log.add({"rule": name, "args": {"*": {"unrecorded": "positional-only arguments"}}})
            call: Callable[[], Any] = functools.partial(function, machine, *args, **kwargs)
        else:
            arguments = {k: v for k, v in bound.arguments.items() if k != first.name}
            for p in named:
                if p.kind is p.VAR_KEYWORD:
                    extra = arguments.pop(p.name, {})
                    arguments.update(extra if isinstance(extra, dict) else {})
            call = functools.partial(function, machine, **log.begin(name, arguments))
        log.depth += 1
        try:
            return call()
        except Exception as failure:
            log.note(failure)
            raise
        finally:
            log.depth -= 1

    setattr(step, _WRAPPED, True)
    return step


def _checked(function: Callable[..., Any]) -> Callable[..., Any]:
    """An invariant whose failure carries the machine's replay lines."""

    @functools.wraps(function)
    def check(machine: Any) -> Any:
        try:
            return function(machine)
        except Exception as failure:
            log: StepLog | None = getattr(machine, "_step_log", None)
            if log is not None:
                log.note(failure)
            raise

    setattr(check, _WRAPPED, True)
    return check


def _evolve(held: Any, function: Callable[..., Any]) -> Any:
    """Hypothesis's rule or invariant ``held`` calling ``function`` instead."""
    if attrs.has(type(held)):
        return attrs.evolve(held, function=function)
    return dataclasses.replace(held, function=function)


def record_rules(cls: type) -> None:
    """Wrap the rules, initialize rules and invariants ``cls`` defines (not those it inherits,
    wrapped in their own class) so that its runs are recorded for their tokens."""
    for name, member in list(vars(cls).items()):
        if getattr(member, _WRAPPED, False):
            continue
        for marker in (RULE_MARKER, INITIALIZE_RULE_MARKER, INVARIANT_MARKER):
            held = getattr(member, marker, None)
            if held is None:
                continue
            if marker == INVARIANT_MARKER:
                wrapper = _checked(held.function)
            else:
                wrapper = _recorded(name, held.function)
            setattr(wrapper, marker, _evolve(held, wrapper))
            setattr(cls, name, wrapper)
            break


@attrs.frozen
class PlannedStep:
    """A step of a token, checked and ready to run on a machine."""

    run: Callable[[Any], None]
    #: True for an initialize rule (hypothesis checks most invariants only after them).
    initializes: bool = False


def plan_rule_step(cls: type, number: int, record: dict[str, Json]) -> PlannedStep:
    """The step ``number`` of a token, a call of one of ``cls``'s rules, checked: its rule,
    arguments and draws decoded (before anything runs)."""
    name, args = record.get("rule"), record.get("args")
    if not isinstance(name, str) or not isinstance(args, dict):
        raise _damaged(f"step {number} is not a rule and its arguments")
    member = getattr(cls, name, None) if name.isidentifier() else None
    rule = getattr(member, RULE_MARKER, None) or getattr(member, INITIALIZE_RULE_MARKER, None)
    if rule is None:
        raise ReplayError(
            f"step {number} of the token runs {name!r}, which is not a rule of "
            f"{cls.__qualname__}: the machine's code differs from the run's"
        )
    where = f"step {number} ({name})"
    values: dict[str, object] = {}
    draws: dict[str, list[object]] = {}
    for key, value in args.items():
        unrecorded = value.get("unrecorded") if isinstance(value, dict) else None
        if unrecorded is not None:
            raise ReplayError(
                f"{where} cannot be replayed: its {unrecorded}, which a token cannot carry"
            )
        if isinstance(value, dict) and list(value) == ["data"] and isinstance(value["data"], list):
            for drawn in value["data"]:
                if isinstance(drawn, dict) and "unrecorded" in drawn:
                    raise ReplayError(f"{where} cannot be replayed: its {drawn['unrecorded']}")
            draws[key] = [decode_value(v, home=cls.__module__) for v in value["data"]]
        else:
            values[key] = decode_value(value, home=cls.__module__)

    def run(machine: Any) -> None:
        if not all(precondition(machine) for precondition in rule.preconditions):
            raise ReplayError(
                f"{where}: its precondition does not hold: the machine's code "
                "differs from the run's"
            )
        data = {key: _ReplayData(drawn, where) for key, drawn in draws.items()}
        getattr(machine, name)(**values, **data)
        if any(d.used != len(draws[key]) for key, d in data.items()):
            raise ReplayError(
                f"{where} draws fewer values than the token recorded: the "
                "machine's code differs from the run's"
            )

    return PlannedStep(run, initializes=getattr(member, INITIALIZE_RULE_MARKER, None) is not None)


def _invariants(cls: type) -> list[Any]:
    """``cls``'s invariants, in the order hypothesis checks them (by name)."""
    found = (getattr(m, INVARIANT_MARKER, None) for _, m in inspect.getmembers(cls))
    return [invariant for invariant in found if invariant is not None]


def _initializers(cls: type) -> int:
    members = inspect.getmembers(cls)
    return sum(getattr(m, INITIALIZE_RULE_MARKER, None) is not None for _, m in members)


def _failure_text(failure: Exception) -> str:
    """A failure as the replay reports it: an assertion's message, another exception's type
    and message; then its notes."""
    text = (
        str(failure)
        if isinstance(failure, AssertionError)
        else (f"{type(failure).__name__}: {failure}")
    )
    return "\n".join([text, *getattr(failure, "__notes__", [])])


def run_steps(
    machine: Any, steps: Sequence[PlannedStep], after_step: Callable[[], None]
) -> str | None:
    """Run ``steps`` on ``machine``, its class's invariants checked before the first and after
    each (as hypothesis checks them; ``after_step`` runs first): the failure a step or an
    invariant raised, if one did. A :class:`ReplayError` (the token and the machine disagree)
    is raised."""
    cls = type(machine)
    invariants = _invariants(cls)
    pending = _initializers(cls)

    def check() -> None:
        for invariant in invariants:
            if pending and not getattr(invariant, "check_during_init", False):
                continue
            if all(precondition(machine) for precondition in invariant.preconditions):
                invariant.function(machine)

    try:
        check()
        for step in steps:
            step.run(machine)
            pending = max(0, pending - step.initializes)
            after_step()
            check()
    except ReplayError:
        raise
    except Exception as failure:
        return _failure_text(failure)
    return None
