"""Interpretation statements (issue 26): each criterion met by a median beat built to meet it,
and not by one built not to; the values that met it are reported. Issue 71: a statement whose
numbers are met where its criterion does not apply (voltage and QTc beside a wide QRS, a paced
rhythm) is not stated, and says why; the QTc statement names the formula of the QTc shown."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from ecgviewer.leads import STANDARD_LEADS as LEADS
from ecgviewer.measure.atrial_waves import AtrialWaves
from ecgviewer.measure.intervals import IRREGULAR_CV, Measurements
from ecgviewer.measure.statements import CRITERIA, NOT_BESIDE_PACING, interpret, statements
from tests.measure.synthetic import LBBB, NORMAL, RBBB, Waves
from tests.measure.synthetic import measured as _measured


def _codes(m: Measurements, sex: str | None = None, formula: str = "Framingham") -> list[str]:
    return [s.criterion.code for s in statements(m, sex, formula)]


def test_every_measured_rhythm_statement_is_stated_with_the_rhythm() -> None:
    from ecgviewer.interpretation import CRITERIA_GROUPS

    rhythm = ("SR", "SBRAD", "STACH", "AFIB", "AFLT", "PACE", "PVC", "PRC(S)")
    assert all(CRITERIA_GROUPS[code] == "Rhythm" for code in rhythm) and set(rhythm) <= set(CRITERIA)


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


def test_an_rr_across_a_gap_in_the_beats_is_no_pause() -> None:
    """Two beats that noise hid (their detections not counted) leave an RR three beats long: across
    the gap the measurements take none, so the rhythm stays regular and sinus."""
    rr = np.array([800.0] * 6 + [2400] + [800.0] * 6)
    hidden = _measured(rr_ms=rr)
    assert "SR" not in _codes(hidden)  # the gap read as a pause: irregular
    t = hidden.r_times
    assert _codes(replace(hidden, rr_gaps=((t[6] + 0.5, t[7] - 0.5),)))[:1] == ["SR"]
    assert np.isnan(replace(hidden, rr_gaps=((t[6] + 0.5, t[7] - 0.5),)).rr_ms()[6])


def test_atrial_fibrillation_needs_irregular_rr_and_no_p_wave() -> None:
    irregular = np.array([600, 900, 500, 1000, 700, 550, 950, 800, 620, 880.0])
    found = statements(_measured(p=False, rr_ms=irregular, reasons=("", "premature") * 5 + ("",)))
    assert [s.criterion.code for s in found][:1] == ["AFIB"] and "RMSSD" in found[0].values
    assert "PRC(S)" not in [s.criterion.code for s in found]  # every beat is early in AF
    assert "AFIB" not in _codes(_measured(p=True, rr_ms=irregular))  # P waves: not AF
    assert "AFIB" not in _codes(_measured(p=False))  # regular: not AF


def test_atrial_flutter_is_stated_where_its_waves_are_organised_instead_of_fibrillation() -> None:
    irregular = np.array([400, 600, 800, 400, 600, 400, 800, 600, 400, 600.0])  # 2:1, 3:1, 4:1 conduction
    flutter, disorganised = AtrialWaves(300.0, 0.6, "II"), AtrialWaves(300.0, 0.2, "II")
    varied = _measured(p=False, rr_ms=irregular)
    found = statements(replace(varied, atrial_waves=flutter))
    assert [s.criterion.code for s in found][:1] == ["AFLT"] and "AFIB" not in [
        s.criterion.code for s in found
    ]
    assert found[0].values == {"atrial waves": "300/min in II", "organisation": "60 %"}
    assert _codes(replace(_measured(p=False, hr=150), atrial_waves=flutter))[:1] == ["AFLT"]  # fixed 2:1
    assert _codes(replace(varied, atrial_waves=disorganised))[:1] == ["AFIB"]
    assert _codes(replace(varied, atrial_waves=AtrialWaves(400.0, 0.6, "V1")))[:1] == ["AFIB"]  # too fast
    assert "AFLT" not in _codes(replace(_measured(p=True), atrial_waves=flutter))  # P waves: sinus
    assert "AFLT" not in _codes(replace(_measured(p=False, paced=True), atrial_waves=flutter))


def test_waves_at_twice_a_regular_rate_state_flutter_only_where_well_organised() -> None:
    """A regular 130 bpm without P waves, waves at 260 a minute: 2:1 flutter, or a tachycardia
    whose P waves were not found and whose cancelled beats leave waves at twice its rate."""
    tachycardia = _measured(p=False, hr=130)
    said = {
        s.criterion.code: s
        for s in interpret(replace(tachycardia, atrial_waves=AtrialWaves(260.0, 0.45, "II")))
    }
    assert said["AFLT"].withheld.startswith("waves at twice a regular ventricular rate")
    assert said["AFLT"].values == {"atrial waves": "260/min in II", "organisation": "45 %"}
    assert "AFIB" not in said  # regular
    assert _codes(replace(tachycardia, atrial_waves=AtrialWaves(260.0, 0.55, "II")))[:1] == ["AFLT"]
    assert _codes(replace(tachycardia, atrial_waves=AtrialWaves(290.0, 0.45, "II")))[:1] == [
        "AFLT"
    ]  # not 2:1
    variable = np.array([460, 690, 460, 920, 460, 690, 460, 920, 460, 690.0])  # 2:1 to 4:1 at 260 a minute
    varied = replace(_measured(p=False, rr_ms=variable), atrial_waves=AtrialWaves(260.0, 0.45, "II"))
    assert _codes(varied)[:1] == ["AFLT"]  # conduction that varies: the waves are not the beats'


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


def test_qtc_limits_follow_the_patient_sex() -> None:
    m = _measured(qt=440, hr=75)  # Framingham: 440 + 154 * (1 - 0.8) = 471 ms
    assert {"LNGQT"} <= set(_codes(m, "male")) and {"LNGQT"} <= set(_codes(m, "female"))
    m = _measured(qt=425, hr=75)  # 456 ms: long for a man, not for a woman
    assert "LNGQT" in _codes(m, "male") and "LNGQT" not in _codes(m, "female")
    assert "LNGQT" not in _codes(m)  # sex unknown: the women's limit
    (found,) = [
        s for s in statements(_measured(qt=440, hr=75), "male", "Framingham") if s.criterion.code == "LNGQT"
    ]
    assert found.values["QTc (Framingham)"] == "471 ms" and "linear" in found.criterion.rule


@pytest.mark.parametrize("formula", ["Bazett", "Fridericia", "Framingham", "Hodges"])
def test_the_qtc_statement_names_and_uses_the_formula_of_the_qtc_shown(formula: str) -> None:
    """One formula for the QTc value and its statement: the panel once said "QTc (Bazett)" beside
    a statement on Framingham's QTc."""
    fast = _measured(qt=370, hr=100)  # Bazett 478 ms, Fridericia 438, Framingham 432, Hodges 440
    shown = fast.qtc(formula).value
    said = {s.criterion.code: s for s in statements(fast, "male", formula)}
    if shown >= 450:
        assert said["LNGQT"].values == {f"QTc ({formula})": f"{shown:.0f} ms", "limit": "450 ms (men)"}
    else:
        assert "LNGQT" not in said
    assert ("LNGQT" in said) is (formula == "Bazett")  # Bazett's over-correction at 100 bpm, named


