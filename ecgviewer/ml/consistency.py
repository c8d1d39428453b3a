"""When the other findings or the measurements speak against a finding (issue 71): a benchmark
figure is then not quoted beside it, and the reasons are shown instead.

The rules are the standard's limits of the criteria behind each class, not a second classifier
(AHA/ACCF/HRS recommendations for the standardization and interpretation of the ECG, 2009: part III
on intraventricular conduction disturbances, part V on hypertrophy, part VI on ischemia/infarction):
- with complete LBBB or ventricular pacing, ST-T changes are secondary and Q-wave and ST criteria
  of infarction and ischaemia are not valid; voltage criteria of LVH are not reliable;
- with a QRS of 120 ms or more, voltage criteria of hypertrophy are not reliable;
- a normal ECG is contradicted by any other positive diagnostic class;
- a rhythm the measurements of the same seconds call otherwise (sinus against atrial
  fibrillation, a paced rhythm against any other, a sinus rate outside its class's range).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ecgviewer.ml.infer import ClassResult, Predictions

if TYPE_CHECKING:
    from ecgviewer.measure.intervals import Measurements

GUIDELINE = "AHA/ACCF/HRS 2009"
GUIDELINE = "AHA/ACCF/HRS 2009"
WIDE_QRS_MS = 120.0
VENTRICULAR_ACTIVATION = {"CLBBB": "complete LBBB", "PACE": "ventricular pacing"}
SECONDARY_REPOLARISATION = ("MI", "STTC")  # superclasses whose criteria lose validity (part VI)
VOLTAGE = ("HYP",)  # superclass judged by voltage (part V)
DIAGNOSTIC = ("MI", "STTC", "CD", "HYP")  # PTB-XL's abnormal diagnostic superclasses
SINUS = ("SR", "SBRAD", "STACH", "SARRH")
FIBRILLATION = ("AFIB", "AFLT")
# the rates each sinus class means, open intervals: the measurement statements' own limits
RATE_BPM = {"SBRAD": (0.0, 60.0), "STACH": (100.0, float("inf"))}


def _positive(preds: Predictions) -> list[ClassResult]:
    return [c for cs in preds.tasks.values() for c in cs if c.surfaced and c.decision]


def contradictions(
    finding: ClassResult, preds: Predictions, measured: Measurements | None = None
) -> tuple[str, ...]:
    """Why the other findings of ``preds`` or the measurements speak against ``finding``."""
    if not finding.decision:
        return ()
    positive = [c for c in _positive(preds) if c.code != finding.code]
    out: list[str] = []
    if finding.code == "NORM":
        abnormal = sorted({c.group for c in positive if c.group in DIAGNOSTIC})
        if abnormal:
            out.append(f"another diagnostic class is positive ({', '.join(abnormal)})")
    family = finding.group
    activation = [VENTRICULAR_ACTIVATION[c.code] for c in positive if c.code in VENTRICULAR_ACTIVATION]
    paced = measured is not None and measured.paced_rhythm
    if paced and "ventricular pacing" not in activation:
        activation.append("ventricular pacing (measured: paced rhythm)")
    with_ = " and ".join(activation)
    if family in SECONDARY_REPOLARISATION and activation:
        out.append(f"Q-wave and ST-T criteria do not apply with {with_} ({GUIDELINE}, part VI)")
    if family in VOLTAGE:
        if activation:
            out.append(f"voltage criteria are not reliable with {with_} ({GUIDELINE}, part V)")
        qrs = measured.values.get("qrs") if measured is not None else None
        if qrs is not None and qrs.value is not None and qrs.value >= WIDE_QRS_MS and not activation:
            wide = f"a QRS of {qrs.value:.0f} ms (\u2265 {WIDE_QRS_MS:.0f} ms)"
            out.append(f"voltage criteria are not reliable with {wide} ({GUIDELINE}, part V)")
    if measured is not None:
        out += _rhythm(finding.code, measured)
    return tuple(out)


def _rhythm(code: str, measured: Measurements) -> list[str]:
    """Where the measurements of the same seconds call the rhythm otherwise than ``code``."""
    from ecgviewer.measure.statements import statements

    said = {st.criterion.code for st in statements(measured)}
    out = []
    if code in SINUS and "AFIB" in said:
        out.append("the measurements suggest atrial fibrillation (no sinus P waves, irregular RR)")
    if code in SINUS and "AFLT" in said:
        out.append("the measurements suggest atrial flutter (no sinus P waves, organised atrial waves)")
    if code == "AFIB" and "AFLT" in said and (waves := measured.atrial_waves) is not None:
        out.append(
            f"the measurements found organised atrial waves at {waves.rate_per_min:.0f}/min (atrial flutter)"
        )
    if code in FIBRILLATION and "SR" in said:
        out.append("the measurements found sinus P waves before regular beats")
    if measured.paced_rhythm and code in (*SINUS, *FIBRILLATION):
        out.append("the measurements found a paced rhythm")
    hr = measured.values.get("hr")
    low, high = RATE_BPM.get(code, (0.0, float("inf")))
    if hr is not None and hr.value is not None and not low < hr.value < high:
        out.append(f"the measured heart rate is {hr.value:.0f} bpm")
    return out
