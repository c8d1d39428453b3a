"""Where the beat list's pages are measured (``rhythm.detect``): two threads of this process, or
for a long recording one thread and one worker process.

A page's many small NumPy and Python steps hold the interpreter's lock between the convolutions'
releases of it, so two threads wait on each other: two threads measured 60 pages each at 24 ms of
wall time a page, two processes at 19.5 ms (64 s pages of 3 leads, 2 cores; alone, one page took
39 ms either way; session 120). So a long recording's pages are shared by a thread here and a
worker process, each page going to the lane with fewer pages waiting. The process is started with
``spawn`` (forking a process that runs Qt's and torch's threads is unsafe) and kept for the next
recording read with the same networks. Starting it (importing torch, building the 8-bit networks)
takes 2-3 s of a core the threads are measuring on, which a recording must be long enough to repay
(``START_MIN_S``); once it runs, shorter ones use it too (``USE_MIN_S``). A spawned process imports
the program's main module again, which must not start its work on import: the app's entry points,
which guard it, opt in (``allow``); other callers (scripts, notebooks, ``training``) and processes
that are workers themselves (``index --analyze``) use threads only. Results do not depend on where
a page was measured: the same function, one thread for torch and BLAS in each, the same 8-bit
engine.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import pickle
import threading
from collections.abc import Callable
from concurrent.futures import CancelledError, Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

THREADS = 2  # threads while no worker process helps (one for each of 2 cores)
# A recording this long starts the worker process; one this long uses it once it runs. The 3-lead
# day's first hours (2 cores, session 120), its beat list with threads only against with a worker
# process started for it: 1 h 2.8 against 4.1 s, 3 h 5.7 against 6.7 s, 8 h 17.9 against 14.6 s,
# 24 h 37.5-42.5 against 31.3-34.4 s; with the worker process already running, 1 h 2.1 against 1.4 s
START_MIN_S = 6 * 3600.0
USE_MIN_S = 600.0
CHILD = -1  # the worker process's lane

_lock = threading.Lock()
_allowed = {"processes": False}
_state: dict[str, Any] = {}  # in a worker process: the function and the networks it measures with


@dataclass
class _Child:
    key: str  # digest of the pickled function and networks
    pool: ProcessPoolExecutor
    ready: Future  # done once the process has built its networks
    broken: bool = False

    def usable(self) -> bool:
        return not self.broken and self.ready.done() and self.ready.exception() is None


_child: _Child | None = None


def allow(processes: bool = True) -> None:
    """Let long recordings' pages go to a worker process (the app's entry points: their main
    modules are safe to import again)."""
    _allowed["processes"] = processes


def _start(blob: bytes) -> None:
    """A worker process's start: one thread for torch and BLAS (the other core is the parent's),
    the networks built before the first page arrives, Ctrl-C left to the parent."""
    import signal

    import torch
    from threadpoolctl import threadpool_limits

    from ecgviewer.memory import keep_freed_memory

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    keep_freed_memory()
    torch.set_num_threads(1)
    _state["limits"] = threadpool_limits(limits=1, user_api="blas")  # kept: it holds while referenced
    measure, shared = pickle.loads(blob)
    for item in shared:
        if hasattr(item, "built"):
            item.built()
    _state["measure"], _state["shared"] = measure, shared


def _ready() -> bool:
    return "measure" in _state


def _in_child(args: tuple) -> Any:
    return _state["measure"](*args, *_state["shared"])


def _child_for(measure: Callable[..., Any], shared: tuple, start: bool) -> _Child | None:
    """The worker process for these networks: the running one, or where ``start``, one started
    now (the one before, for other networks, is let go); None where processes are not allowed."""
    global _child
    if not _allowed["processes"] or multiprocessing.parent_process() is not None:
        return None  # not allowed, or a worker itself: no workers of its own
    if _child is None and not start:
        return None
    blob = pickle.dumps((measure, shared))  # a few MB: only where a worker may be used
    key = hashlib.sha256(blob).hexdigest()
    with _lock:
        if _child is not None and _child.key == key and not _child.broken:
            return _child
        if not start:
            return None
        if _child is not None:
            _child.pool.shutdown(wait=False, cancel_futures=True)
        context = multiprocessing.get_context("spawn")
        pool = ProcessPoolExecutor(1, mp_context=context, initializer=_start, initargs=(blob,))
        _child = _Child(key, pool, pool.submit(_ready))
        return _child


def shutdown() -> None:
    """Stop the worker process, if one runs (the bench, to read its peak memory; tests)."""
    global _child
    with _lock:
        if _child is not None:
            _child.pool.shutdown(wait=True, cancel_futures=True)
        _child = None


class Task:
    """One page's measurement on a lane (``lane``: a thread's index, or CHILD); ``result``
    measures it in the caller's thread if the worker process died under it (killed, out of
    memory) or was let go (another recording's networks)."""

    def __init__(self, future: Future, lane: int, again: Callable[[], Any]) -> None:
        self.future, self.lane, self.again = future, lane, again

    def result(self) -> Any:
        try:
            return self.future.result()
        except (BrokenProcessPool, CancelledError):
            if self.lane != CHILD:
                raise
            return self.again()

    def cancel(self) -> bool:
        return self.future.cancel()


class Pages:
    """Runs ``measure(*args, *shared)`` for each page submitted, on the lane with fewest pages
    waiting: two threads, or one thread and the worker process once it is ready (for a recording
    of ``seconds``: START_MIN_S and USE_MIN_S). ``depth``: how many pages a caller keeps in flight,
    enough that no lane waits while the oldest page is collected."""

    depth = 6

    def __init__(self, measure: Callable[..., Any], shared: tuple, seconds: float) -> None:
        self.measure, self.shared = measure, shared
        self.threads = [ThreadPoolExecutor(1) for _ in range(THREADS)]
        wanted = seconds >= USE_MIN_S
        self.child = _child_for(measure, shared, seconds >= START_MIN_S) if wanted else None
        self.waiting: dict[int, list[Future]] = {}

    def submit(self, *args: Any) -> Task:
        again = lambda: self.measure(*args, *self.shared)  # noqa: E731
        child = self.child if self.child is not None and self.child.usable() else None
        lanes = [0, CHILD] if child is not None else list(range(THREADS))
        for lane in lanes:
            self.waiting[lane] = [f for f in self.waiting.get(lane, []) if not f.done()]
        lane = min(lanes, key=lambda k: len(self.waiting[k]))
        future = None
        if child is not None and lane == CHILD:
            try:
                future = child.pool.submit(_in_child, args)
                future.add_done_callback(lambda f: _broke(child, f))
            except (BrokenProcessPool, RuntimeError) as exc:  # died or let go: the rest go to threads
                child.broken |= isinstance(exc, BrokenProcessPool)
                self.child, lane = None, 0
        if future is None:
            future = self.threads[lane].submit(again)
        self.waiting[lane].append(future)
        return Task(future, lane, again)

    def __enter__(self) -> Pages:
        return self

    def __exit__(self, *exc: object) -> None:
        for futures in self.waiting.values():
            for future in futures:
                future.cancel()
        for pool in self.threads:
            pool.shutdown(wait=True)


def _broke(child: _Child, future: Future) -> None:
    if not future.cancelled() and isinstance(future.exception(), BrokenProcessPool):
        child.broken = True
