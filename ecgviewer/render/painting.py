"""Qt painting shared by the screen and the printed report: the paper's grid, beat shading
colours and rectangles, and images (a QApplication without a window, encoding, arrays). The
window (``gui``) and the report (``report``) both draw through this module, so print and screen
cannot drift apart."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from ecgviewer.errors import EcgError
from ecgviewer.ml.placement import BeatScores
from ecgviewer.render.layout import Page, Panel
from ecgviewer.storage import atomic_write_bytes

DIVERGING = "CET-D1"  # blue (lowers) - white - red (raises); perceptually uniform (Kovesi 2015)
SEQUENTIAL = "CET-L8"  # attention: non-negative


def ensure_app() -> QtWidgets.QApplication:
    """The running QApplication, or a new one (offscreen when there is no display)."""
    app = QtWidgets.QApplication.instance()
    if app is None:
        app = QtWidgets.QApplication(["ecgviewer"])
    return app  # type: ignore[return-value]


def save_image(image: QtGui.QImage, path: str | os.PathLike[str]) -> None:
    """Encode ``image`` in the format its extension names and write it atomically."""
    fmt = Path(path).suffix.lstrip(".").upper() or "PNG"
    buf = QtCore.QBuffer()
    buf.open(QtCore.QIODevice.OpenModeFlag.WriteOnly)
    if not image.save(buf, fmt):  # type: ignore[call-overload]  # PySide6 takes a str, its stub says bytes
        raise EcgError(f"cannot write {path}: unsupported image format {fmt!r}")
    atomic_write_bytes(path, bytes(buf.data().data()))


def image_array(image: QtGui.QImage) -> np.ndarray:
    """A QImage as an (h, w, 3) uint8 RGB array (a copy)."""
    img = image.convertToFormat(QtGui.QImage.Format.Format_RGB888)
    h, w, bpl = img.height(), img.width(), img.bytesPerLine()
    return np.frombuffer(img.constBits(), np.uint8).reshape(h, bpl)[:, : 3 * w].reshape(h, w, 3).copy()


def grid_lines(width: float, height: float, step: float, skip: float | None) -> list[QtCore.QLineF]:
    """Lines every ``step`` mm across the sheet, leaving out multiples of ``skip``."""
    xs = np.arange(0.0, width + 1e-6, step)
    ys = np.arange(0.0, height + 1e-6, step)
    if skip:
        xs = xs[np.abs(xs / skip - np.round(xs / skip)) > 1e-6]
        ys = ys[np.abs(ys / skip - np.round(ys / skip)) > 1e-6]
    return [QtCore.QLineF(x, 0.0, x, height) for x in xs] + [QtCore.QLineF(0.0, y, width, y) for y in ys]


def paint_grid(
    painter: QtGui.QPainter,
    rect: QtCore.QRectF,
    colors: tuple[str, str, str],
    minor: list[QtCore.QLineF],
    major: list[QtCore.QLineF],
    widths: tuple[float, float] = (0.0, 0.0),
) -> None:
    """The paper's colour and grid. Pen widths are in the painter's units; 0 draws one device
    pixel (the screen), a width in mm suits print."""
    paper, minor_color, major_color = colors
    painter.fillRect(rect, QtGui.QColor(paper))
    for lines, color, width in ((minor, minor_color, widths[0]), (major, major_color, widths[1])):
        pen = QtGui.QPen(QtGui.QColor(color), width)
        pen.setCosmetic(width == 0)
        painter.setPen(pen)
        painter.drawLines(lines)


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
