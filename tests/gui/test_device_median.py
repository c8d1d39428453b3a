"""The device's median beats on ours: the alignment recovers a known shift and a resampling, the
real vendor files' medians match our own median beats once aligned (two independent medians of
the same recording), and the median view draws them under ours."""

from __future__ import annotations

import numpy as np
import pytest

from ecgviewer.leads import STANDARD_LEADS
from ecgviewer.measure import beats as B
from ecgviewer.measure import signal
from ecgviewer.measure.device_median import align
from ecgviewer.recording import MedianBeats
from tests.helpers import measured

# (file, median correlation over leads at least): muse-sinus runs at 90 bpm, so both 1.2 s windows
# hold parts of the neighbouring beats, filtered differently by the device and by us.
FILES = [
    ("ge_muse_xml/muse-sinus.xml", 0.7),
    ("ge_muse_xml/braveheart_example1.xml", 0.95),
    ("philips_xml/2020-5-18_15-48-11.xml", 0.95),
    ("philips_xml/3191723_ZZDEMOPTONLY_1-04_orig.xml", 0.95),
    ("dicom/pydicom_waveform_ecg.dcm", 0.95),
    ("hl7_aecg/Example_aECG.xml", 0.95),
]


def _beat(n: int, at: int) -> np.ndarray:
    """A P-QRS-T-like shape with its R at sample ``at`` (250 Hz)."""
    t = np.arange(n) - at
    return (
        0.15 * np.exp(-(((t + 40) / 8) ** 2))
        + np.exp(-((t / 3) ** 2))
        + 0.3 * np.exp(-(((t - 70) / 15) ** 2))
    )


@pytest.mark.parametrize("shift_ms", [-120.0, 0.0, 36.0])
def test_alignment_recovers_a_known_shift_across_rates(shift_ms):
    n = B.PRE + B.POST
    ours = np.stack([_beat(n, B.PRE) * (k + 1) for k in range(12)])
    # The device: 8 leads at 500 Hz, 1.2 s, whose first sample belongs shift_ms into our window.
    fs = 500.0
    t = np.arange(600) / fs * signal.FS  # device samples on our 250 Hz axis
    r_dev = B.PRE + shift_ms * signal.FS / 1000
    stored = [name for name in STANDARD_LEADS if name not in ("III", "aVR", "aVL", "aVF")]
    rows = [np.interp(t, np.arange(n) - (r_dev - B.PRE), ours[STANDARD_LEADS.index(name)]) for name in stored]
    device = MedianBeats(fs, tuple(stored), np.array(rows, np.float32))
    theirs, shift = align(ours, STANDARD_LEADS, device)
    assert shift == pytest.approx(shift_ms, abs=1000 / signal.FS)
    # limb leads derived from I and II are drawn too: every lead has samples
    assert np.isfinite(theirs).any(axis=1).all()
    ok = np.isfinite(theirs[1])
    np.testing.assert_allclose(theirs[1][ok], ours[1][ok], atol=0.05)


@pytest.mark.parametrize(("name", "min_r"), FILES)
def test_real_device_medians_match_ours_once_aligned(shared, name, min_r):
    from ecgviewer.io import load
    from ecgviewer.measure.delineate import Delineator
    from ecgviewer.measure.pipeline import measure_recording

    rec = load(shared / "formats" / name)
    median = rec.metadata.device.median
    assert median is not None and np.nanmax(np.abs(median.data)) < 10  # no padding read as signal
    m = measure_recording(rec, Delineator.bundled())
    theirs, shift = align(m.median, m.leads, median)
    r = [
        np.corrcoef(theirs[i][ok], m.median[i][ok])[0, 1]
        for i in range(len(m.leads))
        if (ok := np.isfinite(theirs[i]) & np.isfinite(m.median[i])).sum() > 100
    ]
    assert len(r) == 12 and np.median(r) > min_r, (shift, np.round(r, 3))


def test_median_view_draws_the_device_median_under_ours(qtbot, measure_window, shared):
    from tests.helpers import open_wait

    measured(
        qtbot, measure_window, lambda: open_wait(qtbot, measure_window, shared / "formats" / FILES[1][0])
    )
    panel = measure_window.measure.median
    assert panel.show_device.isVisibleTo(panel)
    theirs = [box.theirs for box in panel.view.boxes[:12]]
    assert sum(np.isfinite(c.getData()[1]).sum() for c in theirs) > 1000 and all(
        c.isVisible() for c in theirs
    )
    assert panel.view.device_shift_ms is not None
    panel.show_device.setChecked(False)
    assert not any(c.isVisible() for c in theirs)
