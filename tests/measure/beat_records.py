"""Synthetic long recordings for the beat list's tests: the bundled sample's own beat, ventricular
complexes of known shapes, placed at known times (``record``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ecgviewer.dsp.resample import to_rate
from ecgviewer.io import load
from ecgviewer.recording import Recording, make_recording
from ecgviewer.sources import ArraySource
from tests.conftest import SAMPLE

FS = 250
LEADS = ["II", "V1"]
PRE, POST = round(0.25 * FS), round(0.45 * FS)


def sample_beat(leads: Sequence[str] = LEADS) -> np.ndarray:
    """The sample's fifth beat in ``leads`` at 250 Hz, R at PRE, ends tapered to zero."""
    rec = load(SAMPLE)
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


def signals(beats: list[tuple[float, np.ndarray]], seconds: float, seed: int = 0) -> np.ndarray:
    """Leads (mV) of low noise with each (R time in s, (leads, PRE + POST) complex) added."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 0.01, (len(beats[0][1]), round(seconds * FS)))
    for t, w in beats:
        r = round(t * FS)
        a, b = max(0, r - PRE), min(x.shape[1], r + POST)
        x[:, a:b] += w[:, a - (r - PRE) : b - (r - PRE)]
    return x


def record(
    beats: list[tuple[float, np.ndarray]], seconds: float, seed: int = 0, leads: Sequence[str] = LEADS
) -> Recording:
    """``signals`` as a recording in memory."""
    x = signals(beats, seconds, seed)
    return make_recording(None, ArraySource(x.astype(np.float32)), float(FS), list(leads), "synthetic")


def fibrillation(seconds: float, seed: int = 0) -> np.ndarray:
    """(2, n) mV at FS: an undulation at 4-6 Hz whose size and rate wander, unlike in each lead."""
    rng = np.random.default_rng(seed)
    t = np.arange(round(seconds * FS)) / FS
    out = []
    for lead in range(2):
        rate = 5.0 + 0.8 * np.sin(2 * np.pi * 0.13 * t + lead) + 0.3 * rng.standard_normal()
        size = 0.4 + 0.25 * np.sin(2 * np.pi * 0.21 * t + 2 * lead)
        out.append(size * np.sin(2 * np.pi * np.cumsum(rate) / FS) + rng.normal(0, 0.01, len(t)))
    return np.array(out)


def flutter_episode(beat: np.ndarray) -> Recording:
    """150 s: sinus rhythm at 67 bpm, fibrillation from 60 to 100 s, sinus again."""
    beats = [(t, beat) for t in np.arange(1.0, 59.0, 0.9)] + [(t, beat) for t in np.arange(101.0, 149.0, 0.9)]
    x = signals(beats, 150.0)
    x[:, 60 * FS : 100 * FS] = fibrillation(40.0)
    return make_recording(None, ArraySource(x.astype(np.float32)), float(FS), list(LEADS), "flutter")


def wfdb_file(
    beats: list[tuple[float, np.ndarray]], seconds: float, folder: Path, name: str = "foci"
) -> Path:
    """``signals`` written as a WFDB record (a file the window opens and the library keys)."""
    import wfdb

    x = signals(beats, seconds)
    wfdb.wrsamp(
        name, fs=FS, units=["mV"] * 2, sig_name=LEADS, p_signal=x.T, fmt=["16"] * 2, write_dir=str(folder)
    )
    return folder / f"{name}.hea"


def two_foci(beat: np.ndarray) -> tuple[list[tuple[float, np.ndarray]], dict[str, int]]:
    """Two minutes at 75 bpm: every 8th beat a complex of ventricular focus A, every 13th (when
    not A's) one of focus B, each with its pause; A's four in a row once make a ventricular run.
    Returns the beats and how many of each shape (sinus, A, B)."""
    a, b = ectopic(), ectopic(-1.0)
    beats, t, k = [], 1.0, 0
    while t < 118.0:
        k += 1
        if 60.0 < t < 62.0:
            beats += [(t, a)]
            t += 0.45
            continue
        shape = a if k % 8 == 0 else b if k % 13 == 0 else beat
        beats.append((t, shape))
        t += 0.8 if shape is beat else 1.1
    known = {"sinus": sum(w is beat for _, w in beats), "A": sum(w is a for _, w in beats),
             "B": sum(w is b for _, w in beats)}  # fmt: skip
    return beats, known
