"""Overview strip for recordings longer than a page: the whole record's envelope, the heart-rate
trend of the beat list on its own labelled axis, the page shown as a draggable region (drag it,
or click anywhere to jump there)."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore

from ecgviewer.render.options import Theme
from ecgviewer.summary import clock


class TimeAxis(pg.AxisItem):
    """Ticks as h:mm:ss (or m:ss)."""

    def tickStrings(self, values, scale, spacing):
        return [clock(v) for v in values]


class Overview(pg.PlotWidget):
    pageRequested = QtCore.Signal(float)  # page start (s)

    def __init__(self, parent=None) -> None:
        super().__init__(parent, axisItems={"bottom": TimeAxis("bottom")})
        self.setFixedHeight(80)
        self.hideAxis("left")
        self.setMenuEnabled(False)
        self.setMouseEnabled(x=False, y=False)
        self.hideButtons()
        self._env = pg.PlotCurveItem(connect="pairs")
        self.addItem(self._env)
        self._region = pg.LinearRegionItem(brush=(0, 120, 220, 60), movable=False)
        self._region.setZValue(10)
        for line in self._region.lines:
            line.setMovable(False)
        self.addItem(self._region)
        # A 10 s page is a sliver of a 24 h record: this line marks (and drags) it at any zoom.
        self._marker = pg.InfiniteLine(
            angle=90,
            movable=True,
            pen=pg.mkPen((0, 110, 220), width=3),
            hoverPen=pg.mkPen((0, 150, 255), width=5),
        )
        self._marker.setZValue(11)
        self.addItem(self._marker)
        self._marker.sigDragged.connect(self._dragged)
        self._duration = 0.0
        self._page = 10.0
        # The heart-rate trend: its own view box over the same time axis, its scale on the right.
        self.rate = pg.ViewBox(enableMouse=False)
        self.rate.setZValue(5)  # over the envelope, under the page marker
        self.plotItem.scene().addItem(self.rate)
        self.plotItem.getAxis("right").linkToView(self.rate)
        self.rate.setXLink(self.plotItem.vb)
        self.plotItem.vb.sigResized.connect(
            lambda: self.rate.setGeometry(self.plotItem.vb.sceneBoundingRect())
        )
        self._trend = pg.PlotCurveItem(connect="finite")
        self.rate.addItem(self._trend)

    def set_theme(self, theme: Theme) -> None:
        self.setBackground(theme.paper)
        ink = pg.mkColor(theme.ink)
        ink.setAlpha(110)  # the envelope recedes behind the trend, still showing where the signal is
        self._env.setPen(pg.mkPen(ink, width=1))
        self._trend.setPen(pg.mkPen(theme.marks, width=2))  # the calipers' colour, apart from the trace
        for side in ("bottom", "right"):
            axis = self.getAxis(side)
            axis.setPen(theme.text)
            axis.setTextPen(theme.text)

    def set_trend(self, t: np.ndarray | None, bpm: np.ndarray | None) -> None:
        """The heart rate over the recording (None: none), on the right-hand axis in bpm."""
        if t is None or bpm is None or not np.isfinite(bpm).any():
            self._trend.setData([], [])
            self.hideAxis("right")
            return
        self._trend.setData(t, bpm)
        lo, hi = float(np.nanmin(bpm)), float(np.nanmax(bpm))
        self.rate.setYRange(max(0.0, lo - 10), hi + 10, padding=0)
        self.showAxis("right")
        self.getAxis("right").setLabel("HR", units="bpm")

    def set_recording(self, duration: float, page: float) -> None:
        self._duration, self._page = duration, page
        self._env.setData([], [])
        self.set_trend(None, None)
        self.setXRange(0, max(duration, 1e-3), padding=0.01)
        self._marker.setBounds((0, duration))
        self.set_page(0.0, page)

    def set_envelope(self, lo: np.ndarray, hi: np.ndarray, seconds_per_bin: float) -> None:
        t = (np.arange(lo.size) + 0.5) * seconds_per_bin
        ok = np.isfinite(lo) & np.isfinite(hi)
        x = np.repeat(t[ok], 2)
        y = np.column_stack([lo[ok], hi[ok]]).ravel()
        self._env.setData(x, y)
        if y.size:
            lo_y, hi_y = np.percentile(y, [0.5, 99.5])
            self.setYRange(float(lo_y), float(hi_y), padding=0.05)

    def set_page(self, t0: float, page: float) -> None:
        self._page = page
        self._region.setRegion((t0, min(self._duration, t0 + page)))
        self._marker.setValue(t0 + page / 2)

    def page_region(self) -> tuple[float, float]:
        return tuple(self._region.getRegion())

    def _dragged(self) -> None:
        self.pageRequested.emit(max(0.0, float(self._marker.value()) - self._page / 2))

    def mousePressEvent(self, ev) -> None:
        """A click away from the page marker (over 4 px) centres the page there."""
        vb = self.plotItem.vb
        click = self.mapToScene(ev.position().toPoint())
        marker_x = vb.mapViewToScene(QtCore.QPointF(self._marker.value(), 0.0)).x()
        if ev.button() == QtCore.Qt.MouseButton.LeftButton and abs(click.x() - marker_x) > 4:
            self.pageRequested.emit(max(0.0, vb.mapSceneToView(click).x() - self._page / 2))
            ev.accept()
            return
        super().mousePressEvent(ev)
