"""``python -m training measurements``: the measurement pipeline against LUDB's cardiologists.

Every record is measured with the fold model that never saw it (``delineator.py``), on clean
signals and with added noise at the stated levels (``noise.LEVELS``). The reference follows the
baselines document's definitions (lead II), extended to all leads: per annotated beat, the global
QRS onset is the second-earliest onset over the 12 leads and the offset the second-latest (the
app's own rule; likewise P and T), and in a strict variant the earliest and latest; intervals are
medians over a record's beats; fiducial positions are compared relative to our R of the same beat.
Differences are ours minus the cardiologists', mean and SD over records.
Paced records are left out (the pipeline withholds their intervals by design; counted separately).
"""

from __future__ import annotations

import json
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ecgviewer.measure.agreement import LIMITS_MS
from training.data import ludb, noise

if TYPE_CHECKING:
    from collections.abc import Sequence

# IEC 60601-2-25 limits for automated interval measurement on biological ECGs (mean difference /
# SD, ms): the app's own table, which also flags a difference from the acquiring device.
IEC = LIMITS_MS
FIDUCIALS = ("p_on", "p_off", "qrs_on", "qrs_off", "t_off")
INTERVALS = ("p", "pr", "qrs", "qt")
NOISE = ("clean", "wander", "mains", "muscle", "all")
# fewer leads, lower rates and a recorder's 100 Hz low-pass (``waves.condition``); all 12 leads
# at 500 Hz is "clean"
CONDITIONS = (*NOISE, "leads=1", "leads=2", "leads=3", "fs=250", "fs=125", "lowpass=100")
MATCH_MS = 150.0


def reference(rec: ludb.LudbRecord, leads: list[int], rank: int = 0) -> list[dict[str, float]]:
    """Per annotated beat (anchored on the lead with most QRS marks): fiducials in samples at
    the record's rate; onsets the earliest and offsets the latest over ``leads`` (``rank`` 1:
    the second-earliest and second-latest where three or more leads mark the wave, so that one
    lead's outlying mark does not set the global value)."""
    anchor = max(leads, key=lambda i: sum(w[0] == "QRS" for w in rec.waves[i]))
    out = []
    for kind, on, off in rec.waves[anchor]:
        if kind != "QRS":
            continue
        centre = (on + off) / 2
        beat: dict[str, list[float]] = {k: [] for k in FIDUCIALS}
        for i in leads:
            for k, v in reference_beat(rec, i, centre).items():
                beat[k].append(v)
        if beat["qrs_on"]:
            out.append({k: _ranked(v, k.endswith("_off"), rank) for k, v in beat.items()})
    return out


def _ranked(marks: list[float], latest: bool, rank: int) -> float:
    if not marks:
        return np.nan
    ordered = sorted(marks, reverse=latest)
    return ordered[rank] if len(ordered) >= 3 else ordered[0]


def reference_beat(rec: ludb.LudbRecord, lead: int, centre: float) -> dict[str, float]:
    """One lead's marks of the beat whose QRS centre is near ``centre`` (samples): its QRS, the
    last P starting within 400 ms before it, the first T ending within 700 ms after it."""
    ms = rec.fs / 1000
    waves = rec.waves[lead]
    qrs = [w for w in waves if w[0] == "QRS" and abs((w[1] + w[2]) / 2 - centre) < 100 * ms]
    if not qrs:
        return {}
    q = qrs[0]
    out = {"qrs_on": q[1], "qrs_off": q[2]}
    ps = [w for w in waves if w[0] == "P" and q[1] - 400 * ms <= w[1] < q[1]]
    if ps:
        out["p_on"], out["p_off"] = ps[-1][1], ps[-1][2]
    ts = [w for w in waves if w[0] == "T" and q[2] < w[2] <= q[2] + 700 * ms]
    if ts:
        out["t_off"] = ts[0][2]
    return out


def rule_on_marks(rec: ludb.LudbRecord, rank: int) -> dict[str, float]:
    """The app's global rule applied to the cardiologists' own marks (each lead's median over
    beats; the ``rank``-th earliest onset / latest offset) minus the reference, in ms: how far
    the rule and the strict reference differ with no delineation error at all."""
    ref = reference(rec, list(range(12)))
    if not ref:
        return {}
    per_lead: dict[str, list[list[float]]] = {k: [[] for _ in range(12)] for k in FIDUCIALS}
    for b in ref:
        centre = (b["qrs_on"] + b["qrs_off"]) / 2
        for i in range(12):
            one = reference_beat(rec, i, centre)
            for k, v in one.items():
                per_lead[k][i].append(v - b["qrs_on"])
    glob = {}
    for k, leads in per_lead.items():
        medians = sorted((float(np.median(v)) for v in leads if v), reverse=k.endswith("_off"))
        glob[k] = (medians[rank] if len(medians) >= 3 else medians[0]) if medians else np.nan
    mine = _intervals(glob)
    return {
        k: (mine[k] - np.nanmedian([_intervals(b)[k] for b in ref])) * 1000 / rec.fs
        for k in INTERVALS
        if np.isfinite(mine[k])
    }


