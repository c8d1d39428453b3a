"""``library.query``: each kind of term on a small hand-made library, the errors a bad term
gives, values that try to be SQL, and a generated library of 100,000 recordings checked against
a plain-Python reading of the same rows."""

from __future__ import annotations

import csv
import sqlite3
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

from ecgviewer import assets
from ecgviewer.io import ptbxl
from ecgviewer.library import db, synthetic
from ecgviewer.library.query import QueryError, code_words, find
from ecgviewer.measure.statements import CRITERIA


def _facts(name: str, **kw) -> db.Facts:
    f = db.Facts(f"/x/{name}", kw.pop("format", "WFDB"), 1000, 1, name, name.encode().hex())
    for k, v in kw.items():
        setattr(f, k, v)
    return f


ROWS = [
    _facts("a.hea", acquired="2020-05-17 08:30:00", age=72.0, sex="female", duration=10.0, fs=500.0,
           leads=("I", "II") * 6, dataset="PTB-XL", record_id="1", patient="100", fold=9,
           measurements={("device", "qtc"): 492.0, ("device", "qrs"): 156.0},
           statements=[("device", "Left bundle branch block", None), ("labels", "CLBBB", 100.0)]),
    _facts("b.xml", format="GE MUSE XML", acquired="2019-12-31 23:59:59", age=45.0, sex="male",
           duration=10.0, fs=500.0, leads=("I",) * 12, device="MAC 5500",
           measurements={("device", "qtc"): 430.0, ("device", "qrs"): 90.0},
           statements=[("device", "Sinus rhythm", None), ("labels", "NORM", 100.0)]),
    _facts("c.edf", format="EDF", duration=86400.0, fs=256.0, leads=("I", "II")),
    _facts("d.hea", status="unreadable", reason="Cannot open d.hea: data truncated (/x/d.hea)"),
    _facts("e.hea", status="missing", reason="not found", age=60.0),
    _facts("f%_.hea", acquired="2020-01-01 00:00:00", age=60.0, sex="female", fs=500.0,
           measurements={("device", "qtc"): 481.0}, statements=[("labels", "IMI", 50.0)]),
]  # fmt: skip


@pytest.fixture
def small(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    conn = db.open_library(tmp_path / "small.sqlite")
    with db.transaction(conn):
        db.put(conn, ROWS)
    yield conn
    conn.close()


def names(conn: sqlite3.Connection, text: str, sort: str | None = None) -> list[str]:
    return [Path(r.path).name for r in find(conn, text, sort=sort, check_files=False).rows]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ["a.hea", "b.xml", "c.edf", "f%_.hea"]),  # readable recordings only
        ("status=any", ["a.hea", "b.xml", "c.edf", "d.hea", "e.hea", "f%_.hea"]),
        ("status=missing", ["e.hea"]),
        ("status!=ok", ["d.hea", "e.hea"]),
        ("format=wfdb", ["a.hea", "f%_.hea"]),
        ("format~muse", ["b.xml"]),
        ("format!=WFDB", ["b.xml", "c.edf"]),
        ("age>=60", ["a.hea", "f%_.hea"]),
        ("age>60", ["a.hea"]),
        ("age!=60", ["a.hea", "b.xml", "c.edf"]),  # an unknown age is not 60
        ("sex=F", ["a.hea", "f%_.hea"]),
        ("sex=male", ["b.xml"]),
        ("date>=2020-01-01", ["a.hea", "f%_.hea"]),
        ("date<2020", ["b.xml"]),
        ("date<=2019-12-31", ["b.xml"]),  # the whole day
        ("date=2020-05", ["a.hea"]),
        ("date>2020-01-01", ["a.hea"]),  # after that day
        ("date=2020-05-17T08:30:00", ["a.hea"]),
        ("duration>3600", ["c.edf"]),
        ("fs<500", ["c.edf"]),
        ("leads=12", ["a.hea", "b.xml"]),
        ("fold=9 dataset=ptb-xl record=1 patient=100", ["a.hea"]),
        ('device~"mac 55"', ["b.xml"]),
        ("statement=CLBBB", ["a.hea"]),
        ("statement=clbbb qrs>150", ["a.hea"]),
        ("statement~bundle", ["a.hea"]),
        ('statement~"sinus rhythm"', ["b.xml"]),
        ('statement~"inferior myocardial"', ["f%_.hea"]),  # IMI's description: only the code is stored
        ('statement~"normal ecg"', ["b.xml"]),  # NORM's
        ("statement!=NORM", ["a.hea", "c.edf", "f%_.hea"]),
        ("qtc>480", ["a.hea", "f%_.hea"]),
        ("qtc>480 sex=F age>65", ["a.hea"]),
        ("device.qtc<=430", ["b.xml"]),
        ("ours.qtc>0", []),
        ("finding=MI>0.5", []),  # no analyses are stored yet
        ("path~%", ["f%_.hea"]),  # a literal percent sign, not a LIKE wildcard
        ("path~_", ["f%_.hea"]),
    ],
)
def test_each_kind_of_term(small, text, expected):
    assert names(small, text) == expected


