"""The file's own annotations (EDF+ notes, device events) on the paper: a dashed tick at each onset
hanging from the top of the lead's band, its text (and duration, if any) beside it where it does not
overlap the previous text of the row nor a lead's label, wherever the paper moved that label to
clear its trace (dense marks, such as LUDB's wave boundaries, keep every tick).

Ticks are one curve item per page (a page rebuild costs one ``setData``); texts are labels for the
annotations on the page only, and at most ``MAX_LABELS`` of them, so a file with thousands of
notes pans as fast as one with none.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui

from ecgviewer.gui.paper import LABEL_MM, PaperView
from ecgviewer.recording import Annotation

COLOUR = "#2060c0"
MAX_LABELS = 60
TEXT_MM = 2.2
TICK_MM = 4.0  # the mark hangs from the top of the lead's band: the trace stays readable


class AnnotationLayer(QtCore.QObject):
    """Keeps the annotation marks in step with the page on ``paper``."""

    def __init__(self, paper: PaperView) -> None:
        super().__init__(paper)
        self.paper = paper
        self.annotations: list[Annotation] = []
        self._onsets = np.zeros(0)
        pen = pg.mkPen(COLOUR, width=1, style=QtCore.Qt.PenStyle.DashLine)
        self._lines = pg.PlotCurveItem(connect="pairs", pen=pen)
        self._lines.setZValue(3)
        paper.vb.addItem(self._lines)
        self._labels: list[pg.TextItem] = []
        self._drawn = False
        self._placed: tuple = ()  # the page and lead labels the texts were placed around
        paper.refreshed.connect(self.refresh)
        paper.labelsPlaced.connect(self.refresh)  # a zoom moves the labels and resizes the texts

    def set_annotations(self, annotations: list[Annotation]) -> None:
        self.annotations = sorted(annotations, key=lambda a: a.onset)
        self._onsets = np.array([a.onset for a in self.annotations], dtype=float)
        self._placed = ()
        self.refresh()

    def labels(self) -> list[str]:
        """The texts on the page, as shown (for tests and screen readers)."""
        return [item.toPlainText() for item in self._labels]

    def refresh(self) -> None:
        if not self.annotations and not self._drawn and not self._labels:
            return  # most files: nothing to draw, nothing to clear
        page, leads = self.paper.page, self.paper.label_boxes()  # where each lead's label sits now
        placed = (page, [(b.x(), b.y(), b.width(), b.height()) for b in leads])
        if page is not None and self._placed and self._placed[0] is page and self._placed[1] == placed[1]:
            return  # the page was rebuilt and its labels placed: one pass for both signals
        self._placed = placed
        for item in self._labels:
            self.paper.vb.removeItem(item)
        self._labels = []
        if page is None or not self.annotations:
            if self._drawn:  # clear once; an empty layer costs the page nothing on later rebuilds
                self._lines.setData([], [])
                self._drawn = False
            return
        top = page.row_pitch / 2
        xs: list[float] = []
        ys: list[float] = []
        free: dict[int, float] = {}  # per row, where the next text may start without overlapping
        for p in page.panels:
            if not p.available:
                continue
            # the lead's own label sits at the panel's top left: texts start after it
            free[p.row] = max(free.get(p.row, -np.inf), p.x + 1.0 + self._width(p.label, LABEL_MM))
            first, last = np.searchsorted(self._onsets, [p.t0, p.t1])
            for k in range(first, last):
                x = p.x + (self._onsets[k] - p.t0) * page.speed
                xs += [x, x]
                ys += [p.y + top - TICK_MM, p.y + top]
                if x < free.get(p.row, -np.inf) or len(self._labels) >= MAX_LABELS:
                    continue
                width = self._add_label(self.annotations[k], x, p.y + top - 0.4, leads)
                if width is not None:
                    free[p.row] = x + width
        self._lines.setData(np.array(xs, dtype=float), np.array(ys, dtype=float))
        self._drawn = True

    def _add_label(self, a: Annotation, x: float, y: float, leads: list[QtCore.QRectF]) -> float | None:
        """Put ``a``'s text right of ``x`` unless it would cover a lead's label (``leads``); returns
        its width in paper mm at the current zoom (and a gap), or None."""
        text = a.text if not a.duration else f"{a.text} ({a.duration:g} s)"
        item = pg.TextItem(text, color=COLOUR, anchor=(0, 0))
        font = item.textItem.font()
        font.setPixelSize(max(9, round(TEXT_MM * self.paper.px_per_mm)))
        item.setFont(font)
        item.setPos(x + 0.4, y)
        item.setZValue(6)
        r, k = item.boundingRect(), self._mm_per_px()  # drawn in screen pixels: its mm follow the zoom
        box = QtCore.QRectF(x + 0.4, y - r.height() * k, r.width() * k, r.height() * k)
        if any(box.intersects(lead) for lead in leads):
            return None
        self.paper.vb.addItem(item)
        self._labels.append(item)
        return 0.4 + box.width() + 0.4

    def _width(self, text: str, mm: float) -> float:
        """Paper mm a text of ``mm`` high at true scale takes at the current zoom (text is drawn in
        screen pixels), with a small gap after it."""
        font = QtGui.QFont()
        font.setPixelSize(max(9, round(mm * self.paper.px_per_mm)))
        return (QtGui.QFontMetricsF(font).horizontalAdvance(text) + 6) * self._mm_per_px()

    def _mm_per_px(self) -> float:
        """Paper mm a screen pixel covers now (true scale before the view has a size)."""
        return self.paper.mm_per_px() or 1.0 / self.paper.px_per_mm
