"""Main window: a thin layer that wires the paper, overview, browser and settings together."""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from ecgviewer import NOTICE, NOTICE_INLINE, __version__
from ecgviewer.gui import actions, placement, workers
from ecgviewer.gui.analysis import AnalysisController, after_first_paint
from ecgviewer.gui.annotations import AnnotationLayer
from ecgviewer.gui.beats_panel import CONTEXT_S, BeatsController
from ecgviewer.gui.browser import RecordBrowser
from ecgviewer.gui.calibrate import CalibrationDialog, screen_px_per_mm
from ecgviewer.gui.calipers import Calipers
from ecgviewer.gui.files import LIBRARY_WIDTH, FileCommands
from ecgviewer.gui.interpretation_view import LISTING, InterpretationController
from ecgviewer.gui.library_view import LibraryBrowser
from ecgviewer.gui.measure_panel import MeasureController
from ecgviewer.gui.overview import Overview
from ecgviewer.gui.paper import HoverInfo, PaperView
from ecgviewer.gui.serial_view import SerialView
from ecgviewer.gui.settings import Settings
from ecgviewer.gui.tasks import TaskRunner
from ecgviewer.gui.unread import UnreadLayer
from ecgviewer.leads import STANDARD_LEADS
from ecgviewer.measure.intervals import TOO_NOISY
from ecgviewer.recording import Recording
from ecgviewer.render.layout import page_layout
from ecgviewer.render.options import THEMES, ViewOptions
from ecgviewer.summary import summary_lines

if TYPE_CHECKING:
    from ecgviewer.gui.preferences import PreferencesDialog

log = logging.getLogger(__name__)
OVERVIEW_BINS = 4000
PAGE_ZOOM = 0.9  # the 12-lead page at least this large beside the right column (issue 73)
COLUMN_PX = 400  # the right column's width at which the page may take true scale beside it
BELOW_PX = 280  # the height under a true-scale page at which the model's detail goes there
DOCK_CHROME_PX = 80  # a bottom dock's title bar, tab bar and margins around its panel
TASK_ZOOM = 0.72  # the page this large beside a task dock (Library, Records) and the right column:
# at least x0.7 (issue 73), with a margin for the splitters
# tasks that outlive a recording and the Cancel button
BACKGROUND = ("model", "device", "delineator", LISTING)


