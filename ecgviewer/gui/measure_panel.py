"""Clinical measurements in the window: the panel of intervals, QTc and axes, and the controller
that loads the delineator in the background, measures the recording on screen off the UI thread,
applies the user's caliper edits on the median beats and lays the model's attributions on them.

Torch is imported by the delineator's loading task, after the first paint and never on the UI
thread (as the AI model is). A measurement of a recording that is no longer on screen is dropped
when it arrives; a long recording is measured a span at a time (the AI's rule), again whenever the
page leaves the measured span.
"""

from __future__ import annotations

import contextlib
import html
from typing import TYPE_CHECKING

from PySide6 import QtCore, QtWidgets

from ecgviewer import NOTICE_INLINE
from ecgviewer.gui.analysis import SPAN_DELAY_MS, Runner, after_first_paint, page_inside
from ecgviewer.gui.explain_view import METHOD_NAMES
from ecgviewer.gui.median_view import MedianPanel, Rhythm, median_scores, rhythm_lead
from ecgviewer.gui.paper import PaperView
from ecgviewer.gui.settings import Settings
from ecgviewer.gui.workers import Task
from ecgviewer.measure.agreement import flags
from ecgviewer.measure.intervals import QTC_FORMULAS, TOO_NOISY, Measurements, Value, with_fiducials
from ecgviewer.measure.median_attribution import MedianAttribution, median_attribution
from ecgviewer.measure.statements import interpret
from ecgviewer.measurements import FIDUCIAL_NAMES, FIDUCIALS, MEASUREMENTS
from ecgviewer.ml.placement import token_times
from ecgviewer.recording import DeviceReport, Recording
from ecgviewer.render.traces import TraceSource

if TYPE_CHECKING:
    from ecgviewer.measure.delineate import Delineator
    from ecgviewer.ml.explain import Explanation
    from ecgviewer.ml.session import Result

ROWS = tuple((key, q.label) for key, q in MEASUREMENTS.items())
COLUMNS = ("Measurement", "Value", "Unit", "Device", "Note")  # the device's value beside ours
DEVICE_COLUMN, NOTE_COLUMN = COLUMNS.index("Device"), COLUMNS.index("Note")
NOTICE = f"Automatic measurements on the median beat: check them there ({NOTICE_INLINE})."
PACED_NOTE = "paced complex"  # a value measured on paced beats
DIFFERS = "\u26a0 differs from the device"  # how the note of a value flagged against the device begins
STRIP_MAX_S = 60.0  # the rhythm strip shows at most this much of the measured span
SPAN_MATCH_S = 0.05  # an analysis and a measurement of spans this close cover the same beats


def _number(v: Value) -> str:
    return "\u2014" if v.value is None else f"{v.value:.0f}"


