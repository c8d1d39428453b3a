"""``python -m training ood``: the classifier on 12-lead ECGs from other hospitals and devices.

The model is trained and scored on PTB-XL (one hospital, Schiller devices, 1989-1996); it will be
used on other machines. This measures what the data beside the repo allows (``../shared/data``):

- **LUDB** (Lobachevsky University, Nizhny Novgorod, 2017-2018; 200 records, 500 Hz, 10 s): its
  cardiologists' diagnoses (``ludb.csv``) are mapped to PTB-XL's superclasses by ``RULES``; a
  record whose labels the table cannot decide (paced, or a statement PTB-XL could have coded
  either way) is left out, with the reason counted. Per-class AUROC with record bootstrap
  95 % intervals (``metrics.report``), and the macro AUROC over the classes with at least
  ``MIN_COUNT`` positives and negatives.
- **PhysioNet/CinC Challenge records** (``--challenge DIR``: WFDB records of the Challenge
  2020/2021 sources, CPSC 2018 and CPSC-Extra from China, the Georgia 12-lead ECG Challenge
  database from the USA, Chapman-Shaoxing and Ningbo from China; Perez Alday et al. 2020,
  Reyna et al. 2021): their ``#Dx`` SNOMED-CT codes mapped to PTB-XL's superclasses by
  ``SNOMED``, exactly as LUDB's statements are; a record with a code the table does not map is
  left out with the code named. Not in ``../shared``: the records come from public repositories
  that hold some of them (their addresses in the report), and the report lists every record used.
- **Vendor files** (``formats/``: DICOM, HL7 aECG, Philips and GE MUSE XML, SCP-ECG, EDF+, WFDB):
  no labels, so no AUROC; each file is opened and analysed, and the table shows that the output
  is sane across devices, filters and rates, beside the file's own statements. Some files hold
  the same ECG (``SAME_ECG``): their probabilities should agree.

Every recording goes through the app: ``ecgviewer.io.load``, then ``Analyzer.analyse`` on the
span the app analyses (``ecgviewer.analysis.analysed_span``), so the preprocessing is the app's contract,
never a re-implementation of it. The output holds record numbers, file names, signal facts, our
probabilities and the device's statements: no age, sex, identifiers or other patient data.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ecgviewer import assets
from ecgviewer.errors import EcgError, EcgReadError, plain_cause
from ecgviewer.leads import STANDARD_LEADS
from ecgviewer.recording import crop
from training import RUNS
from training.validate.metrics import class_scores, paired_bootstrap, report

if TYPE_CHECKING:
    from ecgviewer.ml.infer import ClassResult
    from ecgviewer.recording import Recording

FORMAT = "ecgviewer-ood"
VERSION = 1
TASK = "super"
MIN_COUNT = 5  # positives and negatives a class needs for its AUROC to count in the macro
N_BOOT = 1000
DEFAULT_OUT = RUNS / "ood.json"

# Column names of ludb.csv, as spelt there.
RHYTHM = "Rhythms"
AXIS = "Electric axis of the heart"
CONDUCTION = "Conduction abnormalities"
EXTRASYSTOLES = "Extrasystolies"
HYPERTROPHY = "Hypertrophies"
PACING = "Cardiac pacing"
ISCHEMIA = "Ischemia"
REPOLARISATION = "Non-specific repolarization abnormalities"
OTHER = "Other states"


@dataclass(frozen=True)
class Rule:
    """How one LUDB statement (one line of a ``ludb.csv`` cell, matched by its lower-case start)
    maps onto PTB-XL's superclasses. NORM is never set by a rule: a record is NORM when no
    statement is abnormal and none leaves NORM undecided."""

    column: str
    starts: str  # lower-case; "" matches every statement of the column
    positive: tuple[str, ...] = ()  # superclasses the statement makes positive
    undecided: tuple[str, ...] = ()  # superclasses PTB-XL could have coded either way
    abnormal: bool = True  # the statement rules out NORM
    exclude: str | None = None  # the record is left out, for this reason
    ptbxl: str = ""  # the PTB-XL counterpart, or why there is none
    name: str = ""  # what a code stands for (``SNOMED``'s rules; LUDB's statements say it themselves)


_NORMAL_VARIANT: dict = {"abnormal": False}
_MAYBE_NORMAL: dict = {"undecided": ("NORM",), "abnormal": False}
RULES: tuple[Rule, ...] = (
    Rule(RHYTHM, "sinus rhythm", **_NORMAL_VARIANT, ptbxl="SR"),
    Rule(RHYTHM, "sinus bradycardia", **_NORMAL_VARIANT, ptbxl="SBRAD (rhythm; PTB-XL codes NORM beside it)"),
    Rule(RHYTHM, "sinus tachycardia", **_NORMAL_VARIANT, ptbxl="STACH (rhythm; likewise)"),
    Rule(RHYTHM, "sinus arrhythmia", **_NORMAL_VARIANT, ptbxl="SARRH (rhythm; likewise)"),
    Rule(RHYTHM, "irregular sinus rhythm", **_NORMAL_VARIANT, ptbxl="SARRH (rhythm; likewise)"),
    Rule(RHYTHM, "atrial fibrillation", ptbxl="AFIB: rhythm, no superclass; not a normal ECG"),
    Rule(RHYTHM, "atrial flutter", ptbxl="AFLT: rhythm, no superclass; not a normal ECG"),
    Rule(
        RHYTHM, "wandering atrial pacemaker", **_MAYBE_NORMAL, ptbxl="none; may or may not be called normal"
    ),
    Rule(RHYTHM, "aberrant conduction", undecided=("CD",), ptbxl="none (ABQRS is a form statement)"),
    Rule(AXIS, "electric axis of the heart: normal", **_NORMAL_VARIANT, ptbxl="no axis statements"),
    Rule(AXIS, "electric axis of the heart: vertical", **_NORMAL_VARIANT, ptbxl="normal variant"),
    Rule(AXIS, "electric axis of the heart: horizontal", **_NORMAL_VARIANT, ptbxl="normal variant"),
    Rule(AXIS, "electric axis of the heart: left axis", **_MAYBE_NORMAL, ptbxl="none; alone, maybe normal"),
    Rule(AXIS, "electric axis of the heart: right axis", **_MAYBE_NORMAL, ptbxl="none; alone, maybe normal"),
    Rule(CONDUCTION, "incomplete right bundle branch block", positive=("CD",), ptbxl="IRBBB"),
    Rule(CONDUCTION, "complete right bundle branch block", positive=("CD",), ptbxl="CRBBB"),
    Rule(CONDUCTION, "incomplete left bundle branch block", positive=("CD",), ptbxl="ILBBB"),
    Rule(CONDUCTION, "complete left bundle branch block", positive=("CD",), ptbxl="CLBBB"),
    Rule(CONDUCTION, "left anterior hemiblock", positive=("CD",), ptbxl="LAFB"),
    Rule(CONDUCTION, "i degree av block", positive=("CD",), ptbxl="1AVB"),
    Rule(CONDUCTION, "iii degree av-block", positive=("CD",), ptbxl="3AVB"),
    Rule(CONDUCTION, "non-specific intravintricular conduction delay", positive=("CD",), ptbxl="IVCD"),
    Rule(CONDUCTION, "sinoatrial blockade", undecided=("CD",), ptbxl="none (not AV or intraventricular)"),
    Rule(EXTRASYSTOLES, "atrial extrasystole", **_MAYBE_NORMAL, ptbxl="PAC: form, no superclass"),
    Rule(EXTRASYSTOLES, "ventricular extrasystole", **_MAYBE_NORMAL, ptbxl="PVC: form, no superclass"),
    Rule(HYPERTROPHY, "left ventricular hypertrophy", positive=("HYP",), ptbxl="LVH"),
    Rule(HYPERTROPHY, "right ventricular hypertrophy", positive=("HYP",), ptbxl="RVH"),
    Rule(HYPERTROPHY, "left atrial hypertrophy", positive=("HYP",), ptbxl="LAO/LAE"),
    Rule(HYPERTROPHY, "left atrial overload", positive=("HYP",), ptbxl="LAO/LAE"),
    Rule(HYPERTROPHY, "right atrial hypertrophy", positive=("HYP",), ptbxl="RAO/RAE"),
    Rule(HYPERTROPHY, "right atrial overload", positive=("HYP",), ptbxl="RAO/RAE"),
    Rule(
        HYPERTROPHY,
        "left ventricular overload",
        positive=("HYP",),
        undecided=("STTC",),
        ptbxl="LVH; its strain ST-T may be coded NDT/ISC_ or not",
    ),
    Rule(PACING, "", exclude="paced", ptbxl="PACE; paced QRS mimic CD, MI and STTC"),
    Rule(ISCHEMIA, "stemi", positive=("MI",), ptbxl="INJ* (injury; PTB-XL's MI class)"),
    Rule(ISCHEMIA, "scar formation", positive=("MI",), ptbxl="IMI, ASMI, ... (old infarction)"),
    Rule(ISCHEMIA, "ischemia:", positive=("STTC",), ptbxl="ISC_, ISCAL, ISCIN, ..."),
    Rule(
        ISCHEMIA,
        "undefined ischemia/scar/supp.nstemi",
        undecided=("MI", "STTC"),
        ptbxl="ischaemia (STTC) or infarction (MI): undecided",
    ),
    Rule(REPOLARISATION, "non-specific repolarization abnormalities", positive=("STTC",), ptbxl="NST_, NDT"),
    Rule(
        OTHER,
        "early repolarization syndrome",
        undecided=("NORM", "STTC"),
        abnormal=False,
        ptbxl="none; coded NORM, STE_ or NST_",
    ),
)
COLUMNS = tuple(dict.fromkeys(r.column for r in RULES))

CHALLENGE = "SNOMED-CT"  # the column of a Challenge record's codes (its header's ``#Dx`` line)


def _code(code: str, name: str, ptbxl: str, **effect) -> Rule:
    return Rule(CHALLENGE, code, name=name, ptbxl=ptbxl, **effect)


# The Challenge's codes (names as its dx mapping tables give them) onto PTB-XL's superclasses, by
# the PTB-XL statement each one is (Wagner et al. 2020's statement table), as ``RULES`` does for
# LUDB. A rhythm or a form statement has no superclass in PTB-XL; whether it leaves NORM possible
# follows what PTB-XL codes beside it.
_SNOMED_RULES: tuple[Rule, ...] = (
    _code("426783006", "sinus rhythm", "SR", **_NORMAL_VARIANT),
    _code("426177001", "sinus bradycardia", "SBRAD (rhythm; PTB-XL codes NORM beside it)", **_NORMAL_VARIANT),
    _code("427084000", "sinus tachycardia", "STACH (rhythm; likewise)", **_NORMAL_VARIANT),
    _code("427393009", "sinus arrhythmia", "SARRH (rhythm; likewise)", **_NORMAL_VARIANT),
    _code("164889003", "atrial fibrillation", "AFIB: rhythm, no superclass; not a normal ECG"),
    _code("164890007", "atrial flutter", "AFLT: rhythm, no superclass; not a normal ECG"),
    _code("426627000", "bradycardia", "none; a slow rhythm not called sinus: not a normal ECG"),
    _code("106068003", "atrial rhythm", "none (an ectopic atrial rhythm): not a normal ECG"),
    _code("233897008", "atrioventricular reentrant tachycardia", "SVTAC: rhythm, no superclass"),
    _code("425856008", "paroxysmal ventricular tachycardia", "none: rhythm, not a normal ECG"),
    _code("13640000", "fusion beats", "none: ventricular ectopy, not a normal ECG"),
    _code("713422000", "atrial tachycardia", "SVTAC: rhythm, no superclass"),
    _code("251170000", "blocked premature atrial contraction", "PAC: form, no superclass", **_MAYBE_NORMAL),
    _code("251187003", "atrial escape beat", "none; alone, maybe normal", **_MAYBE_NORMAL),
    _code("284470004", "premature atrial contraction", "PAC: form, no superclass", **_MAYBE_NORMAL),
    _code("63593006", "supraventricular premature beats", "PAC: form, no superclass", **_MAYBE_NORMAL),
    _code("427172004", "premature ventricular contractions", "PVC: form, no superclass", **_MAYBE_NORMAL),
    _code("17338001", "ventricular premature beats", "PVC: form, no superclass", **_MAYBE_NORMAL),
    _code("164884008", "ventricular ectopics", "PVC: form, no superclass", **_MAYBE_NORMAL),
    _code("39732003", "left axis deviation", "none; alone, maybe normal", **_MAYBE_NORMAL),
    _code("47665007", "right axis deviation", "none; alone, maybe normal", **_MAYBE_NORMAL),
    _code("270492004", "1st degree av block", "1AVB", positive=("CD",)),
    _code("233917008", "av block", "1AVB, 2AVB or 3AVB", positive=("CD",)),
    _code("59118001", "right bundle branch block", "CRBBB", positive=("CD",)),
    _code("713427006", "complete right bundle branch block", "CRBBB", positive=("CD",)),
    _code("713426002", "incomplete right bundle branch block", "IRBBB", positive=("CD",)),
    _code("164909002", "left bundle branch block", "CLBBB", positive=("CD",)),
    _code("733534002", "complete left bundle branch block", "CLBBB", positive=("CD",)),
    _code("445118002", "left anterior fascicular block", "LAFB", positive=("CD",)),
    _code("698252002", "nonspecific intraventricular conduction disorder", "IVCD", positive=("CD",)),
    _code("164873001", "left ventricular hypertrophy", "LVH", positive=("HYP",)),
    _code("253352002", "left atrial abnormality", "LAO/LAE", positive=("HYP",)),
    _code("67741000119109", "left atrial enlargement", "LAO/LAE", positive=("HYP",)),
    _code("89792004", "right ventricular hypertrophy", "RVH", positive=("HYP",)),
    _code(
        "55827005",
        "left ventricular high voltage",
        "VCLVH: form, no superclass; NORM may stand beside it",
        undecided=("HYP", "NORM"),
        abnormal=False,
    ),
    _code("164865005", "myocardial infarction", "IMI, AMI, ... (PTB-XL's MI class)", positive=("MI",)),
    _code("164867002", "old myocardial infarction", "IMI, ASMI, ... (old infarction)", positive=("MI",)),
    _code("164861001", "myocardial ischemia", "ISC_, ISCAL, ISCIN, ...", positive=("STTC",)),
    _code("413844008", "chronic myocardial ischemia", "ISC_, ...", positive=("STTC",)),
    _code("425623009", "lateral ischaemia", "ISCLA", positive=("STTC",)),
    _code("426434006", "anterior ischemia", "ISCAN", positive=("STTC",)),
    _code("164934002", "t wave abnormal", "NDT (STTC); TAB_ its form statement", positive=("STTC",)),
    _code("59931005", "t wave inversion", "INVT (form) beside NDT or ISC_ (STTC)", positive=("STTC",)),
    _code("428750005", "nonspecific st t abnormality", "NST_ (STTC)", positive=("STTC",)),
    _code("429622005", "st depression", "STD_ (form) beside NST_ or ISC_ (STTC)", positive=("STTC",)),
    _code("164930006", "st interval abnormal", "NST_ (STTC)", positive=("STTC",)),
    _code("55930002", "s t changes", "NST_ (STTC)", positive=("STTC",)),
    _code(
        "365413008",
        "poor R wave progression",
        "none; an old anterior infarction or a normal variant",
        undecided=("MI", "NORM"),
        abnormal=False,
    ),
    _code("111975006", "prolonged qt interval", "LNGQT (PTB-XL's STTC class)", positive=("STTC",)),
)
SNOMED: dict[str, Rule] = {r.starts: r for r in _SNOMED_RULES}
# A record's source, by how its name starts (the Challenge's naming): never PTB-XL's (HR) or PTB's
# (S) records, which are the training hospital.
SOURCES = {
    "A": "CPSC 2018 (China Physiological Signal Challenge, 11 hospitals in China)",
    "Q": "CPSC-Extra (China)",
    "E": "Georgia 12-lead ECG Challenge database (Emory University, Atlanta, USA)",
    "JS": "Chapman University, Shaoxing People's Hospital and Ningbo First Hospital (China)",
}

# Files that hold one and the same ECG (paths under the data root; data README): the app should
# give them the same probabilities, up to the formats' rounding and, for HR06000, 500 vs 100 Hz.
SAME_ECG: tuple[tuple[str, ...], ...] = (
    (
        "formats/dicom/ecgtoolkit_Example.dcm",
        "formats/hl7_aecg/Example_aECG.xml",
        "formats/scp_ecg/Example.scp",
    ),
    ("formats/edf/ludb_record1.edf", "ludb/data/1.hea"),
    ("formats/wfdb_challenge_mat/HR06000.hea", "ptbxl/records100/06000/06000_lr.hea"),
)
# What a file says about the patient's heart beyond the device's statements (reader's ``extra``
# keys): the Challenge's SNOMED-CT codes, PTB diagnostic database's clinical summary.
DIAGNOSIS_KEYS = (
    "dx",
    "device severity",
    "reason for admission",
    "acute infarction (localization)",
    "former infarction (localization)",
    "additional diagnoses",
)


def rule_for(column: str, statement: str) -> Rule | None:
    """The first rule of ``column`` whose start the statement has (None: unmapped)."""
    text = statement.strip().lower()
    return next((r for r in RULES if r.column == column and text.startswith(r.starts)), None)


def statements(row: dict[str, str]) -> list[tuple[str, str]]:
    """(column, statement) of a ludb.csv row: a cell holds one statement per line."""
    return [(c, s.strip()) for c in COLUMNS for s in (row.get(c) or "").splitlines() if s.strip()]


def map_labels(row: dict[str, str], classes: list[str]) -> tuple[dict[str, int] | None, str | None]:
    """(0/1 label per class, None) for a ludb.csv row, or (None, why it is left out)."""
    rules = []
    for column, text in statements(row):
        if (rule := rule_for(column, text)) is None:
            return None, f"unmapped {column} statement"
        rules.append(rule)
    return decide(rules, classes)


def map_codes(codes: list[str], classes: list[str]) -> tuple[dict[str, int] | None, str | None]:
    """As ``map_labels``, for a Challenge record's SNOMED-CT codes."""
    unmapped = [c for c in codes if c not in SNOMED]
    if unmapped or not codes:
        return None, f"unmapped code {unmapped[0]}" if unmapped else "no code"
    return decide([SNOMED[c] for c in codes], classes)


