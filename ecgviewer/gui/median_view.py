"""The 12 median beats on ECG paper at true scale, with the measurement's fiducials as calipers.

One scene unit is one paper millimetre, as on ``PaperView``, at the paper's speed, gain, lead
order and screen calibration, and never zoomed: intervals are read off the beats the way a
reader reads them on a printed median-beat report. The grid follows the paper's (6x2 when the
paper is 6x2 or 12x1, else 3x4) when it fits the view, else the first of 2x6, 1x12, 3x4, 6x2 that
fits (a bottom dock is wide and short); each panel holds one lead's median beat, -500..+700 ms
around R. The global fiducials are vertical lines through every column, named once in a band
above the first row; the user drags them to correct the automatic ones; each lead's own
fiducials are short ticks on its beat. Attributions of the model
(averaged over the beats in the median) are drawn with the beat shading of the paper. When the
file carries the acquiring device's median beats, they are drawn under ours in another colour,
shifted to match ours (``measure.device_median``).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from ecgviewer.gui.overlay import BeatShading, Legend
from ecgviewer.gui.paper import LABEL_MM, MIN_MINOR_PX, SheetItem
from ecgviewer.leads import STANDARD_LEADS
from ecgviewer.measure import beats as B
from ecgviewer.measure import signal
from ecgviewer.measure.device_median import align
from ecgviewer.measure.intervals import Measurements
from ecgviewer.measure.median_attribution import MedianAttribution
from ecgviewer.measurements import FIDUCIAL_NAMES, FIDUCIALS
from ecgviewer.ml import contract
from ecgviewer.ml.placement import BeatScores
from ecgviewer.recording import MedianBeats
from ecgviewer.render.layout import BEAT_GRIDS, Page, page_layout
from ecgviewer.render.options import DEFAULT_PX_PER_MM, THEMES, ViewOptions

BEAT_S = (-B.PRE_MS / 1000, B.POST_MS / 1000)  # the median-beat window around R, seconds
TICK_MM = 1.5  # half-height of a lead's own fiducial tick
NAME_MM = 3.2  # height of one level of the fiducial names' band above the first row
# Each wave's names sit on their own level, the onset's left of its line and the offset's right
# of it, so that no two names overlap however close the lines are.
NAME_LEVEL = {"p": 2, "qrs": 1, "t": 0}
HEADER_MM = NAME_MM * len(NAME_LEVEL) + 1.0
FALLBACK_GRIDS = ("2x6", "1x12", "3x4", "6x2")
DEVICE_INK = "#d2691e"  # the device's median beat: apart from the ink, the grid and the calipers


def paper_grid(options: ViewOptions) -> str:
    return "6x2" if options.layout in ("6x2", "12x1") else "3x4"


def median_layout(options: ViewOptions, leads: tuple[str, ...], grid: str | None = None) -> Page:
    """One median beat per lead in ``grid`` (rows x columns; default the paper's): each panel
    spans ``BEAT_S`` (seconds from R) at the paper's speed, gain and lead order."""
    grid = grid or paper_grid(options)
    columns = int(grid.split("x")[1])
    width = (BEAT_S[1] - BEAT_S[0]) * options.speed
    page = page_layout(
        grid, leads, speed=options.speed, gain=options.gain, order=options.order, trace_width=columns * width
    )
    panels = tuple(replace(p, t0=BEAT_S[0], t1=BEAT_S[1]) for p in page.panels)
    return replace(page, panels=panels, t0=BEAT_S[0], duration=BEAT_S[1] - BEAT_S[0])


def best_grid(options: ViewOptions, leads: tuple[str, ...], view_mm: tuple[float, float]) -> str:
    """The paper's grid if the page fits ``view_mm`` (width, height), else the first that fits,
    else the one that shows the largest share of itself."""

    def shown(grid: str) -> float:
        page = median_layout(options, leads, grid)
        w, h = page.width + 4.0, page.height + HEADER_MM + 4.0
        return min(1.0, view_mm[0] / w) * min(1.0, view_mm[1] / h)

    order = (paper_grid(options), *(g for g in FALLBACK_GRIDS if g != paper_grid(options)))
    return next((g for g in order if shown(g) >= 1.0), max(order, key=shown))


def median_scores(att: MedianAttribution, leads: tuple[str, ...], label: str) -> BeatScores:
    """The averaged attribution as one "beat" per lead on the median beat's time axis (R at 0 s),
    so that the paper's shading and legend draw it the same way; leads without tokens are left out."""
    keep = np.flatnonzero(att.n_beats > 0)
    n = len(keep)
    return BeatScores(
        lead=np.asarray(leads)[keep],
        window=np.zeros(n, dtype=np.int64),
        beat=np.zeros(n, dtype=np.int64),
        start_s=np.full(n, -contract.R_INDEX / contract.FS),
        stop_s=np.full(n, (contract.TOKEN_LEN - contract.R_INDEX) / contract.FS),
        r_s=np.zeros(n),
        score=att.beats[keep],
        samples=None if att.samples is None else att.samples[keep],
        signed=True,
        label=label,
    )


class _PanBox(pg.ViewBox):
    """Pans with the left button and never zooms: the beats stay at true scale."""

    def wheelEvent(self, ev, axis=None) -> None:
        ev.ignore()

    def mouseDragEvent(self, ev, axis=None) -> None:
        if ev.button() == QtCore.Qt.MouseButton.LeftButton:
            super().mouseDragEvent(ev, axis)
        else:
            ev.ignore()


class MedianView(pg.GraphicsView):
    """Median beats of one ``Measurements`` on calibrated paper; emits the user's caliper moves."""

    fiducialMoved = QtCore.Signal(str, float)  # global fiducial, ms from R

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent, useOpenGL=False)
        self.setAntialiasing(True)
        self.vb = _PanBox(lockAspect=1.0, enableMenu=False, defaultPadding=0.0)
        self.vb.disableAutoRange()
        self.setCentralItem(self.vb)
        self.options = ViewOptions()
        self.px_per_mm = DEFAULT_PX_PER_MM
        self.measurements: Measurements | None = None
        self.page: Page | None = None
        self.sheet = SheetItem()
        self.sheet.setZValue(-20)
        self.shading = BeatShading()
        self.curve = pg.PlotCurveItem(connect="finite")
        self.device_curve = pg.PlotCurveItem(connect="finite")  # the device's median, under ours
        self.device_curve.setZValue(-1)
        self.device: MedianBeats | None = None
        self.device_shift_ms: float | None = None  # where the device's beat landed on ours
        self.ticks = pg.PlotCurveItem(connect="pairs")
        self.footer = pg.TextItem(anchor=(0, 0.5))
        for item in (self.sheet, self.shading, self.device_curve, self.curve, self.ticks, self.footer):
            self.vb.addItem(item)
        self._mark = THEMES[self.options.theme].marks  # the calipers' colour
        # Lead labels, caliper lines and their names are made once and reused: removing a line
        # that carries a label from the scene and dropping it crashed the Qt bindings.
        self.labels = [pg.TextItem("", anchor=(0, 0)) for _ in STANDARD_LEADS]
        columns = max(int(g.split("x")[1]) for g in BEAT_GRIDS)
        self._pool = {key: [self._make_line(c) for c in range(columns)] for key in FIDUCIALS}
        self.names = {
            key: pg.TextItem("", anchor=(1 if key.endswith("_on") else 0, 0.5)) for key in FIDUCIALS
        }
        for item in (*self.labels, *self.names.values()):
            self.vb.addItem(item)
        self.grid = paper_grid(self.options)
        self.lines: dict[str, list[pg.InfiniteLine]] = {}  # the fiducials shown: one line per column
        self._placing = False  # lines moved by the program, not the user
        # each shown fiducial's neighbours, ms: a drag is clamped here exactly, because the lines'
        # pixel bounds round-trip through x_of/ms_of with a float error that could cross them
        self._limits_ms: dict[str, tuple[float, float]] = {}
        self._home = True  # keep the sheet's top-left in view until the user pans
        self.vb.sigResized.connect(self._keep_scale)
        self.vb.sigRangeChangedManually.connect(self._panned)
        self.vb.sigRangeChanged.connect(self._fit_lines)

    # -- inputs ----------------------------------------------------------------------------------
    def set_view(self, options: ViewOptions, px_per_mm: float) -> None:
        """Follow the paper's speed, gain, layout, order, theme and screen calibration."""
        if (options, px_per_mm) == (self.options, self.px_per_mm):
            return
        self.options, self.px_per_mm = options, px_per_mm
        self._rebuild()

    def set_measurements(self, m: Measurements | None) -> None:
        """Show ``m``; when only its fiducials changed (an edit), the beats stay and the lines move."""
        same_beats = m is not None and self.measurements is not None and m.median is self.measurements.median
        self.measurements = m
        if same_beats:
            self._place_lines()
        else:
            self._rebuild()

    def set_device_median(self, device: MedianBeats | None) -> None:
        """The acquiring device's median beats, drawn under ours once aligned to them."""
        self.device = device
        self._rebuild()

    def set_attribution(self, scores: BeatScores | None, opacity: float) -> None:
        self.shading.opacity = opacity
        self.shading.set_scores(scores)

    # -- geometry --------------------------------------------------------------------------------
    def x_of(self, column: int, ms: float) -> float:
        """Paper x (mm) of ``ms`` from R in ``column``."""
        assert self.page is not None
        p = self._columns()[column]
        return p.x + (ms / 1000 - p.t0) * self.options.speed

    def ms_of(self, column: int, x: float) -> float:
        assert self.page is not None
        p = self._columns()[column]
        return ((x - p.x) / self.options.speed + p.t0) * 1000

    def _columns(self) -> list:
        assert self.page is not None
        return [p for p in self.page.panels if p.row == 0]

    # -- building --------------------------------------------------------------------------------
    def _font(self, mm: float = LABEL_MM) -> QtGui.QFont:
        font = QtGui.QFont()
        font.setPixelSize(max(9, round(mm * self.px_per_mm)))
        return font

    def _make_line(self, column: int) -> pg.InfiniteLine:
        line = pg.InfiniteLine(angle=90, movable=True)
        line.setZValue(10)
        line.hide()
        line.sigPositionChanged.connect(self._line_moved)
        self.vb.addItem(line)
        return line

    def _rebuild(self) -> None:
        theme, m = THEMES[self.options.theme], self.measurements
        self._mark = theme.marks
        self.setBackground(theme.desk)
        self.sheet.set_colors(theme.paper, theme.minor, theme.major)
        self.sheet.set_show_minor(self.px_per_mm >= MIN_MINOR_PX)
        self.curve.setPen(pg.mkPen(theme.ink, width=1))
        self.device_curve.setPen(pg.mkPen(DEVICE_INK, width=1))
        self.ticks.setPen(pg.mkPen(theme.marks, width=1))
        for label in self.labels:
            label.hide()
        if m is None:
            self.page = None
            self._show_lines(theme.paper)
            self.sheet.set_size(0.0, 0.0)
            for curve in (self.curve, self.ticks, self.device_curve):
                curve.setData([], [])
            self.device_shift_ms = None
            self.footer.setText("")
            self.shading.set_page(None)
            return
        self.grid = best_grid(self.options, m.leads, self._view_mm()) if self._view_mm() else self.grid
        self.page = page = median_layout(self.options, m.leads, self.grid)
        self.sheet.set_size(page.width, page.height)
        xs, ys, tx, ty, dx, dy = [], [], [], [], [], []
        step = page.speed / signal.FS  # mm per median sample
        theirs, self.device_shift_ms = None, None
        if self.device is not None:
            theirs, self.device_shift_ms = align(m.median, m.leads, self.device)
        for p, label in zip(page.panels, self.labels, strict=True):
            i = m.leads.index(p.lead)
            label.setText(p.label if m.present[i] else f"{p.label} (no usable signal)")
            label.setColor(theme.text if m.present[i] else theme.major)
            label.setFont(self._font())
            label.setPos(p.x + 1.0, p.y + page.row_pitch / 2 - 0.5)
            label.show()
            if not m.present[i]:
                continue
            x = p.x + step * np.arange(m.median.shape[1])
            y = p.y + p.sign * page.gain * m.median[i].astype(np.float64)
            xs += [x, [np.nan]]
            ys += [y, [np.nan]]
            if theirs is not None:
                dx += [x, [np.nan]]
                dy += [p.y + p.sign * page.gain * theirs[i], [np.nan]]
            for ms in m.lead_fiducials[i].values():
                if ms is not None:
                    xk = p.x + (ms / 1000 - p.t0) * page.speed
                    yk = float(np.interp(xk, x, y))
                    tx += [xk, xk]
                    ty += [yk - TICK_MM, yk + TICK_MM]
        self.curve.setData(np.concatenate(xs) if xs else [], np.concatenate(ys) if ys else [])
        self.ticks.setData(np.asarray(tx, dtype=float), np.asarray(ty, dtype=float))
        self.device_curve.setData(np.concatenate(dx) if dx else [], np.concatenate(dy) if dy else [])
        self._show_lines(theme.paper)
        self.shading.set_page(page)
        self.footer.setFont(self._font(2.8))
        self.footer.setColor(theme.text)
        self.footer.setPos(page.pulse_x, 2.5)
        self.footer.setText(self.footer_text())
        self._home = True
        self._keep_scale()

    def _show_lines(self, fill: str) -> None:
        """One line per column for each fiducial the measurement has; the others hidden."""
        m = self.measurements
        columns = len(self._columns()) if m is not None else 0
        self.lines = {
            key: lines[:columns]
            for key, lines in self._pool.items()
            if columns and m.fiducials[key] is not None
        }
        for key, lines in self._pool.items():
            for c, line in enumerate(lines):
                line.setHoverPen(pg.mkPen(self._mark, width=3))
                line.setVisible(c < len(self.lines.get(key, ())))
            self.names[key].setColor(self._mark)
            self.names[key].fill = pg.mkBrush(fill)
            self.names[key].setFont(self._font(NAME_MM * 0.8))
            self.names[key].setVisible(key in self.lines)
        self._place_lines()
        self._fit_lines()

    def _place_lines(self) -> None:
        """Put every line at its fiducial, kept between its neighbours while dragged."""
        m = self.measurements
        if m is None or self.page is None:
            return
        shown = [k for k in FIDUCIALS if k in self.lines]
        lo_ms, hi_ms = (t * 1000 for t in BEAT_S)
        self._placing = True
        try:
            for j, key in enumerate(shown):
                ms = float(m.fiducials[key])
                before = min(float(m.fiducials[shown[j - 1]]), ms) if j > 0 else lo_ms
                after = max(float(m.fiducials[shown[j + 1]]), ms) if j + 1 < len(shown) else hi_ms
                self._limits_ms[key] = (before, after)
                edited = " (edited)" if key in m.edited else ""
                style = QtCore.Qt.PenStyle.DashLine if edited else QtCore.Qt.PenStyle.SolidLine
                for c, line in enumerate(self.lines[key]):
                    line.setBounds((self.x_of(c, before), self.x_of(c, after)))
                    line.setValue(self.x_of(c, ms))
                    line.setPen(pg.mkPen(self._mark, width=1, style=style))
                    line.setToolTip(f"{FIDUCIAL_NAMES[key]}: {ms:+.0f} ms from R{edited}; drag to move it")
                self._name(key, ms, edited)
        finally:
            self._placing = False
        self.footer.setText(self.footer_text())

    def _name(self, key: str, ms: float, edited: str) -> None:
        """The fiducial's name in the band above the first row, beside its line in column 0."""
        assert self.page is not None
        level = NAME_LEVEL[key.split("_")[0]]
        self.names[key].setText(FIDUCIAL_NAMES[key] + ("*" if edited else ""))
        self.names[key].setPos(self.x_of(0, ms), self.page.height + (level + 0.5) * NAME_MM)

    def _line_moved(self, line: pg.InfiniteLine) -> None:
        if self._placing:
            return
        key, column = next(
            (k, c) for k, lines in self.lines.items() for c, ln in enumerate(lines) if ln is line
        )
        lo, hi = self._limits_ms.get(key, (-np.inf, np.inf))
        ms = min(max(self.ms_of(column, line.value()), lo), hi)
        self._placing = True
        try:
            for c, other in enumerate(self.lines[key]):
                if other is not line:
                    other.setValue(self.x_of(c, ms))
            self._name(key, ms, " (edited)")
        finally:
            self._placing = False
        self.fiducialMoved.emit(key, ms)

    def footer_text(self) -> str:
        """Speed, gain and what the beats are the median of, as printed under them."""
        m = self.measurements
        if m is None:
            return ""
        used = sum(1 for r in m.beat_reasons if not r)
        edited = (
            f"   edited: {', '.join(FIDUCIAL_NAMES[k] for k in FIDUCIALS if k in m.edited)}"
            if m.edited
            else ""
        )
        return (
            f"{self.options.scale_label()} (true scale)   median beats of {used} of {len(m.beat_reasons)} "
            f"beats, {m.span_s[0]:.1f}\u2013{m.span_s[1]:.1f} s{edited}"
        )

    # -- scale -----------------------------------------------------------------------------------
    def _view_mm(self) -> tuple[float, float] | None:
        w, h = self.vb.width(), self.vb.height()
        return (w / self.px_per_mm, h / self.px_per_mm) if w > 0 and h > 0 else None

    def _keep_scale(self, *_args: object) -> None:
        """Keep one paper millimetre at ``px_per_mm`` screen pixels through resizes, and the
        grid that fits the view best."""
        w, h = self.vb.width(), self.vb.height()
        if w <= 0 or h <= 0:
            return
        m = self.measurements
        if m is not None and best_grid(self.options, m.leads, self._view_mm()) != self.grid:
            self._rebuild()  # comes back here with the new grid
            return
        if self._home and self.page is not None:  # the top left, or the first row's beats if
            x0, y1 = -2.0, self.page.height + HEADER_MM + 2.0  # the view is too short for it all
            y1 = min(y1, self.page.row_baselines[0] + h / self.px_per_mm / 2)
        else:
            (x0, _), (_, y1) = self.vb.viewRange()
        s = self.px_per_mm
        self.vb.setRange(xRange=(x0, x0 + w / s), yRange=(y1 - h / s, y1), padding=0)

    def _panned(self, *_args: object) -> None:
        self._home = False

    def _fit_lines(self, *_args: object) -> None:
        """End the caliper lines at the sheet's edges (their span is a share of the view's height)."""
        if self.page is None:
            return
        _, (y0, y1) = self.vb.viewRange()
        a, b = (float(np.clip(y / (y1 - y0), 0.0, 1.0)) for y in (-y0, self.page.height - y0))
        for lines in self.lines.values():
            for line in lines:
                line.setSpan(a, b)


