"""A campaign on dask.distributed: a cluster started here (``local``) or a running scheduler's
address, as the executor of :func:`~vsssim.testing.fuzz.campaigns.campaign`.

dask is an optional extra (``pip install 'vsssim[cluster]'``), imported only here and only when
a cluster is asked for: without it the rest of vsssim runs as before, and asking for a cluster
is refused in one line (:class:`~vsssim.errors.ConfigurationError`). Every worker must have
vsssim (and the module of a ``--writer``) importable: it runs the chunks itself.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from types import ModuleType
from typing import Any

from vsssim.errors import ConfigurationError

#: How to get dask, said when it is missing.
INSTALL_HINT = "pip install 'vsssim[cluster]'"
#: How long to try reaching a scheduler's address before giving up (seconds).
CONNECT_TIMEOUT_S = 20
#: The name that starts a cluster on this machine instead of connecting to one.
LOCAL = "local"
#: A local cluster's scheduler: a worker is given only the task it runs (not one more queued
#: behind it), so a worker killed by a run's task (``os._exit``) takes no other task with it;
#: a task is tried again once on another worker, then fails (``KilledWorker``). dask counts a
#: worker's death against every task it held: with the defaults (a second task queued, 3
#: deaths allowed) an innocent chunk queued behind a killer could be blamed too.
LOCAL_SCHEDULER_CONFIG = {
    "distributed.scheduler.worker-saturation": 1.0,
    "distributed.scheduler.allowed-failures": 1,
}
#: The module a local cluster's worker processes run first (:mod:`.dask_worker`).
WORKER_SETUP = "vsssim.testing.fuzz.dask_worker"


def distributed_module() -> ModuleType:
    """dask.distributed, or a clear refusal saying how to install it."""
    try:
        import distributed
    except ImportError:
        raise ConfigurationError(
            f"--cluster needs dask.distributed, which is not installed: {INSTALL_HINT}"
        ) from None
    module: ModuleType = distributed  # typed so even where mypy cannot see dask
    return module


def dask_config() -> Any:
    """``dask.config`` (installed with dask.distributed)."""
    import dask.config

    return dask.config


def worker_threads(client: Any) -> int:
    """How many tasks the cluster runs at once (at least 1: workers may join later)."""
    threads: dict[str, int] = client.nthreads()
    return max(1, sum(threads.values()))


@contextlib.contextmanager
def dask_client(where: str, workers: int = 1) -> Iterator[Any]:
    """A dask ``Client``: of a cluster of ``workers`` processes (one thread each) started here
    for ``local``, else of the scheduler at address ``where``, once it has a worker (the
    campaign keeps :data:`~vsssim.testing.fuzz.campaigns.IN_FLIGHT_PER_JOB` chunks out per
    worker thread there when it starts: start the workers first); closed (the local cluster
    stopped) on the way out.

    The local cluster's processes ignore Ctrl-C (:mod:`.dask_worker`): it is this process's,
    which winds the campaign down and stops them, as with the default pool.
    """
    distributed = distributed_module()
    if where == LOCAL:
        with dask_config().set(LOCAL_SCHEDULER_CONFIG):
            cluster = distributed.LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address="127.0.0.1:0",  # no fixed port: two clusters may run at once
                silence_logs=logging.ERROR,
                preload=[WORKER_SETUP],
            )
        try:
            with distributed.Client(cluster) as client:
                yield client
        finally:
            cluster.close()
        return
    try:
        client = distributed.Client(where, timeout=CONNECT_TIMEOUT_S)
    except (OSError, TimeoutError, ValueError) as error:
        raise ConfigurationError(
            f"cannot reach the dask scheduler at {where!r}: {' '.join(str(error).split())}"
        ) from None
    with client:
        try:  # the campaign sizes its work to the workers there when it starts
            client.wait_for_workers(1, timeout=CONNECT_TIMEOUT_S)
        except TimeoutError:
            raise ConfigurationError(
                f"the dask scheduler at {where!r} has no worker after {CONNECT_TIMEOUT_S} s: "
                f"start some (dask worker {where})"
            ) from None
        yield client
