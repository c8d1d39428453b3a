"""Issue 73 part 3: the computer's interpretation as a cart prints it: the measurement header, and
numbered statements from the measurements' criteria and the model's positive findings, grouped
rhythm, conduction, morphology, one statement where both say the same code, each model finding
with its plain-language likelihood."""

from __future__ import annotations

from dataclasses import replace

from ecgviewer.interpretation import GROUPS, header, model_statements, numbered, propose, withheld
from ecgviewer.ml.infer import ClassResult, Predictions
from ecgviewer.ml.likelihood import Bands

BANDS = Bands(scale="probability", likely=0.5, target=0.8, fold=9)


def _c(code: str, description: str, group: str, p: float, threshold: float = 0.3) -> ClassResult:
    return ClassResult(code, description, group, p, (p,), threshold, p >= threshold, True, None)


def _predictions() -> Predictions:
    return Predictions(
        tasks={
            "super": [
                _c("CD", "conduction disturbance", "CD", 0.9),
                _c("MI", "myocardial infarction", "MI", 0.4),
                _c("NORM", "normal ECG", "NORM", 0.35),
                _c("HYP", "hypertrophy", "HYP", 0.1),
            ],
            "all": [
                _c("CLBBB", "complete left bundle branch block", "CD", 0.97),
                _c("LAFB", "left anterior fascicular block", "CD", 0.4),
                _c("IMI", "inferior myocardial infarction", "MI", 0.2),
            ],
            "rhythm": [_c("SR", "sinus rhythm", "rhythm", 0.8)],
        },
        record_labels={},
        device="cpu",
        timings={},
    )


def test_statements_are_grouped_merged_and_worded(sample_measured):
    rec, m = sample_measured
    said = propose(m, _predictions(), sex=rec.metadata.sex, bands=BANDS)
    codes = [s.code for s in said]
    assert [GROUPS.index(s.group) for s in said] == sorted(GROUPS.index(s.group) for s in said)
    assert codes.count("SR") == 1  # measured and found: one statement with both behind it
    sr = next(s for s in said if s.code == "SR")
    assert sr.evidence.startswith("measured: ") and "model: positive (p = 0.80" in sr.evidence
    assert sr.likelihood == "likely (0.80)" and sr.line() == "Sinus rhythm \u2014 likely (0.80)"
    assert "CLBBB" in codes and "CD" not in codes  # the finer class says it; not its superclass too
    assert "MI" not in codes  # with complete LBBB, infarction criteria are not valid
    assert next(s for s in said if s.code == "LAFB").likelihood == "possible (0.40)"
    assert "HYP" not in codes and "IMI" not in codes  # below their thresholds
    assert "NORM" not in codes  # CD and MI are positive: a normal ECG would contradict them
    lines = numbered(said)
    assert lines[0].startswith("1. ") and lines[-1].startswith(f"{len(said)}. ")


def test_without_the_model_the_measurements_alone_and_the_header(sample_measured):
    rec, m = sample_measured
    said = propose(m, None, sex=rec.metadata.sex)
    assert said and all(s.evidence.startswith("measured: ") and not s.likelihood for s in said)
    top = header(m, "Fridericia")
    assert top[0].startswith("Vent. rate ") and top[0].endswith(" bpm")
    assert top[3].startswith("QT/QTc ") and top[3].endswith("ms (Fridericia)")
    assert top[4].startswith("P-R-T axes ")
    assert header(None) == [] and propose(None, None) == ()


def _normal_with(*others: ClassResult) -> Predictions:
    norm = _c("NORM", "normal ECG", "NORM", 0.6)
    return Predictions(
        tasks={"super": [norm, *others], "rhythm": [_c("SR", "sinus rhythm", "rhythm", 0.8)]},
        record_labels={},
        device="cpu",
        timings={},
    )


