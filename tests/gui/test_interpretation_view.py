"""Issue 73 parts 3 and 4 in the window: the cart's header and numbered statements of the ECG
open, the reader's keyboard over-read, its confirmation kept in the library and printed in the
report; several ECGs in a row, each showing its own."""

from __future__ import annotations

from PySide6 import QtCore, QtGui

from ecgviewer import NOTICE
from ecgviewer.interpretation import GROUPS
from ecgviewer.library import db, query
from ecgviewer.overread import UNCONFIRMED
from tests.helpers import AI_TIMEOUT_MS, displayed
from tests.report.reading import flat, pdf_pages

KEY = QtCore.Qt.Key
CTRL = QtCore.Qt.KeyboardModifier.ControlModifier


def _open(qtbot, w, path) -> None:
    """Open ``path`` and wait for its measurements, its analysis and its stored over-read."""
    with qtbot.waitSignals([w.ai.resultShown, w.measure.measured], timeout=AI_TIMEOUT_MS):
        w.open_file(path)
    qtbot.waitUntil(lambda: w.interpretation.sha256 is not None, timeout=10000)


def _statements(panel) -> list[str]:
    return [s.text for s in panel.statements]


def test_the_reader_confirms_by_keyboard_and_the_report_and_library_say_so(
    qtbot, ai_window, sample, private_library, tmp_path
):
    w = ai_window
    w.settings.set_reader("Dr Ada Test")
    _open(qtbot, w, sample)
    c, p = w.interpretation, w.interpretation.panel
    assert w.interpretation_dock.isVisible() and not w.interpretation_dock.visibleRegion().isEmpty()
    assert NOTICE in p.notice.text() and p.card_button.isVisible()  # the model speaks here too
    assert p.header.text().startswith("Vent. rate ") and "QT/QTc " in p.header.text()
    assert p.status.text() == UNCONFIRMED
    proposed = _statements(p)
    assert "Sinus rhythm" in proposed
    assert all(s.evidence for s in p.statements)  # each says what stands behind it
    p.select(next(i for i, s in enumerate(p.statements) if s.code == "SR"))
    assert (
        "measured: rate " in p.evidence.text()
        and "criterion: P waves upright in I and II" in p.evidence.text()
    )
    groups = [p.list.item(r).text() for r in range(p.list.count()) if p.list.item(r).text() in GROUPS]
    assert groups == sorted(groups, key=GROUPS.index)  # rhythm, conduction, morphology
    assert not private_library.exists()  # reading an ECG writes nothing
    formula = w.measure.panel.formula  # another QTc formula: the header says it at once
    formula.setCurrentIndex(formula.findData("Fridericia"))
    formula.activated.emit(formula.currentIndex())
    assert "ms (Fridericia)" in p.header.text()

    p.box.setText("left axis deviation")  # the vocabulary's wording, found whatever the case
    qtbot.keyClick(p.box, KEY.Key_Return)
    assert p.statements[-1].code == "LAD" and p.statements[-1].text == "Left axis deviation"
    p.box.setText("Compared with 2019: no change")  # free text
    qtbot.keyClick(p.box, KEY.Key_Return)
    assert p.statements[-1].code is None
    p.list.setFocus()
    p.select(0)
    qtbot.keyClick(p.list, KEY.Key_Delete)
    assert _statements(p) == [*proposed[1:], "Left axis deviation", "Compared with 2019: no change"]
    qtbot.keyClick(p.list, KEY.Key_Return, CTRL)
    assert c.read is not None and c.read.confirmed
    assert p.status.text().startswith("Confirmed by Dr Ada Test, ")
    assert proposed[0] in p.original.text() and p.original.isVisible()  # the computer's, apart

    def found() -> query.Result:  # the file is listed in the library off the UI thread
        conn = db.open_library(private_library, create=False)
        try:
            return query.find(conn, "confirmed=yes reader~ada")
        finally:
            conn.close()

    qtbot.waitUntil(lambda: found().total == 1, timeout=10000)
    assert found().rows[0].path == str(sample.resolve())

    with qtbot.waitSignal(w.reportWritten, timeout=AI_TIMEOUT_MS):
        w.export_report(tmp_path / "read.pdf")
    text = flat(" ".join(t for _, t in pdf_pages(tmp_path / "read.pdf")))
    assert "Confirmed by Dr Ada Test, " in text and "Computer interpretation (as proposed)" in text
    assert "2. Left axis deviation" in text or "Left axis deviation" in text
    assert UNCONFIRMED not in text


def test_each_ecg_shows_its_own_interpretation(qtbot, ai_window, sample, tmp_path):
    """A confirmed ECG, then another: the second shows its own unconfirmed proposal; back to the
    first, its confirmed over-read again."""
    w = ai_window
    w.settings.set_reader("Dr B")
    _open(qtbot, w, sample)
    p = w.interpretation.panel
    p.list.setFocus()
    qtbot.keyClick(p.list, KEY.Key_Return, CTRL)
    assert w.interpretation.read.confirmed
    other = sample.with_name("00008_hr.hea")
    _open(qtbot, w, other)
    assert w.interpretation.read is None and p.status.text() == UNCONFIRMED
    assert "Dr B" not in p.history.text() and not p.original.isVisible()
    assert any(s.evidence.startswith("measured: ") for s in p.statements)
    w.set_measure_enabled(False)  # the measurements' statements and header go with them
    assert not any(s.evidence.startswith("measured: ") for s in p.statements) and p.header.isHidden()
    w.set_measure_enabled(True)
    _open(qtbot, w, sample)
    assert w.interpretation.read.confirmed and p.status.text().startswith("Confirmed by Dr B")


