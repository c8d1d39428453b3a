"""Small widgets the panels share."""

from __future__ import annotations

from PySide6 import QtGui, QtWidgets


class WrappedLabel(QtWidgets.QLabel):
    """A word-wrapped label that claims the height its text needs at its current width. Qt lays
    out a wrapped label by its one-line minimum, so in a panel pressed to its minimum (a short
    dock) the next widget would be drawn over its second line."""

    def __init__(self, text: str = "", parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(text, parent)
        self.setWordWrap(True)

    def resizeEvent(self, event: QtGui.QResizeEvent) -> None:
        super().resizeEvent(event)
        need = self.heightForWidth(self.width())
        if need > 0 and need != self.minimumHeight():
            self.setMinimumHeight(need)  # relayout once; at the same width the height is settled
