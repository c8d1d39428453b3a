"""A clinical case review, kept (issue 71): about 24 real recordings that span the product, each
opened one after another in one window, as a clinician goes through a clinic list.

    python -m tests.review --out build/review [--only normal,lbbb,holter] [--sizes 1366x768,1920x1080]

The cases come from ``../shared/data`` by fixed rules (``cases``), so the list is the same on every
machine and can be argued about: PTB-XL records chosen by their labels (never fold 10, the test
fold), an MIT-BIH Holter, 60 s of another MIT-BIH record, and every vendor format in ``formats/``.
For each size a single window goes through every case in order (``show``), never a fresh window
per case: what one case leaves behind (a chosen label, a result arriving late) is what the review
must catch. Then, per case, the PDF report (``ecgviewer report``) rasterised by PDFium and the
analysis JSON (``ecgviewer analyze --measure``). ``index.html`` puts each case on a row: why it
was chosen, thumbnails, links, the key facts from its JSON, and what the window got wrong
(``problems``, the checks tests/gui/test_review.py asserts). A case that cannot be opened, reported
or analysed is a row with its error, never the end of the review.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import html
import io
import json
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tests.screenshots import REPO, SHARED, TIMEOUT_MS, _sizes

if TYPE_CHECKING:
    from PySide6 import QtGui, QtWidgets

    from ecgviewer.gui.main_window import MainWindow

FOLDS = ("1", "2", "9")  # PTB-XL's training and validation folds: fold 10 is the test fold
STACH_BPM = 150.0  # what the issue asks for; the data has none (``_fastest_sinus``)
THUMB_PX = 360
REPORT_DPI = 100


@dataclass(frozen=True)
class Case:
    key: str  # short name: file names and --only
    title: str
    path: Path
    why: str  # the rule that chose it, in words, for the index


@dataclass(frozen=True)
class Rule:
    """A PTB-XL case: the lowest ecg_id in ``FOLDS`` with ``code``, none of ``without`` and no other
    statement of the class ``alone_in`` (an infarction in one territory only, not three). A record
    a review showed to be mislabelled is skipped by name, with the reason, rather than hidden by a
    rule bent to miss it."""

    key: str
    title: str
    code: str
    without: tuple[str, ...] = ()
    alone_in: str | None = None  # a diagnostic class or "rhythm": ``code`` is the record's only one of it
    skip: tuple[tuple[int, str], ...] = ()  # (ecg_id, why): records a reviewer found mislabelled


# The order of the review: the list, PTB-XL first, then the long records, then the formats.
PTBXL_RULES = (
    Rule("normal", "Normal ECG", "NORM"),
    Rule("stach", "Sinus tachycardia, the fastest", "STACH", alone_in="rhythm"),
    Rule("af", "Atrial fibrillation", "AFIB", ("AFLT",)),
    Rule("aflt", "Atrial flutter", "AFLT", ("AFIB",)),
    Rule(
        "lbbb",
        "Left bundle branch block",
        "CLBBB",
        skip=((287, "labelled CLBBB 100, but its report says right bundle branch block and V1 shows rSR'"),),
    ),
    Rule("rbbb", "Right bundle branch block", "CRBBB"),
    Rule("imi", "Inferior myocardial infarction", "IMI", alone_in="MI"),
    Rule("ami", "Anterior myocardial infarction", "AMI", alone_in="MI"),
    Rule("lmi", "Lateral myocardial infarction", "LMI", alone_in="MI"),
    Rule("lvh", "Left ventricular hypertrophy", "LVH"),
    Rule("pace", "Paced", "PACE"),
)
NOISE = ("baseline_drift", "static_noise", "burst_noise")
HOLTER = "101"  # MIT-BIH DS1's first record: 30 min of sinus rhythm, 2 leads at 360 Hz
SIXTY = "119"  # its first minute holds ventricular bigeminy (19 PVCs, per the reference .atr)
FORMATS = (  # (key, title, file under formats/, what it exercises)
    ("scp", "SCP-ECG", "scp_ecg/Example.scp", "Huffman-coded SCP-ECG, 500 Hz"),
    ("dicom", "DICOM (ECG Toolkit)", "dicom/ecgtoolkit_Example.dcm", "DICOM waveform with a median beat"),
    ("dicom-mortara", "DICOM (Mortara)", "dicom/pydicom_waveform_ecg.dcm", "DICOM at 1000 Hz, µV"),
    ("hl7", "HL7 aECG", "hl7_aecg/Example_aECG.xml", "FDA annotated ECG, 2.5 µV steps"),
    ("philips", "Philips XML", "philips_xml/129DYPRG.XML", "SierraECG XLI (a device demo: format only)"),
    ("muse", "GE MUSE XML", "ge_muse_xml/braveheart_example1.xml", "8 stored leads, 4 derived"),
    ("muse-sinus", "GE MUSE XML (sinus)", "ge_muse_xml/muse-sinus.xml", "MUSE 9.0.10, sinus rhythm"),
    ("ptbdb", "WFDB, 15 leads, 1000 Hz", "wfdb_ptbdb/s0010_re.hea", "12 + 3 Frank leads, 38.4 s (PTB)"),
    ("mat", "WFDB with MATLAB .mat", "wfdb_challenge_mat/HR06000.hea", "CinC Challenge, SNOMED in header"),
    ("edf", "EDF+", "edf/ludb_record1.edf", "LUDB record 1 converted, with annotations"),
)
KEYS = (*(r.key for r in PTBXL_RULES), "noisy", "holter", "sixty", "burst", *(f[0] for f in FORMATS))


# -- the cases -----------------------------------------------------------------------------------
def ptbxl_path(root: Path, ecg_id: int) -> Path:
    return root / "records100" / f"{ecg_id // 1000 * 1000:05d}" / f"{ecg_id:05d}_lr.hea"


@dataclass
class _Tables:
    """PTB-XL's labels as the rules read them: every record's statements (0/1, v1.0.3), and for
    the first 500 ecg_ids the original likelihoods, report and noise columns."""

    root: Path
    folds: dict[int, str] = field(default_factory=dict)
    stated: dict[int, frozenset[str]] = field(default_factory=dict)
    database: dict[int, dict[str, str]] = field(default_factory=dict)
    likelihood: dict[int, dict[str, float]] = field(default_factory=dict)
    rhythm: frozenset[str] = frozenset()
    classes: dict[str, str] = field(default_factory=dict)  # code -> diagnostic class (MI, CD, ...) or rhythm

    @classmethod
    def read(cls, root: Path) -> _Tables:
        import ast

        t = cls(root)
        with (root / "ptbxl_statements_v103.csv").open(newline="") as fh:
            reader = csv.reader(fh)
            codes = next(reader)[4:]
            for row in reader:
                eid = int(row[0])
                t.folds[eid] = row[3]
                t.stated[eid] = frozenset(c for c, v in zip(codes, row[4:], strict=False) if v == "1")
        with (root / "ptbxl_database.csv").open(newline="") as fh:
            for row in csv.DictReader(fh):
                eid = int(row["ecg_id"])
                t.database[eid] = row
                t.likelihood[eid] = dict(ast.literal_eval(row["scp_codes"] or "{}"))
        with (root / "scp_statements.csv").open(newline="") as fh:
            scp = list(csv.DictReader(fh))
        t.rhythm = frozenset(r[""] for r in scp if r["rhythm"].strip())
        t.classes = {r[""]: r["diagnostic_class"] or ("rhythm" if r[""] in t.rhythm else "") for r in scp}
        return t

    def candidates(self, rule: Rule, taken: set[int]) -> Iterable[int]:
        """ecg_ids in ``FOLDS`` with a record here that ``rule`` accepts, lowest first. Where the
        likelihood is known (ecg_id <= 500), a diagnostic or form statement must be at 100 %;
        PTB-XL leaves rhythm statements unquantified (0), so stating them is enough."""
        code = rule.code
        others = {c for c, k in self.classes.items() if k == rule.alone_in and c != code}
        for eid in sorted(self.folds):
            labels = self.stated[eid]
            if self.folds[eid] not in FOLDS or eid in taken or code not in labels or eid in dict(rule.skip):
                continue
            if labels & (set(rule.without) | others):
                continue
            sure = self.likelihood.get(eid)
            if sure is not None and code not in self.rhythm and sure.get(code) != 100.0:
                continue
            if ptbxl_path(self.root, eid).is_file():
                yield eid

    def described(self, eid: int) -> str:
        """The record's statements (with likelihoods where known) and, where known, its report."""
        sure = self.likelihood.get(eid)
        labels = ", ".join(
            f"{c} {sure[c]:g}" if sure and sure.get(c) else c for c in sorted(self.stated[eid])
        )
        report = self.database.get(eid, {}).get("report", "").strip()
        return f"PTB-XL {eid}, fold {self.folds[eid]}: {labels}" + (f'; report "{report}"' if report else "")


