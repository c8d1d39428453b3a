"""Found recordings as a plain-text table (``ecgviewer find``): one line each, the columns a
clinician scans first, the measurements the query named, and the path last."""

from __future__ import annotations

from ecgviewer.library.query import Found, Result
from ecgviewer.measurements import MEASUREMENTS

GAP = "  "


def _number(value: float | None, digits: int = 0) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def note(row: Found) -> str:
    """What the row's state is, when not a plain readable recording, and its over-read."""
    state = row.status if row.status != "ok" else f"{row.now} since indexing" if row.now else ""
    return "; ".join(t for t in (state, row.overread or "") if t)


FIRST = 7  # date, format, age, sex, s, Hz, leads; then the asked-for measurements and findings


def label(key: str) -> str:
    """A measurement's column: its name and unit (``QTc (ms)``)."""
    q = MEASUREMENTS[key]
    return f"{q.label} ({q.unit})" if q.unit else q.label


def header(result: Result) -> list[str]:
    """The columns of a listing: the fixed ones, each measurement (with its unit) and finding
    the query names (the model's probability as ``P(MI)``), the note and the path."""
    return [
        "date", "format", "age", "sex", "s", "Hz", "leads",
        *(label(k) for k in result.measurements), *(f"P({c})" for c in result.findings),
        "note", "path",
    ]  # fmt: skip


def sort_keys(result: Result) -> list[str | None]:
    """For each column of ``header``, the ``find --sort`` key that orders by it (None: none)."""
    return ["date", "format", "age", "sex", "duration", "fs", "leads", *result.measurements,
            *(None for _ in result.findings), None, "path"]  # fmt: skip


def numeric(result: Result) -> set[int]:
    """The columns of ``header`` that hold numbers: right-aligned, sorted as numbers."""
    return {2, 4, 5, 6, *range(FIRST, FIRST + len(result.measurements) + len(result.findings))}


def measured(row: Found) -> dict[str, float]:
    """The row's measurements, ours where we measured, else the device's."""
    return {k: v for source in ("device", "ours") for k, v in row.measurements.get(source, {}).items()}


def cells(row: Found, result: Result) -> list[str]:
    """One row's cells under ``header``: what ``find`` prints and the window's library shows."""
    values = measured(row)
    return [
        row.acquired or "",
        row.format or "",
        _number(row.age),
        (row.sex or "")[:1].upper(),
        _number(row.duration, 1),
        _number(row.fs),
        str(len(row.leads) or ""),
        *(_number(values.get(k)) for k in result.measurements),
        *(_number(row.findings.get(c), 2) for c in result.findings),
        note(row),
        row.path,
    ]


def lines(result: Result) -> list[str]:
    """The table's lines, a header first; numbers right-aligned."""
    table = [header(result), *(cells(row, result) for row in result.rows)]
    right = numeric(result)
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    out = []
    for r in table:
        parts = [
            c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))
        ]
        out.append(GAP.join(parts).rstrip())
    return out