def test_a_normal_ecg_is_never_said_beside_an_abnormal_finding(sample_measured):
    """MIT-BIH 119's minute read "Normal ECG — likely (0.60)" beside premature beats and
    "Hypertrophy — possible": a cart says "otherwise normal" beside a minor finding and nothing
    normal beside a diagnostic class."""
    rec, m = sample_measured  # measured: sinus rhythm only

    def norm(preds: Predictions) -> list[str]:
        return [s.line() for s in propose(m, preds, sex=rec.metadata.sex, bands=BANDS) if s.code == "NORM"]

    assert norm(_normal_with(_c("HYP", "hypertrophy", "HYP", 0.1))) == ["Normal ECG \u2014 likely (0.60)"]
    assert norm(_normal_with(_c("HYP", "hypertrophy", "HYP", 0.4))) == []
    fast = _normal_with()
    fast.tasks["rhythm"].append(_c("STACH", "sinus tachycardia", "rhythm", 0.9))
    assert [s.line() for s in propose(None, fast, bands=BANDS) if s.code == "NORM"] == [
        "Otherwise normal ECG \u2014 likely (0.60)"  # PTB-XL 19505 at 139 bpm, as a cart words it
    ]
    pvc = _c("PVC", "ventricular premature complex", "form", 0.7)
    said = propose(m, _normal_with(pvc), sex=rec.metadata.sex, bands=BANDS)
    assert [s.line() for s in said if s.code == "NORM"] == ["Otherwise normal ECG \u2014 likely (0.60)"]
    assert next(s for s in said if s.code == "PVC").group == "Rhythm"  # PTB-XL's form; a cart's rhythm


def test_the_measured_rate_names_the_one_sinus_rhythm(sample_measured):
    """Philips 129DYPRG at 41 bpm read "Sinus bradycardia" (measured) and "Sinus rhythm — likely
    (0.76)" (model): one sinus rhythm, named by the measured rate, the model's finding its evidence."""
    rec, m = sample_measured  # measured: sinus rhythm at a normal rate
    preds = _normal_with()
    preds.tasks["rhythm"].append(_c("SBRAD", "sinus bradycardia", "rhythm", 0.5))
    said = propose(m, preds, sex=rec.metadata.sex, bands=BANDS)
    sinus = [s for s in said if s.group == "Rhythm"]
    assert [s.code for s in sinus] == ["SR"]
    assert "model, sinus bradycardia: positive (p = 0.50" in sinus[0].evidence
    assert sinus[0].likelihood == "likely (0.80)"  # the model's sinus rhythm, not its bradycardia


def test_a_superclass_is_not_stated_beside_its_measured_finer_statement():
    """PTB-XL 545: the measurements state complete LBBB, the model only its superclass: the cart
    says "Complete left bundle branch block", not also "Conduction disturbance — likely"."""
    preds = Predictions(
        tasks={
            "super": [_c("CD", "conduction disturbance", "CD", 0.93)],
            "all": [_c("CLBBB", "complete left bundle branch block", "CD", 0.2)],
        },
        record_labels={},
        device="cpu",
        timings={},
    )
    assert [s.code for s in model_statements(preds, BANDS)] == ["CD"]
    assert model_statements(preds, BANDS, measured=["CLBBB"]) == []
    assert [s.code for s in model_statements(preds, BANDS, measured=["LVH"])] == ["CD"]


def test_a_finding_its_criteria_do_not_apply_to_is_not_stated():
    """PTB-XL 144, a paced ECG: "Myocardial infarction — likely (0.55)" beside the pacemaker; with
    ventricular pacing Q-wave and ST-T criteria of infarction are not valid (AHA/ACCF/HRS 2009)."""
    preds = Predictions(
        tasks={
            "super": [_c("MI", "myocardial infarction", "MI", 0.55), _c("HYP", "hypertrophy", "HYP", 0.5)],
            "rhythm": [_c("PACE", "normal functioning artificial pacemaker", "rhythm", 0.97)],
        },
        record_labels={},
        device="cpu",
        timings={},
    )
    assert [s.code for s in model_statements(preds, BANDS)] == ["PACE"]
    assert sorted(c.code for c, _ in withheld(preds)) == ["HYP", "MI"]  # the report names them
    assert all("pacing" in " ".join(why) for _, why in withheld(preds))  # and the panel says why
    preds.tasks["rhythm"][0] = _c("PACE", "normal functioning artificial pacemaker", "rhythm", 0.1)
    assert sorted(s.code for s in model_statements(preds, BANDS)) == ["HYP", "MI"]


