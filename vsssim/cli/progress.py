"""A one-line progress counter on standard error, shown only when standard error is a terminal.

Redirected to a file or a CI log, standard error gets no counter: the lines there stay the
ones worth reading. The counter redraws itself at most every :data:`EVERY_S` seconds.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

#: The shortest time between two redraws of the counter, in seconds.
EVERY_S = 0.2


class Progress:
    """``Progress()(text)`` redraws the counter; :meth:`done` ends its line."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = sys.stderr if stream is None else stream
        self.shown = _is_terminal(self.stream)
        self._last = float("-inf")
        self._drawn = False

    def __call__(self, text: str, *, force: bool = False) -> None:
        if not self.shown:
            return
        now = time.monotonic()  # for the display only: nothing in the model reads it
        if not force and now - self._last < EVERY_S:
            return
        self._last = now
        self.stream.write(f"\r  {text}\033[K")
        self.stream.flush()
        self._drawn = True

    def done(self) -> None:
        """End the counter's line (if one was drawn)."""
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or odd stream
        return False