class MedianPanel(QtWidgets.QWidget):
    """The median-beat view with a caption and a legend for the attribution drawn on it."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.view = MedianView()
        self.status = QtWidgets.QLabel("")
        self.status.setWordWrap(True)
        self.show_attribution = QtWidgets.QCheckBox("Attribution")
        self.show_attribution.setChecked(True)
        self.show_attribution.setToolTip("The model's attribution, averaged over the beats in the median")
        self.show_device = QtWidgets.QCheckBox("Device median")
        self.show_device.setChecked(True)
        self.show_device.setStyleSheet(f"color: {DEVICE_INK}")
        self.show_device.setToolTip(
            "The acquiring device's own median beat (from the file), under ours, shifted to match it"
        )
        self.show_device.toggled.connect(self.view.device_curve.setVisible)
        self.show_device.hide()
        self.caption = QtWidgets.QLabel("")
        self.caption.setWordWrap(True)
        self.legend = Legend()
        self.legend.hide()
        top = QtWidgets.QHBoxLayout()
        top.addWidget(self.status, 1)
        top.addWidget(self.show_device)
        top.addWidget(self.show_attribution)
        box = QtWidgets.QVBoxLayout(self)
        box.setContentsMargins(4, 4, 4, 4)
        box.addLayout(top)
        box.addWidget(self.view, 1)
        box.addWidget(self.caption)
        box.addWidget(self.legend)

    def set_device_median(self, device: MedianBeats | None) -> None:
        self.view.set_device_median(device)
        self.show_device.setVisible(device is not None)

    def set_attribution(self, scores: BeatScores | None, caption: str = "", opacity: float = 0.6) -> None:
        """Shade the beats with ``scores`` (None: no shading) and say what they are."""
        self.view.set_attribution(scores, opacity)
        self.legend.set_scores(scores, opacity)
        self.legend.setVisible(scores is not None)
        self.caption.setText(caption)
