"""Application start-up: the window appears first; torch is never imported on this path."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from PySide6 import QtCore, QtGui, QtWidgets

from ecgviewer.assets import icon_path, sample_path


def run(files: list[str], quit_after_paint: bool = False) -> int:
    """Open the viewer on ``files`` (the bundled sample when none) and run the event loop."""
    start = time.perf_counter()
    QtWidgets.QApplication.setHighDpiScaleFactorRoundingPolicy(
        QtCore.Qt.HighDpiScaleFactorRoundingPolicy.PassThrough
    )
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
    app.setApplicationName("ecgviewer")
    app.setOrganizationName("ecgviewer")
    app.setWindowIcon(QtGui.QIcon(str(icon_path())))

    from ecgviewer.gui import workers
    from ecgviewer.gui.main_window import MainWindow

    app.aboutToQuit.connect(workers.shutdown)

    window = MainWindow()
    window.show()
    paths = [Path(f) for f in files] or [sample_path()]
    if quit_after_paint:  # benchmarks: report the first paint of the recording, then quit

        def painted() -> None:
            if window.recording is not None:
                window.paper.painted.disconnect(painted)  # the first paint only, whatever repaints follow
                torch = "torch" in sys.modules  # the model loads in the background, after this paint
                print(f"first-paint {time.perf_counter() - start:.3f} torch-imported {torch}", flush=True)
                QtCore.QTimer.singleShot(0, app.quit)

        window.paper.painted.connect(painted)
    QtCore.QTimer.singleShot(0, lambda: window.open_paths(paths))
    return app.exec()
