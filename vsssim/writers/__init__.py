"""Writers: the base class with the VSS_WS_* state machine, and a catalogue of real writers."""

from vsssim.writers.base import DEFAULT_FREEZE_TIMEOUT_US, DEFAULT_TIMINGS, EventContext, Writer

__all__ = ["DEFAULT_FREEZE_TIMEOUT_US", "DEFAULT_TIMINGS", "EventContext", "Writer"]
