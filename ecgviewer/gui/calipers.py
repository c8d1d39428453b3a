"""Calipers: two time lines and two amplitude lines spanning every lead, with march-out.

Positions are paper millimetres, so an interval is distance / speed and an amplitude is
distance / gain, exactly as with dividers on a paper ECG.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyqtgraph as pg
from PySide6 import QtCore

from ecgviewer.gui.paper import PaperView
from ecgviewer.render.options import THEMES

MAX_MARCH = 80


@dataclass(frozen=True)
class Reading:
    interval_ms: float
    rate_bpm: float | None
    amplitude_mv: float

    def text(self) -> str:
        rate = f"{self.rate_bpm:.0f} bpm" if self.rate_bpm else "- bpm"
        return f"\u0394t {self.interval_ms:.0f} ms  {rate}  \u0394V {self.amplitude_mv:.2f} mV"


def reading(dx_mm: float, dy_mm: float, speed: float, gain: float) -> Reading:
    """Interval (ms), the rate it implies (bpm) and amplitude (mV) from caliper spans in mm."""
    ms = abs(dx_mm) / speed * 1000.0
    return Reading(ms, 60000.0 / ms if ms > 0 else None, abs(dy_mm) / gain)


class Calipers(QtCore.QObject):
    changed = QtCore.Signal(str)

    def __init__(self, view: PaperView) -> None:
        super().__init__(view)
        self.view = view
        self.enabled = False
        self.march_out = True
        self.t1 = pg.InfiniteLine(angle=90, movable=True)
        self.t2 = pg.InfiniteLine(angle=90, movable=True)
        self.v1 = pg.InfiniteLine(angle=0, movable=True)
        self.v2 = pg.InfiniteLine(angle=0, movable=True)
        self.label = pg.TextItem(anchor=(0, 1))
        self._march: list[pg.InfiniteLine] = []
        for line in self.lines:
            line.setZValue(20)
            line.sigPositionChanged.connect(self._update)
        self.label.setZValue(21)
        self.set_theme()

    @property
    def lines(self) -> tuple[pg.InfiniteLine, ...]:
        return (self.t1, self.t2, self.v1, self.v2)

    def set_theme(self) -> None:
        color = THEMES[self.view.options.theme].marks
        for line in self.lines:
            line.setPen(pg.mkPen(color, width=1))
            line.setHoverPen(pg.mkPen(color, width=3))
        for line in self._march:
            line.setPen(self._march_pen())
        self.label.setColor(color)

    def _march_pen(self):
        color = THEMES[self.view.options.theme].marks
        return pg.mkPen(color, width=1, style=QtCore.Qt.PenStyle.DashLine)

    def set_enabled(self, on: bool) -> None:
        if on == self.enabled:
            return
        self.enabled = on
        vb = self.view.vb
        if on:
            (x0, x1), (y0, y1) = vb.viewRange()
            xc, yc = (x0 + x1) / 2, (y0 + y1) / 2
            span = 0.8 * self.view.options.speed  # 800 ms apart to start with
            self.t1.setValue(xc - span / 2)
            self.t2.setValue(xc + span / 2)
            self.v1.setValue(yc)
            self.v2.setValue(yc + self.view.options.gain)  # 1 mV apart
            for item in (*self.lines, self.label):
                vb.addItem(item)
            self._update()
        else:
            for item in (*self.lines, self.label, *self._march):
                vb.removeItem(item)
            self._march = []
            self.changed.emit("")

    def reading(self) -> Reading:
        o = self.view.options
        return reading(self.t2.value() - self.t1.value(), self.v2.value() - self.v1.value(), o.speed, o.gain)

    def _update(self) -> None:
        if not self.enabled:
            return
        r = self.reading()
        a, b = sorted((self.t1.value(), self.t2.value()))
        self.label.setText(r.text())
        self._place_readout(a, b)
        self._update_march(a, b)
        self.changed.emit(r.text())

    def _place_readout(self, a: float, b: float) -> None:
        """The readout beside the calipers where it covers no lead label: above right of them,
        else below right, above left, below left (the first that is clear; else the first)."""
        top, bottom = (max(self.v1.value(), self.v2.value()), min(self.v1.value(), self.v2.value()))
        k = self.view.mm_per_px()
        r = self.label.boundingRect()
        w, h = r.width() * k, r.height() * k
        # (anchor, position, the box it covers: left, bottom, width, height in mm, y up)
        places = [
            ((0, 1), (b + 1.0, top + 1.0), (b + 1.0, top + 1.0)),
            ((0, 0), (b + 1.0, bottom - 1.0), (b + 1.0, bottom - 1.0 - h)),
            ((1, 1), (a - 1.0, top + 1.0), (a - 1.0 - w, top + 1.0)),
            ((1, 0), (a - 1.0, bottom - 1.0), (a - 1.0 - w, bottom - 1.0 - h)),
        ]
        labels = self.view.label_boxes()
        clear = [p for p in places if not any(QtCore.QRectF(*p[2], w, h).intersects(box) for box in labels)]
        anchor, pos, _ = (clear or places)[0]
        self.label.setAnchor(anchor)
        self.label.setPos(*pos)

    def readout_box(self) -> QtCore.QRectF:
        """The readout's box on the paper (mm, y up), for the tests."""
        k = self.view.mm_per_px()
        r, pos, (ax, ay) = self.label.boundingRect(), self.label.pos(), self.label.anchor
        w, h = r.width() * k, r.height() * k
        return QtCore.QRectF(pos.x() - ax * w, pos.y() - (1 - ay) * h, w, h)

    def _update_march(self, a: float, b: float) -> None:
        """Dashed repeats of the interval across the page (march-out)."""
        page = self.view.page
        step = b - a
        xs: list[float] = []
        if self.march_out and page is not None and step > 0.5:
            k = 1
            while len(xs) < MAX_MARCH and (b + k * step <= page.width or a - k * step >= 0):
                xs += [x for x in (b + k * step, a - k * step) if 0 <= x <= page.width]
                k += 1
        while len(self._march) < len(xs):
            line = pg.InfiniteLine(angle=90, movable=False, pen=self._march_pen())
            line.setZValue(19)
            self.view.vb.addItem(line)
            self._march.append(line)
        while len(self._march) > len(xs):
            self.view.vb.removeItem(self._march.pop())
        for line, x in zip(self._march, xs, strict=True):
            line.setValue(x)
