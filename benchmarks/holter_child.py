"""One fresh process on the 24 h record: open + first paint, pans, overview envelope, peak RSS.

Run by ``benchmarks/run.py`` as ``python benchmarks/holter_child.py HEADER [--open-only]``;
prints one JSON object on stdout. Times are perf_counter wall times in this process.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import sys
import time

T_START = time.perf_counter()

from common import ShownPaper, summary  # noqa: E402  (after T_START on purpose)


def proc_status() -> dict:
    """VmHWM (peak RSS), VmRSS, RssAnon and RssFile in MiB from /proc/self/status."""
    out = {}
    try:
        with open("/proc/self/status", encoding="utf-8") as fh:
            for line in fh:
                key, _, rest = line.partition(":")
                if key in ("VmHWM", "VmRSS", "RssAnon", "RssFile", "RssShmem"):
                    out[key + "_mib"] = round(int(rest.split()[0]) / 1024, 1)
    except OSError:
        pass
    return out


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("header")
    p.add_argument("--open-only", action="store_true")
    p.add_argument("--pans", type=int, default=50)
    p.add_argument("--layout", default="3x4+1")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    res: dict = {"layout": args.layout}

    t = time.perf_counter()
    import pyqtgraph  # noqa: F401
    from PySide6 import QtWidgets  # noqa: F401

    import ecgviewer.gui.paper  # noqa: F401
    from ecgviewer.dsp.envelope import envelope
    from ecgviewer.io import load

    res["import_gui_s"] = round(time.perf_counter() - t, 3)
    t = time.perf_counter()
    shown = ShownPaper(args.layout)
    res["app_and_view_s"] = round(time.perf_counter() - t, 3)
    view = shown.view
    res["wfdb_imported_before_open"] = "wfdb" in sys.modules

    # -- open + first paint (ecgviewer's WFDB reader imports wfdb on first use: timed here too)
    paints0 = shown.paints
    c0 = time.process_time()
    t0 = time.perf_counter()
    import wfdb  # noqa: F401  (exactly what load() would do first; timed separately)

    t1 = time.perf_counter()
    rec = load(args.header)
    t2 = time.perf_counter()
    shown.open(rec)
    t3 = time.perf_counter()
    res["holter_open_s"] = round(t3 - t0, 4)
    res["holter_open_cpu_s"] = round(time.process_time() - c0, 4)
    res["open_breakdown_s"] = {
        "wfdb_import": round(t1 - t0, 4),
        "load": round(t2 - t1, 4),
        "set_recording_and_paint": round(t3 - t2, 4),
    }
    res["open_paints"] = shown.paints - paints0
    res["source"] = type(rec.source).__name__ + (
        f"({type(rec.source.base).__name__})" if hasattr(rec.source, "base") else ""
    )
    res["lazy"] = bool(rec.source.lazy)
    res["duration_s"] = rec.duration
    res["ink_pixels_first_page"] = shown.ink_pixels()
    res["rss_after_open"] = proc_status()
    if args.open_only:
        print(json.dumps(res))
        return 0

    # -- pans by 10 s through the middle (sequential), then at random positions
    cpu: list[float] = []

    def pan_to(t: float) -> float:
        c = time.process_time()
        a = time.perf_counter()
        view.set_t0(t)
        shown.paint()
        wall = (time.perf_counter() - a) * 1e3
        cpu.append((time.process_time() - c) * 1e3)
        return wall

    view.set_t0(rec.duration / 2)
    shown.paint()
    p0 = shown.paints
    seq = [pan_to(view.t0 + 10.0) for _ in range(args.pans)]
    res["pan_sequential_ms"] = summary(seq)
    res["pan_sequential_cpu_ms_median"] = round(statistics.median(cpu), 2)
    res["paints_per_pan"] = round((shown.paints - p0) / args.pans, 2)
    res["pan_sequential_t0_range_s"] = [rec.duration / 2 + 10.0, view.t0]
    rng = random.Random(args.seed)
    positions = [rng.uniform(0, view.max_t0()) for _ in range(args.pans)]
    cpu.clear()
    res["pan_random_ms"] = summary([pan_to(x) for x in positions])
    res["pan_random_cpu_ms_median"] = round(statistics.median(cpu), 2)
    res["rss_after_pans"] = proc_status()

    # Disk-cold random pans: drop this file's (unmapped) pages from the page cache first.
    dat = str(rec.path.with_suffix(".dat") if rec.path.suffix == ".hea" else rec.path)
    if hasattr(os, "posix_fadvise"):
        fd = os.open(dat, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)
        positions = [rng.uniform(0, view.max_t0()) for _ in range(args.pans)]
        cpu.clear()
        res["pan_random_diskcold_ms"] = summary([pan_to(x) for x in positions])
        res["pan_random_diskcold_cpu_ms_median"] = round(statistics.median(cpu), 2)

    # -- the overview envelope the main window computes for long records
    channel = rec.index("II") if "II" in rec.leads else 0
    t = time.perf_counter()
    lo, hi, _per_bin = envelope(rec.source, channel, 4000)
    res["envelope_s"] = round(time.perf_counter() - t, 3)
    res["envelope_bins"] = int(lo.size)
    res["envelope_finite"] = bool(lo.size and (lo == lo).all() and (hi == hi).all())

    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    size = os.path.getsize(dat)
    res["peak_rss_mib"] = round(peak_kib / 1024, 1)
    res["file_bytes"] = size
    res["holter_rss_ratio"] = round(peak_kib * 1024 / size, 3)
    res["rss_end"] = proc_status()
    res["process_wall_s"] = round(time.perf_counter() - T_START, 2)
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
