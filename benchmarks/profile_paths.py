"""Where the time goes on the benchmarked paths (for figures that miss their target).

``QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/profile_paths.py [open|pan|repaint|wfdb ...]``

For each path: a wall-clock breakdown (the app's functions wrapped with perf_counter timers in
this process only: nothing in ecgviewer/ is changed; times are inclusive, per operation,
medians over the repeats) and the top of a cProfile run (``--top N`` rows; cProfile roughly
doubles Python-heavy times, so read its figures as proportions). ``wfdb`` lists what
``import wfdb`` imports (``python -X importtime``). Prints JSON on stdout, cProfile text on stderr.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import os
import pstats
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from common import ShownPaper, log  # noqa: E402

SAMPLE = ROOT / "resources/samples/ptbxl/records500/00000/00003_hr.hea"


class Timers:
    """Wraps functions with perf_counter timers; per operation, the time spent in each."""

    def __init__(self) -> None:
        self.current: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.ops: list[dict[str, float]] = []
        self._undo: list = []

    def wrap(self, owner, attr: str, label: str) -> None:
        fn = getattr(owner, attr)
        cur, calls = self.current, self.calls

        def wrapper(*a, **k):
            t = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                cur[label] += time.perf_counter() - t
                calls[label] += 1

        setattr(owner, attr, wrapper)
        self._undo.append((owner, attr, fn))

    def end_op(self, total: float) -> None:
        self.current["TOTAL"] = total
        self.ops.append({k: v * 1e3 for k, v in self.current.items()})
        self.current.clear()

    def medians(self) -> dict[str, float]:
        keys = {k for op in self.ops for k in op}
        n = len(self.ops)
        return {
            k: round(statistics.median([op.get(k, 0.0) for op in self.ops]), 2)
            for k in sorted(keys, key=lambda k: -statistics.median([op.get(k, 0.0) for op in self.ops]))
        } | {"_calls_per_op": {k: round(v / n, 1) for k, v in self.calls.items()}}

    def undo(self) -> None:
        for owner, attr, fn in reversed(self._undo):
            setattr(owner, attr, fn)
        self._undo.clear()


def _instrument(t: Timers, shown: ShownPaper) -> None:
    import pyqtgraph as pg

    import ecgviewer.gui.paper as paper
    import ecgviewer.render.traces as traces
    from ecgviewer.dsp.filters import DisplayFilter
    from ecgviewer.gui.paper import PaperView
    from ecgviewer.recording import Recording
    from ecgviewer.sources import SignalSource

    t.wrap(PaperView, "_build_static", "PaperView._build_static")
    t.wrap(PaperView, "_clear_static", "PaperView._clear_static (inside _build_static)")
    t.wrap(PaperView, "_update_traces", "PaperView._update_traces")
    t.wrap(PaperView, "true_scale", "PaperView.true_scale")
    t.wrap(PaperView, "footer_text", "PaperView.footer_text")
    t.wrap(traces, "page_traces", "traces.page_traces (read + filter + x/y)")
    t.wrap(traces.TraceSource, "window", "TraceSource.window (read + filter)")
    t.wrap(DisplayFilter, "apply", "DisplayFilter.apply (FFT filter)")
    t.wrap(Recording, "read", "Recording.read (samples from the source)")
    t.wrap(SignalSource, "read", "SignalSource.read")
    t.wrap(PaperView, "_draw_traces", "PaperView._draw_traces (decimate + setData)")
    t.wrap(pg.PlotCurveItem, "setData", "PlotCurveItem.setData (13 traces)")
    t.wrap(pg.PlotCurveItem, "__init__", "PlotCurveItem.__init__")
    t.wrap(pg.TextItem, "__init__", "TextItem.__init__")
    t.wrap(pg.ViewBox, "addItem", "ViewBox.addItem")
    t.wrap(pg.ViewBox, "removeItem", "ViewBox.removeItem")
    t.wrap(shown, "paint", "paint (event loop: dirty items + paintEvent)")
    t.wrap(pg.GraphicsView, "paintEvent", "GraphicsView.paintEvent (scene drawn)")
    t.wrap(pg.PlotCurveItem, "getPath", "PlotCurveItem.getPath (QPainterPath rebuilt if data changed)")
    t.wrap(paper, "peak_decimate", "traces.peak_decimate (as the view calls it)")


def _cprofile(fn, n: int, top: int, title: str) -> str:
    pr = cProfile.Profile()
    pr.enable()
    for _ in range(n):
        fn()
    pr.disable()
    buf = io.StringIO()
    buf.write(f"==== cProfile: {title} ({n} operations) ====\n")
    st = pstats.Stats(pr, stream=buf)
    st.sort_stats("cumulative").print_stats(top)
    st.sort_stats("tottime").print_stats(top)
    return buf.getvalue()


def profile_open(shown: ShownPaper, n: int, top: int, path: Path = SAMPLE) -> dict:
    from ecgviewer.io import load

    t = Timers()

    def one() -> None:
        shown.open(load(path))

    for _ in range(3):
        one()
    _instrument(t, shown)
    t.wrap(sys.modules["ecgviewer.io"], "load", "load")
    for _ in range(n):
        gc.collect()
        a = time.perf_counter()
        rec = sys.modules["ecgviewer.io"].load(path)
        shown.open(rec)
        t.end_op(time.perf_counter() - a)
    t.undo()
    log(_cprofile(one, n, top, f"open {path.name}: load + set_recording + true_scale + paint"))
    return t.medians()


def profile_repaint(shown: ShownPaper, n: int, top: int) -> dict:
    from ecgviewer.io import load

    shown.open(load(SAMPLE))
    out = {}
    for layout in ("3x4+1", "12x1"):
        shown.set_layout(layout)
        t = Timers()
        _instrument(t, shown)
        for _ in range(n):
            a = time.perf_counter()
            shown.paint()
            t.end_op(time.perf_counter() - a)
        t.undo()
        out[layout] = t.medians()
        log(_cprofile(shown.paint, n, top, f"repaint {layout}"))
    shown.set_layout("3x4+1")
    return out


def profile_pan(shown: ShownPaper, n: int, top: int) -> dict:
    import holter

    from ecgviewer.io import load

    header, _ = holter.ensure()
    rec = load(header)
    shown.open(rec)
    view = shown.view
    view.set_t0(rec.duration / 2)
    shown.paint()
    t = Timers()
    _instrument(t, shown)
    t.wrap(view, "set_t0", "PaperView.set_t0 (page_traces + setData)")
    for _ in range(n):
        a = time.perf_counter()
        view.set_t0(view.t0 + 10.0)
        shown.paint()
        t.end_op(time.perf_counter() - a)
    t.undo()

    def one() -> None:
        view.set_t0(view.t0 + 10.0)
        shown.paint()

    log(_cprofile(one, n, top, "holter pan by 10 s (3x4+1)"))
    med_draw = _draw_path_breakdown(shown, one, n)
    # The same window, read and filtered by itself, without Qt.
    from ecgviewer.render.layout import page_duration

    fs, flt = rec.fs, view.options.filter.effective(rec.fs)
    s0 = int(view.t0 * fs)
    s1 = s0 + int(page_duration(view.options.speed) * fs) + 1
    margin = int(flt.margin_seconds() * fs)
    reads, filts = [], []
    for _ in range(n):
        a = time.perf_counter()
        raw = rec.read(s0 - margin, s1 + margin)
        b = time.perf_counter()
        flt.apply(raw, fs)
        c = time.perf_counter()
        reads.append((b - a) * 1e3)
        filts.append((c - b) * 1e3)
    med = t.medians()
    med["_window"] = {
        "samples_read_per_lead": int(raw.shape[1]),
        "leads": int(raw.shape[0]),
        "filter_margin_s_each_side": flt.margin_seconds(),
        "read_ms_median": round(statistics.median(reads), 2),
        "filter_ms_median": round(statistics.median(filts), 2),
    }
    med["_drawPath_ms_per_op"] = med_draw
    return med


def _draw_path_breakdown(shown: ShownPaper, op, n: int) -> dict:
    """QPainter.drawPath time per operation, by what is drawn, for ``op`` and for a repaint of
    the unchanged page (which paints the whole viewport, not the region the change dirtied)."""
    from PySide6 import QtGui

    view = shown.view
    names = {  # the grid is drawn as lines (``SheetItem``), not paths
        "calibration pulses": view._pulses,
        "column ticks": view._ticks,
    }
    orig = QtGui.QPainter.drawPath
    spent: dict[str, float] = defaultdict(float)
    labels: dict[int, str] = {}

    def learn() -> None:
        for item in view._trace_items:  # element counts of the current trace paths
            k = item.getPath().elementCount()
            labels.setdefault(k, f"traces ({k}-point paths)")

    def draw_path(painter, path):
        a = time.perf_counter()
        try:
            return orig(painter, path)
        finally:
            spent[labels.get(path.elementCount(), "other")] += time.perf_counter() - a

    out = {}
    QtGui.QPainter.drawPath = draw_path
    try:
        for case, fn in (("after_pan", op), ("unchanged_repaint", shown.paint)):
            labels.clear()
            for name, item in names.items():
                labels[item.getPath().elementCount()] = name
            learn()
            spent.clear()
            for _ in range(n):
                fn()
                learn()
            out[case] = {k: round(v * 1e3 / n, 2) for k, v in sorted(spent.items(), key=lambda kv: -kv[1])}
            out[case]["TOTAL"] = round(sum(spent.values()) * 1e3 / n, 2)
    finally:
        QtGui.QPainter.drawPath = orig
    return out


def _import_subtree(stderr: str, module: str) -> tuple[float | None, list[list]]:
    """From ``-X importtime`` output: ``module``'s cumulative ms and the (top-level) packages
    first imported below it, by cumulative cost."""
    rows = []  # (depth, name, cumulative ms) in print order: children before their parent
    for line in stderr.splitlines():
        parts = line[len("import time:") :].split("|") if line.startswith("import time:") else []
        if len(parts) == 3 and parts[1].strip().isdigit():
            raw = parts[2].rstrip()
            rows.append((len(raw) - len(raw.lstrip()), raw.strip(), int(parts[1]) / 1000.0))
    idx = next((i for i, r in enumerate(rows) if r[1] == module), None)
    if idx is None:
        return None, []
    depth = rows[idx][0]
    children = []
    i = idx - 1
    while i >= 0 and rows[i][0] > depth:
        name = rows[i][1]
        if "." not in name and not name.startswith("_"):
            children.append([name, round(rows[i][2], 1)])
        i -= 1
    children.sort(key=lambda c: -c[1])
    return round(rows[idx][2], 1), children


def profile_wfdb_import(top: int) -> dict:
    """``import wfdb`` as the first open in a fresh viewer process pays it (Qt, pyqtgraph and
    ecgviewer's GUI already imported): its cost and the heaviest modules it pulls in."""
    pre = "import pyqtgraph, PySide6.QtWidgets, ecgviewer.gui.paper, ecgviewer.io; "
    walls = {"with_wfdb": [], "without": []}
    for _ in range(3):
        for key, code in (("with_wfdb", pre + "import wfdb"), ("without", pre)):
            a = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
            walls[key].append(time.perf_counter() - a)
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", pre + "import wfdb"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    total, children = _import_subtree(proc.stderr, "wfdb")
    names = {ln.split("|")[-1].strip() for ln in proc.stderr.splitlines()}
    pandas_ms, pandas_children = _import_subtree(proc.stderr, "pandas")
    return {
        "extra_wall_s_for_import_wfdb_median": round(
            statistics.median(walls["with_wfdb"]) - statistics.median(walls["without"]), 3
        ),
        "importtime_wfdb_cumulative_ms": total,
        "packages_imported_by_wfdb_ms": children[:top],
        "pandas_cumulative_ms": pandas_ms,
        "packages_imported_by_pandas_ms": pandas_children[: min(top, 8)],
        "imported": {
            m: m in names
            for m in ("pandas", "scipy", "matplotlib", "requests", "fsspec", "soundfile", "aiohttp")
        },
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("paths", nargs="*", metavar="PATH", help="open, repaint, pan, wfdb (default: all)")
    p.add_argument("-n", type=int, default=20, help="operations per path")
    p.add_argument("--top", type=int, default=25)
    args = p.parse_args()
    args.paths = args.paths or ["open", "repaint", "pan", "wfdb"]
    bad = set(args.paths) - {"open", "repaint", "pan", "wfdb"}
    if bad:
        p.error(f"unknown path(s): {', '.join(sorted(bad))}")
    out: dict = {}
    shown = ShownPaper("3x4+1") if set(args.paths) - {"wfdb"} else None
    import wfdb  # noqa: F401  (warm process, as in run.py)

    for name in args.paths:
        log(f"[profile] {name}")
        if name == "open":
            out["open_ms"] = profile_open(shown, args.n, args.top)
        elif name == "repaint":
            out["repaint_ms"] = profile_repaint(shown, args.n, args.top)
        elif name == "pan":
            out["holter_pan_ms"] = profile_pan(shown, args.n, args.top)
        elif name == "wfdb":
            out["wfdb_import"] = profile_wfdb_import(args.top)
    json.dump(out, sys.stdout, indent=1)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
