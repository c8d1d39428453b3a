"""``library.index``: what one recording's row holds, re-indexing only what changed, unreadable
and vanished files, identifiers only on request, and PTB-XL's metadata."""

from __future__ import annotations

import csv
import hashlib
import logging
import os
import shutil
from collections import Counter
from pathlib import Path

import pytest

from ecgviewer.io import load
from ecgviewer.library import db, query
from ecgviewer.library import index as indexing
from ecgviewer.library.index import index
from tests.library.conftest import NAME, PATIENT_ID, SAMPLE_IDS, rows, write_ecg


def _snapshot(folder: Path) -> dict[str, tuple[int, int, bytes]]:
    return {
        str(p): (p.stat().st_mtime_ns, p.stat().st_size, hashlib.sha256(p.read_bytes()).digest())
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _reads(monkeypatch) -> list[str]:
    """The files the indexer reads from now on (the real reader does the reading)."""
    seen: list[str] = []
    real = indexing.registry.load

    def load_and_count(path):
        seen.append(Path(path).name)
        return real(path)

    monkeypatch.setattr(indexing.registry, "load", load_and_count)
    return seen


def test_the_bundled_samples_are_indexed_with_ptbxl_metadata(samples, library):
    before = _snapshot(samples)
    summary = index(samples, library)
    assert _snapshot(samples) == before  # read only: not a byte nor a timestamp changed
    assert (summary.listed, summary.indexed, summary.unchanged, summary.unreadable) == (3, 3, 0, 0)
    got = rows(library)
    assert sorted(got) == [f"{i:05d}_hr.hea" for i in SAMPLE_IDS]  # PTB-XL's CSV tables are no recordings
    with (samples / "ptbxl/ptbxl_database.csv").open(newline="") as fh:
        table = {int(r["ecg_id"]): r for r in csv.DictReader(fh)}
    for ecg_id in SAMPLE_IDS:
        hea = samples / f"ptbxl/records500/00000/{ecg_id:05d}_hr.hea"
        row, rec, info = got[hea.name], load(hea), table[ecg_id]
        assert row["status"] == "ok" and row["reason"] is None and row["format"] == "WFDB"
        assert (row["fs"], row["duration"], row["n_leads"]) == (500.0, 10.0, 12)
        assert row["leads"].split(",") == list(rec.leads)
        patient = info["patient_id"].removesuffix(".0")
        assert (row["dataset"], row["record_id"], row["patient"]) == ("PTB-XL", str(ecg_id), patient)
        assert row["fold"] == int(info["strat_fold"])
        assert row["age"] == float(info["age"]) and row["sex"] == rec.metadata.sex
        assert row["acquired"] == info["recording_date"]
        dat = hea.with_suffix(".dat")
        assert row["size"] == hea.stat().st_size + dat.stat().st_size
        assert row["sha256"] == hashlib.sha256(hea.read_bytes() + dat.read_bytes()).hexdigest()
        labels = library.execute(
            "SELECT t.text, s.value FROM statements s JOIN statement_texts t ON t.id = s.text_id "
            "WHERE s.recording_id = ? AND s.source = 'labels'",
            (row["id"],),
        ).fetchall()
        assert dict(map(tuple, labels)) == rec.metadata.labels
    assert library.execute("SELECT count(*) FROM identifiers").fetchone()[0] == 0
    scan = library.execute("SELECT * FROM scans").fetchone()
    assert scan["folder"] == str(samples.resolve()) and scan["finished"] and scan["listed"] == 3


def test_reindexing_reads_only_the_files_that_changed(samples, library, monkeypatch):
    index(samples, library)
    first = rows(library)
    reads = _reads(monkeypatch)
    again = index(samples, library)
    assert (again.indexed, again.unchanged, reads) == (0, 3, [])
    dat = samples / "ptbxl/records500/00000/00008_hr.dat"
    data = bytearray(dat.read_bytes())
    data[100] ^= 0xFF  # same size, other bytes, a later time: a signal file changed, not its header
    dat.write_bytes(bytes(data))
    os.utime(dat, ns=(dat.stat().st_atime_ns, dat.stat().st_mtime_ns + 10**9))
    changed = index(samples, library)
    assert (changed.indexed, changed.unchanged, reads) == (1, 2, ["00008_hr.hea"])
    now = rows(library)
    assert now["00008_hr.hea"]["sha256"] != first["00008_hr.hea"]["sha256"]
    assert now["00008_hr.hea"]["id"] == first["00008_hr.hea"]["id"]  # a recording keeps its id


def test_an_unreadable_file_is_a_row_with_the_readers_reason(samples, library):
    bad = samples / "broken" / "monitor.edf"
    bad.parent.mkdir()
    bad.write_bytes(b"0       not an EDF header at all" * 10)
    truncated = samples / "broken" / "short.hea"
    shutil.copy(samples / "ptbxl/records500/00000/00003_hr.hea", truncated)
    (samples / "broken" / "00003_hr.dat").write_bytes(b"\x00" * 10)  # the header names this file
    summary = index(samples, library)
    assert (summary.listed, summary.unreadable) == (5, 2)
    got = rows(library)
    for path in (bad, truncated):
        with pytest.raises(Exception) as caught:
            load(path)
        row = got[path.name]
        assert row["status"] == "unreadable" and row["reason"] == str(caught.value)
        assert row["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert got["monitor.edf"]["format"] == "EDF" and got["short.hea"]["format"] == "WFDB"
    assert sum(r["status"] == "ok" for r in got.values()) == 3  # the scan went on past them
    assert [r.path for r in query.find(library, "status=unreadable").rows] == sorted(
        str(p) for p in (bad, truncated)
    )


def test_a_vanished_file_is_marked_missing_and_kept(samples, library):
    index(samples, library)
    hea = samples / "ptbxl/records500/00000/00017_hr.hea"
    moved = samples.parent / "elsewhere"
    moved.mkdir()
    for p in (hea, hea.with_suffix(".dat")):
        shutil.move(p, moved / p.name)
    assert query.find(library, "").rows[-1].now == "missing"  # found before re-indexing: it says so
    summary = index(samples, library)
    assert (summary.listed, summary.missing) == (2, 1)
    row = rows(library)[hea.name]
    assert row["status"] == "missing" and "not found" in row["reason"]
    assert row["record_id"] == "17" and row["sha256"]  # what was known stays
    assert [r.record for r in query.find(library, "").rows] == ["3", "8"]
    assert [r.record for r in query.find(library, "status=missing").rows] == ["17"]
    for p in moved.iterdir():
        shutil.move(p, hea.parent / p.name)
    back = index(samples, library)
    assert (back.indexed, back.missing) == (1, 0) and rows(library)[hea.name]["status"] == "ok"


def test_a_file_changed_since_indexing_says_so_until_reindexed(samples, library):
    index(samples, library)
    dat = samples / "ptbxl/records500/00000/00003_hr.dat"
    with dat.open("ab") as f:
        f.write(b"\x00\x00")
    found = {r.record: r.now for r in query.find(library, "").rows}
    assert found == {"3": "changed", "8": None, "17": None}
    index(samples, library)
    assert {r.record: r.now for r in query.find(library, "").rows} == {"3": None, "8": None, "17": None}


def test_identifiers_are_stored_only_when_asked_and_never_logged(tmp_path, library, caplog, capsys):
    folder = tmp_path / "vendor"
    write_ecg(folder, "a")
    write_ecg(folder, "b", qtc=501.0)
    (folder / "c.hea").write_text("c 12 500 5000\n")  # unreadable: its reason is logged
    caplog.set_level(logging.DEBUG)
    index(folder, library)
    library.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert library.execute("SELECT count(*) FROM identifiers").fetchone()[0] == 0
    stored = b"".join(p.read_bytes() for p in library_files(library))
    assert NAME.encode() not in stored and PATIENT_ID.encode() not in stored

    summary = index(folder, library, identifiers=True)
    assert summary.indexed == 3  # read again for their identifiers, though unchanged
    got = library.execute("SELECT key, value FROM identifiers ORDER BY recording_id, key").fetchall()
    assert [tuple(r) for r in got] == [("name", NAME), ("patient id", PATIENT_ID)] * 2
    assert index(folder, library, identifiers=True).indexed == 0
    assert index(folder, library).indexed == 0  # without the flag, what was stored stays

    device = rows(library)["b.hea"]
    assert (device["device"], device["m_qtc"], device["m_qrs"]) == ("Vendor Cardio 9", 501.0, 156.0)
    assert [r.path for r in query.find(library, "qtc>480 statement~bundle").rows] == [str(folder / "b.hea")]
    found = query.find(library, "status=any")
    out = capsys.readouterr()
    shown = repr(found) + out.out + out.err
    assert "unreadable" in caplog.text  # the log has the reasons ...
    for secret in (NAME, PATIENT_ID):  # ... and never an identifier, nor do the results
        assert secret not in caplog.text and secret not in shown


def library_files(conn) -> list[Path]:
    main = db.file_of(conn)
    return [p for p in (main, Path(f"{main}-wal")) if p.is_file()]


def test_a_cancelled_run_keeps_what_it_stored_and_a_rerun_finishes(tmp_path, library):
    folder = tmp_path / "many"
    for k in range(6):
        write_ecg(folder, f"r{k}")
    index(folder, library)
    (folder / "r5.hea").unlink()
    calls = Counter()

    def cancel_after_two() -> bool:
        calls["asked"] += 1
        return calls["done"] >= 2

    library.execute(
        "DELETE FROM recordings WHERE path LIKE '%r0.hea' OR path LIKE '%r1.hea' OR path LIKE '%r2.hea'"
    )
    summary = index(folder, library, progress=lambda d, t: calls.update(done=1), cancelled=cancel_after_two)
    assert summary.cancelled and summary.indexed == 2 and summary.missing == 0
    assert rows(library)["r5.hea"]["status"] == "ok"  # a run that stopped early proves nothing gone
    assert sorted(rows(library)) == ["r0.hea", "r1.hea", "r3.hea", "r4.hea", "r5.hea"]
    assert library.execute("SELECT finished FROM scans ORDER BY id DESC").fetchone()[0] is None
    rest = index(folder, library)
    assert (rest.indexed, rest.unchanged, rest.missing) == (1, 4, 1)
    assert rows(library)["r5.hea"]["status"] == "missing"


def test_ptbxl_records_from_the_shared_data(shared, tmp_path, library):
    """Five real PTB-XL records (format 16 and the lossless FLAC ones, whose signals are two
    ``_N.dat`` files) in a copy of the tree with its tables: ecg_id, patient, fold, labels."""
    src, dst = shared / "ptbxl", tmp_path / "ptbxl"
    dst.mkdir()
    for name in ("ptbxl_database.csv", "ptbxl_statements_v103.csv", "scp_statements.csv"):
        shutil.copy(src / name, dst / name)
    with (src / "ptbxl_database.csv").open(newline="") as fh:
        table = {int(r["ecg_id"]): r for r in csv.DictReader(fh)}
    by_patient: dict[str, list[int]] = {}
    for eid, r in table.items():
        by_patient.setdefault(r["patient_id"], []).append(eid)
    pair = next(ids[:2] for ids in by_patient.values() if len(ids) >= 2)  # one patient's two ECGs
    flac = sorted((src / "records100/02000").glob("*_lr.hea"))[:2]
    single = next(e for e in sorted(table) if e not in pair)
    chosen = [src / f"records100/{e // 1000 * 1000:05d}/{e:05d}_lr.hea" for e in (*pair, single)] + flac
    for hea in chosen:
        target = dst / hea.relative_to(src)
        target.parent.mkdir(parents=True, exist_ok=True)
        for part in hea.parent.glob(hea.stem + "*"):
            shutil.copy(part, target.parent / part.name)
    summary = index(dst, library)
    assert (summary.listed, summary.indexed, summary.unreadable) == (5, 5, 0)
    got = rows(library)
    for hea in chosen:
        row, rec = got[hea.name], load(hea)
        assert (row["status"], row["fs"], row["n_leads"], row["dataset"]) == ("ok", 100.0, 12, "PTB-XL")
        assert row["record_id"] == rec.metadata.record_id and row["fold"] == int(
            rec.metadata.extra["strat_fold"]
        )
        parts = [hea, *sorted(p for p in hea.parent.glob(hea.stem + "*") if p != hea)]
        assert len(parts) == (3 if hea in flac else 2)
        assert row["sha256"] == hashlib.sha256(b"".join(p.read_bytes() for p in parts)).hexdigest()
        eid = int(row["record_id"])
        assert row["patient"] == (table[eid]["patient_id"].removesuffix(".0") if eid in table else None)
        codes = {s["text"] for r in query.find(library, f"record={eid}").rows for s in r.statements}
        assert codes == set(rec.metadata.labels)
    patient = got[chosen[0].name]["patient"]
    assert sorted(int(r.record) for r in query.find(library, f"patient={patient}").rows) == sorted(pair)
