"""Synthetic recordings and image probes shared by the rendering and GUI tests."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from ecgviewer.leads import STANDARD_LEADS
from ecgviewer.recording import Recording, make_recording
from ecgviewer.sources import ArraySource

AI_TIMEOUT_MS = 180_000  # first analysis in a process imports torch and neurokit2; CI machines are slow
MEASURE_TIMEOUT_MS = 120_000  # the first measurement in a process imports torch


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


def open_wait(qtbot, window, path: Path) -> None:
    """Open ``path`` and wait until the paper shows it."""
    with qtbot.waitSignal(window.recordingLoaded, timeout=20000):
        window.open_file(path)


def measured(qtbot, window, action):
    """Run ``action`` and return the measurements the window shows after it."""
    with qtbot.waitSignal(window.measure.measured, timeout=MEASURE_TIMEOUT_MS) as blocker:
        action()
    return blocker.args[0]


def copy_model(folder: Path, stem: str, name: str | None = None) -> Path:
    """The bundled classifier and its card under another file name (and card name) in ``folder``."""
    from ecgviewer.assets import model_path

    bundled = model_path()
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{stem}.safetensors"
    shutil.copyfile(bundled, target)
    card = json.loads(bundled.with_suffix(".json").read_text())
    card["name"] = name or stem
    target.with_suffix(".json").write_text(json.dumps(card))
    shutil.copyfile(bundled.with_suffix(".md"), target.with_suffix(".md"))
    return target
