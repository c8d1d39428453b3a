"""The library in the window: ``ecgviewer find``'s query grammar in a box, the matching
recordings in a table (sorted by the library, so the order holds over every match, not only the
rows shown), a row opens its recording. Indexing a folder runs off the UI thread with progress
and cancel. Every query and every index run opens its own connection in its worker thread
(SQLite's WAL lets them read while another instance writes); the panel holds none.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6 import QtCore, QtWidgets

from ecgviewer.errors import EcgError
from ecgviewer.library import db, listing, query

LIMIT = 500  # rows shown; the count says how many match in all
DEBOUNCE_MS = 250  # a query runs once typing pauses
EXAMPLES = "qtc>480 sex=F \u00b7 statement=CLBBB qrs>150 \u00b7 finding=MI>0.5 \u00b7 date>=2020"
_ROOT = QtCore.QModelIndex()
RunTask = Callable[..., object]  # the window's ``TaskRunner.run``


class FoundModel(QtCore.QAbstractTableModel):
    """The rows of one query result, in ``listing.cells``' words, reordered for a reader: the
    record (its file's name; the whole path and any reason in the tooltip), the measurements and
    findings the query named (beside the name: a narrow dock shows them unscrolled), when, who,
    the statements, then the technical columns."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.result = query.Result([], 0, [])
        self._cells: list[list[str]] = []
        self._header: list[str] = []
        self._sorts: list[str | None] = []
        self._numeric: set[int] = set()

    def set_result(self, result: query.Result) -> None:
        self.beginResetModel()
        self.result = result
        names = listing.header(result)
        asked = names[listing.FIRST : len(names) - 2]  # the measurements and findings the query names
        picked = [names.index(n) for n in ("path", *asked, "date", "age", "sex")]
        rest = [names.index(n) for n in ("note", "format", "s", "Hz", "leads")]
        sorts, numeric = listing.sort_keys(result), listing.numeric(result)
        self._header = ["record", *(names[i] for i in picked[1:]), "statements", *(names[i] for i in rest)]
        self._sorts = [sorts[i] for i in picked] + ["path"] + [sorts[i] for i in rest]
        self._numeric = {k for k, i in enumerate([*picked, -1, *rest]) if i in numeric}
        self._cells = []
        for r in result.rows:
            c = listing.cells(r, result)
            shown = [Path(r.path).name, *(c[i] for i in picked[1:]), _said(r), *(c[i] for i in rest)]
            self._cells.append(shown)
        self.endResetModel()

    def rowCount(self, parent=_ROOT) -> int:
        return 0 if parent.isValid() else len(self._cells)

    def columnCount(self, parent=_ROOT) -> int:
        return 0 if parent.isValid() else len(self._header)

    def headerData(self, section, orientation, role=QtCore.Qt.ItemDataRole.DisplayRole):
        if role == QtCore.Qt.ItemDataRole.DisplayRole and orientation == QtCore.Qt.Orientation.Horizontal:
            return self._header[section]
        return None

    def data(self, index, role=QtCore.Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        if role == QtCore.Qt.ItemDataRole.DisplayRole:
            return self._cells[index.row()][index.column()]
        if role == QtCore.Qt.ItemDataRole.ToolTipRole:
            row = self.result.rows[index.row()]
            return "\n".join(x for x in (row.path, row.reason) if x)
        if role == QtCore.Qt.ItemDataRole.TextAlignmentRole and index.column() in self._numeric:
            return int(QtCore.Qt.AlignmentFlag.AlignRight | QtCore.Qt.AlignmentFlag.AlignVCenter)
        return None

    def sort_key(self, column: int) -> str | None:
        """The library's sort key of a column (None: it cannot be sorted by)."""
        return self._sorts[column]


def _said(row: query.Found) -> str:
    """The row's statements, ours and the device's first, each once."""
    order = {"ours": 0, "device": 1, "labels": 2}
    texts = [str(s["text"]) for s in sorted(row.statements, key=lambda s: order.get(str(s["source"]), 3))]
    return ", ".join(dict.fromkeys(texts))


class LibraryBrowser(QtWidgets.QWidget):
    """The Library dock: the library file, a query box, the matches, Index folder."""

    openRequested = QtCore.Signal(Path)

    def __init__(self, run_task: RunTask, settings, parent=None) -> None:
        super().__init__(parent)
        self.run_task, self.settings = run_task, settings
        self.sort: str | None = None
        self.index_said = ""  # what the last index run did, until the next query result shows it
        self.model = FoundModel(self)
        self.path_label = QtWidgets.QLabel()
        self.path_label.setWordWrap(True)
        choose = QtWidgets.QPushButton("Library\u2026")
        choose.setToolTip("Choose the library file (ecgviewer index FOLDER --db FILE builds one)")
        choose.clicked.connect(self.choose_library)
        self.index_button = QtWidgets.QPushButton("Index folder\u2026")
        self.index_button.setToolTip("Add every recording under a folder to the library (only what changed)")
        self.index_button.clicked.connect(self.choose_folder)
        self.query = QtWidgets.QLineEdit(placeholderText=EXAMPLES)
        self.query.setClearButtonEnabled(True)
        self.query.setToolTip("Terms that must all hold: NAME OP VALUE, OP one of = != < <= > >= ~ "
                              "(contains). Names: " + ", ".join(query.names()))  # fmt: skip
        completer = QtWidgets.QCompleter(query.names(), self)
        completer.setCaseSensitivity(QtCore.Qt.CaseSensitivity.CaseInsensitive)
        self.query.setCompleter(completer)
        self._timer = QtCore.QTimer(self, singleShot=True, interval=DEBOUNCE_MS)
        self._timer.timeout.connect(self.refresh)
        self.query.textChanged.connect(lambda _t: self._timer.start())
        self.query.returnPressed.connect(self.refresh)
        self.message = QtWidgets.QLabel()
        self.message.setWordWrap(True)
        self.table = QtWidgets.QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.horizontalHeader().setSectionsClickable(True)
        self.table.horizontalHeader().sectionClicked.connect(self._sort_by)
        self.table.selectionModel().currentRowChanged.connect(self._current_changed)
        top = QtWidgets.QHBoxLayout()
        top.addWidget(self.path_label, 1)
        top.addWidget(choose)
        top.addWidget(self.index_button)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addWidget(self.query)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.message)
        self._show_path()

    # -- the library file -----------------------------------------------------------------------
    def library_path(self) -> Path:
        chosen = self.settings.value("library/path", "")
        return Path(str(chosen)) if chosen else db.default_path()

    def set_library_path(self, path: Path) -> None:
        self.settings.set_value("library/path", str(path))
        self._show_path()
        self.refresh()

    def _show_path(self) -> None:
        path = self.library_path()
        self.path_label.setText(f"Library: {path.name}")
        self.path_label.setToolTip(str(path))

    def choose_library(self) -> None:
        path, _ = QtWidgets.QFileDialog.getSaveFileName(
            self, "Library file (a new name starts a new library)", str(self.library_path()),
            "ecgviewer library (*.sqlite);;All files (*)",
            options=QtWidgets.QFileDialog.Option.DontConfirmOverwrite,
        )  # fmt: skip
        if path:
            self.set_library_path(Path(path))

    # -- queries --------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Run the query in the box on the library (off the UI thread); the table follows."""
        self._timer.stop()
        path, text, sort = self.library_path(), self.query.text(), self.sort
        if not path.expanduser().is_file():  # the window's own way to build one, not the command line's
            self.message.setStyleSheet("")
            self.message.setText(f"No library yet ({path.name}): \u201cIndex folder\u2026\u201d adds "
                                 "every recording under a folder to it.")  # fmt: skip
            self.model.set_result(query.Result([], 0, []))
            return

        def find(_progress) -> query.Result | EcgError:
            try:
                conn = db.open_library(path, create=False)
            except EcgError as exc:
                return exc
            try:
                return query.find(conn, text, sort=sort, limit=LIMIT)
            except EcgError as exc:  # a term that cannot be read, a damaged library
                return exc
            finally:
                conn.close()

        self.run_task("library", "Library query", find, self._show, quiet=True)

    def _show(self, result: query.Result | EcgError) -> None:
        if isinstance(result, EcgError):
            self.message.setStyleSheet("color:#a00000;")
            self.message.setText(str(result))
            return
        self.message.setStyleSheet("")
        shown, total = len(result.rows), result.total
        more = f"; the first {shown} shown (refine the query)" if total > shown else ""
        order = f", sorted by {self.sort}" if self.sort else ""
        said, self.index_said = self.index_said, ""  # the last index run, said once beside the matches
        self.message.setText(f"{said + '. ' if said else ''}{total} matching recordings{more}{order}")
        self.model.set_result(result)
        self.table.resizeColumnsToContents()

    def _sort_by(self, column: int) -> None:
        key = self.model.sort_key(column)
        if key is None:
            return
        self.sort = f"-{key}" if self.sort == key else key  # a second click reverses
        self.refresh()

    def _current_changed(self, current: QtCore.QModelIndex, _previous) -> None:
        """A readable row opens its recording; an unreadable or missing one says why, in place."""
        if current.isValid():
            row = self.model.result.rows[current.row()]
            if row.status == "ok":
                self.openRequested.emit(Path(row.path))
            else:
                self.message.setStyleSheet("color:#a00000;")
                self.message.setText(
                    f"{Path(row.path).name} is {row.status}: {row.reason or 'no reason kept'}"
                )

    def select_path(self, path: Path) -> None:
        """Select the row of ``path`` when the query shows it, else none: the selection follows the
        recording open in the window, whichever way it was opened."""
        rows, wanted = self.model.result.rows, Path(path).resolve()
        at = next((k for k, r in enumerate(rows) if Path(r.path).resolve() == wanted), None)
        selection = self.table.selectionModel()
        selection.blockSignals(True)  # following the window must not open it again
        try:
            if at is None:
                self.table.clearSelection()
                selection.clearCurrentIndex()
            else:
                self.table.selectRow(at)
        finally:
            selection.blockSignals(False)

    # -- indexing -------------------------------------------------------------------------------
    def choose_folder(self) -> None:
        folder = QtWidgets.QFileDialog.getExistingDirectory(self, "Index the recordings under")
        if folder:
            self.index_folder(Path(folder))

    def index_folder(self, folder: Path) -> None:
        """Index ``folder`` into the library on the task runner (progress and Cancel in the status
        bar); the query runs again when it ends."""
        from ecgviewer.library.index import Summary, index

        path = self.library_path()

        def work(progress) -> Summary:
            going = {"on": True}
            conn = db.open_library(path)
            try:
                return index(folder, conn, progress=lambda d, t: going.update(on=progress(d / max(t, 1))),
                             cancelled=lambda: not going["on"])  # fmt: skip
            finally:
                conn.close()

        def done(summary: Summary) -> None:
            self.index_said = summary.said() + (
                "; the unreadable ones are listed: select one for the reason" if summary.unreadable else ""
            )
            if summary.unreadable:  # list them, each with its reason (a click says it in full)
                self.query.setText("status=unreadable")
            self.refresh()

        self.run_task("library-index", f"Indexing {folder.name}", work, done)
