"""The window's file commands: open (file, folder, recent, drop), save as WFDB or EDF+, export the
report and the page image. Each reads and writes off the UI thread (``tasks.TaskRunner``) and
names the file and the cause when it fails. A mixin of ``MainWindow``, whose widgets it uses."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6 import QtCore, QtGui, QtWidgets

from ecgviewer.errors import EcgError
from ecgviewer.gui.analysis import page_inside
from ecgviewer.recording import Recording

if TYPE_CHECKING:
    from ecgviewer.gui.main_window import MainWindow

SAVE_FILTERS = ("WFDB record (*.hea)", "EDF+ (*.edf)")
REPORT_FILTERS = ("PDF report (*.pdf)", "PNG images, one per page (*.png)")
LIBRARY_WIDTH = 440  # px: the record, two asked-for values, date, age and sex


def open_filter() -> str:
    """The Open dialog's filter: every registered reader's extensions (content decides the format)."""
    from ecgviewer.io import READERS

    patterns = sorted({f"*{ext}" for r in READERS for ext in r.extensions})
    return f"ECG recordings ({' '.join(patterns)});;All files (*)"


class FileCommands:
    """Open, save and export, for ``MainWindow`` (``self`` is the window)."""

    def choose_file(self: MainWindow) -> None:
        start = str(self.settings.value("files/last_dir", "") or "")
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Open ECG", start, open_filter())
        if path:
            self.open_file(Path(path))

    def choose_folder(self: MainWindow) -> None:
        start = str(self.settings.value("files/last_dir", "") or "")
        folder = QtWidgets.QFileDialog.getExistingDirectory(self, "Open folder of recordings", start)
        if folder:
            self.open_folder(Path(folder))

    def compare_earlier(self: MainWindow) -> None:
        """The serial comparison: this recording beside the patient's previous ECG in the library,
        both analysed (measurements, and the model's findings when the AI is on) off the UI thread."""
        from ecgviewer.analysis import analyse
        from ecgviewer.gui.serial_view import Side
        from ecgviewer.io import load
        from ecgviewer.library import db, serial
        from ecgviewer.measure.delineate import Delineator

        rec = self.recording
        if rec is None or rec.path is None:
            self.statusBar().showMessage(
                "Open a recording from the library first: the comparison needs its patient", 8000
            )
            return
        try:
            conn = db.open_library(self.library.library_path(), create=False)
            try:
                earlier, when = serial.earlier_of(conn, rec.path), serial.acquired(conn, rec.path)
            finally:
                conn.close()
        except EcgError as exc:
            self.statusBar().showMessage(str(exc), 8000)
            return
        if earlier is None:
            self.statusBar().showMessage(
                f"The library holds no other ECG of this patient ({serial.HOW_PATIENTS})", 8000
            )
            return
        analyzer, delineator = self.ai.analyzer, self.measure.delineator

        def work(progress) -> tuple[Side, Side]:
            tools = delineator or Delineator.bundled()
            before = load(earlier.path)
            sides = []
            for k, (r, taken) in enumerate(((rec, when), (before, earlier.acquired))):
                found = analyse(r, analyzer=analyzer, delineator=tools, explain=False, keep_going=True,
                                progress=lambda f, k=k: progress((k + f) / 2))  # fmt: skip
                sides.append(Side(r, found, taken or "date unknown"))
            return sides[0], sides[1]

        def done(pair: tuple[Side, Side]) -> None:
            self.serial.set_view(self.paper.options, self.paper.px_per_mm)
            self.serial.set_pair(*pair)
            self.views.setTabEnabled(2, True)
            self.views.setCurrentIndex(2)

        self.tasks.run("serial", "Comparing with the earlier ECG", work, done)

    def show_library(self: MainWindow) -> None:
        """The Library dock, raised, its query box ready for typing; on opening, wide enough for
        the record, the asked-for values, date, age and sex (a third of the window at most), and
        left as the user sized it after that."""
        opening = not self.library_dock.isVisible()
        self.library_dock.show()
        self.library_dock.raise_()
        if opening:
            wide = min(max(self.library_dock.width(), LIBRARY_WIDTH), self.width() // 3)
            self.resizeDocks([self.library_dock], [wide], QtCore.Qt.Orientation.Horizontal)
        self.library.query.setFocus()

    def open_paths(self: MainWindow, paths: list[Path]) -> None:
        """Command line / drop: a folder fills the browser; several files are listed there."""
        from ecgviewer.io.catalog import Entry

        files = [p for p in paths if not p.is_dir()]
        for p in paths:
            if p.is_dir():
                self.open_folder(p)
        if len(files) > 1:
            self.browser.set_entries("Command line", [Entry(p, p.name) for p in files])
            self.browser_dock.show()
        if files:
            self.open_file(files[0])

    def open_file(self: MainWindow, path: Path) -> None:
        """Read ``path`` off the UI thread; the paper shows it when it arrives
        (``recordingLoaded``), or a message names the file and the cause."""
        from ecgviewer.io import load

        def job(_progress) -> Recording | EcgError:
            try:
                return load(path)
            except EcgError as exc:
                return exc

        self.tasks.run("open", f"Opening {Path(path).name}", job, self._loaded)

    def _loaded(self: MainWindow, result: Recording | EcgError) -> None:
        if isinstance(result, EcgError):
            QtWidgets.QMessageBox.warning(self, "Cannot open recording", str(result))
            return
        self.set_recording(result)
        if result.path is not None:
            path = result.path.resolve()
            self.settings.add_recent(str(path))
            self.settings.set_value("files/last_dir", str(path.parent))
            self.browser.select_path(result.path)
            self.library.select_path(result.path)  # the selection follows the open recording

    def open_folder(self: MainWindow, folder: Path) -> None:
        from ecgviewer.io.catalog import scan

        self.tasks.run(
            "scan",
            f"Scanning {folder.name}",
            lambda progress: (folder, scan(folder, cancelled=lambda: not progress(0.0))),
            self._folder_scanned,
        )
        self.settings.set_value("files/last_dir", str(folder))
        self.browser_dock.show()
        self.browser_dock.raise_()  # the Records tab in front, not the Library tabbed with it

    def _folder_scanned(self: MainWindow, result: tuple[Path, list]) -> None:
        folder, entries = result
        self.browser.set_entries(str(folder), entries)
        self.statusBar().showMessage(f"{len(entries)} recordings in {folder}", 5000)

    def fill_recent(self: MainWindow) -> None:
        self.recent_menu.clear()
        for path in self.settings.recent_files():
            act = self.recent_menu.addAction(path)
            act.triggered.connect(lambda _c=False, p=path: self.open_file(Path(p)))
        if self.recent_menu.isEmpty():
            self.recent_menu.addAction("(none)").setEnabled(False)

    def save_start(self: MainWindow, name: str) -> str:
        """Where a save or export dialog opens, proposing ``name``: the folder last saved or
        exported to, else the user's documents folder (never the program's working folder)."""
        folder = str(self.settings.value("files/save_dir", "") or "")
        if not folder or not Path(folder).is_dir():
            where = QtCore.QStandardPaths.StandardLocation.DocumentsLocation
            folder = QtCore.QStandardPaths.writableLocation(where) or str(Path.home())
        return str(Path(folder) / name)

    def saved_to(self: MainWindow, path: Path) -> None:
        """Remember the folder of a save or export for the next dialog."""
        self.settings.set_value("files/save_dir", str(Path(path).parent))

    def choose_save_path(self: MainWindow) -> None:
        if self.recording is None:
            return
        start = self.save_start(Path(self.recording.name).stem)
        path, chosen = QtWidgets.QFileDialog.getSaveFileName(
            self, "Save recording as", start, ";;".join(SAVE_FILTERS)
        )
        if path:
            fmt = "edf" if chosen == SAVE_FILTERS[1] else "wfdb"
            suffix = ".edf" if fmt == "edf" else ".hea"
            target = Path(path)
            if target.suffix.lower() != suffix:  # a dialog may return the name without the filter's suffix
                target = target.with_name(target.name + suffix)
            self.save_recording(target, fmt)

    def save_recording(self: MainWindow, path: Path, fmt: str | None = None) -> None:
        """Write the recording off the UI thread; identifiers go in only when the user shows them
        and confirms."""
        rec = self.recording
        if rec is None:
            return
        identifiers = False
        if rec.metadata.identifiers and self.identifiers_action.isChecked():
            answer = QtWidgets.QMessageBox.question(
                self,
                "Save patient identifiers?",
                "Write the patient's name, ID and birth date into the saved file?",
                QtWidgets.QMessageBox.StandardButton.Yes | QtWidgets.QMessageBox.StandardButton.No,
                QtWidgets.QMessageBox.StandardButton.No,
            )
            identifiers = answer == QtWidgets.QMessageBox.StandardButton.Yes
        from ecgviewer.io.writers import save

        def job(_progress) -> tuple[Path, list[str]] | EcgError:
            notes: list[str] = []
            try:
                return save(rec, path, fmt=fmt, identifiers=identifiers, notes=notes), notes
            except EcgError as exc:
                return exc

        self.saved_to(path)
        self.tasks.run("save", f"Saving {path.name}", job, self._saved)

    def _saved(self: MainWindow, result: tuple[Path, list[str]] | EcgError) -> None:
        if isinstance(result, EcgError):
            QtWidgets.QMessageBox.warning(self, "Save failed", str(result))
            return
        path, notes = result
        self.statusBar().showMessage(f"Saved {path}", 8000)
        if notes:  # what the target format could not hold exactly: the user should know (not modal)
            text = f"Saved {path.name}.\n\n" + "\n".join(f"\u2022 {n}" for n in notes)
            self.save_notes = QtWidgets.QMessageBox(
                QtWidgets.QMessageBox.Icon.Information, "Saved, with notes", text, parent=self
            )
            self.save_notes.open()

    def choose_report_path(self: MainWindow) -> None:
        if self.recording is None:
            return
        start = self.save_start(Path(self.recording.name).stem + ".pdf")
        path, chosen = QtWidgets.QFileDialog.getSaveFileName(
            self, "Export report", start, ";;".join(REPORT_FILTERS)
        )
        if path:
            suffix = ".png" if chosen == REPORT_FILTERS[1] else ".pdf"
            target = Path(path)
            if target.suffix.lower() not in (".pdf", ".png"):
                target = target.with_name(target.name + suffix)
            self.export_report(target)

    def export_report(self: MainWindow, path: Path) -> None:
        """Write the report off the UI thread, with what the window shows: the page, its filter, the
        explained label, the measurements with the user's edits; what is missing is computed."""
        rec = self.recording
        if rec is None:
            return
        from ecgviewer.report import pages
        from ecgviewer.report.make import make

        options = self.paper.options.with_(theme="light")
        t0, paper, note = self.paper.t0, pages.default_paper(), ""
        try:
            pages.check_fits(self.paper.page, paper, options)
        except EcgError:  # the layout on screen does not fit the paper: print the standard page
            note = f"{options.layout} at {options.scale_label()} does not fit {paper.upper()}: "
            options = options.with_(layout="3x4+1", speed=25.0, gain=10.0)
            note += f"printed as {options.layout} at {options.scale_label()}"
        ai, m = self.ai, self.measure
        ai_on, measure_on = self.ai_action.isChecked(), self.measure_action.isChecked()
        result = ai.result if ai_on and ai.recording is rec else None
        if result is not None and not page_inside(self.paper.page, result.span):
            result = None
        # Everything the job needs is read here, on the UI thread.
        kwargs = dict(
            t0=t0,
            request=ai.request(),
            result=result,
            delineator=m.delineator if measure_on else None,
            measurements=m.measurements if measure_on and m.recording is rec else None,
            beats=self.beats.beats if measure_on and self.beats.recording is rec else None,
            formula=m.panel.current_formula(),
            identifiers=self.identifiers_action.isChecked(),
            # as it stands now (the reader edits on while the report is written)
            overread=copy.deepcopy(self.interpretation.read)
            if self.interpretation.recording is rec
            else None,
        )
        analyzer, device = ai.analyzer, str(self.settings.value("ai/device", "auto") or "auto")
        model_file = ai.current_model()

        def job(progress) -> tuple[list[Path], str] | EcgError:
            try:
                model = analyzer if ai_on else None
                if ai_on and model is None:  # still loading in the window: load one for the report
                    from ecgviewer.ml.infer import Analyzer

                    model = Analyzer(model_file, device=device)
                with ai.lock:
                    report = make(rec, options, analyzer=model, progress=progress, **kwargs)
                return pages.write(report, path, paper), note
            except EcgError as exc:
                return exc

        self.saved_to(path)
        self.tasks.run("report", f"Writing {path.name}", job, self._report_written)

    def _report_written(self: MainWindow, result: tuple[list[Path], str] | EcgError) -> None:
        if isinstance(result, EcgError):
            QtWidgets.QMessageBox.warning(self, "Report failed", str(result))
            return
        files, note = result
        more = f" (+{len(files) - 1} more page images)" if len(files) > 1 else ""
        note = f"; {note}" if note else ""
        self.statusBar().showMessage(f"Report written: {files[0]}{more}{note}", 15000)
        self.reportWritten.emit(files)

    def export_image(self: MainWindow) -> None:
        if self.recording is None:
            return
        path, _ = QtWidgets.QFileDialog.getSaveFileName(
            self,
            "Export page image",
            self.save_start(f"{Path(self.recording.name).stem}.png"),
            "PNG image (*.png)",
        )
        if not path:
            return
        from ecgviewer.gui.export import render_image
        from ecgviewer.render.painting import save_image

        try:
            save_image(render_image(self.recording, self.paper.options, t0=self.paper.t0), path)
        except EcgError as exc:
            QtWidgets.QMessageBox.warning(self, "Export failed", str(exc))
            return
        self.saved_to(Path(path))

    def dragEnterEvent(self: MainWindow, event: QtGui.QDragEnterEvent) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self: MainWindow, event: QtGui.QDropEvent) -> None:
        paths = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            self.open_paths(paths)
