"""The library's SQLite file: its schema, opening it, writing one recording's row, and turning
SQLite's failures into one readable line.

WAL mode lets the window read while an indexer writes, and lets two app instances open the
same file; every write happens inside an explicit transaction, so a killed process leaves the
rows it had committed and nothing half-written. ``PRAGMA user_version`` holds the schema's
version, so a later ecgviewer can migrate the file and an older one refuses a newer file.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import MappingProxyType

from ecgviewer.errors import EcgError
from ecgviewer.measurements import MEASUREMENTS

SCHEMA_VERSION = 1
FILE_NAME = "library.sqlite"
CHUNK = 500  # values per IN (...) list, well under SQLite's limit of bound parameters
CACHE_MIB, MMAP_MIB = 64, 256
BUSY_S = 30.0  # how long a writer waits for another instance's transaction before giving up
STATUSES = ("ok", "unreadable", "missing")
# Who said it: the acquiring device, the file's or its dataset's labels (PTB-XL's SCP-ECG
# statements), and later our own measurements and statements (``index --analyze``).
SOURCES = ("device", "labels", "ours")
# One column per measurement (``m_qtc``): a query over 100,000 recordings reads one table.
MEASURED = tuple(f"m_{key}" for key in MEASUREMENTS)
REBUILD_HINT = "ecgviewer index FOLDER --db {path} --rebuild"
# Columns of ``analyses`` added after schema 1 was first released (``_add_columns`` adds them to
# an older file): the delineator's SHA-256, and why a recording could not be analysed.
ANALYSIS_COLUMNS = MappingProxyType({"measured_with": "TEXT", "error": "TEXT"})

SCHEMA = (
    """CREATE TABLE recordings (
        id INTEGER PRIMARY KEY,
        path TEXT NOT NULL UNIQUE,        -- absolute; a WFDB record by its header
        format TEXT,                      -- the reader's name; NULL when no reader recognised it
        size INTEGER NOT NULL,            -- bytes of the file and the files read with it
        mtime_ns INTEGER NOT NULL,        -- the newest of their modification times
        stamp TEXT NOT NULL,              -- name:size:mtime of each of those files (change detection)
        sha256 TEXT,                      -- of their bytes, in ``stamp``'s order
        status TEXT NOT NULL CHECK (status IN ('ok', 'unreadable', 'missing')),
        reason TEXT,                      -- why unreadable or missing
        indexed_at TEXT NOT NULL,
        identifiers_read INTEGER NOT NULL DEFAULT 0,  -- indexed with --identifiers
        duration REAL, fs REAL, n_leads INTEGER, leads TEXT,
        acquired TEXT,                    -- 'YYYY-MM-DD HH:MM:SS', as the file gives it
        device TEXT, age REAL, sex TEXT,
        dataset TEXT, record_id TEXT,     -- e.g. PTB-XL and its ecg_id
        patient TEXT,                     -- the dataset's own pseudonymous patient number
        fold INTEGER,                     -- PTB-XL's strat_fold
        warnings TEXT,
        {measurements}                    -- each measurement: ours where we measured, else the device's
    )""".format(measurements=", ".join(f"{c} REAL" for c in MEASURED)),
    "CREATE INDEX recordings_acquired ON recordings (status, acquired)",
    "CREATE INDEX recordings_age ON recordings (status, age)",
    "CREATE INDEX recordings_patient ON recordings (dataset, patient)",
    "CREATE INDEX recordings_sha256 ON recordings (sha256)",
    # A statement's words are stored once (a few hundred distinct texts in a library of 100,000
    # recordings): "contains" scans them, not every recording's statements.
    "CREATE TABLE statement_texts (id INTEGER PRIMARY KEY, text TEXT NOT NULL UNIQUE)",
    """CREATE TABLE statements (
        recording_id INTEGER NOT NULL REFERENCES recordings (id) ON DELETE CASCADE,
        source TEXT NOT NULL,
        ord INTEGER NOT NULL,             -- the order the source gave them in
        text_id INTEGER NOT NULL REFERENCES statement_texts (id),  -- a label code or a device's sentence
        value REAL,                       -- a label's likelihood (%) where the dataset gives one
        PRIMARY KEY (recording_id, source, ord)
    ) WITHOUT ROWID""",
    "CREATE INDEX statements_text ON statements (text_id)",
    """CREATE TABLE measurements (
        recording_id INTEGER NOT NULL REFERENCES recordings (id) ON DELETE CASCADE,
        source TEXT NOT NULL,
        key TEXT NOT NULL,                -- a key of ecgviewer.measurements.MEASUREMENTS
        value REAL NOT NULL,
        PRIMARY KEY (recording_id, source, key)
    ) WITHOUT ROWID""",
    "CREATE INDEX measurements_value ON measurements (key, source, value)",
    # Our analysis (``index --analyze``), keyed by the model's SHA-256 so that a new model
    # re-analyses, by what measured (``measured_with``: the delineator's hash and the measurement
    # rules' version, ``analyze.versions``: our measurements and statements), and
    # by the content hash analysed, so that a changed file is not shown with old findings.
    """CREATE TABLE analyses (
        recording_id INTEGER NOT NULL REFERENCES recordings (id) ON DELETE CASCADE,
        model_sha256 TEXT NOT NULL,
        content_sha256 TEXT NOT NULL,
        analysed_at TEXT NOT NULL,
        {added},
        PRIMARY KEY (recording_id, model_sha256)
    ) WITHOUT ROWID""".format(added=", ".join(f"{c} {t}" for c, t in ANALYSIS_COLUMNS.items())),
    """CREATE TABLE findings (
        recording_id INTEGER NOT NULL,
        model_sha256 TEXT NOT NULL,
        code TEXT NOT NULL,
        probability REAL NOT NULL,
        PRIMARY KEY (recording_id, model_sha256, code),
        FOREIGN KEY (recording_id, model_sha256)
            REFERENCES analyses (recording_id, model_sha256) ON DELETE CASCADE
    ) WITHOUT ROWID""",
    "CREATE INDEX findings_code ON findings (code COLLATE NOCASE, probability)",
    # Patient identifiers (name, ID, birth date) live apart, written only with --identifiers.
    """CREATE TABLE identifiers (
        recording_id INTEGER NOT NULL REFERENCES recordings (id) ON DELETE CASCADE,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (recording_id, key)
    ) WITHOUT ROWID""",
    """CREATE TABLE scans (
        id INTEGER PRIMARY KEY,
        folder TEXT NOT NULL,
        started TEXT NOT NULL,
        finished TEXT,                    -- NULL: interrupted (killed or cancelled)
        listed INTEGER, indexed INTEGER, unreadable INTEGER, missing INTEGER
    )""",
)
# The readers' over-reads (``ecgviewer.overread``), by the recording's content: a file moved or
# copied keeps its over-read, and one not in any indexed folder has one too. Added after schema 1
# was first released: ``_add_tables`` makes them in an older file.
OVERREAD_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS overreads (
        sha256 TEXT PRIMARY KEY,          -- the recording's content, as recordings.sha256
        path TEXT NOT NULL,               -- where it was last read
        state TEXT NOT NULL CHECK (state IN ('draft', 'confirmed')),
        reader TEXT,                      -- who confirmed it (NULL: a draft)
        confirmed_at TEXT,
        updated_at TEXT NOT NULL,
        computer TEXT NOT NULL,           -- JSON: the computer's statements as proposed
        statements TEXT NOT NULL          -- JSON: the reader's
    ) WITHOUT ROWID""",
    "CREATE INDEX IF NOT EXISTS overreads_reader ON overreads (state, reader COLLATE NOCASE)",
    """CREATE TABLE IF NOT EXISTS overread_events (
        sha256 TEXT NOT NULL REFERENCES overreads (sha256) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        at TEXT NOT NULL, reader TEXT NOT NULL, action TEXT NOT NULL, text TEXT, before TEXT,
        PRIMARY KEY (sha256, seq)
    ) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS beat_relabels (
        sha256 TEXT PRIMARY KEY,          -- the recording's content, as recordings.sha256
        path TEXT NOT NULL,               -- where it was last read
        updated_at TEXT NOT NULL,
        relabels TEXT NOT NULL            -- JSON: [{"label": ..., "t_s": [R of each beat, s]}], in order
    ) WITHOUT ROWID""",
)
READERS_TABLES = ("overreads", "overread_events", "beat_relabels")  # the readers' work: carried on rebuild
_COLUMNS = (
    "path", "format", "size", "mtime_ns", "stamp", "sha256", "status", "reason", "indexed_at",
    "identifiers_read", "duration", "fs", "n_leads", "leads", "acquired", "device", "age", "sex",
    "dataset", "record_id", "patient", "fold", "warnings",
)  # fmt: skip


