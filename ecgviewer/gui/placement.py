"""Where the main window opens: inside the available area of the screen it opens on (issue 73).

A window larger than a 1366x768 laptop screen hides its status bar and right edge, and one
remembered from a larger monitor would do the same on the laptop. The last geometry is kept only
where it still fits; otherwise the window opens at its default size when that fits, centred, and
maximised where it does not (the window manager then fits it exactly, title bar and panels
included).
"""

from __future__ import annotations

from PySide6 import QtCore, QtGui, QtWidgets

DEFAULT = QtCore.QSize(1400, 860)
# room for a window manager's title bar and borders around the client area (logical pixels)
FRAME = QtCore.QSize(16, 48)


def fits(size: QtCore.QSize, available: QtCore.QRect) -> bool:
    """Whether a client area of ``size`` and its frame fit in ``available``."""
    return (
        size.width() + FRAME.width() <= available.width()
        and size.height() + FRAME.height() <= available.height()
    )


def centred(size: QtCore.QSize, available: QtCore.QRect) -> QtCore.QRect:
    rect = QtCore.QRect(QtCore.QPoint(0, 0), size)
    rect.moveCenter(available.center())
    return rect


def place(window: QtWidgets.QWidget, saved: QtCore.QByteArray | None) -> None:
    """Give ``window`` (not yet shown) its geometry: ``saved`` (``saveGeometry``) where it lies
    inside a screen's available area or was maximised there, else the default size centred on
    the primary screen where it fits, else maximised."""
    if saved is not None and not saved.isEmpty() and window.restoreGeometry(saved):
        screen = QtGui.QGuiApplication.screenAt(window.geometry().center())
        if screen is not None and (
            window.isMaximized() or screen.availableGeometry().contains(window.frameGeometry())
        ):
            return
        window.setWindowState(window.windowState() & ~QtCore.Qt.WindowState.WindowMaximized)
    screen = QtGui.QGuiApplication.primaryScreen()
    available = (
        screen.availableGeometry() if screen is not None else QtCore.QRect(QtCore.QPoint(0, 0), DEFAULT)
    )
    if fits(DEFAULT, available):
        window.setGeometry(centred(DEFAULT, available))
        return
    # a laptop: the window takes the screen; its geometry is set too, for platforms without a
    # window manager to maximise it (offscreen, some kiosks)
    inner = available.size() - FRAME
    window.setGeometry(centred(inner.boundedTo(available.size()), available))
    window.setWindowState(window.windowState() | QtCore.Qt.WindowState.WindowMaximized)
