"""Worker processes for fuzz campaigns that survive their workers dying.

A campaign hands chunks of run indices to worker processes, one chunk per worker at a time
(so a lazily produced sequence of chunks never piles up). A worker sends one report per run
as it finishes it, so when a worker dies outright (``os._exit``, a segfault, the OOM killer)
the parent knows exactly which run it was in: that run is run again *alone* in a fresh
worker, and if that worker dies too the run's report is made by ``on_death``; the rest of the
chunk goes back in the queue. Workers ignore SIGINT: Ctrl-C reaches the parent only, which
stops every worker and lets the :class:`KeyboardInterrupt` through.

The parent's side never blocks on one worker: it waits on every busy worker's pipe and process
sentinel at once (:func:`multiprocessing.connection.wait`).
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import signal
from collections import deque
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Generic, TypeVar

R = TypeVar("R")

#: A worker's first-generation garbage-collection threshold: a run allocates objects by the
#: ten thousand (events, records) and frees nearly all of them by reference counting, so the
#: default (700) would scan the young objects hundreds of times a run for the few cycles.
WORKER_GC_THRESHOLD = 50_000

#: A chunk of runs: ``(start, stop, alone)``; ``alone`` chunks hold one run, given to a fresh
#: worker retired after it.
Task = tuple[int, int, bool]


@contextlib.contextmanager
def sigint_blocked() -> Iterator[None]:
    """SIGINT held back while a child process starts (where the platform can): a Ctrl-C then
    never reaches the child before :func:`ignore_sigint` made it ignore SIGINT."""
    if not hasattr(signal, "pthread_sigmask"):  # pragma: no cover - not POSIX
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def ignore_sigint() -> None:
    """In a child process: ignore SIGINT (the parent handles Ctrl-C), then let it through."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def tune_gc() -> None:
    """Lighter garbage collection for a process that does nothing but runs: what is alive now
    (the modules, the campaign's set-up) is never scanned again, and young objects are
    collected less often (:data:`WORKER_GC_THRESHOLD`). Collection timing changes nothing in
    a run (no trace depends on it), only its speed."""
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(WORKER_GC_THRESHOLD, middle, old)


def _serve(conn: Connection, job: Callable[[int], object]) -> None:
    """A worker's loop: run the indices of each chunk received, sending each run's report."""
    ignore_sigint()
    tune_gc()
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        start, stop = task
        for index in range(start, stop):
            conn.send(job(index))


def death_reason(exitcode: int | None) -> str:
    """Why a worker process ended, in words: its exit status or the signal that killed it."""
    if exitcode is None:
        return "its process vanished"
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        return f"killed by {name}"
    return f"exit status {exitcode}"


class _Worker:
    """One worker process, its pipe, and the chunk it is running."""

    def __init__(self, job: Callable[[int], object]) -> None:
        ctx = multiprocessing.get_context()
        self.conn, child = ctx.Pipe()
        self.process: BaseProcess = ctx.Process(target=_serve, args=(child, job), daemon=True)
        with sigint_blocked():
            self.process.start()
        child.close()
        self.task: Task | None = None
        self.next = 0

    def give(self, task: Task) -> bool:
        """Send ``task``; False if the worker is gone."""
        self.task, self.next = task, task[0]
        try:
            self.conn.send((task[0], task[1]))
        except (OSError, ValueError):
            return False
        return True

    def stop(self, *, force: bool) -> None:
        """End the process: politely when idle, at once when ``force``."""
        if not force:
            with contextlib.suppress(OSError, ValueError):
                self.conn.send(None)
            self.process.join(timeout=5)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(timeout=2)
        if self.process.is_alive():  # pragma: no cover - a process that ignores SIGTERM
            self.process.kill()
            self.process.join(timeout=2)
        self.conn.close()


class Pool(Generic[R]):
    """Runs ``job(index)`` for every index of ``tasks`` on ``jobs`` processes.

    ``on_report(report)`` sees every report (in no set order); ``on_death(index, reason)``
    makes the report of a run that killed its worker twice.
    """

    def __init__(
        self,
        job: Callable[[int], R],
        jobs: int,
        on_report: Callable[[R], None],
        on_death: Callable[[int, str], R],
    ) -> None:
        self.job, self.jobs = job, jobs
        self.on_report, self.on_death = on_report, on_death
        self.workers: list[_Worker] = []
        self.retries: deque[Task] = deque()

    def run(self, tasks: Iterator[tuple[int, int]]) -> None:
        """Run every task; stops every worker on the way out (also on Ctrl-C)."""
        try:
            self._loop(tasks)
        finally:
            for worker in self.workers:
                worker.stop(force=worker.task is not None)
            self.workers.clear()

    def _next_task(self, tasks: Iterator[tuple[int, int]]) -> Task | None:
        if self.retries:
            return self.retries.popleft()
        start_stop = next(tasks, None)
        return None if start_stop is None else (start_stop[0], start_stop[1], False)

    def _assign(self, tasks: Iterator[tuple[int, int]]) -> None:
        """Give a chunk to every idle worker slot (a fresh worker for a run to isolate)."""
        while True:
            idle = [w for w in self.workers if w.task is None]
            if not idle and len(self.workers) >= self.jobs:
                return
            task = self._next_task(tasks)
            if task is None:
                return
            if task[2] and idle:  # an isolated run gets a fresh process
                idle[0].stop(force=False)
                self.workers.remove(idle[0])
                idle = idle[1:]
            worker = idle[0] if idle and not task[2] else self._spawn()
            if not worker.give(task):
                self._died(worker)

    def _spawn(self) -> _Worker:
        worker = _Worker(self.job)
        self.workers.append(worker)
        return worker

    def _loop(self, tasks: Iterator[tuple[int, int]]) -> None:
        while True:
            self._assign(tasks)
            busy = [w for w in self.workers if w.task is not None]
            if not busy:
                return
            ready = set(wait([w.conn for w in busy] + [w.process.sentinel for w in busy]))
            for worker in busy:
                if worker.conn in ready:
                    self._receive(worker)
                elif worker.process.sentinel in ready:
                    self._died(worker)

    def _receive(self, worker: _Worker) -> None:
        try:
            report: R = worker.conn.recv()
        except (EOFError, OSError):
            self._died(worker)
            return
        assert worker.task is not None
        worker.next += 1
        _, stop, alone = worker.task
        if worker.next >= stop:
            worker.task = None
            if alone:
                worker.stop(force=False)
                self.workers.remove(worker)
        self.on_report(report)

    def _died(self, worker: _Worker) -> None:
        """A worker ended while running a chunk: blame the run it was in, requeue the rest."""
        while True:  # reports it sent before it died still count
            try:
                if not worker.conn.poll():
                    break
                report: R = worker.conn.recv()
            except (EOFError, OSError):
                break
            worker.next += 1
            self.on_report(report)
        worker.process.join(timeout=5)
        reason = death_reason(worker.process.exitcode)
        worker.stop(force=True)
        self.workers.remove(worker)
        if worker.task is None:
            return
        _, stop, alone = worker.task
        index = worker.next
        if index >= stop:
            return
        if index + 1 < stop:
            self.retries.appendleft((index + 1, stop, False))
        if alone:
            self.on_report(self.on_death(index, reason))
        else:
            self.retries.appendleft((index, index + 1, True))
