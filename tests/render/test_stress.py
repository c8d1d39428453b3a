"""Rendering stress: repeated redraws, resizes, layout and theme switches, in a child process so
that a binding crash (PySide6 6.12.0 + pyqtgraph 0.14.0 aborted with "refcount error" during
paint, viewer-anchors 6.2) fails this test instead of killing the test run."""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent("""
    import faulthandler, random, sys
    faulthandler.enable()
    from PySide6 import QtWidgets
    from ecgviewer.gui.main_window import MainWindow
    from ecgviewer.gui.settings import Settings
    from ecgviewer.render.layout import LAYOUTS, SPEEDS, GAINS
    from PySide6 import QtCore
    app = QtWidgets.QApplication([])
    w = MainWindow(Settings(QtCore.QSettings(sys.argv[2], QtCore.QSettings.Format.IniFormat)))
    w.show()
    w.open_file(__import__("pathlib").Path(sys.argv[1]))
    while w.recording is None:
        app.processEvents()
    rng = random.Random(0)
    for i in range(int(sys.argv[3])):
        o = w.paper.options
        w.set_options(o.with_(layout=rng.choice(LAYOUTS), speed=rng.choice(SPEEDS),
                              gain=rng.choice(GAINS), theme=rng.choice(["light", "dark"]),
                              order=rng.choice(["standard", "cabrera"])))
        w.resize(rng.randint(500, 1600), rng.randint(400, 1000))
        w.paper.set_zoom(rng.uniform(0.3, 3.0))
        if i % 7 == 0:
            w.caliper_action.trigger()
        w.paper.set_t0(rng.uniform(0, 10))
        w.grab()
        app.processEvents()
    w.close()
    print("ok", flush=True)
""")


def test_stress_redraw_resize_and_switch(sample, tmp_path):
    r = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(sample), str(tmp_path / "s.ini"), "60"],
        capture_output=True,
        text=True,
        timeout=600,
        env={**__import__("os").environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.strip().endswith("ok")
    assert "refcount" not in r.stderr and "Fatal Python error" not in r.stderr
