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


def lines(result: Result) -> list[str]:
    """The table's lines, a header first; numbers right-aligned."""
    keys = result.measurements
    header = ["date", "format", "age", "sex", "s", "Hz", "leads", *(MEASUREMENTS[k].label for k in keys)]
    header += ["note", "path"]
    table = [header]
    for row in result.rows:
        values = {k: v for source in ("device", "ours") for k, v in row.measurements.get(source, {}).items()}
        table.append(
            [
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
        )
    numeric = {2, 4, 5, 6, *range(7, 7 + len(keys))}
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    out = []
    for r in table:
        cells = [
            c.rjust(w) if i in numeric else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))
        ]
        out.append(GAP.join(cells).rstrip())
    return out