@dataclass
class Facts:
    """What the index stores about one listed file: one row of ``recordings`` and its children."""

    path: str
    format: str | None
    size: int
    mtime_ns: int
    stamp: str
    sha256: str | None
    status: str = "ok"
    reason: str | None = None
    duration: float | None = None
    fs: float | None = None
    leads: tuple[str, ...] = ()
    acquired: str | None = None
    device: str | None = None
    age: float | None = None
    sex: str | None = None
    dataset: str | None = None
    record_id: str | None = None
    patient: str | None = None
    fold: int | None = None
    warnings: list[str] = field(default_factory=list)
    statements: list[tuple[str, str, float | None]] = field(default_factory=list)  # source, text, value
    measurements: dict[tuple[str, str], float] = field(default_factory=dict)  # (source, key) -> value
    identifiers: dict[str, str] | None = field(default=None, repr=False)  # None: not asked for


@dataclass(frozen=True)
class Known:
    """What the library holds about a file already, enough to tell whether to read it again."""

    stamp: str
    status: str
    identifiers_read: bool


def default_path() -> Path:
    """``ECGVIEWER_LIBRARY``, else ``library.sqlite`` in the user's data folder."""
    from ecgviewer.assets import user_data_dir

    override = os.environ.get("ECGVIEWER_LIBRARY")
    return Path(override).expanduser() if override else user_data_dir() / FILE_NAME


