"""Median beats built from Gaussian waves and the measurements of them, with the global fiducials
placed for wanted intervals: the statements' and the panel's tests share them."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ecgviewer.leads import STANDARD_LEADS as LEADS
from ecgviewer.measure import beats as B
from ecgviewer.measure import signal
from ecgviewer.measure.intervals import Measurements, Value, values

Waves = dict[str, list[tuple[float, float, float]]]  # lead -> (ms from R, mV, width ms) gaussians
NORMAL: Waves = {
    "V1": [(-20, 0.2, 8), (10, -1.0, 12)],  # rS
    "I": [(-25, -0.15, 4), (0, 0.8, 10), (25, -0.1, 6)],  # small q, R, small s
    "V5": [(-25, -0.15, 4), (0, 1.0, 10), (25, -0.1, 6)],
    "V6": [(-25, -0.15, 4), (0, 0.8, 10), (25, -0.1, 6)],
    "II": [(0, 1.0, 10)],
    "III": [(0, 0.5, 10)],
    "aVL": [(0, 0.4, 10)],
    "aVF": [(0, 0.7, 10)],
    "aVR": [(0, -0.8, 10)],
    "V2": [(-15, 0.3, 8), (10, -1.2, 12)],
    "V3": [(0, 0.8, 10), (20, -0.8, 10)],
    "V4": [(0, 1.2, 10), (25, -0.3, 8)],
}
LBBB: Waves = NORMAL | {
    "V1": [(-40, 0.1, 6), (30, -2.0, 35)],  # QS-like, deep and wide
    "I": [(40, 1.0, 30)],  # broad R, late peak, no q
    "V5": [(40, 1.5, 30)],
    "V6": [(40, 1.2, 30)],
}
RBBB: Waves = NORMAL | {
    "V1": [(-40, 0.2, 8), (-15, -0.3, 8), (40, 0.9, 15)],  # rsR'
    "I": [(-30, 0.8, 10), (30, -0.3, 25)],  # R, then a wide S
    "V6": [(-30, 0.8, 10), (30, -0.3, 25)],
}


def median_of(waves: Waves) -> np.ndarray:
    t = (np.arange(B.PRE + B.POST) - B.PRE) * 1000 / signal.FS
    out = np.zeros((len(LEADS), len(t)), np.float32)
    for lead, parts in waves.items():
        for at, mv, width in parts:
            out[LEADS.index(lead)] += mv * np.exp(-0.5 * ((t - at) / width) ** 2)
    return out


def measured(waves: Waves = NORMAL, qrs: tuple[float, float] = (-50, 50), hr: float = 75, pr: float = 160,
              qt: float = 380, p: bool = True, rr_ms: np.ndarray | None = None,
              reasons: tuple[str, ...] | None = None, withheld: dict[str, str] | None = None,
              paced: bool = False) -> Measurements:  # fmt: skip
    """Measurements of a median beat made of ``waves``, with the global fiducials placed for the
    wanted QRS, PR and QT, and beats at ``rr_ms`` (regular at ``hr`` by default), every one paced
    with ``paced``."""
    on, off = qrs
    fid = {"p_on": on - pr if p else None, "p_off": on - 40 if p else None, "qrs_on": on, "qrs_off": off,
           "t_on": off + 60, "t_off": on + qt}  # fmt: skip
    rr = np.full(12, 60000 / hr) if rr_ms is None else rr_ms
    r_times = np.concatenate([[0.5], 0.5 + np.cumsum(rr) / 1000])
    m = Measurements(
        leads=LEADS, present=np.ones(len(LEADS), bool), median=median_of(waves),
        lead_fiducials=tuple(dict(fid) for _ in LEADS), fiducials=fid, auto_fiducials=dict(fid),
        r_times=r_times, beat_reasons=reasons or ("",) * len(r_times),
        values={"hr": Value(round(60000 / float(np.mean(rr))), "bpm"), "rr": Value(float(np.mean(rr)), "ms")},
        withheld=withheld or {}, paced=(paced,) * len(r_times),
    )  # fmt: skip
    return replace(m, values=values(m))
