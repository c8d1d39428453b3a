"""Interpretation statements (issue 26): each criterion met by a median beat built to meet it,
and not by one built not to; the values that met it are reported; paced rhythms say only the rate."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from ecgviewer.leads import STANDARD_LEADS as LEADS
from ecgviewer.measure import beats as B
from ecgviewer.measure import signal
from ecgviewer.measure.intervals import IRREGULAR_CV, Measurements, Value, values
from ecgviewer.measure.statements import CRITERIA, statements

Waves = dict[str, list[tuple[float, float, float]]]  # lead -> (ms from R, mV, width ms) gaussians
NORMAL: Waves = {
    "V1": [(-20, 0.2, 8), (10, -1.0, 12)],  # rS
    "I": [(-25, -0.15, 4), (0, 0.8, 10), (25, -0.1, 6)],  # small q, R, small s
    "V5": [(-25, -0.15, 4), (0, 1.0, 10), (25, -0.1, 6)],
    "V6": [(-25, -0.15, 4), (0, 0.8, 10), (25, -0.1, 6)],
    "II": [(0, 1.0, 10)],
    "III": [(0, 0.5, 10)],
    "aVL": [(0, 0.4, 10)],
    "aVF": [(0, 0.7, 10)],
    "aVR": [(0, -0.8, 10)],
    "V2": [(-15, 0.3, 8), (10, -1.2, 12)],
    "V3": [(0, 0.8, 10), (20, -0.8, 10)],
    "V4": [(0, 1.2, 10), (25, -0.3, 8)],
}
LBBB: Waves = NORMAL | {
    "V1": [(-40, 0.1, 6), (30, -2.0, 35)],  # QS-like, deep and wide
    "I": [(40, 1.0, 30)],  # broad R, late peak, no q
    "V5": [(40, 1.5, 30)],
    "V6": [(40, 1.2, 30)],
}
RBBB: Waves = NORMAL | {
    "V1": [(-40, 0.2, 8), (-15, -0.3, 8), (40, 0.9, 15)],  # rsR'
    "I": [(-30, 0.8, 10), (30, -0.3, 25)],  # R, then a wide S
    "V6": [(-30, 0.8, 10), (30, -0.3, 25)],
}


def _median(waves: Waves) -> np.ndarray:
    t = (np.arange(B.PRE + B.POST) - B.PRE) * 1000 / signal.FS
    out = np.zeros((len(LEADS), len(t)), np.float32)
    for lead, parts in waves.items():
        for at, mv, width in parts:
            out[LEADS.index(lead)] += mv * np.exp(-0.5 * ((t - at) / width) ** 2)
    return out


def _measured(waves: Waves = NORMAL, qrs: tuple[float, float] = (-50, 50), hr: float = 75, pr: float = 160,
              qt: float = 380, p: bool = True, rr_ms: np.ndarray | None = None,
              reasons: tuple[str, ...] | None = None,
              withheld: dict[str, str] | None = None) -> Measurements:  # fmt: skip
    """Measurements of a median beat made of ``waves``, with the global fiducials placed for the
    wanted QRS, PR and QT, and beats at ``rr_ms`` (regular at ``hr`` by default)."""
    on, off = qrs
    fid = {"p_on": on - pr if p else None, "p_off": on - 40 if p else None, "qrs_on": on, "qrs_off": off,
           "t_on": off + 60, "t_off": on + qt}  # fmt: skip
    rr = np.full(12, 60000 / hr) if rr_ms is None else rr_ms
    r_times = np.concatenate([[0.5], 0.5 + np.cumsum(rr) / 1000])
    m = Measurements(
        leads=LEADS, present=np.ones(len(LEADS), bool), median=_median(waves),
        lead_fiducials=tuple(dict(fid) for _ in LEADS), fiducials=fid, auto_fiducials=dict(fid),
        r_times=r_times, beat_reasons=reasons or ("",) * len(r_times),
        values={"hr": Value(round(60000 / float(np.mean(rr))), "bpm"), "rr": Value(float(np.mean(rr)), "ms")},
        withheld=withheld or {},
    )  # fmt: skip
    return replace(m, values=values(m))


def _codes(m: Measurements, sex: str | None = None) -> list[str]:
    return [s.criterion.code for s in statements(m, sex)]


def test_every_statement_names_its_criterion_and_source() -> None:
    for code, c in CRITERIA.items():
        assert c.code == code and c.text and c.rule and c.source


@pytest.mark.parametrize(("hr", "code"), [(50, "SBRAD"), (75, "SR"), (120, "STACH")])
def test_sinus_rate(hr: float, code: str) -> None:
    found = statements(_measured(hr=hr))
    assert found[0].criterion.code == code and found[0].values["rate"] == f"{hr:.0f} bpm"


def _p_waves(axis: float) -> Waves:
    """NORMAL with a 0.15 mV P wave 150 ms before R in the limb leads, of frontal ``axis``."""
    frame = {"I": (0, 1.0), "II": (60, 1.0), "III": (120, 1.0), "aVR": (-150, 0.87), "aVL": (-30, 0.87),
             "aVF": (90, 0.87)}  # fmt: skip
    return NORMAL | {
        lead: [*NORMAL[lead], (-150, 0.15 * gain * math.cos(math.radians(axis - angle)), 15)]
        for lead, (angle, gain) in frame.items()
    }


@pytest.mark.parametrize(("axis", "sinus"), [(60, True), (-15, True), (-60, False), (120, False)])
def test_sinus_p_waves_are_upright_in_i_and_ii(axis: float, sinus: bool) -> None:
    m = _measured(_p_waves(axis))
    assert m.values["p_axis"].value == pytest.approx(axis, abs=3)
    assert ("SR" in _codes(m)) is sinus


def test_premature_beats_leave_the_sinus_rhythm_stated() -> None:
    rr = np.array([800.0] * 5 + [480, 1120] + [800.0] * 5)  # an early beat and the pause after it
    assert np.std(rr) / np.mean(rr) > IRREGULAR_CV  # every RR together reads as irregular
    reasons = ("",) * 6 + ("premature",) + ("",) * 6
    assert _codes(_measured(rr_ms=rr, reasons=reasons))[:1] == ["SR"]
    assert "PRC(S)" in _codes(_measured(rr_ms=rr, reasons=reasons))
    assert "SR" not in _codes(_measured(rr_ms=rr))  # not known to be premature: irregular


def test_atrial_fibrillation_needs_irregular_rr_and_no_p_wave() -> None:
    irregular = np.array([600, 900, 500, 1000, 700, 550, 950, 800, 620, 880.0])
    found = statements(_measured(p=False, rr_ms=irregular, reasons=("", "premature") * 5 + ("",)))
    assert [s.criterion.code for s in found][:1] == ["AFIB"] and "RMSSD" in found[0].values
    assert "PRC(S)" not in [s.criterion.code for s in found]  # every beat is early in AF
    assert "AFIB" not in _codes(_measured(p=True, rr_ms=irregular))  # P waves: not AF
    assert "AFIB" not in _codes(_measured(p=False))  # regular: not AF


def test_atrial_fibrillation_is_the_beat_to_beat_irregularity_of_beats_not_ectopic() -> None:
    slow_af = np.array([800, 900, 760, 880, 790, 910, 770, 870, 800, 900.0])  # rate-controlled
    assert np.std(slow_af) / np.mean(slow_af) < IRREGULAR_CV  # little spread, but no two alike
    assert _codes(_measured(p=False, rr_ms=slow_af))[:1] == ["AFIB"]
    junctional = np.array([800.0] * 5 + [500, 1100] + [800.0] * 5)  # no P, one ventricular beat
    other = ("",) * 6 + ("other QRS morphology (r = 0.20)",) + ("",) * 6
    assert "AFIB" not in _codes(_measured(p=False, rr_ms=junctional, reasons=other))


def test_first_degree_av_block() -> None:
    found = {s.criterion.code: s for s in statements(_measured(pr=240))}
    assert found["1AVB"].values == {"PR": "240 ms"}
    assert "1AVB" not in _codes(_measured(pr=180))


def test_left_bundle_branch_block_complete_and_incomplete() -> None:
    wide = {s.criterion.code: s for s in statements(_measured(LBBB, qrs=(-60, 90)))}
    assert "CLBBB" in wide and "no q in" in wide["CLBBB"].values and "R-peak time" in wide["CLBBB"].values
    assert "ILBBB" in _codes(_measured(LBBB, qrs=(-60, 55)))
    for codes in (_codes(_measured(NORMAL, qrs=(-60, 90))), _codes(_measured(LBBB, qrs=(-50, 50)))):
        assert not {"CLBBB", "ILBBB", "CRBBB", "IRBBB"} & set(codes), codes  # normal shape, or narrow


def test_right_bundle_branch_block() -> None:
    found = {s.criterion.code: s for s in statements(_measured(RBBB, qrs=(-60, 90)))}
    assert found["CRBBB"].values["R' in"] == "V1" and "CLBBB" not in found
    assert "IRBBB" in _codes(_measured(RBBB, qrs=(-60, 55)))


def test_qtc_limits_follow_the_patient_sex_on_a_linear_rate_adjustment() -> None:
    m = _measured(qt=440, hr=75)  # Framingham: 440 + 154 * (1 - 0.8) = 471 ms
    assert {"LNGQT"} <= set(_codes(m, "male")) and {"LNGQT"} <= set(_codes(m, "female"))
    m = _measured(qt=425, hr=75)  # 456 ms: long for a man, not for a woman
    assert "LNGQT" in _codes(m, "male") and "LNGQT" not in _codes(m, "female")
    assert "LNGQT" not in _codes(m)  # sex unknown: the women's limit
    # at 100 bpm Bazett over-corrects: 370 / sqrt(0.6) = 478 ms, linearly 370 + 62 = 432 ms
    fast = _measured(qt=370, hr=100)
    assert fast.values["qtc_bazett"].value > 460 and "LNGQT" not in _codes(fast, "male")
    (found,) = [s for s in statements(_measured(qt=440, hr=75), "male") if s.criterion.code == "LNGQT"]
    assert found.values["QTc (Framingham)"] == "471 ms" and "linear" in found.criterion.rule


def test_voltage_criteria() -> None:
    low = {lead: [(0, 0.3 if lead in ("I", "II", "III", "aVR", "aVL", "aVF") else 1.5, 10)] for lead in LEADS}
    assert "LVOLT" in _codes(_measured(low))
    assert "LVOLT" not in _codes(_measured())
    tall = NORMAL | {"V1": [(-20, 0.2, 8), (10, -2.0, 12)], "V5": [(0, 2.0, 10)], "aVL": [(0, 1.2, 10)],
                     "V3": [(0, 0.5, 10), (20, -1.5, 10)]}  # fmt: skip
    found = {s.criterion.code: s for s in statements(_measured(tall), "female")}
    assert found["LVH"].values["Sokolow-Lyon"].endswith(" mV") and "Cornell" in found["LVH"].values
    assert "Cornell" not in {s.criterion.code: s for s in statements(_measured(tall))}["LVH"].values
    assert "LVH" not in _codes(_measured(), "male")


def test_left_axis_deviation_and_premature_beats() -> None:
    left = NORMAL | {"II": [(0, -0.6, 10)], "III": [(0, -1.0, 10)], "aVF": [(0, -0.8, 10)],
                     "aVL": [(0, 1.0, 10)], "I": [(0, 0.8, 10)], "aVR": [(0, -0.1, 10)]}  # fmt: skip
    m = _measured(left)
    assert m.values["qrs_axis"].value is not None and m.values["qrs_axis"].value < -30
    assert "LAD" in _codes(m) and "RAD" not in _codes(m)
    found = {
        s.criterion.code: s for s in statements(_measured(reasons=("",) * 5 + ("premature",) + ("",) * 7))
    }
    assert found["PRC(S)"].values == {"beats": "1 of 13"}


def test_a_paced_rhythm_states_only_its_rate() -> None:
    m = _measured(LBBB, qrs=(-60, 90), pr=240, withheld={"qrs": "not measured: paced rhythm"})
    assert set(_codes(m)) <= {"SR", "SBRAD", "STACH", "AFIB"}


LAFB: Waves = NORMAL | {  # frontal axis about -60 degrees: qR in aVL, rS in III
    "I": [(5, 0.6, 10)],
    "II": [(-25, 0.1, 5), (5, -0.6, 10)],
    "III": [(-25, 0.1, 5), (5, -1.2, 10)],
    "aVR": [(5, -0.05, 10)],
    "aVL": [(-25, -0.07, 4), (5, 1.0, 10)],  # a small q: under the Minnesota code's 0.1 mV
    "aVF": [(-25, 0.1, 5), (5, -1.0, 10)],
}


def test_left_anterior_fascicular_block_alone_and_beside_a_right_bundle_branch_block() -> None:
    m = _measured(LAFB)
    assert -90 <= m.values["qrs_axis"].value <= -45
    assert {"LAFB", "LAD"} <= set(_codes(m))
    no_q = LAFB | {"aVL": [(5, 1.0, 10)]}
    assert "LAFB" not in _codes(_measured(no_q)) and "LAD" in _codes(_measured(no_q))
    assert "LAFB" not in _codes(_measured(LAFB, qrs=(-60, 90)))  # wide, with no bundle branch block
    both = _codes(_measured(LAFB | {k: RBBB[k] for k in ("V1", "I", "V6")}, qrs=(-60, 90)))
    assert {"CRBBB", "LAFB"} <= set(both)  # bifascicular
