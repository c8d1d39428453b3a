"""``render.traces``: each panel's samples placed in paper millimetres, true to speed and gain."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pytest

from ecgviewer.dsp.filters import DisplayFilter
from ecgviewer.render.layout import page_layout
from ecgviewer.render.traces import TraceSource, page_traces
from tests.helpers import synthetic


@pytest.mark.parametrize(("layout", "speed", "gain"), [("3x4", 25.0, 10.0), ("12x1", 50.0, 20.0)])
def test_a_spike_lands_where_speed_and_gain_put_it(layout: str, speed: float, gain: float) -> None:
    rec = synthetic(seconds=10.0, fs=500.0, spike_mv=1.0)  # spikes at 0.5, 1.5, ... s
    page = page_layout(layout, rec.leads, speed=speed, gain=gain)
    traces = page_traces(page, TraceSource(rec), DisplayFilter())
    assert {t.panel.lead for t in traces} == set(rec.leads)
    for t in traces:
        p = t.panel
        assert np.all(np.diff(t.x) > 0) and t.x[0] >= p.x - 1e-9
        assert t.x[-1] < p.x + (p.t1 - p.t0) * speed  # samples with t0 <= t < t1 only
        k = int(np.argmax(t.mv))
        t_spike = (t.start + k) / rec.fs
        assert t_spike % 1.0 == pytest.approx(0.5)
        assert t.x[k] == pytest.approx(p.x + (t_spike - p.t0) * speed)
        assert t.y[k] - p.y == pytest.approx(p.sign * gain * t.mv[k], abs=1e-3)  # float32 mm


def test_a_column_boundary_sample_belongs_to_the_next_column() -> None:
    rec = synthetic(seconds=10.0, fs=500.0)
    page = page_layout("3x4", rec.leads)
    traces = page_traces(page, TraceSource(rec), DisplayFilter())
    by_row: dict[float, list] = {}
    for t in traces:
        by_row.setdefault(t.panel.y, []).append(t)
    for row in by_row.values():
        row.sort(key=lambda t: t.panel.t0)
        for a, b in pairwise(row):
            assert a.start + a.mv.size == b.start  # no sample twice, none lost
