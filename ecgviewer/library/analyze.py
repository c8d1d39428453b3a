"""``ecgviewer index --analyze``: our measurements, our statements and the model's findings for
every readable recording in the library, stored beside what the files themselves say.

The work on one file is a pure function of its path (``analyse_file``: read, measure, predict
through the app's one pipeline, ``analysis.analyse``, without attributions), so it runs the same
in a local process pool or on a Dask cluster (``engine``). Each worker process loads the model
and the delineator once. Only the calling process writes, in transactions of a few dozen
recordings, so the library keeps one writer and a killed run loses at most one batch.

What was analysed is keyed by the model's and the delineator's SHA-256 and by the file's content
hash: a new model, a new delineator or a changed file is analysed again, nothing else is.
Long recordings are analysed on the span the window would analyse (``analysis.analysed_span``
from their start). Dask rather than Ray: it is pure Python and pip-installable in seconds, its
client is a ``concurrent.futures.Executor`` (the local pool's interface, so there is one code
path), and a local cluster runs inside a test without a daemon.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from concurrent.futures import BrokenExecutor, Executor, Future, ProcessPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from ecgviewer.errors import EcgError
from ecgviewer.library import db
from ecgviewer.measurements import MEASUREMENTS

log = logging.getLogger(__name__)

BATCH = 32  # recordings per write transaction
CONNECT_S = 10.0  # how long to try reaching a Dask scheduler
IN_FLIGHT = 4  # submitted ahead per worker: a cancel waits for at most these


@dataclass(frozen=True)
class Outcome:
    """What one recording's analysis found (picklable: it comes back from a worker)."""

    path: str
    content_sha256: str
    findings: dict[str, float] = field(default_factory=dict)  # code -> probability
    measurements: dict[str, float] = field(default_factory=dict)  # MEASUREMENTS key -> value
    statements: tuple[str, ...] = ()  # our statements' codes (``measure.statements``)
    error: str | None = None  # why it could not be analysed (the row keeps nothing of ours)
    seconds: float = 0.0


@dataclass
class Summary:
    analysed: int = 0  # in this run
    failed: int = 0  # in this run: unreadable now, or the analysis raised
    current: int = 0  # already analysed with these models
    cancelled: bool = False
    seconds: float = 0.0

    @property
    def per_second(self) -> float:
        return (self.analysed + self.failed) / self.seconds if self.seconds else 0.0


@lru_cache(maxsize=2)
def _tools(model_file: str | None):
    """The analyzer and delineator of this process, loaded once (per model file)."""
    import torch

    from ecgviewer.measure.delineate import Delineator
    from ecgviewer.ml.infer import Analyzer

    torch.set_num_threads(1)  # one worker per core: more threads only contend
    return Analyzer(Path(model_file) if model_file else None, device="cpu"), Delineator.bundled()


def versions(model_file: str | None) -> tuple[str, str]:
    """(the model's SHA-256, what measured): what an analysis is keyed by. What measured is the
    delineator's SHA-256, the measurement rules' version and a digest of the statements'
    criteria, so that a new delineator or new rules measure again."""
    import hashlib
    import json

    from ecgviewer import assets
    from ecgviewer.measure import RULES
    from ecgviewer.measure.statements import CRITERIA
    from ecgviewer.weights import sha256

    model = Path(model_file) if model_file else assets.model_path()
    criteria = json.dumps({code: c.rule for code, c in CRITERIA.items()}, sort_keys=True)
    rules = f"rules {RULES} {hashlib.sha256(criteria.encode()).hexdigest()[:12]}"
    paths = (
        assets.delineator_path(),
        assets.beat_delineator_path(),
        assets.second_opinion_path(),
        assets.beat_classifier_path(),
    )
    tools = " ".join(sha256(path) for path in dict.fromkeys(paths))  # a file named twice counts once
    return sha256(model), f"{tools} {rules}"


