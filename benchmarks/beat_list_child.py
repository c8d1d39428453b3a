"""One fresh process: ``measure.rhythm.analyse`` over whole recordings, one after the other; prints
one JSON line (wall and CPU time, beats, counts and hours summed, peak RSS; the CPU time and peak
RSS of the worker process that measures half of a long recording's pages, ``measure.workers``,
its start included). ``--delineator PATH``: the pages read by that delineator (its 8-bit ranges beside
it) instead of the beat list's own, a candidate's day measured as the beat list's is."""

from __future__ import annotations

import argparse
import json
import resource
import time
from collections import Counter
from pathlib import Path


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("paths", nargs="+")
    p.add_argument("--delineator", default=None, help="a candidate's weights (default: the beat list's own)")
    args = p.parse_args()
    from ecgviewer.io import load
    from ecgviewer.measure import workers
    from ecgviewer.measure.delineate import Delineator
    from ecgviewer.measure.rhythm import analyse

    workers.allow()  # as the app's entry points

    path = Path(args.delineator) if args.delineator else None  # its network built on the clock, as before
    delineator = Delineator.load(path) if path else Delineator.for_beats()
    import scipy.signal  # noqa: F401  (1.7 s, once a process: the window loads it to measure its first page)

    wall = cpu = hours = 0.0
    beats, counts = 0, Counter()
    for path in args.paths:
        rec = load(path)
        t, c = time.perf_counter(), time.process_time()
        rh = analyse(rec, delineator)
        wall, cpu = wall + time.perf_counter() - t, cpu + time.process_time() - c
        beats, hours = beats + len(rh.t_s), hours + rec.duration / 3600
        counts.update(rh.counts())
    workers.shutdown()  # the worker process's time and peak memory are counted once it has ended
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    child = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = {"wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "beats": beats, "counts": dict(counts),
           "hours": hours, "peak_rss_mib": round(peak_mib, 1),
           "worker_cpu_s": round(child.ru_utime + child.ru_stime, 2),
           "worker_peak_rss_mib": round(child.ru_maxrss / 1024, 1)}  # fmt: skip
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
