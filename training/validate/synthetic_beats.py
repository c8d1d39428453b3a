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
from ecgviewer.recording import Recording, make_recording
from ecgviewer.sources import ArraySource

FS = 250
LEADS = ["II", "V1"]
PRE, POST = round(0.25 * FS), round(0.45 * FS)
Beats = list[tuple[float, np.ndarray]]  # (R time in s, (leads, PRE + POST) complex)


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


def _sinus(start: float, stop: float, w: np.ndarray, rr: float = 0.9) -> Beats:
    return [(t, w) for t in np.arange(start, stop, rr)]


def premature_beats(beat: np.ndarray) -> tuple[Beats, list[str], float]:
    """Two minutes of sinus rhythm at 67 bpm across the beat list's 60 s page edge, with a
    ventricular premature beat (RR 450 ms) and its compensatory pause, an atrial premature beat
    45 % early (its P wave in the T wave before it), a ventricular run of 4 at 120 bpm and a 2.6 s
    pause; returns the beats, each one's kind as a reader calls it, and the recording's length."""
    wide = ectopic()
    beats = [*_sinus(1.0, 50.0, beat), (50.45, wide), *_sinus(51.8, 58.9, beat)]
    atrial = len(beats)
    beats += [(58.1 + 0.9 * 0.55, beat), *_sinus(60.5, 74.5, beat)]
    beats += [(75.0 + 0.5 * k, wide) for k in range(4)] + _sinus(77.5, 90.0, beat)
    last = beats[-1][0]
    beats += [(last + 2.6, beat), *_sinus(last + 3.5, 119.0, beat)]
    kinds = ["ventricular" if w is wide else "normal" for _, w in beats]
    kinds[atrial] = "supraventricular"
    return beats, kinds, 120.0


STRAY = 2  # beats listed in noise that drowns them, at most: a stray one at either edge
STRAY_S = 0.15  # a listed beat this far from every true beat is invented


def drowned(beat: np.ndarray) -> tuple[Recording, np.ndarray, tuple[float, float]]:
    """Two minutes of sinus rhythm at 67 bpm with 30 s of muscle-like noise (white noise band-passed
    to 20-100 Hz) four times the QRS's size from 45 s: no beat can be read there. Returns the
    recording, its beats' times and the noise's stretch (s)."""
    from scipy.signal import butter, sosfiltfilt

    beats = _sinus(1.0, 119.0, beat)
    rec = record(beats, 120.0)
    band = butter(4, (20, 100), "bandpass", fs=FS, output="sos")
    emg = sosfiltfilt(band, np.random.default_rng(3).normal(0, 1, (2, 30 * FS)))
    rec.source.data[:, 45 * FS : 75 * FS] += (4 * np.ptp(beat) / np.ptp(emg) * emg).astype(np.float32)
    return rec, np.array([t for t, _ in beats]), (45.0, 75.0)


def invented(listed: np.ndarray, times: np.ndarray, stretch: tuple[float, float]) -> int:
    """How many of the ``listed`` beat times inside ``stretch`` lie STRAY_S or more from every true
    beat's time (``times``)."""
    inside = listed[(listed > stretch[0]) & (listed < stretch[1])]
    if len(inside) == 0:
        return 0
    return int((np.abs(inside[:, None] - times[None, :]).min(axis=1) > STRAY_S).sum())
