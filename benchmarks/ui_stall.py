"""ui_max_stall_ms: the longest UI-thread stall while an analysis runs, in a fresh GUI process.

``run.py`` calls ``bench(repeats)``, which runs this file as a child (offscreen, a temporary
settings ini) and reads the one JSON object it prints. The child drives the real
``MainWindow``: a heartbeat ``QTimer`` ticks every ``TICK_MS`` on the UI thread, and a stall is
how much later than ``TICK_MS`` a tick came after the one before. Whatever keeps the event loop
from running shows up: slots and paints on the UI thread, and waits for the GIL while a worker
thread holds it (imports, C calls that keep it).

``python benchmarks/ui_stall.py --repeats 3 --where 80`` also dumps every thread's stack to
stderr whenever a tick is 80 ms late (``faulthandler``, which needs no GIL): where a stall is.
"""

from __future__ import annotations

import argparse
import faulthandler
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from itertools import pairwise
from pathlib import Path
from typing import NamedTuple

from common import pct

ROOT = Path(__file__).resolve().parent.parent
TICK_MS = 5
WINDOW_SIZE = (1500, 950)
SETTLE_MS = 300  # after each result: the paper repaints its shading, the panels paint
WAIT_S = 300.0  # the model load imports torch: slow on a busy machine
CHILD_TIMEOUT_S = 900
SCHEDSTAT = "/proc/thread-self/schedstat"  # Linux: a thread's time on a core and waiting for one (ns)
DEFINITION = (
    f"a QTimer (PreciseTimer, {TICK_MS} ms) on the UI thread records perf_counter at each tick; a stall "
    f"is the gap between consecutive ticks minus {TICK_MS} ms. Measured phase: per repeat, the analyzer "
    "cache emptied, window.ai.analyse() (predictions, Integrated Gradients with 32 steps, attention, "
    f"on the bundled sample), the event loop run until resultShown and {SETTLE_MS} ms after it (the "
    "shading and panels repaint); max and 99th percentile of the stalls over every repeat"
)


class Stall(NamedTuple):
    """One gap between two ticks and what the UI thread did in it."""

    ms: float  # how much later than TICK_MS the tick came
    cpu_ms: float  # the UI thread ran (its own work)
    runqueue_ms: float  # the UI thread was ready but waited for a core (NaN where not known)
    end: float  # perf_counter of the tick that ended it

    @property
    def asleep_ms(self) -> float:
        """Neither running nor waiting for a core: the timer's own wait, or a wait for the GIL."""
        return self.ms + TICK_MS - self.cpu_ms - self.runqueue_ms


