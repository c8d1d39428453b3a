"""Indexing a folder into the library: every recording the app reads (the Open folder listing,
``io.catalog``), read once through the app's own readers, its facts stored in one row.

Re-indexing reads again only what changed (a different size or modification time of the file
or of the files read with it); files no longer found are marked missing, never deleted. Rows
are committed in batches, each in one transaction: a killed indexer loses at most the batch it
was writing, and the next run skips what was committed and finishes the rest. An unreadable
file is a row with the reader's reason and never stops the scan. Patient identifiers are
stored only when asked for, in their own table, and never logged.
"""

from __future__ import annotations

import csv
import logging
import math
import sqlite3
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType

from ecgviewer.errors import EcgError
from ecgviewer.io import catalog, ptbxl, registry
from ecgviewer.library import db, files
from ecgviewer.recording import Recording

log = logging.getLogger(__name__)

BATCH = 100  # files per transaction
BATCH_S = 5.0  # ... or fewer, when they take this long: an interruption costs little work


@dataclass
class Summary:
    """What one run did."""

    folder: Path
    listed: int = 0  # recordings found under the folder
    indexed: int = 0  # read in this run (new or changed), unreadable ones included
    unchanged: int = 0  # skipped in this run: already in the library as they are
    unreadable: int = 0  # the library's rows under the folder, after the run, by status
    missing: int = 0
    cancelled: bool = False
    truncated: bool = False  # the folder holds more than ``catalog.MAX_ENTRIES`` recordings
    # files with a reader's extension (.xml, .csv, .dat) whose content no reader recognises: not
    # recordings, so not listed (a folder's notes.xml would crowd the unreadable ones), but counted
    passed_over: list[Path] = field(default_factory=list)

    def said(self, where: str | None = None) -> str:
        """The run in one sentence, as the command line and the Library dock both report it;
        ``where``: how to name the folder (default its name)."""
        stopped = " (cancelled: what was read is kept; indexing again finishes it)" if self.cancelled else ""
        passed = ""
        if self.passed_over:
            n, names = len(self.passed_over), ", ".join(p.name for p in self.passed_over[:3])
            passed = (
                f"; {n} file{'s' * (n > 1)} not recognised as an ECG left out ({names}{', ...' * (n > 3)})"
            )
        return (
            f"{where or self.folder.name}: {self.listed} recordings found, {self.indexed} read, "
            f"{self.unchanged} unchanged; the library holds {self.unreadable} unreadable and "
            f"{self.missing} missing{passed}{stopped}"
        )


