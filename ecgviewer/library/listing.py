"""Found recordings as a plain-text table (``ecgviewer find``): one line each, the columns a
clinician scans first, the measurements the query named, and the path last."""

from __future__ import annotations

from ecgviewer.library.query import Found, Result
from ecgviewer.measurements import MEASUREMENTS

GAP = "  "


def _number(value: float | None, digits: int = 0) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def note(row: Found) -> str:
    """What the row's state is, when not a plain readable recording."""
    if row.status != "ok":
        return row.status
    return f"{row.now} since indexing" if row.now else ""


def header(keys: list[str]) -> list[str]:
    """The columns of a listing that shows the measurements ``keys``."""
    return [
        "date",
        "format",
        "age",
        "sex",
        "s",
        "Hz",
        "leads",
        *(MEASUREMENTS[k].label for k in keys),
        "note",
        "path",
    ]


def sort_keys(keys: list[str]) -> list[str | None]:
    """For each column of ``header(keys)``, the ``find --sort`` key that orders by it (None: none)."""
    return ["date", "format", "age", "sex", "duration", "fs", "leads", *keys, None, "path"]


def numeric(keys: list[str]) -> set[int]:
    """The columns (of ``header(keys)``) that hold numbers: right-aligned, sorted as numbers."""
    return {2, 4, 5, 6, *range(7, 7 + len(keys))}


def measured(row: Found) -> dict[str, float]:
    """The row's measurements, ours where we measured, else the device's."""
    return {k: v for source in ("device", "ours") for k, v in row.measurements.get(source, {}).items()}


def cells(row: Found, keys: list[str]) -> list[str]:
    """One row's cells under ``header(keys)``: what ``find`` prints and the window's library shows."""
    values = measured(row)
    return [
        row.acquired or "",
        row.format or "",
        _number(row.age),
        (row.sex or "")[:1].upper(),
        _number(row.duration, 1),
        _number(row.fs),
        str(len(row.leads) or ""),
        *(_number(values.get(k)) for k in keys),
        note(row),
        row.path,
    ]


def lines(result: Result) -> list[str]:
    """The table's lines, a header first; numbers right-aligned."""
    keys = result.measurements
    table = [header(keys), *(cells(row, keys) for row in result.rows)]
    right = numeric(keys)
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    out = []
    for r in table:
        parts = [
            c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))
        ]
        out.append(GAP.join(parts).rstrip())
    return out
