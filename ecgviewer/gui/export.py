"""The paper as a picture, without a window: ``ecgviewer render``, reports and tests."""

from __future__ import annotations

from PySide6 import QtCore, QtGui, QtWidgets

from ecgviewer.gui.paper import PaperView
from ecgviewer.recording import Recording
from ecgviewer.render.options import MM_PER_INCH, ViewOptions
from ecgviewer.render.painting import ensure_app


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
