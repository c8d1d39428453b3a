"""The Library dock: index a folder off the UI thread, query it with ``find``'s grammar, sort by
the library, a bad term in words, a row opens its recording."""

from __future__ import annotations

import shutil
from pathlib import Path

from PySide6 import QtCore

from ecgviewer.library import db, query
from tests.conftest import REPO

SAMPLES = REPO / "resources/samples/ptbxl"


def _library(window, tmp_path: Path) -> Path:
    """The bundled PTB-XL samples indexed into a fresh library through the dock's Index folder."""
    folder = tmp_path / "ptbxl"
    shutil.copytree(SAMPLES, folder)
    window.library.set_library_path(tmp_path / "lib.sqlite")
    return folder


def test_index_query_sort_and_open(window, qtbot, tmp_path):
    folder = _library(window, tmp_path)
    window.show_library()
    lib = window.library
    assert window.library_dock.isVisible() and lib.query.hasFocus()
    qtbot.waitUntil(lambda: "no library at" in lib.message.text(), timeout=10000)  # not built yet
    lib.index_folder(folder)
    qtbot.waitUntil(lambda: lib.model.rowCount() == 3, timeout=30000)
    qtbot.waitUntil(lambda: lib.message.text() == "3 matching recordings", timeout=10000)

    lib.query.setText("sex=F")  # typed: runs when typing pauses
    conn = db.open_library(tmp_path / "lib.sqlite", create=False)
    expected = query.find(conn, "sex=F")
    qtbot.waitUntil(lambda: lib.model.rowCount() == len(expected.rows), timeout=10000)
    assert lib.message.text().startswith(f"{expected.total} matching recordings")

    lib.query.setText("age>0")
    qtbot.waitUntil(lambda: lib.model.rowCount() == 3, timeout=10000)
    age = 2  # record, date, age, sex, ...
    assert lib.model.headerData(age, QtCore.Qt.Orientation.Horizontal) == "age"
    lib._sort_by(age)  # as a header click does; a second click reverses
    qtbot.waitUntil(lambda: lib.sort == "age" and "sorted by age" in lib.message.text(), timeout=10000)
    ages = [r.age for r in lib.model.result.rows]
    assert ages == sorted(ages)
    lib._sort_by(age)
    qtbot.waitUntil(
        lambda: [r.age for r in lib.model.result.rows] == sorted(ages, reverse=True), timeout=10000
    )
    assert lib.sort == "-age"

    lib.query.setText("qtx>480")
    qtbot.waitUntil(lambda: "query term 'qtx>480'" in lib.message.text(), timeout=10000)
    assert lib.model.rowCount() == 3  # the last good result stays

    first = Path(lib.model.result.rows[0].path)
    with qtbot.waitSignal(lib.openRequested) as sig:
        lib.table.selectRow(0)
    assert sig.args == [first]
    qtbot.waitUntil(lambda: window.recording is not None and window.recording.path == first, timeout=10000)
    conn.close()