def decide(rules: list[Rule], classes: list[str]) -> tuple[dict[str, int] | None, str | None]:
    """(0/1 label per class, None) from the rules of a record's statements, or (None, why the
    record is left out): paced, or a class the statements leave undecided."""
    positive: set[str] = set()
    undecided: dict[str, str] = {}  # class -> the statement that leaves it open
    abnormal = False
    for rule in rules:
        if rule.exclude:
            return None, rule.exclude
        positive.update(rule.positive)
        abnormal |= rule.abnormal
        for c in rule.undecided:
            undecided.setdefault(c, rule.name or rule.starts.removeprefix("electric axis of the heart: "))
    normal = not positive and not abnormal
    still_open = [c for c in undecided if c not in positive and (c != "NORM" or normal)]
    if still_open:
        c = still_open[0]
        return None, f"{c} undecided ({undecided[c]})"
    return {c: int(c in positive or (c == "NORM" and normal)) for c in classes}, None


def read_ludb(root: Path) -> dict[int, dict[str, str]]:
    """ludb.csv rows by record number."""
    with (root / "ludb.csv").open(newline="") as f:
        return {int(row["ID"]): row for row in csv.DictReader(f)}


class _Model:
    """The app's analyzer, and one call that analyses a file as the app does."""

    def __init__(self, model_path: Path) -> None:
        from ecgviewer.ml.infer import Analyzer

        self.analyzer = Analyzer(model_path, device="cpu")
        if TASK not in self.analyzer.classes:
            raise EcgError(f"{model_path.name}: no {TASK!r} task (has {', '.join(self.analyzer.classes)})")
        self.classes: list[str] = list(self.analyzer.classes[TASK])

    def analyse(self, path: Path) -> tuple[Recording, list[ClassResult]]:
        """(recording, the task's ``ClassResult`` list) for the span of ``path`` the app analyses."""
        from ecgviewer.analysis import analysed_span
        from ecgviewer.io import load

        rec = load(path)
        span = analysed_span(rec)
        segment = rec if span == (0.0, rec.duration) else crop(rec, *span)
        return rec, self.analyzer.analyse(segment).predictions.tasks[TASK]

    def attempt(self, path: Path) -> tuple[dict[str, float] | None, str | None]:
        """(the task's probability per class, None) for ``path``, or (None, why it could not be
        analysed: the reader's cause, or a library's failure on odd input in one line)."""
        try:
            return {r.code: r.probability for r in self.analyse(path)[1]}, None
        except EcgReadError as exc:
            return None, exc.cause
        except (EcgError, ValueError, RuntimeError) as exc:
            return None, plain_cause(exc)

    def probabilities(self, path: Path) -> dict[str, float] | None:
        """The task's probability per class for ``path`` (None: it could not be analysed)."""
        return self.attempt(path)[0]

    def scored_record(
        self, labels: dict[str, int] | None, reason: str | None, path: Path
    ) -> tuple[dict[str, int] | None, str | None, dict[str, float] | None]:
        """(labels, why left out, probabilities) of a record whose labels were mapped (``labels``
        None: left out for ``reason``, not analysed): one the app cannot read is left out with the
        reader's reason, counted, never fatal to the run."""
        if labels is None:
            return None, reason, None
        probs, why = self.attempt(path)
        return (labels, None, probs) if why is None else (None, f"not analysed: {why}", None)