def _intervals(f: dict[str, float]) -> dict[str, float]:
    return {
        "p": f["p_off"] - f["p_on"],
        "pr": f["qrs_on"] - f["p_on"],
        "qrs": f["qrs_off"] - f["qrs_on"],
        "qt": f["t_off"] - f["qrs_on"],
    }


def compare(rec: ludb.LudbRecord, m, leads: list[int], ours: dict, rank: int = 0) -> dict[str, float]:
    """Ours minus reference for one record: intervals, and fiducials relative to our R."""
    ms = 1000 / rec.fs
    ref_beats = reference(rec, leads, rank)
    out: dict[str, float] = {}
    ref_int: dict[str, float] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a wave no beat has marked (no P in AF): NaN
        if ref_beats:
            ref_int = {k: np.nanmedian([_intervals(b)[k] for b in ref_beats]) * ms for k in INTERVALS}
    mine = {k: None if v is None else v for k, v in _intervals_ms(ours).items()}
    for k in INTERVALS:
        if mine[k] is not None and np.isfinite(ref_int.get(k, np.nan)):
            out[k] = mine[k] - ref_int[k]
    r_ours = m.r_times * 1000  # ms
    rel: dict[str, list[float]] = {k: [] for k in FIDUCIALS}
    for b in ref_beats:
        centre = (b["qrs_on"] + b["qrs_off"]) / 2 * ms
        if len(r_ours) == 0:
            break
        j = int(np.argmin(np.abs(r_ours - centre)))
        if abs(r_ours[j] - centre) > MATCH_MS or m.beat_reasons[j]:
            continue
        for k in FIDUCIALS:
            if np.isfinite(b[k]):
                rel[k].append(b[k] * ms - r_ours[j])
    for k in FIDUCIALS:
        if ours.get(k) is not None and rel[k]:
            out[k] = ours[k] - float(np.median(rel[k]))
    return out


def _intervals_ms(f: dict) -> dict[str, float | None]:
    def d(a: str, b: str) -> float | None:
        return None if f.get(a) is None or f.get(b) is None else f[b] - f[a]

    return {
        "p": d("p_on", "p_off"),
        "pr": d("p_on", "qrs_on"),
        "qrs": d("qrs_on", "qrs_off"),
        "qt": d("qrs_on", "t_off"),
    }


def run(
    root: Path, models: Path, out_jsonl: Path, conditions=CONDITIONS, limit: int | None = None,
    held_out: Sequence[int] = range(ludb.FOLDS),
) -> list[dict]:  # fmt: skip
    """Measure every record under every condition; one JSON line per record and condition."""
    from ecgviewer.leads import STANDARD_LEADS
    from ecgviewer.measure.pipeline import measure

    def rows_of(rec: ludb.LudbRecord, cond: str, delineator) -> list[dict]:
        x, fs, idx = conditioned(rec, cond)
        t0 = time.perf_counter()
        m = measure(x, fs, [STANDARD_LEADS[i] for i in idx], delineator)
        return [{
            "record": rec.number,
            "condition": cond,
            "paced": ludb.is_paced(rec),
            "seconds": round(time.perf_counter() - t0, 3),
            "withheld": sorted(m.withheld),
            "notes": list(m.notes),
            # the global rule over the leads there are (second-earliest needs three)
            "global": compare(rec, m, idx, m.fiducials, rank=1 if len(idx) >= 3 else 0),
            "global_strict": compare(rec, m, idx, m.fiducials),
            "lead_ii": compare(rec, m, [1], m.lead_fiducials[1]),
            "per_lead": [compare(rec, m, [i], m.lead_fiducials[i]) for i in idx],
        }]  # fmt: skip

    return ludb.each_condition(root, models, out_jsonl, conditions, rows_of, limit, True, held_out)


def conditioned(rec: ludb.LudbRecord, cond: str) -> tuple[np.ndarray, float, list[int]]:
    """The record under ``cond``: a noise kind at the stated level, or fewer leads / a lower rate
    (``waves.condition``)."""
    from training.validate.waves import condition

    if "=" in cond:
        return condition(rec, cond)
    x = rec.signals
    if cond != "clean":
        x = x + noise.stated(cond, x.shape, rec.fs, np.random.default_rng(rec.number))
    return x, rec.fs, list(range(12))


