"""A run an exploration found breaking an invariant: what it broke and how to replay it."""

from __future__ import annotations

import attrs

__all__ = ["Counterexample"]


@attrs.frozen
class Counterexample:
    """A run that broke an invariant: its replay token and what it broke.

    ``depth`` is the length of the prefix of choices that decides the run (every later
    decision took the first way): breadth-first, no run of a smaller depth broke
    ``invariant``. ``choices`` counts all the run's decisions (the token's length)."""

    token: str
    choices: int
    violations: tuple[str, ...]
    depth: int = 0
    #: The invariant this run is the shortest counterexample of (its first, for the overall one).
    invariant: str = ""

    @property
    def found(self) -> tuple[tuple[str, str], ...]:
        """Each violation as (invariant, message)."""
        return tuple(_split(v) for v in self.violations)

    def _key(self) -> tuple[int, int, str]:
        return (self.depth, self.choices, self.token)


def _split(violation: str) -> tuple[str, str]:
    """``"invariant: message"`` (as the judge words a violation) as its two parts."""
    name, _, message = violation.partition(": ")
    return (name, message) if message else ("", violation)
