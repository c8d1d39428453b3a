"""Synthetic long recordings whose every beat's kind is known: the bundled sample's own beat and
ventricular complexes of known shapes placed at known times. The beat list's tests read them, and
the beat classifier's selection (``python -m training beat-classifier``) passes over a candidate
that misreads ``premature_beats`` or lists beats in ``drowned``'s noise: a cross-validated figure
that gains a fraction of a point is not worth an obvious premature beat read as normal, nor a run
of beats invented where none can be seen."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ecgviewer.dsp.resample import to_rate
from ecgviewer.io import load
from ecgviewer.measure.rhythm import PAGE_S
from ecgviewer.recording import Recording, make_recording
from ecgviewer.sources import ArraySource

FS = 250
LEADS = ["II", "V1"]
PRE, POST = round(0.25 * FS), round(0.45 * FS)
Beats = list[tuple[float, np.ndarray]]  # (R time in s, (leads, PRE + POST) complex)
RR_S = 0.9  # the sinus rhythm's RR (67 bpm)
LEAD_IN_S = RR_S * round((PAGE_S - 60.0) / RR_S)  # ``premature_beats``' first minute ends at a page edge


def sample_beat(leads: Sequence[str] = LEADS) -> np.ndarray:
    """The bundled sample's fifth beat in ``leads`` at 250 Hz, R at PRE, ends tapered to zero."""
    from ecgviewer.assets import sample_path

    rec = load(sample_path())
    x = to_rate(rec.signals[[rec.index(lead) for lead in leads]], rec.fs, FS).astype(np.float64)
    r = round(3.94 * FS)  # a beat of the sample (its measurements put R here)
    r += int(np.argmax(np.abs(x[0, r - 10 : r + 10]))) - 10
    w = x[:, r - PRE : r + POST].copy()
    w -= np.linspace(w[:, :1], w[:, -1:], w.shape[1], axis=1)[..., 0]
    return w


def ectopic(sign: float = 1.0) -> np.ndarray:
    """A wide (about 160 ms) ventricular-looking complex with a discordant T and no P; ``sign``
    -1 gives a second ventricular focus (the complex upside down in both leads)."""
    t = (np.arange(PRE + POST) - PRE) / FS
    qrs = -1.6 * (t / 0.04) * np.exp(-((t / 0.04) ** 2) / 2)
    tw = 0.5 * np.exp(-(((t - 0.3) / 0.06) ** 2) / 2)
    return sign * np.stack([qrs + tw, -0.8 * qrs - 0.5 * tw])


def signals(beats: Beats, seconds: float, seed: int = 0) -> np.ndarray:
    """Leads (mV) of low noise with each beat's complex added at its R time."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 0.01, (len(beats[0][1]), round(seconds * FS)))
    for t, w in beats:
        r = round(t * FS)
        a, b = max(0, r - PRE), min(x.shape[1], r + POST)
        x[:, a:b] += w[:, a - (r - PRE) : b - (r - PRE)]
    return x


def record(beats: Beats, seconds: float, seed: int = 0, leads: Sequence[str] = LEADS) -> Recording:
    """``signals`` as a recording in memory."""
    x = signals(beats, seconds, seed)
    return make_recording(None, ArraySource(x.astype(np.float32)), float(FS), list(leads), "synthetic")


def _sinus(start: float, stop: float, w: np.ndarray, rr: float = RR_S) -> Beats:
    return [(t, w) for t in np.arange(start, stop, rr)]


def premature_beats(beat: np.ndarray) -> tuple[Beats, list[str], float]:
    """Sinus rhythm at 67 bpm with, in the two minutes before and after the beat list's first page
    edge (``rhythm.PAGE_S``, whole sinus cycles before it), a ventricular premature beat and its
    compensatory pause, an atrial premature beat 45 % early just before the edge (its P wave in the
    T wave before it), a ventricular run of 4 at 120 bpm and a 2.6 s pause; returns the beats, each
    one's kind as a reader calls it, and the recording's length."""
    o = LEAD_IN_S
    wide = ectopic()
    beats = [*_sinus(1.0, o + 50.0, beat), (o + 50.45, wide), *_sinus(o + 51.8, o + 58.9, beat)]
    atrial = len(beats)
    beats += [(o + 58.1 + 0.9 * 0.55, beat), *_sinus(o + 60.5, o + 74.5, beat)]
    beats += [(o + 75.0 + 0.5 * k, wide) for k in range(4)] + _sinus(o + 77.5, o + 90.0, beat)
    last = beats[-1][0]
    beats += [(last + 2.6, beat), *_sinus(last + 3.5, o + 119.0, beat)]
    kinds = ["ventricular" if w is wide else "normal" for _, w in beats]
    kinds[atrial] = "supraventricular"
    return beats, kinds, o + 120.0


STRAY = 2  # beats listed in noise that drowns them, at most: a stray one at either edge
STRAY_S = 0.15  # a listed beat this far from every true beat is invented


def drowned(
    beat: np.ndarray, at_s: float = 45.0, for_s: float = 30.0, size: float = 4.0, noise: str = "muscle"
) -> tuple[Recording, np.ndarray, tuple[float, float]]:
    """Two minutes of sinus rhythm at 67 bpm with ``for_s`` of noise ``size`` times the QRS's size
    (peak to peak) from ``at_s``: muscle-like (white noise band-passed to 20-100 Hz; at four times
    no beat can be read there) or electrode motion (``motion.motion_noise``, synthetic). Returns
    the recording, its beats' times and the noise's stretch (s)."""
    from scipy.signal import butter, sosfiltfilt

    from training.validate.motion import motion_noise

    beats = _sinus(1.0, 119.0, beat)
    rec = record(beats, 120.0)
    a, b = round(at_s * FS), round((at_s + for_s) * FS)
    if noise == "motion":
        x = motion_noise(b - a, FS, 2, seed=3)
    else:
        band = butter(4, (20, 100), "bandpass", fs=FS, output="sos")
        x = sosfiltfilt(band, np.random.default_rng(3).normal(0, 1, (2, b - a)))
    rec.source.data[:, a:b] += (size * np.ptp(beat) / np.ptp(x) * x).astype(np.float32)
    return rec, np.array([t for t, _ in beats]), (at_s, at_s + for_s)


def invented(listed: np.ndarray, times: np.ndarray, stretch: tuple[float, float]) -> int:
    """How many of the ``listed`` beat times inside ``stretch`` lie STRAY_S or more from every true
    beat's time (``times``)."""
    inside = listed[(listed > stretch[0]) & (listed < stretch[1])]
    if len(inside) == 0:
        return 0
    return int((np.abs(inside[:, None] - times[None, :]).min(axis=1) > STRAY_S).sum())
