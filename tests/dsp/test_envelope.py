"""``dsp.envelope``: per-bin min/max read chunk by chunk, equal to the whole-array answer."""

from __future__ import annotations

import numpy as np
import pytest

from ecgviewer.dsp import envelope as E
from ecgviewer.sources import ArraySource


@pytest.mark.parametrize("n_bins", [1, 7, 100, 5000])
def test_bins_hold_the_min_and_max_of_their_samples(monkeypatch: pytest.MonkeyPatch, n_bins: int) -> None:
    monkeypatch.setattr(E, "CHUNK", 1000)  # several chunks, bins across none of their edges
    data = np.random.default_rng(0).normal(size=(2, 4321)).astype(np.float32)
    lo, hi, per_bin = E.envelope(ArraySource(data), 1, n_bins)
    assert per_bin == -(-4321 // n_bins) and len(lo) == len(hi) == -(-4321 // per_bin)
    for b in range(len(lo)):
        part = data[1, b * per_bin : (b + 1) * per_bin]
        assert lo[b] == part.min() and hi[b] == part.max()


def test_gaps_stay_gaps_and_cancel_leaves_the_rest_unread(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(E, "CHUNK", 100)
    data = np.ones((1, 1000), np.float32)
    data[0, :50] = np.nan  # a gap of exactly one bin
    lo, hi, _ = E.envelope(ArraySource(data), 0, 20)
    assert np.isnan(lo[0]) and np.isnan(hi[0]) and (lo[1:] == 1).all()
    seen = []
    lo, _, _ = E.envelope(ArraySource(data), 0, 20, progress=lambda f: seen.append(f) or False)
    assert seen == [0.1] and np.isfinite(lo[:2]).sum() == 1 and np.isnan(lo[2:]).all()
