"""Pacing spikes are brief pulses in many leads at once: found in one-sample pulses and in pulses
with the recorder's decaying tail, at 250 to 1000 Hz and in two leads; not in a steep QRS slope or
a baseline step, which the earlier slope-only rule took for spikes (a fifth of PTB-XL's 500 Hz
records), nor in two leads of muscle noise at a Holter's 250 Hz."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ecgviewer.leads import STANDARD_LEADS
from ecgviewer.measure import beats as B

FS = 500.0


def _leads(shape: np.ndarray, at_s: float = 1.0, seconds: float = 2.0, fs: float = FS) -> np.ndarray:
    """Twelve leads, flat but for ``shape`` (mV, one value a sample) starting at ``at_s``."""
    x = np.zeros((12, round(seconds * fs)), np.float32)
    a = round(at_s * fs)
    x[:, a : a + len(shape)] = shape
    return x


def test_a_brief_pulse_is_a_spike_with_or_without_a_decaying_tail() -> None:
    spike = B.pacing_spikes(_leads(np.array([0.5])), FS)
    assert spike is not None and spike.tolist() == [1.0]
    tail = 0.6 * np.exp(-np.arange(10) / 3.0)  # AC coupling: back within ~10 ms
    assert B.pacing_spikes(_leads(tail), FS).tolist() == [1.0]
    at_1k = B.pacing_spikes(_leads(np.array([0.3, 0.6, 0.3]), fs=1000.0), 1000.0)
    assert len(at_1k) == 1 and abs(at_1k[0] - 1.0) < 0.003
    few = _leads(np.array([0.5]))
    few[5:] = 0.0
    assert B.pacing_spikes(few, FS).tolist() == []  # a pulse in five leads of twelve: too few
    assert B.pacing_spikes(few[:5], FS).tolist() == [1.0]  # five recorded leads: each must show it


def test_a_holter_sees_spikes_in_two_leads_at_250_hz_but_not_in_one_or_at_128_hz() -> None:
    fs = 250.0
    pulse = _leads(np.array([0.25]), fs=fs)[:2]  # 500 Hz's 0.5 mV sample, its area kept at 250 Hz
    assert B.pacing_spikes(pulse, fs).tolist() == [1.0]
    assert B.pacing_spikes(pulse[:1], fs) is None and "not 1" in B.pacing_blind(pulse[:1], fs)
    assert B.pacing_spikes(_leads(np.array([0.5]), fs=128.0), 128.0) is None
    assert "not 128 Hz" in B.pacing_note(_leads(np.array([0.5]), fs=128.0), 128.0)[0]
    assert "2 leads only" in B.pacing_note(pulse, fs)[0] and B.pacing_note(_leads(np.array([0.5])), FS) == []


def test_with_few_leads_one_shows_the_full_jump_and_the_others_a_smaller_one() -> None:
    """A spike's vector projects less on some leads (V1, often): the others need only part of it."""
    fs = 250.0
    for share, found in ((0.4, [1.0]), (0.2, [])):
        pulse = _leads(np.array([0.25]), fs=fs)[:2]
        pulse[1] *= share
        assert B.pacing_spikes(pulse, fs).tolist() == found
    lone = _leads(np.array([0.25]), fs=fs)[:2]
    lone[1] = 0.0
    assert B.pacing_spikes(lone, fs).tolist() == []  # a pulse in one lead of two is no spike


def test_two_leads_of_muscle_noise_at_250_hz_pulse_together_but_are_no_spikes() -> None:
    from scipy.signal import butter, sosfiltfilt

    fs, rng = 250.0, np.random.default_rng(0)
    band = butter(4, (20.0, 100.0), "bandpass", fs=fs, output="sos")
    noise = sosfiltfilt(band, rng.standard_normal((2, 15000)))
    noise *= 0.05 / noise.std()  # the measurements' muscle level (training/data/noise.py)
    assert B.pacing_spikes(noise, fs).tolist() == []
    with_spike = noise.copy()
    with_spike[:, 7500] += 1.0  # a spike well above the noise is still seen
    assert B.pacing_spikes(with_spike, fs).tolist() == [30.0]


def test_a_burst_of_muscle_noise_among_clean_minutes_is_no_spikes() -> None:
    """A Holter's page: a minute of two quiet leads with 10 s of muscle noise. The noise must be
    judged where it is: over the whole minute its bar was the quiet leads', and the burst's
    transients were spikes (the beat list then listed paced beats in it)."""
    from scipy.signal import butter, sosfiltfilt

    fs, rng = 250.0, np.random.default_rng(0)
    band = butter(4, (20.0, 100.0), "bandpass", fs=fs, output="sos")
    x = rng.normal(0, 0.005, (2, 15000))
    burst = sosfiltfilt(band, rng.standard_normal((2, 2500)))
    x[:, 5000:7500] += 2.0 * burst / np.ptp(burst)  # 2 mV from peak to peak: a QRS's size
    assert B.pacing_spikes(x, fs).tolist() == []
    x[:, 10000] += 0.5  # a spike in the quiet minutes is still seen
    assert B.pacing_spikes(x, fs).tolist() == [40.0]


def test_a_steep_qrs_slope_or_a_baseline_step_is_no_spike() -> None:
    down = np.linspace(1.5, -1.5, 10)  # R to S, 0.33 mV per 2 ms for 20 ms: steeper than the limit
    qrs = np.concatenate([np.linspace(0, 1.5, 10), down, np.linspace(-1.5, 0, 10)])
    assert B.pacing_spikes(_leads(qrs), FS).tolist() == []
    step = np.full(400, 0.6)  # a jump that stays: the amplifier's baseline reset
    assert B.pacing_spikes(_leads(step), FS).tolist() == []


def test_ptbxl_500_hz_sinus_records_are_not_called_paced(shared: Path) -> None:
    """ecg_id 32 (sinus rhythm, no pacing statement) had 14 'spikes' on its QRS downstrokes."""
    from ecgviewer.io import load
    from ecgviewer.measure.delineate import Delineator
    from ecgviewer.measure.pipeline import measure_recording

    rec = load(shared / "ptbxl" / "records500" / "00000" / "00032_hr.hea")
    assert rec.fs == 500.0 and list(rec.leads) == list(STANDARD_LEADS)
    assert B.pacing_spikes(np.asarray(rec.read(0, rec.n_samples)), rec.fs).tolist() == []
    m = measure_recording(rec, Delineator.bundled())
    assert m.withheld == {} and m.values["qrs"].value is not None


@pytest.mark.parametrize("number", [8, 34, 74, 104])
def test_ludb_paced_records_keep_their_spikes(shared: Path, number: int) -> None:
    from training.data import ludb

    rec = ludb.load(shared / "ludb", number)
    assert ludb.is_paced(rec)
    assert len(B.pacing_spikes(rec.signals, rec.fs)) >= 2


def test_a_spike_spread_by_a_recorders_low_pass_over_two_samples_is_still_one() -> None:
    from scipy.signal import butter, sosfilt

    pulse = _leads(np.array([0.5, 0.5]))  # a 2-4 ms pulse ...
    spread = sosfilt(butter(1, 100.0, fs=FS, output="sos"), pulse, axis=-1)  # ... through a 100 Hz front end
    rise = np.diff(spread[0, 499:502])
    assert rise[1] > B.PACE_ONWARD_SHARE * rise[0] > 0  # still rising after 2 ms: over 2 ms, no spike
    for leads in (spread, spread[:2]):  # twelve leads, and a Holter's two
        found = B.pacing_spikes(leads, FS)
        assert len(found) == 1 and abs(found[0] - 1.0) <= 0.004