def bench(repeats: int) -> dict:
    """Run the child with ``repeats`` measured analyses; its JSON, or ``error``."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    cmd = [sys.executable, str(Path(__file__).resolve()), "--repeats", str(repeats)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=CHILD_TIMEOUT_S, cwd=ROOT)
    if proc.returncode != 0:
        return {"error": f"ui_stall child failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


class Heartbeat:
    """Wall time, UI-thread CPU time and UI-thread run-queue wait at each tick of a fast timer on
    the UI thread: together they tell a stall spent working on the UI thread from one spent
    waiting for a core (other threads and processes) and from one spent asleep (the GIL)."""

    def __init__(self, where_ms: float | None = None) -> None:
        from PySide6 import QtCore

        self.where_s = None if where_ms is None else where_ms / 1e3
        self.ticks: list[tuple[float, float, float]] = []  # (perf_counter, CPU s, run-queue wait s)
        try:  # opened on the UI thread, so it reads the UI thread's figures
            self._schedstat: int | None = os.open(SCHEDSTAT, os.O_RDONLY)
        except OSError:
            self._schedstat = None
        self.timer = QtCore.QTimer(interval=TICK_MS, timerType=QtCore.Qt.TimerType.PreciseTimer)
        self.timer.timeout.connect(self._tick)
        self.timer.start()

    def _tick(self) -> None:
        now = time.perf_counter()
        if self.where_s is not None:
            if self.ticks and now - self.ticks[-1][0] > self.where_s:
                print(
                    f"[ui_stall] the stall above: {(now - self.ticks[-1][0]) * 1e3:.0f} ms", file=sys.stderr
                )
            faulthandler.dump_traceback_later(self.where_s, file=sys.stderr)
        if self._schedstat is None:
            self.ticks.append((now, time.thread_time(), math.nan))
        else:
            cpu_ns, wait_ns = os.pread(self._schedstat, 128, 0).split()[:2]
            self.ticks.append((now, int(cpu_ns) / 1e9, int(wait_ns) / 1e9))

    def stop(self) -> None:
        self.timer.stop()
        faulthandler.cancel_dump_traceback_later()
        if self._schedstat is not None:
            os.close(self._schedstat)

    def next_tick(self, t: float) -> float:
        """The first tick after ``t``: a window starting there leaves out the gap ``t`` fell in."""
        return next(w for w, _, _ in self.ticks if w > t)

    def stalls(self, t0: float, t1: float) -> list[Stall]:
        """Every tick ending in (t0, t1]."""
        return [
            Stall((b[0] - a[0]) * 1e3 - TICK_MS, (b[1] - a[1]) * 1e3, (b[2] - a[2]) * 1e3, b[0])
            for a, b in pairwise(self.ticks)
            if t0 < b[0] <= t1
        ]


def _r(x: float) -> float | None:
    return None if math.isnan(x) else round(x, 1)


def stall_summary(stalls: list[Stall], origin: float) -> dict:
    """Max, p99, the max less the UI thread's waits for a core (what the stall would be had it
    never waited for one), and the five longest stalls split into the UI thread's CPU time,
    run-queue wait and sleep."""
    ms = [max(0.0, s.ms) for s in stalls]
    return {
        "max_ms": round(max(ms), 1),
        "p99_ms": round(pct(ms, 99), 1),
        "max_less_runqueue_ms": _r(max(s.ms - s.runqueue_ms for s in stalls)),
        "ticks": len(ms),
        "longest": [
            {
                "stall_ms": round(s.ms, 1),
                "ui_cpu_ms": round(s.cpu_ms, 1),
                "ui_runqueue_ms": _r(s.runqueue_ms),
                "ui_asleep_ms": _r(s.asleep_ms),
                "at_s": round(s.end - origin, 3),
            }
            for s in sorted(stalls, reverse=True)[:5]
        ],
    }


def child(repeats: int, where_ms: float | None) -> dict:
    """Open the sample in a shown window, wait for the model and a warm-up analysis, then time
    ``repeats`` analyses with the heartbeat running throughout."""
    from PySide6 import QtCore

    from ecgviewer.assets import sample_path
    from ecgviewer.gui import workers
    from ecgviewer.gui.main_window import MainWindow
    from ecgviewer.gui.settings import Settings
    from ecgviewer.render.painting import ensure_app

    ensure_app()

    def wait_for(signal, action=lambda: None, timeout_s: float = WAIT_S) -> None:
        """Run ``action`` and then the event loop until ``signal`` fires."""
        fired: list[bool] = []
        loop = QtCore.QEventLoop()

        def on_signal(*_args: object) -> None:
            fired.append(True)
            loop.quit()

        signal.connect(on_signal)
        QtCore.QTimer.singleShot(int(timeout_s * 1e3), loop.quit)
        action()
        if not fired:
            loop.exec()
        signal.disconnect(on_signal)
        if not fired:
            raise TimeoutError(f"no {signal} within {timeout_s:.0f} s")

    def settle() -> None:
        loop = QtCore.QEventLoop()
        QtCore.QTimer.singleShot(SETTLE_MS, loop.quit)
        loop.exec()

    tmp = tempfile.TemporaryDirectory(prefix="ecgbench-stall-")
    window = MainWindow(Settings(QtCore.QSettings(f"{tmp.name}/s.ini", QtCore.QSettings.Format.IniFormat)))
    ai = window.ai
    show_ms: list[float] = []
    show_cpu_ms: list[float] = []
    analysed = ai._analysed  # fills the panels, the tree and the shading, then emits resultShown

    def timed_analysed(result: object) -> None:
        t, c = time.perf_counter(), time.thread_time()
        analysed(result)
        show_ms.append((time.perf_counter() - t) * 1e3)
        show_cpu_ms.append((time.thread_time() - c) * 1e3)

    ai._analysed = timed_analysed  # analyse() looks it up at each call: no app code changed
    marks: dict[str, float] = {}

    def painted() -> None:  # the app starts loading the model at the recording's first paint
        if window.recording is not None:
            marks.setdefault("first_paint", time.perf_counter())

    window.paper.painted.connect(painted)
    window.resize(*WINDOW_SIZE)
    window.show()
    beat = Heartbeat(where_ms)
    marks["shown"] = time.perf_counter()
    wait_for(ai.modelReady, lambda: window.open_file(sample_path()))
    marks["model_ready"] = time.perf_counter()
    wait_for(ai.resultShown)  # the analysis the window starts once the model is there
    settle()
    marks["first_result"] = time.perf_counter()
    ai.analyzer.cache.clear()
    wait_for(ai.resultShown, ai.analyse)  # warm-up: a second full analysis, untimed
    settle()
    warmup_show_ms, show_ms[:], show_cpu_ms[:] = list(show_ms), [], []

    walls, spans = [], []
    for _ in range(repeats):
        ai.analyzer.cache.clear()
        t0 = time.perf_counter()
        wait_for(ai.resultShown, ai.analyse)
        walls.append((time.perf_counter() - t0) * 1e3)
        settle()
        spans.append((t0, time.perf_counter()))
    beat.stop()
    measured = [s for t0, t1 in spans for s in beat.stalls(t0, t1)]
    whole = stall_summary(measured, spans[0][0])
    since_shown = stall_summary(beat.stalls(marks["shown"], marks["model_ready"]), marks["shown"])
    # From the tick after the recording's first paint: the paint itself is the open's, not the load's.
    load = stall_summary(
        beat.stalls(beat.next_tick(marks["first_paint"]), marks["model_ready"]), marks["shown"]
    )
    first = stall_summary(beat.stalls(marks["model_ready"], marks["first_result"]), marks["shown"])

    import torch

    out = {
        "ui_max_stall_ms": whole["max_ms"],
        "ui_stall_p99_ms": whole["p99_ms"],
        "ui_max_stall_less_runqueue_ms": whole["max_less_runqueue_ms"],
        "ui_stall_during_model_load_ms": load["max_ms"],
        "ui_stall_first_analysis_ms": first["max_ms"],
        "repeats": repeats,
        "analysis_wall_ms_median": round(statistics.median(walls), 1),
        "show_result_ms_median": round(statistics.median(show_ms), 1),
        "show_result_cpu_ms_median": round(statistics.median(show_cpu_ms), 1),
        "torch_threads": torch.get_num_threads(),
        "device": str(ai.analyzer.device),
        "definition": DEFINITION,
        "measured": whole,
        "max_stall_per_repeat_ms": [round(max(s.ms for s in beat.stalls(*span)), 1) for span in spans],
        "analysis_wall_ms": [round(x, 1) for x in walls],
        "show_result_ms": [round(x, 1) for x in show_ms],
        "show_result_warmup_ms": [round(x, 1) for x in warmup_show_ms],
        "last_analysis_timings_ms": {k: round(v, 1) for k, v in ai.result.timings.items()},
        "startup": {
            "note": "at_s counts from window.show(); the model load starts at the recording's first paint",
            "shown_to_first_paint_s": round(marks["first_paint"] - marks["shown"], 3),
            "shown_to_model_ready_s": round(marks["model_ready"] - marks["shown"], 3),
            "model_ready_to_first_result_s": round(marks["first_result"] - marks["model_ready"], 3),
            "shown_to_model_ready": since_shown,
            "first_paint_to_model_ready": load,
            "first_analysis": first,
        },
        "window_size": list(WINDOW_SIZE),
    }
    window.cancel_tasks()
    workers.shutdown()
    window.close()
    tmp.cleanup()
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument(
        "--where", type=float, metavar="MS", help="dump all threads' stacks when a tick is MS late"
    )
    args = p.parse_args()
    print(json.dumps(child(args.repeats, args.where)))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    raise SystemExit(main())
