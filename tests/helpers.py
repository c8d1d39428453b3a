"""Synthetic recordings and image probes shared by the rendering and GUI tests."""

from __future__ import annotations

import numpy as np

from ecgviewer.leads import STANDARD_LEADS
from ecgviewer.recording import Recording, make_recording
from ecgviewer.sources import ArraySource


def synthetic(
    seconds: float = 10.0,
    fs: float = 500.0,
    leads=STANDARD_LEADS,
    spikes_every: float = 1.0,
    spike_mv: float = 1.0,
) -> Recording:
    """Flat leads with a one-sample spike of ``spike_mv`` every ``spikes_every`` s (at 0.5 s, 1.5 s...),
    lead k offset by k*10 uV so leads can be told apart."""
    n = round(seconds * fs)
    data = np.zeros((len(leads), n), np.float32)
    idx = (np.arange(0.5, seconds, spikes_every) * fs).astype(int)
    data[:, idx] = spike_mv
    data += (np.arange(len(leads), dtype=np.float32) * 0.01)[:, None]
    return make_recording(None, ArraySource(data), fs, list(leads), "synthetic")


def hex_rgb(color: str) -> np.ndarray:
    return np.array([int(color[i : i + 2], 16) for i in (1, 3, 5)], np.uint8)


def mask(arr: np.ndarray, color: str, tol: int = 40) -> np.ndarray:
    return np.abs(arr.astype(int) - hex_rgb(color).astype(int)).sum(axis=-1) <= tol


def shown_window(qtbot, settings, width: int = 1400, height: int = 900):
    """A main window on ``settings``, shown at ``width`` x ``height`` and exposed (the GUI tests'
    common start; the caller cancels its tasks)."""
    from ecgviewer.gui.main_window import MainWindow

    w = MainWindow(settings)
    qtbot.addWidget(w)
    w.resize(width, height)
    w.show()
    qtbot.waitExposed(w)
    return w
