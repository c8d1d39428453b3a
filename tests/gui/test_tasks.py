"""``gui.tasks.TaskRunner``: a result that arrives after its task was cancelled or replaced never
reaches the window; the progress bar and Cancel follow the tasks that show progress."""

from __future__ import annotations

import threading

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