def _rule_why(t: _Tables, rule: Rule, eid: int) -> str:
    sure = "stated" if rule.code in t.rhythm or eid not in t.likelihood else "at likelihood 100"
    unless = f", without {', '.join(rule.without)}" if rule.without else ""
    if rule.alone_in:
        unless += f", its only {rule.alone_in} statement"
    source = "ptbxl_database.csv" if eid in t.likelihood else "ptbxl_statements_v103.csv, without likelihoods"
    unless += "".join(f"; {e} skipped: {why}" for e, why in rule.skip)
    return f"Lowest ecg_id in folds 1, 2, 9 with {rule.code} {sure}{unless} ({source}). {t.described(eid)}."


def _fastest_sinus(t: _Tables, taken: set[int]) -> tuple[int, float, int]:
    """The STACH record with the fastest rate (lowest ecg_id on a tie), and how many were measured.

    The rate is the median RR of lead II by neurokit2, the R-peak detector the model reads with:
    wfdb's XQRS, which the status bar used, counts the T waves of several of these records and
    gives 160-220 bpm where there are 110 beats a minute."""
    import numpy as np

    from ecgviewer.io import load
    from ecgviewer.ml.contract import detect_rpeaks

    rates = {}
    for eid in t.candidates(next(r for r in PTBXL_RULES if r.key == "stach"), taken):
        rec = load(ptbxl_path(t.root, eid))
        peaks = detect_rpeaks(np.asarray(rec.signals)[rec.index("II")], rec.fs)
        if len(peaks) > 2:
            rates[eid] = 60.0 / float(np.median(np.diff(peaks))) * rec.fs
    eid = min(rates, key=lambda e: (-rates[e], e))
    return eid, rates[eid], len(rates)


def _noisiest(t: _Tables, taken: set[int]) -> tuple[int, list[str]]:
    """The record with the most of PTB-XL's noise columns filled; on a tie, burst noise first (it
    hides beats, which drift and static noise rarely do), then the lowest ecg_id."""

    def noise(eid: int) -> list[str]:
        return [c for c in NOISE if t.database[eid].get(c, "").strip(" ,")]

    found = [e for e in t.database if t.folds.get(e) in FOLDS and e not in taken and noise(e)]
    found = [e for e in found if ptbxl_path(t.root, e).is_file()]
    best = min(found, key=lambda e: (-len(noise(e)), "burst_noise" not in noise(e), e))
    return best, noise(best)