def test_sorting_puts_unknown_values_last(small):
    assert names(small, "", sort="age") == ["b.xml", "f%_.hea", "a.hea", "c.edf"]
    assert names(small, "", sort="-age") == ["a.hea", "f%_.hea", "b.xml", "c.edf"]
    assert names(small, "", sort="-qtc") == ["a.hea", "f%_.hea", "b.xml", "c.edf"]
    assert names(small, "", sort="date") == ["b.xml", "f%_.hea", "a.hea", "c.edf"]
    assert names(small, "", sort="-device.qtc") == ["a.hea", "f%_.hea", "b.xml", "c.edf"]
    page = find(small, "", sort="-age", limit=2, check_files=False)
    assert [Path(r.path).name for r in page.rows] == ["a.hea", "f%_.hea"] and page.total == 4
    assert page.measurements == [] and find(small, "qrs>1", sort="qtc").measurements == ["qrs", "qtc"]


def test_our_measurement_replaces_the_devices_and_findings_match_once_stored(small):
    """What ``index --analyze`` stores is what queries see: our QTc, where measured, is the one a bare
    ``qtc`` term sees; a stored finding is found by probability."""
    b = small.execute("SELECT id FROM recordings WHERE path = '/x/b.xml'").fetchone()[0]
    with db.transaction(small):
        small.execute("INSERT INTO measurements VALUES (?, 'ours', 'qtc', 500.0)", (b,))
        db.refresh_measurements(small, [b])
        small.execute("INSERT INTO analyses VALUES (?, 'm1', 'c2', '2026-01-01', 'd1', NULL)", (b,))
        small.execute("INSERT INTO findings VALUES (?, 'm1', 'MI', 0.8)", (b,))
    assert names(small, "qtc>480") == ["a.hea", "b.xml", "f%_.hea"]
    assert names(small, "device.qtc>480") == ["a.hea", "f%_.hea"]
    assert names(small, "ours.qtc>480") == ["b.xml"]
    assert names(small, "finding=MI>0.5") == names(small, "finding=mi") == ["b.xml"]
    assert names(small, "finding=MI>0.9") == []
    row = find(small, "finding=MI", check_files=False).rows[0]
    assert row.measurements == {"device": {"qtc": 430.0, "qrs": 90.0}, "ours": {"qtc": 500.0}}
    # the file's content changed: what we measured and found of the old bytes goes
    changed = _facts("b.xml", format="GE MUSE XML", sha256="other", measurements={("device", "qtc"): 431.0})
    with db.transaction(small):
        db.put(small, [changed])
    assert names(small, "finding=MI") == [] and names(small, "ours.qtc>0") == []
    assert names(small, "qtc>430") == ["a.hea", "b.xml", "f%_.hea"]


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("qtcf>480", "'qtcf>480': unknown name 'qtcf'; did you mean qtc?"),
        ("age>=sixty", "'age>=sixty': 'sixty' is not a number"),
        ("age>=nan", "not a finite number"),
        ("sex=X", "'sex=X': sex is F or M"),
        ("date>=yesterday", "'date>=yesterday': 'yesterday' is not a date"),
        ("date>=2020-13-01", "is not a date"),
        ("qtc~4", "'qtc~4': ~ does not apply here"),
        ("format<wfdb", "< does not apply here"),
        ("finding=MI>2", "'finding=MI>2': 2 is not a probability"),
        ("finding>MI", "> does not apply here"),
        ("finding=>0.5", "write finding=CODE"),
        ("status=lost", "status is one of ok, unreadable, missing, any"),
        ("statement", "'statement': not NAME OP VALUE"),
        ("age>=", "'age>=': no value after >="),
        ('statement~"left bundle', "close the quote"),
        ("cholesterol>5", "unknown name 'cholesterol'"),
        ("spy.qtc>400", "unknown name 'spy.qtc'"),
    ],
)
def test_a_bad_term_is_named_with_what_would_do(small, text, says):
    with pytest.raises(QueryError) as caught:
        find(small, f"sex=F {text}")
    assert says in str(caught.value)


def test_a_bad_sort_key_is_refused(small):
    with pytest.raises(QueryError, match="'--sort age; DROP TABLE recordings': not a sort key"):
        find(small, "", sort="age; DROP TABLE recordings")


@pytest.mark.parametrize(
    "text",
    [
        'format="wfdb\';DROP TABLE recordings;--"',
        "format=\"wfdb' OR '1'='1\"",
        'statement="x\') OR 1=1 --"',
        'device~"\'); DELETE FROM recordings; --"',
        'patient="1 OR 1=1"',
        'path~"/x/a.hea\' UNION SELECT * FROM identifiers --"',
        "record=\"1;ATTACH DATABASE '/tmp/x' AS x\"",
    ],
)
def test_values_that_look_like_sql_are_only_values(small, text):
    schema = small.execute("SELECT sql FROM sqlite_master ORDER BY name").fetchall()
    count = small.execute("SELECT count(*) FROM recordings").fetchone()[0]
    assert names(small, text) == []
    assert small.execute("SELECT sql FROM sqlite_master ORDER BY name").fetchall() == schema
    assert small.execute("SELECT count(*) FROM recordings").fetchone()[0] == count