def evaluate_ludb(model: _Model, root: Path, records: list[int] | None, n_boot: int) -> dict:
    """Map, analyse and score LUDB (``records``: a subset of record numbers, for tests)."""
    rows = read_ludb(root)
    numbers = sorted(rows) if records is None else records
    per_record, excluded = [], {}
    for n in numbers:
        labels, reason, probs = model.scored_record(
            *map_labels(rows[n], model.classes), root / "data" / f"{n}.hea"
        )
        if reason is not None:
            excluded[reason] = excluded.get(reason, 0) + 1
        per_record.append({"record": n, "labels": labels, "excluded": reason, "probabilities": probs})
    return {"records": len(numbers), **scored(model.classes, per_record, excluded, n_boot)}


def read_challenge(folders: list[Path]) -> list[tuple[str, Path, list[str]]]:
    """(record, header, its ``#Dx`` codes) of every Challenge record under ``folders`` from a
    source of ``SOURCES``, each record once (two folders may hold the same one). The codes are
    read from the header's text, not through wfdb, which refuses a whole header for a quirk of its
    record line (Georgia's 2020 release names its records ``E00015.mat``): such a record is then
    counted as the app's reader leaves it, not lost with the run."""
    out: dict[str, tuple[str, Path, list[str]]] = {}
    for header in sorted(p for folder in folders for p in folder.rglob("*.hea")):
        name = header.stem
        if name in out or not any(name.startswith(k) and name[len(k) :].isdigit() for k in SOURCES):
            continue
        comments = (
            ln.lstrip("#").strip() for ln in header.read_text("latin-1").splitlines() if ln.startswith("#")
        )
        dx = [c.split(":", 1)[1] for c in comments if c.replace(" ", "").lower().startswith("dx:")]
        out[name] = (name, header, [v.strip() for d in dx for v in d.split(",") if v.strip()])
    return list(out.values())


