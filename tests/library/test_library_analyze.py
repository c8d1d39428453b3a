"""``index --analyze``: our measurements, statements and the model's findings in the library,
analysed once per model, delineator and file content, the same in this process, a local pool
and a two-worker Dask cluster."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from ecgviewer.library import analyze, db, listing, query
from ecgviewer.library.index import index
from tests.library.conftest import SAMPLES, rows, write_ecg

FINDINGS = "SELECT code, probability FROM findings WHERE recording_id = ?"
MEASURED = "SELECT key, value FROM measurements WHERE recording_id = ? AND source = 'ours'"
ANALYSES = "SELECT * FROM analyses WHERE recording_id = ?"
SAID = (
    "SELECT s.text FROM statements st JOIN statement_texts s ON s.id = st.text_id "
    "WHERE st.recording_id = ? AND st.source = 'ours' ORDER BY st.ord"
)


def _ours(conn: sqlite3.Connection) -> dict[str, dict]:
    """Per file name: the findings, our measurements and statements, and the analysis row."""
    out: dict[str, dict] = {}
    for name, r in rows(conn).items():
        rid = r["id"]
        out[name] = {
            "findings": dict(conn.execute(FINDINGS, (rid,))),
            "measured": dict(conn.execute(MEASURED, (rid,))),
            "said": [t for (t,) in conn.execute(SAID, (rid,))],
            "analyses": [dict(a) for a in conn.execute(ANALYSES, (rid,))],
        }
    return out


def _same(a: dict[str, dict], b: dict[str, dict]) -> None:
    assert a.keys() == b.keys()
    for name in a:
        assert a[name]["said"] == b[name]["said"], name
        for key in ("findings", "measured"):
            assert a[name][key].keys() == b[name][key].keys(), name
            for k, v in a[name][key].items():
                assert b[name][key][k] == pytest.approx(v, abs=1e-5), (name, key, k)


def _cart(folder: Path) -> Path:
    """A real ECG (a bundled PTB-XL record) saved as a device-made WFDB record whose report says
    QRS 156 ms."""
    from ecgviewer.io import load
    from ecgviewer.io.writers import save
    from ecgviewer.recording import DeviceReport

    rec = load(SAMPLES / "records500/00000/00008_hr.hea")
    rec.metadata.device = DeviceReport(device="Vendor Cardio 9", statements=["Sinus rhythm"],
                                       measurements={"qrs": 156.0})  # fmt: skip
    folder.mkdir(parents=True)
    return save(rec, folder / "cart-1.hea")


@pytest.fixture
def indexed(samples: Path, library: sqlite3.Connection) -> tuple[Path, sqlite3.Connection]:
    """The bundled PTB-XL samples, a device-made record of a real ECG and one of a clipped
    synthetic signal (nothing to measure), indexed."""
    _cart(samples / "cart")
    write_ecg(samples / "cart", "clipped")
    index(samples, library)
    return samples, library


def test_analyze_stores_findings_measurements_and_statements_once(indexed) -> None:
    folder, conn = indexed
    summary = analyze.analyse_library(conn, folder)
    assert (summary.analysed, summary.failed, summary.cancelled) == (5, 0, False)
    found = _ours(conn)
    model_sha, delineator_sha = analyze.versions(None)
    clipped = found.pop("clipped.hea")  # the model reads it; no beat can be measured
    assert clipped["findings"] and not clipped["measured"] and not clipped["said"]
    assert rows(conn)["clipped.hea"]["m_qrs"] == 156.0  # the device's, as we measured nothing
    for name, f in found.items():
        (a,) = f["analyses"]
        assert (a["model_sha256"], a["measured_with"], a["error"]) == (model_sha, delineator_sha, None)
        assert a["content_sha256"] == rows(conn)[name]["sha256"]
        assert {"NORM", "MI", "STTC", "CD", "HYP"} <= f["findings"].keys(), name
        assert all(0 <= p <= 1 for p in f["findings"].values())
        assert 30 < f["measured"]["hr"] < 200 and 60 < f["measured"]["qrs"] < 200, name
        assert f["said"] and all(code.isupper() or code[0].isdigit() for code in f["said"]), name
    # ours win over the device's in the recording's column; the device's stays queryable
    cart = rows(conn)["cart-1.hea"]
    assert cart["m_qrs"] == pytest.approx(found["cart-1.hea"]["measured"]["qrs"]) and cart["m_qrs"] != 156.0
    assert len(query.find(conn, "device.qrs=156").rows) == 2
    assert {Path(r.path).name for r in query.find(conn, "ours.hr>0").rows} == set(found)
    assert {Path(r.path).name for r in query.find(conn, "qrs=156").rows} == {"clipped.hea"}
    top = max(found["cart-1.hea"]["findings"].items(), key=lambda kv: kv[1])
    result = query.find(conn, f"finding={top[0].lower()}>={top[1] - 1e-6:.6f}")  # codes ignore case
    hit = {Path(r.path).name: r for r in result.rows}
    assert result.findings == [top[0]] and hit["cart-1.hea"].findings[top[0]] == pytest.approx(top[1])
    table = listing.lines(result)  # find's table shows the asked-for probability
    assert f"P({top[0]})" in table[0].split() and f"{top[1]:.2f}" in next(x for x in table if "cart-1" in x)
    said = found["cart-1.hea"]["said"][0]
    assert "cart-1.hea" in {Path(r.path).name for r in query.find(conn, f"statement={said}").rows}

    again = analyze.analyse_library(conn, folder)  # nothing new: no file, model or delineator changed
    assert (again.analysed, again.failed, again.current) == (0, 0, 5)
    assert not analyze.pending(conn, model_sha, delineator_sha, None)
    assert len(analyze.pending(conn, "another model", delineator_sha, None)) == 5
    assert len(analyze.pending(conn, model_sha, "another delineator", folder)) == 5


def test_new_measurement_rules_or_criteria_measure_again(monkeypatch) -> None:
    from dataclasses import replace
    from types import MappingProxyType

    from ecgviewer import measure
    from ecgviewer.measure import statements
    from ecgviewer.measure.statements import CRITERIA

    model_sha, measured_with = analyze.versions(None)
    monkeypatch.setattr(measure, "RULES", measure.RULES + 1)
    bumped = analyze.versions(None)
    assert bumped[0] == model_sha and bumped[1] != measured_with
    monkeypatch.undo()
    assert analyze.versions(None)[1] == measured_with
    changed = MappingProxyType({**CRITERIA, "SR": replace(CRITERIA["SR"], rule="P waves upright in II")})
    monkeypatch.setattr(statements, "CRITERIA", changed)  # the table is read-only: a changed copy
    assert analyze.versions(None)[1] != measured_with


def test_a_file_gone_since_indexing_is_stored_with_its_reason_and_not_retried(indexed) -> None:
    folder, conn = indexed
    (folder / "cart" / "cart-1.dat").unlink()
    summary = analyze.analyse_library(conn, folder)
    assert (summary.analysed, summary.failed) == (4, 1)
    gone = _ours(conn)["cart-1.hea"]
    assert not gone["findings"] and not gone["measured"] and "cart-1" in gone["analyses"][0]["error"]
    assert analyze.analyse_library(conn, folder).failed == 0  # stored: not tried again until it changes


def test_cancel_keeps_what_was_stored_and_a_rerun_finishes(indexed) -> None:
    folder, conn = indexed
    calls = []
    first = analyze.analyse_library(
        conn, folder, progress=lambda d, t: calls.append(d), cancelled=lambda: len(calls) >= 2
    )
    assert first.cancelled and first.analysed == 2
    second = analyze.analyse_library(conn, folder)
    assert (second.analysed, second.current) == (3, 2)


def test_an_older_library_gains_the_analysis_columns(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    conn = db.open_library(path)
    conn.execute("ALTER TABLE analyses DROP COLUMN error")
    conn.execute("ALTER TABLE analyses DROP COLUMN measured_with")
    conn.close()
    conn = db.open_library(path)
    assert set(db.ANALYSIS_COLUMNS) <= {r[1] for r in conn.execute("PRAGMA table_info(analyses)")}
    conn.close()


def test_a_local_pool_and_a_two_worker_dask_cluster_give_the_single_process_results(
    indexed, tmp_path: Path
) -> None:
    """The cluster test of issue 28: a local Dask cluster of two worker processes, reached by its
    address as a real one would be, analyses the library exactly as this process does."""
    distributed = pytest.importorskip("distributed", reason="Dask is the test extra's ecgviewer[cluster]")
    folder, conn = indexed
    analyze.analyse_library(conn, folder)
    alone = _ours(conn)
    copies = {}
    for engine in ("pool", "dask"):
        other = db.open_library(tmp_path / f"{engine}.sqlite")
        index(folder, other)
        if engine == "pool":
            with analyze.engine(workers=2) as (executor, n):
                summary = analyze.analyse_library(other, folder, executor=executor, workers=n)
        else:
            cluster = distributed.LocalCluster(
                n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
            )
            with cluster, analyze.engine(cluster.scheduler_address) as (executor, n):
                assert n == 2
                summary = analyze.analyse_library(other, folder, executor=executor, workers=n)
        assert (summary.analysed, summary.failed) == (5, 0)
        copies[engine] = _ours(other)
        other.close()
    _same(alone, copies["pool"])
    _same(alone, copies["dask"])


def test_an_unreachable_scheduler_is_one_clear_message(monkeypatch) -> None:
    pytest.importorskip("distributed", reason="Dask is the test extra's ecgviewer[cluster]")
    from ecgviewer.errors import EcgError

    monkeypatch.setattr(analyze, "CONNECT_S", 1.0)
    with pytest.raises(EcgError, match=r"cannot reach the Dask scheduler at tcp://127\.0\.0\.1:9"):  # noqa: SIM117
        with analyze.engine("tcp://127.0.0.1:9"):
            pass
