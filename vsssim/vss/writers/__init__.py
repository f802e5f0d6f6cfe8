"""Writers: the base class with the VSS_WS_* state machine, a database writer that truncates
its logs, and a catalogue of real writers."""

from vsssim.vss.writers.base import DEFAULT_FREEZE_TIMEOUT_US, DEFAULT_TIMINGS, Writer
from vsssim.vss.writers.database import DatabaseWriter
from vsssim.vss.writers.handling import EventContext

__all__ = [
    "DEFAULT_FREEZE_TIMEOUT_US",
    "DEFAULT_TIMINGS",
    "DatabaseWriter",
    "EventContext",
    "Writer",
]
