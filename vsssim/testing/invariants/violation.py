"""What a checker finds (:class:`Violation`) and what it is (:class:`Invariant`)."""

from __future__ import annotations

from collections.abc import Callable

import attrs

from vsssim.host.world import World


@attrs.frozen
class Violation:
    """One broken invariant: which, why, and the trace records (``seq``) involved."""

    invariant: str
    message: str
    records: tuple[int, ...] = ()
    #: The writer (or other component) the violation is about, when it is about one.
    subject: str = ""

    def __str__(self) -> str:
        where = f" (records {', '.join(map(str, self.records))})" if self.records else ""
        return f"{self.invariant}: {self.message}{where}"


Checker = Callable[[World], list[Violation]]


@attrs.frozen
class Invariant:
    """A named checker with a one-line statement of what it promises."""

    name: str
    statement: str
    check: Checker
