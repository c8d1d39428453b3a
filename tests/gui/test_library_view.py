"""The Library dock: index a folder off the UI thread, query it with ``find``'s grammar, sort by
the library, a bad term in words, a row opens its recording."""

from __future__ import annotations

import shutil
from pathlib import Path

from PySide6 import QtCore

from ecgviewer.gui.files import LIBRARY_WIDTH
from ecgviewer.library import db, query
from tests.conftest import REPO, SAMPLE
from tests.helpers import ptbxl_patient

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
    qtbot.waitUntil(  # as wide as the page leaves it at x0.7 (issue 73), up to what its columns need
        lambda: (
            window.library_dock.width() >= min(LIBRARY_WIDTH, window.width() // 3) - 8
            or (
                window.paper.zoom >= 0.7
                and window.library_dock.width() >= window.library_dock.minimumSizeHint().width()
            )
        ),
        timeout=5000,
    )
    qtbot.waitUntil(lambda: "No library yet" in lib.message.text(), timeout=10000)  # not built yet
    assert "Index folder" in lib.message.text() and "ecgviewer index" not in lib.message.text()
    lib.index_folder(folder)
    qtbot.waitUntil(lambda: lib.model.rowCount() == 3, timeout=30000)
    said = (
        "ptbxl: 3 recordings found, 3 read, 0 unchanged; the library holds 0 unreadable and 0 missing; "
        "1 file not recognised as an ECG left out (LICENSE.txt)"
    )
    qtbot.waitUntil(lambda: lib.message.text() == f"{said}. 3 matching recordings", timeout=10000)

    lib.query.setText("sex=F")  # typed: runs when typing pauses
    conn = db.open_library(tmp_path / "lib.sqlite", create=False)
    expected = query.find(conn, "sex=F")
    qtbot.waitUntil(lambda: lib.model.rowCount() == len(expected.rows), timeout=10000)
    assert lib.message.text().startswith(f"{expected.total} matching recordings")

    lib.query.setText("age>0")
    qtbot.waitUntil(lambda: lib.model.rowCount() == 3, timeout=10000)
    age = 2  # record, date, age, sex, ... (no measurement asked for)
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


def test_what_the_query_asks_for_stands_beside_the_record(qtbot):
    """A query naming QTc and MI shows them right after the record's name, the numbers the
    listing gives, so that a narrow dock shows them without scrolling."""
    from ecgviewer.gui.library_view import FoundModel

    row = query.Found(7, "/x/00180_lr.hea", "WFDB", "ok", None, "1986-03-07 06:22:16", 71.0, "female",
                      10.0, 100.0, ["I"] * 12, None, "PTB-XL", "180", "1", 9, 1000, "ab",
                      measurements={"device": {"qtc": 430.0}, "ours": {"qtc": 489.4}},
                      findings={"MI": 0.8123})  # fmt: skip
    model = FoundModel()
    model.set_result(query.Result([row], 1, ["qtc"], ["MI"]))
    names = [model.headerData(i, QtCore.Qt.Orientation.Horizontal) for i in range(model.columnCount())]
    cells = [model.data(model.index(0, i)) for i in range(model.columnCount())]
    assert names[:5] == ["record", "QTc (ms)", "P(MI)", "date", "age"], names
    assert cells[:3] == ["00180_lr.hea", "489", "0.81"], cells


def test_serial_comparison_of_a_ptbxl_patient(window, qtbot, tmp_path, shared):
    """Two ECGs of one patient on one paper scale, the earlier one's median beats under ours,
    and the measurement deltas; a recording the library does not know says so."""
    tree, heads = ptbxl_patient(shared, tmp_path)
    window.resize(1366, 768)  # the smaller screen, with the Library dock beside the Analysis one
    window.library.set_library_path(tmp_path / "lib.sqlite")
    window.show_library()
    window.library.index_folder(tree)
    qtbot.waitUntil(lambda: window.library.model.rowCount() == len(heads), timeout=30000)

    window.open_file(REPO / "resources/samples/ptbxl/records500/00000/00003_hr.hea")  # not in it
    qtbot.waitUntil(
        lambda: window.recording is not None and window.recording.name.startswith("00003"), timeout=10000
    )
    window.compare_earlier()
    assert "no other ECG of this patient" in window.statusBar().currentMessage()
    assert not window.views.isTabEnabled(2)

    window.open_file(heads[-1])
    qtbot.waitUntil(
        lambda: window.recording is not None and window.recording.path == heads[-1], timeout=10000
    )
    window.compare_earlier()
    qtbot.waitUntil(lambda: window.views.currentIndex() == 2, timeout=60000)
    s = window.serial
    assert s.this_paper.recording.path == heads[-1] and s.earlier_paper.recording.path == heads[-2]
    assert s.this_paper.zoom == s.earlier_paper.zoom  # one paper scale
    assert s.median.earlier is not None and s.median.measurements is not None
    for squeeze in (False, True):  # then a narrow centre: the pages shrink, the deltas stay readable
        if squeeze:
            wider = window.library_dock.width() + s.width() - 500
            window.resizeDocks([window.library_dock], [wider], QtCore.Qt.Orientation.Horizontal)
            qtbot.waitUntil(lambda: s.width() < 560, timeout=5000)
        for paper in (s.this_paper, s.earlier_paper):  # each whole page in view, none cut off
            view = paper.vb.viewRect()
            assert view.left() <= 0.01 and view.top() <= 0.01, view
            assert view.right() >= paper.page.width - 0.01 and view.bottom() >= paper.page.height - 0.01
        assert window.width() <= 1366, window.width()  # the screen still holds the window
        header = s.table.horizontalHeader()  # every column of the deltas, none cut off
        assert header.length() <= s.table.viewport().width(), (header.length(), s.table.viewport().width())
        assert s.median.width() >= s.table.width() - 1 and s.median.height() >= 150, s.median.size()
    rows = {
        s.table.item(r, 0).text(): [s.table.item(r, c).text() for c in (1, 2, 3)]
        for r in range(s.table.rowCount())
    }
    before, after, change = rows["QTc (ms)"]
    assert int(change) == int(after) - int(before) or abs(int(after) - int(before) - int(change)) <= 1
    assert "Earlier ECG:" in s.earlier_label.text() and "This ECG:" in s.this_label.text()


def test_an_index_run_says_what_it_did_and_lists_the_unreadable(window, qtbot, tmp_path):
    """At the end of an index: the counts, then the unreadable files listed; selecting one says
    why in place. Opening a recording another way moves the library's selection to it, or off."""
    folder = _library(window, tmp_path)
    (folder / "broken.edf").write_text("0       not an EDF header")
    (folder / "random.xml").write_text("<notes><note>not an ECG</note></notes>")  # not one: counted
    window.show_library()
    lib = window.library
    lib.index_folder(folder)
    qtbot.waitUntil(lambda: "unreadable ones are listed" in lib.message.text(), timeout=30000)
    assert "4 recordings found, 4 read" in lib.message.text() and "holds 1 unreadable" in lib.message.text()
    assert "2 files not recognised as an ECG left out (LICENSE.txt, random.xml)" in lib.message.text()
    assert lib.query.text() == "status=unreadable" and lib.model.rowCount() == 1
    lib.table.selectRow(0)
    assert lib.message.text().startswith("broken.edf is unreadable: ") and window.recording is None

    lib.query.setText("")
    qtbot.waitUntil(lambda: lib.model.rowCount() == 3, timeout=10000)
    paths = [Path(r.path) for r in lib.model.result.rows]
    with qtbot.waitSignal(lib.openRequested):
        lib.table.selectRow(0)
    qtbot.waitUntil(lambda: window.recording is not None and window.recording.path == paths[0], timeout=10000)
    window.open_file(paths[2])  # as Ctrl+O or the Records tab would
    qtbot.waitUntil(lambda: window.recording.path == paths[2], timeout=10000)
    assert [i.row() for i in lib.table.selectionModel().selectedRows()] == [2]
    window.open_file(SAMPLE)  # not in the library: nothing selected there
    qtbot.waitUntil(lambda: window.recording.path == SAMPLE, timeout=10000)
    assert not lib.table.selectionModel().selectedRows()
