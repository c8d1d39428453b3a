"""Beat shading on the ECG paper: each beat's time span tinted by a score (attribution or
attention), a strip of per-sample detail under it, highlights that follow the hierarchy tree,
and the colour legend that reads it.

Written as one hand-painted item (rather than one pyqtgraph item per beat) because a page
shows up to ~60 beats and panning rebuilds them all: a list of rectangles painted in one pass
costs well under a millisecond. The colour's opacity grows with the score's magnitude, so a
score near zero leaves the paper untouched on light and dark themes alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from ecgviewer.ml import contract
from ecgviewer.render.layout import Page, Panel

DIVERGING = "CET-D1"  # blue (lowers) - white - red (raises); perceptually uniform (Kovesi 2015)
SEQUENTIAL = "CET-L8"  # attention: non-negative
STRIP_MM = 2.0  # height of the per-sample strip at the bottom of a lead's band
HIGHLIGHT = "#ff9f1c"


@dataclass(frozen=True)
class BeatScores:
    """One score per beat on the shown recording's time axis (seconds), and optionally one per
    sample (sample j of a beat sits at ``r_s + (j - 48) / 100`` s)."""

    lead: np.ndarray  # (N,) str
    window: np.ndarray  # (N,) the 10 s window and the beat slot (0-14) the beat came from
    beat: np.ndarray
    start_s: np.ndarray  # (N,)
    stop_s: np.ndarray
    r_s: np.ndarray
    score: np.ndarray
    samples: np.ndarray | None  # (N, 96) or None
    signed: bool  # diverging colours around 0; else 0..max
    label: str  # what the colour means, for the legend

    @cached_property
    def limit(self) -> float:
        """The colour scale's end: the largest magnitude (1 when everything is 0)."""
        m = float(np.max(np.abs(self.score))) if self.score.size else 0.0
        return m if m > 0 else 1.0

    @cached_property
    def sample_limit(self) -> float:
        """The strip's scale: the 99th percentile of |sample score| (IG concentrates on a few
        QRS samples; scaled to the maximum, the rest of the beat would be invisible)."""
        s = self.samples
        m = float(np.percentile(np.abs(s), 99)) if s is not None and s.size else 0.0
        return m if m > 0 else 1.0

    def at(self, lead: str, t: float) -> int | None:
        """The beat of ``lead`` whose span holds ``t`` seconds (the first window's, where the
        last window of a long record overlaps the one before)."""
        hit = np.flatnonzero((self.lead == lead) & (self.start_s <= t) & (t < self.stop_s))
        return int(hit[0]) if hit.size else None

    @cached_property
    def _where(self) -> dict[tuple[str, int, int], int]:
        keys = zip(self.lead.tolist(), self.window.tolist(), self.beat.tolist(), strict=True)
        return {key: k for k, key in enumerate(keys)}

    def find(self, lead: str, window: int, beat: int) -> int | None:
        """The index of a beat given by its lead, window and slot (as the tree names it)."""
        return self._where.get((lead, window, beat))


def beat_scores(
    tokens: contract.Tokens,
    beats: np.ndarray,
    samples: np.ndarray | None,
    offset_s: float,
    signed: bool,
    label: str,
) -> BeatScores:
    """Flatten (W, 12, 15) ``beats`` (and (W, 12, 15, 96) ``samples``) over the real beats."""
    w, i, j = np.nonzero(~tokens.pad)
    fs = tokens.source_fs
    return BeatScores(
        lead=np.asarray(contract.LEADS)[i],
        window=w,
        beat=j,
        start_s=tokens.spans[w, j, 0] / fs + offset_s,
        stop_s=tokens.spans[w, j, 1] / fs + offset_s,
        r_s=tokens.rpeaks[w, j] / fs + offset_s,
        score=np.asarray(beats, dtype=np.float64)[w, i, j],
        samples=None if samples is None else np.asarray(samples, dtype=np.float64)[w, i, j],
        signed=signed,
        label=label,
    )


def colours(values: np.ndarray, limit: float, signed: bool, opacity: float) -> np.ndarray:
    """(N, 4) uint8 RGBA: hue from the colour map, alpha = opacity x |value| / limit."""
    norm = np.clip(np.asarray(values, dtype=np.float64) / limit, -1.0, 1.0)
    cmap = pg.colormap.get(DIVERGING if signed else SEQUENTIAL)
    rgba = cmap.map((norm + 1) / 2 if signed else np.abs(norm), mode="byte").astype(np.uint8)
    rgba[:, 3] = np.round(255 * opacity * np.abs(norm)).astype(np.uint8)
    return rgba


def row_image(rgba: np.ndarray) -> QtGui.QImage:
    """A one-pixel-high image of (n, 4) RGBA colours (owning its pixels)."""
    row = np.ascontiguousarray(rgba, dtype=np.uint8)
    n = len(row)
    return QtGui.QImage(row.data, n, 1, 4 * n, QtGui.QImage.Format.Format_RGBA8888).copy()


def panel_fills(
    page: Page, p: Panel, s: BeatScores, opacity: float
) -> tuple[np.ndarray, list[tuple[int, QtCore.QRectF, QtGui.QColor]]]:
    """The beats of ``s`` on panel ``p`` (their indices) and, for each, its rectangle over the
    lead's band (paper mm, cut to the panel's seconds) in the colour of its score."""
    half = page.row_pitch / 2
    mine = np.flatnonzero((s.lead == p.lead) & (s.stop_s > p.t0) & (s.start_s < p.t1))
    fills = []
    for k, c in zip(mine, colours(s.score[mine], s.limit, s.signed, opacity), strict=True):
        a, b = max(s.start_s[k], p.t0), min(s.stop_s[k], p.t1)
        rect = QtCore.QRectF(p.x + (a - p.t0) * page.speed, p.y - half, (b - a) * page.speed, 2 * half)
        fills.append((int(k), rect, QtGui.QColor(*(int(v) for v in c))))
    return mine, fills


class BeatShading(pg.GraphicsObject):
    """The shading of the page on screen; rebuilt when the page, the scores or the opacity change."""

    def __init__(self) -> None:
        super().__init__()
        self.setZValue(-10)  # above the grid, under the traces
        self.scores: BeatScores | None = None
        self.opacity = 0.6
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
        """Outline the bands of ``leads`` and the beat with index ``beat`` in ``scores``."""
        self._leads, self._beat = leads, beat
        self._rebuild()

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
                self._fills.append((rect, colour))
                if k == self._beat:
                    self._outlines.append((rect, 3.0))
            if s.samples is not None and mine.size:
                self._strips.append(self._strip(p, page, mine, band[0]))
        self.update()

    def _strip(self, p, page: Page, beats: np.ndarray, y0: float) -> tuple[QtCore.QRectF, QtGui.QImage]:
        """One image row at the model's 100 Hz across the panel: each beat's sample scores."""
        s = self.scores
        assert s is not None and s.samples is not None
        n = max(1, int(np.ceil((p.t1 - p.t0) * contract.FS)))
        rgba = np.zeros((n, 4), dtype=np.uint8)
        offsets = (np.arange(contract.TOKEN_LEN) - contract.R_INDEX) / contract.FS
        t = s.r_s[beats, None] + offsets  # (m, 96) seconds
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