def index(
    folder: str | Path,
    conn: sqlite3.Connection,
    identifiers: bool = False,
    progress: Callable[[int, int], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
    batch: int = BATCH,
) -> Summary:
    """Bring the library up to date with ``folder``; ``progress(done, total)`` after each file,
    ``cancelled()`` checked before each (a cancelled run keeps what it stored and marks nothing
    missing). Raises ``EcgError`` for a missing folder or a damaged library."""
    folder = Path(folder).expanduser().resolve()
    if not folder.is_dir():
        raise EcgError(f"{folder}: no such folder")
    stop = cancelled or (lambda: False)
    summary = Summary(folder)
    with db.guarded(db.file_of(conn)):
        with db.transaction(conn):
            scan = conn.execute("INSERT INTO scans (folder, started) VALUES (?, ?)", (str(folder), db.now()))
        entries = catalog.scan(folder, stop, summary.passed_over)
        summary.listed = len(entries)
        summary.truncated = len(entries) >= catalog.MAX_ENTRIES
        known = db.known(conn, folder)
        writer = _Writer(conn, batch)
        parts = files.Parts()
        for done, entry in enumerate(entries, 1):
            if stop():
                summary.cancelled = True
                break
            _index_one(entry.path, known.get(str(entry.path)), parts, identifiers, writer, summary)
            if progress is not None:
                progress(done, len(entries))
        summary.cancelled = summary.cancelled or stop()
        writer.flush()
        if summary.indexed:
            conn.execute("ANALYZE")  # the query planner's statistics: which index narrows a query
        if not (summary.cancelled or summary.truncated):  # a partial listing proves nothing gone
            db.mark_missing(conn, folder, {str(e.path) for e in entries})
        counts = db.counts(conn, folder)
        summary.unreadable, summary.missing = counts.get("unreadable", 0), counts.get("missing", 0)
        with db.transaction(conn):
            conn.execute(
                "UPDATE scans SET finished = ?, listed = ?, indexed = ?, unreadable = ?, missing = ? "
                "WHERE id = ?",
                (None if summary.cancelled else db.now(), summary.listed, summary.indexed,
                 summary.unreadable, summary.missing, scan.lastrowid),
            )  # fmt: skip
    return summary


def _index_one(
    path: Path, old: db.Known | None, parts: files.Parts, identifiers: bool, writer: _Writer, summary: Summary
) -> None:
    found = parts(path)
    try:
        size, mtime_ns, stamp = files.stamp(found)
    except OSError as exc:  # gone or unreadable between listing and now
        size, mtime_ns, stamp = 0, 0, f"unstatable: {exc.strerror}"
    if (
        old is not None
        and old.stamp == stamp
        and old.status != "missing"
        and (old.identifiers_read or not identifiers)
    ):
        summary.unchanged += 1
        return
    facts = read(path, found, (size, mtime_ns, stamp), identifiers)
    writer.put(facts)
    summary.indexed += 1
    if facts.status == "unreadable":
        log.info("unreadable: %s", facts.reason)


def read(path: Path, parts: list[Path], stamped: tuple[int, int, str], identifiers: bool) -> db.Facts:
    """The facts of one file, through the app's reader (files are only ever opened for reading);
    a failure is a row whose reason is the reader's message."""
    size, mtime_ns, stamp = stamped
    base = db.Facts(str(path), _format(path), size, mtime_ns, stamp, None)
    base.identifiers = {} if identifiers else None  # asked for: an unreadable file has none to give
    try:
        base.sha256 = files.sha256(parts)
        rec = registry.load(path)
    except EcgError as exc:
        base.status, base.reason = "unreadable", str(exc)
        return base
    except OSError as exc:
        base.status, base.reason = "unreadable", f"Cannot read {path.name}: {exc.strerror} ({path})"
        return base
    return _facts(rec, base)


def _format(path: Path) -> str | None:
    try:
        return registry.detect(path).name
    except (EcgError, OSError):
        return None


def _facts(rec: Recording, facts: db.Facts) -> db.Facts:
    meta, device = rec.metadata, rec.metadata.device
    facts.format = rec.source_format
    facts.duration, facts.fs, facts.leads = rec.duration, rec.fs, rec.leads
    facts.acquired = _acquired(rec)
    facts.age, facts.sex = meta.age, meta.sex
    facts.dataset, facts.record_id = meta.dataset, meta.record_id
    facts.warnings = list(rec.warnings)
    facts.statements = [("labels", code, value) for code, value in meta.labels.items()]
    if device is not None:
        facts.device = device.device
        facts.statements += [("device", text, None) for text in device.statements]
        facts.measurements = {("device", k): v for k, v in device.measurements.items() if math.isfinite(v)}
    if meta.dataset == "PTB-XL" and rec.path is not None:
        fold = meta.extra.get("strat_fold", "")
        facts.fold = int(float(fold)) if fold.replace(".", "", 1).isdigit() else None
        root = ptbxl.find_root(rec.path)
        facts.patient = _ptbxl_patients(root).get(int(meta.record_id or 0)) if root else None
    if facts.identifiers is not None:
        facts.identifiers = dict(meta.identifiers)
    return facts


def _acquired(rec: Recording) -> str | None:
    """When the ECG was taken, as sortable text: the file's start time, else the dataset's date."""
    when = rec.start_time
    text = rec.metadata.extra.get("recording_date")
    if when is None and text:
        try:
            when = datetime.fromisoformat(text)
        except ValueError:
            return None
    return when.replace(tzinfo=None).isoformat(sep=" ", timespec="seconds") if when else None


@lru_cache(maxsize=4)
def _ptbxl_patients(root: Path) -> Mapping[int, str]:
    """ecg_id -> PTB-XL's patient_id (a pseudonym the dataset publishes; what tells a patient's
    several ECGs apart), from ``ptbxl_database.csv`` when the tree has it; read-only, as the cache
    shares it between indexing runs."""
    table = root / ptbxl.DATABASE
    if not table.is_file():
        return MappingProxyType({})
    try:
        with table.open(newline="", encoding="utf-8") as fh:
            return MappingProxyType(
                {
                    int(row["ecg_id"]): row["patient_id"].removesuffix(".0")
                    for row in csv.DictReader(fh)
                    if row.get("patient_id")
                }
            )
    except (OSError, ValueError, KeyError, csv.Error):
        return MappingProxyType({})  # metadata is a bonus, as in ``ptbxl.attach``


class _Writer:
    """Rows go to the library in transactions of ``batch`` files (or ``BATCH_S`` seconds)."""

    def __init__(self, conn: sqlite3.Connection, batch: int) -> None:
        self.conn, self.batch = conn, max(1, batch)
        self.pending: list[db.Facts] = []
        self.since = time.monotonic()

    def put(self, facts: db.Facts) -> None:
        self.pending.append(facts)
        if len(self.pending) >= self.batch or time.monotonic() - self.since > BATCH_S:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            with db.transaction(self.conn):
                db.put(self.conn, self.pending)
        self.pending.clear()
        self.since = time.monotonic()
