"""``python -m training vf-detector``: the duration figures on a hand-made case, and the choice by
leave-one-record-out on synthetic records whose fibrillation is known."""

from __future__ import annotations

import numpy as np
import pytest

from ecgviewer.measure import flutter as F
from ecgviewer.measure import signal
from tests.measure.beat_records import fibrillation, sample_beat, signals
from training.supervised import flutter_detector as FD


def _record(name: str, x: np.ndarray, flutter: list[tuple[float, float]]) -> FD.Record:
    prepared = signal.prepare(x, signal.FS)
    c = F.centres_s(prepared.shape[-1])
    inside = sum((np.clip(np.minimum(c + 2, b) - np.maximum(c - 2, a), 0, None) for a, b in flutter),
                 np.zeros(len(c))) / F.WINDOW_S  # fmt: skip
    return FD.Record(name, F.features(prepared), c, inside, flutter, [], x.shape[-1] / signal.FS)


def test_duration_figures_count_seconds_found_and_tachycardia_apart():
    r = FD.Record("a", np.zeros((1, 0, len(F.FEATURES))), np.zeros(0), np.zeros(0), [(10.0, 30.0)],
                  [(40.0, 50.0)], 60.0)  # fmt: skip
    got = FD.duration([r], {"a": [(15.0, 35.0), (40.0, 45.0)]})
    assert got == pytest.approx({"se": 75.0, "pp": 60.0, "pp_vt": 80.0})
    assert FD.shortfall(got) == pytest.approx(15.0 + 30.0)


def test_cross_validation_chooses_a_detector_that_finds_the_fibrillation(monkeypatch):
    beat = sample_beat()
    monkeypatch.setattr(FD, "C_GRID", (1.0,))
    records = []
    for k in range(3):
        x = signals([(t, beat) for t in np.arange(1.0, 89.0, 0.85)], 90.0, seed=k)
        x[:, 30 * signal.FS : 60 * signal.FS] = fibrillation(30.0, seed=k)
        records.append(_record(f"r{k}", x, [(30.0, 60.0)]))
    best, rows = FD.choose(records)
    assert len(rows) == len(FD.THRESHOLDS) * len(FD.MIN_S)
    assert best["se"] > 80 and best["pp"] > 80 and best["shortfall"] == min(r["shortfall"] for r in rows)
