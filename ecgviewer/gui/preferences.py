"""Preferences (Tools > Preferences...): the paper's settings, the reading (reader, QTc formula,
library file) and the model the AI analysis runs, a page each; every change applies at once and
is kept.

The Model page lists the installed classifiers (the bundled one and those in the user's models
folder, ``ecgviewer.ml.registry``) with their tokeniser, architecture, tasks and headline AUROC,
the one in use marked. Choosing one hands it to the window's ``AnalysisController``, which loads
it off the UI thread and analyses the recording again; a file that cannot be used stays listed,
greyed, with the reason. The dialog is non-modal and never opens a modal box of its own: messages
go to its status line.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6 import QtCore, QtGui, QtWidgets

from ecgviewer import assets
from ecgviewer.errors import EcgError
from ecgviewer.ml import registry
from ecgviewer.ml.registry import ModelInfo
from ecgviewer.render.options import THEME_NAMES

if TYPE_CHECKING:
    from ecgviewer.gui.analysis import AnalysisController
    from ecgviewer.gui.main_window import MainWindow

COLUMNS = ("", "Name", "Tokeniser", "Architecture", "Tasks (classes)", "Test AUROC", "Source")
CURRENT_MARK = "\u25cf"  # in the first column of the model in use
MAX_COLUMN_PX = 240  # a long description is elided (and whole in the tooltip), not a scrolled table


def _tasks(info: ModelInfo) -> str:
    return ", ".join(f"{task} ({n})" for task, n in info.tasks.items())


def _auroc(info: ModelInfo) -> str:
    return "" if info.auroc is None else f"{info.auroc:.3f} ({info.auroc_task})"


def _same(a: Path, b: Path) -> bool:
    return Path(a).resolve() == Path(b).resolve()


class ModelPage(QtWidgets.QWidget):
    """The installed models, the one in use marked, and the buttons that act on the selected one."""

    def __init__(self, ai: AnalysisController, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.ai = ai
        self.models: list[ModelInfo] = []
        self.table = QtWidgets.QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.horizontalHeaderItem(5).setToolTip("Macro AUROC on the test fold, from the model card")
        self.table.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setStretchLastSection(True)
        self.use_button = QtWidgets.QPushButton("Use this model")
        self.add_button = QtWidgets.QPushButton("Add model file\u2026")
        self.add_button.setToolTip(f"Copy a classifier and its model card into {assets.user_models_dir()}")
        self.card_button = QtWidgets.QPushButton("Open model card")
        self.status = QtWidgets.QLabel("")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        intro = QtWidgets.QLabel(
            "The classifier behind the Analysis panel. Every model here is for research use, not a "
            "medical device; its card gives the data it learned from and how well it did."
        )
        intro.setWordWrap(True)
        buttons = QtWidgets.QHBoxLayout()
        for b in (self.use_button, self.add_button, self.card_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        box = QtWidgets.QVBoxLayout(self)
        box.addWidget(intro)
        box.addWidget(self.table, 1)
        box.addLayout(buttons)
        box.addWidget(self.status)

        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.table.itemDoubleClicked.connect(lambda _item: self.use_selected())
        self.use_button.clicked.connect(self.use_selected)
        self.add_button.clicked.connect(self.add_file)
        self.card_button.clicked.connect(self.open_card)
        ai.modelReady.connect(self._model_ready)
        ai.modelFailed.connect(self._model_failed)

    # -- the list ----------------------------------------------------------------------------
    def refresh(self, select: Path | None = None) -> None:
        """List the models again, selecting ``select`` (default: the one in use)."""
        self.models = registry.installed_models()
        current = self.ai.current_model()
        target = select or current
        self.table.setRowCount(len(self.models))
        bold = QtGui.QFont()
        bold.setBold(True)
        for row, info in enumerate(self.models):
            in_use = _same(info.path, current)
            if info.error is None:
                texts = (info.tokenizer, info.architecture, _tasks(info), _auroc(info))
            else:
                texts = (f"cannot be used: {info.error}", "", "", "")  # elided; whole when selected
            source = "bundled" if info.bundled else "user"
            cells = (CURRENT_MARK if in_use else "", info.name, *texts, source)
            tip = f"{info.path}" + (f"\nSHA-256 {info.sha256}" if info.sha256 else "")
            tip += f"\n{info.error}" if info.error else ""
            for col, text in enumerate(cells):
                item = QtWidgets.QTableWidgetItem(text)
                item.setToolTip(tip)
                if in_use:
                    item.setFont(bold)
                if info.error is not None:
                    item.setForeground(self.palette().brush(QtGui.QPalette.ColorRole.PlaceholderText))
                self.table.setItem(row, col, item)
        self.table.resizeColumnsToContents()
        for col in range(len(COLUMNS)):
            self.table.setColumnWidth(col, min(self.table.columnWidth(col), MAX_COLUMN_PX))
        rows = [r for r, m in enumerate(self.models) if _same(m.path, target)]
        if rows:
            self.table.selectRow(rows[0])
        self._update_buttons()

    def selected(self) -> ModelInfo | None:
        rows = self.table.selectionModel().selectedRows()
        return self.models[rows[0].row()] if rows else None

    def _update_buttons(self) -> None:
        info = self.selected()
        if info is not None and info.error is not None:
            self.status.setText(f"Cannot be used: {info.error}")
        usable = info is not None and info.error is None
        self.use_button.setEnabled(usable and not _same(info.path, self.ai.current_model()))
        self.card_button.setEnabled(info is not None and info.card is not None)

    # -- actions -----------------------------------------------------------------------------
    def use_selected(self) -> None:
        info = self.selected()
        if info is None or info.error is not None:
            return
        if _same(info.path, self.ai.current_model()):
            self.status.setText(f"{info.name} is the model in use.")
            return
        self.status.setText(f"Loading {info.name}\u2026 the recording on screen is analysed again with it.")
        self.use_button.setEnabled(False)
        self.ai.choose_model(info.path)

    def add_file(self) -> None:
        start = str(self.ai.settings.value("files/model_dir", "") or "")
        path, _ = QtWidgets.QFileDialog.getOpenFileName(
            self, "Add model file", start, f"ecgviewer classifier (*{registry.SUFFIX})"
        )
        if not path:
            return
        self.ai.settings.set_value("files/model_dir", str(Path(path).parent))
        try:
            info = registry.install(Path(path))
        except EcgError as exc:
            self.status.setText(f"Not added: {exc}")
            return
        self.refresh(select=info.path)
        self.status.setText(f"Added {info.name} to {info.path.parent}; \u201cUse this model\u201d runs it.")

    def open_card(self) -> None:
        """The card inside the app (the same dialog as the analysis panel's), not handed to a
        desktop opener that may be absent."""
        from ecgviewer.gui.diagnosis import ModelCardDialog

        info = self.selected()
        if info is None or info.card is None:
            return
        a = self.ai.analyzer
        loaded = a is not None and _same(info.path, a.model_file)
        self.card_dialog = ModelCardDialog(info.path, a.sha256 if loaded else None, self)
        self.card_dialog.open()

    def _model_ready(self) -> None:
        a = self.ai.analyzer
        if self.isVisible():  # a hidden page is listed afresh when shown
            self.refresh()
        if a is not None:
            self.status.setText(f"In use: {a.name} ({a.model_file}).")

    def _model_failed(self, message: str) -> None:
        self.status.setText(f"The model could not be loaded: {message}")
        self._update_buttons()


class PaperPage(QtWidgets.QWidget):
    """The paper's settings (layout, order, rhythm lead, speed, gain, display filters) in one
    place: the toolbar's choices, applied at once and kept for the next start, as the toolbar's are."""

    def __init__(self, window: MainWindow, parent: QtWidgets.QWidget | None = None) -> None:
        from ecgviewer.gui import actions

        super().__init__(parent)
        self.window = window
        self.combos: dict[str, QtWidgets.QComboBox] = {}
        form = QtWidgets.QFormLayout(self)
        for c in actions.CONTROLS:
            combo = QtWidgets.QComboBox()
            combo.setToolTip(c.tip)
            for text, value in c.items:
                combo.addItem(text, value)
            combo.activated.connect(
                lambda _i, c=c, combo=combo: actions.choose(window, c, combo.currentData())
            )
            form.addRow(c.title.replace("&", ""), combo)
            self.combos[c.key] = combo
        self.colours = QtWidgets.QComboBox()
        self.colours.setToolTip("The paper and its grid on screen (print is on the red grid)")
        for key, name in THEME_NAMES.items():
            self.colours.addItem(name, key)
        self.colours.activated.connect(
            lambda _i: window.set_options(window.paper.options.with_(theme=self.colours.currentData()))
        )
        form.addRow("Paper colours", self.colours)
        form.addRow(
            QtWidgets.QLabel("The same choices as the toolbar and the Paper menu; kept for the next start.")
        )
        window.paper.refreshed.connect(self._follow)

    def showEvent(self, event: QtGui.QShowEvent) -> None:
        self.refresh()
        super().showEvent(event)

    def _follow(self) -> None:
        """The toolbar changed the paper: follow it, while shown (a pan refreshes the paper too)."""
        if self.isVisible():
            self.refresh()

    def refresh(self) -> None:
        from ecgviewer.gui import actions

        for c in actions.CONTROLS:
            combo = self.combos[c.key]
            combo.setCurrentIndex(max(0, combo.findData(actions.current(self.window.paper.options, c))))
        self.colours.setCurrentIndex(max(0, self.colours.findData(self.window.paper.options.theme)))


class ReadingPage(QtWidgets.QWidget):
    """Who reads and how: the reader's name (for the over-read, kept), the QTc formula (the
    measurements panel's), the library file."""

    def __init__(self, window: MainWindow, parent: QtWidgets.QWidget | None = None) -> None:
        from ecgviewer.measure.intervals import QTC_FORMULAS

        super().__init__(parent)
        self.window = window
        self.reader = QtWidgets.QLineEdit(
            placeholderText="Your name, as it is to appear on a confirmed report"
        )
        self.reader.setToolTip("Kept on this computer only; never written to logs")
        self.reader.editingFinished.connect(lambda: window.settings.set_reader(self.reader.text()))
        self.qtc = QtWidgets.QComboBox()
        self.qtc.setToolTip("Heart-rate correction of the QT interval (also on the Measurements panel)")
        for name in QTC_FORMULAS:
            self.qtc.addItem(name, name)
        self.qtc.activated.connect(lambda _i: window.measure.panel.set_formula(str(self.qtc.currentData())))
        self.library = QtWidgets.QLabel()
        self.library.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        choose = QtWidgets.QPushButton("Library\u2026")
        choose.setToolTip("Choose the library file (a new name starts a new library)")
        choose.clicked.connect(lambda: (window.library.choose_library(), self.refresh()))
        row = QtWidgets.QHBoxLayout()
        row.addWidget(self.library, 1)
        row.addWidget(choose)
        form = QtWidgets.QFormLayout(self)
        form.addRow("Reader", self.reader)
        form.addRow("QTc formula", self.qtc)
        form.addRow("Library file", row)

    def refresh(self) -> None:
        self.reader.setText(self.window.settings.reader())
        panel = self.window.measure.panel
        self.qtc.setCurrentIndex(max(0, self.qtc.findData(panel.current_formula())))
        self.library.setText(str(self.window.library.library_path()))


class PreferencesDialog(QtWidgets.QDialog):
    """Settings a page each: the paper, the reading, the model."""

    def __init__(self, window: MainWindow, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Preferences")
        self.resize(1000, 380)
        self.paper_page = PaperPage(window)
        self.reading_page = ReadingPage(window)
        self.model_page = ModelPage(window.ai)
        self.pages = QtWidgets.QTabWidget()
        self.pages.addTab(self.paper_page, "Paper")
        self.pages.addTab(self.reading_page, "Reading")
        self.pages.addTab(self.model_page, "Model")
        close = QtWidgets.QDialogButtonBox(QtWidgets.QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.close)
        box = QtWidgets.QVBoxLayout(self)
        box.addWidget(self.pages, 1)
        box.addWidget(close)

    def refresh(self) -> None:
        self.paper_page.refresh()
        self.reading_page.refresh()
        self.model_page.refresh()
