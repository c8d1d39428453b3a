"""The paper as a picture, without a window: ``ecgviewer render``, reports and tests."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from ecgviewer.errors import EcgError
from ecgviewer.gui.paper import PaperView
from ecgviewer.recording import Recording
from ecgviewer.render.options import MM_PER_INCH, ViewOptions
from ecgviewer.storage import atomic_write_bytes


def ensure_app() -> QtWidgets.QApplication:
    """The running QApplication, or a new one (offscreen when there is no display)."""
    app = QtWidgets.QApplication.instance()
    if app is None:
        app = QtWidgets.QApplication(["ecgviewer"])
    return app  # type: ignore[return-value]


def render_image(
    rec: Recording, options: ViewOptions, *, t0: float = 0.0, dpi: float = 300.0
) -> QtGui.QImage:
    """The whole page at true scale: ``dpi`` pixels per inch of paper."""
    ensure_app()
    px_per_mm = dpi / MM_PER_INCH
    view = PaperView(px_per_mm=px_per_mm)
    view.setAttribute(QtCore.Qt.WidgetAttribute.WA_DontShowOnScreen)
    view.setFrameStyle(0)
    view.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    view.setVerticalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    view.set_options(options)
    view.set_recording(rec, t0)
    page = view.page
    assert page is not None
    view.resize(round(page.width * px_per_mm), round(page.height * px_per_mm))
    view.show()
    QtWidgets.QApplication.processEvents()
    view.vb.setRange(xRange=(0, page.width), yRange=(0, page.height), padding=0)
    QtWidgets.QApplication.processEvents()
    image = view.grab().toImage()
    view.close()
    view.deleteLater()
    return image


def save_image(image: QtGui.QImage, path: str | os.PathLike[str]) -> None:
    """Encode ``image`` in the format its extension names and write it atomically."""
    fmt = Path(path).suffix.lstrip(".").upper() or "PNG"
    buf = QtCore.QBuffer()
    buf.open(QtCore.QIODevice.OpenModeFlag.WriteOnly)
    if not image.save(buf, fmt):
        raise EcgError(f"cannot write {path}: unsupported image format {fmt!r}")
    atomic_write_bytes(path, bytes(buf.data()))


def image_array(image: QtGui.QImage) -> np.ndarray:
    """A QImage as an (h, w, 3) uint8 RGB array (a copy)."""
    img = image.convertToFormat(QtGui.QImage.Format.Format_RGB888)
    h, w, bpl = img.height(), img.width(), img.bytesPerLine()
    return np.frombuffer(img.constBits(), np.uint8).reshape(h, bpl)[:, : 3 * w].reshape(h, w, 3).copy()
