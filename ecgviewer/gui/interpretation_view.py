"""The Interpretation panel: the cart's measurement header and numbered statements of the
recording open, and the reader's over-read of them: accept (confirm as they stand), edit, remove,
add (from the statement vocabulary, searched by typing, or free text), reorder, confirm with the
reader's name. Keyboard-driven: type and Enter adds, F2 edits the selected statement into the box,
Delete removes it, Ctrl+Up/Down moves it, Ctrl+Enter confirms.

The controller keys the over-read on the recording's content (hashed off the UI thread) and writes
it to the library after every change (``library.overreads``), so a killed window loses nothing.
A result or measurements of another recording never reach the panel.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6 import QtCore, QtGui, QtWidgets

from ecgviewer import NOTICE
from ecgviewer.errors import EcgError
from ecgviewer.gui.widgets import WrappedLabel
from ecgviewer.interpretation import Statement, disagreements, grouped, header, propose, vocabulary
from ecgviewer.overread import UNCONFIRMED, Overread

if TYPE_CHECKING:
    from ecgviewer.gui.settings import Settings
    from ecgviewer.measure.intervals import Measurements
    from ecgviewer.ml.likelihood import Bands
    from ecgviewer.ml.session import Result
    from ecgviewer.recording import Recording

CODE_ROLE = QtCore.Qt.ItemDataRole.UserRole
LISTING = "overread-listing"  # the task that lists an over-read recording: it outlives the recording
CONFIRMED_STYLE = "color:#0a5d1e;font-weight:bold;"
UNCONFIRMED_STYLE = "color:#8a4b00;font-weight:bold;"


class InterpretationPanel(QtWidgets.QWidget):
    """What the reader sees and edits; the controller decides what it holds."""

    chosen = QtCore.Signal(object)  # Statement: its evidence is shown
    addRequested = QtCore.Signal(object)  # Statement from the box (a vocabulary entry or free text)
    editRequested = QtCore.Signal(int, object)  # index, Statement
    removeRequested = QtCore.Signal(int)
    moveRequested = QtCore.Signal(int, int)
    confirmRequested = QtCore.Signal()
    cardRequested = QtCore.Signal()

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.statements: list[Statement] = []
        self._editing: int | None = None  # the statement the box rewords (F2), None: the box adds
        self.notice = WrappedLabel(f"<b>{NOTICE}</b>")  # the statements hold the model's findings
        self.card_button = QtWidgets.QPushButton("Model card\u2026")
        self.card_button.setToolTip(
            "Training data, metrics with intervals, the likelihood words and intended use"
        )
        self.card_button.clicked.connect(self.cardRequested)
        top = QtWidgets.QHBoxLayout()
        top.addWidget(self.notice, 1)
        top.addWidget(self.card_button)
        self.header = QtWidgets.QLabel("", wordWrap=True)
        self.header.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        self.status = QtWidgets.QLabel(UNCONFIRMED, wordWrap=True)
        self.list = QtWidgets.QListWidget(wordWrap=True)
        self.list.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setTextElideMode(QtCore.Qt.TextElideMode.ElideNone)
        self.list.setToolTip(
            "F2 edit \u00b7 Delete remove \u00b7 Ctrl+Up/Down move \u00b7 Ctrl+Enter confirm"
        )
        self.evidence = QtWidgets.QLabel("", wordWrap=True)
        self.evidence.setStyleSheet("color:palette(mid);")
        self.disagree = WrappedLabel("")  # statements that exclude each other (``disagreements``)
        self.disagree.setStyleSheet(UNCONFIRMED_STYLE)
        self.disagree.setTextFormat(QtCore.Qt.TextFormat.RichText)  # escaped: one line has no tag to guess by
        self.disagree.hide()
        self.box = QtWidgets.QLineEdit(placeholderText="Add a statement: type to search, or free text; Enter")
        self.box.setClearButtonEnabled(True)
        self.box.setToolTip(
            "Type to search the statement vocabulary (PTB-XL's statements and the measurement criteria), "
            "or write free text; Enter adds it, or rewords the statement being edited (F2)"
        )
        self.words = {s.text.lower(): s for s in vocabulary()}
        completer = QtWidgets.QCompleter([s.text for s in self.words.values()], self.box)
        completer.setCaseSensitivity(QtCore.Qt.CaseSensitivity.CaseInsensitive)
        completer.setFilterMode(QtCore.Qt.MatchFlag.MatchContains)
        self.box.setCompleter(completer)
        self.edit_button = QtWidgets.QPushButton("Edit")
        self.remove_button = QtWidgets.QPushButton("Remove")
        self.confirm_button = QtWidgets.QPushButton("Confirm")
        self.edit_button.setToolTip("Reword the selected statement in the box below the list (F2)")
        self.remove_button.setToolTip(
            "Take the selected statement out (Delete); the computer's stays on record"
        )
        self.confirm_button.setToolTip(
            "Sign the statements as they stand, with your name and the time (Ctrl+Enter)"
        )
        buttons = QtWidgets.QHBoxLayout()
        for b in (self.edit_button, self.remove_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        buttons.addWidget(self.confirm_button)
        self.original = QtWidgets.QLabel("", wordWrap=True)  # the computer's own, where edited
        self.device = QtWidgets.QLabel("", wordWrap=True)  # the acquiring device's, beside
        self.history_button = QtWidgets.QToolButton(text="History", checkable=True)
        self.history_button.setToolButtonStyle(QtCore.Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.history_button.setArrowType(QtCore.Qt.ArrowType.RightArrow)
        self.history_button.setToolTip("Who changed what, and when, newest first")
        self.history = QtWidgets.QLabel("", wordWrap=True, textFormat=QtCore.Qt.TextFormat.RichText)
        self.history.hide()
        self.history_button.toggled.connect(self._show_history)
        box = QtWidgets.QVBoxLayout(self)
        box.addLayout(top)
        for w in (self.header, self.status, self.list, self.disagree, self.evidence, self.box):
            box.addWidget(w)
        box.addLayout(buttons)
        for w in (self.original, self.device, self.history_button, self.history):
            box.addWidget(w)
        box.addStretch(1)  # packed at the top on a tall screen
        self.list.currentRowChanged.connect(self._row_changed)
        self.box.returnPressed.connect(self._entered)
        self.edit_button.clicked.connect(self.edit_selected)
        self.remove_button.clicked.connect(self.remove_selected)
        self.confirm_button.clicked.connect(self.confirmRequested)
        for keys, fn in (
            ("F2", self.edit_selected),
            ("Delete", self.remove_selected),
            ("Ctrl+Up", lambda: self._move(-1)),
            ("Ctrl+Down", lambda: self._move(+1)),
            ("Ctrl+Return", self.confirmRequested.emit),
            ("Ctrl+Enter", self.confirmRequested.emit),
            ("Escape", self._stop_editing),
        ):
            shortcut = QtGui.QShortcut(QtGui.QKeySequence(keys), self)
            shortcut.setContext(QtCore.Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(fn)
        self.set_editable(False)

    # -- what it shows -------------------------------------------------------------------------
    def show_interpretation(
        self,
        lines: list[str],
        statements: list[Statement],
        status: str,
        confirmed: bool,
        original: tuple[Statement, ...] = (),
        history: tuple[str, ...] = (),
        device: tuple[str, ...] = (),
        empty: str = "No statements yet: measurements and findings follow.",
    ) -> None:
        """The header, the numbered statements under their groups, and around them what the reader
        needs to judge them: the computer's originals where changed, the device's, the history;
        ``empty``: what the list says when it has no statement."""
        row = self.list.currentRow()
        self.statements = list(statements)
        self.header.setText(" \u00b7 ".join(lines))
        self.header.setVisible(bool(lines))
        self.status.setText(status)
        self.status.setStyleSheet(CONFIRMED_STYLE if confirmed else UNCONFIRMED_STYLE)
        blocked = self.list.blockSignals(True)  # the rows change under the selection
        self.list.clear()
        for group, members in grouped(statements):
            title = QtWidgets.QListWidgetItem(group)
            title.setFlags(QtCore.Qt.ItemFlag.ItemIsEnabled)  # readable, not selectable
            font = title.font()
            font.setBold(True)
            title.setFont(font)
            self.list.addItem(title)
            for i, s in members:
                item = QtWidgets.QListWidgetItem(f"{i}. {s.line()}")
                item.setData(CODE_ROLE, i - 1)
                item.setToolTip(s.evidence or "added by the reader")
                self.list.addItem(item)
        if not statements:
            self.list.addItem(QtWidgets.QListWidgetItem(empty))
        self.list.setCurrentRow(min(max(row, 0), self.list.count() - 1) if row >= 0 else -1)
        self.list.blockSignals(blocked)
        self._show_evidence()
        self._fit_list()
        clash = disagreements(statements)
        self.disagree.setText("<br>".join(f"\u26a0 {html.escape(d)}" for d in clash))
        self.disagree.setVisible(bool(clash))
        self.original.setText(_titled("Computer interpretation (as proposed)", [s.line() for s in original]))
        self.original.setVisible(bool(original))
        self.device.setText(_titled("The file's own interpretation", list(device)))
        self.device.setVisible(bool(device))
        self.history.setText("<br>".join(html.escape(h) for h in history))
        self.history_button.setVisible(bool(history))

    def _fit_list(self) -> None:
        """The list as tall as its statements at this width: every one in view, never scrolled
        away by the history or the originals below (the dock scrolls instead)."""
        self.list.doItemsLayout()
        rows = sum(self.list.visualItemRect(self.list.item(r)).height() for r in range(self.list.count()))
        self.list.setFixedHeight(rows + 2 * self.list.frameWidth() + 2)

    def resizeEvent(self, event: QtGui.QResizeEvent) -> None:
        super().resizeEvent(event)
        if event.size().width() != event.oldSize().width():  # rewrapped: other heights
            QtCore.QTimer.singleShot(0, self._fit_list)

    def set_editable(self, on: bool) -> None:
        for w in (self.box, self.edit_button, self.remove_button, self.confirm_button):
            w.setEnabled(on)

    def selected(self) -> int | None:
        """The index of the statement selected (None: a group title or nothing)."""
        item = self.list.currentItem()
        i = item.data(CODE_ROLE) if item is not None else None
        return i if isinstance(i, int) else None

    def select(self, i: int) -> None:
        for row in range(self.list.count()):
            if self.list.item(row).data(CODE_ROLE) == i:
                self.list.setCurrentRow(row)
                return

    # -- the reader's keys -------------------------------------------------------------------------
    def statement_of(self, text: str) -> Statement:
        """The vocabulary's statement of that name (its code and group), else free text."""
        found = self.words.get(text.strip().lower())
        return found if found is not None else Statement(text.strip(), origin="reader")

    def _entered(self) -> None:
        text = self.box.text().strip()
        if not text:
            return
        if self._editing is not None:
            self.editRequested.emit(self._editing, self.statement_of(text))
        else:
            self.addRequested.emit(self.statement_of(text))
        self._stop_editing()

    def edit_selected(self) -> None:
        i = self.selected()
        if i is None or not self.box.isEnabled():
            return
        self._editing = i
        self.box.setText(self.statements[i].text)
        self.box.setPlaceholderText("")
        self.box.selectAll()
        self.box.setFocus()

    def _stop_editing(self) -> None:
        self._editing = None
        self.box.clear()
        self.box.setPlaceholderText("Add a statement: type to search, or free text; Enter")

    def remove_selected(self) -> None:
        i = self.selected()
        if i is not None and self.box.isEnabled() and not self.box.hasFocus():
            self.removeRequested.emit(i)

    def _move(self, step: int) -> None:
        i = self.selected()
        if i is not None and self.box.isEnabled() and 0 <= i + step < len(self.statements):
            self.moveRequested.emit(i, i + step)

    def _show_evidence(self) -> Statement | None:
        """What stands behind the selected statement: the values, and the criterion they met."""
        from ecgviewer.measure.statements import CRITERIA

        i = self.selected()
        s = self.statements[i] if i is not None and i < len(self.statements) else None
        text = "" if s is None else s.evidence or "Written by the reader."
        if s is not None and s.evidence.startswith("measured: ") and s.code in CRITERIA:
            text += f" \u2014 criterion: {CRITERIA[s.code].rule} ({CRITERIA[s.code].source})"
        self.evidence.setText(text)
        return s

    def _row_changed(self, _row: int) -> None:
        """The reader chose a statement: its evidence, and a finding's explanation on the paper."""
        if (s := self._show_evidence()) is not None:
            self.chosen.emit(s)

    def clear_selection(self) -> None:
        self.list.setCurrentRow(-1)
        self._stop_editing()

    def _show_history(self, on: bool) -> None:
        self.history.setVisible(on)
        self.history_button.setArrowType(
            QtCore.Qt.ArrowType.DownArrow if on else QtCore.Qt.ArrowType.RightArrow
        )


