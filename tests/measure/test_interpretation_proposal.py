"""Issue 73 part 3: the computer's interpretation as a cart prints it: the measurement header, and
numbered statements from the measurements' criteria and the model's positive findings, grouped
rhythm, conduction, morphology, one statement where both say the same code, each model finding
with its plain-language likelihood."""

from __future__ import annotations

from ecgviewer.interpretation import GROUPS, header, numbered, propose
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
    assert "MI" in codes and next(s for s in said if s.code == "MI").likelihood == "possible (0.40)"
    assert "HYP" not in codes and "IMI" not in codes  # below their thresholds
    assert codes.index("NORM") == max(i for i, s in enumerate(said) if s.group == "Morphology")
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
