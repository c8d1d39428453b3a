"""Min/max envelopes: a whole recording summarised per bin without loading it at once."""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np

from ecgviewer.sources import SignalSource

CHUNK = 1 << 18  # samples read per step (all leads are converted: keep the peak small)


def envelope(
    source: SignalSource,
    channel: int,
    n_bins: int,
    progress: Callable[[float], bool] | None = None,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Per-bin (min, max) of one channel, read chunk by chunk; bin i is samples i*per_bin...

    Returns ``(lo, hi, per_bin)``. ``progress(fraction)`` runs after each chunk; returning
    False cancels, leaving the unread bins NaN.
    """
    n = source.n_samples
    per_bin = max(1, -(-n // max(1, n_bins)))
    total = -(-n // per_bin)
    lo = np.full(total, np.nan, np.float32)
    hi = np.full(total, np.nan, np.float32)
    step = max(1, CHUNK // per_bin) * per_bin
    for start in range(0, n, step):
        x = source.read(start, min(n, start + step))[channel]
        x = np.pad(x, (0, -len(x) % per_bin), constant_values=np.nan).reshape(-1, per_bin)
        b = start // per_bin
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN bins stay NaN
            lo[b : b + len(x)] = np.nanmin(x, axis=1)
            hi[b : b + len(x)] = np.nanmax(x, axis=1)
        if progress is not None and not progress(min(n, start + step) / n):
            break
    return lo, hi, per_bin