def stats(rows: list[dict], scope: str, cond: str) -> dict[str, dict]:
    """Mean and SD (ms) of ours minus the cardiologists' per quantity, paced records left out."""
    sel = [r for r in rows if r["condition"] == cond and not r["paced"]]
    out = {}
    for k in (*FIDUCIALS, *INTERVALS):
        d = np.array([c[k] for r in sel for c in _scoped(r, scope) if k in c])
        if len(d):
            sd = float(d.std(ddof=1)) if len(d) > 1 else float("nan")
            out[k] = {"mean_ms": round(float(d.mean()), 1), "sd_ms": round(sd, 1), "n": len(d)}
    return out


def table(rows: list[dict], scope: str, cond: str) -> list[str]:
    """Mean ± SD per quantity: intervals against the IEC limits, fiducials' SD against the CSE
    tolerances (2 sigma_CSE, ``waves.CSE_2SD``, the bound the delineation literature holds SDs to)."""
    from training.validate.waves import CSE_2SD

    lines = [
        "| quantity | mean ± SD (ms) | n | limit (IEC mean / SD; CSE) | within |",
        "|---|---|---|---|---|",
    ]
    for k, v in stats(rows, scope, cond).items():
        if k in IEC:
            mean_max, sd_max = IEC[k]
            ok: bool | None = abs(v["mean_ms"]) <= mean_max and v["sd_ms"] <= sd_max
            lim = f"IEC {mean_max:.0f} / {sd_max:.0f}"
        else:
            ok, lim = v["sd_ms"] <= CSE_2SD[k], f"CSE 2\u03c3 {CSE_2SD[k]} (SD at most)"
        within = {None: "", True: "yes", False: "**no**"}[ok]
        lines.append(
            f"| {_NAMES[k]} | {v['mean_ms']:+.1f} ± {v['sd_ms']:.1f} | {v['n']} | {lim} | {within} |"
        )
    return lines


def _scoped(row: dict, scope: str) -> list[dict]:
    """The comparisons of one row in ``scope``: one, or one per lead for ``per_lead``."""
    return row[scope] if scope == "per_lead" else [row[scope]]


SCOPES = {
    "lead_ii": (
        "Lead II",
        "Our lead-II median beat against the cardiologists' lead-II marks: the definitions of "
        "`../shared/docs/measured-baselines.md`, whose floor for neurokit2 (`prominence`, the best "
        "it tried) is QRS -14.6 ± 18.6, PR -2.8 ± 14.9, QT +7.3 ± 25.1 ms.",
    ),
    "per_lead": (
        "Every lead",
        "Each lead's median beat against that lead's marks; rows count record x lead pairs.",
    ),
    "global": (
        "Global (every lead there is)",
        "The app's global values (second-earliest onset, second-latest offset over the leads' "
        "median beats; `ecgviewer/measure/intervals.py`) against the same rule applied to the "
        "cardiologists' marks of each beat: the second-earliest onset and second-latest offset "
        "over the 12 leads that mark the wave, intervals the median over beats. Measurement and "
        "reference share one definition of a global fiducial, as IEC 60601-2-25 compares a "
        "device's global intervals with a global reference. Where noise pushes PR past its limit "
        "while lead II's PR stays inside it, the cause is the global rule: the second-earliest P "
        "onset over 12 leads comes from whichever leads start their P earliest, and the residual "
        "wander below the 0.5 Hz high-pass moves the onsets of the small P waves of some leads. "
        "Under leads=1, 2 or 3 (II; II, V1; II, V1, V5: a Holter's) both sides use only those "
        "leads, the earliest and latest where fewer than three; under fs=125 and 250 the record "
        "is resampled first, as a recording at that rate; under lowpass=100 it passes a "
        "recorder's one-pole 100 Hz low-pass first, which spreads a pacing spike.",
    ),
    "global_strict": (
        "Global, strict reference (earliest onset, latest offset)",
        "The same global values against the earliest onset and latest offset over the 12 leads' "
        "marks of each beat. One lead's outlying mark sets this reference (LUDB record 46: lead "
        "III's QRS onset 30 ms before the other eleven leads'), and the earliest of 12 marks that "
        "scatter by a few ms each is early by construction, so the durations measured with the "
        "app's rule come out short against it; the table after this section separates the "
        "rule's share from delineation error.",
    ),
}

_NAMES = {
    "p_on": "P onset",
    "p_off": "P offset",
    "qrs_on": "QRS onset",
    "qrs_off": "QRS offset",
    "t_off": "T offset",
    "p": "P duration",
    "pr": "PR",
    "qrs": "QRS",
    "qt": "QT",
}


