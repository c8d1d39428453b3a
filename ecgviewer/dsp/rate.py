"""Heart rate for the status bar: wfdb's XQRS detector, the rate as 60 over the mean RR, the one
definition of a span's rate (``measure.intervals.heart_rate`` is this on the measured beats).

XQRS with default settings can miss every beat of a low-amplitude lead, so leads are tried
from the largest peak-to-peak amplitude down until one gives a plausible rhythm.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

MIN_SECONDS = 2.5
MAX_LEADS_TRIED = 4
PLAUSIBLE_BPM = (20.0, 300.0)


def heart_rate(signals: np.ndarray, fs: float, leads: Sequence[str]) -> tuple[float, str] | None:
    """(beats per minute from the mean RR, lead used), or None when no lead gives one."""
    if signals.shape[-1] < MIN_SECONDS * fs:
        return None
    candidates = []
    for i, x in enumerate(signals):
        finite = np.isfinite(x)
        if finite.mean() >= 0.9 and np.ptp(x[finite]) >= 0.05:
            candidates.append((float(np.ptp(x[finite])), i))
    from wfdb.processing import xqrs_detect  # deferred: pulls scipy.signal (~1 s to import)

    for _, i in sorted(candidates, reverse=True)[:MAX_LEADS_TRIED]:
        x = signals[i]
        signal = np.where(np.isfinite(x), x, np.nanmedian(x)).astype(np.float64)
        peaks = xqrs_detect(signal, fs=fs, verbose=False)
        if len(peaks) >= 2:
            bpm = bpm_from_rr(np.diff(peaks) / fs)
            if PLAUSIBLE_BPM[0] <= bpm <= PLAUSIBLE_BPM[1]:
                return bpm, leads[i]
    return None


def bpm_from_rr(rr_s: np.ndarray) -> float:
    """A span's heart rate: 60 over the mean of its RR intervals (s), the beats it holds per minute."""
    return 60.0 / float(np.mean(rr_s))
