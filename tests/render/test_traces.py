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


def test_peak_decimate_keeps_every_extreme_at_its_own_time():
    from ecgviewer.render.traces import peak_decimate

    rng = np.random.default_rng(1)
    x = np.arange(10_001) * 0.05  # 500 Hz at 25 mm/s: 0.05 mm a sample
    y = rng.standard_normal(x.size)
    y[[17, 4_000, 9_999]] = [9.0, -9.0, 8.0]
    dx, dy = peak_decimate(x, y, step=0.5)  # 10 samples a pixel
    assert dx.size <= 2 * x.size // 10 + 10
    assert np.all(np.diff(dx) >= 0)  # time order
    for i in (17, 4_000, 9_999):
        assert x[i] in dx and dy[np.searchsorted(dx, x[i])] == y[i]
    # each pixel's range is what the samples span there
    k = 10
    blocks = y[: x.size - x.size % k].reshape(-1, k)
    np.testing.assert_array_equal(dy[: 2 * blocks.shape[0]].reshape(-1, 2).max(1), blocks.max(1))
    np.testing.assert_array_equal(dy[: 2 * blocks.shape[0]].reshape(-1, 2).min(1), blocks.min(1))


def test_peak_decimate_leaves_sparse_or_gapped_traces_whole():
    from ecgviewer.render.traces import peak_decimate

    x = np.arange(100) * 0.05
    y = np.sin(x)
    assert peak_decimate(x, y, step=0.1)[0].size == 100  # two samples a pixel: nothing to gain
    y[10] = np.nan
    assert peak_decimate(x, y, step=1.0)[1].size == 100