def marks(n: int) -> str:
    """``?, ?, ?`` for an ``IN (...)`` list of ``n`` bound values."""
    return ", ".join("?" * n)


def now() -> str:
    return datetime.now().isoformat(sep=" ", timespec="seconds")


def library_error(path: Path, exc: sqlite3.Error) -> EcgError:
    """SQLite's failure as the line the user sees: a damaged file says how to rebuild it."""
    name = getattr(exc, "sqlite_errorname", "")
    if name in ("SQLITE_CORRUPT", "SQLITE_NOTADB") or "malformed" in str(exc):
        return EcgError(
            f"the library {path} is damaged ({exc}); rebuild it with: {REBUILD_HINT.format(path=path)}"
        )
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return EcgError(f"the library {path} is busy: another ecgviewer is writing to it; try again later")
    if name.startswith(("SQLITE_READONLY", "SQLITE_CANTOPEN", "SQLITE_PERM")):
        return EcgError(f"the library {path} cannot be written or opened ({exc})")
    if name == "SQLITE_FULL":
        return EcgError(f"the library {path}: the disk is full")
    return EcgError(f"the library {path}: {exc}")


def file_of(conn: sqlite3.Connection) -> Path:
    """The file behind a connection (for messages)."""
    return Path(conn.execute("PRAGMA database_list").fetchone()[2] or ":memory:")


@contextmanager
def guarded(path: Path) -> Iterator[None]:
    """Turn SQLite's exceptions inside the block into an ``EcgError`` naming ``path``."""
    try:
        yield
    except sqlite3.Error as exc:
        raise library_error(path, exc) from None


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction: all of it is committed, or none (an exception or a killed process)."""
    conn.execute("BEGIN IMMEDIATE")  # take the write lock now: no deadlock on upgrading a read
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def open_library(path: str | os.PathLike[str], create: bool = True) -> sqlite3.Connection:
    """Open (and with ``create``, make) the library at ``path``, in autocommit mode: writers use
    ``transaction``. A damaged or foreign file raises an ``EcgError`` that says what to do."""
    path = Path(path).expanduser()
    if not create and not path.is_file():
        raise EcgError(f"no library at {path}: build one with ecgviewer index FOLDER --db {path}")
    if create:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise EcgError(f"cannot create the library's folder {path.parent}: {exc.strerror}") from None
    with guarded(path):
        conn = sqlite3.connect(path, timeout=BUSY_S, isolation_level=None)
        try:
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA foreign_keys = ON")
            _ensure_schema(conn, path)  # first: a file that is not ours is refused untouched
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")  # WAL: safe against a killed process
            # a query over 100,000 rows reads most of the recordings table: keep it in memory
            conn.execute(f"PRAGMA cache_size = -{CACHE_MIB * 1024}")
            conn.execute(f"PRAGMA mmap_size = {MMAP_MIB * 2**20}")
        except BaseException:
            conn.close()
            raise
    return conn


def _ensure_schema(conn: sqlite3.Connection, path: Path) -> None:
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version == SCHEMA_VERSION:
        _add_columns(conn)
        _add_tables(conn)
        return
    if version > SCHEMA_VERSION:
        raise EcgError(
            f"the library {path} was made by a newer ecgviewer (schema {version}); update ecgviewer"
        )
    with transaction(conn):
        if conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION:
            return  # another instance made it meanwhile
        if conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
            raise EcgError(f"{path} is an SQLite database, but not an ecgviewer library")
        for statement in (*SCHEMA, *OVERREAD_SCHEMA):
            conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def _add_columns(conn: sqlite3.Connection) -> None:
    """A measurement added to the vocabulary since the library was made gets its column, and
    ``analyses`` the columns added since (``ANALYSIS_COLUMNS``)."""
    have = {r[1] for r in conn.execute("PRAGMA table_info(recordings)")}
    missing = [c for c in MEASURED if c not in have]
    have_analysis = {r[1] for r in conn.execute("PRAGMA table_info(analyses)")}
    added = {c: t for c, t in ANALYSIS_COLUMNS.items() if c not in have_analysis}
    if missing or added:
        with transaction(conn):
            for column in missing:
                conn.execute(f"ALTER TABLE recordings ADD COLUMN {column} REAL")
            for column, kind in added.items():
                conn.execute(f"ALTER TABLE analyses ADD COLUMN {column} {kind}")
            if missing:
                refresh_measurements(conn, [r[0] for r in conn.execute("SELECT id FROM recordings")])


def _add_tables(conn: sqlite3.Connection) -> None:
    """The readers' tables, in a library made before they were."""
    if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'beat_relabels'").fetchone() is None:
        with transaction(conn):
            for statement in OVERREAD_SCHEMA:
                conn.execute(statement)


