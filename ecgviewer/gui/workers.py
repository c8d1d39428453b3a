"""Background jobs: long work runs on the thread pool, reports progress and can be cancelled."""

from __future__ import annotations

import gc
import logging
from collections.abc import Callable

from pyqtgraph.util.garbage_collector import GarbageCollector
from PySide6 import QtCore

from ecgviewer.errors import Cancelled, plain_cause

log = logging.getLogger(__name__)


class _Signals(QtCore.QObject):
    progress = QtCore.Signal(float)
    done = QtCore.Signal(object)
    failed = QtCore.Signal(str)
    ended = QtCore.Signal()  # always, last: the task may be released after this


# Tasks stay referenced from start until they end, even when their owner has dropped them
# (a replaced or cancelled task still runs to its next progress check).
_running: set[Task] = set()

# Python's cyclic collector runs wherever an allocation passes its threshold. Run in a worker, it
# destroys UI-thread Qt objects caught in cycles from the wrong thread, which can deadlock against
# the UI thread (seen: a folder scan frozen mid-CSV while the UI waited on it). Run on the UI thread
# inside a Qt call that holds a lock (seen: PySide looking up a Python override during
# QObject::disconnect), a destroyed widget waits on that same lock for ever. So while a window is
# open (``collect_on_ui_thread``) or a task runs, automatic collection is off and pyqtgraph's
# collector runs it from the UI thread's event loop, outside every Qt call.
_collector: GarbageCollector | None = None
_window_open = False


class Task(QtCore.QRunnable):
    """Runs ``fn(progress)`` off the UI thread; ``progress(fraction)`` returns False once
    cancelled. Results arrive on the UI thread through ``signals.done`` / ``signals.failed``
    (nothing is emitted after a cancel)."""

    def __init__(self, fn: Callable[[Callable[[float], bool]], object], name: str) -> None:
        super().__init__()
        self.fn, self.name = fn, name
        self.signals = _Signals()
        self._cancelled = False
        self.setAutoDelete(False)  # the owner keeps it alive until it reports

    def cancel(self) -> None:
        self._cancelled = True

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    def _emit(self, signal_name: str, *args: object) -> None:
        try:
            getattr(self.signals, signal_name).emit(*args)
        except RuntimeError:  # the application is shutting down: nobody is listening any more
            self._cancelled = True

    def _progress(self, fraction: float) -> bool:
        if not self._cancelled:
            self._emit("progress", fraction)
        return not self._cancelled

    def run(self) -> None:
        try:
            result = self.fn(self._progress)
        except Cancelled:
            pass  # stopped at a progress check after a cancel: nothing to report
        except Exception as exc:  # reported to the UI, never raised into Qt's thread pool
            # The name may hold a file name (a patient identifier, in some clinics): not logged.
            log.warning("a background task failed: %s", type(exc).__name__)
            if not self._cancelled:
                self._emit("failed", f"{self.name}: {plain_cause(exc)}")  # quoted values withheld
        else:
            if not self._cancelled:
                self._emit("done", result)
        finally:
            self._emit("ended")


def shutdown(timeout_ms: int = 3000) -> None:
    """Cancel every running task and give them ``timeout_ms`` to reach a progress check."""
    for task in list(_running):
        task.cancel()
    QtCore.QThreadPool.globalInstance().waitForDone(timeout_ms)


def _collect_from_event_loop() -> None:
    global _collector
    if _collector is None:
        # Turns automatic collection off. Checked every 20 ms so that each collection stays small:
        # at 250 ms the young generations grew during an analysis until one collection held the
        # UI thread 115-143 ms (benchmarks/ui_stall.py on a 2-core AVX-512 machine; 13-18 ms now).
        _collector = GarbageCollector(interval=0.02)


def collect_on_ui_thread() -> None:
    """From now on (a window opens), garbage is collected from the UI thread's event loop only."""
    global _window_open
    _window_open = True
    _collect_from_event_loop()


def freeze_long_lived() -> None:
    """Leave every object alive now out of later collections (``gc.freeze``). Called once the
    model has loaded, when what is alive is mostly what the imports made (Qt, pyqtgraph, torch,
    captum: some 270,000 objects the collector tracks): the UI thread's full collections then scan
    only what came after, where they scanned those too and took about 200 ms, one analysis in ten
    (``benchmarks/ui_stall.py``; pyqtgraph's collector runs one every tenth collection of the
    middle generation, without Python's own rule that spares them). Frozen garbage in a cycle stays
    until ``collect_anywhere``."""
    gc.freeze()


def collect_anywhere() -> None:
    """The windows are gone (tests, between windows): collect their garbage now, frozen or not,
    from the caller, which must be outside any Qt call, and let Python collect automatically again
    once no task runs."""
    global _window_open
    _window_open = False
    gc.unfreeze()
    gc.collect()
    _stop_collector()


def start(task: Task) -> Task:
    """Run ``task`` on the global thread pool (from the UI thread); it is kept alive until it has
    ended, and while any task runs, garbage is collected on the UI thread only."""
    _collect_from_event_loop()
    _running.add(task)
    task.signals.ended.connect(lambda: _ended(task))
    QtCore.QThreadPool.globalInstance().start(task)
    return task


def _ended(task: Task) -> None:
    """On the UI thread, after ``task``'s last signal: with no window open, the last task out turns
    automatic collection back on."""
    _running.discard(task)
    _stop_collector()


def _stop_collector() -> None:
    global _collector
    if not _running and not _window_open and _collector is not None:
        _collector.timer.stop()
        _collector = None
        gc.enable()
