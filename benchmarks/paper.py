"""The 10 s record in this (warm) process: open to first paint, and repaint of an unchanged page."""

from __future__ import annotations

import gc
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from common import ShownPaper, summary


def bench_open(shown: ShownPaper, sample: Path, repeats: int) -> dict:
    """load(path) -> set_recording -> true_scale -> painted, for a copy outside PTB-XL and in place."""
    from ecgviewer.io import load

    tmp = Path(tempfile.mkdtemp(prefix="ecgbench-"))
    try:
        copy = tmp / sample.name
        shutil.copy2(sample, copy)
        shutil.copy2(sample.with_suffix(".dat"), copy.with_suffix(".dat"))
        cases = {"copy": copy, "ptbxl": sample}
        first: dict[str, float] = {}
        for name, path in cases.items():  # the very first open: wfdb import, PTB-XL table read
            t = time.perf_counter()
            shown.open(load(path))
            first[name] = (time.perf_counter() - t) * 1e3
        for _ in range(3):  # warm-up
            for path in cases.values():
                shown.open(load(path))
        totals: dict[str, list[float]] = {k: [] for k in cases}
        parts: dict[str, dict[str, list[float]]] = {
            k: {"load": [], "set_recording": [], "paint": [], "cpu": []} for k in cases
        }
        paints: dict[str, list[int]] = {k: [] for k in cases}
        metadata: dict[str, str | None] = {}
        view = shown.view
        for _ in range(repeats):
            for name, path in cases.items():  # interleaved, so drift hits both alike
                gc.collect()
                p0 = shown.paints
                c0 = time.process_time()
                t0 = time.perf_counter()
                rec = load(path)
                t1 = time.perf_counter()
                view.set_recording(rec)
                view.true_scale()
                t2 = time.perf_counter()
                shown.paint()
                t3 = time.perf_counter()
                parts[name]["cpu"].append((time.process_time() - c0) * 1e3)
                totals[name].append((t3 - t0) * 1e3)
                parts[name]["load"].append((t1 - t0) * 1e3)
                parts[name]["set_recording"].append((t2 - t1) * 1e3)
                parts[name]["paint"].append((t3 - t2) * 1e3)
                paints[name].append(shown.paints - p0)
                metadata[name] = rec.metadata.dataset
        out = {}
        for name in cases:
            out[name] = {
                "total_ms": summary(totals[name]),
                "breakdown_median_ms": {k: round(statistics.median(v), 2) for k, v in parts[name].items()},
                "note": "cpu = process CPU time of the whole open (all threads); well under the "
                "wall time means the process was waiting (other load on the machine)",
                "first_open_in_process_ms": round(first[name], 1),
                "paints_per_open": sorted(set(paints[name])),
                "metadata_dataset": metadata[name],
            }
        out["ink_pixels"] = shown.ink_pixels()
        return out
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def bench_repaint(shown: ShownPaper, sample: Path, repeats: int) -> dict:
    """Repaint of an unchanged page (12 leads x 10 s) per layout; grab() timed for reference."""
    from ecgviewer.io import load

    shown.open(load(sample))
    out = {}
    for layout in ("3x4+1", "12x1"):
        shown.set_layout(layout)
        for _ in range(5):
            shown.paint()
        gc.collect()
        ts, p0 = [], shown.paints
        for _ in range(repeats):
            t = time.perf_counter()
            shown.paint()
            ts.append((time.perf_counter() - t) * 1e3)
        paints = shown.paints - p0
        grabs = []
        for _ in range(repeats):
            t = time.perf_counter()
            shown.grab()
            grabs.append((time.perf_counter() - t) * 1e3)
        out[layout] = {
            "repaint_ms": summary(ts),
            "grab_ms": summary(grabs),
            "paints_per_repaint": round(paints / repeats, 2),
            "ink_pixels": shown.ink_pixels(),
        }
    shown.set_layout("3x4+1")
    return out
