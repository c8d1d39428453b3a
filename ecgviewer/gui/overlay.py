"""Beat shading on the ECG paper: each beat's time span tinted by a score (attribution or
attention), a strip of per-sample detail under it, highlights that follow the hierarchy tree,
and the colour legend that reads it.

Written as one hand-painted item (rather than one pyqtgraph item per beat) because a page
shows up to ~60 beats and panning rebuilds them all: a list of rectangles painted in one pass
costs well under a millisecond. The colour's opacity grows with the score's magnitude, so a
score near zero leaves the paper untouched on light and dark themes alike.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from ecgviewer.ml import contract
from ecgviewer.ml.placement import BeatScores
from ecgviewer.render.layout import Page
from ecgviewer.render.painting import colours, panel_fills, row_image

STRIP_MM = 2.0  # height of the per-sample strip at the edge of a lead's band
BAND_MM = 4.0  # the default shading: a band this tall at that edge, leaving the trace on clean paper
HIGHLIGHT = "#ff9f1c"


class BeatShading(pg.GraphicsObject):
    """The shading of the page on screen; rebuilt when the page, the scores or the opacity change."""

    def __init__(self) -> None:
        super().__init__()
        self.setZValue(-10)  # above the grid, under the traces
        self.scores: BeatScores | None = None
        self.opacity = 0.6
        self.band_mm: float | None = BAND_MM  # None: each beat's fill covers the lead's whole band
        self._page: Page | None = None
        self._rect = QtCore.QRectF()
        self._fills: list[tuple[QtCore.QRectF, QtGui.QColor]] = []
        self._strips: list[tuple[QtCore.QRectF, QtGui.QImage]] = []
        self._outlines: list[tuple[QtCore.QRectF, float]] = []  # rect, pen width (px)
        self._leads: frozenset[str] = frozenset()
        self._beat: int | None = None

    # -- inputs ----------------------------------------------------------------------------------
    def set_page(self, page: Page | None) -> None:
        self._page = page
        self._rebuild()

    def set_scores(self, scores: BeatScores | None) -> None:
        self.scores = scores
        self._beat = None
        self._rebuild()

    def set_opacity(self, opacity: float) -> None:
        self.opacity = float(np.clip(opacity, 0.0, 1.0))
        self._rebuild()

    def set_highlight(self, leads: frozenset[str] = frozenset(), beat: int | None = None) -> None:
        """Outline the bands of ``leads`` and the beat with index ``beat`` in ``scores`` (nothing:
        no outline)."""
        self._leads, self._beat = leads, beat
        self._rebuild()

    @property
    def highlight(self) -> tuple[frozenset[str], int | None] | None:
        """What is outlined (the leads and the beat), None when nothing is."""
        return (self._leads, self._beat) if self._leads or self._beat is not None else None

    # -- geometry --------------------------------------------------------------------------------
    def _rebuild(self) -> None:
        self.prepareGeometryChange()
        self._fills, self._strips, self._outlines = [], [], []
        page, s = self._page, self.scores
        self._rect = QtCore.QRectF(0, 0, page.width, page.height) if page else QtCore.QRectF()
        if page is None:
            self.update()
            return
        half = page.row_pitch / 2
        for p in page.panels:
            if not p.available:
                continue
            band = (p.y - half, p.y + half)
            if p.lead in self._leads:
                self._outlines.append((QtCore.QRectF(p.x, band[0], p.width, 2 * half), 2.0))
            if s is None:
                continue
            mine, fills = panel_fills(page, p, s, self.opacity)
            for k, rect, colour in fills:
                shaded = (
                    rect
                    if self.band_mm is None
                    else QtCore.QRectF(rect.x(), rect.y(), rect.width(), self.band_mm)
                )
                self._fills.append((shaded, colour))
                if k == self._beat:
                    self._outlines.append((rect, 3.0))  # the chosen beat: its whole band
            if s.samples is not None and mine.size:
                self._strips.append(self._strip(p, page, mine, band[0]))
        self.update()

    def _strip(self, p, page: Page, beats: np.ndarray, y0: float) -> tuple[QtCore.QRectF, QtGui.QImage]:
        """One image row at the model's 100 Hz across the panel: each beat's sample scores."""
        s = self.scores
        assert s is not None and s.samples is not None
        n = max(1, int(np.ceil((p.t1 - p.t0) * contract.FS)))
        rgba = np.zeros((n, 4), dtype=np.uint8)
        t = s.sample_times(beats)
        inside = (t >= s.start_s[beats, None]) & (t < s.stop_s[beats, None]) & (t >= p.t0) & (t < p.t1)
        col = np.floor((t[inside] - p.t0) * contract.FS).astype(int).clip(0, n - 1)
        rgba[col] = colours(s.samples[beats][inside], s.sample_limit, s.signed, 1.0)
        return QtCore.QRectF(p.x, y0, n / contract.FS * page.speed, STRIP_MM), row_image(rgba)

    # -- painting --------------------------------------------------------------------------------
    def boundingRect(self) -> QtCore.QRectF:
        return self._rect

    def paint(self, painter: QtGui.QPainter, *_args: object) -> None:
        painter.setPen(QtCore.Qt.PenStyle.NoPen)
        for rect, colour in self._fills:
            painter.fillRect(rect, colour)
        for rect, image in self._strips:
            painter.drawImage(rect, image)
        painter.setBrush(QtCore.Qt.BrushStyle.NoBrush)
        for rect, width in self._outlines:
            pen = pg.mkPen(HIGHLIGHT, width=width)
            pen.setCosmetic(True)
            painter.setPen(pen)
            painter.drawRect(rect)


class Legend(QtWidgets.QWidget):
    """The colour bar of the shading: the map from -limit to +limit (or 0 to limit) with its
    numbers and what the colour means."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumHeight(44)
        self.scores: BeatScores | None = None
        self.opacity = 0.6

    def set_scores(self, scores: BeatScores | None, opacity: float) -> None:
        self.scores, self.opacity = scores, opacity
        self.setToolTip(scores.label if scores else "")
        self.update()

    def text(self) -> str:
        """The legend's words and numbers (what is painted, for tests and screen readers)."""
        s = self.scores
        if s is None:
            return ""
        lo = f"{-s.limit:+.3g} lowers" if s.signed else "0"
        text = f"{s.label} per beat: {lo} \u2026 {s.limit:+.3g}{' raises' if s.signed else ''}"
        if s.samples is not None:
            text += f"; strip under each lead: per sample, \u00b1{s.sample_limit:.2g} (99th percentile)"
        return text

    def paintEvent(self, _event: QtGui.QPaintEvent) -> None:
        s = self.scores
        if s is None:
            return
        painter = QtGui.QPainter(self)
        w = self.width()
        bar = QtCore.QRect(0, 0, w, 14)
        painter.fillRect(bar, QtGui.QColor("#ffffff"))
        ramp = np.linspace(-s.limit if s.signed else 0.0, s.limit, max(2, w))
        painter.drawImage(bar, row_image(colours(ramp, s.limit, s.signed, self.opacity)))
        painter.setPen(self.palette().color(QtGui.QPalette.ColorRole.WindowText))
        painter.drawRect(bar.adjusted(0, 0, -1, -1))
        painter.drawText(QtCore.QRect(0, 16, w, 28), QtCore.Qt.TextFlag.TextWordWrap, self.text())
        painter.end()