def test_a_prolonged_pr_is_the_first_degree_av_block_s_evidence_not_a_second_statement():
    """PTB-XL's LPR (prolonged PR interval) beside its 1AVB: one statement, "First degree AV
    block", with both findings behind it; LPR alone is stated."""
    lpr = _c("LPR", "prolonged PR interval", "form", 0.2, threshold=0.05)
    avb = _c("1AVB", "first degree AV block", "CD", 0.35)
    both = Predictions(tasks={"all": [lpr, avb]}, record_labels={}, device="cpu", timings={})
    said = propose(None, both, bands=BANDS)
    assert [s.code for s in said] == ["1AVB"] and "model, prolonged PR interval: positive" in said[0].evidence
    alone = Predictions(tasks={"all": [lpr]}, record_labels={}, device="cpu", timings={})
    assert [s.code for s in propose(None, alone, bands=BANDS)] == ["LPR"]


def test_beside_a_paced_rhythm_the_measurements_could_not_see_no_conducted_qrs_is_stated():
    """PTB-XL 144 at 100 Hz (review case `pace`): no pacing spike can show at that rate, so the
    measurements read the paced beats as native and stated "Left axis deviation" under the model's
    "Normal functioning artificial pacemaker". Beside a paced rhythm the measurements do not make
    the statements of a conducted QRS; here the model's pacing reading stands in for the spikes,
    and the pacing statement says what was left out and why. Where the measurements could look
    (no note), or the model does not read pacing, the measured statements stand."""
    import numpy as np

    from ecgviewer.measure.beats import pacing_note
    from ecgviewer.measure.statements import NOT_BESIDE_PACING
    from tests.measure.synthetic import LBBB, measured

    looked = measured(LBBB, qrs=(-60, 90))
    blind = replace(looked, notes=tuple(pacing_note(np.zeros((12, 1000), np.float32), 100.0)))
    assert blind.notes and not blind.paced_rhythm
    conducted = {s.code for s in propose(blind, None)} & set(NOT_BESIDE_PACING)
    assert "CLBBB" in conducted  # what the measurements alone say of these beats
    pace = _c("PACE", "normal functioning artificial pacemaker", "rhythm", 0.99)
    cd = _c("CD", "conduction disturbance", "CD", 0.73)
    paced = Predictions(tasks={"super": [cd], "rhythm": [pace]}, record_labels={}, device="cpu", timings={})
    said = propose(blind, paced, bands=BANDS)
    assert not {s.code for s in said} & set(NOT_BESIDE_PACING)
    assert "CD" in {s.code for s in said}  # the model's own: no measured block says it now
    why = next(s for s in said if s.code == "PACE").evidence
    assert "not stated beside a paced rhythm: complete left bundle branch block" in why
    assert "100 Hz" in why  # the measurements' reason they could not see the spikes
    assert conducted <= {s.code for s in propose(looked, paced, bands=BANDS)}  # they could look
    unpaced = Predictions(tasks={"super": [cd]}, record_labels={}, device="cpu", timings={})
    assert conducted <= {s.code for s in propose(blind, unpaced, bands=BANDS)}


def test_the_measured_qrs_names_a_bundle_branch_block_s_degree():
    """PTB-XL fold 9 had 42 interpretations saying both "Complete right bundle branch block"
    (measured: QRS 120 ms or more) and "Incomplete right bundle branch block" (the model's): one
    block, its degree named by the measured QRS duration, as the measured rate names the sinus
    rhythm; the model's other degree is its evidence. Alone, the model's finding is stated."""
    from tests.measure.synthetic import RBBB, measured

    complete = measured(RBBB, qrs=(-60, 80))
    assert "CRBBB" in {s.code for s in propose(complete, None)}
    incomplete = _c("IRBBB", "incomplete right bundle branch block", "CD", 0.6)
    preds = Predictions(tasks={"all": [incomplete]}, record_labels={}, device="cpu", timings={})
    said = propose(complete, preds, bands=BANDS)
    blocks = [s for s in said if s.code in ("CRBBB", "IRBBB")]
    assert [s.code for s in blocks] == ["CRBBB"]
    assert "model, incomplete right bundle branch block: positive (p = 0.60" in blocks[0].evidence
    crbbb = _c("CRBBB", "complete right bundle branch block", "CD", 0.9)
    both = Predictions(tasks={"all": [incomplete, crbbb]}, record_labels={}, device="cpu", timings={})
    evidence = next(
        s for s in propose(complete, both, bands=BANDS) if s.code == "CRBBB"
    ).evidence  # own code first
    assert evidence.index("model: positive (p = 0.90") < evidence.index("model, incomplete right")
    assert [s.code for s in propose(None, preds, bands=BANDS)] == ["IRBBB"]


