"""A campaign on any ``concurrent.futures``-style executor: a thread or process pool, a
dask.distributed ``Client`` (:mod:`.cluster`), anything whose ``submit(fn, *args)`` returns a
future with ``result()``, ``cancel()`` and ``add_done_callback()``.

Each task is one chunk of runs (:func:`run_chunk`), which sends back its :class:`CampaignTotals`,
not its reports: a chunk's answer stays small however far it travels. At most ``in_flight``
chunks are out at a time (a campaign of 10^9 runs never piles up futures), and their totals are
added up in run-index order, the oldest chunk awaited first, so nothing depends on which worker
finished first.

What this path guarantees (the default process pool, :mod:`vsssim.testing._pool`, owns its
processes and can do more):

- an exception out of a run (the model's or a user's writer's) is caught inside
  :func:`~vsssim.testing.fuzz.one_run.fuzz_one` and reported as a ``crash:`` failure, as on
  every path;
- a chunk whose future fails (a lost dask worker: ``KilledWorker``; a broken process pool; a
  cancelled task) has its runs run again, each alone, and only a run that fails alone too is
  reported, as a failed run naming the reason (:func:`chunk_failed_report`): never raised;
- a chunk with no answer within ``chunk_timeout_s`` of real time has all its runs reported so
  (a hang is not run again);
- an executor that refuses new work, or closes (a dask ``Client`` whose scheduler was lost:
  :func:`closed`), ends the campaign with what finished (``CampaignSummary.stopped``).

What it cannot do: stop a run that hangs in a thread. The per-run real-time limit needs a
process's main thread, so it holds in a process pool but not on threads or dask workers: there
a hung chunk is given up after ``chunk_timeout_s`` and its thread spins on until the executor
is shut down. On a local cluster with ``processes=False``, or a thread pool, a run that kills
its process kills the campaign too.
"""

from __future__ import annotations

import contextlib
import threading
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from vsssim.errors import describe
from vsssim.testing.fuzz.one_run import (
    RUN_WALL_LIMIT_S,
    RunReport,
    fuzz_one,
    fuzz_token,
    lost_run_report,
    run_seed,
)
from vsssim.testing.fuzz.totals import CampaignTotals


class Future(Protocol):
    """What a campaign asks of a future (``concurrent.futures.Future``, dask's ``Future``)."""

    def result(self, timeout: float | None = None) -> Any: ...  # pragma: no cover - a protocol

    def cancel(self) -> Any: ...  # pragma: no cover - a protocol

    def add_done_callback(self, fn: Callable[[Any], Any], /) -> Any: ...  # pragma: no cover


class Executor(Protocol):
    """What a campaign asks of an executor: ``submit(fn, *args)`` giving a :class:`Future`."""

    def submit(self, fn: Callable[..., Any], /, *args: Any) -> Any: ...  # pragma: no cover


def chunk_timeout(chunk_runs: int) -> float:
    """The default real-time limit on a chunk: every run at its own limit, run twice."""
    return 2 * chunk_runs * RUN_WALL_LIMIT_S


def run_chunk(
    seed: int, start: int, stop: int, writer: str | None, misbehaviour: bool
) -> CampaignTotals:
    """The totals of runs ``start`` to ``stop`` of campaign ``seed``: the task an executor runs
    (never raises but for ``KeyboardInterrupt``: crashes are reports)."""
    totals = CampaignTotals(seed)
    for index in range(start, stop):
        totals.add(fuzz_one(seed, index, writer=writer, misbehaviour=misbehaviour))
    return totals


def chunk_failed_report(index: int, seed: int, reason: str, token: str = "") -> RunReport:
    """The report of a run the executor failed to run, also alone (see :func:`lost_run_report`)."""
    return lost_run_report(index, seed, f"the executor failed running it: {reason}", token)


def _why(exc: BaseException) -> str:
    error, _ = describe(exc)
    return error


#: How often a campaign waiting on a chunk looks whether its executor closed (seconds).
POLL_S = 1.0


