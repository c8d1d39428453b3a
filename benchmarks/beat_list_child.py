"""One fresh process: ``measure.rhythm.analyse`` over whole recordings, one after the other; prints
one JSON line (wall and CPU time, beats, counts and hours summed, peak RSS)."""

from __future__ import annotations

import json
import resource
import sys
import time
from collections import Counter


def main() -> int:
    from ecgviewer.io import load
    from ecgviewer.measure.delineate import Delineator
    from ecgviewer.measure.rhythm import analyse

    delineator = Delineator.bundled()
    import scipy.signal  # noqa: F401  (1.7 s, once a process: the window loads it to measure its first page)

    wall = cpu = hours = 0.0
    beats, counts = 0, Counter()
    for path in sys.argv[1:]:
        rec = load(path)
        t, c = time.perf_counter(), time.process_time()
        rh = analyse(rec, delineator)
        wall, cpu = wall + time.perf_counter() - t, cpu + time.process_time() - c
        beats, hours = beats + len(rh.t_s), hours + rec.duration / 3600
        counts.update(rh.counts())
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    out = {"wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "beats": beats, "counts": dict(counts),
           "hours": hours, "peak_rss_mib": round(peak_mib, 1)}  # fmt: skip
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
