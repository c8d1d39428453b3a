"""The library survives a killed indexer, two instances at once and a damaged file, and says
what to do when it cannot go on."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ecgviewer.errors import EcgError
from ecgviewer.library import db, query
from ecgviewer.library.index import index
from tests.conftest import REPO
from tests.library.conftest import rows, write_ecg

KILL_AT_BATCH = 2  # the indexer is killed inside its second transaction, after writing its rows

KILLED = textwrap.dedent(
    f"""
    import os, signal, sys
    from ecgviewer.library import db, index

    real, batches = db.put, []

    def put_then_die(conn, batch):
        ids = real(conn, batch)  # the rows are written, the transaction is not committed
        batches.append(len(batch))
        if len(batches) == {KILL_AT_BATCH}:
            os.kill(os.getpid(), signal.SIGKILL)
        return ids

    db.put = put_then_die
    index.index(sys.argv[2], db.open_library(sys.argv[1]), batch=3)
    """
)


def _folder(tmp_path: Path, n: int) -> Path:
    folder = tmp_path / "export"
    for k in range(n):
        write_ecg(folder / f"day{k % 3}", f"ecg{k:02d}", qtc=400.0 + k)
    return folder


def test_a_killed_indexer_leaves_whole_rows_and_a_rerun_finishes(tmp_path):
    folder, path = _folder(tmp_path, 8), tmp_path / "library.sqlite"
    r = subprocess.run(
        [sys.executable, "-c", KILLED, str(path), str(folder)], cwd=REPO, capture_output=True, timeout=300
    )
    assert r.returncode == -9, r.stderr.decode()
    conn = db.open_library(path)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    kept = rows(conn)
    assert len(kept) == 3  # the first batch; nothing of the second
    for row in kept.values():  # each row whole: its measurements and statements came with it
        assert row["status"] == "ok" and row["m_qtc"] is not None
        n = conn.execute("SELECT count(*) FROM statements WHERE recording_id = ?", (row["id"],)).fetchone()[0]
        assert n == 2
    assert [tuple(r) for r in conn.execute("SELECT finished FROM scans")] == [(None,)]  # cut short, it says
    summary = index(folder, conn)
    assert (summary.listed, summary.indexed, summary.unchanged) == (8, 5, 3)
    assert sorted(r.path for r in query.find(conn, "").rows) == sorted(str(p) for p in folder.rglob("*.hea"))
    conn.close()


def test_two_instances_read_while_one_writes(tmp_path):
    folder, path = _folder(tmp_path, 4), tmp_path / "library.sqlite"
    writer, reader = db.open_library(path), db.open_library(path)
    assert writer.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    index(folder, writer)
    seen_during: list[int] = []
    write_ecg(folder / "day0", "new", qtc=520.0)
    with db.transaction(writer):  # an indexer's batch in flight: the other instance still reads
        db.put(writer, [_facts_of(folder / "day0" / "new.hea")])
        seen_during.append(query.find(reader, "").total)
        reader.execute("PRAGMA busy_timeout = 100")
        busy = pytest.raises(EcgError, match="busy: another ecgviewer is writing")
        with busy, db.guarded(path), db.transaction(reader):
            pass
    assert seen_during == [4]  # the committed state, not the half-done batch
    assert [r.path for r in query.find(reader, "qtc>500").rows] == [str(folder / "day0" / "new.hea")]
    writer.close()
    reader.close()


def _facts_of(hea: Path) -> db.Facts:
    from ecgviewer.library import files
    from ecgviewer.library.index import read

    parts = files.Parts()(hea)
    return read(hea, parts, files.stamp(parts), identifiers=False)


def _damage(path: Path, table: str) -> None:
    """Overwrite the root page of ``table`` with noise (the schema stays readable)."""
    with sqlite3.connect(path) as c:
        root = c.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)).fetchone()[0]
        size = c.execute("PRAGMA page_size").fetchone()[0]
    c.close()
    data = bytearray(path.read_bytes())
    data[(root - 1) * size : root * size] = bytes((i * 7919 + 13) % 251 for i in range(size))
    path.write_bytes(bytes(data))


def test_a_damaged_library_says_how_to_rebuild(samples, tmp_path):
    path = tmp_path / "library.sqlite"
    conn = db.open_library(path)
    index(samples, conn)
    conn.close()  # the last connection folds the WAL into the file
    assert not Path(f"{path}-wal").exists()
    _damage(path, "recordings")
    conn = db.open_library(path)
    with pytest.raises(EcgError) as caught:
        query.find(conn, "age>30")
    conn.close()
    message = str(caught.value)
    assert str(path) in message and f"ecgviewer index FOLDER --db {path} --rebuild" in message
    assert "damaged" in message

    path.write_bytes(b"this is no database, whatever its name says" * 100)
    with pytest.raises(EcgError, match=r"damaged .*--rebuild"):
        db.open_library(path)

    old = db.rebuild(path)
    assert old == path.with_name("library.sqlite.old") and old.read_bytes().startswith(b"this is no")
    conn = db.open_library(path)
    assert index(samples, conn).indexed == 3
    conn.close()


def test_foreign_and_newer_files_are_refused(tmp_path):
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as c:
        c.execute("CREATE TABLE patients (name TEXT)")
    before = other.read_bytes()
    with pytest.raises(EcgError, match="not an ecgviewer library"):
        db.open_library(other)
    assert other.read_bytes() == before  # refused untouched
    newer = tmp_path / "newer.sqlite"
    db.open_library(newer).execute(f"PRAGMA user_version = {db.SCHEMA_VERSION + 1}")
    with pytest.raises(EcgError, match="newer ecgviewer"):
        db.open_library(newer)
    with pytest.raises(EcgError, match=r"no library at .*ecgviewer index FOLDER"):
        db.open_library(tmp_path / "absent.sqlite", create=False)
    assert not (tmp_path / "absent.sqlite").exists()


def test_the_default_library_is_in_the_users_data_folder(monkeypatch, tmp_path):
    """Beside the user's models (``assets.user_data_dir``: tests/ml/test_registry.py checks the three
    platforms' folders), unless ``ECGVIEWER_LIBRARY`` names another file."""
    from ecgviewer import assets

    monkeypatch.delenv("ECGVIEWER_LIBRARY", raising=False)
    monkeypatch.delenv("ECGVIEWER_MODELS", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert db.default_path() == assets.user_data_dir() / "library.sqlite"
    assert db.default_path().parent == assets.user_models_dir().parent
    monkeypatch.setenv("ECGVIEWER_LIBRARY", str(tmp_path / "mine.sqlite"))
    assert db.default_path() == tmp_path / "mine.sqlite"


def test_a_measurement_new_to_the_vocabulary_gets_its_column(tmp_path, monkeypatch):
    """A library made before a measurement was added to ``MEASUREMENTS`` gains its column on
    opening, filled from the stored values, so that a query on it works."""
    path = tmp_path / "library.sqlite"
    conn = db.open_library(path)
    facts = db.Facts("/x/a.hea", "WFDB", 1, 1, "a", "0" * 64, measurements={("device", "qtc"): 470.0})
    with db.transaction(conn):
        db.put(conn, [facts])
        conn.execute("INSERT INTO measurements VALUES (1, 'device', 'jt', 333.0)")
    conn.close()
    from types import MappingProxyType

    from ecgviewer.measurements import MEASUREMENTS, Quantity

    grown = MappingProxyType({**MEASUREMENTS, "jt": Quantity("JT", "ms")})  # the vocabulary is read-only
    for module in (db, query):
        monkeypatch.setattr(module, "MEASUREMENTS", grown)
    monkeypatch.setattr(db, "MEASURED", (*db.MEASURED, "m_jt"))
    conn = db.open_library(path)
    assert [r.path for r in query.find(conn, "jt>300 qtc>460", check_files=False).rows] == ["/x/a.hea"]
    conn.close()
