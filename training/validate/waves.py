"""Wave by wave against LUDB's cardiologists, with fewer leads and at lower rates than LUDB's.

Every lead's own waves (``ecgviewer.measure.delineate.waves``, the app's sub-sample edges) are
matched to that lead's marks: a mark and a wave of the same kind match when they overlap (one to
one, the largest overlap first). Sensitivity: marked waves matched; positive predictive value:
our waves inside the marked span that match a mark. Each fiducial's error (ours minus the mark,
ms) over the matched pairs, mean and SD, beside Martinez et al. 2004's wavelet delineator on
the QT Database (the published anchor; its P sensitivity 98.9 %). The CSE tolerances apply to
global fiducials: the tables above hold the median beats' against them.

Conditions: the global-context channel from 1 lead (II), 2 (II, V1), 3 (II, V1, V5) or all 12, at
LUDB's 500 Hz; and all 12 leads resampled to 125 or 250 Hz first (then through the delineation
contract, as the app does with any rate). Each record is delineated by its held-out fold model.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from training.data import ludb
from training.validate.xai_scores import wilson

if TYPE_CHECKING:
    from collections.abc import Sequence

FIDUCIALS = ("p_on", "p_off", "qrs_on", "qrs_off", "t_off")
NAMES = {"p_on": "P onset", "p_off": "P offset", "qrs_on": "QRS onset", "qrs_off": "QRS offset",
         "t_off": "T offset"}  # fmt: skip
# The CSE working party's tolerances for automated delineation (2 sigma_CSE: twice the referees'
# spread, ms), which the literature (Martinez et al. 2004, Table) holds a delineator's SD of
# errors to; Martinez et al. 2004 (IEEE TBME 51:570) on the QT Database: mean ± SD (ms) per lead
# and beat.
CSE_2SD = {"p_on": 10.2, "p_off": 12.7, "qrs_on": 6.5, "qrs_off": 11.6, "t_off": 30.6}
MARTINEZ = {"p_on": (2.0, 14.8), "p_off": (1.9, 12.8), "qrs_on": (4.6, 7.7), "qrs_off": (0.8, 8.7),
            "t_off": (-1.6, 18.1)}  # fmt: skip
LEADS = {1: ("II",), 2: ("II", "V1"), 3: ("II", "V1", "V5")}
CONDITIONS = ("leads=1", "leads=2", "leads=3", "leads=12", "fs=250", "fs=125")
BEST_OF = "leads=2"  # QTDB's recordings have two leads
SAME_BEAT_MS = 100.0  # marks of one wave in two leads are closer than this


def condition(rec: ludb.LudbRecord, name: str) -> tuple[np.ndarray, float, list[int]]:
    """The record's signals, rate and lead indices (of the 12) under condition ``name``: a comma
    list of ``leads=N`` (all 12 when absent), ``noise=KIND`` (``noise.stated``, added at LUDB's
    500 Hz), ``lowpass=F`` (a recorder's front end: one pole at F Hz, causal as analogue filters
    are, after the noise) and ``fs=F`` (resampled from 500 Hz, last)."""
    from ecgviewer.dsp.resample import to_rate
    from ecgviewer.leads import STANDARD_LEADS
    from training.data import noise

    parts = dict(p.split("=") for p in name.split(","))
    n = int(parts.get("leads", 12))
    idx = list(range(12)) if n == 12 else [STANDARD_LEADS.index(x) for x in LEADS[n]]
    x = rec.signals[idx]
    if "noise" in parts:
        x = x + noise.stated(parts["noise"], x.shape, rec.fs, np.random.default_rng(rec.number))
    if "lowpass" in parts:
        from scipy.signal import butter, sosfilt

        x = sosfilt(butter(1, float(parts["lowpass"]), fs=rec.fs, output="sos"), x, axis=-1).astype(
            np.float32
        )
    if "fs" not in parts:
        return x, rec.fs, idx
    rate = float(parts["fs"])
    return to_rate(x, rec.fs, rate), rate, idx


def delineate(x: np.ndarray, fs: float, delineator) -> list[list]:
    """Each lead's waves (``Wave``, samples at the contract's rate), the app's route."""
    from ecgviewer.measure import signal
    from ecgviewer.measure.delineate import waves

    probs = delineator.probabilities(signal.prepare(x, fs))
    return [waves(p) for p in probs]


def match(marks: list[tuple[str, int, int]], ours: list, scale: float, span: tuple[int, int]) -> dict:
    """Counts and per-fiducial errors (ms) of one lead: ``marks`` in samples of the record,
    ``ours`` in samples of the contract, ``scale`` = record samples per contract sample."""
    out: dict = {"marked": {}, "found": {}, "matched": {}, "errors": {k: [] for k in FIDUCIALS},
                 "at": {k: [] for k in FIDUCIALS}}  # fmt: skip
    for kind in ("P", "QRS", "T"):
        m = [(a, b) for k, a, b in marks if k == kind]
        o = [(w.on * scale, w.off * scale) for w in ours if w.kind == kind]
        o = [(a, b) for a, b in o if span[0] <= (a + b) / 2 <= span[1]]
        overlaps = [
            (min(b1, b2) - max(a1, a2), i, j) for i, (a1, b1) in enumerate(m) for j, (a2, b2) in enumerate(o)
        ]
        pairs = sorted((p for p in overlaps if p[0] > 0), reverse=True)
        used_m, used_o = set(), set()
        for _overlap, i, j in pairs:
            if i in used_m or j in used_o:
                continue
            used_m.add(i)
            used_o.add(j)
            key = kind.lower()
            for edge, end in (("on", 0), ("off", 1)) if kind != "T" else (("off", 1),):
                out["errors"][f"{key}_{edge}"].append(o[j][end] - m[i][end])
                out["at"][f"{key}_{edge}"].append((m[i][0] + m[i][1]) / 2)  # the marked wave's centre
        out["marked"][kind], out["found"][kind], out["matched"][kind] = len(m), len(o), len(used_m)
    return out


