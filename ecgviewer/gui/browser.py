"""Record browser: the recordings of a folder (or of the command line) in a filterable table.

A PTB-XL tree shows ecg_id, age, sex, labels and fold. Moving the selection opens the
record, so a reader can walk a folder with the arrow keys.
"""

from __future__ import annotations

from pathlib import Path

from PySide6 import QtCore, QtWidgets

from ecgviewer.io.catalog import Entry

COLUMNS = ("Record", "ecg_id", "Age", "Sex", "Labels", "Fold")
_ROOT = QtCore.QModelIndex()


class EntryModel(QtCore.QAbstractTableModel):
    """A plain list of entries (no per-cell objects, so 20,000 rows load instantly)."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.entries: list[Entry] = []

    def set_entries(self, entries: list[Entry]) -> None:
        self.beginResetModel()
        self.entries = entries
        self.endResetModel()

    def rowCount(self, parent=_ROOT) -> int:
        return 0 if parent.isValid() else len(self.entries)

    def columnCount(self, parent=_ROOT) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section, orientation, role=QtCore.Qt.ItemDataRole.DisplayRole):
        if role == QtCore.Qt.ItemDataRole.DisplayRole and orientation == QtCore.Qt.Orientation.Horizontal:
            return COLUMNS[section]
        return None

    def data(self, index, role=QtCore.Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        e = self.entries[index.row()]
        col = index.column()
        if role == QtCore.Qt.ItemDataRole.DisplayRole:
            return (
                e.name,
                "" if e.ecg_id is None else str(e.ecg_id),
                "" if e.age is None else ("over 89" if e.age >= 300 else f"{e.age:g}"),
                e.sex,
                " ".join(e.labels),
                e.fold,
            )[col]
        if role == QtCore.Qt.ItemDataRole.UserRole:  # sort key
            return (
                e.name,
                e.ecg_id or 0,
                e.age if e.age is not None else -1,
                e.sex,
                " ".join(e.labels),
                e.fold,
            )[col]
        if role == QtCore.Qt.ItemDataRole.ToolTipRole:
            return str(e.path)
        return None


class RecordBrowser(QtWidgets.QWidget):
    openRequested = QtCore.Signal(Path)
    folderRequested = QtCore.Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.model = EntryModel(self)
        self.proxy = QtCore.QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setFilterKeyColumn(-1)
        self.proxy.setFilterCaseSensitivity(QtCore.Qt.CaseSensitivity.CaseInsensitive)
        self.proxy.setSortRole(QtCore.Qt.ItemDataRole.UserRole)
        self.folder_label = QtWidgets.QLabel("No folder")
        self.folder_label.setWordWrap(True)
        choose = QtWidgets.QPushButton("Open folder\u2026")
        choose.clicked.connect(self.folderRequested)
        choose.setToolTip("List the recordings of a folder (Ctrl+Shift+O)")
        self.filter = QtWidgets.QLineEdit(placeholderText="Filter: label, sex, id, name\u2026")
        self.filter.setToolTip("Show the rows whose text contains this (for example IMI or female)")
        self.filter.setClearButtonEnabled(True)
        self.filter.textChanged.connect(self._filter_changed)
        self.table = QtWidgets.QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(0, QtCore.Qt.SortOrder.AscendingOrder)
        self.table.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.selectionModel().currentRowChanged.connect(self._current_changed)
        self.count = QtWidgets.QLabel("")
        top = QtWidgets.QHBoxLayout()
        top.addWidget(self.folder_label, 1)
        top.addWidget(choose)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addWidget(self.filter)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.count)

    def set_entries(self, title: str, entries: list[Entry]) -> None:
        self.folder_label.setText(title)
        self.model.set_entries(entries)
        ptb = any(e.ecg_id is not None for e in entries)
        for col in range(1, len(COLUMNS)):
            self.table.setColumnHidden(col, not ptb)
        self.table.resizeColumnToContents(0)
        self._update_count()

    def _filter_changed(self, text: str) -> None:
        self.proxy.setFilterFixedString(text.strip())
        self._update_count()

    def _update_count(self) -> None:
        shown, total = self.proxy.rowCount(), self.model.rowCount()
        self.count.setText(f"{shown} of {total} recordings" if shown != total else f"{total} recordings")

    def _current_changed(self, current: QtCore.QModelIndex, _previous) -> None:
        if current.isValid():
            row = self.proxy.mapToSource(current).row()
            self.openRequested.emit(self.model.entries[row].path)

    def select_path(self, path: Path) -> None:
        """Highlight ``path`` if listed, without re-opening it."""
        for row, e in enumerate(self.model.entries):
            if e.path == path:
                idx = self.proxy.mapFromSource(self.model.index(row, 0))
                if idx.isValid():
                    sel = self.table.selectionModel()
                    sel.blockSignals(True)
                    self.table.setCurrentIndex(idx)
                    sel.blockSignals(False)
                    self.table.scrollTo(idx)
                return
