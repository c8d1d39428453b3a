"""LUDB as delineation data: signals and the cardiologists' per-lead P/QRS/T marks.

Each lead's annotation file lists waves as "(" onset, peak symbol ("p", "N", "t"), ")" offset.
LUDB leaves the first and last beats of each record unmarked, so every lead carries the span
between its first and last mark; only that span counts as labelled.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ecgviewer.leads import STANDARD_LEADS, canonical_lead

if TYPE_CHECKING:
    from collections.abc import Sequence

PEAKS = {"p": "P", "N": "QRS", "t": "T"}
FOLDS = 5  # record n is held out in fold (n - 1) % FOLDS


@dataclass
class LudbRecord:
    number: int
    signals: np.ndarray  # (12, n) mV, standard lead order
    fs: float
    waves: list[list[tuple[str, int, int]]]  # per lead: (kind, onset, offset) samples at fs
    spans: list[tuple[int, int]]  # per lead: first and last marked sample
    diagnoses: dict[str, str]

    @property
    def fold(self) -> int:
        return fold_of(self.number)


def fold_of(number: int) -> int:
    """The cross-validation fold that holds record ``number`` out."""
    return (number - 1) % FOLDS


def records(root: Path) -> list[int]:
    return sorted(int(p.stem) for p in (root / "data").glob("*.hea"))


def load(root: Path, number: int) -> LudbRecord:
    import wfdb

    base = str(root / "data" / str(number))
    rec = wfdb.rdrecord(base)
    names = [canonical_lead(n) for n in rec.sig_name]
    signals = rec.p_signal.T[[names.index(lead) for lead in STANDARD_LEADS]].astype(np.float32)
    waves, spans = [], []
    for lead in STANDARD_LEADS:
        ann = wfdb.rdann(base, lead.lower())
        waves.append(_waves(list(ann.symbol), ann.sample.tolist()))
        spans.append((int(ann.sample.min()), int(ann.sample.max())))
    return LudbRecord(number, signals, float(rec.fs), waves, spans, _diagnoses(root, number))


def fold_models(models: Path, folds: Sequence[int] = range(FOLDS)) -> dict:
    """The delineator of each cross-validation fold (``fold<k>.safetensors`` in ``models``)."""
    from ecgviewer.measure.delineate import Delineator

    return {k: Delineator.load(models / f"fold{k}.safetensors") for k in folds}


def each_record(root: Path, out_jsonl: Path, rows_of, limit: int | None = None) -> list[dict]:
    """``rows_of(record)`` for every LUDB record (the first ``limit``), each row also written to
    ``out_jsonl`` as a JSON line as it comes (a long validation leaves what it did)."""
    import json
    import time

    rows: list[dict] = []
    out_jsonl.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    with out_jsonl.open("w") as f:
        for number in records(root)[:limit]:
            for row in rows_of(load(root, number)):
                f.write(json.dumps(row) + "\n")
                rows.append(row)
    print(f"{len(rows)} rows in {time.perf_counter() - t0:.0f} s", flush=True)
    return rows


def each_condition(
    root: Path, models: Path, out_jsonl: Path, conditions, rows_of, limit: int | None = None,
    paced: bool = False, held_out: Sequence[int] = range(FOLDS),
) -> list[dict]:  # fmt: skip
    """``rows_of(record, condition, delineator)`` for every record of the ``held_out`` folds (paced
    ones only if ``paced``) under every condition, each record read by the fold model not trained
    on it (``each_record``); a recipe too long for one session is measured a fold at a time."""
    folds = fold_models(models, held_out)

    def rows(rec: LudbRecord) -> list[dict]:
        if (is_paced(rec) and not paced) or rec.fold not in folds:
            return []
        return [row for name in conditions for row in rows_of(rec, name, folds[rec.fold])]

    return each_record(root, out_jsonl, rows, limit)


def _waves(symbols: list[str], samples: list[int]) -> list[tuple[str, int, int]]:
    out = []
    for i, s in enumerate(symbols):
        if s not in PEAKS or i == 0 or i + 1 >= len(symbols):
            continue
        if symbols[i - 1] == "(" and symbols[i + 1] == ")":
            out.append((PEAKS[s], samples[i - 1], samples[i + 1]))
    return out


def _diagnoses(root: Path, number: int) -> dict[str, str]:
    import csv

    with (root / "ludb.csv").open(newline="") as f:
        for row in csv.DictReader(f):
            if int(row["ID"]) == number:
                return {k: (v or "").strip() for k, v in row.items()}
    return {}


def is_paced(rec: LudbRecord) -> bool:
    return bool(rec.diagnoses.get("Cardiac pacing"))


def labels(rec: LudbRecord, fs: float, n: int) -> np.ndarray:
    """(12, n) int64 class per sample at ``fs``: 0 none, 1 P, 2 QRS, 3 T; -1 outside the marked
    span (not counted by the loss)."""
    from ecgviewer.measure.unet import CLASSES

    scale = fs / rec.fs
    out = np.full((len(rec.waves), n), -1, dtype=np.int64)
    for lead, (waves, (a, b)) in enumerate(zip(rec.waves, rec.spans, strict=True)):
        out[lead, max(0, round(a * scale)) : min(n, round(b * scale) + 1)] = 0
        for kind, on, off in waves:
            out[lead, round(on * scale) : round(off * scale) + 1] = CLASSES.index(kind)
    return out