def test_no_premature_beats_beside_the_model_s_atrial_fibrillation():
    """PTB-XL fold 9 had 26 interpretations saying "Premature beats" (measured: RRs under 85 % of
    the median) beside the model's "Atrial fibrillation", where every beat is early; the
    measurements say neither beside their own fibrillation."""
    from tests.measure.synthetic import measured

    reasons = ("",) * 5 + ("premature",) + ("",) * 7
    early = measured(reasons=reasons)
    assert "PRC(S)" in {s.code for s in propose(early, None)}
    af = _c("AFIB", "atrial fibrillation", "rhythm", 0.9)
    preds = Predictions(tasks={"rhythm": [af]}, record_labels={}, device="cpu", timings={})
    codes = {s.code for s in propose(early, preds, bands=BANDS)}
    assert "AFIB" in codes and "PRC(S)" not in codes
    sinus = Predictions(tasks={"rhythm": [_c("SR", "sinus rhythm", "rhythm", 0.9)]}, record_labels={},
                        device="cpu", timings={})  # fmt: skip
    assert "PRC(S)" in {s.code for s in propose(early, sinus, bands=BANDS)}


def test_statements_that_exclude_each_other_are_named_for_the_reader():
    """PTB-XL fold 9 left 30 interpretations stating what cannot both be (INTERPRETATION.md), most
    a sinus rhythm measured beside the model's atrial fibrillation: neither source is always right
    (PTB-XL labelled the fibrillation in 10 of 13), so both stay and the interpretation says that
    they exclude each other, with who said which; a consistent one says nothing."""
    from ecgviewer.interpretation import Statement, disagreements, excluded

    sinus = Statement("Sinus rhythm", "SR", "Rhythm", "measured: rate 70 bpm")
    af = Statement("Atrial fibrillation", "AFIB", "Rhythm", "model: positive (p = 0.90)")
    early = Statement("Premature beats", "PRC(S)", "Rhythm", "measured: RR under 85 %")
    said = disagreements([sinus, af])
    assert said == [
        "Sinus rhythm, measured, and Atrial fibrillation, the model's, exclude each other: read the tracing"
    ]
    assert [why for why, *_ in excluded([sinus, af, early])] == [
        "a sinus rhythm and atrial fibrillation or flutter",
        "premature beats in atrial fibrillation or flutter (every beat is early)",
    ]
    reader = Statement("Atrial fibrillation", "AFIB", "Rhythm", origin="reader")
    assert "Atrial fibrillation, the reader's," in disagreements([reader, sinus])[0]  # in list order
    assert disagreements([sinus, early]) == [] and disagreements([]) == []


def test_a_conducted_qrs_statement_beside_a_paced_rhythm_is_named_for_the_reader():
    """A paced QRS is not conducted: the model's block beside its own paced rhythm (PTB-XL fold 9:
    4 interpretations, each labelled paced) is named as excluding it."""
    from ecgviewer.interpretation import Statement, disagreements

    block = Statement(
        "Complete left bundle branch block", "CLBBB", "Conduction", "model: positive (p = 0.80)"
    )
    paced = Statement(
        "Normal functioning artificial pacemaker", "PACE", "Rhythm", "model: positive (p = 0.99)"
    )
    assert disagreements([block, paced]) == [
        "Complete left bundle branch block, the model's, and Normal functioning artificial pacemaker, "
        "the model's, exclude each other: read the tracing"
    ]
    sinus = Statement("Sinus rhythm", "SR", "Rhythm", "measured: rate 70 bpm")
    assert disagreements([block, sinus]) == []