def rebuild(path: str | os.PathLike[str]) -> Path | None:
    """Move a library (damaged or not) aside to ``<name>.old`` so that a new one is built in its
    place; its WAL goes with it. Returns where it went (None: there was none)."""
    path = Path(path).expanduser()
    if not path.exists():
        return None
    old = path.with_name(path.name + ".old")
    side = {s: Path(f"{path}{s}") for s in ("-wal", "-shm")}
    try:
        os.replace(path, old)
        if side["-wal"].exists():  # committed transactions not yet in the main file
            os.replace(side["-wal"], f"{old}-wal")
        else:  # an earlier .old's WAL must not pair with this file
            Path(f"{old}-wal").unlink(missing_ok=True)
        for shm in (side["-shm"], Path(f"{old}-shm")):
            shm.unlink(missing_ok=True)
    except OSError as exc:
        raise EcgError(f"cannot move the library {path} aside: {exc.strerror}") from None
    return old


def known(conn: sqlite3.Connection, folder: Path) -> dict[str, Known]:
    """What the library holds under ``folder``, by path."""
    rows = conn.execute(
        "SELECT path, stamp, status, identifiers_read FROM recordings WHERE path >= ? AND path < ?",
        under(folder),
    )
    return {r[0]: Known(r[1], r[2], bool(r[3])) for r in rows}


def under(folder: Path) -> tuple[str, str]:
    """Bounds of the paths under ``folder`` for a range scan of the path index (no LIKE, whose
    wildcards a folder's name may hold)."""
    prefix = str(folder).rstrip(os.sep) + os.sep
    return prefix, prefix[:-1] + chr(ord(os.sep) + 1)


def put(conn: sqlite3.Connection, batch: list[Facts]) -> list[int]:
    """Insert or replace the rows of ``batch`` and their children (inside the caller's
    transaction) and return their ids: a recording keeps its id, and loses our analyses only
    when its content changed."""
    old = _existing(conn, [f.path for f in batch])
    rows = [_row(f) for f in batch]
    fresh = [row for f, row in zip(batch, rows, strict=True) if f.path not in old]
    first = conn.execute("SELECT coalesce(max(id), 0) + 1 FROM recordings").fetchone()[0]
    ids, n = [], first  # the write lock is held: nobody else takes these ids
    for f in batch:
        ids.append(old[f.path][0] if f.path in old else n)
        n += f.path not in old
    conn.executemany(
        f"INSERT INTO recordings (id, {', '.join(_COLUMNS)}) VALUES (?{', ?' * len(_COLUMNS)})",
        [(rid, *row) for rid, row in zip(range(first, n), fresh, strict=True)],
    )
    replaced = [(rid, f, row) for rid, f, row in zip(ids, batch, rows, strict=True) if f.path in old]
    if replaced:
        conn.executemany(
            f"UPDATE recordings SET {', '.join(f'{c} = ?' for c in _COLUMNS)} WHERE id = ?",
            [(*row, rid) for rid, _, row in replaced],
        )
        stale = [(rid,) for rid, f, _ in replaced if old[f.path][1] != f.sha256]  # other bytes now
        conn.executemany("DELETE FROM analyses WHERE recording_id = ?", stale)
        for table in ("statements", "measurements"):
            conn.executemany(f"DELETE FROM {table} WHERE recording_id = ? AND source = 'ours'", stale)
            conn.executemany(
                f"DELETE FROM {table} WHERE recording_id = ? AND source != 'ours'",
                [(r[0],) for r in replaced],
            )
        conn.executemany("DELETE FROM identifiers WHERE recording_id = ?", [(r[0],) for r in replaced])
    _children(conn, ids, batch)
    refresh_measurements(conn, ids)
    return ids


