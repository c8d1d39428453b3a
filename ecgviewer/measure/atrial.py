"""Atrial fibrillation in a beat list: where the conducted rhythm is irregular throughout and P
waves are mostly absent, for at least 30 s (the HRS/EHRA 2017 consensus's shortest episode; the
whole recording when it is shorter).

Judged on sliding windows of ``WINDOW`` successive conducted beats (normal or supraventricular;
ventricular beats set aside), on the RR intervals between two beats classed normal: an ectopic
beat's short RR and the pause after it are irregularity the ectopy explains, not the rhythm's.

- Irregular: the RMS of the successive differences over the mean RR above ``intervals.AF_NRMSSD``
  (the recording statement's criterion) and their median above its normal-law equivalent (the
  median of ``|x|`` is 0.674 sigma): AF's differences are large throughout, while a few ectopic beats
  the classifier called normal raise the RMS alone (MIT-BIH 118, and paced rhythm in 104 and 107).
- A window is judged only where at least half the beats it spans are conducted (where most are
  ventricular the rhythm is theirs, as in bigeminy, idioventricular rhythm or tachycardia, and
  the few conducted RRs cannot show the atrial one: MIT-BIH 207) and no unreadable stretch or
  flutter lies inside it (its RRs would join beats minutes apart).
- Windows that ectopy leaves unjudged, or with fewer than half their RRs between two normal
  beats to judge by, between fibrillating windows that leave less than the shortest episode
  uncovered, do not end the episode: the atria go on fibrillating under a salvo of ectopic beats,
  and a Holter's episode is not cut by it (a candidate beat list cut MIT-BIH 203's for 12 s where
  the few RRs left between two normal beats among its ectopic ones happened to be alike). Nor do
  windows without P waves whose RRs between two conducted beats (supraventricular ones too) are
  irregular: whether the classifier's supraventricular calls there are atrial premature beats or
  the fibrillation's own irregularity, the window cannot tell ("premature" needs a sinus rhythm to
  be premature against), and between fibrillating windows they are the fibrillation's (a candidate
  list cut 203's for 13 s where its calls left six alike RRs between normal beats). Elsewhere
  they stay unjudged: frequent atrial premature beats whose P waves were missed are not
  fibrillation.

Kept apart from ``rhythm``, which finds and lists the beats: this judges their rhythm.
"""

from __future__ import annotations

import warnings
from itertools import pairwise

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view as windows

from ecgviewer.dsp.runs import runs
from ecgviewer.measure import intervals as I

WINDOW = 16
MAX_P_SHARE = 0.5
MIN_S = 30.0
MIN_CONDUCTED = 0.5  # of the beats a window spans
MEDIAN_OF_ABS = 0.674  # the median of |x| for a centred normal x, in sigmas


def irregular(rr: np.ndarray) -> np.ndarray:
    """Whether each window (rows of ``rr``, NaN: an RR not between two normal beats) is irregular
    throughout: the RMS and the median of its successive differences both large."""
    d = np.abs(np.diff(rr, axis=1))
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        typical = np.nanmedian(d, axis=1) / np.nanmean(rr, axis=1)
    return (I.nrmssd(rr, axis=1) > I.AF_NRMSSD) & (typical > MEDIAN_OF_ABS * I.AF_NRMSSD)


def episodes(
    t: np.ndarray, normal: np.ndarray, conducted: np.ndarray, rr: np.ndarray, has_p: np.ndarray,
    duration_s: float,
) -> list[tuple[float, float]]:  # fmt: skip
    """The episodes (s) of a beat list: beat times, which beats are classed normal and which
    conducted (normal or supraventricular), every beat's RR (ms; NaN across an unreadable
    stretch) and whether a P wave was found before it."""
    keep = np.flatnonzero(conducted)
    n = min(WINDOW, len(keep))
    if n < 4:
        return []
    series = np.where(normal & np.r_[False, normal[:-1]], rr, np.nan)[keep]
    first, last = keep[: len(keep) - n + 1], keep[n - 1 :]
    gaps = np.r_[0, np.cumsum(np.isnan(rr))]  # RRs unknown among the beats before each
    readable = gaps[last + 1] == gaps[first + 1]
    few = n / (last - first + 1) < MIN_CONDUCTED  # most of the window's beats ventricular
    judged = ~few & readable
    no_p = windows(has_p[keep], n).mean(axis=1) < MAX_P_SHARE
    rrs = windows(series, n)
    fibrillating = judged & no_p & irregular(rrs)
    sparse = np.isfinite(rrs).mean(axis=1) < MIN_CONDUCTED  # too few RRs between normal beats
    along = np.where(conducted & np.r_[False, conducted[:-1]], rr, np.nan)[keep]  # supraventricular too
    ambiguous = no_p & irregular(windows(along, n))
    fibrillating = _bridged(fibrillating, (few | sparse | ambiguous) & readable, t[first], t[last])
    flagged = np.convolve(fibrillating.astype(float), np.ones(n)) > 0  # every window over each beat
    # episodes of conducted beats: a ventricular beat among them does not end one, a gap does
    stretch = gaps[keep + 1]  # which readable stretch each conducted beat is in
    bounds: list[tuple[int, int]] = []
    for a, b in zip(*runs(flagged), strict=True):
        bounds += pairwise([a, *(a + 1 + np.flatnonzero(np.diff(stretch[a:b]))), b])
    shortest = min(MIN_S, 0.8 * duration_s)
    return [
        (float(t[keep[a]]), float(t[keep[b - 1]]))
        for a, b in bounds
        if t[keep[b - 1]] - t[keep[a]] >= shortest
    ]


def _bridged(fibrillating: np.ndarray, ectopic: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """``fibrillating`` windows with each run of ``ectopic`` ones (that their ectopy leaves
    unjudgeable or ambiguous) not fibrillating between two fibrillating windows marked
    fibrillating too, where those two leave less than MIN_S between them uncovered (``start``,
    ``end``: each window's first and last beat's time)."""
    out = fibrillating.copy()
    for a, b in zip(*runs(ectopic & ~fibrillating), strict=True):
        if a > 0 and b < len(out) and out[a - 1] and out[b] and start[b] - end[a - 1] < MIN_S:
            out[a:b] = True
    return out
