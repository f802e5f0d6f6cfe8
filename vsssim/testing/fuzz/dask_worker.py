"""Set-up of the worker processes of a local dask cluster (a dask *preload*: dask imports this
module in each worker process it starts, restarted ones too, and calls :func:`dask_setup`).

A local cluster's workers share the terminal's process group, so Ctrl-C reaches them as well
as the campaign: they ignore it, as the default pool's workers do, and the campaign winds
down and stops them (instead of each printing its own ``KeyboardInterrupt`` traceback).
"""

from __future__ import annotations

import contextlib

from vsssim.testing._pool import ignore_sigint, tune_gc


def dask_setup(worker: object) -> None:
    """In a freshly started worker process: ignore SIGINT, garbage-collect as the pool does."""
    with contextlib.suppress(ValueError):  # not the main thread: the signal stays as it was
        ignore_sigint()
    tune_gc()