def run(
    root: Path, models: Path, out_jsonl: Path, conditions=CONDITIONS, limit: int | None = None,
    held_out: Sequence[int] = range(ludb.FOLDS),
) -> list[dict]:  # fmt: skip
    """Every non-paced record under every condition; one JSON line per record, condition, lead."""
    from ecgviewer.measure import signal

    def rows_of(rec: ludb.LudbRecord, name: str, delineator) -> list[dict]:
        rows = []
        x, fs, idx = condition(rec, name)
        for lead, found in zip(idx, delineate(x, fs, delineator), strict=True):
            m = match(rec.waves[lead], found, rec.fs / signal.FS, rec.spans[lead])
            for field in ("errors", "at"):
                m[field] = {k: [round(v * 1000 / rec.fs, 2) for v in e] for k, e in m[field].items()}
            rows.append({"record": rec.number, "condition": name, "lead": lead, **m})
        return rows

    return ludb.each_condition(root, models, out_jsonl, conditions, rows_of, limit, held_out=held_out)


def table(rows: list[dict]) -> list[str]:
    """Per condition: sensitivity and PPV per wave; per fiducial mean ± SD (ms) beside Martinez
    et al. 2004 on the QT Database (a per-lead, per-beat comparison like this one)."""
    lines = ["| condition | fiducial | mean ± SD (ms) | n | Martinez 2004 (QTDB) |",
             "|---|---|---|---|---|"]  # fmt: skip
    counts = ["| condition | wave | sensitivity [95 %] | PPV [95 %] |", "|---|---|---|---|"]
    for name in sorted({r["condition"] for r in rows}, key=CONDITIONS.index):
        sel = [r for r in rows if r["condition"] == name]
        for k in FIDUCIALS:
            d = np.array([v for r in sel for v in r["errors"][k]])
            if len(d) < 2:
                continue
            mean, msd = MARTINEZ[k]
            lines.append(f"| {name} | {NAMES[k]} | {d.mean():+.1f} ± {d.std(ddof=1):.1f} | {len(d)} | "
                         f"{mean:+.1f} ± {msd:.1f} |")  # fmt: skip
        for kind in ("P", "QRS", "T"):
            marked = sum(r["marked"][kind] for r in sel)
            found = sum(r["found"][kind] for r in sel)
            hit = sum(r["matched"][kind] for r in sel)
            counts.append(f"| {name} | {kind} | {_rate(hit, marked)} | {_rate(hit, found)} |")
    return [*counts, "", *lines]


def best_lead(rows: list[dict], name: str = BEST_OF) -> dict[str, np.ndarray]:
    """Per fiducial, the errors (ms) under Martinez et al. 2004's protocol on the QT Database: of
    each beat's marks in the condition's leads, the lead whose wave is nearer its mark (a choice
    made after seeing the marks, which no delineator can make on its own)."""
    out: dict[str, list[float]] = {k: [] for k in FIDUCIALS}
    for record in sorted({r["record"] for r in rows if r["condition"] == name}):
        leads = [r for r in rows if r["condition"] == name and r["record"] == record and "at" in r]
        for k in FIDUCIALS:
            marks = sorted((at, e) for r in leads for at, e in zip(r["at"][k], r["errors"][k], strict=True))
            while marks:  # marks of one beat (centres within SAME_BEAT_MS) keep their best lead's error
                at, _ = marks[0]
                beat = [e for a, e in marks if a - at < SAME_BEAT_MS]
                out[k].append(min(beat, key=abs))
                marks = marks[len(beat) :]
    return {k: np.array(v) for k, v in out.items()}


def best_lead_table(rows: list[dict]) -> list[str]:
    """``best_lead`` beside the same leads taken one by one and beside Martinez et al. 2004."""
    best = best_lead(rows)
    lines = ["| fiducial | each lead (ms) | better lead of the two (ms) | n | Martinez 2004 (QTDB) |",
             "|---|---|---|---|---|"]  # fmt: skip
    for k in FIDUCIALS:
        each = np.array([v for r in rows if r["condition"] == BEST_OF for v in r["errors"][k]])
        if len(best[k]) < 2 or len(each) < 2:
            continue
        mean, msd = MARTINEZ[k]
        lines.append(f"| {NAMES[k]} | {each.mean():+.1f} ± {each.std(ddof=1):.1f} | "
                     f"{best[k].mean():+.1f} ± {best[k].std(ddof=1):.1f} | {len(best[k])} | "
                     f"{mean:+.1f} ± {msd:.1f} |")  # fmt: skip
    return lines


def _rate(k: int, n: int) -> str:
    if n == 0:
        return "-"
    lo, hi = wilson(k, n)
    return f"{k / n:.3f} [{lo:.3f}-{hi:.3f}] (n={n})"
