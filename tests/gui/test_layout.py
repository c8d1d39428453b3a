"""Geometry at the screen sizes clinicians use (issue 25): the findings stay in view, every column
without a horizontal scrollbar, nothing drawn over them."""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

from ecgviewer.gui.diagnosis import COLUMNS, rows_shown
from tests.helpers import analysed

SIZES = ((1920, 1080, 5), (1366, 768, 3))  # window size, findings rows that must show


def _rows(tree: QtWidgets.QTreeWidget) -> list[QtWidgets.QTreeWidgetItem]:
    """The rows as drawn, top to bottom (expanded children under their group)."""
    out, item = [], tree.topLevelItem(0)
    while item is not None:
        out.append(item)
        item = tree.itemBelow(item)
    return out


def test_findings_table_shows_its_top_rows_and_every_column(qtbot, ai_window, sample) -> None:
    w = ai_window
    analysed(qtbot, w, lambda: w.open_file(sample))
    d = w.ai.panel.diagnosis
    tree = d.tree
    scroll = w.ai_dock.widget()
    assert isinstance(scroll, QtWidgets.QScrollArea)
    for width, height, rows in SIZES:
        w.resize(width, height)
        qtbot.waitUntil(lambda h=height: w.height() == h, timeout=5000)
        QtWidgets.QApplication.processEvents()
        assert rows_shown(w.height()) == rows
        view = tree.viewport().rect()
        assert not tree.horizontalScrollBar().isVisible()
        header = tree.header()
        for k in range(len(COLUMNS)):  # every column whole inside the table
            left = header.sectionViewportPosition(k)
            assert left >= 0 and left + header.sectionSize(k) <= view.width(), (width, COLUMNS[k])
        drawn = _rows(tree)
        assert len(drawn) >= rows
        for item in drawn[:rows]:  # the top findings fully drawn, not scrolled away
            assert view.contains(tree.visualItemRect(item)), (width, item.text(0))
        # and the table itself in view in the dock, not below its fold, nothing drawn over it
        bottom = tree.mapTo(scroll.viewport(), QtCore.QPoint(0, tree.height())).y()
        assert scroll.verticalScrollBar().value() == 0 and bottom <= scroll.viewport().height(), width
        below = d.record_labels.geometry()
        assert below.top() > tree.geometry().bottom(), width
        # positive findings first: the first row is a positive decision when there is one
        positive = [i for i in drawn if i.text(3) == "positive"]
        if positive:
            assert drawn[0].text(3) == "positive" or drawn[0].childCount(), width