def analyse_file(path: str, content_sha256: str, model_file: str | None) -> Outcome:
    """Read and analyse one recording; every failure is the outcome's ``error``, never raised."""
    from ecgviewer.analysis import FAILURES, analyse
    from ecgviewer.io import load
    from ecgviewer.measure.intervals import DEFAULT_QTC
    from ecgviewer.measure.statements import statements

    t0 = time.perf_counter()
    analyzer, delineator = _tools(model_file)
    try:
        rec = load(path)
        found = analyse(rec, analyzer=analyzer, delineator=delineator, explain=False, keep_going=True)
    except (*FAILURES, OSError) as exc:
        return Outcome(path, content_sha256, error=str(exc) or type(exc).__name__)
    findings: dict[str, float] = {}
    if found.predictions is not None:
        for classes in found.predictions.tasks.values():  # the superclass task first: MI is its MI
            for c in classes:
                findings.setdefault(c.code, float(c.probability))
    values: dict[str, float] = {}
    said: tuple[str, ...] = ()
    if found.measurements is not None:
        m = found.measurements
        for key in MEASUREMENTS:
            v = m.values.get(f"qtc_{DEFAULT_QTC.lower()}" if key == "qtc" else key)
            if v is not None and v.value is not None:
                values[key] = float(v.value)
        said = tuple(s.criterion.code for s in statements(m, rec.metadata.sex))
    error = None
    if not (findings or values):
        error = (
            "; ".join(found.notes.values()) or f"{Path(path).name}: nothing could be measured or predicted"
        )
    return Outcome(path, content_sha256, findings, values, said, error, time.perf_counter() - t0)


def pending(
    conn: sqlite3.Connection, model_sha: str, delineator_sha: str, folder: Path | None
) -> list[sqlite3.Row]:
    """Readable recordings (under ``folder``) without an analysis by these models of these bytes."""
    where, args = "r.status = 'ok' AND r.sha256 IS NOT NULL", [model_sha, delineator_sha]
    if folder is not None:
        where += " AND r.path >= ? AND r.path < ?"
        args += db.under(folder)
    return conn.execute(
        "SELECT r.id, r.path, r.sha256 FROM recordings r LEFT JOIN analyses a ON a.recording_id = r.id "
        "AND a.model_sha256 = ? AND a.measured_with = ? AND a.content_sha256 = r.sha256 "
        f"WHERE {where} AND a.recording_id IS NULL ORDER BY r.path",
        args,
    ).fetchall()


def store(
    conn: sqlite3.Connection, done: list[tuple[int, Outcome]], model_sha: str, delineator_sha: str
) -> None:
    """Write outcomes (one transaction): the findings under the model, our measurements and
    statements (replacing earlier ones of ours), the ``m_`` columns. A failed analysis is stored
    too, with its reason, so that it is not retried until the file or a model changes."""
    ids = [rid for rid, _ in done]
    with db.transaction(conn):
        for table in ("measurements", "statements"):
            conn.executemany(
                f"DELETE FROM {table} WHERE recording_id = ? AND source = 'ours'", [(i,) for i in ids]
            )
        conn.executemany("DELETE FROM analyses WHERE recording_id = ? AND model_sha256 = ?",
                         [(i, model_sha) for i in ids])  # fmt: skip
        conn.executemany(
            "INSERT INTO analyses (recording_id, model_sha256, content_sha256, analysed_at, measured_with, "
            "error) VALUES (?, ?, ?, ?, ?, ?)",
            [(rid, model_sha, o.content_sha256, db.now(), delineator_sha, o.error) for rid, o in done],
        )
        conn.executemany(
            "INSERT INTO findings (recording_id, model_sha256, code, probability) VALUES (?, ?, ?, ?)",
            [(rid, model_sha, code, p) for rid, o in done for code, p in o.findings.items()],
        )
        conn.executemany(
            "INSERT INTO measurements (recording_id, source, key, value) VALUES (?, 'ours', ?, ?)",
            [(rid, key, v) for rid, o in done for key, v in o.measurements.items()],
        )
        db.put_statements(conn, [(rid, [("ours", code, None) for code in o.statements]) for rid, o in done])
        db.refresh_measurements(conn, ids)


