"""The acquiring device's median beats, put on our median beats' time axis so the two can be drawn
one over the other: resampled to the delineation rate, limb leads derived when the device stored
8 leads, and shifted by the lag that best matches ours over all leads (the files say where the
device's beat starts only in vendor-specific ways, so the beats themselves decide)."""

from __future__ import annotations

import numpy as np

from ecgviewer.leads import derive_limb_leads
from ecgviewer.measure import signal
from ecgviewer.recording import MedianBeats

MAX_LAG_MS = 400.0  # the device's window may start anywhere within its 1.2 s beat


def device_leads(device: MedianBeats) -> dict[str, np.ndarray]:
    """Each of the device's leads at ``signal.FS``, with III, aVR, aVL, aVF derived if absent."""
    data = signal.resample(np.nan_to_num(np.asarray(device.data, np.float64)), device.fs).astype(np.float64)
    leads = {name: data[k] for k, name in enumerate(device.leads)}
    if "I" in leads and "II" in leads:
        for name, x in derive_limb_leads(leads["I"], leads["II"]).items():
            leads.setdefault(name, x)
    return leads


def align(ours: np.ndarray, leads: tuple[str, ...], device: MedianBeats) -> tuple[np.ndarray, float]:
    """The device's median beats on the grid of ``ours`` ((leads, n) at ``signal.FS``), as (leads, n)
    mV with NaN where the device has no such lead or no sample, and the shift applied (ms: where the
    device's first sample lands on our time axis)."""
    theirs = device_leads(device)
    n = ours.shape[1]
    shared = [(i, theirs[name]) for i, name in enumerate(leads) if name in theirs]
    out = np.full(ours.shape, np.nan)
    if not shared:
        return out, 0.0
    length = len(shared[0][1])
    score = np.zeros(n + length - 1)
    for i, x in shared:
        a = np.nan_to_num(ours[i] - np.nanmedian(ours[i]))
        score += np.correlate(a, x - np.median(x), mode="full")
    shifts = np.arange(n + length - 1) - (length - 1)  # score[k]: device sample 0 at our sample shifts[k]
    allowed = np.abs(shifts) <= round(MAX_LAG_MS * signal.FS / 1000)
    shift = int(shifts[allowed][np.argmax(score[allowed])])
    lo, hi = max(0, shift), min(n, shift + length)
    for i, x in shared:
        if hi > lo:
            out[i, lo:hi] = x[lo - shift : hi - shift]
    return out, shift * 1000.0 / signal.FS
