"""The one resampler (``dsp.resample``) that both model contracts use."""

from __future__ import annotations

import numpy as np
import pytest

from ecgviewer.dsp.resample import to_rate


@pytest.mark.parametrize(
    ("fs", "rate"), [(500.0, 100), (257.0, 100), (1000.0, 250), (128.0, 250), (360.0, 250)]
)
def test_a_tone_in_band_keeps_its_amplitude_and_length(fs: float, rate: int) -> None:
    t = np.arange(int(10 * fs)) / fs
    x = np.stack([np.sin(2 * np.pi * 5 * t), 0.5 * np.cos(2 * np.pi * 12 * t)])
    y = to_rate(x, fs, rate)
    assert y.dtype == np.float32 and y.shape == (2, round(10 * rate))
    inner = slice(rate, -rate)  # the filter's edges aside
    u = np.arange(y.shape[1]) / rate
    np.testing.assert_allclose(y[0, inner], np.sin(2 * np.pi * 5 * u[inner]), atol=0.02)
    np.testing.assert_allclose(y[1, inner], 0.5 * np.cos(2 * np.pi * 12 * u[inner]), atol=0.02)


def test_a_tone_above_the_new_nyquist_is_filtered_not_aliased() -> None:
    fs, rate = 500.0, 100
    t = np.arange(int(10 * fs)) / fs
    y = to_rate(np.sin(2 * np.pi * 70 * t)[None], fs, rate)  # would alias to 30 Hz
    assert np.abs(y[0, rate:-rate]).max() < 0.02


def test_the_same_rate_is_returned_as_float32() -> None:
    x = np.arange(12.0).reshape(2, 6)
    y = to_rate(x, 100.0, 100)
    assert y.dtype == np.float32 and np.array_equal(y, x)