def closed(executor: object) -> str:
    """Why ``executor`` can give no more answers, if it says so: one with a ``status`` (a dask
    ``Client``) that is closing or closed, as when its scheduler was lost; else ``""``."""
    status = str(getattr(executor, "status", "")).rpartition(".")[2]
    if status in ("closing", "closed"):
        return f"the executor is {status} (its scheduler lost?)"
    return ""


class _Closed(Exception):
    """The executor closed while the campaign waited: no chunk out will answer."""


class _Awaited:
    """A chunk's future and an event set when it is done: the campaign waits on the event
    (Ctrl-C interrupts that wait cleanly), never inside the executor's own ``result()``."""

    def __init__(self, future: Future) -> None:
        self.future = future
        self.finished = threading.Event()
        future.add_done_callback(lambda _: self.finished.set())

    def wait(self, timeout_s: float, executor: object) -> bool:
        """True once done, False after ``timeout_s``; :class:`_Closed` if the executor closed."""
        left = timeout_s
        while left > 0:
            if self.finished.wait(min(left, POLL_S)):
                return True
            left -= POLL_S
            reason = closed(executor)
            if reason:
                raise _Closed(reason)
        return self.finished.is_set()

    def cancel(self) -> None:
        """Cancel the task if the executor still can (a closed one raises: nothing to do)."""
        with contextlib.suppress(Exception):
            self.future.cancel()


class _ChunkFailed(Exception):
    """A chunk's task brought no totals: why, and whether it hung (then it is not run again)."""

    def __init__(self, reason: str, *, hung: bool = False) -> None:
        super().__init__(reason)
        self.reason, self.hung = reason, hung

    def __reduce__(self) -> tuple[type[_ChunkFailed], tuple[str], dict[str, object]]:
        """Pickled with ``hung`` (a keyword the default reduction would drop)."""
        return (type(self), (self.reason,), {"hung": self.hung})


