"""Main window: a thin layer that wires the paper, overview, browser and settings together."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from ecgviewer import NOTICE, NOTICE_INLINE, __version__
from ecgviewer.dsp.filters import HIGHPASS_CHOICES, LOWPASS_CHOICES, NOTCH_CHOICES
from ecgviewer.errors import EcgError
from ecgviewer.gui import workers
from ecgviewer.gui.analysis import AnalysisController, page_inside
from ecgviewer.gui.annotations import AnnotationLayer
from ecgviewer.gui.browser import RecordBrowser
from ecgviewer.gui.calibrate import CalibrationDialog, screen_px_per_mm
from ecgviewer.gui.calipers import Calipers
from ecgviewer.gui.measure_panel import MeasureController
from ecgviewer.gui.median_view import HEADER_MM, median_layout
from ecgviewer.gui.overview import Overview
from ecgviewer.gui.paper import HoverInfo, PaperView
from ecgviewer.gui.settings import Settings
from ecgviewer.leads import STANDARD_LEADS
from ecgviewer.recording import Recording
from ecgviewer.render.layout import GAINS, LAYOUTS, SPEEDS
from ecgviewer.render.options import THEMES, ViewOptions
from ecgviewer.summary import summary_lines

if TYPE_CHECKING:
    from ecgviewer.gui.preferences import PreferencesDialog

log = logging.getLogger(__name__)
OVERVIEW_BINS = 4000
ZOOM_STEP = 1.25
BACKGROUND = ("model", "device", "delineator")  # tasks that outlive a recording and the Cancel button


SAVE_FILTERS = ("WFDB record (*.hea)", "EDF+ (*.edf)")
REPORT_FILTERS = ("PDF report (*.pdf)", "PNG images, one per page (*.png)")


def open_filter() -> str:
    """The Open dialog's filter: every registered reader's extensions (content decides the format)."""
    from ecgviewer.io import READERS

    patterns = sorted({f"*{ext}" for r in READERS for ext in r.extensions})
    return f"ECG recordings ({' '.join(patterns)});;All files (*)"


def _hz(v: float | None) -> str:
    return "off" if v is None else f"{v:g} Hz"


class VerticalScroll(QtWidgets.QScrollArea):
    """A scroll area for a side panel: only the height scrolls, and its minimum width follows the
    panel's as its content changes (Qt's QScrollArea reports a fixed small minimum instead)."""

    def __init__(self) -> None:
        super().__init__(widgetResizable=True, frameShape=QtWidgets.QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

    def minimumSizeHint(self) -> QtCore.QSize:
        bar = self.style().pixelMetric(QtWidgets.QStyle.PixelMetric.PM_ScrollBarExtent)
        inner = self.widget().minimumSizeHint() if self.widget() else QtCore.QSize()
        return QtCore.QSize(inner.width() + bar, super().minimumSizeHint().height())

    def eventFilter(self, watched: QtCore.QObject, event: QtCore.QEvent) -> bool:
        if watched is self.widget() and event.type() == QtCore.QEvent.Type.LayoutRequest:
            self.updateGeometry()  # the dock re-reads the minimum width above
        return super().eventFilter(watched, event)


class MainWindow(QtWidgets.QMainWindow):
    recordingLoaded = QtCore.Signal(object)  # Recording
    reportWritten = QtCore.Signal(object)  # list[Path]: the report's files

    def __init__(self, settings: Settings | None = None) -> None:
        super().__init__()
        self.settings = settings or Settings()
        self.setWindowTitle("ecgviewer")
        self.setAcceptDrops(True)
        self.recording: Recording | None = None
        self._tasks: dict[str, workers.Task] = {}
        self._quiet: set[str] = set()  # task keys that show no progress bar
        self._combos: dict[str, QtWidgets.QComboBox] = {}
        self.save_notes: QtWidgets.QMessageBox | None = None  # what the last Save as could not keep
        self.preferences: PreferencesDialog | None = None  # made when first asked for, then reused

        px = self.settings.px_per_mm() or screen_px_per_mm(self)
        self.paper = PaperView(px_per_mm=px)
        self.paper.set_options(self.settings.view_options())
        self.overview = Overview()
        self.overview.set_theme(THEMES[self.paper.options.theme])
        self.overview.hide()
        self.banner = QtWidgets.QLabel()
        self.banner.setWordWrap(True)
        self.banner.setStyleSheet("background:#fff3c4;color:#402800;padding:4px;")
        self.banner.hide()
        central = QtWidgets.QWidget()
        box = QtWidgets.QVBoxLayout(central)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(0)
        box.addWidget(self.banner)
        box.addWidget(self.paper, 1)
        box.addWidget(self.overview)
        self.setCentralWidget(central)
        self.calipers = Calipers(self.paper)
        self.annotation_layer = AnnotationLayer(self.paper)

        self.browser = RecordBrowser()
        self.browser_dock = self._dock("Records", self.browser, QtCore.Qt.DockWidgetArea.LeftDockWidgetArea)
        self.info = QtWidgets.QPlainTextEdit(readOnly=True)
        self.info_dock = self._dock("Recording", self.info, QtCore.Qt.DockWidgetArea.RightDockWidgetArea)
        self.browser_dock.hide()
        self.ai = AnalysisController(self.paper, self.settings, self._run, self)
        self.ai_dock = self._dock(
            "Analysis", self.ai.panel, QtCore.Qt.DockWidgetArea.RightDockWidgetArea, scroll=True
        )
        self.ai_dock.setToolTip(NOTICE)
        self.tabifyDockWidget(self.info_dock, self.ai_dock)
        self.ai_dock.raise_()
        self.measure = MeasureController(self.paper, self.settings, self._run, self)
        self.measure_dock = self._dock(
            "Measurements", self.measure.panel, QtCore.Qt.DockWidgetArea.RightDockWidgetArea, scroll=True
        )
        self.median_dock = self._dock(
            "Median beats", self.measure.median, QtCore.Qt.DockWidgetArea.BottomDockWidgetArea
        )
        self.median_dock.hide()
        self.median_dock.visibilityChanged.connect(self._size_median_dock)
        self.ai.resultShown.connect(self.measure.set_ai_result)

        self._build_status_bar()
        self._build_actions()
        self._sync_controls()

        self.paper.hovered.connect(self._hovered)
        self.paper.zoomChanged.connect(lambda _z: self._update_status())
        self.paper.pageChanged.connect(self._page_changed)
        self.overview.pageRequested.connect(self.paper.set_t0)
        self.calipers.changed.connect(self.caliper_label.setText)
        self.browser.openRequested.connect(self.open_file)
        self.browser.folderRequested.connect(self.choose_folder)
        self._rate_timer = QtCore.QTimer(self, singleShot=True, interval=150)
        self._rate_timer.timeout.connect(self._start_rate)
        self.set_ai_enabled(self.ai_action.isChecked())
        self.set_measure_enabled(self.measure_action.isChecked())

        geometry = self.settings.value("window/geometry")
        if isinstance(geometry, QtCore.QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        else:
            self.resize(1400, 860)

    # -- construction ------------------------------------------------------------------------
    def _dock(
        self, title: str, widget: QtWidgets.QWidget, area, scroll: bool = False
    ) -> QtWidgets.QDockWidget:
        """``scroll``: a tall panel scrolls inside a short dock, so stacked docks never push the
        window's minimum height past a laptop screen."""
        dock = QtWidgets.QDockWidget(title, self)
        dock.setObjectName(title)
        if scroll:
            area_ = VerticalScroll()
            area_.setWidget(widget)
            widget = area_
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _size_median_dock(self, visible: bool) -> None:
        """Give the median beats the height of their two-row grid at true scale when they appear
        (wide windows show all 12 so; narrower ones fall back to a grid that pans)."""
        if visible:
            page = median_layout(self.paper.options, STANDARD_LEADS, "2x6")
            rows = (page.height + HEADER_MM + 4.0) * self.paper.px_per_mm
            height = int(min(rows + 70, 0.6 * self.height()))
            self.resizeDocks([self.median_dock], [height], QtCore.Qt.Orientation.Vertical)

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.rate_label = QtWidgets.QLabel("HR \u2013")
        self.record_label = QtWidgets.QLabel("")
        self.filter_label = QtWidgets.QLabel("")
        self.scale_label = QtWidgets.QLabel("")
        self.hover_label = QtWidgets.QLabel("")
        self.caliper_label = QtWidgets.QLabel("")
        self.progress = QtWidgets.QProgressBar(maximum=1000, maximumWidth=160)
        self.cancel_button = QtWidgets.QToolButton(text="Cancel")
        self.cancel_button.clicked.connect(lambda: self.cancel_tasks(keep=BACKGROUND))
        for w in (self.hover_label, self.caliper_label):
            bar.addWidget(w)
        for w in (
            self.progress,
            self.cancel_button,
            self.rate_label,
            self.record_label,
            self.filter_label,
            self.scale_label,
            self.ai.device_label,
            self.ai.device_combo,
        ):
            bar.addPermanentWidget(w)
        self.progress.hide()
        self.cancel_button.hide()

    def _action(
        self, menu: QtWidgets.QMenu, text: str, slot, shortcut=None, checkable=False, tip: str = ""
    ) -> QtGui.QAction:
        act = QtGui.QAction(text, self, checkable=checkable)
        if shortcut:
            act.setShortcut(QtGui.QKeySequence(shortcut))
        if tip:
            act.setStatusTip(tip)
        act.triggered.connect(slot)
        menu.addAction(act)
        self.addAction(act)  # shortcuts work while the menus are closed
        return act

    def _combo(self, key: str, items: list[tuple[str, object]], slot) -> QtWidgets.QComboBox:
        combo = QtWidgets.QComboBox()
        combo.setObjectName(key)
        for text, value in items:
            combo.addItem(text, value)
        combo.activated.connect(lambda _i, c=combo: slot(c.currentData()))
        combo.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)  # keep arrow keys for the paper
        self._combos[key] = combo
        return combo

    def _build_actions(self) -> None:
        menu = self.menuBar()
        file = menu.addMenu("&File")
        self._action(file, "&Open\u2026", self.choose_file, QtGui.QKeySequence.StandardKey.Open)
        self._action(file, "Open &folder\u2026", self.choose_folder, "Ctrl+Shift+O")
        self.recent_menu = file.addMenu("Open &recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        self.save_action = self._action(
            file,
            "&Save as WFDB or EDF+\u2026",
            self.choose_save_path,
            QtGui.QKeySequence.StandardKey.SaveAs,
            tip="Write the recording as a WFDB record or an EDF+ file (lossless; identifiers left out)",
        )
        self._action(file, "&Export page image\u2026", self.export_image, "Ctrl+E")
        self._action(
            file,
            "Export &report (PDF or PNG)\u2026",
            self.choose_report_path,
            QtGui.QKeySequence.StandardKey.Print,
            tip="The standard page at true scale with measurements and AI findings, then attributions",
        )
        file.addSeparator()
        self._action(file, "&Quit", self.close, QtGui.QKeySequence.StandardKey.Quit)

        view = menu.addMenu("&View")
        self._action(view, "True scale (zoom 1)", self.paper.true_scale, "Ctrl+0")
        self._action(view, "Fit page", self.paper.fit_page, "Ctrl+9")
        keys = QtGui.QKeySequence.StandardKey
        self._action(view, "Zoom in", lambda: self._zoom(ZOOM_STEP), keys.ZoomIn)
        self._action(view, "Zoom out", lambda: self._zoom(1 / ZOOM_STEP), keys.ZoomOut)
        view.addSeparator()
        self.dark_action = self._action(view, "Dark paper", self._toggle_theme, "Ctrl+D", checkable=True)
        self._action(view, "Calibrate screen\u2026", self.calibrate_screen)
        self.identifiers_action = self._action(
            view,
            "Show patient &identifiers",
            self._show_identifiers,
            checkable=True,
            tip="Show the patient's name, ID and birth date from the file (off at every start)",
        )
        view.addSeparator()
        view.addAction(self.browser_dock.toggleViewAction())
        view.addAction(self.info_dock.toggleViewAction())
        self.median_action = self.median_dock.toggleViewAction()
        self.median_action.setShortcut(QtGui.QKeySequence("M"))
        self.median_action.setStatusTip(
            "The median beat of each lead at true scale, with draggable fiducials"
        )
        view.addAction(self.median_action)
        self.addAction(self.median_action)
        view.addAction(self.measure_dock.toggleViewAction())

        nav = menu.addMenu("&Navigate")
        self._action(nav, "Forward 1 s", lambda: self._step(1.0), "Right")
        self._action(nav, "Back 1 s", lambda: self._step(-1.0), "Left")
        self._action(nav, "Next page", lambda: self._step_pages(1), "PgDown")
        self._action(nav, "Previous page", lambda: self._step_pages(-1), "PgUp")
        self._action(nav, "Start", lambda: self.paper.set_t0(0.0), "Home")
        self._action(nav, "End", lambda: self.paper.set_t0(self.paper.max_t0()), "End")

        tools = menu.addMenu("&Tools")
        self.caliper_action = self._action(
            tools,
            "&Calipers",
            self.calipers.set_enabled,
            "C",
            checkable=True,
            tip="Time and amplitude calipers across all leads",
        )
        tools.addSeparator()
        self.ai_action = self._action(
            tools,
            "&AI analysis",
            self.set_ai_enabled,
            "Ctrl+Shift+A",
            checkable=True,
            tip="Diagnosis, attributions and attention from the chosen model (research use)",
        )
        self.ai_action.setChecked(str(self.settings.value("ai/enabled", "true")).lower() != "false")
        self.measure_action = self._action(
            tools,
            "&Measurements",
            self.set_measure_enabled,
            "Ctrl+Shift+M",
            checkable=True,
            tip="Intervals, QTc and axes on the median beats, from the bundled delineator",
        )
        self.measure_action.setChecked(str(self.settings.value("measure/enabled", "true")).lower() != "false")
        tools.addSeparator()
        prefs = self._action(
            tools,
            "&Preferences\u2026",
            self.show_preferences,
            QtGui.QKeySequence.StandardKey.Preferences,
            tip="The model the AI analysis runs: the bundled one or one you added",
        )
        prefs.setMenuRole(QtGui.QAction.MenuRole.PreferencesRole)  # macOS: in the application menu
        view.addAction(self.ai_dock.toggleViewAction())
        help_menu = menu.addMenu("&Help")
        self._action(help_menu, "&Keyboard shortcuts", self.show_shortcuts, "F1")
        self._action(help_menu, "&Model card…", lambda: self.ai.show_model_card())
        self._action(help_menu, "&About ecgviewer", self.show_about)

        tb = self.addToolBar("Paper")
        tb.setObjectName("paper-toolbar")
        tb.addWidget(self._combo("layout", [(x, x) for x in LAYOUTS], lambda v: self._set(layout=v)))
        tb.addWidget(
            self._combo(
                "order", [("Standard", "standard"), ("Cabrera", "cabrera")], lambda v: self._set(order=v)
            )
        )
        tb.addWidget(QtWidgets.QLabel(" Rhythm "))
        tb.addWidget(
            self._combo(
                "rhythm",
                [("default", ())] + [(x, (x,)) for x in STANDARD_LEADS],
                lambda v: self._set(rhythm=v),
            )
        )
        tb.addSeparator()
        tb.addWidget(self._combo("speed", [(f"{s:g} mm/s", s) for s in SPEEDS], lambda v: self._set(speed=v)))
        tb.addWidget(self._combo("gain", [(f"{g:g} mm/mV", g) for g in GAINS], lambda v: self._set(gain=v)))
        tb.addSeparator()
        tb.addWidget(QtWidgets.QLabel(" HP "))
        tb.addWidget(
            self._combo(
                "highpass", [(_hz(v), v) for v in HIGHPASS_CHOICES], lambda v: self._set_filter(highpass=v)
            )
        )
        tb.addWidget(QtWidgets.QLabel(" LP "))
        tb.addWidget(
            self._combo(
                "lowpass", [(_hz(v), v) for v in LOWPASS_CHOICES], lambda v: self._set_filter(lowpass=v)
            )
        )
        tb.addWidget(QtWidgets.QLabel(" Notch "))
        tb.addWidget(
            self._combo("notch", [(_hz(v), v) for v in NOTCH_CHOICES], lambda v: self._set_filter(notch=v))
        )
        tb.addSeparator()
        tb.addAction(self.caliper_action)

    # -- options -----------------------------------------------------------------------------
    def _set(self, **changes: object) -> None:
        self.set_options(self.paper.options.with_(**changes))

    def _set_filter(self, **changes: object) -> None:
        self._set(filter=replace(self.paper.options.filter, **changes))

    def set_options(self, options: ViewOptions) -> None:
        self.paper.set_options(options)
        self.overview.set_theme(THEMES[options.theme])
        self.settings.save_view_options(options)
        self.calipers.set_theme()
        self._sync_controls()
        self._after_page_change()

    def _sync_controls(self) -> None:
        o = self.paper.options
        values = {
            "layout": o.layout,
            "order": o.order,
            "rhythm": o.rhythm,
            "speed": o.speed,
            "gain": o.gain,
            "highpass": o.filter.highpass,
            "lowpass": o.filter.lowpass,
            "notch": o.filter.notch,
        }
        for key, value in values.items():
            combo = self._combos[key]
            idx = combo.findData(value)
            combo.setCurrentIndex(max(0, idx))
        self.dark_action.setChecked(o.theme == "dark")
        self._update_status()

    def _toggle_theme(self, dark: bool) -> None:
        self._set(theme="dark" if dark else "light")

    def _zoom(self, factor: float) -> None:
        self.paper.set_zoom(self.paper.zoom * factor)

    # -- files ---------------------------------------------------------------------------------
    def choose_file(self) -> None:
        start = str(self.settings.value("files/last_dir", "") or "")
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Open ECG", start, open_filter())
        if path:
            self.open_file(Path(path))

    def choose_folder(self) -> None:
        start = str(self.settings.value("files/last_dir", "") or "")
        folder = QtWidgets.QFileDialog.getExistingDirectory(self, "Open folder of recordings", start)
        if folder:
            self.open_folder(Path(folder))

    def open_paths(self, paths: list[Path]) -> None:
        """Command line / drop: a folder fills the browser; several files are listed there."""
        from ecgviewer.io.catalog import Entry

        files = [p for p in paths if not p.is_dir()]
        for p in paths:
            if p.is_dir():
                self.open_folder(p)
        if len(files) > 1:
            self.browser.set_entries("Command line", [Entry(p, p.name) for p in files])
            self.browser_dock.show()
        if files:
            self.open_file(files[0])

    def open_file(self, path: Path) -> None:
        """Read ``path`` off the UI thread; the paper shows it when it arrives
        (``recordingLoaded``), or a message names the file and the cause."""
        from ecgviewer.io import load

        def job(_progress) -> Recording | EcgError:
            try:
                return load(path)
            except EcgError as exc:
                return exc

        self._run("open", f"Opening {Path(path).name}", job, self._loaded)

    def _loaded(self, result: Recording | EcgError) -> None:
        if isinstance(result, EcgError):
            QtWidgets.QMessageBox.warning(self, "Cannot open recording", str(result))
            return
        self.set_recording(result)
        if result.path is not None:
            path = result.path.resolve()
            self.settings.add_recent(str(path))
            self.settings.set_value("files/last_dir", str(path.parent))
            self.browser.select_path(result.path)

    def set_recording(self, rec: Recording) -> None:
        self.cancel_tasks(keep=("scan", *BACKGROUND))
        self.recording = rec
        self.paper.set_recording(rec)
        self.paper.show_top_left()  # at the zoom the reader chose (true scale at first)
        self.annotation_layer.set_annotations(rec.metadata.annotations)
        self.setWindowTitle(f"{rec.name} \u2014 ecgviewer")
        self._show_info()
        self.ai.panel.diagnosis.set_device(rec.metadata.device)
        if rec.warnings:
            self.banner.setText("\u26a0 " + rec.name + ": " + "; ".join(rec.warnings))
            self.banner.show()
        else:
            self.banner.hide()
        self.rate_label.setText("HR \u2013")
        if self.ai_action.isChecked():
            self.ai.set_recording(rec)
        self.measure.set_recording(rec)
        self._setup_overview()
        self._after_page_change()
        self.recordingLoaded.emit(rec)

    def open_folder(self, folder: Path) -> None:
        from ecgviewer.io.catalog import scan

        self._run(
            "scan",
            f"Scanning {folder.name}",
            lambda progress: (folder, scan(folder, cancelled=lambda: not progress(0.0))),
            self._folder_scanned,
        )
        self.settings.set_value("files/last_dir", str(folder))
        self.browser_dock.show()

    def _folder_scanned(self, result: tuple[Path, list]) -> None:
        folder, entries = result
        self.browser.set_entries(str(folder), entries)
        self.statusBar().showMessage(f"{len(entries)} recordings in {folder}", 5000)

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for path in self.settings.recent_files():
            act = self.recent_menu.addAction(path)
            act.triggered.connect(lambda _c=False, p=path: self.open_file(Path(p)))
        if self.recent_menu.isEmpty():
            self.recent_menu.addAction("(none)").setEnabled(False)

    def _show_identifiers(self, _on: bool = False) -> None:
        self._show_info()

    def _show_info(self) -> None:
        if self.recording is not None:
            lines = summary_lines(self.recording, identifiers=self.identifiers_action.isChecked())
            self.info.setPlainText("\n".join(lines))

    def choose_save_path(self) -> None:
        if self.recording is None:
            return
        stem = Path(self.recording.name).stem
        start = str(Path(str(self.settings.value("files/save_dir", "") or "")) / stem)
        path, chosen = QtWidgets.QFileDialog.getSaveFileName(
            self, "Save recording as", start, ";;".join(SAVE_FILTERS)
        )
        if path:
            fmt = "edf" if chosen == SAVE_FILTERS[1] else "wfdb"
            suffix = ".edf" if fmt == "edf" else ".hea"
            target = Path(path)
            if target.suffix.lower() != suffix:  # a dialog may return the name without the filter's suffix
                target = target.with_name(target.name + suffix)
            self.save_recording(target, fmt)

    def save_recording(self, path: Path, fmt: str | None = None) -> None:
        """Write the recording off the UI thread; identifiers go in only when the user shows them
        and confirms."""
        rec = self.recording
        if rec is None:
            return
        identifiers = False
        if rec.metadata.identifiers and self.identifiers_action.isChecked():
            answer = QtWidgets.QMessageBox.question(
                self,
                "Save patient identifiers?",
                "Write the patient's name, ID and birth date into the saved file?",
                QtWidgets.QMessageBox.StandardButton.Yes | QtWidgets.QMessageBox.StandardButton.No,
                QtWidgets.QMessageBox.StandardButton.No,
            )
            identifiers = answer == QtWidgets.QMessageBox.StandardButton.Yes
        from ecgviewer.io.writers import save

        def job(_progress) -> tuple[Path, list[str]] | EcgError:
            notes: list[str] = []
            try:
                return save(rec, path, fmt=fmt, identifiers=identifiers, notes=notes), notes
            except EcgError as exc:
                return exc

        self.settings.set_value("files/save_dir", str(path.parent))
        self._run("save", f"Saving {path.name}", job, self._saved)

    def _saved(self, result: tuple[Path, list[str]] | EcgError) -> None:
        if isinstance(result, EcgError):
            QtWidgets.QMessageBox.warning(self, "Save failed", str(result))
            return
        path, notes = result
        self.statusBar().showMessage(f"Saved {path}", 8000)
        if notes:  # what the target format could not hold exactly: the user should know (not modal)
            text = f"Saved {path.name}.\n\n" + "\n".join(f"\u2022 {n}" for n in notes)
            self.save_notes = QtWidgets.QMessageBox(
                QtWidgets.QMessageBox.Icon.Information, "Saved, with notes", text, parent=self
            )
            self.save_notes.open()

    def choose_report_path(self) -> None:
        if self.recording is None:
            return
        folder = Path(str(self.settings.value("files/save_dir", "") or ""))
        start = str(folder / Path(self.recording.name).stem)
        path, chosen = QtWidgets.QFileDialog.getSaveFileName(
            self, "Export report", start + ".pdf", ";;".join(REPORT_FILTERS)
        )
        if path:
            suffix = ".png" if chosen == REPORT_FILTERS[1] else ".pdf"
            target = Path(path)
            if target.suffix.lower() not in (".pdf", ".png"):
                target = target.with_name(target.name + suffix)
            self.export_report(target)

    def export_report(self, path: Path) -> None:
        """Write the report off the UI thread, with what the window shows: the page, its filter, the
        explained label, the measurements with the user's edits; what is missing is computed."""
        rec = self.recording
        if rec is None:
            return
        from ecgviewer.report import pages
        from ecgviewer.report.make import make

        options = self.paper.options.with_(theme="light")
        t0, paper, note = self.paper.t0, pages.default_paper(), ""
        try:
            pages.check_fits(self.paper.page, paper, options)
        except EcgError:  # the layout on screen does not fit the paper: print the standard page
            note = f"{options.layout} at {options.scale_label()} does not fit {paper.upper()}: "
            options = options.with_(layout="3x4+1", speed=25.0, gain=10.0)
            note += f"printed as {options.layout} at {options.scale_label()}"
        ai, m = self.ai, self.measure
        ai_on, measure_on = self.ai_action.isChecked(), self.measure_action.isChecked()
        result = ai.result if ai_on and ai.recording is rec else None
        if result is not None and not page_inside(self.paper.page, result.span):
            result = None
        # Everything the job needs is read here, on the UI thread.
        kwargs = dict(
            t0=t0,
            request=ai.request(),
            result=result,
            delineator=m.delineator if measure_on else None,
            measurements=m.measurements if measure_on and m.recording is rec else None,
            formula=m.panel.current_formula(),
            identifiers=self.identifiers_action.isChecked(),
        )
        analyzer, device = ai.analyzer, str(self.settings.value("ai/device", "auto") or "auto")
        model_file = ai.current_model()

        def job(progress) -> tuple[list[Path], str] | EcgError:
            try:
                model = analyzer if ai_on else None
                if ai_on and model is None:  # still loading in the window: load one for the report
                    from ecgviewer.ml.infer import Analyzer

                    model = Analyzer(model_file, device=device)
                with ai.lock:
                    report = make(rec, options, analyzer=model, progress=progress, **kwargs)
                return pages.write(report, path, paper), note
            except EcgError as exc:
                return exc

        self.settings.set_value("files/save_dir", str(path.parent))
        self._run("report", f"Writing {path.name}", job, self._report_written)

    def _report_written(self, result: tuple[list[Path], str] | EcgError) -> None:
        if isinstance(result, EcgError):
            QtWidgets.QMessageBox.warning(self, "Report failed", str(result))
            return
        files, note = result
        more = f" (+{len(files) - 1} more page images)" if len(files) > 1 else ""
        note = f"; {note}" if note else ""
        self.statusBar().showMessage(f"Report written: {files[0]}{more}{note}", 15000)
        self.reportWritten.emit(files)

    def export_image(self) -> None:
        if self.recording is None:
            return
        path, _ = QtWidgets.QFileDialog.getSaveFileName(
            self, "Export page image", f"{Path(self.recording.name).stem}.png", "PNG image (*.png)"
        )
        if not path:
            return
        from ecgviewer.gui.export import render_image
        from ecgviewer.render.painting import save_image

        try:
            save_image(render_image(self.recording, self.paper.options, t0=self.paper.t0), path)
        except EcgError as exc:
            QtWidgets.QMessageBox.warning(self, "Export failed", str(exc))

    def dragEnterEvent(self, event: QtGui.QDragEnterEvent) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QtGui.QDropEvent) -> None:
        paths = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            self.open_paths(paths)

    # -- navigation & background work ----------------------------------------------------------
    def _step(self, seconds: float) -> None:
        self.paper.set_t0(self.paper.t0 + seconds)

    def _step_pages(self, pages: int) -> None:
        if self.paper.page is not None:
            self._step(pages * self.paper.page.duration)

    def _page_changed(self, _t0: float) -> None:
        self._after_page_change()

    def _after_page_change(self) -> None:
        page = self.paper.page
        if page is not None and self.overview.isVisible():
            self.overview.set_page(page.t0, page.duration)
        self._update_status()
        self._rate_timer.start()

    def _setup_overview(self) -> None:
        rec, page = self.recording, self.paper.page
        long = rec is not None and page is not None and rec.duration > page.duration
        self.overview.setVisible(long)
        if not long:
            return
        self.overview.set_recording(rec.duration, page.duration)
        channel = rec.index("II") if "II" in rec.leads else 0
        from ecgviewer.dsp.envelope import envelope

        self._run(
            "overview",
            "Overview",
            lambda progress: envelope(rec.source, channel, OVERVIEW_BINS, progress),
            self._overview_done,
        )

    def _overview_done(self, result: tuple) -> None:
        lo, hi, per_bin = result
        if self.recording is not None:
            self.overview.set_envelope(lo, hi, per_bin / self.recording.fs)

    def _start_rate(self) -> None:
        rec, page = self.recording, self.paper.page
        if rec is None or page is None:
            return
        s0, s1 = int(page.t0 * rec.fs), int((page.t0 + page.duration) * rec.fs)
        x = np.array(rec.read(s0, s1))
        from ecgviewer.dsp.rate import heart_rate

        self._run("rate", "", lambda _p: heart_rate(x, rec.fs, rec.leads), self._rate_done, quiet=True)

    def _rate_done(self, result: tuple[float, str] | None) -> None:
        self.rate_label.setText(f"HR {result[0]:.0f} bpm ({result[1]}, this page)" if result else "HR \u2013")

    def _run(self, key: str, title: str, fn, on_done, quiet: bool = False) -> workers.Task:
        """Start ``fn`` off the UI thread, replacing (and cancelling) the task of the same key.

        Only bound methods are connected, so a closed window never receives late results.
        """
        old = self._tasks.pop(key, None)
        if old is not None:
            old.cancel()
        task = workers.Task(fn, title or key)
        self._tasks[key] = task
        self._quiet.discard(key)
        if quiet:
            self._quiet.add(key)
        else:
            task.signals.progress.connect(self._task_progress)
            self.progress.setValue(0)
            self.progress.setFormat(f"{title} %p%")
            self.progress.show()
            self.cancel_button.show()
        task.signals.done.connect(on_done)
        task.signals.failed.connect(self._task_failed)
        task.signals.ended.connect(self._task_ended)
        return workers.start(task)

    def _task_progress(self, fraction: float) -> None:
        self.progress.setValue(int(fraction * 1000))

    def _task_failed(self, message: str) -> None:
        self.statusBar().showMessage(message, 8000)

    def _task_ended(self) -> None:
        ended = self.sender()
        self._tasks = {k: t for k, t in self._tasks.items() if t.signals is not ended}
        if not any(k not in self._quiet for k in self._tasks):
            self.progress.hide()
            self.cancel_button.hide()

    def cancel_tasks(self, keep: tuple[str, ...] = ()) -> None:
        """Cancel background work (all of it, or all but the ``keep`` keys)."""
        self._rate_timer.stop()
        for key in [k for k in self._tasks if k not in keep]:
            self._tasks.pop(key).cancel()
        if not self._tasks:
            self.progress.hide()
            self.cancel_button.hide()

    def busy(self) -> bool:
        return bool(self._tasks)

    def set_ai_enabled(self, on: bool) -> None:
        """Turn the model's analysis on (loading it in the background the first time) or off."""
        self.settings.set_value("ai/enabled", "true" if on else "false")
        self.ai_dock.setVisible(on)
        self.ai.device_label.setVisible(on)
        self.ai.device_combo.setVisible(on)
        if not on:
            self.ai.shading.set_scores(None)
            self.measure.set_ai_result(None)
            return
        if self.ai.analyzer is None:
            self.ai.load_soon()
        elif self.recording is not None:
            self.ai.set_recording(self.recording)

    def set_measure_enabled(self, on: bool) -> None:
        """Turn the measurements on (loading the delineator in the background the first time) or off."""
        self.settings.set_value("measure/enabled", "true" if on else "false")
        self.measure_dock.setVisible(on)
        if not on:
            self.median_dock.hide()
        self.measure.set_enabled(on)

    # -- status ----------------------------------------------------------------------------------
    def _update_status(self) -> None:
        rec, o = self.recording, self.paper.options
        zoom = self.paper.zoom
        scale = "true scale" if abs(zoom - 1) < 1e-3 else f"zoom \u00d7{zoom:.2f}"
        self.scale_label.setText(f"{o.scale_label()} ({scale})")
        if rec is None:
            self.record_label.setText("")
            self.filter_label.setText(f"Filter: {o.filter.label()}")
            return
        self.filter_label.setText(f"Filter: {o.filter.label(rec.fs)} (display)")
        self.record_label.setText(f"{rec.duration:.1f} s, {len(rec.leads)} leads, {rec.fs:g} Hz")

    def _hovered(self, info: HoverInfo | None) -> None:
        if info is None:
            self.hover_label.setText("")
            return
        mv = "gap" if info.mv != info.mv else f"{info.mv:+.3f} mV"
        self.hover_label.setText(f"{info.lead}  t {info.time:.3f} s  {mv}")

    # -- dialogs -----------------------------------------------------------------------------
    def calibrate_screen(self) -> None:
        dialog = CalibrationDialog(self.paper.px_per_mm, screen_px_per_mm(self), self)
        if dialog.exec():
            self.settings.set_px_per_mm(dialog.value())
            self.paper.set_px_per_mm(dialog.value())

    def show_preferences(self) -> PreferencesDialog:
        """The Preferences window, non-modal: the paper stays usable while it is open. Imported
        here: listing models reads their files, which start-up never needs."""
        from ecgviewer.gui.preferences import PreferencesDialog

        if self.preferences is None:
            self.preferences = PreferencesDialog(self.ai, self)
        self.preferences.refresh()
        self.preferences.show()
        self.preferences.raise_()
        self.preferences.activateWindow()
        return self.preferences

    def show_shortcuts(self) -> None:
        lines = [
            f"{a.shortcut().toString():>14}   {a.text().replace('&', '')}"
            for a in self.actions()
            if not a.shortcut().isEmpty()
        ]
        lines += ["    Mouse wheel   Zoom the paper", "           Drag   Pan the paper"]
        box = QtWidgets.QMessageBox(self)
        box.setWindowTitle("Keyboard shortcuts")
        box.setText("<pre>" + "\n".join(lines) + "</pre>")
        box.exec()

    def show_about(self) -> None:
        QtWidgets.QMessageBox.about(
            self,
            "About ecgviewer",
            f"<b>ecgviewer {__version__}</b><br>12-lead ECG viewer, {NOTICE_INLINE}.<br>"
            "Sample recordings: PTB-XL (Wagner et al. 2020, CC BY 4.0).",
        )

    def closeEvent(self, event: QtGui.QCloseEvent) -> None:
        self.cancel_tasks()
        self.settings.set_value("window/geometry", self.saveGeometry())
        super().closeEvent(event)
