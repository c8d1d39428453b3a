"""Issue 74 part 6: the synthetic electrode-motion artefact the beat classifier learns from (so
that EC57's own ``em`` record, which its noise stress test adds, is never learnt from)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import welch

from training.validate import noise_stress as NS
from training.validate.motion import motion_noise

FS = 360.0


def test_unit_rms_leads_that_share_a_movement_and_a_fixed_draw_per_seed():
    x = motion_noise(round(600 * FS), FS, 2, seed=3)
    assert x.shape == (2, round(600 * FS)) and np.isfinite(x).all()
    assert np.sqrt((x**2).mean(axis=1)) == pytest.approx([1.0, 1.0], abs=1e-6)
    r = np.corrcoef(x)[0, 1]
    assert 0.2 < r < 0.95  # one movement, two interfaces
    assert np.array_equal(x, motion_noise(round(600 * FS), FS, 2, seed=3))
    assert not np.allclose(x, motion_noise(round(600 * FS), FS, 2, seed=4))


def test_its_power_lies_where_the_waves_are_and_comes_in_bursts():
    x = motion_noise(round(600 * FS), FS, 1, seed=0)[0]
    f, p = welch(x, FS, nperseg=4096)
    assert p[(f >= 0.5) & (f <= 15)].sum() > 0.6 * p.sum() and p[f > 15].sum() < 0.1 * p.sum()  # not muscle's
    level = np.sqrt(np.convolve(x**2, np.ones(round(2 * FS)) / round(2 * FS), mode="valid"))
    assert np.quantile(level, 0.9) > 2 * np.quantile(level, 0.1)  # quiet stretches and bursts


def test_training_copies_get_a_noise_record_or_motion_seeded_by_the_record(shared):
    mitdb = shared / "mitdb"
    ma = NS.training_noise(mitdb, "ma", (2, 1000), FS, "101")
    assert np.array_equal(ma, NS.noise_half(mitdb, "ma", 0))
    a, b = (NS.training_noise(mitdb, "motion", (2, 5000), FS, name) for name in ("101", "106"))
    assert a.shape == (2, 5000) and not np.allclose(a, b)
    assert np.array_equal(a, NS.training_noise(mitdb, "motion", (2, 5000), FS, "101"))


def test_a_jump_at_the_last_sample_leaves_the_noise_finite(monkeypatch):
    """A jump has no shape before its second sample: one at the very end is left out (it divided
    by zero and made a training crop NaN)."""
    import training.validate.motion as M

    monkeypatch.setattr(M, "TRANSIENTS_PER_S", 200.0)  # a jump at most samples
    assert all(np.isfinite(motion_noise(500, 250.0, 3, seed=s)).all() for s in range(5))
