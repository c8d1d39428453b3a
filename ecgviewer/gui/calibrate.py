"""Screen calibration: make 1 mm on screen 1 mm, by matching a bank card's outline.

An ISO/IEC 7810 ID-1 card (any bank or ID card) is 85.60 mm x 53.98 mm.
"""

from __future__ import annotations

from PySide6 import QtCore, QtGui, QtWidgets

CARD_MM = (85.60, 53.98)


class _Card(QtWidgets.QWidget):
    def __init__(self, px_per_mm: float) -> None:
        super().__init__()
        self.px_per_mm = px_per_mm
        self.setMinimumSize(420, 300)

    def paintEvent(self, _event) -> None:
        w, h = (v * self.px_per_mm for v in CARD_MM)
        p = QtGui.QPainter(self)
        p.setPen(QtGui.QPen(QtGui.QColor("#c03030"), 2))
        p.drawRoundedRect(QtCore.QRectF(10, 10, w, h), 3.18 * self.px_per_mm, 3.18 * self.px_per_mm)
        p.drawText(QtCore.QPointF(16, 30), "85.60 mm \u00d7 53.98 mm")
        p.end()


class CalibrationDialog(QtWidgets.QDialog):
    def __init__(self, px_per_mm: float, screen_default: float, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Calibrate screen")
        self.default = screen_default
        self.card = _Card(px_per_mm)
        self.spin = QtWidgets.QDoubleSpinBox(
            decimals=3, minimum=1.0, maximum=40.0, singleStep=0.01, value=px_per_mm, suffix=" px/mm"
        )
        self.spin.valueChanged.connect(self._changed)
        reset = QtWidgets.QPushButton("Screen default")
        reset.clicked.connect(lambda: self.spin.setValue(self.default))
        buttons = QtWidgets.QDialogButtonBox(
            QtWidgets.QDialogButtonBox.StandardButton.Ok | QtWidgets.QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        text = QtWidgets.QLabel(
            "Hold a bank card against the screen and adjust until the red outline matches its "
            "edges. Then 1 mm on the ECG paper is 1 mm on this screen (at zoom 1)."
        )
        text.setWordWrap(True)
        row = QtWidgets.QHBoxLayout()
        row.addWidget(self.spin)
        row.addWidget(reset)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(text)
        layout.addWidget(self.card, 1)
        layout.addLayout(row)
        layout.addWidget(buttons)

    def _changed(self, value: float) -> None:
        self.card.px_per_mm = value
        self.card.update()

    def value(self) -> float:
        return self.spin.value()


def screen_px_per_mm(widget: QtWidgets.QWidget | None = None) -> float:
    """Logical pixels per mm from the screen's reported physical size (96 dpi if implausible)."""
    screen = widget.screen() if widget is not None else QtGui.QGuiApplication.primaryScreen()
    if screen is not None:
        v = screen.physicalDotsPerInchX() / 25.4
        if 2.0 <= v <= 20.0:
            return v
    return 96.0 / 25.4
