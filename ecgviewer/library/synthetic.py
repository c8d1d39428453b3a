"""A generated library of any size, for the query benchmark and the tests: rows as the indexer
and ``index --analyze`` write them (``db.put``, ``analyze.store``), with plausible values drawn
from a seeded generator, and no files behind them."""

from __future__ import annotations

import random
import sqlite3
from datetime import datetime, timedelta

from ecgviewer.library import analyze, db

FORMATS = ("WFDB", "EDF", "GE MUSE XML", "Philips Sierra XML", "DICOM ECG")
DEVICE_STATEMENTS = ("Sinus rhythm", "Left bundle branch block", "Atrial fibrillation", "Prolonged QT")
LABELS = ("NORM", "CLBBB", "IMI", "AFIB", "LVH")
FINDINGS = ("NORM", "MI", "STTC", "CD", "HYP", "CLBBB", "AFIB")  # a few of the model's codes
MODEL, DELINEATOR = "synthetic-model", "synthetic-delineator"  # what the analyses are keyed by
EPOCH = datetime(2010, 1, 1)


def facts(i: int, rng: random.Random) -> db.Facts:
    """Recording ``i``: its format, demographics, device measurements and statements drawn
    from ``rng``; about one value in twenty left unknown, as in real exports."""
    fmt = rng.choice(FORMATS)
    name, mtime = f"{i:07d}", 1_600_000_000_000_000_000 + i
    stamp = f"{name}.hea:{500 + i % 7}:{mtime};{name}.dat:{24_000 + i % 5}:{mtime}"  # a WFDB record's
    f = db.Facts(
        f"/data/exports/synthetic/{i // 1000:03d}/{name}.hea", fmt, 24_500, mtime, stamp, f"{i:064x}"
    )
    f.duration, f.fs, f.leads = 10.0, rng.choice((250.0, 500.0, 1000.0)), ("I", "II", "V1")
    f.acquired = (EPOCH + timedelta(seconds=rng.randrange(15 * 365 * 86400))).isoformat(sep=" ")
    f.age = None if rng.random() < 0.05 else float(rng.randrange(18, 96))
    f.sex = None if rng.random() < 0.05 else rng.choice(("male", "female"))
    f.device = f"Vendor {rng.randrange(4)}"
    f.measurements = {("device", "hr"): float(rng.randrange(40, 140))}
    if rng.random() > 0.05:
        f.measurements[("device", "qtc")] = float(rng.randrange(340, 560))
        f.measurements[("device", "qrs")] = float(rng.randrange(70, 190))
    f.statements = [("device", rng.choice(DEVICE_STATEMENTS), None)]
    f.statements += [("labels", code, 100.0) for code in rng.sample(LABELS, rng.randrange(3))]
    return f


def outcome(f: db.Facts, rng: random.Random) -> analyze.Outcome:
    """An analysis of ``f`` as ``index --analyze`` stores it: the model's probability of each of
    ``FINDINGS`` (skewed low, as most are absent) and our QRS duration and QTc."""
    findings = {code: rng.random() ** 3 for code in FINDINGS}
    ours = {"qrs": float(rng.randrange(70, 190)), "qtc": float(rng.randrange(340, 560))}
    return analyze.Outcome(f.path, f.sha256 or "", findings, ours)


def generate(
    conn: sqlite3.Connection, n: int, seed: int = 0, batch: int = 5000, analysed: float = 0.9
) -> None:
    """Add ``n`` generated recordings to the library, in transactions of ``batch``; about the
    fraction ``analysed`` of them with an analysis."""
    rng = random.Random(seed)
    for start in range(0, n, batch):
        made = [facts(i, rng) for i in range(start, min(n, start + batch))]
        with db.transaction(conn):
            ids = db.put(conn, made)
        done = [(rid, outcome(f, rng)) for rid, f in zip(ids, made, strict=True) if rng.random() < analysed]
        analyze.store(conn, done, MODEL, DELINEATOR)
    conn.execute("ANALYZE")
