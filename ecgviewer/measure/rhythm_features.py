"""A recording's rhythm in numbers, from its beat list (``rhythm.analyse``): rate, the RR series'
irregularity and its patterns (bigeminy, trigeminy, runs), P waves before the beats and the
steadiness of their PR, and the share of each beat kind. A record head (``ml.record_head``) weighs
them, with the dominant beat's (``beat_shape_features``), beside the encoder's statements: sinus
arrhythmia, bradycardia and a bigeminal pattern are read off the RR series, every beat of it, which
the encoder sees only through 2.5 s windows.

Each feature is a rate or a share, not a count, so that a 10 s record and a longer span compare.
"""

from __future__ import annotations

import warnings

import numpy as np

from ecgviewer.measure import beat_classes as C
from ecgviewer.measure import rhythm as R

# name: what it is (unit); the one vocabulary of the features, their order that of the head's inputs
FEATURES: dict[str, str] = {
    "beats_per_min": "beats listed per minute of the span (bpm)",
    "hr": "heart rate from the median RR interval (bpm)",
    "hr_min": "rate of the longest RR interval (bpm)",
    "hr_max": "rate of the shortest RR interval (bpm)",
    "rr_cv": "RR intervals' standard deviation over their mean",
    "nrmssd": "root mean square of successive RR differences over the mean RR",
    "rr_range": "longest minus shortest RR over the median RR",
    "rr_step": "mean absolute log ratio of successive RR intervals",
    "rr_alternation": "share of successive RR changes that reverse the one before (bigeminy alternates)",
    "p_share": "share of beats with a delineated P wave before the QRS",
    "pr_ms": "median PR interval (ms)",
    "pr_spread_ms": "median absolute deviation of the PR intervals (ms): fibrillatory waves fall anywhere",
    "p_alike": "median correlation of the beats' P-wave windows with the page's template",
    "supraventricular": "share of beats called supraventricular",
    "ventricular": "share of beats called ventricular",
    "paced": "share of beats called paced",
    "unreadable": "share of beats called unreadable",
    "bigeminy": "ventricular share of every other beat minus that of the beats between",
    "trigeminy": "ventricular share of every third beat minus that of the others",
    "supraventricular_run": "longest run of supraventricular beats over the beats listed",
    "af": "share of the span in atrial fibrillation episodes",
    "qrs_ms": "median QRS duration (ms)",
    "wide": "share of beats with a QRS of 120 ms or more",
    "irregular": "median of the beats' local RR irregularity (beat_classes 'irregular')",
    "prematurity": "the most premature beat's log RR ratio against its local cycle",
    "premature": "share of beats at most 85 % of their local cycle",
}
NAMES = tuple(FEATURES)
PREMATURE_RATIO = 0.85  # as ``premature``'s description says
WIDE_QRS_MS = 1000 * C.WIDE_QRS_S


def _longest_run(flags: np.ndarray) -> int:
    """The longest run of True in ``flags``."""
    from ecgviewer.dsp.runs import runs

    starts, ends = runs(flags)
    return int((ends - starts).max()) if len(starts) else 0


def _pattern(v: np.ndarray, period: int) -> float:
    """How much more often ``v`` holds at one phase of ``period`` than at the others (the best
    phase): 1 for a perfect every-other (2) or every-third (3) pattern, about 0 for none."""
    return max(float(v[k::period].mean() - np.delete(v, np.s_[k::period]).mean()) for k in range(period))


def features(beats: R.BeatList) -> np.ndarray:
    """(len(NAMES),) float64 of ``beats``; NaN where a feature cannot be had (no RR interval, no
    P wave), which the head reads as such."""
    f = dict.fromkeys(NAMES, np.nan)
    kind, n = beats.kind, len(beats.kind)
    f["beats_per_min"] = 60.0 * n / beats.duration_s if beats.duration_s > 0 else np.nan
    if n == 0:
        return np.array([f[k] for k in NAMES])
    for name, k in (("supraventricular", R.SUPRA), ("ventricular", R.VENTRICULAR), ("paced", R.PACED),
                    ("unreadable", R.UNREADABLE)):  # fmt: skip
        f[name] = float((kind == k).mean())
    f["supraventricular_run"] = _longest_run(kind == R.SUPRA) / n
    f["p_share"] = float(beats.has_p.mean())
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all NaN: NaN
        pr, qrs = beats.pr_ms, beats.qrs_ms
        f["pr_ms"] = float(np.nanmedian(pr))
        f["pr_spread_ms"] = float(np.nanmedian(np.abs(pr - f["pr_ms"])))
        f["qrs_ms"] = float(np.nanmedian(qrs))
        f["wide"] = float((qrs[np.isfinite(qrs)] >= WIDE_QRS_MS).mean()) if np.isfinite(qrs).any() else np.nan
        if beats.features is not None:
            g = {
                k: beats.features[C.FEATURES.index(k)].astype(np.float64) for k in ("p_r", "irregular", "pre")
            }
            f["p_alike"] = float(np.nanmedian(g["p_r"]))
            f["irregular"] = float(np.nanmedian(g["irregular"]))
            f["prematurity"] = float(np.nanmin(g["pre"]))
            f["premature"] = float((g["pre"] < np.log(PREMATURE_RATIO)).mean())
    rr = beats.rr_ms[np.isfinite(beats.rr_ms)]
    if len(rr) >= 2:
        median = float(np.median(rr))
        f["hr"], f["hr_min"], f["hr_max"] = 60000.0 / median, 60000.0 / rr.max(), 60000.0 / rr.min()
        f["rr_cv"] = float(rr.std() / rr.mean())
        f["nrmssd"] = float(np.sqrt(np.mean(np.diff(rr) ** 2)) / rr.mean())
        f["rr_range"] = float((rr.max() - rr.min()) / median)
        step = np.diff(np.log(rr))
        f["rr_step"] = float(np.abs(step).mean())
        if len(step) >= 2:
            f["rr_alternation"] = float((step[1:] * step[:-1] < 0).mean())
    if n >= 4:
        v = (kind == R.VENTRICULAR).astype(np.float64)
        f["bigeminy"], f["trigeminy"] = _pattern(v, 2), _pattern(v, 3)
    af = sum(e.end_s - e.start_s for e in beats.events if e.kind == "atrial fibrillation")
    f["af"] = af / beats.duration_s if beats.duration_s > 0 else np.nan
    return np.array([f[k] for k in NAMES])
