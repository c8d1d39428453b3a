"""Shared pieces of the benchmark: statistics, the paper view under test and how it is painted."""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

VIEW_SIZE = (1600, 900)
# The shared data beside the repository (``ECGVIEWER_SHARED_DATA`` elsewhere): benches that need
# it say so and skip when it is absent.
SHARED = Path(
    os.environ.get("ECGVIEWER_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
)


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def pct(values: list[float], q: float) -> float:
    """The q-th percentile (0-100), linear interpolation between order statistics."""
    xs = sorted(values)
    if not xs:
        return float("nan")
    k = (len(xs) - 1) * q / 100.0
    lo, hi = int(k), min(int(k) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def summary(values: list[float], digits: int = 2) -> dict:
    """Median, p90, min, max and every sample, rounded."""
    return {
        "median": round(statistics.median(values), digits),
        "p90": round(pct(values, 90), digits),
        "min": round(min(values), digits),
        "max": round(max(values), digits),
        "n": len(values),
        "samples": [round(v, digits) for v in values],
    }


def timed(fn: Callable[[], object]) -> float:
    """Seconds ``fn`` took (perf_counter)."""
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


class ShownPaper:
    """A shown ``PaperView`` of ``VIEW_SIZE`` on the (offscreen) screen, counting its paints.

    ``paint()`` is what the benchmark calls "painted": see its docstring. It does what the
    app's event loop does, synchronously. Two things it avoids: ``PaperView.repaint()`` does not
    repaint a QGraphicsView's viewport at all (0 paints measured), and ``viewport().repaint()``
    right after a change paints twice (the scene's queued dirty-item processing then asks for
    a second paint), which the real event loop does not do.
    """

    def __init__(self, layout: str = "3x4+1") -> None:
        from PySide6 import QtWidgets

        from ecgviewer.gui.paper import PaperView
        from ecgviewer.render.options import ViewOptions
        from ecgviewer.render.painting import ensure_app

        self.QtWidgets = QtWidgets
        self.app = ensure_app()
        self.view = PaperView()
        self.view.resize(*VIEW_SIZE)
        self.view.show()
        self.view.set_options(ViewOptions(layout=layout))
        self.paints = 0
        self.view.painted.connect(self._count)
        self.process()

    def _count(self) -> None:
        self.paints += 1

    def process(self) -> None:
        self.QtWidgets.QApplication.processEvents()

    def set_layout(self, layout: str) -> None:
        self.view.set_options(self.view.options.with_(layout=layout))
        self.view.true_scale()
        self.paint()

    def open(self, rec) -> None:
        """What the main window does with a loaded recording, paint included."""
        self.view.set_recording(rec)
        self.view.true_scale()
        self.paint()

    def paint(self) -> None:
        """Let the event loop do what it does after a change (the scene processes its dirty
        items, the window gets its update request and paints); when that painted nothing
        (nothing had changed), force a synchronous repaint of the viewport."""
        before = self.paints
        self.process()
        if self.paints == before:
            self.view.viewport().repaint()
            self.process()

    def grab(self):
        return self.view.grab()

    def ink_pixels(self) -> int:
        """Near-black pixels in a grab of the view: > 0 means traces (and labels) were drawn."""
        import numpy as np
        from PySide6 import QtGui

        img = self.grab().toImage().convertToFormat(QtGui.QImage.Format.Format_RGB32)
        w, h = img.width(), img.height()
        buf = np.frombuffer(img.constBits(), dtype=np.uint8, count=img.sizeInBytes())
        px = buf.reshape(h, img.bytesPerLine())[:, : w * 4].reshape(h, w, 4)[..., :3]
        return int((px.max(axis=2) < 64).sum())


def hardware() -> dict:
    import os
    import platform

    import numpy
    import pyqtgraph
    import PySide6
    from PySide6 import QtCore

    info = {
        "cpu_count": os.cpu_count(),
        "cpu_affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu_model": None,
        "cpu_simd": None,
        "mem_total_gib": None,
        "platform": platform.platform(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "pyside6": PySide6.__version__,
        "qt": QtCore.qVersion(),
        "pyqtgraph": pyqtgraph.__version__,
        "numpy": numpy.__version__,
        "qt_qpa_platform": os.environ.get("QT_QPA_PLATFORM", ""),
    }
    try:
        import wfdb

        info["wfdb"] = wfdb.__version__
    except ImportError:
        pass
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            lines = fh.read().splitlines()
        info["cpu_model"] = next(
            (ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("model name")), None
        )
        # the widest vector unit: the convolutions (delineator, model) depend on it most
        flags = set(next((ln.split(":", 1)[1].split() for ln in lines if ln.startswith("flags")), []))
        info["cpu_simd"] = next((f for f in ("avx512f", "avx2", "avx", "sse4_2") if f in flags), None)
        with open("/proc/meminfo", encoding="utf-8") as fh:
            kib = next((int(ln.split()[1]) for ln in fh if ln.startswith("MemTotal:")), None)
            info["mem_total_gib"] = None if kib is None else round(kib / 2**20, 1)
    except OSError:
        pass
    return info


def child_env(**extra: str) -> dict:
    env = dict(os.environ)
    env["QT_QPA_PLATFORM"] = "offscreen"
    env.update(extra)
    return env
