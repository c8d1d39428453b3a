"""The dominant beat in numbers (``measure.beat_shape_features``), on a synthetic recording whose
amplitudes and intervals are known, with the beat list's R times and fiducials given."""

from __future__ import annotations

import numpy as np
import pytest

from ecgviewer.leads import STANDARD_LEADS
from ecgviewer.measure import beat_shape_features as S
from ecgviewer.measure import rhythm as R
from ecgviewer.recording import make_recording
from ecgviewer.sources import ArraySource

FS = 100.0
RR_S = 0.8
# each lead's wave amplitudes (mV): P, R, S, ST plateau, T; V5 with high R and ST depression,
# V1 with a deep S and an inverted T
SHAPES = {lead: (0.1, 1.0, 0.2, 0.0, 0.3) for lead in STANDARD_LEADS}
SHAPES["V5"] = (0.1, 2.5, 0.0, -0.15, -0.2)
SHAPES["V1"] = (0.05, 0.3, 1.5, 0.0, -0.3)


def _gauss(t: np.ndarray, at: float, width: float) -> np.ndarray:
    return np.exp(-0.5 * ((t - at) / width) ** 2)


def recording(seconds: float, without: str | None = None):
    """Beats every RR_S: P at -160 ms, R at 0 (10 ms wide), S at +30 ms, an ST plateau from 50 to
    150 ms and a T at 250 ms; the beat list that found them (all normal, fiducials given)."""
    n = round(seconds * FS)
    r_s = np.arange(0.6, seconds - 1.0, RR_S)
    d = np.arange(-50, 51) / FS  # one beat, placed at every R
    plateau = np.clip((d - 0.04) / 0.02, 0, 1) * np.clip((0.17 - d) / 0.04, 0, 1)
    x = np.zeros((len(STANDARD_LEADS), n + len(d)), np.float32)
    for k, lead in enumerate(STANDARD_LEADS):
        p, r, s, st, tw = SHAPES[lead]
        beat = (p * _gauss(d, -0.16, 0.02) + r * _gauss(d, 0.0, 0.008) - s * _gauss(d, 0.03, 0.008)
                + st * plateau + tw * _gauss(d, 0.25, 0.04))  # fmt: skip
        for c in np.round(r_s * FS).astype(int):
            x[k, c : c + len(d)] += beat
    x = x[:, 50 : 50 + n]
    leads = [lead for lead in STANDARD_LEADS if lead != without]
    rows = [STANDARD_LEADS.index(lead) for lead in leads]
    rec = make_recording(None, ArraySource(x[rows]), FS, leads, "synthetic")
    fid = np.zeros((len(R.BEAT_FIDUCIALS), len(r_s)))
    for name, ms in (
        ("p_on", -200.0),
        ("p_off", -120.0),
        ("qrs_on", -40.0),
        ("qrs_off", 50.0),
        ("t_off", 380.0),
    ):
        fid[R.BEAT_FIDUCIALS.index(name)] = ms
    rr = np.r_[np.nan, np.diff(r_s) * 1000]
    beats = R.BeatList(
        r_s, np.zeros(len(r_s), np.int8), rr, fid, (), np.zeros(0), np.zeros(0), seconds, ("II",)
    )
    return rec, beats


def named(rec, beats) -> dict[str, float]:
    return dict(zip(S.NAMES, S.features(rec, beats), strict=True))


def test_the_median_beat_reads_the_known_amplitudes_and_intervals() -> None:
    f = named(*recording(10.0))
    assert f["pr_ms"] == 160.0 and f["qrs_ms"] == 90.0 and f["qt_ms"] == 420.0
    assert f["qtc_ms"] == pytest.approx(420.0 / np.sqrt(RR_S))
    assert f["V5_r"] == pytest.approx(2.5, abs=0.25) and f["V1_s"] == pytest.approx(1.5, abs=0.25)
    assert f["V5_st_60"] == pytest.approx(-0.15, abs=0.05) and abs(f["II_st_60"]) < 0.05
    assert f["V1_t_min"] < -0.2 and f["II_t_max"] > 0.2 and f["II_p_max"] == pytest.approx(0.1, abs=0.03)
    assert f["V5_area"] > 0 > f["V1_area"]


def test_a_long_recording_reads_as_a_short_one_from_a_bounded_number_of_beats() -> None:
    short, long = (S.features(*recording(s)) for s in (10.0, 600.0))
    assert len(recording(600.0)[1].t_s) > 5 * S.MAX_BEATS
    assert np.allclose(short, long, atol=0.02, equal_nan=True)


def test_what_is_not_there_is_not_measured() -> None:
    f = named(*recording(10.0, without="V3"))
    assert np.isnan(f["V3_r"]) and np.isnan(f["V3_st_60"]) and np.isfinite(f["V4_r"])
    rec, beats = recording(10.0)
    none_normal = R.BeatList(beats.t_s, np.full(len(beats.t_s), R.VENTRICULAR, np.int8), beats.rr_ms,
                             beats.fiducials_ms, (), np.zeros(0), np.zeros(0), 10.0, ("II",))  # fmt: skip
    assert np.isnan(S.features(rec, none_normal)).all()
    no_p = beats.fiducials_ms.copy()
    no_p[R.BEAT_FIDUCIALS.index("p_on")] = np.nan
    g = named(
        rec, R.BeatList(beats.t_s, beats.kind, beats.rr_ms, no_p, (), np.zeros(0), np.zeros(0), 10.0, ("II",))
    )
    assert np.isnan(g["pr_ms"]) and np.isnan(g["II_p_max"]) and np.isfinite(g["II_r"])
