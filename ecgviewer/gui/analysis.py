"""The AI side of the window: loads the chosen model (Preferences; the bundled one by default)
in the background, analyses the recording on screen off the UI thread, and keeps the diagnosis,
attribution and attention panels, the beat shading on the paper and the status bar's device in
step.

Torch is imported by the first background task, never on the UI thread: the window is up and
usable while the model loads. One lock serialises the tasks that use the model, so a new
request waits (on its worker thread) for a cancelled one to reach its next check.
"""

from __future__ import annotations

import html
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6 import QtCore, QtWidgets

from ecgviewer import NOTICE
from ecgviewer.errors import EcgError
from ecgviewer.gui import workers
from ecgviewer.gui.attention_view import AttentionPanel
from ecgviewer.gui.diagnosis import DiagnosisPanel, ModelCardDialog
from ecgviewer.gui.explain_view import ExplainPanel, Selection
from ecgviewer.gui.overlay import BAND_MM, BeatShading
from ecgviewer.gui.paper import HoverInfo, PaperView
from ecgviewer.gui.settings import Settings
from ecgviewer.ml.placement import BeatScores, beat_scores, token_times
from ecgviewer.recording import Recording
from ecgviewer.render.layout import Page

if TYPE_CHECKING:
    from ecgviewer.measure.intervals import Measurements
    from ecgviewer.ml.infer import Analyzer
    from ecgviewer.ml.session import Result

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")
Runner = Callable[..., object]  # TaskRunner.run(key, title, fn, on_done, quiet=False)
SPAN_DELAY_MS = 400  # a long recording's page must rest this long before its span is analysed
LOAD_FALLBACK_MS = 1500  # load the model this long after start-up when no recording has painted


def after_first_paint(paper: PaperView, fn: Callable[[], None], fallback_ms: int = LOAD_FALLBACK_MS) -> None:
    """Call ``fn`` once: when the paper first paints a recording, or after ``fallback_ms`` if none
    has painted. Loading a model imports torch, which competes for the CPU: the ECG comes first."""
    done = False

    def fire() -> None:
        nonlocal done
        if not done:
            done = True
            paper.painted.disconnect(painted)
            QtCore.QTimer.singleShot(0, paper, fn)  # after every listener of this paint has run

    def painted() -> None:
        if paper.recording is not None:
            fire()

    paper.painted.connect(painted)
    QtCore.QTimer.singleShot(fallback_ms, paper, fire)


def page_inside(page: Page | None, span: tuple[float, float]) -> bool:
    """Whether ``page`` lies within ``span`` seconds (a long recording's analysed part)."""
    return page is not None and span[0] <= page.t0 and page.t0 + page.span <= span[1] + 1e-6


def _shows(page: Page, lead: str, t: float) -> bool:
    """Whether ``page`` draws ``lead`` at ``t`` seconds."""
    return any(p.lead == lead and p.t0 <= t < p.t1 for p in page.panels)


