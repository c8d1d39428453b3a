"""PTB-XL metadata: demographics, report and SCP-ECG labels of a record inside a PTB-XL tree.

Wagner et al., Sci Data 7:154 (2020); CC BY 4.0. The tree may hold the original
``ptbxl_database.csv`` (likelihoods, report) and/or the 0/1 table ``ptbxl_statements_v103.csv``.

The tables are read once per tree and shared by every caller (the findings table, the library's
search, the report), so they are returned read-only: a caller that changed one would change what
every other one shows. A caller that wants its own copy makes one (``dict(descriptions(root))``).
"""

from __future__ import annotations

import ast
import csv
import re
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ecgviewer.recording import Recording

RECORD_NAME = re.compile(r"^(\d{5})_(?:lr|hr)(?:_\d+)?$")  # _1, _2: FLAC records' signal files
DATABASE, STATEMENTS, SCP = "ptbxl_database.csv", "ptbxl_statements_v103.csv", "scp_statements.csv"
_SEX = MappingProxyType({"0": "male", "1": "female", "0.0": "male", "1.0": "female"})


def find_root(path: Path, levels: int = 4) -> Path | None:
    """The PTB-XL folder above ``path`` (the one holding its CSV tables), if any."""
    for parent in list(path.resolve().parents)[:levels]:
        if (parent / DATABASE).is_file() or (parent / STATEMENTS).is_file():
            return parent
    return None


def ecg_id(path: Path) -> int | None:
    """PTB-XL's ecg_id from a record file name such as ``00001_hr.hea`` or ``02000_lr_1.dat``."""
    m = RECORD_NAME.match(path.stem)
    return int(m.group(1)) if m else None


@lru_cache(maxsize=4)
def descriptions(root: Path) -> Mapping[str, str]:
    """SCP-ECG statement code -> description (read-only: shared by every caller)."""
    f = root / SCP
    if not f.is_file():
        return MappingProxyType({})
    with f.open(newline="", encoding="utf-8") as fh:
        return MappingProxyType({row[""]: row["description"] for row in csv.DictReader(fh)})


@lru_cache(maxsize=4)
def statement_groups(root: Path) -> Mapping[str, str]:
    """SCP-ECG statement code -> its diagnostic superclass (NORM, MI, STTC, CD, HYP), or ``form`` /
    ``rhythm`` for the 27 statements PTB-XL gives no superclass (read-only: shared)."""
    with (root / SCP).open(newline="", encoding="utf-8") as fh:
        return MappingProxyType(
            {
                row[""]: row["diagnostic_class"] or ("rhythm" if row["rhythm"] else "form")
                for row in csv.DictReader(fh)
            }
        )


def _age(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


@lru_cache(maxsize=4)
def table(root: Path) -> Mapping[int, Mapping[str, Any]]:
    """ecg_id -> {age, sex, labels, report, fold, date} from whichever tables the tree has; read-only
    throughout (the entries and their labels too), as the cache shares it."""
    out: dict[int, dict[str, Any]] = {}
    statements = root / STATEMENTS
    if statements.is_file():
        with statements.open(newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh)
            cols = next(reader)
            codes = cols[4:]
            for row in reader:
                out[int(row[0])] = {
                    "age": _age(row[1]),
                    "sex": _SEX.get(row[2]),
                    "fold": row[3],
                    # 0/1 presence, no likelihood: 0, as PTB-XL itself codes a statement it does not quantify
                    "labels": {c: 0.0 for c, v in zip(codes, row[4:], strict=False) if v == "1"},
                }
    database = root / DATABASE
    if database.is_file():
        with database.open(newline="", encoding="utf-8") as fh:
            for line in csv.DictReader(fh):
                entry = out.setdefault(int(line["ecg_id"]), {})
                entry.update(
                    age=_age(line["age"]),
                    sex=_SEX.get(line["sex"]),
                    fold=line["strat_fold"],
                    report=line["report"].strip(),
                    date=line["recording_date"],
                    labels=dict(ast.literal_eval(line["scp_codes"] or "{}")),
                )
    return MappingProxyType(
        {
            eid: MappingProxyType({**entry, "labels": MappingProxyType(entry.get("labels", {}))})
            for eid, entry in out.items()
        }
    )


def attach(rec: Recording) -> None:
    """Fill ``rec.metadata`` from the PTB-XL tables when the file sits in a PTB-XL tree."""
    if rec.path is None or (eid := ecg_id(rec.path)) is None:
        return
    root = find_root(rec.path)
    if root is None:
        return
    try:  # metadata is a bonus: a damaged table must not make the recording unreadable
        info, names = table(root).get(eid), descriptions(root)
    except (OSError, ValueError, KeyError, IndexError, SyntaxError, csv.Error) as exc:
        rec.warnings.append(f"PTB-XL tables in {root} not read ({type(exc).__name__}: {exc})")
        return
    if info is None:
        return
    meta = rec.metadata
    meta.dataset, meta.record_id = "PTB-XL", str(eid)
    age = info.get("age")
    meta.age = None if age is None or age >= 300 else age  # v1.0.3 stores ages over 89 as 300
    if age is not None and age >= 300:
        meta.extra["age"] = "over 89"
    meta.sex = info.get("sex") or meta.sex
    meta.report = info.get("report") or meta.report
    meta.labels = dict(info.get("labels", {}))
    meta.label_descriptions = {c: names[c] for c in meta.labels if c in names}
    if info.get("fold"):
        meta.extra["strat_fold"] = str(info["fold"])
    if info.get("date"):
        meta.extra["recording_date"] = info["date"]
