"""The reader's beat relabels in the library (``measure.templates``): one row per recording's
content, the relabels in order as JSON, replayed on the recording's beat list when it is opened
again. Like over-reads, they are the reader's work and are carried on a rebuild."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np

from ecgviewer.library import db

Relabels = tuple[tuple[str, np.ndarray], ...]


def load(conn: sqlite3.Connection, sha256: str) -> Relabels:
    with db.guarded(db.file_of(conn)):
        row = conn.execute("SELECT relabels FROM beat_relabels WHERE sha256 = ?", (sha256,)).fetchone()
    if row is None:
        return ()
    return tuple((d["label"], np.asarray(d["t_s"], dtype=float)) for d in json.loads(row[0]))


def stored(sha256: str, library: Path) -> Relabels:
    """The relabels of the recording with content ``sha256`` in ``library`` (none: no library)."""
    if not Path(library).is_file():
        return ()
    conn = db.open_library(library, create=False)
    try:
        return load(conn, sha256)
    finally:
        conn.close()


def save(conn: sqlite3.Connection, sha256: str, path: str | Path, relabels: Relabels) -> None:
    """Store every relabel of the recording (the whole list: one row, one transaction)."""
    text = json.dumps([{"label": label, "t_s": np.round(t, 3).tolist()} for label, t in relabels])
    with db.guarded(db.file_of(conn)), db.transaction(conn):
        conn.execute(
            "INSERT INTO beat_relabels (sha256, path, updated_at, relabels) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (sha256) DO UPDATE SET path = excluded.path, updated_at = excluded.updated_at, "
            "relabels = excluded.relabels",
            (sha256, str(Path(path).resolve()), db.now(), text),
        )