def _titled(title: str, lines: list[str]) -> str:
    items = "".join(f"<br>{k}. {html.escape(t)}" for k, t in enumerate(lines, 1))
    return f"<b>{html.escape(title)}</b>{items}"


class InterpretationController(QtCore.QObject):
    """Builds the computer's proposal from the measurements and the model's result of the
    recording open, loads its stored over-read, and applies the reader's edits."""

    changed = QtCore.Signal()  # the over-read was changed and saved (or could not be saved)

    def __init__(
        self,
        settings: Settings,
        library: Callable[[], Path],
        run: Callable[..., object],
        parent: QtWidgets.QWidget,
    ) -> None:
        super().__init__(parent)
        self.settings, self.library, self.run, self.window = settings, library, run, parent
        self.panel = InterpretationPanel()
        self.recording: Recording | None = None
        self.sha256: str | None = None
        self.read: Overread | None = None  # the stored or started over-read of ``recording``
        self.measurements: Measurements | None = None
        self.result: Result | None = None
        self.bands: Bands | None = None
        self.formula = "Bazett"
        self.sources = (True, True)  # the AI analysis and the measurements are on
        self.problem = ""  # why the last change could not be saved
        p = self.panel
        p.addRequested.connect(lambda s: self._change(lambda r, who: r.add(who, s)))
        p.editRequested.connect(lambda i, s: self._change(lambda r, who: r.edit(who, i, s.text, s.code)))
        p.removeRequested.connect(lambda i: self._change(lambda r, who: r.remove(who, i)))
        p.moveRequested.connect(self._moved)
        p.confirmRequested.connect(lambda: self._change(lambda r, who: r.confirm(who)))

    def set_recording(self, rec: Recording) -> None:
        self.recording, self.sha256, self.read, self.problem = rec, None, None, ""
        self.measurements = self.result = None
        self.panel.set_editable(False)
        self.panel.clear_selection()
        self.refresh()
        path = rec.path
        if path is None:  # made in memory (a test signal, a crop): nothing to key an over-read on
            self.problem = "This recording is not a file: an over-read of it cannot be kept."
            self.refresh()
            return

        def job(_progress) -> tuple[str, Overread | None] | EcgError:
            from ecgviewer.library import overreads

            try:  # opening an ECG makes no library
                return overreads.content_sha256(path), overreads.stored(path, self.library())
            except EcgError as exc:
                return exc

        self.run("overread", "", job, lambda found, rec=rec: self._loaded(rec, found), quiet=True)

    def _loaded(self, rec: Recording, found: tuple[str, Overread | None] | EcgError) -> None:
        if rec is not self.recording:
            return
        if isinstance(found, EcgError):
            self.problem = f"The over-read cannot be kept: {found}"
        else:
            self.sha256, self.read = found
            self.panel.set_editable(True)
        self.refresh()

    def set_measurements(self, m: Measurements | None, rec: Recording | None, formula: str) -> None:
        if rec is self.recording:
            self.measurements, self.formula = m, formula
            self.refresh()

    def set_result(self, result: Result | None, bands: Bands | None) -> None:
        rec = self.recording
        if result is None or (rec is not None and result.source[0] == rec.uid):
            self.result, self.bands = result, bands
            self.refresh()

    def proposal(self) -> tuple[Statement, ...]:
        rec = self.recording
        predictions = self.result.analysis.predictions if self.result is not None else None
        sex = rec.metadata.sex if rec is not None else None
        return propose(self.measurements, predictions, sex=sex, formula=self.formula, bands=self.bands)

    def refresh(self) -> None:
        rec, read = self.recording, self.read
        device: tuple[str, ...] = ()
        if rec is not None:
            meta = rec.metadata
            device = (
                *(meta.device.statements if meta.device else ()),
                *([meta.report] if meta.report else []),
            )
        lines = header(self.measurements, self.formula)
        if read is None:
            status = self.problem or UNCONFIRMED
            self.panel.show_interpretation(lines, list(self.proposal()), status, False, device=device,
                                           empty=self.empty())  # fmt: skip
            return
        status = f"{read.status()} \u2014 {self.problem}" if self.problem else read.status()
        self.panel.show_interpretation(
            lines,
            read.statements,
            status,
            read.confirmed,
            read.computer if read.edited() else (),
            tuple(e.line() for e in reversed(read.history)),
            device,
        )

    def set_sources(self, ai: bool, measurements: bool) -> None:
        """Which of the computer's sources are on (the window's Tools toggles)."""
        self.sources = (ai, measurements)
        self.refresh()

    def empty(self) -> str:
        """What an empty list says: that nothing is coming, or that something still is."""
        ai, measured = self.sources
        if not (ai or measured):
            return "The AI analysis and the measurements are off: type the interpretation below."
        waiting = (ai and self.result is None) or (measured and self.measurements is None)
        if waiting:
            return "No statements yet: measurements and findings follow."
        return "Neither the measurements nor the model state anything here: type below to add."

    def reader(self) -> str | None:
        """The reader's name from Preferences, asked for once when there is none."""
        name = self.settings.reader()
        if name:
            return name
        name, ok = QtWidgets.QInputDialog.getText(
            self.window, "Your name", "Your name, as the over-read and the report record it:"
        )
        name = " ".join(name.split())
        if not ok or not name:
            return None
        self.settings.set_reader(name)
        return name

    def _moved(self, i: int, to: int) -> None:
        self._change(lambda r, who: r.move(who, i, to))
        self.panel.select(to)

    def _change(self, edit: Callable[[Overread, str], None]) -> None:
        """Apply one edit (starting the over-read from the computer's proposal on the first) and
        save it at once."""
        if self.sha256 is None or self.recording is None or self.recording.path is None:
            return
        who = self.reader()
        if who is None:
            return
        try:
            if self.read is None:
                self.read = Overread.start(self.proposal(), who)
            edit(self.read, who)
        except EcgError as exc:
            QtWidgets.QMessageBox.warning(self.window, "Over-read", str(exc))
            return
        self.save()

    def save(self) -> None:
        """Write the over-read now (a small transaction: milliseconds on the UI thread, so that a
        kill right after an edit keeps it)."""
        from ecgviewer.library import db, overreads

        assert self.read is not None and self.sha256 is not None and self.recording is not None
        try:
            conn = db.open_library(self.library())
            try:
                overreads.save(conn, self.sha256, self.recording.path, self.read, list_it=False)
            finally:
                conn.close()
            self.problem = ""
        except EcgError as exc:
            self.problem = f"not saved: {exc}"
        else:
            self._list(self.recording.path)
        self.refresh()
        self.changed.emit()

    def _list(self, path: Path) -> None:
        """The recording listed in the library off the UI thread (it hashes and reads the whole
        file): ``find confirmed=yes`` then finds it. The over-read itself is already stored."""
        from ecgviewer.library import db, overreads

        library = self.library()

        def job(_progress) -> EcgError | None:
            try:
                conn = db.open_library(library)
                try:
                    overreads.listed(conn, path)
                finally:
                    conn.close()
            except EcgError as exc:
                return exc
            return None

        self.run(LISTING, "", job, lambda problem, rec=self.recording: self._listed(rec, problem), quiet=True)

    def _listed(self, rec: Recording | None, problem: EcgError | None) -> None:
        if problem is not None and rec is self.recording:
            self.problem = f"kept, but not listed in the library: {problem}"
            self.refresh()