def test_a_wide_qrs_withholds_the_plain_qtc_and_the_voltage_statements_with_the_reason() -> None:
    """Complete left bundle branch block with a QTc over the limit and LVH voltage (as PTB-XL's
    CLBBB records gave "LVH by voltage" and "Prolonged QTc 520 ms" beside QRS 211 ms)."""
    tall = LBBB | {"V1": [(-40, 0.1, 6), (30, -2.6, 35)], "V5": [(40, 2.0, 30)]}  # S V1 + R V5 > 3.5 mV
    m = _measured(tall, qrs=(-60, 90), qt=520, hr=75)  # QRS 150 ms
    said = {s.criterion.code: s for s in statements(m, "male", "Bazett")}
    assert "CLBBB" in said and "LVH" not in said and "LNGQT" not in said
    kept = {s.criterion.code: s for s in interpret(m, "male", "Bazett") if s.withheld}
    assert set(kept) == {"LVH", "LNGQT"}
    assert (
        "QRS 150 ms, 120 ms or more" in kept["LVH"].withheld and "left bundle branch" in kept["LVH"].withheld
    )
    assert "part V" in kept["LVH"].withheld and "part V" in kept["LVH"].criterion.source
    qt = kept["LNGQT"]
    assert "part IV" in qt.withheld and "adjusted for QRS duration" in qt.withheld
    assert qt.values["JT (QT - QRS)"] == "370 ms"  # 520 - 150
    qtc = m.qtc("Bazett").value
    assert qt.values["JTc (Bazett, QTc - QRS)"] == f"{qtc - 150:.0f} ms"
    assert qt.line().startswith("Prolonged QTc: not stated (QRS 150 ms")
    assert qt.to_json()["not_stated"] == qt.withheld
    # narrow, the same voltage and QT are stated as before
    narrow = {s.criterion.code for s in statements(_measured(tall, qt=520, hr=75), "male", "Bazett")}
    assert {"LVH", "LNGQT"} <= narrow


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
    assert found["PRC(S)"].values == {"RR under 85 % of the median in": "1 of 13 beats"}
    assert found["PRC(S)"].shown() == "RR under 85 % of the median in 1 of 13 beats"


