"""The window's background work: one task per key, the status bar's progress and Cancel, and
results delivered only while their task is still wanted.

A worker thread emits its result into the UI thread's event queue; the user may cancel (or a
newer task may replace it) before that event is processed. The runner therefore receives every
result itself and hands it on only if the task is still the current one for its key and was not
cancelled: a late result never reaches the window.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6 import QtCore, QtWidgets

from ecgviewer.gui import workers

Job = Callable[[Callable[[float], bool]], object]  # fn(progress) -> result


class TaskRunner(QtCore.QObject):
    """``run(key, title, fn, on_done)`` starts ``fn`` on the thread pool, replacing (and
    cancelling) the task of the same key; ``cancel(keep)`` cancels all but ``keep``. ``shown``
    says when the progress bar comes and goes: the status bar's other labels make room for it."""

    shown = QtCore.Signal(bool)

    def __init__(
        self,
        progress: QtWidgets.QProgressBar,
        cancel_button: QtWidgets.QAbstractButton,
        status: Callable[[str], None],
        parent: QtCore.QObject,
    ) -> None:
        super().__init__(parent)
        self.progress, self.cancel_button, self.status = progress, cancel_button, status
        self.tasks: dict[str, workers.Task] = {}
        self._quiet: set[str] = set()  # keys that show no progress bar
        self._on_done: dict[QtCore.QObject, tuple[workers.Task, Callable[[object], object]]] = {}

    def run(self, key: str, title: str, fn: Job, on_done: Callable, quiet: bool = False) -> workers.Task:
        old = self.tasks.pop(key, None)
        if old is not None:
            old.cancel()
        task = workers.Task(fn, title or key)
        self.tasks[key] = task
        self._on_done[task.signals] = (task, on_done)
        self._quiet.discard(key)
        if quiet:
            self._quiet.add(key)
        else:
            task.signals.progress.connect(self._progress)
            self.progress.setValue(0)
            self.progress.setFormat(f"{title} %p%")
            self.progress.show()
            self.cancel_button.show()
            self.shown.emit(True)
        task.signals.done.connect(self._done)
        task.signals.failed.connect(self._failed)
        task.signals.ended.connect(self._ended)
        return workers.start(task)

    def cancel(self, keep: tuple[str, ...] = ()) -> None:
        """Cancel background work (all of it, or all but the ``keep`` keys)."""
        for key in [k for k in self.tasks if k not in keep]:
            self.tasks.pop(key).cancel()
        self._update_bar()

    def busy(self) -> bool:
        return bool(self.tasks)

    def _current(self) -> tuple[workers.Task, Callable[[object], object]] | None:
        """The sending task and its callback, if it is still wanted."""
        entry = self._on_done.get(self.sender())
        if entry is None or entry[0].cancelled or entry[0] not in self.tasks.values():
            return None
        return entry

    def _done(self, result: object) -> None:
        entry = self._current()
        if entry is not None:
            entry[1](result)

    def _progress(self, fraction: float) -> None:
        if self._current() is not None:
            self.progress.setValue(int(fraction * 1000))

    def _failed(self, message: str) -> None:
        if self._current() is not None:
            self.status(message)

    def _ended(self) -> None:
        ended = self.sender()
        self._on_done.pop(ended, None)
        self.tasks = {k: t for k, t in self.tasks.items() if t.signals is not ended}
        self._update_bar()

    def _update_bar(self) -> None:
        if not any(k not in self._quiet for k in self.tasks):
            self.progress.hide()
            self.cancel_button.hide()
            self.shown.emit(False)
