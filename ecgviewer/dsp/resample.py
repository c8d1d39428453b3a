"""The one resampler: every contract (the encoder's 100 Hz, the delineator's 250 Hz) converts
rates here, so a recording at any rate reaches each model through the same filter."""

from __future__ import annotations

from fractions import Fraction

import numpy as np


def to_rate(signals: np.ndarray, fs: float, rate: float) -> np.ndarray:
    """(leads, n) at ``fs`` -> float32 (leads, m) at ``rate``: scipy's anti-aliased polyphase
    filter (linear time, unlike an FFT resample, for hours-long records and odd rates); rates
    are taken to within 1/1000 Hz."""
    from scipy.signal import resample_poly

    if fs == rate:
        return np.asarray(signals, dtype=np.float32)
    ratio = Fraction(rate).limit_denominator(1000) / Fraction(fs).limit_denominator(1000)
    return resample_poly(signals, ratio.numerator, ratio.denominator, axis=-1).astype(np.float32)
