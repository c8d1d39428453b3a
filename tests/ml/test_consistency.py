"""When other findings or the measurements speak against a finding (``ml.consistency``): the
reasons the words give instead of the benchmark's figure."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ecgviewer.measure.atrial_waves import AtrialWaves
from ecgviewer.ml.consistency import contradictions
from ecgviewer.ml.infer import ClassResult, Predictions
from tests.measure.synthetic import LBBB, measured


def _c(code: str, group: str, p: float, threshold: float = 0.5) -> ClassResult:
    return ClassResult(code, code.lower(), group, p, (p,), threshold, p >= threshold, True, None)


def _preds(*classes: ClassResult) -> Predictions:
    return Predictions({"all": list(classes)}, {}, "cpu", {})


def test_other_findings_speak_against_a_finding():
    norm, mi, lbbb = _c("NORM", "NORM", 0.9), _c("IMI", "MI", 0.8), _c("CLBBB", "CD", 0.95)
    lvh = _c("LVH", "HYP", 0.7)
    preds = _preds(norm, mi, lbbb, lvh)
    assert contradictions(norm, preds) == ("another diagnostic class is positive (CD, HYP, MI)",)
    assert "do not apply with complete LBBB" in contradictions(mi, preds)[0]
    assert "voltage criteria are not reliable with complete LBBB" in contradictions(lvh, preds)[0]
    assert contradictions(lbbb, preds) == ()  # nothing speaks against the block itself
    quiet = _preds(_c("IMI", "MI", 0.8), _c("CLBBB", "CD", 0.1))
    assert contradictions(quiet.tasks["all"][0], quiet) == ()  # a block below its threshold says nothing
    assert contradictions(_c("IMI", "MI", 0.2), preds) == ()  # nor is a negative finding contradicted


def test_the_measurements_speak_against_a_finding():
    lvh, sr, stach = _c("LVH", "HYP", 0.7), _c("SR", "rhythm", 0.9), _c("STACH", "rhythm", 0.8)
    preds = _preds(lvh, sr, stach)
    wide = measured(LBBB, qrs=(-60, 90))
    assert any("a QRS of 150 ms" in why for why in contradictions(lvh, preds, wide))
    assert contradictions(lvh, preds, measured()) == ()
    assert contradictions(stach, preds, measured(hr=75)) == ("the measured heart rate is 75 bpm",)
    assert contradictions(stach, preds, measured(hr=130)) == ()
    paced = measured(qrs=(-70, 90), paced=True, p=False)
    assert "the measurements found a paced rhythm" in contradictions(sr, preds, paced)
    irregular = measured(p=False, rr_ms=np.array([600, 900, 500, 1000, 700, 450, 950, 650, 800, 550.0]))
    assert any("atrial fibrillation" in why for why in contradictions(sr, preds, irregular))
    assert contradictions(replace(sr, decision=False), preds, irregular) == ()
    flutter = replace(irregular, atrial_waves=AtrialWaves(290.0, 0.6, "II"))
    assert "the measurements suggest atrial flutter (no sinus P waves, organised atrial waves)" in (
        contradictions(sr, preds, flutter)
    )
    assert not any("fibrillation" in why for why in contradictions(sr, preds, flutter))
    afib = _c("AFIB", "rhythm", 0.6)
    assert contradictions(afib, preds, flutter) == (
        "the measurements found organised atrial waves at 290/min (atrial flutter)",
    )
    assert contradictions(afib, preds, irregular) == ()


def test_a_new_recording_explains_its_most_probable_abnormal_finding():
    """As a cart's interpretation leads with what is abnormal: AF at 0.97 is explained before the
    super task's STTC and before sinus rhythm or a normal ECG; a normal ECG explains NORM; nothing
    positive, the super task's most probable class."""
    sttc, afib, sr = _c("STTC", "STTC", 0.6), _c("AFIB", "rhythm", 0.97), _c("SR", "rhythm", 0.99)
    norm = _c("NORM", "NORM", 0.95)
    preds = Predictions(
        {"super": [sttc, replace(norm, probability=0.3, decision=False)], "all": [afib, sr]}, {}, "cpu", {}
    )
    assert preds.top_positive("super").code == "AFIB"
    normal = Predictions(
        {"super": [norm, replace(sttc, probability=0.1, decision=False)], "all": [sr]}, {}, "cpu", {}
    )
    assert normal.top_positive("super") is normal.tasks["super"][0]
    none = Predictions({"super": [replace(sttc, probability=0.2, decision=False)]}, {}, "cpu", {})
    assert none.top_positive("super").code == "STTC"
