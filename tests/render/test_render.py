"""The picture is true to scale: measured in the pixels of rendered pages."""

from __future__ import annotations

import numpy as np
import pytest

from ecgviewer.dsp.filters import DisplayFilter
from ecgviewer.gui.export import render_image
from ecgviewer.render.options import MM_PER_INCH, THEMES, ViewOptions
from ecgviewer.render.painting import image_array
from tests.helpers import mask, synthetic

UNFILTERED = DisplayFilter()
LIGHT = THEMES["light"]


def render(rec, dpi, **opts):
    options = ViewOptions(filter=UNFILTERED, **opts)
    arr = image_array(render_image(rec, options, dpi=dpi))
    return arr, dpi / MM_PER_INCH


def spacing(positions: np.ndarray) -> float:
    """Slope of a line fit through the positions of evenly spaced features (sub-pixel)."""
    return float(np.polyfit(np.arange(positions.size), positions, 1)[0])


def runs(flags: np.ndarray) -> np.ndarray:
    """Centres of the runs of True in a 1-D boolean array."""
    edges = np.flatnonzero(np.diff(np.r_[0, flags.astype(int), 0]))
    return (edges[0::2] + edges[1::2] - 1) / 2


@pytest.mark.parametrize("dpi", [254.0, 300.0])
@pytest.mark.parametrize("speed", [25.0, 50.0])
def test_grid_pitch_is_one_and_five_mm(dpi, speed):
    arr, ppm = render(synthetic(), dpi, speed=speed)
    row = arr[int(2.5 * ppm)]  # in the top margin: only vertical grid lines cross it
    major = runs(mask(row, LIGHT.major, tol=60))
    minor = runs(mask(row, LIGHT.minor, tol=30))
    assert major.size >= 50
    assert spacing(major) == pytest.approx(5 * ppm, rel=0.003)
    # between two major lines there are four minor ones, 1 mm apart
    first = minor[(minor > major[1]) & (minor < major[2])]
    assert first.size == 4
    assert np.diff(first) == pytest.approx(np.full(3, ppm), abs=1.0)


@pytest.mark.parametrize("speed", [25.0, 50.0])
def test_one_second_is_speed_mm(speed):
    """Spikes 1 s apart on a 12x1 page are ``speed`` mm apart."""
    rec = synthetic(seconds=12.0)
    arr, ppm = render(rec, 254.0, speed=speed, layout="12x1")
    from ecgviewer.render.layout import page_layout

    first = page_layout("12x1", rec.leads, speed=speed).panels[0]
    page_top = int(5 * ppm)
    band = arr[page_top : page_top + int(17 * ppm), int(first.x * ppm) :]  # lead I, right of the pulse
    spikes = runs(mask(band, LIGHT.ink, tol=60).sum(axis=0) > 0.6 * ppm * 10 * 0.8)
    assert spikes.size >= 4
    assert spacing(spikes) == pytest.approx(speed * ppm, rel=0.005)


@pytest.mark.parametrize("gain", [5.0, 10.0, 20.0])
def test_calibration_pulse_and_signal_are_gain_mm_per_mv(gain):
    rec = synthetic(spike_mv=1.0)
    arr, ppm = render(rec, 254.0, gain=gain, layout="3x4")
    from ecgviewer.render.layout import page_layout

    page = page_layout("3x4", rec.leads, gain=gain)
    ink = mask(arr, LIGHT.ink, tol=60)
    # calibration pulse of row 0: the tallest ink column inside the pulse's width
    x0 = int((page.pulse_x + 0.3 * page.pulse_width) * ppm)
    x1 = int((page.pulse_x + 0.7 * page.pulse_width) * ppm)
    top_band = slice(
        int((page.height - page.row_baselines[0] - page.row_pitch / 2) * ppm),
        int((page.height - page.row_baselines[0] + 1) * ppm),
    )
    cols = ink[top_band, x0:x1]
    rows = np.flatnonzero(cols.any(axis=1))
    baseline_px = (page.height - page.row_baselines[0]) * ppm
    assert baseline_px - (rows.min() + top_band.start) == pytest.approx(gain * ppm, abs=1.5)
    # a 1 mV spike of lead I rises gain mm above its 0.00 mV baseline (lead I offset is 0)
    p = page.panels[0]  # inside its edges: the next panel's first sample lies on the boundary
    xs = slice(int(p.x * ppm) + 2, int((p.x + p.width) * ppm) - 2)
    spike_top = np.flatnonzero(ink[top_band, xs].any(axis=1)).min() + top_band.start
    assert baseline_px - spike_top == pytest.approx(gain * ppm, abs=1.5)


def test_every_layout_renders_each_lead_in_its_panel():
    """Lead k carries a spike of (k+1)*0.1 mV: the tallest spike in each panel tells the lead."""
    from ecgviewer.leads import STANDARD_LEADS
    from ecgviewer.recording import make_recording
    from ecgviewer.render.layout import LAYOUTS, page_layout
    from ecgviewer.sources import ArraySource

    fs, n = 500.0, 5000
    data = np.zeros((12, n), np.float32)
    for k in range(12):
        data[k, 100::250] = (k + 1) * 0.1
    rec = make_recording(None, ArraySource(data), fs, list(STANDARD_LEADS), "test")
    for layout in LAYOUTS:
        for order in ("standard", "cabrera"):
            arr, ppm = render(rec, 127.0, layout=layout, order=order)
            ink = mask(arr, LIGHT.ink, tol=60)
            page = page_layout(layout, rec.leads, order=order)
            for p in page.panels:
                base = (page.height - p.y) * ppm
                rows = slice(int(base - page.row_pitch / 2 * ppm), int(base + page.row_pitch / 2 * ppm))
                cols = slice(int(p.x * ppm) + 2, int((p.x + p.width) * ppm) - 2)
                hit = np.flatnonzero(ink[rows, cols].any(axis=1)) + rows.start
                k = STANDARD_LEADS.index(p.lead)
                height_mm = p.sign * (base - (hit.min() if p.sign > 0 else hit.max())) / ppm
                assert height_mm == pytest.approx((k + 1) * 0.1 * 10, abs=0.6), (layout, order, p.label)


def test_peak_downsampling_keeps_extremes():
    """Zoomed far out, the drawn curve still reaches every QRS-sized extreme."""
    from PySide6 import QtWidgets

    from ecgviewer.gui.paper import PaperView

    rec = synthetic(seconds=10.0, fs=10000.0)
    view = PaperView()
    view.resize(800, 400)
    view.show()
    view.set_options(ViewOptions(filter=UNFILTERED, layout="12x1"))
    view.set_recording(rec)
    view.fit_page()
    QtWidgets.QApplication.processEvents()
    item = view._trace_items[0]
    x, y = item.getData()
    assert x.size < rec.n_samples / 4  # decimated...
    assert np.nanmax(y) == pytest.approx(view.traces[0].y.max())  # ...but the spikes survive
    view.close()
