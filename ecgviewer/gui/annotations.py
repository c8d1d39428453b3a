"""The file's own annotations (EDF+ notes, device events) on the paper: a dashed line at each onset
across the lead's band, its text (and duration, if any) at the top of the band.

Lines are one curve item per page (a page rebuild costs one ``setData``); texts are labels for the
annotations on the page only, and at most ``MAX_LABELS`` of them, so a file with thousands of
notes pans as fast as one with none.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore

from ecgviewer.gui.paper import PaperView
from ecgviewer.recording import Annotation

COLOUR = "#2060c0"
MAX_LABELS = 60
TEXT_MM = 2.2


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
        paper.refreshed.connect(self.refresh)

    def set_annotations(self, annotations: list[Annotation]) -> None:
        self.annotations = sorted(annotations, key=lambda a: a.onset)
        self._onsets = np.array([a.onset for a in self.annotations], dtype=float)
        self.refresh()

    def labels(self) -> list[str]:
        """The texts on the page, as shown (for tests and screen readers)."""
        return [item.toPlainText() for item in self._labels]

    def refresh(self) -> None:
        for item in self._labels:
            self.paper.vb.removeItem(item)
        self._labels = []
        page = self.paper.page
        if page is None or not self.annotations:
            if self._drawn:  # clear once; an empty layer costs the page nothing on later rebuilds
                self._lines.setData([], [])
                self._drawn = False
            return
        half = page.row_pitch / 2
        xs: list[float] = []
        ys: list[float] = []
        labelled: set[tuple[int, int]] = set()  # (row, annotation): one text per row
        for p in page.panels:
            if not p.available:
                continue
            first, last = np.searchsorted(self._onsets, [p.t0, p.t1])
            for k in range(first, last):
                x = p.x + (self._onsets[k] - p.t0) * page.speed
                xs += [x, x]
                ys += [p.y - half, p.y + half]
                if (p.row, k) not in labelled and len(self._labels) < MAX_LABELS:
                    labelled.add((p.row, k))
                    self._add_label(self.annotations[k], x, p.y + half - 0.4)
        self._lines.setData(np.array(xs, dtype=float), np.array(ys, dtype=float))
        self._drawn = True

    def _add_label(self, a: Annotation, x: float, y: float) -> None:
        text = a.text if not a.duration else f"{a.text} ({a.duration:g} s)"
        item = pg.TextItem(text, color=COLOUR, anchor=(0, 0))
        font = item.textItem.font()
        font.setPixelSize(max(9, round(TEXT_MM * self.paper.px_per_mm)))
        item.setFont(font)
        item.setPos(x + 0.4, y)
        item.setZValue(6)
        self.paper.vb.addItem(item)
        self._labels.append(item)
