"""``dsp.rate``: the status bar's heart rate on simulated ECGs of known rate, and no number where
there is no rhythm to count."""

from __future__ import annotations

import numpy as np
import pytest

from ecgviewer.dsp.rate import heart_rate
from ecgviewer.leads import STANDARD_LEADS


@pytest.mark.parametrize(("bpm", "fs"), [(60, 500), (75, 250), (110, 360)])
def test_the_rate_of_a_simulated_ecg(bpm: int, fs: int) -> None:
    import neurokit2 as nk

    ecg = nk.ecg_simulate(duration=20, sampling_rate=fs, heart_rate=bpm, noise=0.01, random_state=0)
    signals = np.zeros((12, len(ecg)))
    signals[1] = ecg  # lead II only: the others are flat and must not be chosen
    rate, lead = heart_rate(signals, fs, STANDARD_LEADS)
    assert lead == "II" and rate == pytest.approx(bpm, abs=3)


def test_no_rate_from_flat_short_or_missing_signals() -> None:
    fs = 500
    assert heart_rate(np.zeros((12, 10 * fs)), fs, STANDARD_LEADS) is None
    assert heart_rate(np.full((12, 10 * fs), np.nan), fs, STANDARD_LEADS) is None
    assert heart_rate(np.random.default_rng(0).normal(size=(12, 2 * fs)), fs, STANDARD_LEADS) is None
