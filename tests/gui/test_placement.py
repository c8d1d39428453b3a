"""The window opens inside the screen it opens on (issue 73): 1366x768, 1920x1080 and 2560x1440,
at device pixel ratio 1 and 2, fresh or with a geometry remembered from another screen. Each
screen is a child process on Qt's offscreen platform configured with that screen."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from PySide6 import QtCore

from ecgviewer.gui.placement import DEFAULT, FRAME, centred, fits
from tests.conftest import REPO

CHILD = textwrap.dedent("""
    import json, sys
    from PySide6 import QtCore, QtWidgets
    app = QtWidgets.QApplication([])
    from ecgviewer.gui.main_window import MainWindow
    from ecgviewer.gui.settings import Settings
    w = MainWindow(Settings(QtCore.QSettings(sys.argv[1], QtCore.QSettings.Format.IniFormat)))
    w.show()
    for _ in range(5):
        app.processEvents()
    if len(sys.argv) > 2:  # the user moves and sizes the window, then quits
        w.showNormal()
        w.setGeometry(*json.loads(sys.argv[2]))
        app.processEvents()
    screen = app.primaryScreen()
    f, a = w.frameGeometry(), screen.availableGeometry()
    rects = {"frame": f.getRect(), "available": a.getRect()}
    print(json.dumps(rects | {"dpr": screen.devicePixelRatio(), "maximised": w.isMaximized()}), flush=True)
    w.close()
""")


def opened(tmp_path: Path, screen: tuple[int, int, float], settings: Path, moved: list | None = None) -> dict:
    """Open the window on a ``screen`` (logical width, height, device pixel ratio) with the
    settings file ``settings``; ``moved``: a geometry the user gives it before quitting."""
    width, height, dpr = screen
    config = tmp_path / f"screen-{width}x{height}@{dpr}.json"
    one = {"name": "s", "x": 0, "y": 0, "width": width, "height": height, "dpr": dpr}
    config.write_text(json.dumps({"screens": [one | {"logicalDpi": 96, "logicalBaseDpi": 96}]}))
    env = {**os.environ, "QT_QPA_PLATFORM": f"offscreen:configfile={config}"}
    env.pop("QT_SCALE_FACTOR", None)
    args = [sys.executable, "-c", CHILD, str(settings), *([json.dumps(moved)] if moved else [])]
    r = subprocess.run(args, capture_output=True, text=True, timeout=120, env=env, cwd=REPO)
    lines = [line for line in r.stdout.splitlines() if line.startswith("{")]
    assert lines, r.stdout + r.stderr[-3000:]
    return json.loads(lines[-1])


def inside(out: dict) -> bool:
    fx, fy, fw, fh = out["frame"]
    ax, ay, aw, ah = out["available"]
    return ax <= fx and ay <= fy and fx + fw <= ax + aw and fy + fh <= ay + ah


@pytest.mark.parametrize("screen", [(1366, 768, 1.0), (1366, 768, 2.0), (1920, 1080, 1.0), (1920, 1080, 2.0)])
def test_a_fresh_window_fits_the_screen(tmp_path: Path, screen: tuple[int, int, float]) -> None:
    out = opened(tmp_path, screen, tmp_path / "fresh.ini")
    assert out["dpr"] == screen[2] and inside(out), out
    assert out["maximised"] == (not fits(DEFAULT, QtCore.QRect(0, 0, screen[0], screen[1]))), out


def test_a_geometry_from_a_larger_screen_is_not_restored_off_a_laptop(tmp_path: Path) -> None:
    """Sized on a 2560x1440 monitor, the window reopens there as it was; on the 1366x768 laptop it
    fits the screen instead (maximised), and back on the monitor it is remembered again."""
    settings = tmp_path / "moved.ini"
    monitor, laptop = (2560, 1440, 1.0), (1366, 768, 1.0)
    first = opened(tmp_path, monitor, settings, moved=[900, 400, 1500, 950])
    assert inside(first) and first["frame"][2:] == [1500 + 4, 950 + 4], first  # offscreen: a 2 px frame
    again = opened(tmp_path, monitor, settings)
    assert again["frame"] == first["frame"] and not again["maximised"], again
    small = opened(tmp_path, laptop, settings)
    assert inside(small) and small["maximised"], small


def test_the_default_size_is_centred_where_it_fits() -> None:
    big = QtCore.QRect(0, 0, 1920, 1080)
    assert fits(DEFAULT, big) and not fits(DEFAULT, QtCore.QRect(0, 0, 1366, 768))
    rect = centred(DEFAULT, big)
    assert rect.size() == DEFAULT and rect.center() == big.center()
    assert not fits(QtCore.QSize(big.width() - FRAME.width() + 1, 500), big)