def source_of(record: str) -> str:
    """The ``SOURCES`` key of a Challenge record's name (the longest that fits)."""
    return max((k for k in SOURCES if record.startswith(k)), key=len)


def evaluate_challenge(model: _Model, folders: list[Path], n_boot: int) -> dict:
    """Map, analyse and score the Challenge records under ``folders``."""
    per_record, excluded = [], {}
    records = read_challenge(folders)
    for name, header, codes in records:
        labels, reason, probs = model.scored_record(*map_codes(codes, model.classes), header)
        if reason is not None:
            excluded[reason] = excluded.get(reason, 0) + 1
        per_record.append({"record": name, "source": source_of(name), "codes": codes, "labels": labels,
                           "excluded": reason, "probabilities": probs})  # fmt: skip
    folders_named = [Path(*Path(f).parts[-2:]).as_posix() for f in folders]
    found = scored(model.classes, per_record, excluded, n_boot)
    return {"records": len(records), "folders": folders_named, **found}


def scored(classes: list[str], per_record: list[dict], excluded: dict[str, int], n_boot: int) -> dict:
    """Per-class and macro AUROC of the records with labels (``per_record``), the classes with
    under MIN_COUNT positives or negatives left out of the macro."""
    used = [r for r in per_record if r["labels"] is not None]
    y = np.array([[r["labels"][c] for c in classes] for r in used], dtype=np.int64).reshape(-1, len(classes))
    p = np.array([[r["probabilities"][c] for c in classes] for r in used]).reshape(y.shape)
    per_class, enough = {}, []
    for k, c in enumerate(classes):
        pos = int(y[:, k].sum())
        entry = {"positives": pos, "negatives": len(y) - pos, "auroc": None, "auroc_ci": None}
        if pos >= MIN_COUNT and len(y) - pos >= MIN_COUNT:
            one = report(y[:, [k]], p[:, [k]], [c], n_boot=n_boot)
            entry.update(auroc=one["auroc"], auroc_ci=one["auroc_ci"])
            enough.append(k)
        per_class[c] = entry
    macro = None
    if enough:
        names = [classes[k] for k in enough]
        both = report(y[:, enough], p[:, enough], names, n_boot=n_boot)
        macro = {
            "classes": names,
            "auroc": both["auroc"],
            "auroc_ci": both["auroc_ci"],
            "n_boot": both["n_boot"],
        }
    return {
        "used": len(used),
        "excluded": dict(sorted(excluded.items(), key=lambda kv: (-kv[1], kv[0]))),
        "min_count": MIN_COUNT,
        "classes": per_class,
        "macro": macro,
        "too_few": [c for k, c in enumerate(classes) if k not in enough],
        "per_record": per_record,
    }


