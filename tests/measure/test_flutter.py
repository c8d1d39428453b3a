"""Ventricular flutter and fibrillation in the beat list: an undulation between stretches of sinus
rhythm becomes one event with no beats listed inside it; beats, flat leads and lost samples do not."""

from __future__ import annotations

import numpy as np
import pytest

from ecgviewer.errors import EcgError
from ecgviewer.measure import flutter as F
from ecgviewer.measure import rhythm as R
from ecgviewer.measure import signal
from tests.measure.beat_records import FS, fibrillation, flutter_episode, signals


@pytest.fixture(scope="module")
def episode(beat):
    return flutter_episode(beat)


def test_fibrillation_is_one_event_without_beats_and_sinus_around_it_is_read(episode):
    rh = R.analyse(episode)
    (event,) = [e for e in rh.events if e.kind == R.FLUTTER]
    assert event.start_s == pytest.approx(60.0, abs=4.0) and event.end_s == pytest.approx(100.0, abs=4.0)
    assert "check the strip" in event.detail
    assert any(line.startswith("Ventricular flutter or fibrillation? 1 stretch,") for line in rh.summary())
    assert not ((rh.t_s > event.start_s) & (rh.t_s < event.end_s)).any()  # no beat listed in it
    assert not [e for e in rh.events if e.kind == "unreadable"]  # a rhythm, not noise
    sinus = (rh.t_s < 58.0) | (rh.t_s > 102.0)
    assert sinus.sum() >= 110 and (rh.kind[sinus] == R.NORMAL).mean() > 0.95
    assert not [e for e in rh.events if e.kind == "pause"]  # the beats it hides are no pause
    assert np.isnan(rh.rr_ms[np.searchsorted(rh.t_s, event.end_s)])  # no RR across it


def test_sinus_rhythm_and_flat_or_lost_signal_are_not_fibrillation(beat):
    detector = F.Detector.bundled()
    x = signal.prepare(signals([(t, beat) for t in np.arange(1.0, 59.0, 0.8)], 60.0), FS)
    assert np.nanmax(detector.read(x)) < detector.threshold
    flat = np.zeros_like(x)
    assert (detector.read(flat) == 0).all()
    vf = signal.prepare(fibrillation(60.0), FS)
    assert np.median(detector.read(vf)) > detector.threshold
    lost = np.zeros(vf.shape[-1], bool)
    lost[20 * signal.FS : 22 * signal.FS] = True
    p = detector.read(vf, lost)
    gone = np.abs(F.centres_s(vf.shape[-1]) - 21.0) < F.WINDOW_S / 2 + 1
    assert np.isnan(p[gone]).all() and np.isfinite(p[~gone]).all()
    assert np.isnan(detector.read(vf[:0])).all()  # no lead read: no judgement


def test_stretches_need_the_threshold_for_the_shortest_duration():
    d = F.Detector(np.zeros(0), np.zeros(0), np.zeros(0), 0.0, 0.5, 10.0, {})
    t = np.arange(1, 60) * F.HOP_S
    p = np.where((t > 10) & (t < 30), 0.9, 0.1)
    p[(t > 40) & (t < 45)] = 0.9  # too short
    (only,) = d.stretches(t, p)
    assert only[0] == pytest.approx(12.0 - F.WINDOW_S / 2) and only[1] == pytest.approx(28.0 + F.WINDOW_S / 2)


def test_the_features_windows_and_the_detector_file_agree(tmp_path):
    x = np.random.default_rng(0).normal(size=(2, 64 * signal.FS)).astype(np.float32)
    f = F.features(x)
    assert f.shape == (2, len(F.centres_s(x.shape[-1])), len(F.FEATURES)) and np.isfinite(f).all()
    assert F.inputs(f).shape[-1] == len(F.INPUTS)
    d = F.Detector.bundled()
    again = F.Detector.from_json(d.to_json())
    assert np.array_equal(again.probability(f), d.probability(f)) and again.min_s == d.min_s
    other = {**d.to_json(), "inputs": list(F.FEATURES)}
    with pytest.raises(EcgError, match=r"other features"):
        F.Detector.from_json(other, "x.json")
    bad = tmp_path / "x.json"
    bad.write_text("{")
    with pytest.raises(EcgError, match=r"x\.json"):
        F.Detector.load(bad)
