"""Median beats as GE's and Philips' median pages show them (pytest-qt, offscreen): one complex per
lead box, at a normal and a fast rate, centred in its fixed box, with the calipers, their drag
limits, the leads' ticks, the device's beat and the attribution on the same shifted time axis; and
the serial comparison's overlaid beats at half true scale or more in a 1366x768 window."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from scipy.signal import find_peaks

from ecgviewer.assets import sample_path
from ecgviewer.gui.median_view import (
    MEDIAN_SPEED,
    MedianView,
    beat_window,
    is_strip,
    median_scores,
    neighbour_rr,
)
from ecgviewer.measure import beats as B
from ecgviewer.measure import signal
from ecgviewer.measurements import FIDUCIALS
from ecgviewer.recording import MedianBeats, make_recording
from ecgviewer.render.options import ViewOptions
from ecgviewer.sources import ArraySource

PX = 3.0  # px per paper mm in the widget tests
FAST = 2.36  # the sample (64 bpm) played this much faster: about 150 bpm


@pytest.fixture(scope="module")
def delineator():
    from ecgviewer.measure.delineate import Delineator

    return Delineator.bundled()


@pytest.fixture(scope="module")
def fast(delineator):
    """The bundled sample at about 150 bpm: its samples played ``FAST`` times faster (every wave
    narrowed with the RR, as no heart does, but the median array then holds three QRS complexes),
    and its measurements."""
    from ecgviewer.io import load
    from ecgviewer.measure.pipeline import measure_recording

    src = load(sample_path())
    rec = make_recording(None, ArraySource(np.asarray(src.signals, np.float32)), src.fs * FAST,
                         list(src.leads), "the sample, faster")  # fmt: skip
    m = measure_recording(rec, delineator)
    assert 140 <= m.values["hr"].value <= 160
    return rec, m


# PTB-XL records of ../shared (skipped without it) at fast rates whose median arrays hold the
# neighbouring beats' QRS complexes whole (a regular rhythm; the sample played faster has them
# smeared by its RR's jitter, its QRS being narrowed too): sinus tachycardia with P waves at
# 121 bpm, atrial flutter without a P wave at 152 bpm
FAST_PTBXL = ("00108", "00017")


@pytest.fixture(params=["sample", "fast", *FAST_PTBXL])
def case(request, sample_measured, fast, delineator):
    """(recording, measurements, whether the median array holds three QRS complexes)."""
    if request.param == "sample":
        return (*sample_measured, False)
    if request.param == "fast":
        return (*fast, False)
    from ecgviewer.io import load
    from ecgviewer.measure.pipeline import measure_recording

    rec = load(request.getfixturevalue("shared") / f"ptbxl/records100/00000/{request.param}_lr.hea")
    return rec, measure_recording(rec, delineator), True


def shown(qtbot, m) -> MedianView:
    view = MedianView()
    qtbot.addWidget(view)
    view.resize(1100, 800)
    view.show()
    qtbot.waitExposed(view)
    view.set_view(ViewOptions(), PX)
    view.set_measurements(m)
    return view


def r_peaks(y: np.ndarray, r_value: float) -> int:
    """QRS complexes in a median beat's samples (NaN: not drawn): peaks of R's polarity at half
    its height or more, 200 ms apart at least."""
    s = np.nan_to_num(np.sign(r_value) * (y - np.nanmedian(y)), nan=-np.inf)
    height = 0.5 * abs(r_value - np.nanmedian(y))
    return len(find_peaks(s, height=height, distance=round(0.2 * signal.FS))[0])


def test_each_box_holds_one_complex_centred_with_its_calipers_on_it(qtbot, case):
    _rec, m, three = case
    view = shown(qtbot, m)
    lo, hi = view.window
    assert (lo, hi) == beat_window(m)
    f = m.auto_fiducials
    before, after = neighbour_rr(m)
    # the window holds the beat's QRS and T, and stops short of the neighbours' QRS complexes
    assert -before + f["qrs_off"] < 1000 * lo <= f["qrs_on"] and f["t_off"] <= 1000 * hi < after + f["qrs_on"]
    page = view.page
    beats = [(p, box) for p, box in zip(page.panels, view.boxes, strict=False) if not is_strip(p, page)]
    r_x = {}
    for p, box in beats:
        x, y = box.ours.getData()
        drawn = np.isfinite(y)
        xd = x[drawn]
        # only the window is drawn (its ends within a sample), centred in the fixed box (60 mm:
        # 1.2 s at 50 mm/s)
        step = MEDIAN_SPEED / signal.FS
        assert 0 <= xd[0] - (x[B.PRE] + lo * MEDIAN_SPEED) < step + 1e-9
        assert 0 <= (x[B.PRE] + hi * MEDIAN_SPEED) - xd[-1] < step + 1e-9
        rect = box.rect()
        assert rect.width() == pytest.approx(60.0)
        assert (xd[0] + xd[-1]) / 2 == pytest.approx(rect.center().x(), abs=1.0)
        assert rect.left() < xd[0] and xd[-1] < rect.right()
        r_x.setdefault(p.col, x[B.PRE])  # R, sample B.PRE of the median array, drawn
        assert x[B.PRE] == pytest.approx(r_x[p.col])
        # the lead's own fiducial ticks, where its fiducials are on the drawn beat
        i = m.leads.index(p.lead)
        ticks = box.ticks.getData()[0][::2]
        want = [ms for ms in m.lead_fiducials[i].values() if ms is not None and 1000 * lo <= ms <= 1000 * hi]
        np.testing.assert_allclose(ticks, [x[B.PRE] + ms / 1000 * MEDIAN_SPEED for ms in want], atol=1e-6)
    # exactly one QRS in lead II's box
    p, box = next((p, box) for p, box in beats if p.lead == "II")
    i = m.leads.index("II")
    r_value = float(m.median[i, B.PRE])
    drawn_mv = (box.ours.getData()[1] - p.y) / (p.sign * page.gain)
    assert r_peaks(drawn_mv, r_value) == 1
    if three:  # what the box showed when it drew the whole array
        assert r_peaks(m.median[i].astype(float), r_value) == 3
    # each fiducial's line at its ms from R on the shifted axis, in every column; the outer lines'
    # drag limits are the drawn window's ends
    shown_keys = [k for k in FIDUCIALS if k in view.lines]
    assert shown_keys and all(m.fiducials[k] is not None for k in shown_keys)
    for key in shown_keys:
        for c, line in enumerate(view.lines[key]):
            assert line.value() == pytest.approx(r_x[c] + m.fiducials[key] / 1000 * MEDIAN_SPEED, abs=1e-6)
    for c in range(4):
        first, last = view.lines[shown_keys[0]][c], view.lines[shown_keys[-1]][c]
        assert first.maxRange[0] == pytest.approx(r_x[c] + lo * MEDIAN_SPEED, abs=1e-6)
        assert last.maxRange[1] == pytest.approx(r_x[c] + hi * MEDIAN_SPEED, abs=1e-6)


def test_the_device_median_and_the_attribution_keep_to_the_window(qtbot, fast):
    _rec, m = fast
    view = shown(qtbot, m)
    lo, hi = view.window
    # the device's beat (here our own median, as a file would carry it) is drawn where ours is
    view.set_device_median(MedianBeats(signal.FS, m.leads, m.median))
    assert view.device_shift_ms == pytest.approx(0.0)
    page = view.page
    for p, box in zip(page.panels, view.boxes, strict=False):
        if is_strip(p, page):
            continue
        x, y = box.ours.getData()
        tx, ty = box.theirs.getData()
        np.testing.assert_array_equal(np.isfinite(ty), np.isfinite(y))
        np.testing.assert_allclose(tx, x)
    # the attribution (every lead's token, 0.96 s around R) is shaded over the drawn beat only
    att = SimpleNamespace(n_beats=np.ones(12), beats=np.linspace(-1, 1, 12), samples=None)
    view.set_attribution(median_scores(att, m.leads, "test"), 0.6)
    fills = view.shading._fills
    assert len(fills) == 12
    for p in page.panels:
        if is_strip(p, page):
            continue
        x0, x1 = p.x + (lo - p.t0) * MEDIAN_SPEED, p.x + (hi - p.t0) * MEDIAN_SPEED
        rect = next(
            r for r, _c in fills if r.top() < p.y < r.top() + page.row_pitch and p.x <= r.x() <= p.x + p.width
        )
        assert rect.left() == pytest.approx(x0, abs=1e-6) and rect.right() == pytest.approx(x1, abs=1e-6)


@pytest.mark.parametrize("library", [False, True])
def test_serial_median_beats_are_readable_at_1366x768(
    qtbot, window, sample_measured, fast, delineator, library
):
    """At 1366x768 (and with the Library dock open too) the overlaid median beats are drawn at
    half true scale or more, each page and the beats say the scale they are drawn at, and each
    ECG's beat is drawn over its own window."""
    from PySide6 import QtWidgets

    from ecgviewer.analysis import analyse
    from ecgviewer.gui.serial_view import Side

    w = window
    w.resize(1366, 768)
    if library:
        w.show_library()
    sides = [Side(rec, analyse(rec, delineator=delineator), when)
             for rec, when in ((sample_measured[0], "2024-05-02"), (fast[0], "2021-03-04"))]  # fmt: skip
    s = w.serial
    s.set_view(w.paper.options, w.paper.px_per_mm)
    s.set_pair(*sides)
    w.views.setTabEnabled(2, True)
    w.views.setCurrentIndex(2)
    for _ in range(5):
        QtWidgets.QApplication.processEvents()
    v = s.median
    (x0, x1), _ = v.vb.viewRange()
    drawn = v.vb.width() / (x1 - x0) / v.px_per_mm  # screen px per paper mm, over true scale's
    assert w.width() <= 1366 and s.width() < 1366
    assert drawn >= 0.5 and drawn == pytest.approx(v.zoom, rel=1e-3), (s.size(), v.size(), drawn)
    assert f"(shown at \u00d7{v.zoom:.2f} to fit the view)" in v.footer_text() or v.zoom == 1.0
    assert "50 mm/s, 10 mm/mV" in v.footer_text()
    for label, paper in ((s.this_label, s.this_paper), (s.earlier_label, s.earlier_paper)):
        scale = "true scale" if abs(paper.zoom - 1) < 1e-6 else f"shown at \u00d7{paper.zoom:.2f}"
        assert label.text().endswith(f"25 mm/s, 10 mm/mV ({scale})"), label.text()
        view = paper.vb.viewRect()  # the pages still whole in view
        assert view.left() <= 0.01 and view.top() <= 0.01
        assert view.right() >= paper.page.width - 0.01 and view.bottom() >= paper.page.height - 0.01
    # ours is this ECG's complex, the earlier one (blue) its own, both R on R
    this, earlier = (side.found.measurements for side in sides)
    box = next(b for p, b in zip(v.page.panels, v.boxes, strict=False) if p.lead == "II")
    x, y = box.ours.getData()
    tx, ty = box.theirs.getData()
    for xs, ys, m in ((x, y, this), (tx, ty, earlier)):
        lo, hi = beat_window(m)
        xd = xs[np.isfinite(ys)]
        assert xd[0] == pytest.approx(x[B.PRE] + lo * MEDIAN_SPEED, abs=0.21)
        assert xd[-1] == pytest.approx(x[B.PRE] + hi * MEDIAN_SPEED, abs=0.21)