def paired(result: dict, against: dict, n_boot: int = N_BOOT) -> dict:
    """``result``'s model against ``against``'s (two ``run`` results), part by part (LUDB, the
    Challenge records): the macro AUROC difference on the records both scored, over the classes
    both macros counted, with its paired 95 % interval (``metrics.paired_bootstrap``: the same
    draws of records for both, so record difficulty cancels), and each class's difference. A
    candidate meant for other hospitals is compared with the shipped model on the same records;
    two separate intervals this wide would say nothing."""
    out: dict = {"against": against["model"]}
    for part in ("ludb", "challenge"):
        a, b = result.get(part) or {}, against.get(part) or {}
        if not a.get("macro") or not b.get("macro"):
            out[part] = None
            continue
        theirs = {r["record"]: r for r in b["per_record"] if r["labels"] is not None}
        both = [
            (r, theirs[r["record"]])
            for r in a["per_record"]
            if r["labels"] is not None and r["record"] in theirs
        ]
        classes = [c for c in a["macro"]["classes"] if c in b["macro"]["classes"]]
        if any(r["labels"] != t["labels"] for r, t in both):
            raise ValueError(f"{part}: the two runs label a record differently (another mapping)")
        y = np.array([[r["labels"][c] for c in classes] for r, _ in both], dtype=np.int64)
        mine, other = (np.array([[x[i]["probabilities"][c] for c in classes] for x in both]) for i in (0, 1))
        d = paired_bootstrap(y, [mine], [other], n_boot)
        by_class = class_scores(y, mine)[0] - class_scores(y, other)[0]
        out[part] = {
            "records": len(both), "classes": classes,
            "difference": d["auroc"], "difference_ci": d["auroc_ci"],
            "per_class": {c: float(v) for c, v in zip(classes, by_class, strict=True)},
        }  # fmt: skip
    return out