def sixty_seconds(shared: Path, folder: Path) -> Path:
    """The first 60 s of MIT-BIH ``SIXTY``, samples and reference annotations unchanged."""
    import wfdb

    name = f"{SIXTY}_0-60s"
    out = folder / f"{name}.hea"
    if out.is_file():
        return out
    folder.mkdir(parents=True, exist_ok=True)
    src = str(shared / "mitdb" / SIXTY)
    n = 60 * 360
    rec = wfdb.rdrecord(src, sampto=n, physical=False)
    wfdb.wrsamp(
        name,
        fs=rec.fs,
        units=rec.units,
        sig_name=rec.sig_name,
        d_signal=rec.d_signal,
        fmt=rec.fmt,
        adc_gain=rec.adc_gain,
        baseline=rec.baseline,
        comments=rec.comments,
        write_dir=str(folder),
    )
    ann = wfdb.rdann(src, "atr", sampto=n - 1)
    wfdb.wrann(
        name,
        "atr",
        ann.sample,
        ann.symbol,
        subtype=ann.subtype,
        chan=ann.chan,
        num=ann.num,
        aux_note=ann.aux_note,
        fs=rec.fs,
        write_dir=str(folder),
    )
    return out


def noise_burst(folder: Path | None) -> Path:
    """The synthetic recording of the "burst" case, written as EDF to ``folder``."""
    from ecgviewer.io.writers import save
    from training.validate.synthetic_beats import drowned, sample_beat

    out = (folder or Path(tempfile.mkdtemp(prefix="review-"))) / "noise_burst.edf"
    if not out.is_file():
        out.parent.mkdir(parents=True, exist_ok=True)
        save(drowned(sample_beat(), at_s=15.0, for_s=10.0, size=4.0)[0], out)
    return out


def cases(
    shared: Path = SHARED, scratch: Path | None = None, only: Iterable[str] | None = None
) -> list[Case]:
    """The review's cases in order (``only``: those keys); ``scratch`` holds the 60 s crop.

    A case whose data is absent is left out; the rules read the labels only, except the sinus
    tachycardia's rate, which the labels do not give."""
    wanted = set(only or KEYS)
    unknown = wanted - set(KEYS)
    if unknown:
        raise ValueError(f"unknown case keys {sorted(unknown)}: choose from {', '.join(KEYS)}")
    out: list[Case] = []
    root = shared / "ptbxl"
    if (root / "ptbxl_database.csv").is_file():
        t, taken = _Tables.read(root), set[int]()
        for rule in PTBXL_RULES:
            if rule.key == "stach":
                eid, bpm, n = _fastest_sinus(t, taken)
                why = (
                    f"The fastest of the {n} records in folds 1, 2, 9 whose only rhythm statement is STACH, "
                    f"by lead II's median RR (neurokit2, the model's R-peak detector): {bpm:.0f} bpm. None "
                    f"reaches the {STACH_BPM:g} bpm asked for: the PTB-XL here holds no sinus tachycardia "
                    f"that fast. {t.described(eid)}."
                )
            else:
                eid = next(iter(t.candidates(rule, taken)))
                why = _rule_why(t, rule, eid)
            taken.add(eid)
            if rule.key in wanted:
                out.append(Case(rule.key, rule.title, ptbxl_path(root, eid), why))
        eid, noise = _noisiest(t, taken)
        if "noisy" in wanted:
            cols = "; ".join(f"{c} {t.database[eid][c].strip(' ,')!r}" for c in noise)
            why = (
                f"Most of PTB-XL's noise columns filled ({len(noise)} of 3; burst noise first, then the "
                f"lowest ecg_id), folds 1, 2, 9: "
                f"{cols}. {t.described(eid)}."
            )
            out.append(Case("noisy", "Noisy recording", ptbxl_path(root, eid), why))
    mitdb = shared / "mitdb"
    if "holter" in wanted and (mitdb / f"{HOLTER}.hea").is_file():
        why = (
            f"MIT-BIH {HOLTER}, the first record of the DS1 half: 30 min, 2 leads (MLII, V1) at 360 Hz, "
            "a Holter-like recording; the window analyses 30 s around the page, analyze 600 s."
        )
        out.append(Case("holter", "Two-lead Holter (30 min)", mitdb / f"{HOLTER}.hea", why))
    if "sixty" in wanted and (mitdb / f"{SIXTY}.hea").is_file():
        folder = scratch or Path(tempfile.mkdtemp(prefix="review-"))
        why = (
            f"The first 60 s of MIT-BIH {SIXTY} (samples and .atr copied unchanged): the longest "
            "recording analysed whole (analysis.MAX_WHOLE_S), with ventricular bigeminy per the reference."
        )
        out.append(Case("sixty", "60 s record (MIT-BIH, bigeminy)", sixty_seconds(shared, folder), why))
    if "burst" in wanted:
        why = (
            "Two minutes of synthetic sinus rhythm at 67 bpm (2 leads, EDF) with 10 s of muscle-like noise "
            "4x the QRS from 15 s (training.validate.synthetic_beats.drowned): the page's measurement "
            "must neither count the burst's complexes as beats nor its transients as pacing spikes."
        )
        out.append(Case("burst", "Noise burst (synthetic, EDF)", noise_burst(scratch), why))
    for key, title, rel, what in FORMATS:
        path = shared / "formats" / rel
        if key in wanted and path.is_file():
            out.append(Case(key, title, path, f"Vendor format: {what} ({rel})."))
    return out


