"""A second opinion on the beat list's doubtful detections: a delineator taught electrode motion
(``training/supervised/delineator.py``, recipe ``ludb12-motion2``) reads the stretch around each
detection whose QRS is unlike the page's dominant one, and says whether it too finds a QRS there.

Electrode motion makes QRS-like deflections that the shipped delineator takes for beats (EC57's
noise stress test: hundreds invented at 12 dB). The motion-taught delineator does not, but alone
it also drops fast broad complexes (record 205's ventricular tachycardia:
``training/reports/EC57-ludb12-motion2-refit.md``). Asked only where the first one doubts, its
answer is one more feature of the beat (``beat_classes.OPINION``) for the classifier to weigh with
the others (timing, likeness to the neighbours, noise), not a verdict. On MIT-BIH DS1 with
synthetic motion at 12 dB, it found no QRS at 11,248 of the 11,808 false detections and at 131 of
the 50,967 reference beats (session 87's study, both delineators over every record).
"""

from __future__ import annotations

from functools import cache

import numpy as np

from ecgviewer.measure import beats as B
from ecgviewer.measure import signal
from ecgviewer.measure.delineate import Delineator

SUSPECT_R = 0.9  # a beat whose QRS correlates less with the dominant one is asked about (DS1: 14 %)
CONTEXT_S = 1.5  # read either side of it: the delineator learnt from 2 s crops
CONFIRM_MS = 100.0  # a QRS of the second opinion within this of the beat's R confirms it


@cache
def bundled() -> Delineator:
    """The shipped second opinion in its 8-bit form, loaded once: every beat list asks it."""
    return Delineator.second_opinion().int8()


def unconfirmed(x: np.ndarray, r: np.ndarray, qrs_r: np.ndarray, second: Delineator) -> np.ndarray:
    """Per beat at R samples ``r`` of the prepared (leads, n) page ``x``: 1 where the second
    delineator finds no QRS near a beat whose QRS correlation with the dominant ``qrs_r`` is under
    SUSPECT_R, else 0 (a beat like the dominant one is not asked about)."""
    out = np.zeros(len(r), dtype=np.float32)
    with np.errstate(invalid="ignore"):  # NaN: not measured, asked
        asked = np.flatnonzero(~(qrs_r >= SUSPECT_R))
    if len(asked) == 0 or x.shape[0] == 0:
        return out
    context, tol = round(CONTEXT_S * signal.FS), round(CONFIRM_MS * signal.FS / 1000)
    n = x.shape[-1]
    starts, ends = np.maximum(r[asked] - context, 0), np.minimum(r[asked] + context, n)
    # overlapping stretches read once: one network call each, and fewer calls cost less
    group = np.r_[0, np.cumsum(starts[1:] > np.maximum.accumulate(ends)[:-1])]
    for g in range(group[-1] + 1):
        mine = asked[group == g]
        a, b = int(starts[group == g].min()), int(ends[group == g].max())
        on, off = B.qrs_runs(second.labels(x[:, a:b]), np.ones(x.shape[0], bool))
        k = r[mine] - a
        # a QRS run [on, off) reaching within tol of R
        near = (on[None, :] <= k[:, None] + tol) & (off[None, :] > k[:, None] - tol)
        out[mine] = ~near.any(axis=1)
    return out