def entry_points(folder: Path) -> list[Path]:
    """The files to open under ``folder``: a WFDB record once, by its header (its signal files,
    ``.dat``, ``.mat`` or the PTB database's Frank-lead ``.xyz``, belong to it)."""
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    return [p for p in files if p.suffix == ".hea" or not p.with_suffix(".hea").is_file()]


def redact(name: str, identifiers: dict[str, str]) -> str:
    """``name`` with every word (4+ letters or digits) of the patient's identifiers replaced: a
    device may name its file after the patient."""
    for value in identifiers.values():
        for word in re.findall(r"[0-9A-Za-z]{4,}", str(value)):
            name = re.sub(re.escape(word), "[id]", name, flags=re.IGNORECASE)
    return name


def analyse_file(model: _Model, path: Path, root: Path) -> dict:
    """One row of the vendor table: what the reader found, what the model said, what the file says."""
    entry: dict = {"file": path.relative_to(root).as_posix(), "analysed": False}
    try:
        rec, results = model.analyse(path)
    except (EcgError, ValueError, RuntimeError) as exc:  # app messages never quote identifiers
        entry["error"] = f"{type(exc).__name__}: {exc}"
        return entry
    entry["file"] = redact(entry["file"], rec.metadata.identifiers)
    device = rec.metadata.device
    top = sorted(results, key=lambda r: -r.probability)
    entry.update(
        analysed=True,
        format=rec.source_format,
        leads=len(rec.leads),
        derived=sorted(rec.derived),
        other_leads=[lead for lead in rec.leads if lead not in STANDARD_LEADS],
        fs=rec.fs,
        duration_s=rec.duration,
        probabilities={r.code: r.probability for r in top},
        above_threshold=[r.code for r in top if r.decision],
        device=device.device if device else None,
        statements=list(device.statements) if device else [],
        file_diagnoses={k: rec.metadata.extra[k] for k in DIAGNOSIS_KEYS if k in rec.metadata.extra},
        warnings=list(rec.warnings),
    )
    return entry