# -- the window ----------------------------------------------------------------------------------
@dataclass
class Shown:
    """What the window showed after a case was opened."""

    error: str | None = None  # the message the reader got instead of the recording
    seconds: float = 0.0
    analysed: bool = False  # resultShown fired for this case
    measured: bool = False  # measured fired for this case
    notes: list[str] = field(default_factory=list)  # a panel's own failure message
    box: QtGui.QPixmap | None = None  # the error's message box, as the reader saw it


def _app() -> QtWidgets.QApplication:
    from PySide6 import QtWidgets

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    assert isinstance(app, QtWidgets.QApplication)
    return app


def spin(done: Callable[[], bool], timeout_ms: int = TIMEOUT_MS) -> bool:
    """Run the event loop until ``done()``; False when time ran out."""
    app, deadline = _app(), time.monotonic() + timeout_ms / 1000
    while not done():
        if time.monotonic() > deadline:
            return False
        app.processEvents()
        time.sleep(0.02)
    return True


def new_window(ini: Path, width: int, height: int) -> MainWindow:
    """A window on its own settings file (never the user's), shown, its model and delineator loaded."""
    from PySide6 import QtCore

    from ecgviewer.gui.main_window import MainWindow
    from ecgviewer.gui.settings import Settings

    _app()
    w = MainWindow(Settings(QtCore.QSettings(str(ini), QtCore.QSettings.Format.IniFormat)))
    w.setWindowState(QtCore.Qt.WindowState.WindowNoState)  # a size of its own, not the screen's
    w.resize(width, height)
    w.show()
    w.ai.load_model()
    if not spin(
        lambda: w.ai.analyzer is not None and w.measure.delineator is not None and not w.tasks.busy()
    ):
        raise TimeoutError(f"the model did not load within {TIMEOUT_MS / 1000:.0f} s")
    return w


def show(w: MainWindow, path: Path, settle: bool = True, timeout_ms: int = TIMEOUT_MS) -> Shown:
    """Open ``path`` in ``w`` as the File menu does and wait for ``resultShown`` and ``measured``
    (``settle``: then for every task, the beat list of a long recording too). A message box (a
    file that cannot be opened) is read, grabbed and closed, as a reader would; an analysis that
    fails says so in its panel, which ``notes`` keeps."""
    from PySide6 import QtCore, QtWidgets

    shown, loaded = Shown(), []
    started = time.monotonic()

    def dismiss() -> None:
        box = QtWidgets.QApplication.activeModalWidget()
        if isinstance(box, QtWidgets.QMessageBox):
            shown.error = f"{box.windowTitle()}: {box.text()}"
            shown.box = box.grab()
            box.done(0)

    def analysed(_r: object) -> None:
        shown.analysed = True

    def measured(_m: object) -> None:
        shown.measured = True

    watch = QtCore.QTimer(interval=50)
    watch.timeout.connect(dismiss)
    links = [(w.recordingLoaded, loaded.append), (w.ai.resultShown, analysed), (w.measure.measured, measured)]
    for signal, slot in links:
        signal.connect(slot)
    watch.start()

    def finished() -> bool:
        if shown.error is not None:
            return True
        if not loaded or (settle and w.tasks.busy()):
            return False
        tasks = w.tasks.tasks  # a task that ended without its signal failed: its panel says why
        ai_done = shown.analysed or not w.ai_action.isChecked() or "analysis" not in tasks
        return ai_done and (shown.measured or (w.measure.delineator is not None and "measure" not in tasks))

    try:
        w.open_file(path)
        if not spin(finished, timeout_ms):
            shown.error = f"timed out after {timeout_ms / 1000:.0f} s"
        spin(lambda: False, 200)  # let docks and layouts settle after the last result
    finally:
        watch.stop()
        for signal, slot in links:
            signal.disconnect(slot)
    if shown.error is None and not shown.analysed:
        shown.notes.append(f"no analysis shown: {w.ai.panel.diagnosis.status.text()}")
    if shown.error is None and not shown.measured:
        shown.notes.append(f"no measurements shown: {w.measure.panel.status.text()}")
    shown.seconds = time.monotonic() - started
    return shown


def doubled(w: MainWindow, names: Mapping[str, str]) -> list[str]:
    """Findings rows that do not read ``CODE  description`` with the description once (a shared
    table of descriptions changed by another part of the app doubles them)."""
    from ecgviewer.gui.diagnosis import TARGET_ROLE

    out = []
    r = w.ai.result
    for item in w.ai.panel.diagnosis.items():
        target, text = item.data(0, TARGET_ROLE), item.text(0)
        if target is None or r is None:
            continue
        c = r.analysis.predictions.get(*target)
        base = names.get(c.code, "")
        if text != f"{c.code}  {c.description}" or (len(base) > 3 and text.count(base) > 1):
            out.append(f"findings row {text!r} (expected {c.code!r} and {base or c.description!r} once)")
    return out


