"""``gui.tasks.TaskRunner``: a result that arrives after its task was cancelled or replaced never
reaches the window; the progress bar and Cancel follow the tasks that show progress."""

from __future__ import annotations

import gc
import threading
import time

from PySide6 import QtCore, QtWidgets

from ecgviewer.gui.tasks import TaskRunner

_PARENTS: list[QtWidgets.QWidget] = []  # the runners' owners live as long as the tests


def _runner(qtbot) -> tuple[TaskRunner, list[str]]:
    parent = QtWidgets.QWidget()
    _PARENTS.append(parent)
    statuses: list[str] = []
    bar, button = QtWidgets.QProgressBar(parent), QtWidgets.QToolButton(parent)
    return TaskRunner(bar, button, statuses.append, parent), statuses


def _finished_in_the_queue(runner: TaskRunner, key: str, value: object, got: list) -> None:
    """Start a task and wait until its worker has emitted its result (queued for the UI thread,
    not yet delivered)."""
    runner.run(key, key, lambda _progress: value, got.append)
    assert QtCore.QThreadPool.globalInstance().waitForDone(10_000)
    assert got == []  # the result waits in the UI thread's event queue


def test_a_result_that_arrives_after_cancel_is_dropped(qtbot) -> None:
    runner, _ = _runner(qtbot)
    got: list = []
    _finished_in_the_queue(runner, "analysis", "late", got)
    runner.cancel()
    QtWidgets.QApplication.processEvents()
    assert got == [] and not runner.busy()
    assert not runner.progress.isVisible() and not runner.cancel_button.isVisible()


def test_a_replaced_task_delivers_nothing_and_its_successor_does(qtbot) -> None:
    runner, _ = _runner(qtbot)
    got: list = []
    _finished_in_the_queue(runner, "analysis", "old", got)
    release = threading.Event()
    runner.run("analysis", "analysis", lambda _p: release.wait(10) and "new", got.append)
    QtWidgets.QApplication.processEvents()  # the old result's event is processed now: dropped
    release.set()
    qtbot.waitUntil(lambda: got == ["new"], timeout=10_000)
    qtbot.waitUntil(lambda: not runner.busy(), timeout=10_000)


def test_keep_spares_background_tasks_and_failures_reach_the_status_bar(qtbot) -> None:
    runner, statuses = _runner(qtbot)
    got: list = []
    _finished_in_the_queue(runner, "model", "loaded", got)
    runner.cancel(keep=("model",))
    qtbot.waitUntil(lambda: got == ["loaded"], timeout=10_000)

    def fail(_progress):
        raise ValueError("no signal")

    runner.run("measure", "Measuring", fail, got.append)
    qtbot.waitUntil(lambda: statuses != [], timeout=10_000)
    assert statuses == ["Measuring: no signal"] and got == ["loaded"]


def test_garbage_is_collected_on_the_ui_thread_while_tasks_run(qtbot) -> None:
    """A collection in a worker destroys UI objects caught in cycles from the wrong thread (a folder
    scan once deadlocked against the UI that way): while a task runs, collections happen on the UI
    thread only, and automatic collection is back once the last task has ended."""
    runner, _ = _runner(qtbot)
    threads: set[str] = set()

    def note(phase: str, _info: dict) -> None:
        if phase == "start":
            threads.add(threading.current_thread().name)

    def make_cycles(_progress) -> bool:
        enabled, end = gc.isenabled(), time.monotonic() + 0.8  # the UI's collector ticks meanwhile
        while time.monotonic() < end:
            for _ in range(1000):
                cycle: list = []
                cycle.append(cycle)
        return enabled

    got: list = []
    gc.callbacks.append(note)
    try:
        runner.run("cycles", "cycles", make_cycles, got.append)
        qtbot.waitUntil(lambda: got != [], timeout=10_000)
        qtbot.waitUntil(gc.isenabled, timeout=30_000)  # once every task, an earlier test's too, ended
    finally:
        gc.callbacks.remove(note)
    assert got == [False]  # automatic collection was off while the worker allocated
    assert threads == {threading.main_thread().name}


def test_an_open_window_collects_garbage_from_its_event_loop_only(qtbot, settings) -> None:
    """While a window is open, automatic collection is off (one inside a Qt call that held a lock
    once deadlocked on the widget it destroyed) and the UI's timer collects instead; once the
    windows are gone, their garbage is collected at once and collection is automatic again."""
    from ecgviewer.gui import workers
    from tests.helpers import shown_window

    window = shown_window(qtbot, settings)
    stops: list[str] = []

    def note(phase: str, _info: dict) -> None:
        if phase == "stop":
            stops.append(threading.current_thread().name)

    gc.callbacks.append(note)
    try:
        assert not gc.isenabled()
        for _ in range(5000):  # young garbage far past the automatic threshold
            cycle: list = []
            cycle.append(cycle)
        assert stops == []  # nothing collected outside the event loop
        qtbot.waitUntil(lambda: stops != [], timeout=5000)  # the UI's timer did
        assert set(stops) == {threading.main_thread().name}
    finally:
        gc.callbacks.remove(note)
    window.cancel_tasks()
    window.close()
    assert QtCore.QThreadPool.globalInstance().waitForDone(60_000)  # the model was loading
    qtbot.wait(50)  # the tasks' last signals reach the UI thread
    workers.collect_anywhere()
    assert gc.isenabled()


def test_the_imports_are_frozen_out_of_collections_once_the_model_loads(qtbot, settings) -> None:
    """A full collection on the UI thread once scanned every object the imports made (about 200 ms
    with torch): once the model has loaded they are frozen, and freed again with the windows."""
    from ecgviewer.gui import workers
    from tests.helpers import shown_window

    workers.collect_anywhere()
    assert gc.get_freeze_count() == 0
    window = shown_window(qtbot, settings)
    if window.ai.analyzer is None:
        with qtbot.waitSignal(window.ai.modelReady, timeout=60_000):
            window.ai.load_model()
    assert gc.get_freeze_count() > 50_000  # the imports: Qt, pyqtgraph, torch
    window.cancel_tasks()
    window.close()
    assert QtCore.QThreadPool.globalInstance().waitForDone(60_000)
    qtbot.wait(50)
    workers.collect_anywhere()
    assert gc.get_freeze_count() == 0