class ExecutorCampaign:
    """One campaign's chunks through an executor, the oldest awaited first.

    ``on_totals`` sees each chunk's totals in run-index order, ``progress()`` is called after
    each (not while a Ctrl-C winds the campaign down). :meth:`run` returns why the
    executor stopped taking work or closed (``""`` when every chunk came back); then, and on
    Ctrl-C, it hands on the chunks that had finished, in order, and cancels the rest (a Ctrl-C
    it lets through).
    """

    def __init__(
        self,
        executor: Executor,
        seed: int,
        task: tuple[str | None, bool],
        in_flight: int,
        timeout_s: float,
        on_totals: Callable[[CampaignTotals], None],
        progress: Callable[[], None],
    ) -> None:
        self.executor, self.seed = executor, seed
        self.writer, self.misbehaviour = task
        self.in_flight, self.timeout_s = in_flight, timeout_s
        self.on_totals, self.progress = on_totals, progress
        self.pending: deque[tuple[int, int, _Awaited]] = deque()

    def run(self, chunks: Iterator[tuple[int, int]]) -> str:
        """Every chunk out and back; why the executor refused more (``""`` if it did not)."""
        stopped = ""
        try:
            while True:
                if not stopped:
                    stopped = self._fill(chunks)
                if not self.pending:
                    return stopped
                start, stop, awaited = self.pending.popleft()
                self.on_totals(self._outcome(start, stop, awaited))
                self.progress()
        except _Closed as gone:
            self._wind_down()
            return str(gone)
        except KeyboardInterrupt:
            self._wind_down()
            raise

    def _fill(self, chunks: Iterator[tuple[int, int]]) -> str:
        """Submit chunks up to ``in_flight``; why the executor refused one, if it did."""
        while len(self.pending) < self.in_flight:
            chunk = next(chunks, None)
            if chunk is None:
                return ""
            start, stop = chunk
            try:
                future = self._submit(start, stop)
            except KeyboardInterrupt:
                raise
            except Exception as exc:  # a shut-down or broken executor takes no more work
                return f"the executor refused work at run {start}: {_why(exc)}"
            self.pending.append((start, stop, future))
        return ""

    def _failed_chunk(self, start: int, stop: int, reason: str) -> CampaignTotals:
        """The totals of runs ``start`` to ``stop`` reported failed for ``reason``."""
        totals = CampaignTotals(self.seed)
        for index in range(start, stop):
            token = fuzz_token(
                self.seed, index, writer=self.writer, misbehaviour=self.misbehaviour
            )
            totals.add(chunk_failed_report(index, run_seed(self.seed, index), reason, token))
        return totals

    def _submit(self, start: int, stop: int) -> _Awaited:
        future: Future = self.executor.submit(
            run_chunk, self.seed, start, stop, self.writer, self.misbehaviour
        )
        return _Awaited(future)

    def _outcome(self, start: int, stop: int, future: _Awaited) -> CampaignTotals:
        """The chunk's totals; if its task failed, its runs' again, each alone (so one run that
        kills its worker is told apart from the rest); a chunk that hangs is not run again."""
        try:
            return self._answer(start, stop, future, self.timeout_s)
        except _ChunkFailed as failed:
            if failed.hung or stop - start == 1:
                return self._failed_chunk(start, stop, failed.reason)
        totals = CampaignTotals(self.seed)
        per_run = self.timeout_s / (stop - start)  # a run alone gets its share of the time
        alone: list[tuple[int, _Awaited | None]] = []
        for index in range(start, stop):
            try:
                alone.append((index, self._submit(index, index + 1)))
            except KeyboardInterrupt:
                raise
            except Exception:  # the executor is refusing work: its reason comes below
                alone.append((index, None))
        try:
            for index, again in alone:
                totals.merge(self._alone(index, again, per_run))
        except BaseException:  # Ctrl-C, or the executor closed: the runs out are dropped
            for _, again in alone:
                if again is not None:
                    again.cancel()
            raise
        return totals

    def _alone(self, index: int, again: _Awaited | None, timeout_s: float) -> CampaignTotals:
        """The totals of run ``index`` run again alone, or its failed report saying why."""
        if again is None:
            reason = "the executor refused to run it again alone"
            return self._failed_chunk(index, index + 1, reason)
        try:
            return self._answer(index, index + 1, again, timeout_s)
        except _ChunkFailed as failed:
            reason = f"{failed.reason}, also when run alone"
            return self._failed_chunk(index, index + 1, reason)

    def _answer(
        self, start: int, stop: int, awaited: _Awaited, timeout_s: float
    ) -> CampaignTotals:
        """The chunk's totals, or :class:`_ChunkFailed` saying why there are none."""
        if not awaited.wait(timeout_s, self.executor):
            awaited.cancel()
            reason = f"no answer within {timeout_s:g} s of real time (a run that hangs?)"
            raise _ChunkFailed(reason, hung=True)
        try:
            totals = awaited.future.result()
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # a lost worker, a broken pool, a cancelled task
            raise _ChunkFailed(_why(exc), hung=False) from None
        if not isinstance(totals, CampaignTotals) or totals.runs != stop - start:
            reason = f"its task gave {type(totals).__name__}, not the totals of its runs"
            raise _ChunkFailed(reason, hung=False)
        return totals

    def _wind_down(self) -> None:
        """Ctrl-C, or the executor closed: the chunks already finished still count (in order);
        the rest are cancelled."""
        while self.pending:
            start, stop, awaited = self.pending.popleft()
            totals: object = None
            if awaited.finished.is_set():
                try:
                    totals = awaited.future.result()
                except Exception:  # a failed chunk, or a closed executor's: no totals
                    totals = None
            if isinstance(totals, CampaignTotals) and totals.runs == stop - start:
                self.on_totals(totals)
            else:
                awaited.cancel()


def chunk_ranges(runs: int, chunk_runs: int) -> Iterator[tuple[int, int]]:
    """The chunks of a campaign, produced as they are needed (``runs`` may be huge)."""
    return ((start, min(start + chunk_runs, runs)) for start in range(0, runs, chunk_runs))