def interpretation_problems(w: MainWindow) -> list[str]:
    """The Interpretation panel shows the open recording's own: its measurements, its analysis,
    its statements (the computer's proposal, or the over-read stored for it)."""
    c, out = w.interpretation, []
    if c.recording is not w.recording:
        return ["the interpretation panel holds another recording"]
    if c.measurements is not w.measure.measurements:
        out.append("the interpretation's header is from other measurements")
    r = w.ai.result
    if (c.result is None) != (r is None) or (r is not None and c.result.source != r.source):
        out.append("the interpretation's findings are from another analysis")
    shown = [s.text for s in c.panel.statements]
    own = [s.text for s in (c.read.statements if c.read is not None else c.proposal())]
    if shown != own:
        out.append(f"the interpretation shows {shown}, not this recording's {own}")
    return out


def beats_problems(w: MainWindow) -> list[str]:
    """The beat list and its templates are the open recording's, every beat in one template."""
    c = w.beats
    if c.beats is None:
        return []
    if c.recording is not w.recording:
        return ["the beat list belongs to another recording"]
    if c.templates.beats is not c.beats:
        return ["the beat templates are of another beat list"]
    grouped = sum(len(g.members) for g in c.templates.groups)
    return [] if grouped == len(c.beats.t_s) else [f"{grouped} beats in templates, {len(c.beats.t_s)} listed"]


def unread_problems(w: MainWindow) -> list[str]:
    """The paper greys the open recording's stretches not read, those of its measurement and beat
    list, no other."""
    from ecgviewer.measure.intervals import TOO_NOISY

    greyed = w.unread.stretches()
    out = []
    m = w.measure.measurements
    noisy = {(a, b) for a, b, why in greyed if why == TOO_NOISY}
    if noisy != set(m.too_noisy if m is not None else ()):
        out.append(f"the paper greys {sorted(noisy)} as too noisy, the measurement {m and m.too_noisy}")
    beats = w.beats.beats
    listed = {(e.start_s, e.end_s) for e in beats.events if e.kind == "unreadable"} if beats else set()
    if {(a, b) for a, b, why in greyed if why == "unreadable"} != listed:
        out.append("the paper greys other stretches as unreadable than the beat list has")
    return out


def label_problems(w: MainWindow) -> list[str]:
    """Every label and button in view whole and as written: none cut off (Qt clips their text
    without a sign), no label showing markup as characters (``&#x27;``, ``<br>``: text escaped for
    rich text in a label Qt then read as plain)."""
    from PySide6 import QtWidgets

    from tests.helpers import LITERAL_MARKUP, button_cut_off, cut_off, displayed

    out = []
    for label in w.findChildren(QtWidgets.QLabel):
        if not label.isVisible():
            continue
        if re.search(LITERAL_MARKUP, text := displayed(label), re.IGNORECASE):
            out.append(f"a label shows markup: {text[:80]!r}")
        if why := cut_off(label):
            out.append(f"a label is cut off ({why}): {text[:80]!r}")
    for button in w.findChildren(QtWidgets.QAbstractButton):
        if button.isVisible() and (why := button_cut_off(button)):
            out.append(f"a button's text is cut off ({why}): {button.text()[:80]!r}")
    return out


def problems(w: MainWindow, names: Mapping[str, str] | None = None) -> list[str]:
    """What the window shows that a clinician must not see: a result or measurements of another
    recording, beats not read without a reason, a negative label explained while a finding is
    positive (unless the reader chose it), a worded form that contradicts the decision, doubled
    descriptions, a label cut off or showing markup. Empty when all is well."""
    rec, r, out = w.recording, w.ai.result, []
    if rec is None:
        return ["no recording open"]
    if w.measure.recording is not rec:
        out.append("the measurements panel holds another recording")
    out += interpretation_problems(w) + beats_problems(w) + unread_problems(w) + label_problems(w)
    if r is None:
        return [*out, "no AI result shown"]
    if r.source[0] != rec.uid:
        out.append(f"the AI result shown belongs to another recording ({r.segment.name})")
    reading = r.reading
    if reading is None:
        out.append("the result does not say what it read")
    elif not reading.every_beat and not all(u.reason and u.stop_s > u.start_s for u in reading.unread):
        out.append(f"not every beat read, and no seconds or reason given: {reading.text}")
    elif not reading.every_beat and not reading.unread:
        out.append(f"{reading.beats_read} of {reading.beats_detected} beats read, no reason given")
    preds = r.analysis.predictions
    target = preds.get(r.target.task, r.target.code)
    if w.ai.label is None and not target.decision and preds.positive():
        top = preds.positive()[0]
        out.append(f"explains {target.code} (negative) while {top.code} is positive")
    if target.decision and r.worded.form not in ("positive", "normal"):
        out.append(f"{target.code} is positive but worded in the {r.worded.form} form")
    if not target.decision and r.worded.form == "positive":
        out.append(f"{target.code} is negative but worded in the positive form")
    return out + doubled(w, names or {})


def window_facts(w: MainWindow, shown: Shown, names: Mapping[str, str]) -> dict[str, Any]:
    """What the window said, for the index and for comparing with the case's JSON; ``names``: the
    statement descriptions as they were before any window opened."""
    from ecgviewer.measure.pipeline import to_json

    r, size, m = w.ai.result, w.size(), w.measure.measurements
    hr = to_json(m)["values"].get("hr", {}).get("value") if m is not None and shown.error is None else None
    facts: dict[str, Any] = {
        **{k: v for k, v in vars(shown).items() if k != "box"},
        "title": w.windowTitle(),
        "size": f"{size.width()}x{size.height()}",
        "rate": w.rate_label.text(),
        "measured_hr": hr,
        "problems": [] if shown.error else problems(w, names),
    }
    if r is not None and shown.error is None:
        target = r.analysis.predictions.get(r.target.task, r.target.code)
        facts |= {
            "target": r.target.code,
            "decision": target.decision,
            "form": r.worded.form,
            "positives": [c.code for c in r.analysis.predictions.positive()],
            "span": list(r.span),
            "reading": r.reading.text if r.reading else None,
        }
    return facts


