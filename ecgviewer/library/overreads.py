"""Over-reads in the library: one row per recording's content (its SHA-256, as the index stores
it) and its history, written in one transaction after every change, so a killed process keeps
every change but the one in flight. A recording over-read but not yet indexed is indexed on the
first save, so ``ecgviewer find confirmed=yes`` and ``reader=NAME`` find it.

Over-reads are the readers' work, not a cache of the files: ``carry`` moves them into a library
rebuilt in place of a damaged or old one.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from ecgviewer.errors import EcgError
from ecgviewer.interpretation import Statement
from ecgviewer.library import db, files
from ecgviewer.overread import Event, Overread

_ROW = ("sha256", "path", "state", "reader", "confirmed_at", "updated_at", "computer", "statements")


def content_sha256(path: str | Path) -> str:
    """The recording's content hash as the index computes it (its companion files included)."""
    p = Path(path).resolve()
    try:
        return files.sha256(files.Parts()(p))
    except OSError as exc:
        raise EcgError(f"{p}: cannot be read to key its over-read ({exc.strerror})") from None


def _statements(text: str) -> list[Statement]:
    return [Statement.from_json(d) for d in json.loads(text) if isinstance(d, dict)]


def load(conn: sqlite3.Connection, sha256: str) -> Overread | None:
    """The over-read of the recording with content ``sha256``, with its history; None if none."""
    with db.guarded(db.file_of(conn)):
        row = conn.execute("SELECT * FROM overreads WHERE sha256 = ?", (sha256,)).fetchone()
        if row is None:
            return None
        events = conn.execute(
            "SELECT at, reader, action, text, before FROM overread_events WHERE sha256 = ? ORDER BY seq",
            (sha256,),
        ).fetchall()
    confirmed = row["state"] == "confirmed"
    return Overread(
        computer=tuple(_statements(row["computer"])),
        statements=_statements(row["statements"]),
        confirmed_by=row["reader"] if confirmed else None,
        confirmed_at=row["confirmed_at"] if confirmed else None,
        history=[Event.from_json(dict(e)) for e in events],
    )


def stored(path: str | Path, library: Path) -> Overread | None:
    """The over-read of the recording at ``path`` in ``library`` (None: none, or no library);
    for a report, which then prints it "Confirmed by …" or as an edited draft."""
    if not Path(library).is_file():
        return None
    conn = db.open_library(library, create=False)
    try:
        return load(conn, content_sha256(path))
    finally:
        conn.close()


def save(
    conn: sqlite3.Connection, sha256: str, path: str | Path, read: Overread, list_it: bool = True
) -> None:
    """Store ``read`` and the events its history has beyond what is stored, in one transaction;
    with ``list_it``, list ``path`` first when the library does not (``listed``; the window does
    that off its UI thread instead, as it reads the whole file)."""
    path = str(Path(path).resolve())
    with db.guarded(db.file_of(conn)):
        if list_it:
            listed(conn, Path(path))
        with db.transaction(conn):
            stored = conn.execute(
                "SELECT count(*) FROM overread_events WHERE sha256 = ?", (sha256,)
            ).fetchone()[0]
            values = (
                sha256,
                path,
                "confirmed" if read.confirmed else "draft",
                read.confirmed_by,
                read.confirmed_at,
                db.now(),
                json.dumps([s.to_json() for s in read.computer], ensure_ascii=False),
                json.dumps([s.to_json() for s in read.statements], ensure_ascii=False),
            )
            updated = ", ".join(f"{c} = excluded.{c}" for c in _ROW[1:] if c != "computer")
            conn.execute(
                f"INSERT INTO overreads ({', '.join(_ROW)}) VALUES ({db.marks(len(_ROW))}) "
                f"ON CONFLICT (sha256) DO UPDATE SET {updated}",  # an upsert: no cascade to the events
                values,
            )
            conn.executemany(
                "INSERT INTO overread_events (sha256, seq, at, reader, action, text, before) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(sha256, k, e.at, e.reader, e.action, e.text, e.before)
                 for k, e in enumerate(read.history) if k >= stored],
            )  # fmt: skip


def listed(conn: sqlite3.Connection, path: Path) -> None:
    """List one recording in the library (no identifiers), as ``ecgviewer index`` would, unless
    it is there: so that ``find confirmed=yes`` finds an over-read of a file never indexed."""
    from ecgviewer.library.index import read

    path = path.resolve()
    with db.guarded(db.file_of(conn)):
        if conn.execute("SELECT 1 FROM recordings WHERE path = ?", (str(path),)).fetchone() is not None:
            return
    parts = files.Parts()(path)
    try:
        stamped = files.stamp(parts)
    except OSError as exc:
        raise EcgError(f"{path}: cannot be read to list it in the library ({exc.strerror})") from None
    facts = read(path, parts, stamped, identifiers=False)
    with db.transaction(conn):
        db.put(conn, [facts])


def carry(old: Path, conn: sqlite3.Connection) -> int:
    """Copy the readers' work (over-reads with their histories, beat relabels) of the library
    file ``old`` into ``conn``'s library; returns how many over-reads. An unreadable old file
    carries none (it was damaged); a table it does not have yet, nothing."""
    try:
        src = sqlite3.connect(f"file:{old}?mode=ro", uri=True)
    except sqlite3.Error:
        return 0
    tables: dict[str, list] = {}
    try:
        for table in db.READERS_TABLES:
            try:
                tables[table] = src.execute(f"SELECT * FROM {table}").fetchall()
            except sqlite3.OperationalError:  # an older library without the table
                tables[table] = []
    except sqlite3.Error:
        return 0
    finally:
        src.close()
    with db.guarded(db.file_of(conn)), db.transaction(conn):
        for table, rows in tables.items():
            if rows:
                conn.executemany(f"INSERT OR IGNORE INTO {table} VALUES ({db.marks(len(rows[0]))})", rows)
    return len(tables["overreads"])
