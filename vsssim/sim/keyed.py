"""A dict of independent entries, for state that two concurrent actors share only by its keys.

A writer keeps one state per backup session, the coordinator one counter per kind of id: two
sessions' steps read and write *different* entries of one dict. To the explorer's partial-order
reduction (:mod:`vsssim.testing.footprints`) a plain dict is one thing, so any two steps that
touch it would be taken as dependent and every order of them explored. A :class:`KeyedDict` is
a plain dict everywhere else (same speed, same order, same equality); while an exploration
watches the model, each entry is its own thing to conflict on, and the set of keys (what
iterating or sizing it reads, what adding or removing an entry changes) is one more.
"""

from __future__ import annotations

from typing import TypeVar

__all__ = ["KeyedDict"]

K = TypeVar("K")
V = TypeVar("V")


class KeyedDict(dict[K, V]):
    """A dict whose entries the explorer's footprints see one by one (see the module)."""

    __slots__ = ()