def go_through(out: Path, items: list[Case], width: int, height: int) -> dict[str, dict[str, Any]]:
    """One window at ``width`` x ``height`` opening every case in order; a PNG per case (the
    error's message box where it could not be opened) and what the window said."""
    from PySide6 import QtCore, QtGui

    from ecgviewer import assets
    from ecgviewer.io import ptbxl

    tag, facts, names = f"{width}x{height}", {}, dict(ptbxl.descriptions(assets.statements_dir()))
    with tempfile.TemporaryDirectory() as tmp:
        w = new_window(Path(tmp) / "review.ini", width, height)
        try:
            for k, case in enumerate(items, 1):
                shown = show(w, case.path)
                grabbed = shown.box if shown.box is not None else w.grab()
                png = out / f"{case.key}-{tag}.png"
                if not isinstance(grabbed, QtGui.QPixmap) or not grabbed.save(str(png)):
                    raise OSError(f"could not write {png}")
                thumb = grabbed.scaledToWidth(THUMB_PX, QtCore.Qt.TransformationMode.SmoothTransformation)
                thumb.save(str(out / f"{case.key}-{tag}.thumb.png"))
                facts[case.key] = window_facts(w, shown, names)
                if facts[case.key]["size"] != tag:  # a screenshot of another size reviews nothing
                    facts[case.key]["problems"].append(f"the window is {facts[case.key]['size']}, not {tag}")
                print(
                    f"{tag} {k}/{len(items)} {case.key}: {shown.seconds:.1f} s"
                    f"{', ' + shown.error if shown.error else ''}",
                    flush=True,
                )
        finally:
            w.cancel_tasks()
            w.close()
            w.deleteLater()
            _app().processEvents()
    return facts


# -- the report and the JSON ---------------------------------------------------------------------
def _cli(argv: list[str]) -> tuple[int, str]:
    """``ecgviewer ARGV`` in this process: its status and what it printed (an exception, too)."""
    from ecgviewer.cli import main

    said = io.StringIO()
    try:
        with contextlib.redirect_stdout(said), contextlib.redirect_stderr(said):
            code = main(argv)
    except Exception as exc:  # a crash is a finding of the review, not its end
        return 1, f"{said.getvalue()}{type(exc).__name__}: {exc}"
    return code, said.getvalue().strip()


def report(out: Path, case: Case) -> tuple[list[Path], str | None]:
    """The case's PDF report and its pages as PNG (PDFium, an independent reader)."""
    import pypdfium2 as pdfium
    from PIL import Image

    pdf = out / f"{case.key}-report.pdf"
    code, said = _cli(["report", str(case.path), "--out", str(pdf)])
    if code != 0 or not pdf.is_file():
        return [], said or f"exit status {code}"
    pages = []
    for k, page in enumerate(pdfium.PdfDocument(str(pdf)), 1):
        png = out / f"{case.key}-report-p{k}.png"
        image = page.render(scale=REPORT_DPI / 72).to_pil()
        image.save(png)
        image.thumbnail((THUMB_PX, THUMB_PX), Image.Resampling.LANCZOS)
        image.save(out / f"{case.key}-report-p{k}.thumb.png")
        pages.append(png)
    return pages, None


def analysis(out: Path, case: Case) -> tuple[dict | None, str | None]:
    """``ecgviewer analyze --measure`` of the case, as JSON."""
    target = out / f"{case.key}.json"
    code, said = _cli(["analyze", str(case.path), "--measure", "--json", str(target)])
    if not target.is_file():
        return None, said or f"exit status {code}"
    doc = json.loads(target.read_text())
    errors = "; ".join(e["error"] for e in doc.get("errors", []))
    return doc, errors or None


def key_facts(doc: dict) -> dict[str, Any]:
    """What a reader checks first in a case's JSON."""
    r = doc["records"][0]
    e = r["explanation"]
    t = e["target"]
    target = next(c for c in r["predictions"][t["task"]] if c["code"] == t["code"])
    positive = {
        c["code"]: c for cs in r["predictions"].values() for c in cs if c["surfaced"] and c["decision"]
    }
    positives = sorted(positive.values(), key=lambda c: -c["probability"])  # NORM is in both tasks: once
    values = (r.get("measurements") or {}).get("values", {})
    reading = r.get("reading") or {}
    return {
        "reading": reading.get("text", "no reading entry"),
        "beats": f"{reading.get('beats_read')} read of {reading.get('beats_detected')} detected",
        "every_beat": reading.get("every_beat"),
        "unread": [
            f"{u['start_s']:.1f}\u2013{u['stop_s']:.1f} s: {u['reason']}" for u in reading.get("unread", [])
        ],
        "label": f"{t['code']} ({t['description']}), p = {t['probability']:.2f}",
        "target": t["code"],
        "decision": target["decision"],
        "summary": e["summary"]["text"],
        "form": e["summary"]["form"],
        "positives": [f"{c['code']} {c['probability']:.2f}" for c in positives],
        "not_reported": len(r.get("not_reported", [])),
        "statements": [  # a statement whose numbers are met but which is not stated says so
            s["text"] + (f" (not stated: {s['not_stated']})" if s.get("not_stated") else "")
            for s in r.get("statements", [])
        ],
        "device": (r.get("acquiring_device") or {}).get("statements", []),
        "labels": r.get("record_labels") or {},
        "measured": {
            k: f"{v['value']:g} {v['unit']}"
            if v.get("value") is not None
            else f"none ({v.get('reason', '?')})"
            for k in ("hr", "pr", "qrs", "qtc_bazett")
            if (v := values.get(k))
        },
        "rhythm": (r.get("rhythm") or {}).get("counts"),
        "beat_list": sum(((r.get("rhythm") or {}).get("counts") or {}).values()) if r.get("rhythm") else None,
        "detected": reading.get("beats_detected"),
        "disputed": sum(u.get("beats", 0) for u in reading.get("unread", [])),
        "whole": r["whole"],
        "span": r["span_s"],
        "warnings": r.get("warnings", []),
    }


