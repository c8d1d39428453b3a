"""Serial comparison: a patient's other ECGs in the library, and what changed between two of them
(our measurements and the model's findings), as ECG management systems set an ECG beside the
patient's previous one. Qt-free: the window's comparison and tests use it.

A patient is known by the dataset's pseudonymous patient number (PTB-XL's patient_id) or, in a
library indexed with ``--identifiers``, by the patient ID the files carry; that ID is only
compared inside SQLite, never returned or logged.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from ecgviewer.library import db, query
from ecgviewer.measurements import MEASUREMENTS

PATIENT_ID_KEY = "patient id"  # the identifiers table's key for the file's patient ID
HOW_PATIENTS = (
    "patients are matched by the dataset's patient number, or by patient ID in a library indexed "
    "with --identifiers"
)


def same_patient(conn: sqlite3.Connection, path: str | Path) -> list[query.Found]:
    """The library's other readable recordings of the patient of ``path``, newest first (those
    without a date last); empty when the library does not know the file or its patient."""
    key = str(Path(path).resolve())
    with db.guarded(db.file_of(conn)):
        row = conn.execute("SELECT id, dataset, patient FROM recordings WHERE path = ?", (key,)).fetchone()
        if row is None:
            return []
        ids: set[int] = set()
        if row["patient"] is not None:
            ids.update(r[0] for r in conn.execute(
                "SELECT id FROM recordings WHERE dataset IS ? AND patient = ? AND id != ?",
                (row["dataset"], row["patient"], row["id"])))  # fmt: skip
        ids.update(r[0] for r in conn.execute(
            "SELECT o.recording_id FROM identifiers me JOIN identifiers o ON o.key = me.key "
            "AND o.value = me.value AND o.recording_id != me.recording_id "
            "WHERE me.recording_id = ? AND me.key = ?", (row["id"], PATIENT_ID_KEY)))  # fmt: skip
        if not ids:
            return []
        found = query.find_ids(conn, sorted(ids))
    readable = [f for f in found if f.status == "ok"]
    dated = sorted((f for f in readable if f.acquired), key=lambda f: f.acquired or "", reverse=True)
    return dated + [f for f in readable if not f.acquired]


def earlier_of(conn: sqlite3.Connection, path: str | Path) -> query.Found | None:
    """The ECG to set beside ``path``'s: the patient's latest one taken before it (the newest
    other one when dates are unknown); None when the library knows no other."""
    others = same_patient(conn, path)
    if not others:
        return None
    when = acquired(conn, path)
    before = [f for f in others if when and f.acquired and f.acquired < when]
    return before[0] if before else others[0]


def acquired(conn: sqlite3.Connection, path: str | Path) -> str | None:
    """When the library says ``path`` was recorded."""
    with db.guarded(db.file_of(conn)):
        row = conn.execute(
            "SELECT acquired FROM recordings WHERE path = ?", (str(Path(path).resolve()),)
        ).fetchone()
    return row["acquired"] if row is not None else None


@dataclass(frozen=True)
class Delta:
    """One quantity in two ECGs: ``before`` (the earlier) and ``after`` (this one)."""

    key: str
    label: str
    unit: str
    before: float | None
    after: float | None

    @property
    def change(self) -> float | None:
        return None if self.before is None or self.after is None else self.after - self.before


def measurement_deltas(before: dict[str, float], after: dict[str, float]) -> list[Delta]:
    """Every measurement of the vocabulary, in its order, that either ECG has."""
    return [
        Delta(k, q.label, q.unit, before.get(k), after.get(k))
        for k, q in MEASUREMENTS.items()
        if k in before or k in after
    ]


def finding_deltas(before: dict[str, float], after: dict[str, float], codes: list[str]) -> list[Delta]:
    """The model's probability (in %) of each of ``codes`` in both ECGs, largest change first."""
    rows = [
        Delta(c, c, "%", _pct(before.get(c)), _pct(after.get(c))) for c in codes if c in before or c in after
    ]
    return sorted(rows, key=lambda d: -abs(d.change or 0.0))


def _pct(p: float | None) -> float | None:
    return None if p is None else 100.0 * p