def same_ecg(model: _Model, data_root: Path, known: dict[str, dict], ludb: dict | None) -> list[dict]:
    """Largest probability difference within each ``SAME_ECG`` group whose files are all here
    (``known``: probabilities already computed, by path under ``data_root``)."""
    known = dict(known)
    for r in (ludb or {}).get("per_record", []):
        if r["probabilities"] is not None:
            known[f"ludb/data/{r['record']}.hea"] = r["probabilities"]
    out = []
    for group in SAME_ECG:
        if not all((data_root / f).is_file() for f in group):
            continue
        probs = [known.get(f) or model.probabilities(data_root / f) for f in group]
        if None in probs:
            continue
        diff = max(abs(a[c] - b[c]) for a in probs for b in probs for c in model.classes)
        out.append({"files": list(group), "max_abs_diff": diff})
    return out


def evaluate_formats(model: _Model, data_root: Path, ludb: dict | None) -> dict:
    """The vendor table, and the same-ECG comparison (reusing LUDB's probabilities)."""
    folder = data_root / "formats"
    paths = entry_points(folder)
    rows = [analyse_file(model, p, folder) for p in paths]
    known = {
        p.relative_to(data_root).as_posix(): r["probabilities"]
        for p, r in zip(paths, rows, strict=True)
        if r["analysed"]
    }
    return {"files": rows, "same_ecg": same_ecg(model, data_root, known, ludb)}


