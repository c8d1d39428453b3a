"""The beat list's rhythm in numbers (``measure.rhythm_features``), on beat lists whose rhythm is known."""

from __future__ import annotations

import numpy as np
import pytest

from ecgviewer.measure import rhythm as R
from ecgviewer.measure import rhythm_features as RF


def beat_list(rr_ms: list[float], kinds: list[int] | None = None, p_wave: bool = True) -> R.BeatList:
    """A 10 s beat list with these RR intervals (the first beat at 0.5 s), P waves 160 ms before
    the QRS (or none) and a QRS of 90 ms."""
    t = 0.5 + np.r_[0.0, np.cumsum(rr_ms)] / 1000
    n = len(t)
    fid = np.full((len(R.BEAT_FIDUCIALS), n), np.nan)
    fid[R.BEAT_FIDUCIALS.index("qrs_on")], fid[R.BEAT_FIDUCIALS.index("qrs_off")] = -40.0, 50.0
    if p_wave:
        fid[R.BEAT_FIDUCIALS.index("p_on")] = -200.0
    kind = np.zeros(n, np.int8) if kinds is None else np.asarray(kinds, np.int8)
    return R.BeatList(t, kind, np.r_[np.nan, rr_ms], fid, (), np.zeros(0), np.zeros(0), 10.0, ("II",))


def named(beats: R.BeatList) -> dict[str, float]:
    return dict(zip(RF.NAMES, RF.features(beats), strict=True))


def test_a_steady_sinus_rhythm_reads_as_its_rate_with_no_irregularity() -> None:
    f = named(beat_list([800.0] * 11))
    assert f["hr"] == pytest.approx(75.0) and f["hr_min"] == f["hr_max"] == pytest.approx(75.0)
    assert f["rr_cv"] == f["nrmssd"] == f["rr_range"] == f["rr_step"] == 0.0
    assert f["p_share"] == 1.0 and f["pr_ms"] == 160.0 and f["pr_spread_ms"] == 0.0
    assert f["qrs_ms"] == 90.0 and f["wide"] == 0.0 and f["ventricular"] == 0.0
    assert f["bigeminy"] == pytest.approx(0.0) and f["beats_per_min"] == pytest.approx(72.0)


def test_ventricular_bigeminy_is_an_alternating_pattern() -> None:
    """Every other beat ventricular, early, each followed by a pause: the pattern features say so,
    and a sinus rhythm with one premature beat does not."""
    rr = [1000.0, 600.0] * 6
    kinds = [R.NORMAL, R.VENTRICULAR] * 6 + [R.NORMAL]
    f = named(beat_list(rr, kinds))
    assert f["bigeminy"] == pytest.approx(1.0, abs=0.05) and f["ventricular"] == pytest.approx(6 / 13)
    assert f["rr_alternation"] == 1.0 and f["trigeminy"] < 0.5
    one = [800.0] * 5 + [500.0, 1100.0] + [800.0] * 5
    g = named(beat_list(one, [R.NORMAL] * 6 + [R.VENTRICULAR] + [R.NORMAL] * 6))
    assert g["bigeminy"] < 0.2 and g["rr_alternation"] < 0.3


def test_no_p_wave_and_an_irregular_rhythm_are_measured_as_such() -> None:
    rng = np.random.default_rng(0)
    f = named(beat_list(list(rng.uniform(450, 1000, 14)), p_wave=False))
    assert f["p_share"] == 0.0 and np.isnan(f["pr_ms"]) and f["rr_cv"] > 0.15


def test_an_empty_beat_list_has_nothing_but_its_rate_of_none() -> None:
    f = named(beat_list([]))  # one beat, no RR
    assert np.isnan(f["hr"]) and np.isnan(f["rr_cv"]) and np.isnan(f["bigeminy"])
    assert f["beats_per_min"] == pytest.approx(6.0) and len(RF.features(beat_list([]))) == len(RF.NAMES)
