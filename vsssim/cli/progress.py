"""A progress display on standard error, shown only when standard error is a terminal.

Redirected to a file or a CI log, standard error gets no display: the lines there stay the
ones worth reading. With the ``progress`` extra (``pip install 'vsssim[progress]'``) the
display is a tqdm bar with the rate and, where the total is known, the time left; without it,
one plain line with the count and the same details. Nothing in the model reads the wall clock
the display uses.
"""

from __future__ import annotations

import importlib
import sys
import time
from typing import Any, TextIO

#: The shortest time between two redraws of the display, in seconds.
EVERY_S = 0.2


class Progress:
    """``Progress(total, unit)``; :meth:`update` moves it to ``done``; :meth:`done` ends it.

    ``total`` is None where it is not known in advance (an exploration): the display then
    shows the count and the rate, with no time left.
    """

    def __init__(
        self,
        total: int | None = None,
        unit: str = "runs",
        *,
        stream: TextIO | None = None,
        bar: bool = True,
    ) -> None:
        self.stream = sys.stderr if stream is None else stream
        self.shown = _is_terminal(self.stream)
        self.total, self.unit = total, unit
        self._bar = _tqdm_bar(total, unit, self.stream) if self.shown and bar else None
        self._last = float("-inf")
        self._drawn = False

    def update(self, done: int, details: str = "", *, force: bool = False) -> None:
        """Show that ``done`` units are done; ``details`` follow the count."""
        if not self.shown:
            return
        if self._bar is not None:
            self._bar.set_postfix_str(details, refresh=False)
            self._bar.update(done - self._bar.n)
            if force:
                self._bar.refresh()
            return
        now = time.monotonic()
        if not force and now - self._last < EVERY_S:
            return
        self._last = now
        of = f"/{self.total}" if self.total is not None else ""
        text = f"{done}{of} {self.unit}" + (f", {details}" if details else "")
        self.stream.write(f"\r  {text}\033[K")
        self.stream.flush()
        self._drawn = True

    def write(self, line: str) -> None:
        """Print ``line`` on the stream (on a terminal, above the display, which redraws)."""
        if self._bar is not None:
            self._bar.write(line, file=self.stream)
            return
        if self._drawn:
            self.stream.write("\r\033[K")
            self._last = float("-inf")  # the next update redraws at once
        self.stream.write(line + "\n")
        self.stream.flush()

    def done(self) -> None:
        """End the display's line (if one was drawn)."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False


def _tqdm_bar(total: int | None, unit: str, stream: TextIO) -> Any:
    """A tqdm bar on ``stream``, or None without tqdm (the plain line is shown instead)."""
    try:
        tqdm = importlib.import_module("tqdm").tqdm
    except ImportError:
        return None
    return tqdm(
        total=total,
        unit=f" {unit}",
        file=stream,
        mininterval=EVERY_S,
        dynamic_ncols=True,
        leave=False,
        smoothing=0.1,
    )


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or odd stream
        return False