def run(
    model_path: Path,
    data_root: Path,
    out_json: Path,
    ludb_records: list[int] | None = None,
    n_boot: int = N_BOOT,
    challenge: list[Path] = (),
) -> dict:
    """Every measurement for ``model_path``, written to ``out_json`` (atomically) and returned.
    A part whose folder is absent is None. ``ludb_records``: a subset (tests); ``challenge``:
    folders of Challenge records (``evaluate_challenge``)."""
    from ecgviewer.ml import contract
    from ecgviewer.ml.report import write_json

    t0 = time.perf_counter()
    model = _Model(Path(model_path))
    a = model.analyzer
    card = a.loaded.card or {}
    ludb_root = data_root / "ludb"
    ludb = (
        evaluate_ludb(model, ludb_root, ludb_records, n_boot) if (ludb_root / "ludb.csv").is_file() else None
    )
    formats = evaluate_formats(model, data_root, ludb) if (data_root / "formats").is_dir() else None
    from_challenge = evaluate_challenge(model, list(challenge), n_boot) if challenge else None
    seen = card.get("data", {}).get("unlabelled_pretraining", [])
    result = {
        "format": FORMAT,
        "version": VERSION,
        "model": {
            "name": a.name,
            "sha256": a.sha256,
            "file": a.model_file.name,
            "contract": contract.CONTRACT_VERSION,
        },
        "device": str(a.device),
        "task": TASK,
        "classes": model.classes,
        "pretraining_saw_ludb": any(Path(s).name == "ludb" for s in seen),
        "in_distribution": card.get("labels", {}).get(TASK, {}).get("test"),
        "ludb": ludb,
        "challenge": from_challenge,
        "formats": formats,
        "seconds": round(time.perf_counter() - t0, 1),
    }
    out_json.parent.mkdir(parents=True, exist_ok=True)
    write_json(out_json, result)
    return result


def arguments(p: argparse.ArgumentParser) -> None:
    """The ``ood`` subcommand's options."""
    p.add_argument(
        "--model", type=Path, default=assets.model_path(), help="classifier (default: the bundled one)"
    )
    p.add_argument(
        "--data-root", type=Path, default=None, help="holds ludb/ and formats/ (default ../shared/data)"
    )
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="result JSON (default runs/ood.json)")
    p.add_argument(
        "--against", type=Path, default=None,
        help="another model's result JSON of this command: the paired difference from it (``paired``)",
    )  # fmt: skip
    p.add_argument(
        "--challenge",
        type=Path,
        nargs="*",
        default=[],
        help="folders of PhysioNet/CinC Challenge records (WFDB with #Dx codes) to score too",
    )


def cmd_ood(args: argparse.Namespace) -> None:
    """Out-of-distribution evaluation: LUDB's and the Challenge records' AUROC, and the vendor files
    (training/validate/ood.py)."""
    from training.data.datasets import default_data_root

    data_root = args.data_root or default_data_root()
    if data_root is None:
        raise SystemExit("no --data-root given and ../shared/data is absent")
    result = run(args.model, data_root, args.out, challenge=args.challenge)
    if args.against is not None:
        from ecgviewer.ml.report import write_json

        result["paired"] = paired(result, json.loads(args.against.read_text()))
        write_json(args.out, result)
    ludb, formats = result["ludb"] or {}, result["formats"] or {"files": []}
    summary = {
        "out": str(args.out),
        "ludb_used": ludb.get("used"),
        "ludb_macro_auroc": (ludb.get("macro") or {}).get("auroc"),
        "challenge_used": (result["challenge"] or {}).get("used"),
        "files_analysed": sum(r["analysed"] for r in formats["files"]),
        "files": len(formats["files"]),
    }
    for part, d in (result.get("paired") or {}).items():
        if part != "against" and d:
            summary[f"{part}_minus_against"] = [
                round(d["difference"], 4),
                [round(v, 4) for v in d["difference_ci"]],
            ]
    print(json.dumps(summary))
