"""The stretches of the open recording that were not read, greyed on the paper across each lead's
band with why: the 10 s measurement's stretches too noisy to read and the beat list's unreadable
ones. The panel and the beat list say so in words; on the paper a trace drawn through noise would
otherwise look like beats that were counted.

Each source's stretches are kept with the recording they were read from and drawn only while that
recording is on the paper, so a result that arrives for, or outlives, another ECG never greys this
one. A page holds few stretches: one rectangle item per panel they cross.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from ecgviewer.gui.paper import PaperView
from ecgviewer.recording import Recording
from ecgviewer.render.options import THEMES

FILL = (128, 128, 128, 60)  # grey on light and dark paper alike, the trace readable through it
TEXT_MM = 2.2
Stretch = tuple[float, float, str]  # start and end (s of the recording), what was not read


class UnreadLayer(QtCore.QObject):
    """Keeps the grey stretches in step with the page on ``paper``; sources (``"measurement"``,
    ``"beats"``) are set apart and drawn together."""

    def __init__(self, paper: PaperView) -> None:
        super().__init__(paper)
        self.paper = paper
        self._by: dict[str, tuple[Recording, list[Stretch]]] = {}
        self._items: list[QtWidgets.QGraphicsItem] = []
        paper.refreshed.connect(self.refresh)

    def set_stretches(self, source: str, rec: Recording | None, stretches: Sequence[Stretch]) -> None:
        """``source``'s stretches of ``rec`` (none, or no recording: that source clears)."""
        if rec is None or not stretches:
            self._by.pop(source, None)
        else:
            self._by[source] = (rec, sorted(stretches))
        self.refresh()

    def stretches(self) -> list[Stretch]:
        """What is greyed for the recording on the paper (whichever page is shown)."""
        rec = self.paper.recording
        return sorted(s for r, mine in self._by.values() if r is rec for s in mine)

    def merged(self) -> list[Stretch]:
        """The stretches as drawn: those that overlap (the measurement's and the beat list's over the
        same noise) as one, named as the first of them is, so the grey never doubles."""
        out: list[Stretch] = []
        for a, b, why in self.stretches():
            if out and a <= out[-1][1]:
                out[-1] = (out[-1][0], max(out[-1][1], b), out[-1][2])
            else:
                out.append((a, b, why))
        return out

    def shown(self) -> list[tuple[QtCore.QRectF, str]]:
        """The grey rectangles on the page (paper mm) and the text beside each, "" where none fits."""
        boxes = (item for item in self._items if isinstance(item, QtWidgets.QGraphicsRectItem))
        return [(box.rect(), box.data(0) or "") for box in boxes]

    def refresh(self) -> None:
        for item in self._items:
            self.paper.vb.removeItem(item)
        self._items = []
        page, stretches = self.paper.page, self.merged()
        if page is None or not stretches:
            return
        half = page.row_pitch / 2
        theme = THEMES[self.paper.options.theme]
        fill = QtGui.QColor(theme.paper)
        fill.setAlpha(210)
        said: set[tuple[int, float]] = set()  # (row, stretch start): named once a row, at its first grey
        for p in sorted(page.panels, key=lambda p: (p.row, p.x)):
            if not p.available:
                continue
            for a, b, why in stretches:
                lo, hi = max(a, p.t0), min(b, p.t1)
                if hi <= lo:
                    continue
                x0 = p.x + (lo - p.t0) * page.speed
                rect = QtCore.QRectF(x0, p.y - half, (hi - lo) * page.speed, 2 * half)
                box = QtWidgets.QGraphicsRectItem(rect)
                box.setBrush(pg.mkBrush(FILL))
                box.setPen(QtGui.QPen(QtCore.Qt.PenStyle.NoPen))
                box.setZValue(-5)  # above the grid and the beat shading, under the traces
                box.setToolTip(f"{a:.1f}\u2013{b:.1f} s: {why}")
                text = why if (p.row, a) not in said and self._fits(why, rect.width()) else ""
                if text:
                    said.add((p.row, a))
                box.setData(0, text)
                self.paper.vb.addItem(box)
                self._items.append(box)
                if text:  # at the band's top, at the grey's right end: clear of the lead's label at the left
                    label = pg.TextItem(text, color=theme.text, anchor=(1, 0), fill=fill)
                    label.setFont(self._font())
                    label.setPos(rect.right() - 0.4, p.y + half - 0.3)
                    label.setZValue(6)
                    self.paper.vb.addItem(label)
                    self._items.append(label)

    def _font(self) -> QtGui.QFont:
        font = QtGui.QFont()
        font.setPixelSize(max(9, round(TEXT_MM * self.paper.px_per_mm)))
        return font

    def _fits(self, text: str, width_mm: float) -> bool:
        width_px = QtGui.QFontMetricsF(self._font()).horizontalAdvance(text)
        return width_px / self.paper.px_per_mm + 0.8 <= width_mm