class AnalysisPanel(QtWidgets.QWidget):
    """Diagnosis on top; attribution and attention as tabs below."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.diagnosis = DiagnosisPanel()
        self.explain = ExplainPanel()
        self.attention = AttentionPanel()
        self.tabs = QtWidgets.QTabWidget()
        self.tabs.addTab(self.explain, "Attribution")
        self.tabs.addTab(self.attention, "Attention")
        split = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical)
        split.addWidget(self.diagnosis)
        split.addWidget(self.tabs)
        split.setStretchFactor(1, 2)
        box = QtWidgets.QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(split)


class AnalysisController(QtCore.QObject):
    resultShown = QtCore.Signal(object)  # Result, once the panels and the paper show it
    modelReady = QtCore.Signal()
    modelFailed = QtCore.Signal(str)  # a model could not be loaded (the one in use, if any, stays)

    def __init__(self, paper: PaperView, settings: Settings, run: Runner, parent: QtWidgets.QWidget) -> None:
        super().__init__(parent)
        self.paper, self.settings, self._run = paper, settings, run
        self.window = parent
        self.panel = AnalysisPanel()
        self.shading = BeatShading()
        paper.vb.addItem(self.shading)
        self.analyzer: Analyzer | None = None
        self.recording: Recording | None = None
        self.result: Result | None = None
        self.label: tuple[str, str] | None = None  # chosen by the user; None: the top finding
        self._measured: Measurements | None = None  # the open recording's, for the beat count
        self.lock = threading.Lock()
        self._load_state = "idle"  # idle, pending (waiting for the first paint), loading
        self._fallback_told = False  # the status bar said once that a chosen model has gone
        self.device_label = QtWidgets.QLabel("Model: not loaded")
        self.device_combo = QtWidgets.QComboBox()
        self.device_combo.setToolTip("Where the model runs (auto: CUDA, then Apple MPS, then the CPU)")
        self.device_combo.setFocusPolicy(QtCore.Qt.FocusPolicy.TabFocus)  # clicks leave keys to the paper
        for choice in DEVICE_CHOICES:
            self.device_combo.addItem(choice, choice)
        choice = str(settings.value("ai/device", "auto") or "auto")
        self.device_combo.setCurrentIndex(max(0, self.device_combo.findData(choice)))
        self._span_timer = QtCore.QTimer(self, singleShot=True, interval=SPAN_DELAY_MS)

        d, e, a = self.panel.diagnosis, self.panel.explain, self.panel.attention
        d.labelChosen.connect(self._label_chosen)
        d.cardRequested.connect(self.show_model_card)
        e.requestChanged.connect(self.analyse)
        e.shadeChanged.connect(self._update_shading)
        e.nodeSelected.connect(self._node_selected)
        e.checksRequested.connect(self.run_checks)
        e.exportRequested.connect(self.export_raw)
        a.selectionChanged.connect(self._attention_changed)
        a.beatClicked.connect(self._attention_clicked)
        paper.refreshed.connect(self._page_refreshed)
        paper.clicked.connect(self._paper_clicked)
        self.device_combo.activated.connect(lambda _i: self._device_chosen())
        self._span_timer.timeout.connect(self.analyse)

    # -- model -------------------------------------------------------------------------------
    def load_soon(self) -> None:
        """Load the model once the first recording has painted (or after ``LOAD_FALLBACK_MS``):
        importing torch competes for the CPU, and the ECG comes first."""
        if self.analyzer is not None or self._load_state != "idle":
            return
        self._load_state = "pending"
        after_first_paint(self.paper, self.load_model)

    def chosen_model(self) -> Path:
        """The model file the settings choose; a stored choice that has gone gives the bundled
        model, and the status bar says so (once)."""
        path, note = self.settings.model_file()
        if note and not self._fallback_told:
            self._fallback_told = True
            self.window.statusBar().showMessage(note, 15000)
        return path

    def current_model(self) -> Path:
        """The model file in use, or (none loaded yet) the one that will be."""
        return self.analyzer.model_file if self.analyzer is not None else self.chosen_model()

    def load_model(self) -> None:
        """Import torch and load the chosen model on a worker thread."""
        if self.analyzer is not None or self._load_state == "loading":
            return
        self._start_loading(self.chosen_model(), self._model_loaded)

    def choose_model(self, model_file: Path) -> None:
        """Switch to ``model_file``: it loads off the UI thread like the first model, the one in use
        keeps working until it is ready, then the recording on screen is analysed again. The
        choice is remembered once it has loaded (a file that cannot load is not kept)."""
        self._start_loading(Path(model_file), self._model_chosen)

    def _start_loading(self, model_file: Path, on_done: Callable[[Analyzer | EcgError], None]) -> None:
        self._load_state = "loading"
        choice = str(self.device_combo.currentData())
        self.device_label.setText("Model: loading\u2026")
        self.panel.diagnosis.set_status(f"Loading the model {model_file.stem}\u2026")

        def job(_progress) -> Analyzer | EcgError:
            from ecgviewer.ml import contract
            from ecgviewer.ml.infer import Analyzer

            with self.lock:
                try:
                    analyzer = Analyzer(model_file, device=choice)
                except EcgError as exc:  # returned, not raised: a quick failure could otherwise
                    return exc  # be reported before ``failed`` below is connected
                contract.warm_up()
                return analyzer

        self._run("model", "Loading the model", job, on_done, quiet=True).signals.failed.connect(
            self._model_failed
        )

    def _model_chosen(self, result: Analyzer | EcgError) -> None:
        if not isinstance(result, EcgError):
            self.settings.set_model_file(result.model_file)
        self._model_loaded(result)

    def _model_loaded(self, result: Analyzer | EcgError) -> None:
        if isinstance(result, EcgError):
            self.window.statusBar().showMessage(str(result), 8000)
            self._model_failed(str(result))
            return
        self.analyzer, self._load_state = result, "idle"
        workers.freeze_long_lived()  # the imports done: full collections need not scan them again
        self.panel.explain.set_method(result.explain_settings.method)  # the model card's default
        self._show_device()
        self._show_model()
        self.panel.diagnosis.set_status("")
        self.modelReady.emit()
        if self.recording is not None:  # what the last model said is cleared, then analysed anew
            self.set_recording(self.recording)

    def _model_failed(self, message: str) -> None:
        self._load_state = "idle"
        if self.analyzer is None:
            self.device_label.setText("Model: failed")
            self.panel.diagnosis.set_status(f"The model could not be loaded: {message}")
        else:
            self._show_device()
            self.panel.diagnosis.set_status(f"{message} (still using {self.analyzer.name})")
        self.modelFailed.emit(message)

    def _show_model(self) -> None:
        """The research-use notice and the model card button name the model the findings come from."""
        a, d = self.analyzer, self.panel.diagnosis
        if a is None:
            return
        d.notice.setText(f"<b>{NOTICE}</b> Model: {html.escape(a.name)}")
        d.notice.setToolTip((a.loaded.card or {}).get("intended_use", NOTICE))
        d.card_button.setToolTip(f"The model card of {a.name}: training data, metrics and intended use")

    def _device_chosen(self) -> None:
        choice = str(self.device_combo.currentData())
        self.settings.set_value("ai/device", choice)
        analyzer = self.analyzer
        if analyzer is None:
            self.load_model()
            return

        def job(_progress) -> Analyzer:
            with self.lock:
                analyzer.set_device(choice)
            return analyzer

        task = self._run(
            "device", f"Moving the model to {choice}", job, lambda _a: self._show_device(), quiet=True
        )
        task.signals.failed.connect(self._device_failed)

    def _device_failed(self, message: str) -> None:
        self._show_device()
        QtWidgets.QMessageBox.warning(self.window, "Device", message)

    def _show_device(self) -> None:
        a = self.analyzer
        if a is None:
            return
        text = f"Model: {a.device.type.upper() if a.device.type != 'cpu' else 'CPU'}"
        self.device_label.setText(text)
        self.device_label.setToolTip(f"{a.name}, SHA-256 {a.sha256[:12]}\u2026; " + "; ".join(a.notices))
        if a.notices:
            self.panel.diagnosis.set_status("\u26a0 " + a.notices[-1])

    # -- analysis ----------------------------------------------------------------------------
    def set_recording(self, rec: Recording) -> None:
        """Show ``rec``: everything of the last recording goes (result, chosen label, highlight),
        then one analysis explains its own top finding."""
        self.recording, self.result, self.label, self._measured = rec, None, None, None
        self._span_timer.stop()
        self.shading.set_scores(None)
        self.shading.set_highlight()
        self.panel.diagnosis.clear()
        self.panel.explain.clear()
        self.panel.attention.set_maps(None)
        if self.analyzer is None:
            self.panel.diagnosis.set_status("Loading the model\u2026 the analysis follows.")
        else:
            self.analyse()

    def identity(self) -> tuple[int, tuple[float, float]] | None:
        """What a result must belong to for the panels and the paper to show it: the open
        recording (``Recording.uid``) and the span an analysis of the page on screen covers."""
        from ecgviewer.analysis import analysed_span

        rec = self.recording
        if rec is None:
            return None
        r = self.result
        if r is not None and r.source[0] == rec.uid and page_inside(self.paper.page, r.span):
            return r.source  # a long recording's page still inside the span analysed
        return rec.uid, analysed_span(rec, self.paper.t0)

    def request(self):
        from ecgviewer.ml.session import Request

        task, code = self.label or ("super", None)
        e = self.panel.explain
        return Request(task=task, code=code, method=e.current_method(), n_steps=e.current_steps())

    def analyse(self) -> None:
        """(Re)analyse the recording on screen with the panels' settings (cached results return at once)."""
        analyzer, rec = self.analyzer, self.recording
        if analyzer is None or rec is None:
            return
        from ecgviewer.analysis import analyse

        request, t0, previous = self.request(), self.paper.t0, self.result

        def job(progress) -> Result | None:
            with self.lock:
                try:
                    found = analyse(rec, analyzer=analyzer, request=request, t0=t0, progress=progress,
                                    previous=previous)  # fmt: skip
                except (ValueError, RuntimeError) as exc:  # a library failing on odd signals
                    raise EcgError(f"{rec.name}: analysis failed ({type(exc).__name__}: {exc})") from exc
                return found.ai

        self.panel.diagnosis.set_status("Analysing\u2026")
        self._run("analysis", "Analysing", job, self._analysed).signals.failed.connect(self._analysis_failed)

    def _analysed(self, result: Result) -> None:
        rec = self.recording
        if rec is None or self.analyzer is None or result.source[0] != rec.uid:
            return  # another recording's result: never shown on this one
        self.result = result = self._counted(result)
        self.shading.set_highlight()
        preds = result.analysis.predictions
        target = preds.get(result.target.task, result.target.code)
        d = self.panel.diagnosis
        d.set_predictions(preds, self.analyzer.descriptions, rec.metadata.report)
        d.select(result.target.task, result.target.code)
        span = "" if result.whole else f" Analysed {result.span[0]:.1f}\u2013{result.span[1]:.1f} s."
        ms = sum(result.timings.values())
        d.set_status(f"{self.analyzer.name} on {preds.device.upper()}, {ms:.0f} ms.{span}")
        e = result.explanation
        scores = beat_scores(
            result.analysis.tokens, e.beats, e.samples, result.offset_s, True, f"{e.target.code} attribution"
        )
        self.panel.explain.set_result(result, scores, target.description, target.probability)
        starts = token_times(result.analysis.tokens, result.offset_s).window_start_s
        self.panel.attention.set_maps(result.attention, [float(s) for s in starts])
        self._update_shading()
        self._show_device()
        self.resultShown.emit(result)

    def set_measurements(self, m: Measurements | None) -> None:
        """The measurements of the recording open (the measure panel shows only its own): their
        beat count checks the model's R-peak detector, and the panel says where they disagree."""
        self._measured = m
        r = self.result
        if r is None:
            return
        counted = self._counted(r)
        if counted.reading != r.reading:
            self.result = counted
            target = counted.analysis.predictions.get(r.target.task, r.target.code)
            scores = self.panel.explain.scores
            if scores is not None:
                self.panel.explain.set_result(counted, scores, target.description, target.probability)

    def _counted(self, r: Result) -> Result:
        """``r`` with its reading checked against the measurements' beats of the same span."""
        from dataclasses import replace

        from ecgviewer.analysis import MAX_WHOLE_S, SPAN_S
        from ecgviewer.ml.reading import reading

        m, rec = self._measured, self.recording
        if m is None or rec is None or tuple(m.span_s) != tuple(r.span):
            return r
        limits = (MAX_WHOLE_S, SPAN_S)
        read = reading(r.analysis.tokens, r.span, rec.duration, *limits, len(m.r_times), m.too_noisy)
        return replace(r, reading=read)

    def _analysis_failed(self, message: str) -> None:
        self.panel.diagnosis.set_status(message)
        self.panel.explain.clear(message)

    def _label_chosen(self, task: str, code: str) -> None:
        """A row of the findings on screen was chosen: only a table of this recording's own result
        can choose its label."""
        r, rec = self.result, self.recording
        if r is None or rec is None or r.source[0] != rec.uid:
            return
        self.label = (task, code)
        self.analyse()

    def explain_code(self, code: str) -> None:
        """Explain the shown finding ``code`` on the paper (an interpretation statement chosen)."""
        r = self.result
        if r is None:
            return
        for task, classes in r.analysis.predictions.tasks.items():
            if any(c.code == code and c.surfaced for c in classes):
                if self.label != (task, code) and (r.target.task, r.target.code) != (task, code):
                    self.panel.diagnosis.select(task, code)
                    self._label_chosen(task, code)
                return

    # -- shading and synchronisation ------------------------------------------------------------
    def _update_shading(self) -> None:
        e, r = self.panel.explain, self.result
        shade = e.current_shade()
        scores: BeatScores | None = None
        if r is not None and shade == "attribution":
            scores = e.scores
        elif r is not None and shade == "attention" and (maps := self.panel.attention.current()) is not None:
            scores = beat_scores(
                r.analysis.tokens, maps, None, r.offset_s, False, self.panel.attention.selection_label()
            )
        self.shading.opacity = e.current_opacity()
        self.shading.band_mm = BAND_MM if e.current_style() == "band" else None
        self.shading.set_scores(scores)
        e.legend.set_scores(scores, e.current_opacity())

    def _attention_changed(self) -> None:
        if self.panel.explain.current_shade() == "attention":
            self._update_shading()

    def _page_refreshed(self) -> None:
        self.shading.set_page(self.paper.page)
        r, page = self.result, self.paper.page
        if r is None or r.whole or page is None:
            return
        if not page_inside(page, r.span):
            self._span_timer.start()  # the page left the analysed span

    def _node_selected(self, sel: Selection) -> None:
        self.shading.set_highlight(sel.leads, sel.beat)
        page = self.paper.page
        if sel.time is None or page is None:
            return
        lead, t = next(iter(sel.leads)), sel.time
        column = next((p for p in page.panels if p.lead == lead), None)
        if column is not None and not _shows(page, lead, t):  # centre the beat in the lead's column
            self.paper.set_t0(t - (column.t0 - page.t0) - (column.t1 - column.t0) / 2)
        if not _shows(self.paper.page, lead, t):
            self.window.statusBar().showMessage(
                f"{lead} at {t:.2f} s is outside {lead}'s column on this layout: the 12x1 layout "
                "shows every beat of every lead",
                8000,
            )

    def _paper_clicked(self, info: HoverInfo) -> None:
        scores = self.panel.explain.scores
        k = scores.at(info.channel, info.time) if scores is not None else None
        if k is None:
            return
        self.panel.explain.select_beat(k)
        self.shading.set_highlight(frozenset({info.channel}), k)

    def _attention_clicked(self, lead: str, window: int, beat: int) -> None:
        scores = self.panel.explain.scores
        k = scores.find(lead, window, beat) if scores is not None else None
        if k is not None:
            self.panel.explain.select_beat(k)
            self._node_selected(Selection(frozenset({lead}), k, float(scores.r_s[k])))

    # -- researcher tools ----------------------------------------------------------------------
    def run_checks(self) -> None:
        analyzer, r = self.analyzer, self.result
        if analyzer is None or r is None:
            return
        from ecgviewer.ml import checks

        def job(_progress):
            with self.lock:
                return checks.check(analyzer, r.segment, r.analysis, r.explanation)

        self.panel.explain.checks.setText("Running the sanity checks\u2026")
        self._run("checks", "Sanity checks", job, lambda out: self.panel.explain.set_checks(*out))

    def export_raw(self) -> None:
        r = self.result
        if r is None or r.attention is None:
            return
        name = Path(self.recording.name).stem if self.recording else "recording"
        path, _ = QtWidgets.QFileDialog.getSaveFileName(
            self.window,
            "Export attributions and attention",
            self.window.save_start(f"{name}-{r.target.code}-{r.explanation.method}.npz"),
            "NumPy archive (*.npz);;JSON (*.json)",
        )
        if not path:
            return
        from ecgviewer.ml.report import write_raw

        try:
            write_raw(Path(path), r.analysis.tokens, r.explanation, r.attention)
        except (EcgError, OSError) as exc:
            QtWidgets.QMessageBox.warning(self.window, "Export failed", str(exc))
            return
        self.window.saved_to(Path(path))

    def show_model_card(self) -> None:
        a = self.analyzer
        ModelCardDialog(self.current_model(), a.sha256 if a is not None else None, self.window).exec()
