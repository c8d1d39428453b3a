"""Small widgets the panels share."""

from __future__ import annotations

import math

import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets


class WrappedLabel(QtWidgets.QLabel):
    """A word-wrapped label that claims the height its text needs at its current width. Qt lays
    out a wrapped label by its one-line minimum, so in a panel pressed to its minimum (a short
    dock) the next widget would be drawn over its second line."""

    def __init__(self, text: str = "", parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(text, parent)
        self.setWordWrap(True)

    def setText(self, text: str) -> None:
        super().setText(text)
        self._claim()  # new text at the same width gets no resize event

    def resizeEvent(self, event: QtGui.QResizeEvent) -> None:
        super().resizeEvent(event)
        self._claim()

    def _claim(self) -> None:
        need = self.heightForWidth(self.width())
        if need > 0 and need != self.minimumHeight():
            self.setMinimumHeight(need)  # relayout once; at the same width the height is settled


class ElidedLabel(QtWidgets.QLabel):
    """One line whatever its width: the text elided at the right, whole in the tooltip. For a
    detail that would otherwise wrap over several lines of a short dock."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__("", parent)
        self._full = ""
        self.setMinimumWidth(1)
        self.setSizePolicy(QtWidgets.QSizePolicy.Policy.Ignored, QtWidgets.QSizePolicy.Policy.Fixed)

    def set_full_text(self, text: str) -> None:
        self._full = text
        self.setToolTip(text)
        self._fit()

    def full_text(self) -> str:
        return self._full

    def resizeEvent(self, event: QtGui.QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit()

    def _fit(self) -> None:
        self.setText(
            self.fontMetrics().elidedText(self._full, QtCore.Qt.TextElideMode.ElideRight, self.width())
        )


class CaptionItem(pg.TextItem):
    """A caption on a page: drawn at a constant pixel size, so at a small zoom it would run past
    the sheet; past ``width`` (view units, the page's millimetres) it is elided instead, and the
    whole text is its tooltip."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._full = ""
        self._width = math.inf

    def set_caption(self, text: str, width: float = math.inf) -> None:
        self._full, self._width = text, width
        self.setToolTip(text)
        self._fit()

    def setFont(self, *args) -> None:
        super().setFont(*args)
        self._fit()

    def viewTransformChanged(self) -> None:
        super().viewTransformChanged()
        self._fit()

    def _fit(self) -> None:
        text = self._full
        vb = self.getViewBox()
        if text and vb is not None and math.isfinite(self._width):
            mm_per_px = vb.viewPixelSize()[0]
            if mm_per_px > 0:
                room = self._width / mm_per_px - 2 * self.textItem.document().documentMargin()
                font = QtGui.QFontMetricsF(self.textItem.font())
                text = font.elidedText(text, QtCore.Qt.TextElideMode.ElideRight, max(0.0, room))
        if text != self.toPlainText():
            self.setPlainText(text)


def shrinkable(combo: QtWidgets.QComboBox, chars: int) -> None:
    """A box that may narrow to ``chars`` characters (eliding its text; the list shows it whole), so
    that a panel on a laptop's side column is not held wider by its longest choice."""
    combo.setSizeAdjustPolicy(QtWidgets.QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    combo.setMinimumContentsLength(chars)
