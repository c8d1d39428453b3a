"""A long recording's pages shared with a worker process (``measure.workers``): the beat list
must be the one this process alone makes, also when the worker process dies under it."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from concurrent.futures import Future

import numpy as np
import pytest

from ecgviewer.measure import rhythm as R
from ecgviewer.measure import workers as W
from tests.measure.beat_records import record
from training.validate.synthetic_beats import premature_beats

FIELDS = ("t_s", "kind", "fiducials_ms", "features", "shapes")


def _lanes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    seen: list[int] = []
    submit = W.Pages.submit

    def spy(self: W.Pages, *args: object) -> W.Task:
        task = submit(self, *args)
        seen.append(task.lane)
        return task

    monkeypatch.setattr(W.Pages, "submit", spy)
    return seen


def _alike(a: R.Detected, b: R.Detected) -> None:
    for field in FIELDS:
        assert np.array_equal(getattr(a, field), getattr(b, field), equal_nan=True), field


def test_a_worker_process_measures_pages_as_this_process_does_and_dying_loses_none(beat, monkeypatch):
    beats, _, seconds = premature_beats(beat)  # three pages, with ectopic beats and a pause
    rec = record(beats, seconds)
    here = R.detect(rec)
    assert W._child is None  # not allowed (only the app's ways in allow it): threads only
    monkeypatch.setattr(W, "START_MIN_S", 0.0)
    monkeypatch.setattr(W, "USE_MIN_S", 0.0)
    monkeypatch.setitem(W._allowed, "processes", True)
    lanes = _lanes(monkeypatch)
    try:
        R.detect(rec)  # starts the worker process; its pages go to threads meanwhile
        child = W._child
        assert child is not None
        child.ready.result(timeout=120)
        lanes.clear()
        _alike(R.detect(rec), here)
        assert W._child is child  # kept for the same networks
        assert W.CHILD in lanes and 0 in lanes
        for pid in list(child.pool._processes):  # killed (out of memory, say) under the next list
            os.kill(pid, signal.SIGKILL)
        _alike(R.detect(rec), here)  # its pages measured here instead
        assert child.broken  # the next long recording starts another
    finally:
        W.shutdown()


class _Pool:
    """A worker process's pool that starts no process: ``_child_for``'s choices alone."""

    def __init__(self, workers: int, **_: object) -> None:
        self.workers = workers

    def submit(self, fn: Callable[..., object], *args: object) -> Future:
        future: Future = Future()
        future.set_result(fn(*args))
        return future

    def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
        pass


def test_a_shorter_recording_uses_a_running_worker_process_but_starts_none(monkeypatch):
    monkeypatch.setitem(W._allowed, "processes", True)
    monkeypatch.setattr(W, "ProcessPoolExecutor", _Pool)
    with W.Pages(max, (0,), W.START_MIN_S - 1) as pages:
        assert pages.child is None
        assert [pages.submit(k).result() for k in (-1, 2)] == [0, 2]
    try:
        with W.Pages(max, (0,), W.START_MIN_S) as pages:
            child = pages.child
            assert child is not None
        with W.Pages(max, (0,), W.USE_MIN_S) as pages:
            assert pages.child is child
        with W.Pages(max, (0,), W.USE_MIN_S - 1) as pages:
            assert pages.child is None
        with W.Pages(min, (0,), W.USE_MIN_S) as pages:  # other networks: not that one's
            assert pages.child is None and W._child is child
        with W.Pages(min, (0,), W.START_MIN_S) as pages:  # ... which a long one replaces
            assert pages.child is not None and pages.child is not child
    finally:
        W.shutdown()
    monkeypatch.setattr(W.multiprocessing, "parent_process", lambda: object())
    with W.Pages(max, (0,), W.START_MIN_S) as pages:  # a worker itself
        assert pages.child is None