def doubts(facts: dict[str, Any]) -> list[str]:
    """Where the JSON contradicts itself: "every beat read" counts the beats the model's own R-peak
    detector found, so a beat it missed is invisible there, but the beat list (the delineator's,
    over the same whole recording) still holds it; beats the reading itself says are disputed (read in
    noise the measurements could not read, or more than they found) are not held against it."""
    listed, found = facts["beat_list"], facts["detected"]
    if facts["whole"] and listed is not None and found is not None:
        said = found - facts.get("disputed", 0)
        if abs(listed - said) > 1:
            told = f" ({found - said} of them said disputed)" if said != found else ""
            return [f"the model found and read {found} beats{told}, the beat list holds {listed}"]
    return []


def disagreements(window: dict[str, Any], facts: dict[str, Any]) -> list[str]:
    """Where the window and ``analyze`` differ on the same case (same model, same whole span)."""
    if window.get("error") or "target" not in window:
        return []
    out = []
    rate = re.match(r"HR (\d+) bpm", window["rate"])
    hr = window["measured_hr"]
    if rate and hr and abs(float(rate.group(1)) - hr) > 0.1 * hr:
        out.append(f"the status bar says {window['rate']}, the Measurements panel HR {hr:g} bpm")
    if window["span"] != facts["span"]:
        return [
            *out,
            f"the window analysed {window['span'][0]:g}\u2013{window['span'][1]:g} s, analyze "
            f"{facts['span'][0]:g}\u2013{facts['span'][1]:g} s",
        ]
    if window["target"] != facts["target"]:
        out.append(f"the window explains {window['target']}, analyze {facts['target']}")
    if window["form"] != facts["form"]:
        out.append(f"the window's words are {window['form']}, analyze's {facts['form']}")
    return out


# -- the index -----------------------------------------------------------------------------------
STYLE = """body{font:14px system-ui,sans-serif;margin:1em}table{border-collapse:collapse}
td,th{border:1px solid #ccc;padding:6px;vertical-align:top}th{background:#eee}
img{display:block;margin-bottom:4px;border:1px solid #999}.err{color:#a00000;font-weight:bold}
.why{max-width:22em;font-size:12px}.facts{max-width:34em}.facts li{margin:2px 0}.ok{color:#060}"""


def _e(x: object) -> str:
    return html.escape(str(x))


def _thumb(name: str, caption: str) -> str:
    return f'<a href="{_e(name)}.png"><img src="{_e(name)}.thumb.png" alt="{_e(caption)}"></a>{_e(caption)}'


def _row(k: int, case: Case, row: dict[str, Any], sizes: list[str]) -> str:
    shots = [
        _thumb(f"{case.key}-{s}", s + (" (the error)" if row["window"][s].get("error") else ""))
        for s in sizes
        if s in row["window"]
    ]
    pages = row["pages"]
    if pages:
        shots.append(_thumb(pages[0].stem, "report page 1"))
    links = [f'<a href="{_e(p.name)}">page {n}</a>' for n, p in enumerate(pages, 1)]
    if row["pdf"]:
        links.insert(0, f'<a href="{_e(row["pdf"])}">PDF</a>')
    if row["json"]:
        links.append(f'<a href="{_e(row["json"])}">JSON</a>')
    items = [f'<li class="err">{_e(what)}: {_e(err)}</li>' for what, err in row["errors"]]
    f = row["facts"]
    if f:
        decision = {True: "positive", False: "negative", None: "no threshold"}[f["decision"]]
        every = "" if f["every_beat"] else " <b>(not every beat)</b>"
        items += [
            f"<li><b>Beats</b>: {_e(f['beats'])}{every}. {_e(f['reading'])}</li>",
            f"<li><b>Explained</b>: {_e(f['label'])}, <b>{decision}</b> ({_e(f['form'])} form): "
            f"{_e(f['summary'])}</li>",
            f"<li><b>Positive</b>: {_e(', '.join(f['positives']) or 'none')}</li>",
            f"<li><b>Statements</b>: {_e('; '.join(f['statements']) or 'none')}</li>",
            f"<li><b>Measured</b>: {_e(', '.join(f'{k} {v}' for k, v in f['measured'].items()) or 'none')}; "
            f"beat kinds {_e(f['rhythm'])}</li>",
            f"<li><b>Not reported</b> by the model card: {f['not_reported']} classes</li>",
        ]
        if f["labels"]:
            labels = ", ".join(f"{c} {v:g}" for c, v in f["labels"].items())
            items.append(f"<li><b>Record's labels</b>: {_e(labels)}</li>")
        if f["device"]:
            items.append(f"<li><b>Device said</b>: {_e('; '.join(f['device']))}</li>")
        if f["warnings"]:
            items.append(f"<li><b>Warnings</b>: {_e('; '.join(f['warnings']))}</li>")
    items += [f'<li class="err">In the JSON: {_e(d)}</li>' for d in row["doubts"]]
    for s in sizes:
        wf = row["window"].get(s, {})
        said = [*wf.get("problems", []), *wf.get("notes", []), *row["disagree"].get(s, [])]
        state = f"{wf.get('seconds', 0):.0f} s, {_e(wf.get('rate', ''))}"
        text = "; ".join(said) if said else "nothing wrong found"
        cls = "err" if said else "ok"
        items.append(f'<li><b>Window {s}</b> ({state}): <span class="{cls}">{_e(text)}</span></li>')
    return (
        f"<tr><td>{k}</td><td><b>{_e(case.title)}</b><br><code>{_e(case.path.name)}</code></td>"
        f'<td class="why">{_e(case.why)}</td><td>{"".join(shots)}</td><td>{" · ".join(links)}</td>'
        f'<td class="facts"><ul>{"".join(items)}</ul></td></tr>'
    )