@pytest.mark.parametrize("text", ["age);DROP TABLE recordings;--=1", "1=1", "age OR 1=1", "`age`>1"])
def test_names_that_look_like_sql_are_refused(small, text):
    with pytest.raises(QueryError):
        find(small, text)
    assert small.execute("SELECT count(*) FROM recordings").fetchone()[0] == len(ROWS)


# -- a generated library (its query speed at 100,000 recordings is benchmarks/library.py's) -----

LARGE = 20_000


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[sqlite3.Connection, list[dict]]]:
    """The generated library, and its rows read back plainly (measurements from their own
    table, ours over the device's, not the query's columns; the model's findings) for a
    reference answer in Python."""
    conn = db.open_library(tmp_path_factory.mktemp("big") / "library.sqlite")
    synthetic.generate(conn, LARGE, seed=7)
    plain = {
        r["id"]: {**dict(r), "m": {}, "s": [], "f": {}}
        for r in conn.execute("SELECT id, path, format, age, sex, acquired, status FROM recordings")
    }
    for rid, key, value in conn.execute(
        "SELECT recording_id, key, value FROM measurements ORDER BY source = 'ours'"
    ):
        plain[rid]["m"][key] = value
    for rid, code, p in conn.execute("SELECT recording_id, code, probability FROM findings"):
        plain[rid]["f"][code] = max(p, plain[rid]["f"].get(code, 0.0))
    for rid, text in conn.execute(
        "SELECT s.recording_id, t.text FROM statements s JOIN statement_texts t ON t.id = s.text_id"
    ):
        plain[rid]["s"].append(text.lower())
    yield conn, list(plain.values())
    conn.close()


@cache
def _descriptions() -> dict[str, str]:
    return {c.lower(): w.lower() for c, w in code_words().items()}


def _described(text: str) -> str:
    """A statement code's description (PTB-XL's table, our criteria), lower case."""
    return _descriptions().get(text, "")


def _m(r: dict, key: str) -> float:
    return r["m"].get(key, float("nan"))


REFERENCE = {
    "qtc>480 sex=F": lambda r: _m(r, "qtc") > 480 and r["sex"] == "female",
    "statement=CLBBB qrs>150": lambda r: "clbbb" in r["s"] and _m(r, "qrs") > 150,
    "format=wfdb age>=60 date>=2020-01-01": lambda r: (
        r["format"] == "WFDB" and (r["age"] or 0) >= 60 and r["acquired"] >= "2020-01-01"
    ),
    "date<=2012 statement~bundle hr<60": lambda r: (
        r["acquired"] < "2013"
        and any("bundle" in s or "bundle" in _described(s) for s in r["s"])
        and _m(r, "hr") < 60
    ),
    "finding=MI>0.5": lambda r: r["f"].get("MI", 0.0) > 0.5,
}


@pytest.mark.parametrize("text", list(REFERENCE))
def test_a_large_library_answers_as_python_does(big, text):
    conn, plain = big
    assert len(plain) == LARGE
    want = sorted(r["path"] for r in plain if r["status"] == "ok" and REFERENCE[text](r))
    result = find(conn, text, limit=100, check_files=False)
    assert result.total == len(want) and [r.path for r in result.rows] == want[:100]
    if want:
        assert 20 < len(want) < 0.9 * LARGE  # the term narrows, and not to nothing


def test_a_large_library_sorts_as_python_does(big):
    conn, plain = big
    matching = [r for r in plain if _m(r, "qtc") > 500 and r["age"] is not None]
    want = sorted(matching, key=lambda r: (-r["age"], r["path"]))[:50]
    got = find(conn, "qtc>500 age>0", sort="-age", limit=50, check_files=False)
    assert [r.path for r in got.rows] == [r["path"] for r in want] and got.total == len(matching)
    assert all({**r.measurements["device"], **r.measurements.get("ours", {})}["qtc"] > 500 for r in got.rows)


def test_a_statement_search_leaves_ptbxls_descriptions_as_the_table_says(small):
    """Issue 71: ``code_words`` wrote our criteria's words into the cached PTB-XL descriptions, so
    after one ``statement~`` search the findings table and the report read "CLBBB (complete left
    bundle branch block Complete left bundle branch block)"."""
    code_words.cache_clear()  # built again by the search below
    assert names(small, 'statement~"bundle branch"') == ["a.hea"]
    with (assets.statements_dir() / ptbxl.SCP).open(newline="", encoding="utf-8") as fh:
        on_disk = {row[""]: row["description"] for row in csv.DictReader(fh)}
    assert dict(ptbxl.descriptions(assets.statements_dir())) == on_disk
    assert "CLBBB" in CRITERIA and code_words()["CLBBB"] != on_disk["CLBBB"]  # the search's own words
    with pytest.raises(TypeError):
        code_words()["CLBBB"] = "edited"  # type: ignore[index]
