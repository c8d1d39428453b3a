"""Which leads can be measured: a lead that is missing, flat, clipped or pure noise is left out of
the delineation with the reason, so that it neither steers the beat detection nor the median.

Flat, missing and clipped are read from the raw samples at the recording's own rate (a rail is a
run of identical samples, which resampling would blur). Noise needs the beats: a lead is pure
noise when its median beat is no larger than the median of random, unaligned segments would be.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np

from ecgviewer.dsp.runs import runs
from ecgviewer.leads import FLAT_MV, canonical_lead
from ecgviewer.measure import beats as B
from ecgviewer.measure import signal
from ecgviewer.measure.delineate import Delineator

# Clipping: samples sitting on the lead's own maximum or minimum in runs of at least RAIL_MS
# (an amplifier or ADC at its rail). A smooth T-wave peak stays within the tolerance for a few
# milliseconds of one beat; a rail holds it for tens of milliseconds, beat after beat. One long
# run at the start is an amplifier settling (LUDB 100, 115, 120), not a clipped lead: the rail
# must recur.
RAIL_MS = 8.0
RAIL_TOLERANCE = 1e-3  # share of the lead's peak-to-peak
MAX_RAIL_SHARE = 0.01  # more of the recording than this on a rail ...
MIN_RAIL_RUNS = 3  # ... in at least this many episodes (runs closer than a beat are one): clipped

# Pure noise: how well each beat of the lead matches its closest other beat (Pearson r over P,
# QRS and T). Noise windows match nothing (r near 0, under 0.3 for the closest of 40); a lead with
# an ECG has a twin for most beats, whatever the mix of morphologies (paced and native, ectopy)
# or the one moved electrode: the upper quartile over beats of that best r is the statistic.
MIN_NOISE_R = 0.5
NOISE_QUANTILE = 0.75
NOISE_WINDOW_MS = (-250.0, 450.0)  # around R: P, QRS and T of the beat, not its neighbours
NOISE_BEATS = 40  # at most this many beats, evenly spread, are compared
MIN_NOISE_BEATS = 3
# With fewer beats there is nothing to match, and the recording as a whole is judged: its beats
# must stand out of the spatial RMS (the peak within a QRS's reach of each beat over the median
# level). A real QRS stands 8-12x above it in one lead and more in twelve; independent noise
# peaks at 2x in twelve leads and up to 5x in one (the bundled PTB-XL sample, 20 noise draws).
MIN_PROMINENCE = 7.0

# Drowned in noise: one lead's noise (electrode motion under one electrode) makes QRS-like
# deflections that the delineator, reading the leads together, takes for beats, in the clean lead's
# quiet too (NOISE_STRESS-each-lead.md). Such a lead's beats still match (beat_match), but stand
# little out of their difference from their closest other beat (``beat_snr``; at EC57's 0 dB, noise
# of RMS a QRS's peak-to-peak over sqrt(8), about 3 times). At the leads' joint detections, half of
# them invented, the clean lead looks as bad; each lead delineated alone tells them apart. Where a
# lead read alone stands under DROWNED_SNR and another at least DROWNED_CLEAN, the page is read
# without it. Session 141 set 10 / 8 / 16 looking at EC57's em pages (118 and 119); session 142
# chose 12 / 10 / 16 on development noise instead, per 60 s page of DS1's 22 records with synthetic
# electrode motion (``training/validate/motion.py``) in one lead or both at 12 and 6 dB (286 noisy
# pages each) and of the 26 records' 780 clean pages: of the settings that read around at most 7
# clean pages (0.9 %) and the wrong lead no more often than before, the one that reads around the
# most pages with motion in one lead (6 dB: in the first lead 42 -> 76 pages, in the second 41 -> 62;
# clean pages 3 -> 7: 101, 106, 203, 208, 209). A bar on the ratio of the leads' figures (2 or 2.5)
# was tried beside it and read around no fewer clean pages.
DROWNED_LOOK = 12.0
DROWNED_SNR = 10.0
DROWNED_CLEAN = 16.0

# A burst of noise in a span otherwise clean (a patient moving for a few seconds): the delineator
# finds QRS complexes in it, which the rate and the median beat would count. Muscle noise is
# broadband, the ECG is not: the median |second difference| over a second (NOISY_WINDOW_S, every
# half of it) stays near its quiet level through P, QRS and T (a QRS fills under half a second;
# a broad or fast one is slow) and rises with the noise. A second is noisy where at least
# QRS_VOTE of the present leads (as many as can make a detection) stand NOISY_FACTOR above their
# own quietest seconds (NOISY_QUIET: the tenth of the span that is quietest, so that 1 s of 10 is
# enough) and above NOISY_FLOOR_MV. No second of LUDB's 200 records is noisy, clean or with the
# measurement validation's noises throughout (their level is even); muscle-like noise a quarter of
# the QRS's size stands about 4.5x above a clean span's quiet seconds (session 99; both in
# training/reports/NOISY_SPANS.md's checks or the synthetic bursts of the tests).
NOISY_WINDOW_S = 1.0
NOISY_FACTOR = 4.0
NOISY_QUIET = 0.1
NOISY_FLOOR_MV = 0.05  # per sample squared at the contract's rate; LUDB clean: 0.004


def raw_problems(signals: np.ndarray, fs: float, leads: Sequence[str]) -> dict[str, str]:
    """Recorded leads that cannot be measured, from their raw samples: all missing, flat or
    clipped, each with the reason and the figure behind it (canonical lead name -> reason)."""
    out: dict[str, str] = {}
    run = max(2, math.ceil(RAIL_MS * fs / 1000))
    for name, x in zip(leads, np.asarray(signals, dtype=np.float64), strict=True):
        lead = canonical_lead(name)
        x = x[np.isfinite(x)]
        if x.size == 0:
            out[lead] = "no signal (every sample missing)"
            continue
        span = float(np.ptp(x))
        if span < FLAT_MV:
            out[lead] = f"flat line (peak-to-peak {span * 1000:.0f} \u00b5V)"
            continue
        tol = RAIL_TOLERANCE * span
        for side, level in (("upper", x.max()), ("lower", x.min())):
            share, runs = _rails(np.abs(x - level) <= tol, run, B.MIN_RR_MS * fs / 1000)
            if share > MAX_RAIL_SHARE and runs >= MIN_RAIL_RUNS:
                out[lead] = f"clipped: {share:.1%} of the samples held at its {side} limit ({level:+.2f} mV)"
                break
    return out


def _beat_windows(x: np.ndarray, r: np.ndarray, present: np.ndarray) -> np.ndarray | None:
    """(leads present, beats, samples): up to NOISE_BEATS beats of ``r``, evenly spread, over
    NOISE_WINDOW_MS, 0 past the ends; None with too few beats to judge by."""
    if len(r) < MIN_NOISE_BEATS or not present.any():
        return None
    r = r[np.unique(np.linspace(0, len(r) - 1, min(len(r), NOISE_BEATS)).round().astype(int))]
    pre, post = (round(abs(ms) * signal.FS / 1000) for ms in NOISE_WINDOW_MS)
    # detrended: what wander the high-pass left would make any two smooth windows alike. The
    # least-squares line of equal-length windows in closed form: scipy.signal.detrend's general
    # solver cost 7 s of a 24 h beat list.
    w = np.nan_to_num(B.windows(x[present], r, pre, post))
    t = np.arange(w.shape[-1]) - (w.shape[-1] - 1) / 2
    w -= w.mean(axis=2, keepdims=True) + (w @ t / (t @ t))[..., None] * t
    return w.transpose(1, 0, 2)


def beat_match(x: np.ndarray, r: np.ndarray, present: np.ndarray) -> np.ndarray:
    """Per lead, the upper quartile over beats of the correlation of a beat with its closest
    other beat; NaN for leads not present or when there are too few beats to judge."""
    out = np.full(len(x), np.nan)
    if (w := _beat_windows(x, r, present)) is None:
        return out
    w /= np.maximum(np.linalg.norm(w, axis=2, keepdims=True), 1e-12)
    corr = w @ w.transpose(0, 2, 1)  # (leads, beats, beats); einsum's loop took 10x longer
    corr[:, np.arange(w.shape[1]), np.arange(w.shape[1])] = -1.0
    out[present] = np.quantile(corr.max(axis=2), NOISE_QUANTILE, axis=1)
    return out


def beat_snr(x: np.ndarray, r: np.ndarray, present: np.ndarray) -> np.ndarray:
    """Per lead, the median over beats of how many times a beat's QRS (the peak-to-peak of it and
    its closest other beat's mean, within a QRS's reach of R) stands out of its noise (the RMS of
    their difference over sqrt(2)); NaN for leads not present or with too few beats."""
    out = np.full(len(x), np.nan)
    if (w := _beat_windows(x, r, present)) is None:
        return out
    square = (w**2).sum(axis=2)
    apart = square[:, :, None] + square[:, None, :] - 2 * (w @ w.transpose(0, 2, 1))
    apart[:, np.arange(w.shape[1]), np.arange(w.shape[1])] = np.inf
    twin = apart.argmin(axis=2)  # (leads, beats)
    noise = np.sqrt(np.maximum(np.take_along_axis(apart, twin[..., None], 2)[..., 0], 0) / (2 * w.shape[2]))
    pre, half = round(abs(NOISE_WINDOW_MS[0]) * signal.FS / 1000), round(B.QRS_HALF_MS * signal.FS / 1000)
    qrs = w[..., pre - half : pre + half]
    pair = (qrs + np.take_along_axis(qrs, twin[..., None], 1)) / 2
    out[present] = np.median(np.ptp(pair, axis=2) / np.maximum(noise, 1e-9), axis=1)
    return out


def prominence(x: np.ndarray, r: np.ndarray, present: np.ndarray) -> float:
    """How far the least prominent beat of ``r`` stands out of the present leads' spatial RMS:
    its peak within a QRS's reach over the median level (NaN without beats)."""
    if len(r) == 0 or not present.any():
        return float("nan")
    rms = signal.spatial_rms(x, present)
    half = round(B.QRS_HALF_MS * signal.FS / 1000)
    peaks = np.nanmax(B.windows(rms[None], r, half, half)[:, 0], axis=1)
    return float(peaks.min() / max(float(np.median(rms)), 1e-9))


