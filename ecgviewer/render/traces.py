"""From recording to paper: filtered samples of each panel, in paper millimetres."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ecgviewer.dsp.filters import DisplayFilter
from ecgviewer.recording import Recording
from ecgviewer.render.layout import Page, Panel


@dataclass
class PanelTrace:
    panel: Panel
    start: int  # first sample index in the recording
    mv: np.ndarray  # filtered samples in mV (display sign not applied)
    x: np.ndarray  # paper mm
    y: np.ndarray


class TraceSource:
    """Filtered samples by window. In-memory records are filtered whole, once per filter;
    paged (long) records are filtered per window with enough margin for the filter to settle."""

    def __init__(self, rec: Recording) -> None:
        self.rec = rec
        self._whole: tuple[DisplayFilter, np.ndarray] | None = None

    def window(self, flt: DisplayFilter, start: int, stop: int) -> np.ndarray:
        rec = self.rec
        eff = flt.effective(rec.fs)
        if not rec.source.lazy:
            if self._whole is None or self._whole[0] != eff:
                self._whole = (eff, eff.apply(rec.signals, rec.fs))
            return self._whole[1][:, max(0, start) : max(0, stop)]
        margin = math.ceil(eff.margin_seconds() * rec.fs)
        lo, hi = max(0, start - margin), min(rec.n_samples, stop + margin)
        inside = lo == start - margin and hi == stop + margin  # real signal on both sides
        out = eff.apply(rec.read(lo, hi), rec.fs, pad=not inside)
        return out[:, max(0, start) - lo : max(0, stop) - lo]


def page_traces(page: Page, source: TraceSource, flt: DisplayFilter) -> list[PanelTrace]:
    """Every available panel's samples: one read (and one filter pass) for the whole page."""
    rec = source.rec
    fs = rec.fs
    s0 = max(0, math.floor(page.t0 * fs))
    s1 = min(rec.n_samples, math.ceil((page.t0 + page.span) * fs) + 1)
    data = source.window(flt, s0, s1)
    out = []
    for p in page.panels:
        if not p.available:
            continue
        # Samples with t0 <= t < t1: a column boundary sample belongs to the next column.
        a = max(s0, math.ceil(p.t0 * fs - 1e-9))
        b = max(a, min(s1, math.ceil(p.t1 * fs - 1e-9)))
        mv = data[rec.index(p.lead), a - s0 : b - s0]
        t = np.arange(a, a + mv.size) / fs
        x = p.x + (t - p.t0) * page.speed
        y = p.y + p.sign * page.gain * mv
        out.append(PanelTrace(p, a, mv, x, y))
    return out


def peak_decimate(x: np.ndarray, y: np.ndarray, step: float) -> tuple[np.ndarray, np.ndarray]:
    """At most the lowest and the highest sample per ``step`` of ``x`` (one device pixel, in
    mm), in time order and at their own times, so every spike still reaches its extreme.

    pyqtgraph's 'peak' downsampling does the same per item, but its per-item bookkeeping was a
    fifth of a Holter pan; here it is one numpy pass per panel. Traces with gaps are returned
    whole (NaNs do not order)."""
    n = x.size
    dx = (x[-1] - x[0]) / (n - 1) if n > 1 else 0.0
    k = int(step / dx) if dx > 0 else 0
    if k < 3 or not np.isfinite(y).all():
        return x, y
    m = n - n % k
    blocks = y[:m].reshape(-1, k)
    lo, hi = blocks.argmin(axis=1), blocks.argmax(axis=1)
    start = np.arange(0, m, k)
    idx = np.concatenate(
        [np.stack([start + np.minimum(lo, hi), start + np.maximum(lo, hi)], 1).ravel(), np.arange(m, n)]
    )
    return x[idx], y[idx]