class VerticalScroll(QtWidgets.QScrollArea):
    """A scroll area for a side panel: only the height scrolls, and its minimum width follows the
    panel's as its content changes (Qt's QScrollArea reports a fixed small minimum instead)."""

    heightNeeded = QtCore.Signal(int)  # the panel's size-hint height (px), whenever it changes

    def __init__(self) -> None:
        super().__init__(widgetResizable=True, frameShape=QtWidgets.QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._need = -1

    def minimumSizeHint(self) -> QtCore.QSize:
        bar = self.style().pixelMetric(QtWidgets.QStyle.PixelMetric.PM_ScrollBarExtent)
        inner = self.widget().minimumSizeHint() if self.widget() else QtCore.QSize()
        return QtCore.QSize(inner.width() + bar, super().minimumSizeHint().height())

    def eventFilter(self, watched: QtCore.QObject, event: QtCore.QEvent) -> bool:
        if watched is self.widget() and event.type() == QtCore.QEvent.Type.LayoutRequest:
            self.updateGeometry()  # the dock re-reads the minimum width above
            need = self.widget().sizeHint().height()
            if need != self._need:
                self._need = need
                self.heightNeeded.emit(need)
        return super().eventFilter(watched, event)


class MainWindow(FileCommands, QtWidgets.QMainWindow):
    recordingLoaded = QtCore.Signal(object)  # Recording
    reportWritten = QtCore.Signal(object)  # list[Path]: the report's files

    def __init__(self, settings: Settings | None = None) -> None:
        super().__init__()
        workers.collect_on_ui_thread()
        self.settings = settings or Settings()
        self.setWindowTitle("ecgviewer")
        self.setAcceptDrops(True)
        self.recording: Recording | None = None
        self.progress = QtWidgets.QProgressBar(maximum=1000, maximumWidth=160)
        self.cancel_button = QtWidgets.QToolButton(text="Cancel")
        self.cancel_button.setToolTip("Stop the work in progress (the model and delineator keep loading)")
        self.tasks = TaskRunner(
            self.progress, self.cancel_button, lambda m: self.statusBar().showMessage(m, 8000), self
        )
        self.combos: dict[str, QtWidgets.QComboBox] = {}  # the paper's settings: toolbar boxes
        self.control_actions: dict[str, list[QtGui.QAction]] = {}  # and Paper menu entries
        self.save_notes: QtWidgets.QMessageBox | None = None  # what the last Save as could not keep
        self.preferences: PreferencesDialog | None = None  # made when first asked for, then reused
        self._docks_sized = False
        self._dock_timer = QtCore.QTimer(self, singleShot=True, interval=50)
        self._dock_timer.timeout.connect(self._size_right_docks)
        self._column_timer = QtCore.QTimer(self, singleShot=True, interval=50)  # the column's height only
        self._column_timer.timeout.connect(self._share_column)

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
        self.sheet = QtWidgets.QWidget()  # the paper and, for long recordings, its overview strip
        box = QtWidgets.QVBoxLayout(self.sheet)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(0)
        box.addWidget(self.paper, 1)
        box.addWidget(self.overview)
        self.calipers = Calipers(self.paper)
        self.annotation_layer = AnnotationLayer(self.paper)
        self.unread = UnreadLayer(self.paper)

        # the side columns run the window's height; a dock below the page stays under the page
        self.setCorner(QtCore.Qt.Corner.BottomRightCorner, QtCore.Qt.DockWidgetArea.RightDockWidgetArea)
        self.setCorner(QtCore.Qt.Corner.BottomLeftCorner, QtCore.Qt.DockWidgetArea.LeftDockWidgetArea)
        self.browser = RecordBrowser()
        self.browser_dock = self._dock("Records", self.browser, QtCore.Qt.DockWidgetArea.LeftDockWidgetArea)
        self.info = QtWidgets.QPlainTextEdit(readOnly=True)
        self.info_dock = self._dock("Recording", self.info, QtCore.Qt.DockWidgetArea.RightDockWidgetArea)
        self.browser_dock.hide()
        self.library = LibraryBrowser(self.tasks.run, self.settings)
        self.library_dock = self._dock("Library", self.library, QtCore.Qt.DockWidgetArea.LeftDockWidgetArea)
        self.tabifyDockWidget(self.browser_dock, self.library_dock)
        self.library_dock.hide()
        self.library_dock.visibilityChanged.connect(lambda shown: shown and self.library.refresh())
        for dock in (self.library_dock, self.browser_dock):  # opened or closed: the columns shared again
            dock.visibilityChanged.connect(lambda _shown: self._docks_sized and self._dock_timer.start())
        self.ai = AnalysisController(self.paper, self.settings, self.tasks.run, self)
        self.ai_dock = self._dock(
            "Analysis", self.ai.panel, QtCore.Qt.DockWidgetArea.RightDockWidgetArea, scroll=True
        )
        self.ai_dock.setToolTip(NOTICE)
        self.tabifyDockWidget(self.info_dock, self.ai_dock)
        # The reading path first: the cart's header and numbered statements, and the over-read;
        # the model's research detail (Analysis) and the file's facts one tab away.
        self.interpretation = InterpretationController(
            self.settings, self.library.library_path, self.tasks.run, self
        )
        self.interpretation_dock = self._dock(
            "Interpretation",
            self.interpretation.panel,
            QtCore.Qt.DockWidgetArea.RightDockWidgetArea,
            scroll=True,
        )
        self.tabifyDockWidget(self.ai_dock, self.interpretation_dock)
        self.interpretation_dock.raise_()
        # which of them is in front, and how tall the interpretation of the recording open needs to
        # be, decide how the column is shared (``_share_column``)
        top = self.interpretation_dock
        for changed in (top.visibilityChanged, top.widget().heightNeeded):
            changed.connect(lambda _: self._docks_sized and self._column_timer.start())
        self.measure = MeasureController(self.paper, self.settings, self.tasks.run, self)
        self.measure_dock = self._dock(
            "Measurements", self.measure.panel, QtCore.Qt.DockWidgetArea.RightDockWidgetArea, scroll=True
        )
        self.beats = BeatsController(self.tasks.run, self.library.library_path, self)
        self.beats_dock = self._dock("Beats", self.beats.panel, QtCore.Qt.DockWidgetArea.RightDockWidgetArea)
        self.tabifyDockWidget(self.measure_dock, self.beats_dock)
        self.measure_dock.raise_()
        self.beats.listed.connect(self._beats_listed)
        after_first_paint(self.paper, self.beats.painted)  # its delineator imports torch: the ECG first
        self.beats.panel.jumpRequested.connect(self.paper.set_t0)
        # The median beats take the paper's place (a tab) rather than a dock: each gets the
        # central area, so both keep their true-scale page on a 1920x1080 screen.
        self.views = QtWidgets.QTabWidget(documentMode=True)
        self.views.addTab(self.sheet, "Paper")
        self.views.addTab(self.measure.median, "Median beats")
        self.serial = SerialView()
        self.views.addTab(self.serial, "Serial comparison")
        self.views.setTabEnabled(2, False)  # until a comparison is asked for (Tools menu)
        self.views.setTabToolTip(
            2, "This ECG above the patient's earlier one, median beats overlaid, and what changed"
        )
        self.views.setTabToolTip(1, "The median beat of each lead at 50 mm/s, with draggable fiducials (M)")
        self.views.addTab(self.beats.templates, "Beat templates")
        self.views.setTabToolTip(3, "The beats grouped by QRS shape; relabel a whole group at once")
        self.beats.templates.jumpRequested.connect(self._show_beat)
        central = QtWidgets.QWidget()
        box = QtWidgets.QVBoxLayout(central)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(0)
        box.addWidget(self.banner)
        box.addWidget(self.views, 1)
        self.setCentralWidget(central)
        self.ai.resultShown.connect(self.measure.set_ai_result)
        self.ai.resultShown.connect(lambda r: self.interpretation.set_result(r, self.ai.analyzer.bands))
        self.measure.measured.connect(lambda _m: self._rate_timer.start())
        self.measure.measured.connect(
            lambda m: self.unread.set_stretches(
                "measurement", self.measure.recording, [(a, b, TOO_NOISY) for a, b in m.too_noisy]
            )
        )
        self.measure.measured.connect(self.ai.set_measurements)
        self.measure.measured.connect(
            lambda m: self.interpretation.set_measurements(
                m, self.measure.recording, self.measure.panel.current_formula()
            )
        )
        self.measure.panel.formulaChanged.connect(  # the header's QTc and the QTc statement follow
            lambda f: self.interpretation.set_measurements(
                self.measure.measurements, self.measure.recording, f
            )
        )
        self.interpretation.panel.chosen.connect(lambda s: s.code and self.ai.explain_code(s.code))
        self.interpretation.panel.cardRequested.connect(self.ai.show_model_card)

        self._build_status_bar()
        actions.build(self)
        self.views.currentChanged.connect(self._view_changed)
        self.ai_action.setChecked(str(self.settings.value("ai/enabled", "true")).lower() != "false")
        self.measure_action.setChecked(str(self.settings.value("measure/enabled", "true")).lower() != "false")
        self._sync_controls()

        self.paper.hovered.connect(self._hovered)
        self.paper.zoomChanged.connect(lambda _z: self._update_status())
        self.paper.pageChanged.connect(self._page_changed)
        self.overview.pageRequested.connect(self.paper.set_t0)
        self.calipers.changed.connect(self.caliper_label.setText)
        self.browser.openRequested.connect(self.open_file)
        self.browser.folderRequested.connect(self.choose_folder)
        self.library.openRequested.connect(self.open_file)
        self._rate_timer = QtCore.QTimer(self, singleShot=True, interval=150)
        self._rate_timer.timeout.connect(self._start_rate)
        self.set_ai_enabled(self.ai_action.isChecked())
        self.set_measure_enabled(self.measure_action.isChecked())

        geometry = self.settings.value("window/geometry")
        placement.place(self, geometry if isinstance(geometry, QtCore.QByteArray) else None)

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

    def _size_right_docks(self) -> None:
        """The docks around the page, arranged for the screen: the right column holds the
        interpretation over the measurements; where the page at true scale leaves ``BELOW_PX`` or
        more under it (a 1920x1080 screen), the model's detail (Analysis, Recording) goes there,
        else (a laptop) it is tabs behind the interpretation (the column's height: ``_share_column``).
        Then the side columns as wide as the page leaves them: without a task dock on the left,
        the page at true scale where the right column then keeps ``COLUMN_PX``, else at
        ``PAGE_ZOOM``; with the Library or Records open, the right column goes to its minimum
        first and the left one gives way down to its own, so the page stays at ``TASK_ZOOM`` or
        more where the screen allows."""
        o = self.paper.options
        page = page_layout(o.layout, STANDARD_LEADS, speed=o.speed, gain=o.gain, order=o.order)
        px = self.paper.px_per_mm
        margin = self.paper.width() - self.paper.vb.width()  # the view's frame around the paper

        def need(zoom: float) -> int:
            return math.ceil((page.width + 4) * px * zoom + margin)

        below = self._place_detail(
            math.ceil((page.height + 4) * px + self.paper.height() - self.paper.vb.height())
        )
        groups = self._column(below)
        shown = [[d for d in group if d.isVisible()] for group in groups]
        docks = [group[0] for group in shown if group]  # the tab in front of each
        left = [d for d in (self.library_dock, self.browser_dock) if d.isVisible() and not d.isFloating()]
        if not docks:
            return
        right = QtCore.Qt.DockWidgetArea.RightDockWidgetArea

        def in_column(d: QtWidgets.QDockWidget) -> bool:  # the tabs behind the one in front count too
            return self.dockWidgetArea(d) == right and not d.isFloating() and d.toggleViewAction().isChecked()

        smallest = max(d.minimumSizeHint().width() for group in groups for d in group if in_column(d))
        room = self.paper.width() + docks[0].width()  # what the page and the columns share
        if left:
            room += left[0].width()
            side = min(
                LIBRARY_WIDTH, max(left[0].minimumSizeHint().width(), room - smallest - need(TASK_ZOOM))
            )
            self.resizeDocks(left[:1], [side], QtCore.Qt.Orientation.Horizontal)
            room -= side
        roomy = COLUMN_PX if not left else smallest  # a task dock open: true scale before a wide column
        column = room - need(1.0) if room - need(1.0) >= roomy else room - need(PAGE_ZOOM)
        self.resizeDocks(docks[:1], [max(column, smallest)], QtCore.Qt.Orientation.Horizontal)
        self._share_column()

    def _column(self, below: bool) -> list[tuple[QtWidgets.QDockWidget, ...]]:
        """The right column's two groups of tabs: the interpretation's (with the model's detail
        unless that is ``below`` the page) and the measurements'."""
        tabs = () if below else (self.ai_dock, self.info_dock)
        return [(self.interpretation_dock, *tabs), (self.measure_dock, self.beats_dock)]

    def _share_column(self) -> None:
        """The right column's height shared between its two groups of tabs: the interpretation in
        front (or over the measurements with the model's detail under the page) as tall as it needs,
        a third to two thirds of the column, the rest to the measurements and the beat list's
        events; the model's detail, a tab behind it on a laptop, two thirds when in front."""
        below = self.dockWidgetArea(self.ai_dock) == QtCore.Qt.DockWidgetArea.BottomDockWidgetArea
        shown = [[d for d in group if d.isVisible() and not d.isFloating()] for group in self._column(below)]
        if not all(shown):
            return
        docks = [group[0] for group in shown]
        height = sum(d.height() for d in docks)
        top = 2 * height // 3
        if below or not self.interpretation_dock.visibleRegion().isEmpty():
            top = min(top, max(height // 3, self.interpretation.panel.sizeHint().height() + 40))
        self.resizeDocks(docks, [top, height - top], QtCore.Qt.Orientation.Vertical)

    def _place_detail(self, page_px: int) -> bool:
        """The model's detail (Analysis, Recording) under the page where the page (``page_px``
        tall at true scale) leaves it ``BELOW_PX``, so that the right column holds the
        interpretation over the measurements, the reading path whole; else tabs behind the
        interpretation. Returns whether it is below. Docks the reader floated stay so."""
        docks = (self.ai_dock, self.info_dock)
        bottom = QtCore.Qt.DockWidgetArea.BottomDockWidgetArea
        is_below = self.dockWidgetArea(self.ai_dock) == bottom
        if any(d.isFloating() for d in docks):
            return is_below
        under = [d for d in docks if d.isVisible() and self.dockWidgetArea(d) == bottom]
        height = self.paper.height() + (under[0].height() if under else 0)  # the page's and theirs
        # room for the findings table's rows under the dock's title and tabs (a larger system font
        # needs more): else the detail stays a tab in the column, where it has the height
        need = max(BELOW_PX, self.ai.panel.diagnosis.minimumSizeHint().height() + DOCK_CHROME_PX)
        below = height - page_px >= need
        if below != is_below:  # across areas: Qt keeps a tab's old place only within one area
            front = self.info_dock if not self.info_dock.visibleRegion().isEmpty() else self.ai_dock
            for d in docks:
                self.addDockWidget(QtCore.Qt.DockWidgetArea.BottomDockWidgetArea if below else
                                   QtCore.Qt.DockWidgetArea.RightDockWidgetArea, d)  # fmt: skip
            if below:
                self.tabifyDockWidget(self.ai_dock, self.info_dock)
                front.raise_()
            else:
                for d in docks:
                    self.tabifyDockWidget(self.interpretation_dock, d)
                self.interpretation_dock.raise_()
            self._dock_timer.start()  # once more, with the docks where they now are
        shown = [d for d in docks if d.isVisible()]
        if below and shown:
            self.resizeDocks(shown[:1], [height - page_px], QtCore.Qt.Orientation.Vertical)
        return below

    def show_median(self, on: bool) -> None:
        """The median beats in the paper's place, or the paper again."""
        self.views.setCurrentIndex(1 if on and self.views.isTabEnabled(1) else 0)

    def _view_changed(self, index: int) -> None:
        self.median_action.setChecked(index == 1)

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.rate_label = QtWidgets.QLabel("HR \u2013")
        self.record_label = QtWidgets.QLabel("")
        self.filter_label = QtWidgets.QLabel("")
        self.scale_label = QtWidgets.QLabel("")
        self.hover_label = QtWidgets.QLabel("")
        self.caliper_label = QtWidgets.QLabel("")
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
        bar.messageChanged.connect(self._make_room)
        self.tasks.shown.connect(self._make_room)

    def _make_room(self) -> None:
        """While a message or the progress bar shows, the recording's, the filter's and the scale's
        labels step aside (the paper's footer shows the filter, the scale and the duration; the
        Recording tab the rest): beside them a 1366-pixel window left a message 200 pixels, and a
        report's path or why a beat is not on this layout was cut off mid-word; beside the
        progress bar and Cancel, the scale's label lost its end ("Ctrl+0 true scale")."""
        crowded = bool(self.statusBar().currentMessage()) or self.progress.isVisibleTo(self)
        for w in (self.record_label, self.filter_label, self.scale_label):
            w.setVisible(not crowded)

    # -- options -----------------------------------------------------------------------------
    def set_options(self, options: ViewOptions) -> None:
        self.paper.set_options(options)
        self.overview.set_theme(THEMES[options.theme])
        self.settings.save_view_options(options)
        self.calipers.set_theme()
        self._sync_controls()
        self._after_page_change()

    def set_dark(self, dark: bool) -> None:
        self.set_options(self.paper.options.with_(theme="dark" if dark else "light"))

    def _sync_controls(self) -> None:
        actions.sync(self)
        o = self.paper.options
        self.dark_action.setChecked(o.theme == "dark")
        self._update_status()

    # -- the recording ---------------------------------------------------------------------
    def set_recording(self, rec: Recording) -> None:
        self.cancel_tasks(keep=("scan", *BACKGROUND))
        self.recording = rec
        self.paper.set_recording(rec)
        self.paper.show_top_left()  # at the zoom the reader chose (true scale at first)
        self.annotation_layer.set_annotations(rec.metadata.annotations)
        self.setWindowTitle(f"{rec.name} \u2014 ecgviewer")
        self.show_info()
        self.ai.panel.diagnosis.set_device(rec.metadata.device)
        if rec.warnings:
            self.banner.setText("\u26a0 " + rec.name + ": " + "; ".join(rec.warnings))
            self.banner.show()
        else:
            self.banner.hide()
        self.rate_label.setText("HR \u2013")
        if self.ai_action.isChecked():
            self.ai.set_recording(rec)
        self.interpretation.set_recording(rec)
        self.measure.set_recording(rec)
        self.beats.set_recording(rec)
        self._setup_overview()
        self._after_page_change()
        self.recordingLoaded.emit(rec)

    def show_info(self, _checked: bool = False) -> None:
        if self.recording is not None:
            lines = summary_lines(self.recording, identifiers=self.identifiers_action.isChecked())
            self.info.setPlainText("\n".join(lines))

    # -- navigation & background work ----------------------------------------------------------
    def _page_changed(self, _t0: float) -> None:
        self._after_page_change()

    def _after_page_change(self) -> None:
        page = self.paper.page
        if page is not None and self.overview.isVisible():
            self.overview.set_page(page.t0, page.span)
        self._update_status()
        self._rate_timer.start()

    def _setup_overview(self) -> None:
        rec, page = self.recording, self.paper.page
        long = rec is not None and page is not None and rec.duration > page.span
        self.overview.setVisible(long)
        if not long:
            return
        self.overview.set_recording(rec.duration, page.span)
        channel = rec.index("II") if "II" in rec.leads else 0
        from ecgviewer.dsp.envelope import envelope

        self.tasks.run(
            "overview",
            "Overview",
            lambda progress: envelope(rec.source, channel, OVERVIEW_BINS, progress),
            self._overview_done,
        )

    def _overview_done(self, result: tuple) -> None:
        lo, hi, per_bin = result
        if self.recording is not None:
            self.overview.set_envelope(lo, hi, per_bin / self.recording.fs)

    def _show_beat(self, t: float) -> None:
        """The paper with this beat a second from its left edge (a template's beat)."""
        self.views.setCurrentIndex(0)
        self.paper.set_t0(max(0.0, t - CONTEXT_S))

    def _beats_listed(self, beats) -> None:
        """The beat list's heart-rate trend on the overview strip (long recordings show it)."""
        if beats is None:
            self.overview.set_trend(None, None)
        else:
            self.overview.set_trend(beats.trend_s, beats.trend_bpm)
        unread = [] if beats is None else [(e.start_s, e.end_s, "unreadable") for e in beats.events
                                           if e.kind == "unreadable"]  # fmt: skip
        self.unread.set_stretches("beats", self.beats.recording, unread)

    def _start_rate(self) -> None:
        rec, page = self.recording, self.paper.page
        if rec is None or page is None:
            return
        s0, s1 = int(page.t0 * rec.fs), int((page.t0 + page.span) * rec.fs)
        x = np.array(rec.read(s0, s1))
        from ecgviewer.dsp.rate import heart_rate

        self.tasks.run("rate", "", lambda _p: heart_rate(x, rec.fs, rec.leads), self._rate_done, quiet=True)

    def _rate_done(self, result: tuple[float, str] | None) -> None:
        """The page's rate, unless the measurements cover the page: then theirs, so that one span
        never shows two rates (the estimate uses the same definition, ``dsp.rate``)."""
        measured = self._measured_rate()
        if measured is not None:
            self.rate_label.setText(measured)
            return
        self.rate_label.setText(f"HR {result[0]:.0f} bpm ({result[1]}, this page)" if result else "HR \u2013")

    def _measured_rate(self) -> str | None:
        """The measurements' heart rate when they belong to the recording open and span the page."""
        m, rec, page = self.measure.measurements, self.recording, self.paper.page
        if m is None or rec is None or self.measure.recording is not rec or page is None:
            return None
        a, b = m.span_s
        hr = m.values.get("hr")
        if hr is None or hr.value is None or not (a <= page.t0 and page.t0 + page.span <= b + 1e-6):
            return None
        return f"HR {hr.value:.0f} bpm (measured, {a:.1f}\u2013{b:.1f} s)"

    def cancel_tasks(self, keep: tuple[str, ...] = ()) -> None:
        """Cancel background work (all of it, or all but the ``keep`` keys)."""
        self._rate_timer.stop()
        self.tasks.cancel(keep)

    def busy(self) -> bool:
        return self.tasks.busy()

    def set_ai_enabled(self, on: bool) -> None:
        """Turn the model's analysis on (loading it in the background the first time) or off."""
        self.settings.set_value("ai/enabled", "true" if on else "false")
        self.ai_dock.setVisible(on)
        self.interpretation.set_sources(on, self.measure_action.isChecked())
        self.ai.device_label.setVisible(on)
        self.ai.device_combo.setVisible(on)
        if not on:
            self.ai.shading.set_scores(None)
            self.measure.set_ai_result(None)
            self.interpretation.set_result(None, None)
            return
        if self.ai.analyzer is None:
            self.ai.load_soon()
        elif self.recording is not None:
            self.ai.set_recording(self.recording)

    def set_measure_enabled(self, on: bool) -> None:
        """Turn the measurements on (loading the delineator in the background the first time) or off."""
        self.settings.set_value("measure/enabled", "true" if on else "false")
        self.measure_dock.setVisible(on)
        self.interpretation.set_sources(self.ai_action.isChecked(), on)
        if not on:  # its statements and header go with the measurements, the paper's grey stretches too
            self.interpretation.set_measurements(None, self.recording, self.measure.panel.current_formula())
            self.unread.set_stretches("measurement", None, [])
        self.beats_dock.setVisible(on)
        self.beats.set_enabled(on)
        self.views.setTabEnabled(1, on)
        self.views.setTabEnabled(3, on)
        self.median_action.setEnabled(on)
        if not on:
            self.show_median(False)
        self.measure.set_enabled(on)

    # -- status ----------------------------------------------------------------------------------
    def _update_status(self) -> None:
        rec, o = self.recording, self.paper.options
        zoom = self.paper.zoom
        scale = "true scale" if abs(zoom - 1) < 1e-3 else f"zoom \u00d7{zoom:.2f}"
        if self.paper.fitted:
            scale += ": page fitted, Ctrl+0 true scale"  # short: the status bar holds a laptop's width
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
            self.preferences = PreferencesDialog(self, self)
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

    def showEvent(self, event: QtGui.QShowEvent) -> None:
        super().showEvent(event)
        if not self._docks_sized:  # once, when the docks first have heights
            self._docks_sized = True
            self._dock_timer.start()

    def resizeEvent(self, event: QtGui.QResizeEvent) -> None:
        self.ai.panel.diagnosis.keep_rows(event.size().height())  # findings stay in view
        super().resizeEvent(event)
        if self._docks_sized:  # a new window size: the page and the column shared again
            self._dock_timer.start()

    def closeEvent(self, event: QtGui.QCloseEvent) -> None:
        self.cancel_tasks()
        self.settings.set_value("window/geometry", self.saveGeometry())
        super().closeEvent(event)
