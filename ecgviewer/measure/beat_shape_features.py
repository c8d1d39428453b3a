"""A recording's dominant beat in numbers, as a cardiologist reads it off the median beat: the
intervals, and in each lead the P, Q, R, S and T amplitudes, the R-peak time, the QRS area and the
ST level. A head (``ml.record_head``) weighs them beside the encoder: voltage, PR, Q waves and ST-T
changes are statements of amplitudes and intervals measured over the record's beats, which the
encoder sees only through 2.5 s windows of single beats.

The beats and their fiducials are the beat list's (``rhythm.analyse``, the rhythm features' too):
its normal beats, at most ``MAX_BEATS`` of them spread over the recording, make the median beat, so
the cost and memory are bounded whatever the length. Amplitudes are against the level just before
the QRS onset, as ``statements.Qrs`` takes it.
"""

from __future__ import annotations

import warnings

import numpy as np

from ecgviewer.leads import STANDARD_LEADS, standard_leads
from ecgviewer.measure import beats as B
from ecgviewer.measure import rhythm as R
from ecgviewer.measure import signal
from ecgviewer.recording import Recording

GLOBAL: dict[str, str] = {
    "p_ms": "P duration (ms)",
    "pr_ms": "PR interval (ms)",
    "qrs_ms": "QRS duration (ms)",
    "qt_ms": "QT interval (ms)",
    "qtc_ms": "QTc, Bazett (ms)",
}
PER_LEAD: dict[str, str] = {
    "p_max": "P wave's highest point (mV)",
    "p_min": "P wave's lowest point (mV)",
    "q": "depth of the QRS before its R peak (mV)",
    "q_ms": "time before the R peak the QRS lies below its starting level (ms)",
    "r": "R amplitude, the QRS's highest point (mV)",
    "s": "S depth, the QRS's lowest point after its R peak (mV)",
    "r_peak_ms": "R-peak time from the QRS onset (ms)",
    "area": "QRS area (mV ms)",
    "st_j": "level at the QRS offset, the J point (mV)",
    "st_60": "level 60 ms after the J point (mV)",
    "t_max": "ST-T's highest point after J + 60 ms (mV)",
    "t_min": "ST-T's lowest point after J + 60 ms (mV)",
}
FEATURES: dict[str, str] = {
    **GLOBAL,
    **{f"{lead}_{k}": f"{lead}: {text}" for lead in STANDARD_LEADS for k, text in PER_LEAD.items()},
}
NAMES = tuple(FEATURES)
MAX_BEATS = 64  # normal beats in the median, spread evenly over the recording
PAD_S = 1.0  # signal either side of a beat's window, so that the high-pass settles
ST_MS = 60.0  # the ST level is read this long after J as well (the Minnesota code's J+60)
BASE_MS = 10.0  # the level before the QRS onset: the mean over this long (as ``statements.Qrs``)


def _at(ms: float) -> int:
    """The median beat's index ``ms`` from its R."""
    return B.PRE + round(ms * signal.FS / 1000)


def median_beat(rec: Recording, beats: R.BeatList) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """The normal beats' median (12 leads, B.PRE + B.POST at ``signal.FS``, R at B.PRE), which
    leads are present, and the beats' median fiducials (``rhythm.BEAT_FIDUCIALS``, ms from R);
    None without a normal beat."""
    normal = np.flatnonzero(beats.kind == R.NORMAL)
    if len(normal) == 0:
        return None
    spread = np.linspace(0, len(normal) - 1, min(MAX_BEATS, len(normal))).round().astype(int)
    chosen = normal[np.unique(spread)]
    pre, post, pad = B.PRE_MS / 1000, B.POST_MS / 1000, PAD_S
    windows, present = [], np.zeros(len(STANDARD_LEADS), bool)
    for t in beats.t_s[chosen]:
        a = max(0, round((t - pre - pad) * rec.fs))
        b = min(rec.n_samples, round((t + post + pad) * rec.fs))
        raw, present = standard_leads(rec.read(a, b), rec.leads)
        x = signal.prepare(raw, rec.fs)
        windows.append(B.windows(x, np.array([round((t - a / rec.fs) * signal.FS)]))[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN: a window past the recording's edge
        med = np.nanmedian(np.array(windows), axis=0)
        fid = np.nanmedian(beats.fiducials_ms[:, chosen], axis=1)
    return med, present, fid


def features(rec: Recording, beats: R.BeatList) -> np.ndarray:
    """(len(NAMES),) float64 of ``rec``'s beat list ``beats``; NaN where a value is not measured
    (no normal beat, no P wave, a missing lead), which the head reads as such."""
    f = dict.fromkeys(NAMES, np.nan)
    got = median_beat(rec, beats)
    if got is None:
        return np.array([f[k] for k in NAMES])
    med, present, fid = got
    g = dict(zip(R.BEAT_FIDUCIALS, fid.tolist(), strict=True))
    rr = beats.rr_ms[np.isfinite(beats.rr_ms)]
    f["p_ms"], f["pr_ms"] = g["p_off"] - g["p_on"], g["qrs_on"] - g["p_on"]
    f["qrs_ms"], f["qt_ms"] = g["qrs_off"] - g["qrs_on"], g["t_off"] - g["qrs_on"]
    if len(rr):
        f["qtc_ms"] = f["qt_ms"] / np.sqrt(np.median(rr) / 1000)
    if not (np.isfinite(g["qrs_on"]) and np.isfinite(g["qrs_off"])) or g["qrs_off"] <= g["qrs_on"]:
        return np.array([f[k] for k in NAMES])
    n, ms = med.shape[1], 1000 / signal.FS
    on, off = _at(g["qrs_on"]), _at(g["qrs_off"])
    st = min(_at(g["qrs_off"] + ST_MS), n - 1)
    t_end = min(_at(g["t_off"]), n - 1) if np.isfinite(g["t_off"]) else -1
    p = (_at(g["p_on"]), _at(g["p_off"])) if np.isfinite(g["p_on"]) and np.isfinite(g["p_off"]) else None
    for lead, row, here in zip(STANDARD_LEADS, med, present, strict=True):
        if not here or not np.isfinite(row[max(0, on - 3) : st + 1]).all():
            continue
        base = float(np.mean(row[max(0, on - round(BASE_MS / ms)) : on + 1]))
        x = row[on : off + 1] - base
        peak = int(np.argmax(x))
        v = {
            "q": max(-float(x[: peak + 1].min()), 0.0),
            "q_ms": ms * int(np.sum(x[:peak] < 0)),
            "r": max(float(x.max()), 0.0),
            "s": max(-float(x[peak:].min()), 0.0),
            "r_peak_ms": ms * peak,
            "area": ms * float(x.sum()),
            "st_j": float(row[off] - base),
            "st_60": float(row[st] - base),
        }
        if t_end > st:
            t = row[st : t_end + 1] - base
            v["t_max"], v["t_min"] = float(np.nanmax(t)), float(np.nanmin(t))
        if p is not None and p[1] > p[0] >= 0:
            w = row[p[0] : p[1] + 1] - base
            v["p_max"], v["p_min"] = float(np.nanmax(w)), float(np.nanmin(w))
        for k, value in v.items():
            f[f"{lead}_{k}"] = value
    return np.array([f[k] for k in NAMES])
