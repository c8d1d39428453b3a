"""Finding recordings in the library: a query such as ``qtc>480 sex=F`` or
``statement=CLBBB qrs>150`` becomes a parameterised SQL condition (the user's values are bound,
never written into the SQL text; names and operators come from fixed tables), sorted by a column
or a measurement (``--sort -qtc``).

Grammar: terms separated by spaces (quote a value that holds spaces: ``device~"MAC 5500"``), all
of which must hold. A term is NAME OP VALUE with OP one of ``= != < <= > >= ~`` (``~``: contains,
ignoring case). Names:

- ``format device path dataset record patient``: text; ``=`` ignores case.
- ``sex``: F or M (female, male).
- ``age duration fs leads fold size``: numbers (``fs``: sampling rate in Hz; ``duration`` in s).
- ``date``: ``2020``, ``2020-05``, ``2020-05-17`` or ``2020-05-17T08:30:00``; a date stands for its
  whole period (``date<=2020`` includes all of 2020).
- ``status``: ok (the default), unreadable, missing, or any.
- ``statement``: a statement the device made, a label the file's dataset gives (PTB-XL's
  SCP-ECG codes) or one of ours (``index --analyze``: ``measure.statements``' codes, PTB-XL's
  where there is one): ``statement=CLBBB``, ``statement~"bundle branch"`` (the words, or a code
  whose description holds them), ``statement!=NORM``.
- the measurement keys of ``ecgviewer.measurements.MEASUREMENTS`` (``qtc qrs pr hr ...``): our
  measurement where the library has one (``index --analyze``; QTc by Bazett), else the
  device's; ``device.qtc`` and ``ours.qtc`` ask for one source.
- ``finding=CODE``, ``finding=CODE>0.7``: the model's probability for CODE (at least 0.5 when no
  threshold is given), under any model analysed (``index --analyze``).
- ``confirmed=yes`` (or ``no``): a reader has confirmed the recording's interpretation (the
  window's over-read); ``reader=NAME`` (``= != ~``): the reader who confirmed it.

A term about a value a recording lacks (an unknown age) does not match it, except ``!=``.
"""

from __future__ import annotations

import difflib
import re
import shlex
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from types import MappingProxyType

from ecgviewer.errors import EcgError
from ecgviewer.library import db, files
from ecgviewer.measurements import MEASUREMENTS

