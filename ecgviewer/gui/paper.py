"""The ECG paper: a pyqtgraph view in which one scene unit is one paper millimetre.

Zoom 1 is true scale (``px_per_mm`` screen pixels per paper millimetre, from the screen
calibration); the view keeps that scale across resizes. Traces use cosmetic 1-px pens
without antialiasing and a per-device-pixel peak (min/max) decimation, so a page of 12 leads
repaints in milliseconds (viewer-anchors section 6.2).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from ecgviewer.gui.widgets import CaptionItem
from ecgviewer.leads import FLAT_MV
from ecgviewer.recording import Recording
from ecgviewer.render.layout import (
    Page,
    column_ticks,
    label_position,
    pulse_polyline,
)
from ecgviewer.render.options import DEFAULT_PX_PER_MM, THEMES, ViewOptions, page_caption, recording_page
from ecgviewer.render.painting import grid_lines, paint_grid
from ecgviewer.render.traces import PanelTrace, TraceSource, page_traces, peak_decimate

MIN_MINOR_PX = 2.5  # hide the 1 mm grid when its lines would merge into a tint
LABEL_MM = 3.2  # lead-label height on paper
CAPTION_END_MM = 1.0  # a caption stops this far from the sheet's right edge


class HoverInfo(NamedTuple):
    lead: str  # as labelled (Cabrera's inverted aVR reads "\u2212aVR")
    time: float  # seconds in the recording
    mv: float  # displayed (filtered, signed) value under the cursor; NaN in a gap
    channel: str  # the recording's lead name ("aVR" under Cabrera's "\u2212aVR")


class SheetItem(pg.GraphicsObject):
    """The paper: its colour and its 1 mm / 5 mm grid, cached as a device-pixel image.

    Written by hand so that Qt can cache it: rasterising the ~700 grid lines costs 3-5 ms on
    every repaint (about a third of a pan), while blitting the cached image costs well under
    one; the cache is redrawn only when the zoom changes.
    """

    def __init__(self) -> None:
        super().__init__()
        self._rect = QtCore.QRectF()
        self._minor: list[QtCore.QLineF] = []
        self._major: list[QtCore.QLineF] = []
        self._colors = ("#ffffff", "#000000", "#000000")
        self.show_minor = True
        self.setCacheMode(QtWidgets.QGraphicsItem.CacheMode.DeviceCoordinateCache)

    def set_size(self, width: float, height: float) -> None:
        self.prepareGeometryChange()
        self._rect = QtCore.QRectF(0.0, 0.0, width, height)
        self._minor = grid_lines(width, height, 1.0, 5.0)
        self._major = grid_lines(width, height, 5.0, None)
        self.update()

    def set_colors(self, paper: str, minor: str, major: str) -> None:
        self._colors = (paper, minor, major)
        self.update()

    def set_show_minor(self, show: bool) -> None:
        if show != self.show_minor:
            self.show_minor = show
            self.update()

    def boundingRect(self) -> QtCore.QRectF:
        return self._rect

    def paint(self, painter: QtGui.QPainter, *_args: object) -> None:
        paint_grid(painter, self._rect, self._colors, self._minor if self.show_minor else [], self._major)


class ClipBox(QtWidgets.QGraphicsRectItem):
    """An invisible box whose children are drawn only inside it: traces stay on their sheet or
    panel, as on a printed page, without changing the samples they draw."""

    def __init__(self) -> None:
        super().__init__()
        self.setFlag(QtWidgets.QGraphicsItem.GraphicsItemFlag.ItemClipsChildrenToShape)
        self.setPen(QtGui.QPen(QtCore.Qt.PenStyle.NoPen))


class PaperView(pg.GraphicsView):
    """Calibrated ECG paper for one recording; the GUI, the CLI renderer and tests use it."""

    hovered = QtCore.Signal(object)  # HoverInfo, or None off the traces
    zoomChanged = QtCore.Signal(float)
    pageChanged = QtCore.Signal(float)  # new page start (s)
    refreshed = QtCore.Signal()  # the page was rebuilt (moved, new recording or new options)
    clicked = QtCore.Signal(object)  # HoverInfo of a left click on a trace
    painted = QtCore.Signal()
    labelsPlaced = QtCore.Signal()  # the leads' labels moved (a new page, or a zoom): ``label_boxes``

    def __init__(self, parent=None, px_per_mm: float = DEFAULT_PX_PER_MM) -> None:
        super().__init__(parent, useOpenGL=False)
        self.setAntialiasing(False)
        self.vb = pg.ViewBox(lockAspect=1.0, enableMenu=False, defaultPadding=0.0)
        self.vb.disableAutoRange()
        self.setCentralItem(self.vb)
        self._px_per_mm = px_per_mm
        self._zoom = 1.0
        # Until the reader picks a magnification: true scale when the page fits the view, else the
        # whole page fitted to it (``fitted`` says which), so no lead is cut off unannounced.
        self._auto = True
        self._options = ViewOptions()
        self._rec: Recording | None = None
        self._source: TraceSource | None = None
        self._t0 = 0.0
        self.page: Page | None = None
        self.traces: list[PanelTrace] = []
        self._static_key: tuple | None = None
        self._trace_items: list[pg.PlotCurveItem] = []
        self._drawn_step = 0.0  # mm per device pixel the traces were decimated for
        self._labels: list[pg.TextItem] = []
        self._notes: list[pg.TextItem] = []

        self._sheet = SheetItem()
        self._sheet.setZValue(-20)
        self.vb.addItem(self._sheet)
        self._on_sheet = ClipBox()  # holds the traces
        self.vb.addItem(self._on_sheet)
        self._pulses = pg.PlotCurveItem(connect="finite")
        self._ticks = pg.PlotCurveItem(connect="pairs")
        self._footer = CaptionItem(anchor=(0, 0.5))
        # One full repaint per change: a pan touches the whole page anyway, and painting under many
        # small dirty rectangles was slower (24 h pan, 3x4+1: 8.1 ms full vs 10.9 ms minimal paint).
        self.setViewportUpdateMode(QtWidgets.QGraphicsView.ViewportUpdateMode.FullViewportUpdate)
        for item in (self._pulses, self._ticks, self._footer):
            self.vb.addItem(item)
        self.vb.sigResized.connect(self._keep_scale)
        self.vb.sigRangeChanged.connect(self._update_grid_visibility)
        self.vb.sigRangeChanged.connect(self._redraw_if_rescaled)
        self.vb.sigRangeChangedManually.connect(self._user_zoomed)
        self.scene().sigMouseMoved.connect(self._mouse_moved)
        self.scene().sigMouseClicked.connect(self._mouse_clicked)
        self._apply_theme()

    # -- state ---------------------------------------------------------------------------
    @property
    def options(self) -> ViewOptions:
        return self._options

    @property
    def recording(self) -> Recording | None:
        return self._rec

    @property
    def t0(self) -> float:
        return self._t0

    @property
    def px_per_mm(self) -> float:
        return self._px_per_mm

    @property
    def zoom(self) -> float:
        return self._zoom

    def max_t0(self) -> float:
        if self._rec is None:
            return 0.0
        return max(0.0, self._rec.duration - self._layout(0.0).span)

    def set_recording(self, rec: Recording | None, t0: float = 0.0) -> None:
        self._rec = rec
        self._source = TraceSource(rec) if rec is not None else None
        self._t0 = 0.0
        self._refresh(t0)

    def set_options(self, options: ViewOptions) -> None:
        if options == self._options:
            return
        theme_changed = options.theme != self._options.theme
        self._options = options
        if theme_changed:
            self._apply_theme()
        self._refresh(self._t0)

    def set_t0(self, t0: float) -> None:
        """Move the page to start at ``t0`` seconds (clamped to the recording)."""
        self._refresh(t0)

    def set_px_per_mm(self, px_per_mm: float) -> None:
        self._px_per_mm = px_per_mm
        self._static_key = None
        self._refresh(self._t0)
        self._keep_scale()

    # -- building --------------------------------------------------------------------------
    def _layout(self, t0: float) -> Page:
        """The open recording's page from ``t0`` seconds, as the options lay it out."""
        assert self._rec is not None
        return recording_page(self._options, self._rec, t0)

    def _refresh(self, t0: float) -> None:
        rec, opts = self._rec, self._options
        if rec is None:
            self.page, self.traces = None, []
            self._clear_static()
            self.refreshed.emit()
            return
        t0 = min(max(0.0, t0), self.max_t0())
        page = self._layout(t0)
        # Everything static on the page; another recording with the same leads reuses it all.
        key = (
            tuple((p.label, p.available, p.x, p.y, p.width) for p in page.panels),
            page.width,
            page.height,
            opts.gain,
            opts.theme,
            self._px_per_mm,
        )
        moved = t0 != self._t0
        resized = self._static_key is None or self._static_key[1:3] != key[1:3]
        self._t0, self.page = t0, page
        if key != self._static_key:
            self._build_static(page)
            self._static_key = key
            if self._auto:
                self._keep_scale()
            elif resized:  # another layout is another page: its top-left (lead I) at the reader's zoom
                self.show_top_left()
        self._update_traces()
        if moved:
            self.pageChanged.emit(t0)
        self.refreshed.emit()

    def _clear_static(self) -> None:
        for item in self._trace_items:
            self.scene().removeItem(item)
        for item in (*self._labels, *self._notes):
            self.vb.removeItem(item)
        self._trace_items, self._labels, self._notes = [], [], []
        for curve in (self._pulses, self._ticks):
            curve.setData([], [])
        self._sheet.set_size(0.0, 0.0)
        self._footer.set_caption("")

    def _font(self, mm: float = LABEL_MM) -> QtGui.QFont:
        font = QtGui.QFont()
        font.setPixelSize(max(9, round(mm * self._px_per_mm)))
        return font

    def _build_static(self, page: Page) -> None:
        """Grid, calibration pulses, labels and one curve item per panel."""
        self._clear_static()
        theme = THEMES[self._options.theme]
        self._sheet.set_size(page.width, page.height)
        self._on_sheet.setRect(0.0, 0.0, page.width, page.height)
        self._pulses.setData(*(np.array(v) for v in pulse_polyline(page)))
        self._ticks.setData(*(np.array(v, dtype=float) for v in column_ticks(page)))
        ink = pg.mkPen(theme.ink, width=1)
        font = self._font()
        for p in page.panels:
            item = pg.PlotCurveItem(pen=ink)
            item.setParentItem(self._on_sheet)
            self._trace_items.append(item)
            text = p.label if p.available else f"{p.label} (not recorded)"
            color = theme.text if p.available else theme.major
            label = pg.TextItem(text, color=color, anchor=(0, 0))
            label.setFont(font)
            x, y = label_position(page, p)
            label.setPos(x, y)
            label.setZValue(5)
            note = pg.TextItem("", color=theme.major, anchor=(0, 0))
            note.setFont(font)
            note.setPos(x, y - 1.3 * LABEL_MM)
            note.setZValue(5)
            for t in (label, note):
                self.vb.addItem(t)
            self._labels.append(label)
            self._notes.append(note)
        self._footer.setFont(self._font(2.8))
        self._footer.setPos(page.pulse_x - 1.5, 2.5)
        # pans stop a page's size past its edges: the longer side, so a tall narrow view still fits it whole
        m = max(page.width, page.height)
        self.vb.setLimits(xMin=-m, xMax=page.width + m, yMin=-m, yMax=page.height + m)
        self._update_grid_visibility()

    def _update_traces(self) -> None:
        rec, page, opts = self._rec, self.page, self._options
        assert rec is not None and page is not None and self._source is not None
        self.traces = page_traces(page, self._source, opts.filter)
        self._draw_traces()
        by_panel = {id(t.panel): t for t in self.traces}
        for p, note in zip(page.panels, self._notes, strict=True):
            trace = by_panel.get(id(p))
            if trace is None or trace.y.size == 0:
                note.setText("" if trace is None else "no data here")
            elif not np.isfinite(trace.y).any():
                note.setText("signal missing")
            elif np.nanmax(trace.mv) - np.nanmin(trace.mv) < FLAT_MV:
                note.setText("flat line")
            else:
                note.setText("")
        self._footer.set_caption(self.footer_text(), page.width - self._footer.pos().x() - CAPTION_END_MM)

    def _mm_per_device_px(self) -> float:
        (x0, x1), _ = self.vb.viewRange()
        w = self.vb.width() * self.devicePixelRatioF()
        return (x1 - x0) / w if w > 0 and x1 > x0 else 0.0

    def _draw_traces(self) -> None:
        """Each panel's curve, peak-decimated to the device pixels it covers now."""
        step = self._mm_per_device_px()
        self._drawn_step = step
        by_panel = {id(t.panel): t for t in self.traces}
        assert self.page is not None
        for p, item in zip(self.page.panels, self._trace_items, strict=True):
            trace = by_panel.get(id(p))
            if trace is None or trace.y.size == 0:
                item.setData([], [])
                continue
            x, y = peak_decimate(trace.x, trace.y, step)
            if np.isfinite(y).all():
                item.setData(x, y, connect="all", skipFiniteCheck=True)
            else:
                item.setData(x, y, connect="finite")
        self._place_labels()

    def _place_labels(self) -> None:
        """Each lead's label clear of its trace (``layout.label_position``), at the size on paper
        its font has at this zoom (the label is drawn in screen pixels)."""
        page = self.page
        assert page is not None
        mm_per_px = self.mm_per_px()
        drawn = {id(t.panel): (t.x, t.y) for t in self.traces}
        for p, label, note in zip(page.panels, self._labels, self._notes, strict=True):
            r = label.boundingRect()
            x, y = label_position(page, p, (r.width() * mm_per_px, r.height() * mm_per_px), drawn.get(id(p)))
            label.setPos(x, y)
            note.setPos(x, y - 1.3 * LABEL_MM)
        self.labelsPlaced.emit()

    def mm_per_px(self) -> float:
        """Paper millimetres per logical pixel at the current zoom (0 before the view has a size)."""
        (x0, x1), _ = self.vb.viewRange()
        return (x1 - x0) / self.vb.width() if self.vb.width() > 0 and x1 > x0 else 0.0

    def label_boxes(self) -> list[QtCore.QRectF]:
        """Each lead label's box on the paper (mm, y up), at its size at the current zoom."""
        k = self.mm_per_px()
        out = []
        for label in self._labels:
            r, pos = label.boundingRect(), label.pos()
            out.append(QtCore.QRectF(pos.x(), pos.y() - r.height() * k, r.width() * k, r.height() * k))
        return out

    def _redraw_if_rescaled(self, *_args: object) -> None:
        """A zoom changes how many samples share a pixel: decimate again (a pan does not)."""
        step = self._mm_per_device_px()
        if self.page is not None and self.traces and abs(step - self._drawn_step) > 0.1 * step:
            self._draw_traces()

    def footer_text(self) -> str:
        """Speed, gain, filter and time window, as printed at the bottom of the page."""
        if self._rec is None or self.page is None:
            return ""
        return page_caption(self._options, self._rec, self.page)

    def _apply_theme(self) -> None:
        theme = THEMES[self._options.theme]
        self.setBackground(theme.desk)
        self._sheet.set_colors(theme.paper, theme.minor, theme.major)
        self._pulses.setPen(pg.mkPen(theme.ink, width=1))
        self._ticks.setPen(pg.mkPen(theme.ink, width=1))
        self._footer.setColor(theme.text)
        self._static_key = None

    # -- scale ---------------------------------------------------------------------------
    def set_zoom(self, zoom: float, anchor: tuple[float, float] | None = None) -> None:
        """Magnify the paper (1 = true scale), keeping ``anchor`` (top-left mm) in place; the
        magnification is then kept through resizes and new pages."""
        self._auto = False
        self._apply_zoom(zoom, anchor)

    def _apply_zoom(self, zoom: float, anchor: tuple[float, float] | None = None) -> None:
        w, h = self.vb.width(), self.vb.height()
        if w <= 0 or h <= 0:
            self._zoom = zoom
            return
        scale = self._px_per_mm * zoom
        if anchor is None:
            (x0, _), (_, y1) = self.vb.viewRange()
            anchor = (x0, y1)
        x0, y1 = anchor
        self._zoom = zoom
        self.vb.setRange(xRange=(x0, x0 + w / scale), yRange=(y1 - h / scale, y1), padding=0)
        self.zoomChanged.emit(zoom)

    def true_scale(self) -> None:
        """Zoom 1, the paper's top-left corner in view, kept however small the view."""
        self._auto = False
        self._zoom = 1.0
        self.show_top_left()

    def auto_scale(self) -> None:
        """True scale when the page fits the view, else the whole page fitted (the start)."""
        self._auto = True
        self._keep_scale()

    @property
    def fitted(self) -> bool:
        """The page is shown smaller than true scale because it does not fit the view."""
        return self._auto and self._zoom < 1.0 - 1e-6

    def show_top_left(self) -> None:
        """The paper's top-left corner in view, at the current zoom."""
        self._apply_zoom(self._zoom, self._top_left())

    def _top_left(self) -> tuple[float, float]:
        return (-2.0, self.page.height + 2.0 if self.page else 0.0)

    def fit_zoom(self) -> float | None:
        """The magnification that shows the whole page (None before there is a page and a view)."""
        if self.page is None or self.vb.width() <= 0 or self.vb.height() <= 0:
            return None
        fit = min(self.vb.width() / (self.page.width + 4), self.vb.height() / (self.page.height + 4))
        return fit / self._px_per_mm

    def fit_page(self) -> None:
        """Whole page in view (the zoom factor is shown: this is not true scale)."""
        if (zoom := self.fit_zoom()) is not None:
            self.set_zoom(zoom, self._top_left())

    def _keep_scale(self) -> None:
        fit = self.fit_zoom() if self._auto else None
        if fit is None:
            self._apply_zoom(self._zoom)
        else:
            self._apply_zoom(min(1.0, fit), self._top_left())

    def _user_zoomed(self) -> None:
        """Mouse wheel or drag: read the new magnification back from the view (a pan keeps it)."""
        (x0, x1), _ = self.vb.viewRange()
        w = self.vb.width()
        if w > 0 and x1 > x0:
            zoom = w / (x1 - x0) / self._px_per_mm
            self._auto = self._auto and abs(zoom - self._zoom) < 1e-6 * self._zoom
            self._zoom = zoom
            self.zoomChanged.emit(self._zoom)

    def _update_grid_visibility(self, *_args: object) -> None:
        self._sheet.set_show_minor(self._px_per_mm * self._zoom >= MIN_MINOR_PX)

    def paintEvent(self, event: QtGui.QPaintEvent) -> None:
        super().paintEvent(event)
        self.painted.emit()

    # -- pointer -------------------------------------------------------------------------
    def panel_at(self, x: float, y: float) -> PanelTrace | None:
        if self.page is None:
            return None
        half = self.page.row_pitch / 2
        for trace in self.traces:
            p = trace.panel
            if p.x <= x < p.x + p.width and abs(y - p.y) <= half:
                return trace
        return None

    def hover_at(self, x: float, y: float) -> HoverInfo | None:
        """Lead, time and value under the paper point (x, y) mm."""
        trace = self.panel_at(x, y)
        if trace is None or self._rec is None:
            return None
        p = trace.panel
        t = p.t0 + (x - p.x) / self._options.speed
        i = round(t * self._rec.fs) - trace.start
        mv = float(p.sign * trace.mv[i]) if 0 <= i < trace.mv.size else float("nan")
        return HoverInfo(p.label, t, mv, p.lead)

    def _mouse_moved(self, pos: QtCore.QPointF) -> None:
        pt = self.vb.mapSceneToView(pos)
        self.hovered.emit(self.hover_at(pt.x(), pt.y()))

    def _mouse_clicked(self, event) -> None:
        if event.button() != QtCore.Qt.MouseButton.LeftButton or event.double():
            return
        pt = self.vb.mapSceneToView(event.scenePos())
        info = self.hover_at(pt.x(), pt.y())
        if info is not None:
            self.clicked.emit(info)
