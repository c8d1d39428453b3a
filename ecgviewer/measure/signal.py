"""The delineation contract: how any recording is prepared before the delineator sees it.

One module for the app and for ``training/`` alike (as ``ml/contract.py`` is for the encoder):
resample to 250 Hz, zero-phase 0.5 Hz high-pass (baseline wander) and 50 and 60 Hz notches
(mains hum), both forward-backward so they do not move the fiducials (AHA/ACCF/HRS 2007,
Kligfield et al.). 250 Hz keeps LUDB's 500 Hz detail that intervals need (a 4 ms grid, refined
below a sample by the delineator) at a quarter of the cost. Bump ``VERSION`` on any change:
delineator weights record the version they were trained with.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from ecgviewer.dsp.resample import to_rate

VERSION = "1"
FS = 250  # Hz
HIGHPASS_HZ = 0.5
HIGHPASS_ORDER = 2
NOTCHES_HZ = (50.0, 60.0)
NOTCH_Q = 30.0
CLIP_MV = 5.0  # larger excursions are artefacts for delineation purposes


def resample(signals: np.ndarray, fs: float) -> np.ndarray:
    """(leads, n) at ``fs`` -> (leads, m) at ``FS`` (``dsp.resample.to_rate``)."""
    return to_rate(signals, fs, FS)


@cache
def _filters() -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
    """The high-pass's sections and the notches' coefficients, designed once (a beat list cleans
    every minute of a 24 h recording)."""
    from scipy.signal import butter, iirnotch

    sos = butter(HIGHPASS_ORDER, HIGHPASS_HZ, btype="highpass", fs=FS, output="sos")
    return sos, [iirnotch(f0, NOTCH_Q, fs=FS) for f0 in NOTCHES_HZ]


def clean(x: np.ndarray) -> np.ndarray:
    """High-pass and notch (zero-phase) along the last axis of 250 Hz signals."""
    from scipy.signal import filtfilt, sosfiltfilt

    x = np.asarray(x, dtype=np.float64)
    if x.shape[-1] < 64:  # too short to filter: remove the offset only
        return (x - np.median(x, axis=-1, keepdims=True)).astype(np.float32)
    sos, notches = _filters()
    x = sosfiltfilt(sos, x, axis=-1)
    for b, a in notches:
        x = filtfilt(b, a, x, axis=-1)
    return np.clip(x, -CLIP_MV, CLIP_MV).astype(np.float32)


def prepare(signals: np.ndarray, fs: float) -> np.ndarray:
    """Resample then clean: what the delineator is trained and run on."""
    return clean(resample(signals, fs))


def spatial_rms(x: np.ndarray, present: np.ndarray | None = None) -> np.ndarray:
    """Root mean square over the present leads: the delineator's global-context channel."""
    rows = x if present is None else x[present]
    if len(rows) == 0:
        return np.zeros(x.shape[-1], dtype=np.float32)
    return np.sqrt(np.mean(np.square(rows), axis=0)).astype(np.float32)
