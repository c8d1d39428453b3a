"""One fresh process: ``measure.rhythm.analyse`` over a whole recording; prints one JSON line
(wall and CPU time, beats, counts, hours, peak RSS)."""

from __future__ import annotations

import json
import resource
import sys
import time


def main() -> int:
    from ecgviewer.io import load
    from ecgviewer.measure.delineate import Delineator
    from ecgviewer.measure.rhythm import analyse

    rec = load(sys.argv[1])
    delineator = Delineator.bundled()
    import scipy.signal  # noqa: F401  (1.7 s, once a process: the window loads it to measure its first page)

    t, cpu = time.perf_counter(), time.process_time()
    rh = analyse(rec, delineator)
    wall, cpu = time.perf_counter() - t, time.process_time() - cpu
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(json.dumps({"wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "beats": len(rh.t_s),
                      "counts": rh.counts(), "hours": rec.duration / 3600,
                      "peak_rss_mib": round(peak_mib, 1)}))  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