def refresh_measurements(conn: sqlite3.Connection, ids: list[int]) -> None:
    """Copy each recording's measurements into its ``m_`` columns: ours where we measured, else
    the device's (inside the caller's transaction)."""
    pick = "(SELECT value FROM measurements WHERE recording_id = recordings.id AND source = '{}' AND key = ?)"
    value = f"coalesce({pick.format('ours')}, {pick.format('device')})"  # the full key: one lookup each
    assigned = ", ".join(f"{column} = {value}" for column in MEASURED)
    keys = [k for key in MEASUREMENTS for k in (key, key)]
    conn.executemany(f"UPDATE recordings SET {assigned} WHERE id = ?", [(*keys, rid) for rid in ids])


def _existing(conn: sqlite3.Connection, paths: list[str]) -> dict[str, tuple[int, str | None]]:
    """path -> (id, sha256) of the rows ``paths`` already have."""
    out: dict[str, tuple[int, str | None]] = {}
    for i in range(0, len(paths), CHUNK):
        chunk = paths[i : i + CHUNK]
        rows = conn.execute(
            f"SELECT path, id, sha256 FROM recordings WHERE path IN ({marks(len(chunk))})", chunk
        )
        out.update((r[0], (r[1], r[2])) for r in rows)
    return out


def _row(facts: Facts) -> list[object]:
    values = dict(vars(facts))
    values.update(
        indexed_at=now(),
        identifiers_read=int(facts.identifiers is not None),
        n_leads=len(facts.leads) or None,
        leads=",".join(facts.leads) or None,
        warnings="\n".join(facts.warnings) or None,
    )
    return [values[c] for c in _COLUMNS]


def put_statements(
    conn: sqlite3.Connection, said: list[tuple[int, list[tuple[str, str, float | None]]]]
) -> None:
    """Insert each recording's (source, text, value) statements, numbered in the order given
    (inside the caller's transaction; the recording has none of those sources yet)."""
    texts = sorted({text for _, items in said for _, text, _ in items})
    conn.executemany("INSERT OR IGNORE INTO statement_texts (text) VALUES (?)", [(t,) for t in texts])
    text_id: dict[str, int] = {}
    for i in range(0, len(texts), CHUNK):
        chunk = texts[i : i + CHUNK]
        text_id.update(
            conn.execute(f"SELECT text, id FROM statement_texts WHERE text IN ({marks(len(chunk))})", chunk)
        )
    conn.executemany(
        "INSERT INTO statements (recording_id, source, ord, text_id, value) VALUES (?, ?, ?, ?, ?)",
        [
            (rid, source, k, text_id[text], value)
            for rid, items in said
            for k, (source, text, value) in enumerate(items)
        ],
    )


def _children(conn: sqlite3.Connection, ids: list[int], batch: list[Facts]) -> None:
    pairs = list(zip(ids, batch, strict=True))
    put_statements(conn, [(rid, f.statements) for rid, f in pairs])
    conn.executemany(
        "INSERT INTO measurements (recording_id, source, key, value) VALUES (?, ?, ?, ?)",
        [(rid, source, key, value) for rid, f in pairs for (source, key), value in f.measurements.items()],
    )
    conn.executemany(
        "INSERT INTO identifiers (recording_id, key, value) VALUES (?, ?, ?)",
        [(rid, k, v) for rid, f in pairs for k, v in (f.identifiers or {}).items()],
    )


def counts(conn: sqlite3.Connection, folder: Path) -> dict[str, int]:
    """status -> how many rows under ``folder`` have it."""
    rows = conn.execute(
        "SELECT status, count(*) FROM recordings WHERE path >= ? AND path < ? GROUP BY status", under(folder)
    )
    return {r[0]: r[1] for r in rows}


def mark_missing(conn: sqlite3.Connection, folder: Path, present: set[str]) -> int:
    """Rows under ``folder`` whose file the scan did not find become ``missing`` (kept, with what
    was known of them, so that a moved export can be found again); returns how many."""
    rows = conn.execute(
        "SELECT id, path FROM recordings WHERE path >= ? AND path < ? AND status != 'missing'", under(folder)
    ).fetchall()
    gone = [(f"not found when {folder} was indexed on {now()}", r[0]) for r in rows if r[1] not in present]
    with transaction(conn):
        conn.executemany("UPDATE recordings SET status = 'missing', reason = ? WHERE id = ?", gone)
    return len(gone)
