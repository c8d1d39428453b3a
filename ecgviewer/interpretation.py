"""The computer's interpretation as a cart prints it: the global measurements in one header
(ventricular rate, PR, QRS, QT/QTc with its formula, P-R-T axes), then numbered statements grouped
by rhythm, conduction and morphology. A statement is what the measurements' criteria state
(``measure.statements``) or a positive finding of the model with its plain-language likelihood;
where both say the same code it is one statement with both behind it. The device's own
statements stay beside it, never merged (``DeviceReport``).

One source for the window's Interpretation panel, the report and the over-read
(``ecgviewer.overread``), which starts from this proposal.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from types import MappingProxyType
from typing import TYPE_CHECKING

from ecgviewer.measure.intervals import DEFAULT_QTC
from ecgviewer.measure.statements import NOT_BESIDE_PACING, SINUS_BY_RATE

if TYPE_CHECKING:
    from ecgviewer.measure.intervals import Measurements
    from ecgviewer.ml.infer import ClassResult, Predictions
    from ecgviewer.ml.likelihood import Bands

GROUPS = ("Rhythm", "Conduction", "Morphology", "Other")
# The measurements' criteria by group (``measure.statements.CRITERIA``' codes); the model's
# findings are grouped by their task and superclass (``group_of``).
CRITERIA_GROUPS: Mapping[str, str] = MappingProxyType(
    {
        **dict.fromkeys(("SR", "SBRAD", "STACH", "AFIB", "AFLT", "PACE", "PVC", "PRC(S)"), "Rhythm"),
        **dict.fromkeys(("1AVB", "CLBBB", "ILBBB", "CRBBB", "IRBBB", "LAFB"), "Conduction"),
        **dict.fromkeys(("LAD", "RAD", "LNGQT", "LVOLT", "LVH"), "Morphology"),
    }
)
# PTB-XL files these as form statements (its category: ectopic rhythm abnormalities); a cart
# states them with the rhythm, beside the measured "Premature beats".
PREMATURE_COMPLEXES = ("PAC", "PVC")
# Statements a measurement names one of: the measured rate names the one sinus rhythm, the measured
# QRS duration a bundle branch block complete or incomplete (120 ms, AHA/ACCF/HRS 2009 part III);
# the model's finding of another of a group joins the measured statement as its evidence (PTB-XL
# fold 9: 42 interpretations said "Complete right bundle branch block", measured, and "Incomplete
# right bundle branch block", the model's; PTB-XL labelled 18 of them complete and 23 incomplete)
NAMED_BY_MEASUREMENT = (SINUS_BY_RATE, ("CLBBB", "ILBBB"), ("CRBBB", "IRBBB"))
# An atrial fibrillation or flutter makes every beat early: no "premature beats" beside it, as the
# measurements state neither beside their own (PTB-XL fold 9: 26 interpretations said both, the
# fibrillation the model's; PTB-XL labelled 20 of them atrial fibrillation, 3 premature beats)
FIBRILLATION = ("AFIB", "AFLT")
EARLY_BEATS = "PRC(S)"
# PTB-XL's descriptive statements that say what a diagnostic one says: a PR over 200 ms is a
# first-degree AV block; the voltage criteria are the evidence of hypertrophy by voltage.
JOINS: Mapping[str, str] = MappingProxyType({"LPR": "1AVB", "VCLVH": "LVH"})
ORIGINS = ("computer", "reader")
NORMAL_ECG = "NORM"
# A normal ECG beside another finding (sinus tachycardia, premature beats, first-degree AV block)
# is printed as a cart prints it; beside sinus rhythm alone it is plainly normal.
OTHERWISE_NORMAL = "Otherwise normal ECG"
PACED = "PACE"  # the model's paced rhythm (PTB-XL: normal functioning artificial pacemaker)
SINUS = (*SINUS_BY_RATE, "SARRH")
# Statements an interpretation never makes together (AHA/ACCF/HRS 2009 parts I-III), each pair as
# (why, one side's codes, the other's). Where the measurements and the model still say both, the
# interpretation says that they exclude each other and leaves the choice to the reader
# (``disagreements``); ``python -m training interpretation-pairs`` counts them on PTB-XL fold 9.
EXCLUSIVE: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("a sinus rhythm and atrial fibrillation or flutter", SINUS, FIBRILLATION),
    ("atrial fibrillation and atrial flutter", ("AFIB",), ("AFLT",)),
    ("two sinus rates", ("SBRAD",), ("STACH", "SR")),
    ("a complete and an incomplete right bundle branch block", ("CRBBB",), ("IRBBB",)),
    ("a complete and an incomplete left bundle branch block", ("CLBBB",), ("ILBBB",)),
    ("a left and a right bundle branch block, both complete", ("CLBBB",), ("CRBBB",)),
    ("left and right axis deviation", ("LAD",), ("RAD",)),
    ("premature beats in atrial fibrillation or flutter (every beat is early)", (EARLY_BEATS, "PAC"),
     FIBRILLATION),
    ("a first-degree AV block in atrial fibrillation or flutter (no PR)", ("1AVB",), FIBRILLATION),
    ("a normal ECG beside a rhythm or block that is not", (NORMAL_ECG,),
     (*FIBRILLATION, "CLBBB", "CRBBB", PACED)),
    # the measured ones are not made beside the model's paced rhythm (``_not_beside_pacing``); the
    # model's own can be (PTB-XL fold 9: 4 interpretations, a block with pacing, each labelled paced)
    ("a statement about a conducted QRS beside a paced rhythm (a paced QRS is not conducted)",
     NOT_BESIDE_PACING, (PACED,)),
)  # fmt: skip


@dataclass(frozen=True)
class Statement:
    """One numbered line of an interpretation. ``evidence`` says what stands behind a computer
    statement (the values that met a criterion, the model's likelihood); a reader's has none."""

    text: str
    code: str | None = None  # a vocabulary code (``vocabulary.statement_words``); None: free text
    group: str = "Other"
    evidence: str = ""
    origin: str = "computer"
    likelihood: str = ""  # the model's, in words: "likely (0.94)" ("" where the model is silent)

    def line(self) -> str:
        """The statement as printed: "Complete left bundle branch block — likely (0.97)"."""
        return f"{self.text} — {self.likelihood}" if self.likelihood else self.text

    @property
    def source(self) -> str:
        """Who said it: "measured", "model", "measured and model" (from the evidence) or "reader"."""
        if self.origin == "reader":
            return "reader"
        measured, model = self.evidence.startswith("measured: "), "model" in self.evidence
        return "measured and model" if measured and model else "measured" if measured else "model"

    def to_json(self) -> dict[str, str | None]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> Statement:
        def text(key: str, default: str = "") -> str:
            value = data.get(key, default)
            return value if isinstance(value, str) else default

        code = data.get("code")
        group = text("group", "Other")
        return cls(
            text=text("text"),
            code=code if isinstance(code, str) else None,
            group=group if group in GROUPS else "Other",
            evidence=text("evidence"),
            likelihood=text("likelihood"),
            origin=text("origin", "computer") if text("origin") in ORIGINS else "computer",
        )


def group_of(c: ClassResult, task: str) -> str:
    """A model finding's group: the rhythm task's classes and the premature complexes are rhythm,
    the conduction disturbance superclass and its finer classes conduction, the rest morphology."""
    if task == "rhythm" or c.group == "rhythm" or c.code in PREMATURE_COMPLEXES:
        return "Rhythm"
    if c.code == "CD" or c.group == "CD":
        return "Conduction"
    return "Morphology"


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def withheld(predictions: Predictions) -> list[tuple[ClassResult, tuple[str, ...]]]:
    """The positive findings the model's other findings make invalid (``consistency``), which the
    interpretation does not state, each with why."""
    from ecgviewer.ml.consistency import contradictions

    return [(c, why) for c in predictions.positive() if (why := contradictions(c, predictions))]


def model_statements(
    predictions: Predictions, bands: Bands | None, measured: Iterable[str] = ()
) -> list[Statement]:
    """The model's positive surfaced findings; a superclass only where none of its finer classes
    is positive or ``measured`` (codes the measurements state: a cart says "left bundle branch
    block", not also "conduction disturbance"); none its other findings make invalid
    (``withheld``: a normal ECG beside a diagnostic class, infarction or ST-T changes with LBBB
    or pacing, hypertrophy with them; the Findings panel marks them "not stated", with why). On
    PTB-XL fold 9 PTB-XL labelled 117 of the 220 normal ECGs so withheld, and 10 of the 61 other
    findings."""
    from ecgviewer.ml.likelihood import phrase
    from ecgviewer.ml.wording import decision_text

    invalid = {id(c) for c, _ in withheld(predictions)}
    positive = {id(c) for c in predictions.positive()} - invalid
    finer = [c for t, cs in predictions.tasks.items() if t != "super" for c in cs]
    stated = set(measured)
    finer_groups = {c.group for c in finer if id(c) in positive or c.code in stated}
    out = []
    for task, classes in predictions.tasks.items():
        for c in classes:
            if id(c) not in positive or (task == "super" and c.code in finer_groups):
                continue
            likely = phrase(c.probability, c.threshold, bands)
            group = group_of(c, task)
            said = f"model: {decision_text(c)}"
            out.append(Statement(_sentence(c.description), c.code, group, said, likelihood=likely))
    return sorted(out, key=lambda s: s.code == NORMAL_ECG)  # abnormal findings first, as a cart


def measured_statements(m: Measurements, sex: str | None, formula: str) -> list[Statement]:
    """What the measurements' criteria state (those met where they do not apply are left to the
    Measurements panel, which says why)."""
    from ecgviewer.measure.statements import statements

    return [
        Statement(
            s.criterion.text,
            s.criterion.code,
            CRITERIA_GROUPS.get(s.criterion.code, "Morphology"),
            f"measured: {s.shown()}",
        )
        for s in statements(m, sex, formula)
    ]


def propose(
    measurements: Measurements | None,
    predictions: Predictions | None,
    *,
    sex: str | None = None,
    formula: str = DEFAULT_QTC,
    bands: Bands | None = None,
) -> tuple[Statement, ...]:
    """The computer's statements in print order: by group, measured statements first; a code
    both sources state is one statement with both pieces of evidence. A model finding that
    names what another statement says joins it as evidence: the measured rate names the one
    sinus rhythm (at 41 bpm "Sinus bradycardia", not also "Sinus rhythm") and the measured QRS
    duration a bundle branch block's degree (``NAMED_BY_MEASUREMENT``), and ``JOINS``; no
    premature beats are stated beside the model's atrial fibrillation (``FIBRILLATION``). Beside a
    paced rhythm the model reads and the measurements could not see, the measured statements of a
    conducted QRS are not made (``_not_beside_pacing``)."""
    measured = measured_statements(measurements, sex, formula) if measurements is not None else []
    stated = [s.code for s in measured if s.code is not None]
    found = model_statements(predictions, bands, stated) if predictions is not None else []
    blind = _pacing_unseen(measurements)
    if blind and predictions is not None and any(s.code == PACED for s in found):
        measured, found = _not_beside_pacing(measured, predictions, bands, blind)
    if any(s.code in FIBRILLATION for s in found):
        measured = [s for s in measured if s.code != EARLY_BEATS]
    by_code = {s.code: i for i, s in enumerate(measured)}
    named = {c: i for i, s in enumerate(measured) for g in NAMED_BY_MEASUREMENT if s.code in g for c in g}
    merged = list(measured)

    def join(i: int, s: Statement) -> None:
        theirs = f"model, {s.text[:1].lower()}{s.text[1:]}: {s.evidence.removeprefix('model: ')}"
        merged[i] = replace(merged[i], evidence=f"{merged[i].evidence}; {theirs}")

    # what they join is placed first, and a statement's own code is its first evidence
    for s in sorted(found, key=lambda s: (s.code in JOINS, s.code not in by_code)):
        codes = [m.code for m in merged]
        if s.code in by_code:
            i = by_code[s.code]
            merged[i] = replace(
                merged[i], evidence=f"{merged[i].evidence}; {s.evidence}", likelihood=s.likelihood
            )
        elif s.code in named:
            join(named[s.code], s)
        elif s.code in JOINS and JOINS[s.code] in codes:
            join(codes.index(JOINS[s.code]), s)
        else:
            merged.append(s)
    said = _otherwise_normal(merged)  # a normal ECG last in its group, as a cart prints it
    return tuple(sorted(said, key=lambda s: (GROUPS.index(s.group), s.code == NORMAL_ECG)))


def _pacing_unseen(m: Measurements | None) -> str:
    """The measurements' note that they could not see pacing spikes, so paced beats were measured
    as native ("" where they could look, or found a paced rhythm)."""
    from ecgviewer.measure.beats import NOT_SEEN

    if m is None or m.paced_rhythm:
        return ""
    return next((note for note in m.notes if note.startswith(NOT_SEEN)), "")


def _not_beside_pacing(
    measured: list[Statement], predictions: Predictions, bands: Bands | None, blind: str
) -> tuple[list[Statement], list[Statement]]:
    """The measured and the model's statements where the model reads a paced rhythm that the
    measurements could not see (``blind``: why; PTB-XL's 100 Hz records show no pacing spike): the
    measured statements of a conducted QRS are not made beside it, as beside a measured paced
    rhythm (PTB-XL 144: "Left axis deviation" under "Normal functioning artificial pacemaker"), and
    the pacing statement says which and why; a finer finding of the model that a measured one had
    said is the model's to state again. On PTB-XL fold 9 (65 records: the 29 labelled paced and
    those the encoder's kept window probabilities put at 0.05 or more), 20 interpretations changed,
    19 of them of records labelled paced (left axis deviation, ventricular premature complexes,
    bundle branch blocks, QTc, LVH), one of a left bundle branch block the model read as paced."""
    from ecgviewer.measure.statements import NOT_BESIDE_PACING

    left = [s for s in measured if s.code in NOT_BESIDE_PACING]
    kept = [s for s in measured if s.code not in NOT_BESIDE_PACING]
    found = model_statements(predictions, bands, [s.code for s in kept if s.code is not None])
    if not left:
        return kept, found
    names = ", ".join(f"{s.text[:1].lower()}{s.text[1:]}" for s in left)
    why = f"measured but not stated beside a paced rhythm: {names}; {blind}"
    return kept, [replace(s, evidence=f"{s.evidence}; {why}") if s.code == PACED else s for s in found]


def _otherwise_normal(said: list[Statement]) -> list[Statement]:
    """A normal ECG beside any statement but sinus rhythm reads "Otherwise normal ECG"."""
    if all(s.code in (NORMAL_ECG, SINUS_BY_RATE[0]) for s in said):
        return said
    return [replace(s, text=OTHERWISE_NORMAL) if s.code == NORMAL_ECG else s for s in said]


def excluded(statements: Sequence[Statement]) -> list[tuple[str, Statement, Statement]]:
    """Each pair of ``statements`` that exclude each other (``EXCLUSIVE``), with why."""
    out = []
    for why, left, right in EXCLUSIVE:
        a = next((s for s in statements if s.code in left), None)
        b = next((s for s in statements if s.code in right and s.code not in left), None)
        if a is not None and b is not None:  # in the order the list shows them
            out.append((why, *sorted((a, b), key=lambda s: statements.index(s))))
    return out


def disagreements(statements: Sequence[Statement]) -> list[str]:
    """The pairs of ``statements`` that exclude each other, in words, for the reader to decide:
    "Sinus rhythm, measured, and Atrial fibrillation, the model's, exclude each other: read the
    tracing". PTB-XL fold 9 left 30 of 2,183 interpretations so (INTERPRETATION.md)."""
    whose = {"measured": "measured", "model": "the model's", "measured and model": "measured and the model's",
             "reader": "the reader's"}  # fmt: skip
    return [
        f"{a.text}, {whose[a.source]}, and {b.text}, {whose[b.source]}, exclude each other: read the tracing"
        for _, a, b in excluded(statements)
    ]


def numbered(statements: Sequence[Statement]) -> list[str]:
    """ "1. Sinus rhythm — likely (0.93)" lines, in order."""
    return [f"{i}. {s.line()}" for i, s in enumerate(statements, 1)]


def grouped(statements: Iterable[Statement]) -> list[tuple[str, list[tuple[int, Statement]]]]:
    """The statements under their group headings, numbered in one sequence across groups."""
    out: dict[str, list[tuple[int, Statement]]] = {}
    for i, s in enumerate(statements, 1):
        out.setdefault(s.group, []).append((i, s))
    return [(g, out[g]) for g in GROUPS if g in out]


def header(m: Measurements | None, formula: str = DEFAULT_QTC) -> list[str]:
    """The cart's measurement header: "Vent. rate 93 bpm", "PR 183 ms", "QRS 211 ms",
    "QT/QTc 466/579 ms (Bazett)", "P-R-T axes 100 -25 29"; a dash where a value is not measured."""
    if m is None:
        return []

    def v(key: str) -> str:
        value = m.qtc(formula) if key == "qtc" else m.values.get(key)
        return "\u2013" if value is None or value.value is None else f"{value.value:.0f}"

    return [
        f"Vent. rate {v('hr')} bpm",
        f"PR {v('pr')} ms",
        f"QRS {v('qrs')} ms",
        f"QT/QTc {v('qt')}/{v('qtc')} ms ({formula})",
        f"P-R-T axes {v('p_axis')} {v('qrs_axis')} {v('t_axis')}",
    ]


def vocabulary() -> tuple[Statement, ...]:
    """The statements a reader picks from: PTB-XL's SCP-ECG statements (71 codes, grouped by its
    table) with our criteria's wording where they share a code, and the criteria PTB-XL lacks.
    Alphabetical by text, for a list searched by typing."""
    from ecgviewer import assets
    from ecgviewer.io.ptbxl import descriptions, statement_groups
    from ecgviewer.measure.statements import CRITERIA

    root = assets.statements_dir()
    kinds = statement_groups(root)
    group = {"rhythm": "Rhythm", "CD": "Conduction"}
    out = {
        code: Statement(_sentence(text), code, group.get(kinds.get(code, ""), "Morphology"), origin="reader")
        for code, text in descriptions(root).items()
    }
    for code, c in CRITERIA.items():
        out[code] = Statement(c.text, code, CRITERIA_GROUPS.get(code, "Morphology"), origin="reader")
    return tuple(sorted(out.values(), key=lambda s: s.text.lower()))
