"""Display filters: zero-phase, -3 dB at the labelled frequency, gaps kept, honest labels."""

from __future__ import annotations

import numpy as np
import pytest

from ecgviewer.dsp.filters import DisplayFilter, parse_filter

FS = 500.0


def sine(f: float, seconds: float = 20.0) -> np.ndarray:
    t = np.arange(int(seconds * FS)) / FS
    return np.sin(2 * np.pi * f * t)[None, :]


def amplitude(y: np.ndarray) -> float:
    mid = y[..., y.shape[-1] // 4 : 3 * y.shape[-1] // 4]
    return float(np.sqrt(2 * np.mean(mid**2)))


@pytest.mark.parametrize(
    ("flt", "f"),
    [
        (DisplayFilter(highpass=0.5), 0.5),
        (DisplayFilter(highpass=0.67), 0.67),
        (DisplayFilter(lowpass=40.0), 40.0),
        (DisplayFilter(lowpass=150.0), 150.0),
    ],
)
def test_minus_3db_at_the_labelled_frequency(flt, f):
    seconds = max(20.0, 40.0 / f)
    assert 20 * np.log10(amplitude(flt.apply(sine(f, seconds), FS))) == pytest.approx(-3.01, abs=0.1)


def test_passband_untouched_and_stopband_removed():
    flt = DisplayFilter(0.5, 40.0, 50.0)
    assert amplitude(flt.apply(sine(10.0), FS)) == pytest.approx(1.0, abs=0.01)
    assert amplitude(flt.apply(sine(50.0), FS)) < 0.01  # notch
    assert amplitude(flt.apply(sine(0.05, 100.0), FS)) < 0.02  # baseline wander


def test_zero_phase_keeps_peaks_in_place():
    x = np.zeros((1, 5000))
    x[0, 2500] = 1.0
    y = DisplayFilter(0.5, 40.0).apply(x, FS)[0]
    assert int(np.argmax(y)) == 2500
    np.testing.assert_allclose(y[2500 - 200 : 2500], y[2501:2701][::-1], atol=1e-6)  # symmetric


def test_dc_offset_removed_with_bounded_edges():
    x = np.full((2, 5000), 3.0) + sine(10.0, 10.0)
    y = DisplayFilter(highpass=0.5).apply(x, FS)
    assert np.abs(y[:, 1000:4000]).max() == pytest.approx(1.0, abs=0.01)
    assert np.abs(y).max() < 1.2  # odd-reflection edges, as filtfilt: no 3 mV swing


@pytest.mark.parametrize("flt", [DisplayFilter(0.5, 150.0, 50.0), DisplayFilter(lowpass=40.0)])
def test_a_window_with_its_margin_shows_what_the_whole_record_shows(flt):
    """A paged record is filtered a window at a time with ``margin_seconds`` of real signal on
    each side and no reflection (``pad=False``): under 0.1 uV from filtering the whole record,
    a 3 mV offset and baseline wander included."""
    t = np.arange(int(60 * FS)) / FS
    x = 3.0 + 0.8 * np.sin(2 * np.pi * 0.2 * t) + 1.5 * (np.mod(t, 0.8) < 0.04)
    whole = flt.apply(x[None, :], FS)[0]
    m = int(np.ceil(flt.margin_seconds() * FS))
    s0, s1 = int(25 * FS), int(35 * FS)
    window = flt.apply(x[None, s0 - m : s1 + m], FS, pad=False)[0, m : m + s1 - s0]
    assert np.abs(window - whole[s0:s1]).max() < 1e-4  # mV


def test_gaps_stay_gaps():
    x = sine(5.0, 10.0).copy()
    x[0, 1000:1500] = np.nan
    y = DisplayFilter(0.5, 40.0, 50.0).apply(x, FS)
    assert np.isnan(y[0, 1000:1500]).all()
    assert np.isfinite(y[0, :1000]).all() and np.isfinite(y[0, 1500:]).all()


def test_labels_say_what_is_applied():
    flt = DisplayFilter(0.5, 150.0, 60.0)
    assert flt.label(500.0) == "HP 0.5 Hz, LP 150 Hz, notch 60 Hz"
    assert flt.label(100.0) == "HP 0.5 Hz (LP 150 Hz, notch 60 Hz n/a at 100 Hz)"
    assert flt.effective(100.0) == DisplayFilter(highpass=0.5)
    assert DisplayFilter().label(500.0) == "unfiltered"
    x = sine(10.0, 4.0)
    assert DisplayFilter().apply(x, FS) is x


def test_parse_filter():
    assert parse_filter("hp0.5,lp40,notch50") == DisplayFilter(0.5, 40.0, 50.0)
    assert parse_filter("none") == DisplayFilter()
    with pytest.raises(ValueError, match="unknown filter"):
        parse_filter("bandpass")
    with pytest.raises(ValueError, match="bad filter value"):
        parse_filter("hpX")