def test_beats_called_ventricular_are_named_and_premature_beats_are_the_others() -> None:
    """The beat list's ventricular calls are stated with their times; "premature beats" counts
    only the early beats not among them (one beat, within EC57's 150 ms), and says nothing where
    they are all ventricular. Not classed (None), the early beats are stated as before."""
    reasons = ("",) * 5 + ("premature",) + ("",) * 7
    m = _measured(reasons=reasons)
    early = float(m.r_times[5])
    found = {s.criterion.code: s for s in statements(replace(m, ventricular_s=(early + 0.1,)))}
    assert found["PVC"].values == {"beats called ventricular": f"1, at {early + 0.1:.1f} s"}
    assert "PRC(S)" not in found
    other = {s.criterion.code: s for s in statements(replace(m, ventricular_s=(float(m.r_times[9]),)))}
    assert "PVC" in other and other["PRC(S)"].values == {"RR under 85 % of the median in": "1 of 13 beats"}
    many = tuple(float(t) for t in m.r_times[:5])
    shown = statements(replace(m, ventricular_s=many))[-2].shown()
    assert shown.startswith("beats called ventricular 5, at ") and shown.endswith(", ... s")
    assert "PVC" not in _codes(replace(m, ventricular_s=()))
    assert "PVC" not in _codes(m) and "PRC(S)" in _codes(m)  # not classed
    paced = _measured(LBBB, qrs=(-60, 90), paced=True)
    assert "PVC" not in _codes(replace(paced, ventricular_s=(float(paced.r_times[3]),)))


def test_a_paced_rhythm_is_stated_with_its_paced_values_and_no_conducted_statements() -> None:
    tall = LBBB | {"V1": [(-40, 0.1, 6), (30, -2.6, 35)], "V5": [(40, 2.0, 30)]}
    m = _measured(tall, qrs=(-60, 90), pr=240, qt=520, paced=True)
    assert m.paced_rhythm and m.values["qrs"].paced and m.values["qt"].paced and m.values["qrs_axis"].paced
    assert m.values["qtc_bazett"].paced and not m.values["p"].paced and not m.values["hr"].paced
    found = interpret(m, "male", "Bazett")
    said = [s.criterion.code for s in found if not s.withheld]
    assert said[0] == "PACE" and found[0].values == {"paced beats": "13 of 13"}
    assert not {"SR", "1AVB", *NOT_BESIDE_PACING} & set(said)  # nothing read as conducted
    kept = {s.criterion.code: s.withheld for s in found if s.withheld}
    assert set(kept) == {"LVH", "LNGQT"} and all(w.startswith("paced rhythm") for w in kept.values())


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