# never user text
_SQL_OP = MappingProxyType({"=": "=", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="})
_TERM = re.compile(r"^([A-Za-z_][A-Za-z0-9_.]*)(<=|>=|!=|=|<|>|~)(.*)$", re.DOTALL)
_FINDING = re.compile(r"^([^<>=!~\s]+?)(?:(<=|>=|<|>|=)([-+0-9.eE]+))?$")
NUMERIC = ("=", "!=", "<", "<=", ">", ">=")
TEXTUAL = ("=", "!=", "~")
DEFAULT_PROBABILITY = 0.5
MEASUREMENT_SOURCES = ("device", "ours")


@dataclass(frozen=True)
class _Column:
    sql: str  # an expression over the recordings table ``r``: fixed text, never the user's
    kind: str  # number, text, sex, date


COLUMNS: Mapping[str, _Column] = MappingProxyType(
    {
        "format": _Column("r.format", "text"),
        "device": _Column("r.device", "text"),
        "path": _Column("r.path", "text"),
        "dataset": _Column("r.dataset", "text"),
        "record": _Column("r.record_id", "text"),
        "patient": _Column("r.patient", "text"),
        "sex": _Column("r.sex", "sex"),
        "age": _Column("r.age", "number"),
        "duration": _Column("r.duration", "number"),
        "fs": _Column("r.fs", "number"),
        "leads": _Column("r.n_leads", "number"),
        "fold": _Column("r.fold", "number"),
        "size": _Column("r.size", "number"),
        "date": _Column("r.acquired", "date"),
    }
)
SPECIAL = ("status", "statement", "finding", "confirmed", "reader")
_SEXES = MappingProxyType({"f": "female", "female": "female", "w": "female", "m": "male", "male": "male"})


class QueryError(EcgError):
    """A query term that cannot be read; the message names it and says what would be."""

    def __init__(self, term: str, why: str) -> None:
        super().__init__(f"query term {term!r}: {why}")


@dataclass
class Where:
    """The SQL condition of a parsed query and its parameters, in order."""

    clauses: list[str] = field(default_factory=list)
    params: list[object] = field(default_factory=list)
    status: bool = False  # a status term was given (else only readable recordings match)
    measurements: list[str] = field(default_factory=list)  # keys the query names, for display
    findings: list[str] = field(default_factory=list)  # the model's codes the query names, likewise

    def add(self, clause: str, *params: object) -> None:
        self.clauses.append(clause)
        self.params.extend(params)


@dataclass
class Found:
    """One recording a query found, as the library holds it (no patient identifiers)."""

    id: int
    path: str
    format: str | None
    status: str
    reason: str | None
    acquired: str | None
    age: float | None
    sex: str | None
    duration: float | None
    fs: float | None
    leads: list[str]
    device: str | None
    dataset: str | None
    record: str | None
    patient: str | None
    fold: int | None
    size: int
    sha256: str | None
    measurements: dict[str, dict[str, float]] = field(default_factory=dict)  # source -> key -> value
    statements: list[dict[str, object]] = field(default_factory=list)  # source, text, value
    findings: dict[str, float] = field(default_factory=dict)  # asked-for code -> highest probability
    overread: str | None = None  # "confirmed by NAME, DATE" or "draft" where a reader over-read it
    now: str | None = None  # the file since indexing: "changed", "missing" (when checked)


@dataclass
class Result:
    rows: list[Found]
    total: int  # how many match, beyond ``limit``
    measurements: list[str]  # the measurement keys the query or the sort names
    findings: list[str] = field(default_factory=list)  # the model's codes the query names


def names() -> list[str]:
    """Every name a term may start with."""
    return [*COLUMNS, *SPECIAL, *MEASUREMENTS]


def parse(text: str) -> Where:
    """The condition ``text`` asks for; ``QueryError`` names the first term that cannot be read."""
    try:
        terms = shlex.split(text)
    except ValueError as exc:
        raise QueryError(text, f"{exc} (quote a value that holds spaces, and close the quote)") from None
    where = Where()
    for term in terms:
        m = _TERM.match(term)
        if m is None:
            raise QueryError(term, "not NAME OP VALUE (e.g. qtc>480, sex=F, statement=CLBBB)")
        name, op, value = m.group(1).lower(), m.group(2), m.group(3)
        if not value:
            raise QueryError(term, f"no value after {op}")
        _term(where, term, name, op, value)
    if not where.status:
        where.add("r.status = 'ok'")
    return where


def _term(where: Where, term: str, name: str, op: str, value: str) -> None:
    if name in COLUMNS:
        column = COLUMNS[name]
        {"text": _text, "number": _number, "sex": _sex, "date": _date}[column.kind](
            where, term, column.sql, op, value
        )
    elif name == "status":
        _status(where, term, op, value)
    elif name == "statement":
        _statement(where, term, op, value)
    elif name == "finding":
        _finding(where, term, op, value)
    elif name == "confirmed":
        _confirmed(where, term, op, value)
    elif name == "reader":
        _text(where, term, "(SELECT o.reader FROM overreads o WHERE o.sha256 = r.sha256)", op, value)
    elif _measurement_key(name) is not None:
        _measurement(where, term, name, op, value)
    else:
        close = difflib.get_close_matches(name, names(), n=1)
        hint = f"did you mean {close[0]}? " if close else ""
        raise QueryError(term, f"unknown name {name!r}; {hint}names: {', '.join(names())}")


def _ops(term: str, op: str, allowed: tuple[str, ...]) -> None:
    if op not in allowed:
        raise QueryError(term, f"{op} does not apply here; use {' '.join(allowed)}")


def _float(term: str, value: str) -> float:
    try:
        x = float(value)
    except ValueError:
        raise QueryError(term, f"{value!r} is not a number") from None
    if x != x or x in (float("inf"), float("-inf")):
        raise QueryError(term, f"{value!r} is not a finite number")
    return x


def _text(where: Where, term: str, sql: str, op: str, value: str) -> None:
    _ops(term, op, TEXTUAL)
    if op == "~":
        where.add(f"instr(lower({sql}), lower(?)) > 0", value)  # instr: no LIKE wildcards to escape
    elif op == "=":
        where.add(f"{sql} = ? COLLATE NOCASE", value)
    else:
        where.add(f"({sql} IS NULL OR {sql} != ? COLLATE NOCASE)", value)


def _number(where: Where, term: str, sql: str, op: str, value: str) -> None:
    _ops(term, op, NUMERIC)
    x = _float(term, value)
    if op == "!=":
        where.add(f"({sql} IS NULL OR {sql} != ?)", x)
    else:
        where.add(f"{sql} {_SQL_OP[op]} ?", x)


def _sex(where: Where, term: str, sql: str, op: str, value: str) -> None:
    _ops(term, op, ("=", "!="))
    sex = _SEXES.get(value.lower())
    if sex is None:
        raise QueryError(term, "sex is F or M (female, male)")
    _text(where, term, sql, op, sex)


def _period(term: str, value: str) -> tuple[str, str]:
    """The period ``value`` names, as [start, end) in the library's date text."""
    v = value.strip()
    try:
        if re.fullmatch(r"\d{4}", v):
            start, end = datetime(int(v), 1, 1), datetime(int(v) + 1, 1, 1)
        elif re.fullmatch(r"\d{4}-\d{2}", v):
            y, mo = map(int, v.split("-"))
            start = datetime(y, mo, 1)
            end = datetime(y + mo // 12, mo % 12 + 1, 1)
        elif re.fullmatch(r"\d{4}-\d{2}-\d{2}", v):
            start = datetime.fromisoformat(v)
            end = start + timedelta(days=1)
        else:
            start = datetime.fromisoformat(v).replace(tzinfo=None, microsecond=0)
            end = start + timedelta(seconds=1)
    except ValueError:
        raise QueryError(
            term, f"{value!r} is not a date (2020, 2020-05, 2020-05-17 or 2020-05-17T08:30)"
        ) from None

    def text(t: datetime) -> str:
        return t.isoformat(sep=" ", timespec="seconds")

    return text(start), text(end)


def _date(where: Where, term: str, sql: str, op: str, value: str) -> None:
    _ops(term, op, NUMERIC)
    start, end = _period(term, value)
    clause = {
        ">=": (f"{sql} >= ?", start),
        ">": (f"{sql} >= ?", end),
        "<": (f"{sql} < ?", start),
        "<=": (f"{sql} < ?", end),
        "=": (f"({sql} >= ? AND {sql} < ?)", start, end),
        "!=": (f"({sql} IS NULL OR {sql} < ? OR {sql} >= ?)", start, end),
    }[op]
    where.add(clause[0], *clause[1:])


def _status(where: Where, term: str, op: str, value: str) -> None:
    _ops(term, op, ("=", "!="))
    status = value.lower()
    if status not in (*db.STATUSES, "any"):
        raise QueryError(term, f"status is one of {', '.join(db.STATUSES)}, any")
    where.status = True
    if status != "any":
        where.add(f"r.status {_SQL_OP[op]} ?", status)
    elif op == "!=":
        where.add("0")


def _statement(where: Where, term: str, op: str, value: str) -> None:
    _ops(term, op, TEXTUAL)
    test, params = "text = ? COLLATE NOCASE", [value]
    if op == "~":  # the words, or a code whose description holds them (CLBBB for "bundle branch")
        codes = [c for c, words in code_words().items() if value.lower() in words.lower()]
        test = f"instr(lower(text), lower(?)) > 0 OR text COLLATE NOCASE IN ({db.marks(len(codes))})"
        params += codes
    negate = "NOT " if op == "!=" else ""
    where.add(
        f"r.id {negate}IN (SELECT recording_id FROM statements WHERE text_id IN "
        f"(SELECT id FROM statement_texts WHERE {test}))",
        *params,
    )


def _confirmed(where: Where, term: str, op: str, value: str) -> None:
    _ops(term, op, ("=", "!="))
    yes = {
        "yes": True,
        "y": True,
        "true": True,
        "1": True,
        "no": False,
        "n": False,
        "false": False,
        "0": False,
    }
    if value.lower() not in yes:
        raise QueryError(term, "confirmed is yes or no")
    negate = "NOT " if yes[value.lower()] == (op == "!=") else ""
    where.add(
        f"{negate}EXISTS (SELECT 1 FROM overreads o WHERE o.sha256 = r.sha256 AND o.state = 'confirmed')"
    )


@lru_cache(maxsize=1)
def code_words() -> Mapping[str, str]:
    """Statement code -> its description: PTB-XL's SCP-ECG table (the labels a dataset gives)
    and our criteria (``index --analyze``'s statements), so that words find codes.

    Built in a dict of its own: PTB-XL's table is shared with the findings table and the report,
    which must keep showing its descriptions alone. Read-only, as the cache shares it too."""
    from ecgviewer import assets
    from ecgviewer.io.ptbxl import descriptions
    from ecgviewer.measure.statements import CRITERIA

    words = dict(descriptions(assets.statements_dir()))
    for code, c in CRITERIA.items():
        words[code] = f"{words.get(code, '')} {c.text}".strip()
    return MappingProxyType(words)


def _finding(where: Where, term: str, op: str, value: str) -> None:
    _ops(term, op, ("=",))
    m = _FINDING.match(value)
    if m is None:
        raise QueryError(term, "write finding=CODE or finding=CODE>0.7 (a probability from 0 to 1)")
    code, cmp = m.group(1).upper(), m.group(2) or ">="
    where.findings.append(code)
    p = _float(term, m.group(3)) if m.group(3) else DEFAULT_PROBABILITY
    if not 0 <= p <= 1:
        raise QueryError(term, f"{p:g} is not a probability (0 to 1)")
    where.add(
        "r.id IN (SELECT recording_id FROM findings WHERE code = ? COLLATE NOCASE "
        f"AND probability {_SQL_OP[cmp]} ?)",
        code,
        p,
    )


def _measurement_key(name: str) -> tuple[str | None, str] | None:
    """(source or None, key) when ``name`` is a measurement, ``device.qtc`` style included."""
    source, _, key = name.rpartition(".")
    if key not in MEASUREMENTS or (source and source not in MEASUREMENT_SOURCES):
        return None
    return source or None, key


def _measurement(where: Where, term: str, name: str, op: str, value: str) -> None:
    _ops(term, op, ("=", "<", "<=", ">", ">="))
    source, key = _measurement_key(name) or (None, name)
    x = _float(term, value)
    where.measurements.append(key)
    if source is None:  # ours where we measured, else the device's: the recording's own column
        where.add(f"r.m_{key} {_SQL_OP[op]} ?", x)
    else:
        where.add(
            f"r.id IN (SELECT recording_id FROM measurements WHERE key = ? AND source = ? "
            f"AND value {_SQL_OP[op]} ?)",
            key, source, x,
        )  # fmt: skip


def order_by(sort: str | None) -> tuple[str, list[object]]:
    """The ORDER BY clause for ``--sort`` (``age``; ``-age`` descending): a column or a
    measurement (ours, else the device's); unknown values last, then by path."""
    if not sort:
        return "r.path", []
    desc, key = sort.startswith("-"), sort.lstrip("-+").lower()
    direction = "DESC" if desc else "ASC"
    if key in COLUMNS:
        return f"{COLUMNS[key].sql} {direction} NULLS LAST, r.path", []
    measurement = _measurement_key(key)
    if measurement is None:
        keys = [*COLUMNS, *MEASUREMENTS]
        raise QueryError(
            f"--sort {sort}", f"not a sort key; sort by one of {', '.join(keys)} (-KEY: descending)"
        )
    source, name = measurement
    if source is None:
        return f"r.m_{name} {direction} NULLS LAST, r.path", []
    pick = "(SELECT value FROM measurements WHERE recording_id = r.id AND key = ? AND source = ?)"
    return f"{pick} {direction} NULLS LAST, r.path", [name, source]


def find(
    conn: sqlite3.Connection,
    text: str,
    sort: str | None = None,
    limit: int | None = 100,
    check_files: bool = True,
) -> Result:
    """The recordings ``text`` asks for, sorted, at most ``limit`` (None: all), with how many
    match in all; ``check_files`` says for each one shown whether its file changed since."""
    where = parse(text)
    order, order_params = order_by(sort)
    condition = " AND ".join(where.clauses) or "1"
    sort_key = (sort or "").lstrip("-+").lower()
    shown_keys = list(dict.fromkeys([*where.measurements, *([sort_key] if sort_key in MEASUREMENTS else [])]))
    params = [*where.params, *order_params, -1 if limit is None else limit]
    page_sql = f" FROM recordings r WHERE {condition} ORDER BY {order} LIMIT ?"
    with db.guarded(db.file_of(conn)):
        if _sorts_all(conn, "SELECT r.id" + page_sql, params):
            # SQLite reads every match to sort them: count them in the same pass (a window), not
            # in a second one (54 ms instead of 97 for a sorted query over 100,000 recordings).
            page = conn.execute("SELECT r.id, count(*) OVER ()" + page_sql, params).fetchall()
            total = page[0][1] if page else 0
        else:  # an index gives them in order: the page stops early, a count reads them once
            page = conn.execute("SELECT r.id" + page_sql, params).fetchall()
            total = len(page)
            if limit is not None and total >= limit:
                total = conn.execute(
                    f"SELECT count(*) FROM recordings r WHERE {condition}", where.params
                ).fetchone()[0]
    codes = list(dict.fromkeys(where.findings))
    return Result(find_ids(conn, [r[0] for r in page], check_files, codes), total, shown_keys, codes)


def _sorts_all(conn: sqlite3.Connection, sql: str, params: list[object]) -> bool:
    """Whether SQLite's plan for ``sql`` sorts the matches itself (a temporary B-tree for the
    ORDER BY) rather than reading them in order from an index."""
    plan = conn.execute(f"EXPLAIN QUERY PLAN {sql}", params).fetchall()
    return any("TEMP B-TREE FOR ORDER BY" in str(row[-1]) for row in plan)


def find_ids(
    conn: sqlite3.Connection, ids: list[int], check_files: bool = True, findings: list[str] | None = None
) -> list[Found]:
    """The recordings ``ids`` in that order, as ``find`` returns them, with the model's highest
    probability (over the models analysed) of each of ``findings``."""
    with db.guarded(db.file_of(conn)):
        rows, stamps = _rows(conn, ids)
        if findings:
            by_id = {f.id: f for f in rows}
            for i in range(0, len(ids), db.CHUNK):
                chunk = ids[i : i + db.CHUNK]
                for rid, code, p in conn.execute(
                    f"SELECT recording_id, upper(code), max(probability) FROM findings WHERE recording_id IN "
                    f"({db.marks(len(chunk))}) AND upper(code) IN ({db.marks(len(findings))}) "
                    "GROUP BY recording_id, upper(code)",
                    [*chunk, *findings],
                ):
                    by_id[rid].findings[code] = p
    if check_files:
        for found, stamp in zip(rows, stamps, strict=True):
            if found.status != "missing":
                found.now = files.drift(found.path, stamp)
    return rows


def _found(r: sqlite3.Row) -> Found:
    return Found(
        id=r["id"], path=r["path"], format=r["format"], status=r["status"], reason=r["reason"],
        acquired=r["acquired"], age=r["age"], sex=r["sex"], duration=r["duration"], fs=r["fs"],
        leads=r["leads"].split(",") if r["leads"] else [], device=r["device"],
        dataset=r["dataset"], record=r["record_id"], patient=r["patient"], fold=r["fold"],
        size=r["size"], sha256=r["sha256"],
    )  # fmt: skip


def _rows(conn: sqlite3.Connection, ids: list[int]) -> tuple[list[Found], list[str]]:
    """The recordings ``ids`` in that order, with their measurements and statements; and their
    stamps (for ``files.drift``)."""
    found: dict[int, Found] = {}
    stamps: dict[int, str] = {}
    for i in range(0, len(ids), db.CHUNK):
        chunk = ids[i : i + db.CHUNK]
        marks = db.marks(len(chunk))
        for r in conn.execute(f"SELECT * FROM recordings WHERE id IN ({marks})", chunk):
            found[r["id"]], stamps[r["id"]] = _found(r), r["stamp"]
        for rid, source, key, value in conn.execute(
            f"SELECT recording_id, source, key, value FROM measurements WHERE recording_id IN ({marks})",
            chunk,
        ):
            found[rid].measurements.setdefault(source, {})[key] = value
        for rid, source, text, value in conn.execute(
            "SELECT s.recording_id, s.source, t.text, s.value FROM statements s "
            f"JOIN statement_texts t ON t.id = s.text_id WHERE s.recording_id IN ({marks}) "
            "ORDER BY s.recording_id, s.source, s.ord",
            chunk,
        ):
            found[rid].statements.append({"source": source, "text": text, "value": value})
        for rid, state, reader, at in conn.execute(
            "SELECT r.id, o.state, o.reader, o.confirmed_at FROM recordings r JOIN overreads o "
            f"ON o.sha256 = r.sha256 WHERE r.id IN ({marks})",
            chunk,
        ):
            found[rid].overread = f"confirmed by {reader}, {at[:10]}" if state == "confirmed" else "draft"
    return [found[i] for i in ids], [stamps[i] for i in ids]