def noisiest(x: np.ndarray, r: np.ndarray, present: np.ndarray) -> tuple[int, str] | None:
    """The present lead that is most clearly pure noise at beats ``r``, and why; None if none
    is, or there are too few beats to judge by."""
    match = beat_match(x, r, present)
    if not np.isfinite(match).any() or np.nanmin(match) >= MIN_NOISE_R:
        return None
    worst = int(np.nanargmin(match))
    return worst, (
        f"pure noise: its beats do not match each other (upper-quartile r = {match[worst]:.2f}, "
        f"under {MIN_NOISE_R:.1f})"
    )


def drowned(
    x: np.ndarray, r: np.ndarray, present: np.ndarray, used: np.ndarray, delineator: Delineator
) -> tuple[int, str] | None:
    """The delineated (``used``) lead drowned in noise beside a clear one, and why; None if none
    is. Looked at lead by lead, each delineated alone, only where a lead's beats at ``r`` stand
    under DROWNED_LOOK (``beat_snr``): a few pages in a hundred."""
    if used.sum() < 2 or not (beat_snr(x, r, used)[used] <= DROWNED_LOOK).any():
        return None
    alone = np.full(len(x), np.nan)
    for k in np.flatnonzero(used):
        one = np.arange(len(x)) == k
        labels = np.zeros(x.shape, dtype=np.int64)
        labels[one] = delineator.labels(x[one])
        alone[k] = beat_snr(x, B.find(labels, x, one), one)[k]
    if not np.isfinite(alone).any():
        return None
    worst, best = int(np.nanargmin(alone)), float(np.nanmax(alone))
    if not (alone[worst] <= DROWNED_SNR and best >= DROWNED_CLEAN):
        return None
    return worst, (
        f"drowned in noise: read alone, its QRS stands {alone[worst]:.1f} times out of the noise "
        f"(under {DROWNED_SNR:.0f}), another lead's {best:.0f} times"
    )