def test_ptbxl_180_complete_lbbb_states_neither_voltage_lvh_nor_a_plain_prolonged_qtc(shared: Path) -> None:
    """PTB-XL record 180 (CLBBB, QRS about 210 ms) once read "Left ventricular hypertrophy by
    voltage" and "Prolonged QTc 520 ms" beside the block."""
    from ecgviewer.io import load
    from ecgviewer.measure.delineate import Delineator
    from ecgviewer.measure.pipeline import measure_recording

    rec = load(shared / "ptbxl" / "records100" / "00000" / "00180_lr.hea")
    m = measure_recording(rec, Delineator.bundled())
    assert m.values["qrs"].value >= 120
    for formula in ("Bazett", "Framingham"):
        found = interpret(m, rec.metadata.sex, formula)
        said = [s.criterion.code for s in found if not s.withheld]
        assert "CLBBB" in said and not {"LVH", "LNGQT"} & set(said), said
        kept = {s.criterion.code: s for s in found if s.withheld}
        assert (
            kept["LNGQT"].values["JT (QT - QRS)"].endswith(" ms")
            and f"QTc ({formula})" in kept["LNGQT"].values
        )


def test_rr_as_irregular_as_fibrillation_withholds_the_qtc_with_the_reason() -> None:
    """A QTc over the limit beside atrial fibrillation's irregular RR is kept, not stated, with
    the reason: each QT follows the RRs before it, not the mean RR the QTc divides by."""
    irregular = np.array([600, 900, 500, 1000, 700, 550, 950, 800, 620, 880.0])
    af = _measured(p=False, rr_ms=irregular, qt=460)
    assert af.qtc("Bazett").value >= 460
    said = statements(af, None, "Bazett")
    assert said[0].criterion.code == "AFIB" and "LNGQT" not in [s.criterion.code for s in said]
    (qt,) = [s for s in interpret(af, None, "Bazett") if s.criterion.code == "LNGQT"]
    assert qt.withheld.startswith("RR irregular (RMSSD ") and "not the mean RR" in qt.withheld
    assert "Darbar" in qt.withheld and "Darbar" in qt.criterion.source
    # the same QT and mean RR, regular: stated
    regular = _measured(p=False, rr_ms=np.full(10, irregular.mean()), qt=460)
    assert "LNGQT" in [s.criterion.code for s in statements(regular, None, "Bazett")]


def test_premature_beats_in_sinus_rhythm_do_not_withhold_the_qtc() -> None:
    """Sinus rhythm with premature beats (trigeminy: an early beat, then a compensatory pause) has
    an RR series as irregular as fibrillation's, but the sinus beats' own rhythm is regular: their
    prolonged QTc is stated, where the same RRs without P waves withhold it."""
    rr = np.tile([800.0, 520.0, 1080.0], 4)  # every third beat early, then the pause
    reasons = ("",) + ("", "premature", "") * 4
    sinus = _measured(rr_ms=rr, reasons=reasons, qt=480)
    said = [s.criterion.code for s in statements(sinus, None, "Bazett")]
    assert said[0] == "SR" and "LNGQT" in said
    (qt,) = [s for s in interpret(sinus, None, "Bazett") if s.criterion.code == "LNGQT"]
    assert not qt.withheld
    # the same RRs and QT with no P wave: not sinus rhythm, so the irregular RR withholds it
    no_p = _measured(p=False, rr_ms=rr, reasons=reasons, qt=480)
    (qt,) = [s for s in interpret(no_p, None, "Bazett") if s.criterion.code == "LNGQT"]
    assert qt.withheld.startswith("RR irregular (RMSSD ")
