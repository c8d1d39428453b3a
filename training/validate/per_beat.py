"""Beat by beat: the beat list's own fiducials against the cardiologists' marks of each beat.

The route a Holter reading takes (``ecgviewer.measure.rhythm``: a page through the delineation
contract, waves where enough of the delineated leads agree, each beat's P onset and offset, QRS
onset and offset and T offset), not the median beat's. Each marked beat (a QRS marked in the
leads used) is matched to the beat list's beat whose R lies inside that QRS, widened by 50 ms
either side. The reference of a beat is the earliest onset and the latest offset over the leads
used (``measurements.reference``), as a per-beat global value. Sensitivity: marked beats found;
positive predictive value: listed beats inside the marked stretch that match a marked beat.
Errors are ours minus the marks (ms) over the matched beats where both have the fiducial; "found"
is the share of those marked beats where the beat list has it. Conditions: 1, 2 and 3 leads at
LUDB's 500 Hz, and II and V1 resampled first to 250 Hz and to 128 Hz (2-lead Holters' rates), and
at 250 Hz with all the validation's noise added before (wander, mains and muscle together).
Paced records are left out of the errors, as in the tables above; every record's listed beats
are counted by the kind the beat list gave them, so that the share called paced shows how often
pacing is recognised (paced records) and wrongly seen (the others). Each record is read by its held-out fold
model. Beat to beat: within a record, the SD of each beat's fiducial measured from our R, for the
marks and for ours (pooled over records with at least 4 such beats). The marks' scatter
(annotation jitter and true beat-to-beat change alike) is part of every per-beat error: where it
is larger than ours, following the marks more closely means following their jitter.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ecgviewer.measure.rhythm import BEAT_FIDUCIALS as FIDUCIALS
from ecgviewer.measure.rhythm import KINDS, PACED
from training.data import ludb
from training.validate.waves import CSE_2SD, MARTINEZ, NAMES, _rate, condition

CONDITIONS = ("leads=1", "leads=2", "leads=3", "leads=2,fs=250", "leads=2,fs=128", "leads=2,fs=250,noise=all")
WIDEN_MS = 50.0
MIN_BEATS_SD = 4  # beats of a record before its beat-to-beat SD counts


def compare(
    rec: ludb.LudbRecord, idx: list[int], t_s: np.ndarray, fid_ms: np.ndarray,
    kinds: Sequence[str] | None = None,
) -> dict:  # fmt: skip
    """Matches and per-fiducial errors (ms) of one record's beat list (R times ``t_s``, fiducials
    (FIDUCIALS, beats) in ms from R, each beat's kind in ``kinds``, normal if not given) against
    its marked beats over the leads ``idx``."""
    from training.validate.measurements import reference

    ref = reference(rec, idx)
    widen = WIDEN_MS * rec.fs / 1000
    r = t_s * rec.fs  # our R, in record samples
    used: set[int] = set()
    out: dict = {"marked": len(ref), "matched": 0, "errors": {k: [] for k in FIDUCIALS},
                 "marks_from_r": {k: [] for k in FIDUCIALS}, "kinds": {k: [] for k in FIDUCIALS},
                 "missing": dict.fromkeys(FIDUCIALS, 0)}  # fmt: skip
    for beat in ref:
        inside = [j for j in np.flatnonzero((r >= beat["qrs_on"] - widen) & (r <= beat["qrs_off"] + widen))
                  if j not in used]  # fmt: skip
        if not inside:
            continue
        centre = (beat["qrs_on"] + beat["qrs_off"]) / 2
        j = min(inside, key=lambda j: abs(r[j] - centre))
        used.add(int(j))
        out["matched"] += 1
        for k, ours in zip(FIDUCIALS, fid_ms[:, j], strict=True):
            if not np.isfinite(beat.get(k, np.nan)):
                continue
            if np.isfinite(ours):
                mark_ms = (beat[k] - r[j]) * 1000 / rec.fs  # the mark, from our R
                out["errors"][k].append(round(float(ours - mark_ms), 2))
                out["marks_from_r"][k].append(round(float(mark_ms), 2))
                out["kinds"][k].append("normal" if kinds is None else kinds[j])
            else:
                out["missing"][k] += 1
    if ref:
        lo = min(b["qrs_on"] for b in ref) - widen
        hi = max(b["qrs_off"] for b in ref) + widen
        out["listed"] = int(((r >= lo) & (r <= hi)).sum())
    else:
        out["listed"] = 0
    return out


def run(
    root: Path, models: Path, out_jsonl: Path, conditions=CONDITIONS, limit: int | None = None,
    held_out: Sequence[int] = range(ludb.FOLDS),
) -> list[dict]:  # fmt: skip
    """The beat list of every non-paced record under every condition; a JSON line each."""
    from ecgviewer.leads import STANDARD_LEADS
    from ecgviewer.measure.rhythm import analyse
    from ecgviewer.recording import make_recording
    from ecgviewer.sources import ArraySource

    def rows_of(rec: ludb.LudbRecord, name: str, delineator) -> list[dict]:
        x, fs, idx = condition(rec, name)
        recording = make_recording(None, ArraySource(x), fs, [STANDARD_LEADS[i] for i in idx], "ludb")
        beats = analyse(recording, delineator)
        kinds = [KINDS[k] for k in beats.kind]
        listed = {kind: kinds.count(kind) for kind in KINDS}
        return [{"record": rec.number, "condition": name, "paced": ludb.is_paced(rec), "listed_kinds": listed,
                 **compare(rec, idx, beats.t_s, beats.fiducials_ms, kinds)}]  # fmt: skip

    return ludb.each_condition(root, models, out_jsonl, conditions, rows_of, limit, True, held_out)


def _native(rows: list[dict], name: str) -> list[dict]:
    """The rows of condition ``name`` whose record is not paced (rows written before paced
    records were read carry no flag: they are all native)."""
    return [r for r in rows if r["condition"] == name and not r.get("paced", False)]


def paced_table(rows: list[dict]) -> list[str]:
    """Per condition, the listed beats the beat list called paced, in LUDB's paced records and in
    the others (``beats.pacing_spikes`` before R; its rate and lead limits apply)."""
    lines = ["| condition | paced records: beats called paced | other records: beats called paced |",
             "|---|---|---|"]  # fmt: skip
    for name in sorted({r["condition"] for r in rows}, key=CONDITIONS.index):
        cells = []
        for paced in (True, False):
            sel = [r for r in rows if r["condition"] == name and r.get("paced", False) == paced]
            called = sum(r["listed_kinds"][KINDS[PACED]] for r in sel)
            cells.append(_rate(called, sum(sum(r["listed_kinds"].values()) for r in sel)))
        lines.append(f"| {name} | {cells[0]} | {cells[1]} |")
    return lines


def table(rows: list[dict]) -> list[str]:
    """Per condition: beats found and listed; per fiducial mean ± SD (ms) against the CSE
    tolerances, beside Martinez et al. 2004's per-beat figures on the QT Database."""
    counts = ["| condition | sensitivity [95 %] | PPV [95 %] |", "|---|---|---|"]
    lines = ["| condition | fiducial | mean ± SD (ms) | n | found | CSE 2\u03c3 (SD at most) | within "
             "| Martinez 2004 (QTDB) | beat to beat SD: marks / ours (ms) |",
             "|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for name in sorted({r["condition"] for r in rows}, key=CONDITIONS.index):
        sel = _native(rows, name)
        hit = sum(r["matched"] for r in sel)
        counts.append(f"| {name} | {_rate(hit, sum(r['marked'] for r in sel))} | "
                      f"{_rate(hit, sum(r['listed'] for r in sel))} |")  # fmt: skip
        for k in FIDUCIALS:
            d = np.array([v for r in sel for v in r["errors"][k]])
            if len(d) < 2:
                continue
            missing = sum(r["missing"][k] for r in sel)
            sd = d.std(ddof=1)
            mean, msd = MARTINEZ[k]
            within = "yes" if sd <= CSE_2SD[k] else "**no**"
            found = len(d) / (len(d) + missing)
            lines.append(f"| {name} | {NAMES[k]} | {d.mean():+.1f} ± {sd:.1f} | {len(d)} | {found:.3f} | "
                         f"{CSE_2SD[k]} | {within} | {mean:+.1f} ± {msd:.1f} | "
                         f"{_beat_to_beat(sel, k)} |")  # fmt: skip
    return [*counts, "", *lines]


def kind_table(rows: list[dict]) -> list[str]:
    """Per condition, the matched beats' errors (ms) by the kind the beat list gave them: are
    ectopic beats delineated as well as the normal ones?"""
    lines = ["| condition | beat list's kind | fiducial | mean ± SD (ms) | n |", "|---|---|---|---|---|"]
    for name in sorted({r["condition"] for r in rows}, key=CONDITIONS.index):
        sel = _native(rows, name)
        for kind in KINDS:
            for k in FIDUCIALS:
                d = np.array([e for r in sel for e, w in zip(r["errors"][k], r["kinds"][k], strict=True)
                              if w == kind])  # fmt: skip
                if len(d) >= 2:
                    lines.append(f"| {name} | {kind} | {NAMES[k]} | {d.mean():+.1f} ± {d.std(ddof=1):.1f} "
                                 f"| {len(d)} |")  # fmt: skip
    return lines


def _beat_to_beat(rows: list[dict], k: str) -> str:
    """The marks' and our within-record SD of fiducial ``k`` from our R, pooled over records."""
    marks, ours = [], []
    for r in rows:
        m = np.array(r.get("marks_from_r", {}).get(k, []))
        if len(m) >= MIN_BEATS_SD:
            marks.append(m.var(ddof=1))
            ours.append((np.array(r["errors"][k]) + m).var(ddof=1))
    return f"{np.sqrt(np.mean(marks)):.1f} / {np.sqrt(np.mean(ours)):.1f}" if marks else "-"