def test_the_page_is_at_least_x0_9_beside_the_interpretation_at_1366x768(qtbot, ai_window, sample):
    w = ai_window
    w.resize(1366, 768)
    _open(qtbot, w, sample)
    qtbot.waitUntil(lambda: w.paper.zoom >= 0.9, timeout=5000)
    qtbot.wait(200)  # the list lays its rows out again at the new width (a delayed layout)
    p = w.interpretation.panel
    assert w.width() <= 1366 and w.height() <= 768
    shown = w.interpretation_dock.geometry()
    assert (
        shown.right() < w.width() and shown.left() >= w.paper.mapTo(w, QtCore.QPoint(w.paper.width(), 0)).x()
    )
    bar = w.statusBar()  # the status bar's permanent labels whole, none cut at the window's edge
    for label in (w.rate_label, w.record_label, w.filter_label, w.scale_label):
        assert label.geometry().right() <= bar.width() and label.width() >= label.sizeHint().width(), (
            label.text()
        )
    view, metrics = p.list.viewport().rect(), QtGui.QFontMetrics(p.list.font())
    for row in range(p.list.count()):  # every statement whole: wrapped, never elided or cut
        item = p.list.item(row)
        rect = p.list.visualItemRect(item)
        assert view.contains(rect), (item.text(), rect, view)
        lines = rect.height() // metrics.lineSpacing()
        assert metrics.horizontalAdvance(item.text()) <= rect.width() * max(lines, 1), item.text()
    # a task dock opened (Library, then Records): the side columns give way, the page stays x0.7
    for open_dock in (w.show_library, lambda: (w.library_dock.hide(), w.browser_dock.show())):
        open_dock()
        qtbot.waitUntil(lambda: w.paper.zoom >= 0.7, timeout=5000)
        assert w.paper.zoom < 0.9  # it did have to give way
    w.browser_dock.hide()
    qtbot.waitUntil(lambda: w.paper.zoom >= 0.9, timeout=5000)  # and the page has its room back


def test_without_measurements_or_model_the_panel_says_so(qtbot, window, sample):
    """Both off (the viewer's own tests' window): nothing is coming, the reader may still write."""
    w = window
    w.open_file(sample)
    qtbot.waitUntil(lambda: w.interpretation.sha256 is not None, timeout=10000)
    p = w.interpretation.panel
    assert p.statements == [] and "are off: type the interpretation below" in p.list.item(0).text()
    assert p.box.isEnabled() and p.header.isHidden()


def test_statements_that_exclude_each_other_are_flagged_under_the_list(qtbot):
    """Shown with the statements, hidden for a consistent interpretation; the report prints the
    same note under its interpretation block."""
    from ecgviewer.gui.interpretation_view import InterpretationPanel
    from ecgviewer.interpretation import Statement
    from ecgviewer.report.content import interpretation_blocks

    p = InterpretationPanel()
    qtbot.addWidget(p)
    p.resize(400, 600)
    p.show()
    sinus = Statement("Sinus rhythm", "SR", "Rhythm", "measured: rate 70 bpm")
    af = Statement("Atrial fibrillation", "AFIB", "Rhythm", "model: positive (p = 0.90)")
    p.show_interpretation([], [sinus, af], UNCONFIRMED, False)
    assert p.disagree.isVisible() and "exclude each other" in p.disagree.text()
    # as drawn: one escaped line has no tag, and Qt guessed plain text ("the model&#x27;s")
    assert "Atrial fibrillation, the model's, exclude" in displayed(p.disagree)
    assert p.disagree.geometry().top() >= p.list.geometry().bottom()  # under the list, not over it
    p.show_interpretation([], [sinus], UNCONFIRMED, False)
    assert p.disagree.isHidden()
    block, _ = interpretation_blocks([sinus, af], None)
    assert block is not None and block.lines[-1] == (
        "Note: Sinus rhythm, measured, and Atrial fibrillation, the model's, exclude each other: "
        "read the tracing."
    )


def test_a_history_of_one_entry_shows_an_apostrophe_as_written(qtbot):
    """One escaped line has no tag for Qt to guess rich text by: the history is rich text always
    ("Dr O&#x27;Brien" before)."""
    from ecgviewer.gui.interpretation_view import InterpretationPanel

    p = InterpretationPanel()
    qtbot.addWidget(p)
    entry = "2026-12-07 21:08 confirmed by Dr O'Brien"
    p.show_interpretation([], [], UNCONFIRMED, True, history=(entry,))
    assert displayed(p.history) == entry
