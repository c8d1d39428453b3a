"""Overview strip for recordings longer than a page: the whole record's envelope, the page
shown as a draggable region (drag it, or click anywhere to jump there)."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore

from ecgviewer.render.options import Theme


class TimeAxis(pg.AxisItem):
    """Ticks as h:mm:ss (or m:ss)."""

    def tickStrings(self, values, scale, spacing):
        out = []
        for v in values:
            h, rem = divmod(max(0.0, v), 3600)
            m, s = divmod(rem, 60)
            out.append(f"{int(h)}:{int(m):02d}:{int(s):02d}" if h else f"{int(m)}:{s:04.1f}")
        return out


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
        self._region = pg.LinearRegionItem(brush=(0, 120, 220, 60), movable=True)
        self._region.setZValue(10)
        for line in self._region.lines:
            line.setMovable(False)  # drag the page, not its edges: its width is the page
        self.addItem(self._region)
        self._region.sigRegionChanged.connect(self._dragged)
        self._duration = 0.0
        self._page = 10.0
        self._updating = False

    def set_theme(self, theme: Theme) -> None:
        self.setBackground(theme.paper)
        self._env.setPen(pg.mkPen(theme.ink, width=1))
        for side in ("bottom",):
            self.getAxis(side).setPen(theme.text)
            self.getAxis(side).setTextPen(theme.text)

    def set_recording(self, duration: float, page: float) -> None:
        self._duration, self._page = duration, page
        self._env.setData([], [])
        self.setXRange(0, max(duration, 1e-3), padding=0.01)
        self._region.setBounds((0, duration))
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
        self._updating = True
        self._region.setRegion((t0, min(self._duration, t0 + page)))
        self._updating = False

    def _dragged(self) -> None:
        if not self._updating:
            self.pageRequested.emit(float(self._region.getRegion()[0]))

    def mousePressEvent(self, ev) -> None:
        if ev.button() == QtCore.Qt.MouseButton.LeftButton:
            x = self.plotItem.vb.mapSceneToView(self.mapToScene(ev.position().toPoint())).x()
            if not (self._region.getRegion()[0] <= x <= self._region.getRegion()[1]):
                self.pageRequested.emit(max(0.0, x - self._page / 2))
                ev.accept()
                return
        super().mousePressEvent(ev)