def rule_table(root: Path, numbers: list[int]) -> list[str]:
    """The global rule applied to the marks themselves, for the app's rank and the earliest."""
    recs = [ludb.load(root, n) for n in numbers]
    recs = [r for r in recs if not ludb.is_paced(r)]
    lines = [
        "| rule on the marks | " + " | ".join(_NAMES[k] for k in INTERVALS) + " |",
        "|---|" + "---|" * len(INTERVALS),
    ]
    for rank, name in ((1, "second-earliest / second-latest (the app's)"), (0, "earliest / latest")):
        diffs = [rule_on_marks(r, rank) for r in recs]
        cells = []
        for k in INTERVALS:
            d = np.array([x[k] for x in diffs if k in x])
            cells.append(f"{d.mean():+.1f} ± {d.std(ddof=1):.1f} (n={len(d)})")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def write(
    rows: list[dict],
    summary: dict,
    out: Path,
    rules: list[str] | None = None,
    wave_rows: list[dict] | None = None,
    beat_rows: list[dict] | None = None,
) -> Path:
    """MEASUREMENTS.md from the per-record rows: generated, never typed."""
    from ecgviewer.storage import atomic_write_bytes

    paced = sorted({r["record"] for r in rows if r["paced"]})
    used = sorted({r["record"] for r in rows if not r["paced"]})
    lines = [
        "# Measurements against LUDB's cardiologists",
        "",
        "Generated by `python -m training measurements`; do not edit. Method and definitions: "
        "`training/validate/measurements.py`. Each record is measured by the delineator fold model that "
        "was not trained on it (5 folds by record number, `training/data/ludb.py`).",
        "",
        f"Records used: {len(used)} ({_ranges(used)}). Left out, paced: {len(paced)} ({_ranges(paced)}).",
        "",
        f"Delineator training: {json.dumps(summary.get('recipe', {}))}.",
        "",
    ]
    levels = ", ".join(f"{k} {v}" for k, v in noise.LEVELS.items())
    for scope, (title, text) in SCOPES.items():
        lines += [f"## {title}", "", text, ""]
        for cond in sorted({r["condition"] for r in rows}, key=CONDITIONS.index):
            lines += [f"### {title}, {cond}", ""]
            lines += table(rows, scope, cond)
            lines.append("")
        if scope == "global_strict" and rules:
            lines += [
                "How much of the strict global difference is the rule against that reference, with no "
                "delineation error at all: the rule applied to the cardiologists' own marks "
                "(each lead's median over beats), minus the reference (ms):",
                "",
                *rules,
                "",
            ]
    if wave_rows:
        from training.validate.waves import __doc__ as method
        from training.validate.waves import best_lead_table
        from training.validate.waves import table as wave_table

        text = " ".join(method.split("\n\n")[1:]).replace("\n", " ")
        lines += [
            "## Wave by wave, per lead count and sampling rate",
            "",
            text,
            "",
            *wave_table(wave_rows),
            "",
            "The same anchor under its own protocol: Martinez et al. 2004 scored each QT Database beat "
            "by the better of its two leads, chosen after seeing the mark. Here, with II and V1 "
            "(`leads=2`), each marked wave keeps the lead whose wave is nearer the mark; a choice no "
            "delineator can make on its own, shown only so that the anchor is met on its terms:",
            "",
            *best_lead_table(wave_rows),
            "",
        ]
    if beat_rows:
        from ecgviewer.measure.beats import PACED_BEFORE_MS
        from training.validate import per_beat

        text = " ".join(per_beat.__doc__.split("\n\n")[1:]).replace("\n", " ")
        lines += ["## Beat by beat: the beat list, a Holter's route", "", text, "",
                  *per_beat.table(beat_rows), "",
                  "The same errors by the kind the beat list gave each matched beat (LUDB marks "
                  "every beat, ectopic ones too, without naming their kind):", "",
                  *per_beat.kind_table(beat_rows), "",
                  "The beats the beat list called paced (a pacing spike from "
                  f"{PACED_BEFORE_MS:.0f} ms before the QRS onset up to R), LUDB's paced records beside "
                  "the others:", "",
                  *per_beat.paced_table(beat_rows), ""]  # fmt: skip
    lines += [
        f"Noise levels (mV): {levels}.",
        "",
        "Pacing detection: records measured as a paced rhythm (intervals given as the paced complex's), "
        "by condition (the noise added at 500 Hz, fewer leads and lower rates as above):",
        "",
        *pacing_table(rows),
        "",
        f"Median time per record (12 leads, 10 s, 500 Hz; 2 CPU cores): "
        f"{np.median([r['seconds'] for r in rows]) * 1000:.0f} ms.",
        "",
    ]
    atomic_write_bytes(out, "\n".join(lines).encode())
    return out


