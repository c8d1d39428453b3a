"""The library: the issue's example queries on a generated library of 100,000 recordings
(``ecgviewer.library.synthetic``), in the warm process, as ``ecgviewer find`` runs them; and
``index --analyze``'s throughput on PTB-XL's 100 Hz records (``../shared``, when present)."""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from common import SHARED, timed

PTBXL_100 = SHARED / "ptbxl" / "records100"

QUERIES = (
    "qtc>480 sex=F",
    "statement=CLBBB qrs>150",
    "format=wfdb age>=60 date>=2020-01-01",
    "statement~bundle date<2015",
    "finding=MI>0.5",
)
SORTS = (None, "-qtc")  # by path (the default), and by a measurement


def bench_queries(repeats: int, n: int = 100_000) -> dict:
    """Median wall and CPU time of ``query.find`` (first page of 100, the count of all matches)
    per query and sort, after one untimed run; and how long the library took to generate."""
    from ecgviewer.library import db, query, synthetic

    with tempfile.TemporaryDirectory() as tmp:
        conn = db.open_library(Path(tmp) / "library.sqlite")
        generate_s = timed(lambda: synthetic.generate(conn, n))
        wall: dict[str, float] = {}
        cpu: dict[str, float] = {}
        matches: dict[str, int] = {}
        for text in QUERIES:
            for sort in SORTS:
                key = f"{text} | sort {sort or 'path'}"
                matches[key] = query.find(conn, text, sort=sort, check_files=False).total
                runs = []
                for _ in range(repeats):
                    c = time.process_time()
                    w = timed(lambda t=text, s=sort: query.find(conn, t, sort=s, check_files=False))
                    runs.append((w * 1e3, (time.process_time() - c) * 1e3))
                wall[key] = round(statistics.median(r[0] for r in runs), 2)
                cpu[key] = round(statistics.median(r[1] for r in runs), 2)
        conn.close()
    return {"rows": n, "generate_s": round(generate_s, 1), "query_ms": wall, "query_cpu_ms": cpu,
            "matches": matches, "repeats": repeats}  # fmt: skip


def bench_analyze(n: int = 100, workers: int | None = None) -> dict:
    """Records per second of ``index --analyze`` (measurements, statements, the model's
    findings) over the first ``n`` PTB-XL 100 Hz records, on a local pool of ``workers``
    processes (default: every core), the workers' start (loading the model) included."""
    from ecgviewer.library import analyze, db
    from ecgviewer.library.index import index

    heads = sorted(PTBXL_100.glob("*/*.hea"))[:n] if PTBXL_100.is_dir() else []
    if len(heads) < n:
        return {"skipped": f"needs {n} PTB-XL 100 Hz records in {PTBXL_100}"}
    workers = workers or os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "records100"
        folder.mkdir()
        for h in heads:
            for f in (h, h.with_suffix(".dat")):
                shutil.copy(f, folder / f.name)
        conn = db.open_library(Path(tmp) / "library.sqlite")
        index_s = timed(lambda: index(folder, conn))
        t0 = time.perf_counter()
        with analyze.engine(workers=workers) as (executor, k):
            summary = analyze.analyse_library(conn, folder, executor=executor, workers=k)
        wall = time.perf_counter() - t0
        conn.close()
    return {"records": n, "workers": workers, "analysed": summary.analysed, "failed": summary.failed,
            "index_s": round(index_s, 2), "analyze_s": round(wall, 2),
            "records_per_s": round(n / wall, 2)}  # fmt: skip
