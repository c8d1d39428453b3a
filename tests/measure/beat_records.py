"""Synthetic long recordings for the beat list's tests: the builders the beat classifier's
selection shares (``training.validate.synthetic_beats``), and fibrillation, flutter and two
ventricular foci."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ecgviewer.recording import Recording, make_recording
from ecgviewer.sources import ArraySource
from training.validate.synthetic_beats import FS, LEADS, PRE, ectopic, record, sample_beat, signals

__all__ = ["FS", "PRE", "ectopic", "record", "sample_beat", "signals"]  # the shared builders, re-exported


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