def pacing_table(rows: list[dict]) -> list[str]:
    """Per condition, the records measured as a paced rhythm (``Measurements.paced_rhythm``: the
    median beat made of paced beats), LUDB's paced ones and the others; where spikes are not
    looked for (too low a rate, one lead), the reason the measurement gives instead."""
    from ecgviewer.measure.beats import NOT_SEEN
    from ecgviewer.measure.pipeline import PACED_RHYTHM
    from training.validate.waves import _rate

    lines = ["| condition | paced records found paced | other records called paced | not looked for |",
             "|---|---|---|---|"]  # fmt: skip
    for cond in sorted({r["condition"] for r in rows}, key=CONDITIONS.index):
        sel = [r for r in rows if r["condition"] == cond]
        cells = []
        for paced in (True, False):
            group = [r for r in sel if r["paced"] == paced]
            found = sum(any(n.startswith(PACED_RHYTHM) for n in r["notes"]) for r in group)
            cells.append(_rate(found, len(group)))
        notes = {n for r in sel for n in r["notes"] if n.startswith(NOT_SEEN)}
        blind = sorted(n[n.index("(") + 1 : n.index(")")] for n in notes)
        lines.append(f"| {cond} | {cells[0]} | {cells[1]} | {'; '.join(blind)} |")
    return lines


def _ranges(ids: list[int]) -> str:
    from training.data.datasets import id_ranges

    return id_ranges(ids)


def write_card(weights: Path, rows: list[dict], summary: dict, command: str) -> None:
    """The bundled delineator's card (JSON + Markdown): what trained it, how it was validated,
    the held-out global figures on clean signals, SHA-256 of the weights."""
    from ecgviewer.measure import signal
    from ecgviewer.weights import read_weights, sha256
    from ecgviewer.weights import write_card as write
    from training.context import git_commit

    meta, _ = read_weights(weights, "delineator", "delineator")  # new weights: the card is what is written
    metrics = {scope: stats(rows, scope, "clean") for scope in SCOPES}
    sha, now, commit = sha256(weights), time.strftime("%Y-%m-%dT%H:%M:%S%z"), git_commit()
    card_path = weights.with_suffix(".json")
    before = json.loads(card_path.read_text()) if card_path.is_file() else {}
    # the same weights validated again: when and from what they were made stays as it was
    made = {"recipe": summary.get("recipe"), "git_commit": commit, "created": now}
    if before.get("weights_sha256") == sha:
        made = {k: before.get(k) for k in made}
    card = {
        "name": weights.stem,
        "task": "P / QRS / T delineation of each lead (background, P, QRS, T per sample)",
        "architecture": {"kind": "1-D U-Net", **meta["config"]},
        "delineation_contract": signal.VERSION,
        "training_data": "LUDB v1.0.1 (Kalyakulina et al. 2020, ODC-By 1.0), records "
        + _ranges(meta["trained_on"]),
        "recipe": made["recipe"],
        "command": command,
        "validation": "5-fold cross-validation by record number; every record measured by the fold model "
        "that did not see it; intervals from median beats, ours minus cardiologists (ms), clean "
        "signals, paced records left out. With noise and definitions: training/reports/MEASUREMENTS.md",
        "metrics_clean": metrics,
        "weights_sha256": sha,
        "git_commit": made["git_commit"],
        "created": made["created"],
        "validated": {"at": now, "git_commit": commit},
        "intended_use": "research use, not a medical device; every measurement needs a physician's over-read",
    }
    lines = [
        f"# {card['name']}",
        "",
        card["task"] + ".",
        "",
        "**Research use, not a medical device.**",
        "",
        f"- Architecture: {json.dumps(card['architecture'])}; delineation contract {signal.VERSION}.",
        f"- Trained on: {card['training_data']}.",
        f"- Command: `{command}`.",
        f"- Created {card['created']} from git commit `{card['git_commit']}`.",
        f"- SHA-256 of the weights: `{card['weights_sha256']}`.",
        f"- Validated {now} at git commit `{commit}` (each LUDB record by the recipe's fold model "
        "that did not see it).",
        "",
        "## Held-out validation",
        "",
        card["validation"] + ".",
        "",
    ]
    for scope, (title, _) in SCOPES.items():
        lines += [f"### {title}", "", *table(rows, scope, "clean"), ""]
    write(weights, card, "\n".join(lines) + "\n")
