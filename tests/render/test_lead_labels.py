"""Lead labels never sit under their trace (issue 73: V2, V3, V5 and V6 were drawn under LBBB's tall
complexes): ``layout.label_position`` moves a label right, along its band's top, off the trace."""

from __future__ import annotations

import numpy as np
import pytest

from ecgviewer.dsp.filters import DisplayFilter
from ecgviewer.leads import STANDARD_LEADS
from ecgviewer.recording import make_recording
from ecgviewer.render.layout import LABEL_SEARCH_MM, label_position, page_layout
from ecgviewer.render.traces import TraceSource, page_traces
from ecgviewer.sources import ArraySource

SIZE = (6.0, 3.5)  # mm, a two-character label


def under(x: float, y: float, size: tuple[float, float], trace) -> int:
    """Steps of the trace (sample to sample) that pass through the label's box (its top-left at
    x, y; y up)."""
    tx, ty = (np.asarray(a, dtype=float) for a in trace)
    w, h = size
    lo, hi = np.fmin(ty[:-1], ty[1:]), np.fmax(ty[:-1], ty[1:])
    return int(((tx[:-1] >= x) & (tx[:-1] <= x + w) & (lo <= y) & (hi >= y - h)).sum())


def tall_at_start(fs: float = 500.0) -> tuple:
    """Complexes 3.5 mV tall (35 mm at 10 mm/mV: past the band's top) starting 0.1 s into every
    2.5 s cell, 60 ms wide, then every 0.6 s in the cell."""
    n = int(10 * fs)
    t = np.arange(n) / fs
    data = np.zeros((12, n), np.float32)
    for start in [cell + 0.1 + 0.6 * k for cell in (0.0, 2.5, 5.0, 7.5) for k in range(4)]:
        data[:, (t >= start) & (t < start + 0.06)] = 3.5
    rec = make_recording(None, ArraySource(data), fs, list(STANDARD_LEADS), "synthetic")
    page = page_layout("3x4", rec.leads)
    return page, page_traces(page, TraceSource(rec), DisplayFilter())


def test_a_label_moves_off_a_tall_complex_along_its_bands_top() -> None:
    page, traces = tall_at_start()
    for t in traces:
        p, trace = t.panel, (t.x, t.y)
        x0, top = label_position(page, p)  # where a label stood before: the cell's start
        assert under(x0, top, SIZE, trace) > 0, p.label  # the complex passes under it there
        x, y = label_position(page, p, SIZE, trace)
        assert y == top and p.x < x <= p.x + 1.0 + LABEL_SEARCH_MM, p.label
        assert under(x, y, SIZE, trace) == 0, (p.label, x)


def test_a_label_stays_at_the_cells_start_when_nothing_is_under_it() -> None:
    page, traces = tall_at_start()
    flat = traces[0]
    assert label_position(page, flat.panel, SIZE, (flat.x, np.zeros_like(flat.y) + flat.panel.y)) == (
        label_position(page, flat.panel)
    )
    assert label_position(page, flat.panel, SIZE, None) == label_position(page, flat.panel)


def test_no_label_under_the_trace_of_a_left_bundle_branch_block_on_screen(qtbot, window, shared) -> None:
    """PTB-XL 180 (complete LBBB) in the window, fitted and at true scale: every lead label's box,
    at the size its font has on the paper at that zoom, is crossed by no step of its trace."""
    record = shared / "ptbxl" / "records100" / "00000" / "00180_lr.hea"
    if not record.is_file():
        pytest.skip("PTB-XL 180 is not in the shared data")
    window.open_file(record)
    qtbot.waitUntil(lambda: window.recording is not None and bool(window.paper.traces), timeout=20000)
    paper = window.paper
    crossed_at_start = 0  # labels the trace would cross at their cell's start, where they stood
    for zoom in ("fitted", "true scale"):
        if zoom == "true scale":
            paper.true_scale()
        drawn = {id(t.panel): (t.x, t.y) for t in paper.traces}
        for p, box in zip(paper.page.panels, paper.label_boxes(), strict=True):
            size, top = (box.width(), box.height()), box.y() + box.height()
            assert under(box.x(), top, size, drawn[id(p)]) == 0, (zoom, p.label, box.x() - p.x)
            crossed_at_start += under(*label_position(paper.page, p), size, drawn[id(p)]) > 0
    assert crossed_at_start >= 2  # V2, V3, V5, V6 were drawn under the trace (issue 73)
