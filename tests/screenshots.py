"""PNGs of the viewer's main states, to look at before a screen change is called done (issue 25).

    python tests/screenshots.py --out build/screenshots [--sizes 1366x768,1920x1080] [--dpr 1,2]

For each device pixel ratio (a child process with ``QT_SCALE_FACTOR``, the way a high-DPI screen
scales Qt) and each window size (logical pixels), a fresh window with default settings shows:
``opened`` (the bundled sample, analysed and measured), ``analysed`` (PTB-XL record 180, a left
bundle branch block, from ``../shared/data``; the sample again when that folder is absent),
``median`` (its median beats in the paper's place), ``attention`` (the Analysis panel's attention tab),
``overread`` (a statement added and one reworded, confirmed, the history open; once per scale
its report's first page, ``confirmed-report@{dpr}-page1``), ``preferences`` (the dialog, grabbed
on its own), ``library`` (the samples indexed and filtered) and
``serial`` (a PTB-XL patient's two ECGs compared, when ``../shared/data`` is there). Once per run,
``report-page1`` is the first page of that record's PDF report rasterised by PDFium at 100 dpi.
Files are named ``{width}x{height}@{dpr}-{state}.png``; the window is offscreen, so no display is
needed. A label in a shot whose text is cut off or shows markup is named on stderr (the review's
``label_problems``).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("ECGVIEWER_SHARED_DATA", REPO.parent / "shared" / "data"))
LBBB = SHARED / "ptbxl/records100/00000/00180_lr.hea"  # PTB-XL 180: CLBBB, the record
TIMEOUT_MS = 240_000
SETTLE_S = 0.3  # what a shot waits after the last result: several of the window's 50 ms dock timers


def record() -> Path:
    """PTB-XL 180 where ``../shared`` is, else the bundled sample (said on stderr)."""
    from ecgviewer.assets import sample_path

    if LBBB.is_file():
        return LBBB
    print(f"{LBBB} is absent: the bundled sample stands in for it", file=sys.stderr)
    return sample_path()


def _sizes(text: str) -> list[tuple[int, int]]:
    return [tuple(int(v) for v in s.split("x")) for s in text.split(",")]  # type: ignore[misc]


def shoot(out: Path, sizes: list[tuple[int, int]], dpr: str) -> list[Path]:
    """Every window state at every size, in this process (its scale factor already set)."""
    from PySide6 import QtCore, QtWidgets

    from ecgviewer.assets import sample_path
    from ecgviewer.gui.main_window import MainWindow
    from ecgviewer.gui.settings import Settings

    sys.path.insert(0, str(REPO))  # run as a script: tests.helpers is not on the path
    from tests.helpers import lead_pair, ptbxl_patient, with_pause
    from tests.review import label_problems

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    written: list[Path] = []

    def wait(signals: list, action: Callable[[], object] | None = None) -> None:
        """Run ``action`` and spin until each of ``signals`` has fired once (or time runs out)."""
        fired: set[int] = set()
        loop = QtCore.QEventLoop()
        for k, sig in enumerate(signals):
            sig.connect(lambda *_a, k=k: (fired.add(k), len(fired) == len(signals) and loop.quit()))
        QtCore.QTimer.singleShot(TIMEOUT_MS, loop.quit)
        if action is not None:
            action()
        if len(fired) < len(signals):
            loop.exec()
        if len(fired) < len(signals):
            raise TimeoutError(f"the window did not finish within {TIMEOUT_MS / 1000:.0f} s")
        settled = time.monotonic() + SETTLE_S  # docks and layouts settle after the last result:
        while time.monotonic() < settled:  # the window arranges its docks on a 50 ms timer, which
            app.processEvents()  # spinning alone did not wait for (a cramped Analysis dock, at random)
            time.sleep(0.01)

    def until(done: Callable[[], bool]) -> None:
        """Spin the event loop until ``done()`` (or time runs out)."""
        deadline = time.monotonic() + TIMEOUT_MS / 1000
        while not done():
            if time.monotonic() > deadline:
                raise TimeoutError(f"the window did not finish within {TIMEOUT_MS / 1000:.0f} s")
            app.processEvents()
            time.sleep(0.02)
        wait([])

    def overread(w: MainWindow) -> None:
        """The reader's over-read of the record open: one statement added from the vocabulary,
        one reworded, then confirmed (the library is the run's own)."""
        w.settings.set_reader("Dr Screenshot")
        until(lambda w=w: w.interpretation.sha256 is not None)
        p = w.interpretation.panel
        p.box.setText("Left axis deviation")
        p.box.returnPressed.emit()
        p.select(0)
        p.edit_selected()
        p.box.setText("Sinus rhythm, normal rate")
        p.box.returnPressed.emit()
        p.confirmRequested.emit()
        p.history_button.setChecked(True)
        until(lambda w=w: not w.tasks.busy())  # the chosen statement's finding explained on the paper

    def save(widget: QtWidgets.QWidget, name: str) -> None:
        path = out / f"{name}.png"
        if not widget.grab().save(str(path)):
            raise OSError(f"could not write {path}")
        written.append(path)
        for problem in label_problems(widget):  # what the picture shows cut off or as markup, said
            print(f"{name}: {problem}", file=sys.stderr)

    with tempfile.TemporaryDirectory() as tmp:
        for width, height in sizes:
            os.environ["ECGVIEWER_LIBRARY"] = str(Path(tmp) / f"{width}x{height}-overreads.sqlite")  # its own
            ini = QtCore.QSettings(
                str(Path(tmp) / f"{width}x{height}.ini"), QtCore.QSettings.Format.IniFormat
            )
            w = MainWindow(Settings(ini))
            w.setWindowState(QtCore.Qt.WindowState.WindowNoState)  # a size of its own, not the screen's
            w.resize(width, height)
            w.show()
            wait([w.ai.modelReady])
            tag = f"{width}x{height}@{dpr}"
            wait([w.ai.resultShown, w.measure.measured], lambda w=w: w.open_file(sample_path()))
            save(w, f"{tag}-opened")
            wait([w.ai.resultShown, w.measure.measured], lambda w=w: w.open_file(record()))
            save(w, f"{tag}-analysed")
            pair = lead_pair(sample_path(), Path(tmp))  # a 2-channel Holter's leads: the caveat shows
            wait([w.ai.resultShown, w.measure.measured], lambda w=w, p=pair: w.open_file(p))
            save(w, f"{tag}-two-leads")
            wait([w.ai.resultShown, w.measure.measured], lambda w=w: w.open_file(record()))
            w.show_median(True)
            wait([])
            save(w, f"{tag}-median")
            w.show_median(False)
            w.ai_dock.raise_()
            w.ai.panel.tabs.setCurrentWidget(w.ai.panel.attention)
            wait([])
            save(w, f"{tag}-attention")
            w.interpretation_dock.raise_()
            overread(w)
            save(w, f"{tag}-overread")
            if width == sizes[0][0]:  # once per scale: the confirmed report's first page
                pdf = out / f"confirmed-report@{dpr}.pdf"
                wait([w.reportWritten], lambda w=w, pdf=pdf: w.export_report(pdf))
                written.append(rasterise(pdf, out / f"confirmed-report@{dpr}-page1.png"))
            w.set_recording(with_pause())
            until(lambda w=w: w.beats.beats is not None and not w.tasks.busy())  # every task done
            w.beats_dock.raise_()
            wait([])
            save(w, f"{tag}-long")
            multiform = SHARED / "mitdb/208.hea"  # MIT-BIH 208: two ventricular foci and fusion beats
            if multiform.is_file():
                w.open_file(multiform)
                until(lambda w=w, p=multiform: w.recording is not None and w.recording.path == p
                      and w.beats.beats is not None and not w.tasks.busy())  # fmt: skip
            w.views.setCurrentWidget(w.beats.templates)
            w.beats.templates.select(1)
            wait([])
            save(w, f"{tag}-templates")
            w.views.setCurrentIndex(0)
            dialog = w.show_preferences()
            wait([])
            save(dialog, f"{tag}-preferences")
            dialog.close()
            w.library.set_library_path(Path(tmp) / f"{width}x{height}.sqlite")  # the samples, indexed
            w.show_library()
            w.library.index_folder(sample_path().parents[2])
            until(lambda w=w: w.library.model.rowCount() == 3 and not w.tasks.busy())
            w.library.query.setText("age>40")
            until(lambda w=w: w.library.model.rowCount() == 2 and not w.tasks.busy())
            save(w, f"{tag}-library")
            if (SHARED / "ptbxl/ptbxl_database.csv").is_file():
                (Path(tmp) / tag).mkdir()
                tree, heads = ptbxl_patient(SHARED, Path(tmp) / tag)
                w.library.query.setText("")
                w.library.index_folder(tree)
                rows, last = 3 + len(heads), heads[-1]  # the samples and the patient's ECGs
                until(lambda w=w, n=rows: w.library.model.rowCount() == n and not w.tasks.busy())
                w.open_file(last)
                until(lambda w=w, h=last: w.recording is not None and w.recording.path == h
                      and not w.tasks.busy())  # fmt: skip
                w.compare_earlier()
                until(lambda w=w: w.views.currentIndex() == 2 and not w.tasks.busy())
                save(w, f"{tag}-serial")
            w.close()
            w.deleteLater()
    return written


def rasterise(pdf: Path, png: Path) -> Path:
    """Page 1 of ``pdf`` rasterised by PDFium (an independent reader) at 100 dpi."""
    import pypdfium2 as pdfium

    pdfium.PdfDocument(str(pdf))[0].render(scale=100 / 72).to_pil().save(png)
    return png


def report_page(out: Path) -> Path:
    """The record's report as the command line writes it, page 1."""
    from ecgviewer.cli import main

    pdf = out / "report.pdf"
    if main(["report", str(record()), "--out", str(pdf)]) != 0:
        raise RuntimeError(f"the report of {record()} failed")
    return rasterise(pdf, out / "report-page1.png")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=REPO / "build" / "screenshots")
    ap.add_argument("--sizes", default="1366x768,1920x1080", help="window sizes, logical pixels")
    ap.add_argument("--dpr", default="1,2", help="device pixel ratios, each in its own process")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.child:  # one scale factor: this process's QT_SCALE_FACTOR
        for path in shoot(args.out, _sizes(args.sizes), os.environ.get("QT_SCALE_FACTOR", "1")):
            print(path)
        return 0
    env = {**os.environ, "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen")}
    for dpr in args.dpr.split(","):
        cmd = [sys.executable, __file__, "--child", "--out", str(args.out), "--sizes", args.sizes]
        subprocess.run(cmd, env={**env, "QT_SCALE_FACTOR": dpr}, check=True)
    print(report_page(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