def beats_without_noise(
    x: np.ndarray, present: np.ndarray, names: Sequence[str], left_out: dict[str, str],
    delineator: Delineator, at_most: int | None = None, read_around: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """R samples, per-lead labels (leads, n) and the leads delineated, of prepared signals ``x``.

    The first ``at_most`` present leads (all by default) are delineated. The present lead that
    is most clearly pure noise at the beats found, else (``read_around``: the beat list's few
    leads, where one lead's noise steers the detections) a delineated lead drowned in noise beside
    a clear one (``drowned``), is left out (in ``present`` and ``left_out``, by ``names``); if it
    was delineated, the next present lead takes its place and the beats are found again, until no
    present lead is noise. Leads not delineated are labelled background."""
    labels = np.zeros(x.shape, dtype=np.int64)
    used = np.zeros_like(present)
    r = np.zeros(0, dtype=np.int64)
    while present.any():
        wanted = present & (np.cumsum(present) <= (at_most or len(present)))
        if (wanted != used).any():
            used = wanted
            labels[:] = 0
            labels[used] = delineator.labels(x[used])
            r = B.find(labels, x, used)
        noise = noisiest(x, r, present) or (drowned(x, r, present, used, delineator) if read_around else None)
        if noise is None:
            return r, labels, used
        worst, left_out[names[worst]] = noise
        present[worst] = False
    return np.zeros(0, dtype=np.int64), labels, present.copy()


def noisy_stretches(x: np.ndarray, present: np.ndarray) -> list[tuple[int, int, np.ndarray]]:
    """Stretches (samples of the prepared (leads, n) ``x``, end exclusive) where a burst of
    high-frequency noise stands above the span's quiet seconds (NOISY_FACTOR) in enough leads to
    make QRS complexes of its own, each with the leads it is loud in (a mask over ``x``'s leads).
    A second is noisy when over half of it is, so a stretch is the noisy seconds whole: it takes
    in the burst and up to half a second of clean signal either side."""
    win = round(NOISY_WINDOW_S * signal.FS)
    hop = win // 2
    if not present.any() or x.shape[-1] < 3 * win:
        return []
    from numpy.lib.stride_tricks import sliding_window_view

    d2 = np.abs(np.diff(x[present], n=2, axis=-1))
    level = np.median(sliding_window_view(d2, win, axis=-1)[:, ::hop], axis=-1)  # (leads, seconds)
    quiet = np.quantile(level, NOISY_QUIET, axis=-1, keepdims=True)
    loud = (level >= NOISY_FACTOR * quiet) & (level >= NOISY_FLOOR_MV)
    noisy = loud.mean(axis=0) >= B.QRS_VOTE
    seconds = np.zeros(x.shape[-1], dtype=np.int64) - 1  # the noisy second each sample is in
    for k in np.flatnonzero(noisy):  # d2[i] is centred on sample i + 1
        seconds[k * hop + 1 : k * hop + 1 + win] = k
    if noisy[-1]:  # the last second stands for the few samples after it too
        seconds[(len(noisy) - 1) * hop :] = len(noisy) - 1
    out = []
    for a, b in zip(*runs(seconds >= 0), strict=True):
        mask = np.zeros(len(present), dtype=bool)
        mask[present] = loud[:, np.unique(seconds[a:b])].any(axis=1)
        out.append((int(a), int(b), mask))
    return out


def headline(reason: str) -> str:
    """The reason's first words ("clipped", "pure noise", "flat line"), for a label or a list."""
    return re.split(r":| \(", reason, maxsplit=1)[0]


def _rails(mask: np.ndarray, run: int, apart: float) -> tuple[float, int]:
    """The share of samples of ``mask`` in runs of at least ``run`` consecutive Trues, and the
    number of episodes of such runs (runs starting less than ``apart`` samples after the
    previous one belong to its episode)."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    starts = np.flatnonzero(edges == 1)
    lengths = np.flatnonzero(edges == -1) - starts
    long = lengths >= run
    episodes = 1 + int((np.diff(starts[long]) >= apart).sum()) if long.any() else 0
    return float(lengths[long].sum()) / max(1, mask.size), episodes