@contextmanager
def engine(scheduler: str | None = None, workers: int | None = None) -> Iterator[tuple[Executor, int]]:
    """An executor and its worker count: a Dask cluster's (``scheduler``: its address, e.g.
    ``tcp://10.0.0.5:8786``), else a local pool of ``workers`` processes (default: every core)."""
    if scheduler:
        try:
            from distributed import Client
        except ImportError:
            raise EcgError("--scheduler needs Dask: pip install 'ecgviewer[cluster]'") from None
        try:
            client = Client(scheduler, timeout=CONNECT_S)
        except OSError as exc:
            raise EcgError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
        try:
            n = max(1, sum(w.get("nthreads", 1) for w in client.scheduler_info()["workers"].values()))
            yield client.get_executor(), n
        finally:
            client.close()
        return
    n = max(1, workers or os.cpu_count() or 1)
    with ProcessPoolExecutor(max_workers=n, initializer=_worker_start) as pool:
        yield pool, n


def _worker_start() -> None:
    """Ctrl-C reaches the whole process group: the workers leave it to the caller, which stops
    submitting and stores what finished."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


def analyse_library(
    conn: sqlite3.Connection,
    folder: Path | None = None,
    model_file: str | None = None,
    executor: Executor | None = None,
    workers: int = 1,
    progress: Callable[[int, int], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> Summary:
    """Analyse what ``pending`` lists on ``executor`` (None: in this process), storing as results
    arrive; ``cancelled()`` stops submitting, and what finished is stored."""
    stop = cancelled or (lambda: False)
    model_sha, delineator_sha = versions(model_file)
    summary, t0 = Summary(), time.perf_counter()
    with db.guarded(db.file_of(conn)):
        todo = pending(conn, model_sha, delineator_sha, folder)
        readable = db.counts(conn, folder).get("ok", 0) if folder is not None else None
        if readable is None:
            readable = conn.execute("SELECT count(*) FROM recordings WHERE status = 'ok'").fetchone()[0]
        summary.current = readable - len(todo)
        done: list[tuple[int, Outcome]] = []

        def collect(rid: int, outcome: Outcome) -> None:
            done.append((rid, outcome))
            summary.analysed += outcome.error is None
            summary.failed += outcome.error is not None
            if outcome.error:
                log.info("not analysed: %s", outcome.error)
            if len(done) >= BATCH:
                store(conn, done, model_sha, delineator_sha)
                done.clear()
            if progress is not None:
                progress(summary.analysed + summary.failed, len(todo))

        if executor is None:
            for row in todo:
                if stop():
                    break
                collect(row["id"], analyse_file(row["path"], row["sha256"], model_file))
        else:
            running: dict[Future, int] = {}
            queue = list(reversed(todo))
            while True:
                while queue and not stop() and len(running) < IN_FLIGHT * workers:
                    row = queue.pop()
                    running[executor.submit(analyse_file, row["path"], row["sha256"], model_file)] = row["id"]
                if not running:
                    break
                finished, _ = wait(running, return_when="FIRST_COMPLETED")
                for future in finished:
                    rid = running.pop(future)
                    try:
                        outcome = future.result()
                    except BrokenExecutor as exc:  # a worker died (killed, out of memory)
                        if done:
                            store(conn, done, model_sha, delineator_sha)
                        raise EcgError(f"an analysis worker stopped ({exc}); what finished is stored: "
                                       "run the same command again") from None  # fmt: skip
                    collect(rid, outcome)
        if done:
            store(conn, done, model_sha, delineator_sha)
    summary.cancelled = stop() and summary.analysed + summary.failed < len(todo)
    summary.seconds = time.perf_counter() - t0
    return summary