class MeasurePanel(QtWidgets.QWidget):
    """Intervals, QTc (its formula named in the row) and axes, each with its unit, the reason a
    value is missing, which values the user's edits changed, which are the paced complex's and
    which differ from the device's beyond IEC 60601-2-25's limit (``measure.agreement``); the
    statements (those met where they do not apply shown not stated, with the reason) and the notes
    of the measurement."""

    formulaChanged = QtCore.Signal(str)
    resetRequested = QtCore.Signal()
    cardRequested = QtCore.Signal()

    def __init__(self, formula: str, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.measurements: Measurements | None = None
        self.auto: Measurements | None = None
        self.device: DeviceReport | None = None
        self.notice = QtWidgets.QLabel(NOTICE)
        self.notice.setWordWrap(True)
        self.status = QtWidgets.QLabel("")
        self.status.setWordWrap(True)
        self.formula = QtWidgets.QComboBox()
        for name in QTC_FORMULAS:
            self.formula.addItem(name, name)
        self.formula.setCurrentIndex(max(0, self.formula.findData(formula)))
        self.formula.setToolTip("Heart-rate correction of the QT interval")
        self.formula.activated.connect(self._formula_chosen)
        self.reset_button = QtWidgets.QPushButton("Reset edits")
        self.reset_button.setToolTip("Put the fiducials back where the delineator placed them")
        self.reset_button.setEnabled(False)
        self.reset_button.clicked.connect(self.resetRequested)
        self.table = QtWidgets.QTableWidget(len(ROWS), len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        header = self.table.horizontalHeader()  # the columns follow their text; the note takes the rest
        header.setSectionResizeMode(QtWidgets.QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(NOTE_COLUMN, QtWidgets.QHeaderView.ResizeMode.Stretch)
        self.table.horizontalHeaderItem(DEVICE_COLUMN).setToolTip(
            "What the acquiring device measured, as stored in the file (not recomputed)"
        )
        for r in range(len(ROWS)):
            for c in range(len(COLUMNS)):
                self.table.setItem(r, c, QtWidgets.QTableWidgetItem(""))
        self._fit_table()
        self.notes = QtWidgets.QLabel("")
        self.notes.setWordWrap(True)
        self.notes.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        # what the measurements support, criteria and values in the tooltip; apart from the model
        self.statements = QtWidgets.QLabel("")
        self.statements.setWordWrap(True)
        self.statements.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        self.sex: str | None = None  # the patient's, for the sex-specific limits (QTc, Cornell)
        self.statement_lines: list[str] = []  # the statements made, as ``Statement.line`` writes them
        self.withheld_lines: list[str] = []  # those met where they do not apply, with the reason
        row = QtWidgets.QHBoxLayout()
        row.addWidget(QtWidgets.QLabel("QTc formula"))
        row.addWidget(self.formula)
        row.addStretch(1)
        row.addWidget(self.reset_button)
        card = QtWidgets.QPushButton("Delineator card")  # reference, under the notes: the row stays narrow
        card.setToolTip("What the delineator was trained on and how it was validated")
        card.clicked.connect(self.cardRequested)
        box = QtWidgets.QVBoxLayout(self)
        box.setContentsMargins(4, 4, 4, 4)
        box.addWidget(self.notice)
        box.addWidget(self.status)
        # the interpretation first, as a cart prints it, then the values it rests on
        box.addWidget(QtWidgets.QLabel("<b>Statements from the measurements</b>"))
        box.addWidget(self.statements)
        box.addLayout(row)
        box.addWidget(self.table)
        box.addWidget(QtWidgets.QLabel("<b>Notes</b>"))
        box.addWidget(self.notes)
        box.addWidget(card, 0, QtCore.Qt.AlignmentFlag.AlignLeft)
        box.addStretch(1)
        self.set_device(None)

    def _fit_table(self) -> None:
        """One line of text per row, and no taller than its rows (the dock's room goes to the
        findings); again when the system font changes."""
        self.table.verticalHeader().setDefaultSectionSize(self.table.fontMetrics().height() + 6)
        rows = self.table.verticalHeader().defaultSectionSize() * len(ROWS)
        self.table.setFixedHeight(rows + self.table.horizontalHeader().sizeHint().height() + 4)

    def changeEvent(self, event: QtCore.QEvent) -> None:
        if event.type() == QtCore.QEvent.Type.FontChange:
            self._fit_table()
        super().changeEvent(event)

    def current_formula(self) -> str:
        return str(self.formula.currentData())

    def set_status(self, text: str) -> None:
        self.status.setText(text)

    def set_measurements(self, m: Measurements | None, auto: Measurements | None = None) -> None:
        """Show ``m``; ``auto`` (the unedited measurement) gives the automatic value of an edited one."""
        self.measurements, self.auto = m, auto if auto is not None else m
        self._fill()

    def set_device(self, report: DeviceReport | None) -> None:
        """The device's own measurements in their own column (hidden when the file has none)."""
        self.device = report if report is not None and report.measurements else None
        self.table.setColumnHidden(DEVICE_COLUMN, self.device is None)
        self._fill()

    def cells(self, key: str) -> tuple[str, ...]:
        """The texts of one row (a key of ``ROWS``), as shown."""
        r = [k for k, _ in ROWS].index(key)
        return tuple(self.table.item(r, c).text() for c in range(len(COLUMNS)))

    def _value(self, m: Measurements, key: str) -> Value:
        return m.qtc(self.current_formula()) if key == "qtc" else m.values[key]

    def _fill(self) -> None:
        m, auto = self.measurements, self.auto
        formula = self.current_formula()
        flagged = flags(m, self.device, formula) if m is not None else {}
        for r, (key, name) in enumerate(ROWS):
            label = f"{name} ({formula})" if key == "qtc" else name
            texts, notes, tips, edited = [label, "", "", self._device_text(key), ""], [], [], False
            if m is not None and auto is not None:
                v = self._value(m, key)
                edited = v.edited
                texts[1:3] = [_number(v), v.unit]
                if v.value is None:
                    notes.append(v.reason)
                    tips.append(v.reason)
                if v.paced:
                    notes.append(PACED_NOTE)
                    tips.append("measured on the paced beats: the paced complex's value")
                if edited and v.value is not None:
                    was = self._value(auto, key)
                    notes.append("edited")
                    tips.append(f"edited; automatic value {_number(was)} {was.unit}")
                if key in flagged:
                    notes.insert(0, DIFFERS)
                    tips.insert(0, f"{DIFFERS}: {flagged[key].text()}; check the median beat")
            texts[NOTE_COLUMN] = "; ".join(notes)
            for c, text in enumerate(texts):
                item = self.table.item(r, c)
                item.setText(text)
                item.setToolTip("\n".join(tips))
                font = item.font()
                font.setItalic(edited)
                font.setBold(
                    (edited and c in (1, NOTE_COLUMN))
                    or (key in flagged and c in (DEVICE_COLUMN, NOTE_COLUMN))
                )
                item.setFont(font)
        self.reset_button.setEnabled(bool(m is not None and m.edited))
        self.notes.setText("\n".join(f"\u2022 {line}" for line in self._notes()))
        self._fill_statements()

    def _fill_statements(self) -> None:
        """One line per statement: what it says and the values that met it; the criterion and its
        source in the tooltip. A statement whose numbers are met where it does not apply shows in
        italics, not stated, with the reason. They follow the edits and the QTc formula, as the
        values do."""
        m = self.measurements
        found = interpret(m, self.sex, self.current_formula()) if m is not None else []
        self.statement_lines = [s.line() for s in found if not s.withheld]
        self.withheld_lines = [s.line() for s in found if s.withheld]
        rows = [
            f"\u2022 <i>{html.escape(s.heading())}</i>: {html.escape(s.shown())}"
            if s.withheld
            else f"\u2022 <b>{html.escape(s.heading())}</b>: {html.escape(s.shown())}"
            for s in found
        ]
        none = "none met" if m is not None else ""
        self.statements.setText("<br>".join(rows) or none)
        self.statements.setToolTip(
            "\n".join(f"{s.criterion.text}: {s.criterion.rule} ({s.criterion.source})" for s in found)
        )

    def _device_text(self, key: str) -> str:
        if self.device is None or key not in self.device.measurements:
            return ""
        value = f"{self.device.measurements[key]:.0f} {MEASUREMENTS[key].unit}"
        formula = self.device.qtc_formula
        return f"{value} ({formula})" if key == "qtc" and formula else value

    def _notes(self) -> list[str]:
        m = self.measurements
        if m is None:
            return []
        n, used = len(m.beat_reasons), sum(1 for r in m.beat_reasons if not r)
        lines = [f"{m.span_s[0]:.1f}\u2013{m.span_s[1]:.1f} s: {n} beats, {used} in the median beat"]
        lines += m.notes
        if m.edited:
            moved = ", ".join(FIDUCIAL_NAMES[k] for k in FIDUCIALS if k in m.edited)
            lines.append(f"moved by hand on the median beats: {moved}")
        return lines

    def set_formula(self, name: str) -> None:
        """Choose the QTc formula from elsewhere (Preferences), as the box does."""
        self.formula.setCurrentIndex(max(0, self.formula.findData(name)))
        self._formula_chosen()

    def _formula_chosen(self) -> None:
        self._fill()
        self.formulaChanged.emit(self.current_formula())


class MeasureController(QtCore.QObject):
    measured = QtCore.Signal(object)  # Measurements, once the panel and the median beats show them

    def __init__(self, paper: PaperView, settings: Settings, run: Runner, parent: QtWidgets.QWidget) -> None:
        super().__init__(parent)
        self.paper, self.settings, self._run = paper, settings, run
        self.panel = MeasurePanel(settings.qtc_formula())
        self.median = MedianPanel()
        self.delineator: Delineator | None = None
        self.enabled = False
        self.recording: Recording | None = None
        self.auto: Measurements | None = None  # as measured
        self.measurements: Measurements | None = None  # with the user's edits
        self.ai_result: Result | None = None
        self.span: tuple[float, float] | None = None  # seconds of the recording measured
        self.rhythm: Rhythm | None = None  # the strip under the median beats
        self._rhythm_key: tuple | None = None  # the paper's options it was drawn for
        self._load_state = "idle"  # idle, pending (waiting for the first paint), loading
        self._pending: Task | None = None  # the measuring task whose result is awaited
        self._span_timer = QtCore.QTimer(self, singleShot=True, interval=SPAN_DELAY_MS)
        self._span_timer.timeout.connect(self.measure)
        self.panel.formulaChanged.connect(settings.set_qtc_formula)
        self.panel.resetRequested.connect(self.reset_edits)
        self.panel.cardRequested.connect(self.show_card)
        self.median.view.fiducialMoved.connect(self.move_fiducial)
        self.median.show_attribution.toggled.connect(self._update_attribution)
        paper.refreshed.connect(self._page_refreshed)
        self._page_refreshed()

    # -- delineator ------------------------------------------------------------------------------
    def set_enabled(self, on: bool) -> None:
        """Measure (loading the delineator in the background the first time), or stop measuring."""
        self.enabled = on
        if not on:
            if self._pending is not None:
                self._pending.cancel()
            self._pending = None
            self._show(None)
            self._status("Measurements are off (Tools > Measurements).")
        elif self.delineator is None:
            self._status("Loading the delineator\u2026")
            if self._load_state == "idle":
                self._load_state = "pending"
                after_first_paint(self.paper, self._load)
        else:
            self.measure()

    def _load(self) -> None:
        if self.delineator is not None or self._load_state == "loading":
            return
        if not self.enabled:  # turned off while waiting: load when turned on again
            self._load_state = "idle"
            return
        self._load_state = "loading"

        def job(_progress) -> Delineator:
            from ecgviewer.measure.delineate import Delineator

            return Delineator.bundled()

        task = self._run("delineator", "Loading the delineator", job, self._loaded, quiet=True)
        task.signals.failed.connect(self._load_failed)

    def _loaded(self, delineator: Delineator) -> None:
        self.delineator, self._load_state = delineator, "idle"
        self._status("")
        self.measure()

    def _load_failed(self, message: str) -> None:
        self._load_state = "idle"
        self._status(f"The delineator could not be loaded: {message}")

    # -- measuring -------------------------------------------------------------------------------
    def set_recording(self, rec: Recording) -> None:
        self.recording, self.ai_result, self.span = rec, None, None
        self.panel.sex = rec.metadata.sex
        device = rec.metadata.device
        self.panel.set_device(device)
        self.median.set_device_median(device.median if device is not None else None)
        self._show(None)
        if self.enabled:
            self.measure()

    def measure(self) -> None:
        """Measure the recording on screen (a long one: the span the AI would analyse) off the UI thread."""
        rec, delineator = self.recording, self.delineator
        if rec is None or delineator is None or not self.enabled:
            return
        t0 = self.paper.t0

        def job(_progress) -> tuple[Recording, tuple[float, float], Measurements | None]:
            from ecgviewer.analysis import analyse

            found = analyse(rec, delineator=delineator, t0=t0)
            return rec, found.span, found.measurements

        self._status("Measuring\u2026")
        task = self._run("measure", "Measuring", job, self._measured, quiet=True)
        task.signals.failed.connect(self._failed)
        task.signals.ended.connect(self._ended)
        self._pending = task

    def _measured(self, out: tuple[Recording, tuple[float, float], Measurements]) -> None:
        rec, span, m = out
        if rec is not self.recording or not self.enabled:
            return  # measured a recording that is no longer on screen
        self._pending, self.span = None, span
        whole = span == (0.0, rec.duration)
        # a long recording's span starts at the page and may run past it (a 10 s page, 30 s measured)
        said = f"Measured {span[0]:.1f}\u2013{span[1]:.1f} s, from the page's start."
        if whole:
            said = "Whole recording."
        for a, b in m.too_noisy:
            said += f" {a:.1f}\u2013{b:.1f} s {TOO_NOISY}: no beat counted there."
        self._status(said)
        self._show(m)
        self._update_attribution()
        if not whole and not page_inside(self.paper.page, span):
            self._span_timer.start()  # the page moved on while this span was measured
        self.measured.emit(m)

    def _failed(self, message: str) -> None:
        self._pending = None
        self._status(f"Measurement failed: {message}")

    def _ended(self) -> None:
        if self.enabled and self._pending is not None and self._pending.cancelled:
            self._pending = None
            self._status("Measurement cancelled (turn Tools > Measurements off and on to measure again).")

    def _page_refreshed(self) -> None:
        self.median.view.set_view(self.paper.options, self.paper.px_per_mm)
        if self.measurements is not None and self._strip_key() != self._rhythm_key:
            self._refresh()  # another rhythm lead, speed or display filter for the strip
        span, rec = self.span, self.recording
        if span is None or rec is None or span == (0.0, rec.duration):
            return
        if not page_inside(self.paper.page, span):
            self._span_timer.start()  # the page left the measured span

    # -- edits -----------------------------------------------------------------------------------
    def move_fiducial(self, key: str, ms: float) -> None:
        """A caliper dragged on the median beats: recompute what depends on it, at once."""
        if self.measurements is not None:
            with contextlib.suppress(ValueError):  # it would cross a neighbour: the line snaps back
                self.measurements = with_fiducials(self.measurements, **{key: ms})
            self._refresh()

    def show_card(self) -> None:
        """The delineator's model card, with the SHA-256 of the weights on disk."""
        from ecgviewer.assets import delineator_path
        from ecgviewer.gui.diagnosis import ModelCardDialog
        from ecgviewer.weights import sha256

        path = delineator_path()
        ModelCardDialog(path, sha256(path) if path.is_file() else None, self.panel).exec()

    def reset_edits(self) -> None:
        self.measurements = self.auto
        self._refresh()

    def _show(self, m: Measurements | None) -> None:
        self.auto = self.measurements = m
        if m is None:
            self.median.set_attribution(None)
        self._refresh()

    def _refresh(self) -> None:
        self.panel.set_measurements(self.measurements, self.auto)
        self.median.view.set_measurements(self.measurements, self._rhythm())

    def _rhythm(self) -> Rhythm | None:
        """The paper's rhythm lead over the measured span, display-filtered as on the paper (the
        same object while neither changes, so an edit only moves the calipers)."""
        rec, m, o = self.recording, self.measurements, self.paper.options
        if rec is None or m is None:
            self.rhythm, self._rhythm_key = None, None
        elif (key := self._strip_key()) != self._rhythm_key:
            lead = rhythm_lead(o)
            self.rhythm, self._rhythm_key = None, key
            if lead in rec.leads:
                s0 = max(0, round(m.span_s[0] * rec.fs))
                s1 = min(rec.n_samples, round(min(m.span_s[1], m.span_s[0] + STRIP_MAX_S) * rec.fs))
                mv = TraceSource(rec).window(o.filter, s0, s1)[rec.index(lead)]
                self.rhythm = Rhythm(lead, s0 / rec.fs, rec.fs, mv)
        return self.rhythm

    def _strip_key(self) -> tuple:
        o, m = self.paper.options, self.measurements
        return (id(self.recording), m.span_s if m is not None else None, o.rhythm, o.filter, o.speed)

    def _status(self, text: str) -> None:
        self.panel.set_status(text)
        self.median.status.setText(text)

    # -- attributions ----------------------------------------------------------------------------
    def set_ai_result(self, result: Result | None) -> None:
        """The model's latest analysis of the recording on screen (None: the AI is off)."""
        self.ai_result = result
        self._update_attribution()

    def _update_attribution(self) -> None:
        m, r = self.auto, self.ai_result
        if m is None or r is None or not self.median.show_attribution.isChecked():
            self.median.set_attribution(None)
            return
        if abs(r.span[0] - m.span_s[0]) > SPAN_MATCH_S or abs(r.span[1] - m.span_s[1]) > SPAN_MATCH_S:
            self.median.set_attribution(
                None,
                f"No attribution: the analysis covers {r.span[0]:.1f}\u2013{r.span[1]:.1f} s, "
                f"the median beats {m.span_s[0]:.1f}\u2013{m.span_s[1]:.1f} s.",
            )
            return
        e, tokens = r.explanation, r.analysis.tokens
        token_r = token_times(tokens, r.offset_s).r_s
        included = m.r_times[[not why for why in m.beat_reasons]]
        att = median_attribution(e.beats, e.samples, tokens.pad, token_r, included)
        label = attribution_label(e)
        self.median.set_attribution(median_scores(att, m.leads, label), attribution_caption(e, att))


def attribution_label(e: Explanation) -> str:
    return f"{METHOD_NAMES[e.method]} attribution of {e.target.code}"


def attribution_caption(e: Explanation, att: MedianAttribution) -> str:
    """The median beats' attribution in words: method and target, the reference it is measured
    against (the explanation's own, named as the attribution panel names it: a normal beat or a
    flat line), which beats were averaged, and at what resolution."""
    beats = int(att.n_beats.max()) if att.n_beats.size else 0
    which = (
        f"mean over the {beats} analysed beats that are in the median beat"
        if att.matched
        else f"no analysed beat matched a beat of the median: mean over all {beats} analysed beats"
    )
    per = "per sample at 100 Hz (strip under each beat)" if e.samples is not None else "per beat only"
    return f"{attribution_label(e)} (logit, against the reference: {e.baseline}), {which}; {per}."