def write_index(
    out: Path, items: list[Case], rows: dict[str, dict[str, Any]], sizes: list[str], seconds: float
) -> Path:
    from ecgviewer import NOTICE_INLINE, __version__

    body = "\n".join(_row(k, c, rows[c.key], sizes) for k, c in enumerate(items, 1))
    failed = sum(bool(r["errors"]) for r in rows.values())
    wrong = sum(any(f.get("problems") for f in r["window"].values()) for r in rows.values())
    doubted = sum(bool(r["doubts"]) for r in rows.values())
    summary = (
        f"{failed} cases with an error, {wrong} with a window problem (tests/gui/test_review.py's "
        f"checks), {doubted} whose JSON contradicts itself."
    )
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>ecgviewer case review</title>
<style>{STYLE}</style></head><body><h1>ecgviewer {_e(__version__)}: clinical case review</h1>
<p>{len(items)} recordings from <code>{_e(SHARED)}</code>, chosen by fixed rules (tests/review.py), opened one
after another in one window per size, as a clinician goes through a list; then each one's report
(<code>ecgviewer report</code>, rasterised by PDFium at {REPORT_DPI} dpi) and analysis
(<code>ecgviewer analyze --measure</code>). {_e(NOTICE_INLINE)}. Made in {seconds / 60:.1f} min on
{time.strftime("%Y-%m-%d %H:%M")}.</p><p><b>{_e(summary)}</b></p>
<table><tr><th>#</th><th>case</th><th>why chosen</th><th>window and report</th><th>files</th>
<th>key facts (from the JSON) and what the window got wrong</th></tr>
{body}
</table></body></html>
"""
    index = out / "index.html"
    index.write_text(page, encoding="utf-8")
    return index


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=REPO / "build" / "review")
    ap.add_argument("--sizes", default="1366x768,1920x1080", help="window sizes, logical pixels")
    ap.add_argument("--only", help=f"case keys, comma-separated ({', '.join(KEYS)})")
    args = ap.parse_args(argv)
    if not (SHARED / "README.md").is_file():
        print(f"{SHARED} not found (set ECGVIEWER_SHARED_DATA): nothing to review", file=sys.stderr)
        return 2
    from ecgviewer.measure import workers

    workers.allow()  # as the app's ways in (``cli.entry``): long beat lists share a worker process
    started = time.monotonic()
    if args.out.is_dir() and any(args.out.iterdir()):
        if not (args.out / "index.html").is_file():
            print(f"{args.out} holds other files than a review: choose another --out", file=sys.stderr)
            return 2
        shutil.rmtree(args.out)  # a previous review: its files would be mistaken for this one's
    args.out.mkdir(parents=True, exist_ok=True)
    items = cases(SHARED, args.out / "data", args.only.split(",") if args.only else None)
    sizes = [f"{w}x{h}" for w, h in _sizes(args.sizes)]
    rows: dict[str, dict[str, Any]] = {
        c.key: {
            "window": {},
            "pages": [],
            "pdf": None,
            "json": None,
            "facts": None,
            "errors": [],
            "disagree": {},
            "doubts": [],
        }
        for c in items
    }
    for width, height in _sizes(args.sizes):
        for key, facts in go_through(args.out, items, width, height).items():
            rows[key]["window"][f"{width}x{height}"] = facts
            if facts["error"]:
                rows[key]["errors"].append((f"window {width}x{height}", facts["error"]))
    for k, case in enumerate(items, 1):
        row = rows[case.key]
        row["pages"], err = report(args.out, case)
        if err:
            row["errors"].append(("report", err))
        else:
            row["pdf"] = f"{case.key}-report.pdf"
        doc, err = analysis(args.out, case)
        if err:
            row["errors"].append(("analyze", err))
        if doc is not None:
            row["json"] = f"{case.key}.json"
            try:
                if doc.get("records"):
                    row["facts"] = key_facts(doc)
                    row["disagree"] = {s: disagreements(f, row["facts"]) for s, f in row["window"].items()}
                    row["doubts"] = doubts(row["facts"])
            except (KeyError, TypeError, ValueError, StopIteration) as exc:  # a JSON the review misreads
                row["errors"].append(("reading the JSON", f"{type(exc).__name__}: {exc}"))
        print(f"report and JSON {k}/{len(items)} {case.key}: {time.monotonic() - started:.0f} s", flush=True)
    (args.out / "review.json").write_text(
        json.dumps({"cases": [asdict(c) for c in items], "rows": rows}, indent=1, default=str)
    )
    print(write_index(args.out, items, rows, sizes, time.monotonic() - started))
    return 0


if __name__ == "__main__":
    sys.exit(main())
