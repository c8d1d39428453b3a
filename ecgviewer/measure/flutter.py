"""Ventricular flutter and fibrillation: stretches where the signal is an undulation, not beats.

The beat list finds "beats" in fibrillation (about two a second on PhysioNet's vfdb and cudb,
``training/reports/VF.md``); a Holter reader needs the rhythm named instead. Each lead is read in
``WINDOW_S`` windows every ``HOP_S``, each described by what the published detectors look at
(Amann et al., BioMed Eng OnLine 2005;4:60, who compare them on every second of a recording):
how sinusoidal it is (Kuo and Dillman's VF-filter leakage, the spectrum's concentration about
its peak), how much of it lies near its extremes rather than in narrow spikes (threshold-crossing
sample counts, kurtosis), where its power lies (the peak frequency, the share above 12 Hz where
QRS complexes have theirs, as in Barro et al.'s spectral algorithm). Not its size: that depends on
the lead, the electrodes and the gain, and would learn one database's recorders. A logistic
regression on them, fitted on vfdb (``python -m training vf-detector``), gives each window a
probability; the leads' probabilities are averaged, and stretches of at least ``min_s`` above the
threshold (both chosen by cross-validation by record) are flutter or fibrillation.

Written here rather than taken from a library: neurokit2 and scipy have the spectra, not these
detectors, and the beat list computes them on every second of a 24 h recording (vectorised).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ecgviewer.measure import signal

WINDOW_S = 4.0
HOP_S = 2.0
FEATURES = (
    "kurtosis",  # log of the fourth moment over the squared second: QRS spikes make it large
    "leakage",  # the VF filter's leakage: a sinusoid at the window's own mean period passes through
    "log_period",  # log of that period (s), pi * sum|x| / sum|dx| samples
    "above",  # share of samples above 20 % of each second's largest excursion (TCSC)
    "peak_hz",  # the spectrum's peak between 1 and 10 Hz
    "concentration",  # power within 1 Hz of that peak over the power from 0.5 to 30 Hz
    "high",  # power above 12 Hz over the power from 0.5 to 30 Hz: QRS complexes have theirs there
    "entropy",  # the normalised spectral entropy from 0.5 to 30 Hz
)
# Each feature also as its mean over CONTEXT windows either side: fibrillation lasts, a burst of
# noise or a short run of beats rarely does
CONTEXT = 2
INPUTS = FEATURES + tuple(f"{f}-around" for f in FEATURES)
FLAT_MV = 0.1  # a window under this peak-to-peak in a lead is no fibrillation there (asystole, no signal)
# Read at half the contract's rate: every feature lies below 30 Hz, and the beat list computes them
# on every second of a 24 h recording
FS = signal.FS // 2
_N = round(WINDOW_S * FS)
_HOP = round(HOP_S * FS)


def windows(x: np.ndarray) -> np.ndarray:
    """(leads, windows, _N) views of a (leads, n) signal at FS, one every ``HOP_S``."""
    if x.shape[-1] < _N:
        return np.zeros((*x.shape[:-1], 0, _N), dtype=x.dtype)
    return sliding_window_view(x, _N, axis=-1)[..., ::_HOP, :]


def centres_s(n: int) -> np.ndarray:
    """The centres (s from the signal's start) of the windows of an ``n``-sample prepared signal
    (at ``signal.FS``)."""
    n = (n + 1) // 2  # as ``features`` reads it
    count = 0 if n < _N else (n - _N) // _HOP + 1
    return (np.arange(count) * _HOP + _N / 2) / FS


def features(x: np.ndarray) -> np.ndarray:
    """(leads, windows, FEATURES) of a prepared (leads, n) signal (mV at ``signal.FS``)."""
    w = windows(np.asarray(x, dtype=np.float32)[..., ::2])
    w = w - w.mean(axis=-1, keepdims=True)
    out = np.zeros((*w.shape[:-1], len(FEATURES)), dtype=np.float32)
    if w.shape[-2] == 0:
        return out
    sq = w * w  # not w**4: a float32 power is a slow pow() per sample, a product is not
    m2 = sq.mean(axis=-1)
    out[..., 0] = np.log((sq * sq).mean(axis=-1) / np.maximum(m2, 1e-12) ** 2 + 1e-6)
    absolute, slope = np.abs(w).sum(axis=-1), np.abs(np.diff(w, axis=-1)).sum(axis=-1)
    period = np.clip(np.floor(np.pi * absolute / np.maximum(slope, 1e-12) + 0.5), 1, _N // 2).astype(int)
    out[..., 1] = _leakage(w, period)
    out[..., 2] = np.log(period / FS)
    second = w[..., : _N - _N % FS].reshape(*w.shape[:-1], -1, FS)
    peak = np.abs(second).max(axis=-1, keepdims=True)
    out[..., 3] = (np.abs(second) > 0.2 * np.maximum(peak, 1e-6)).mean(axis=(-1, -2))
    power = np.abs(np.fft.rfft(w * np.hanning(_N), axis=-1)) ** 2
    f = np.fft.rfftfreq(_N, 1 / FS)
    band = (f >= 0.5) & (f <= 30.0)
    total = np.maximum(power[..., band].sum(axis=-1), 1e-12)
    search = (f >= 1.0) & (f <= 10.0)
    peak_hz = f[search][np.argmax(power[..., search], axis=-1)]
    out[..., 4] = peak_hz
    near = np.abs(f - peak_hz[..., None]) <= 1.0
    out[..., 5] = (power * near).sum(axis=-1) / total
    out[..., 6] = power[..., f > 12.0].sum(axis=-1) / total
    share = power[..., band] / total[..., None]
    out[..., 7] = -(share * np.log(share + 1e-12)).sum(axis=-1) / np.log(band.sum())
    return out


def inputs(f: np.ndarray) -> np.ndarray:
    """(..., windows, INPUTS) of (..., windows, FEATURES): each with its mean over CONTEXT
    windows either side (fewer at the ends)."""
    from scipy.ndimage import uniform_filter1d

    around = uniform_filter1d(f, 2 * CONTEXT + 1, axis=-2, mode="nearest") if f.shape[-2] else f
    return np.concatenate([f, around], axis=-1)


def _leakage(w: np.ndarray, period: np.ndarray) -> np.ndarray:
    """Kuo and Dillman's VF-filter leakage of each window at its own half period (samples): the
    windows grouped by period so that each group is one vectorised sum."""
    out = np.ones(period.shape)
    for n in np.unique(period):
        sel = period == n
        a, b = w[sel][:, n:], w[sel][:, :-n]
        out[sel] = np.abs(a + b).sum(axis=-1) / np.maximum((np.abs(a) + np.abs(b)).sum(axis=-1), 1e-12)
    return out


@dataclass(frozen=True)
class Detector:
    """The fitted logistic regression, its threshold and the shortest stretch it reports."""

    mean: np.ndarray  # (INPUTS,)
    scale: np.ndarray
    weight: np.ndarray
    bias: float
    threshold: float  # on the leads' mean probability
    min_s: float
    meta: dict

    def read(self, x: np.ndarray, lost: np.ndarray | None = None) -> np.ndarray:
        """(windows,) flutter probability of a prepared (leads, n) signal, a lead flat in a window
        counting as no fibrillation there; NaN where samples are ``lost`` ((n,) True: missing in
        every lead) or no lead is given."""
        x = np.asarray(x, dtype=np.float32)
        if len(x) == 0:
            return np.full(len(centres_s(x.shape[-1])), np.nan)
        flat = np.ptp(windows(x[..., ::2]), axis=-1) < FLAT_MV
        p = np.where(flat, 0.0, self.probability(features(x), mean=False)).mean(axis=0)
        if lost is not None and lost.any():
            p[windows(lost[None, ::2])[0].any(axis=-1)] = np.nan
        return p

    def probability(self, f: np.ndarray, mean: bool = True) -> np.ndarray:
        """(windows,) flutter probability of (leads, windows, FEATURES), the leads' averaged
        (``mean``; else each lead's)."""
        z = np.clip(np.nan_to_num((inputs(f) - self.mean) / self.scale), -8.0, 8.0)
        p = 1.0 / (1.0 + np.exp(-(z @ self.weight + self.bias)))
        return p.mean(axis=0) if mean and len(p) else p

    def stretches(self, t_s: np.ndarray, p: np.ndarray) -> list[tuple[float, float]]:
        """Stretches (s) of windows centred at ``t_s`` whose probability ``p`` is above the
        threshold, each spanning its windows, those at least ``min_s`` long."""
        above = p >= self.threshold
        edges = np.diff(np.r_[0, above.astype(np.int8), 0])
        out = []
        for a, b in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True):
            start, end = float(t_s[a] - WINDOW_S / 2), float(t_s[b - 1] + WINDOW_S / 2)
            if end - start >= self.min_s:
                out.append((max(start, 0.0), end))
        return out

    def to_json(self) -> dict:
        return {
            "kind": "flutter_detector",
            "inputs": list(INPUTS),
            "window_s": WINDOW_S,
            "hop_s": HOP_S,
            "fs": FS,
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
            "weight": self.weight.tolist(),
            "bias": self.bias,
            "threshold": self.threshold,
            "min_s": self.min_s,
            **self.meta,
        }

    @classmethod
    def from_json(cls, d: dict, name: str = "flutter detector") -> Detector:
        from ecgviewer.errors import EcgError

        if d.get("kind") != "flutter_detector" or d.get("inputs") != list(INPUTS) or (
            d.get("window_s"), d.get("hop_s"), d.get("fs")) != (WINDOW_S, HOP_S, FS):  # fmt: skip
            raise EcgError(f"{name}: a flutter detector for other features or windows than this version's")
        keys = {"kind", "inputs", "window_s", "hop_s", "fs", "mean", "scale", "weight", "bias",
                "threshold", "min_s"}  # fmt: skip
        arr = lambda k: np.asarray(d[k], dtype=np.float64)  # noqa: E731
        return cls(arr("mean"), arr("scale"), arr("weight"), float(d["bias"]), float(d["threshold"]),
                   float(d["min_s"]), {k: v for k, v in d.items() if k not in keys})  # fmt: skip

    @classmethod
    def load(cls, path: Path) -> Detector:
        from ecgviewer.errors import EcgError

        try:
            d = json.loads(path.read_text())
        except (OSError, ValueError) as e:
            raise EcgError(f"{path.name}: the flutter detector cannot be read ({e})") from e
        return cls.from_json(d, path.name)

    @staticmethod
    @cache
    def bundled() -> Detector:
        from ecgviewer.assets import flutter_detector_path

        return Detector.load(flutter_detector_path())
