"""The beat list in the window (pytest-qt, offscreen): counts, rate range and events in the Beats
dock, a row that jumps the paper to its event, the heart-rate trend on the overview strip, and a
list of a recording no longer on screen never shown."""

from __future__ import annotations

import numpy as np
from PySide6 import QtWidgets

from ecgviewer import assets
from ecgviewer.io import load
from ecgviewer.summary import clock
from tests.conftest import SAMPLE
from tests.helpers import MEASURE_TIMEOUT_MS as TIMEOUT_MS
from tests.helpers import button_cut_off, with_pause
from tests.measure.beat_records import flutter_episode, sample_beat

PAUSE_AT_S = 60.0


def _listed(qtbot, w, rec):
    with qtbot.waitSignal(
        w.beats.listed, timeout=4 * TIMEOUT_MS, check_params_cb=lambda b: b is not None
    ) as s:
        w.set_recording(rec)
    return s.args[0]


def test_the_beats_dock_lists_counts_and_events_and_jumps_to_them(qtbot, measure_window):
    w = measure_window
    rec = with_pause(PAUSE_AT_S)
    beats = _listed(qtbot, w, rec)
    panel = w.beats.panel
    assert panel.summary.text().startswith(f"{len(beats.t_s)} beats in 2:03.0\n")
    assert "Heart rate" in panel.summary.text() and "bpm" in panel.summary.text()
    kinds = [panel.table.item(r, 1).text() for r in range(panel.table.rowCount())]
    assert "pause" in kinds
    row = kinds.index("pause")
    assert panel.table.item(row, 0).text() == clock(beats.events[row].start_s)
    assert abs(beats.events[row].start_s - PAUSE_AT_S) < 1.0
    assert "s without a beat" in panel.table.item(row, 2).text()
    panel.table.itemActivated.emit(panel.table.item(row, 0))
    start = beats.events[row].start_s
    assert abs(w.paper.t0 - max(0.0, start - 1.0)) < 0.05
    # the overview strip shows the heart-rate trend on its right-hand axis
    assert w.overview.isVisible() and w.overview.getAxis("right").isVisible()
    x, y = w.overview._trend.getData()
    assert len(x) == len(beats.trend_s) and np.nanmax(y) < 120


def test_ventricular_fibrillation_is_a_bold_event_and_said_in_the_summary(qtbot, measure_window):
    from ecgviewer.measurements import EVENT_KINDS

    w = measure_window
    beats = _listed(qtbot, w, flutter_episode(sample_beat()))
    panel = w.beats.panel
    assert "Ventricular flutter or fibrillation? 1 stretch" in panel.summary.text()
    kinds = [panel.table.item(r, 1).text() for r in range(panel.table.rowCount())]
    row = kinds.index(EVENT_KINDS["ventricular fibrillation"])
    assert all(panel.table.item(row, c).font().bold() for c in range(3))
    assert not any(panel.table.item(r, 1).font().bold() for r in range(len(kinds)) if r != row)
    assert len(beats.t_s) > 100
    # the models behind it are one click away, each card with the file's checksum
    delineator, classifier, flutter = panel.cards.menu().actions()
    delineator.trigger()
    assert assets.beat_delineator_path().stem in panel.card_dialog.windowTitle()
    panel.card_dialog.close()
    flutter.trigger()
    assert "flutter-vfdb" in panel.card_dialog.windowTitle()
    assert "research use" in panel.card_dialog.browser.toPlainText()
    panel.card_dialog.close()
    classifier.trigger()
    assert "beats-mitdb" in panel.card_dialog.windowTitle()
    panel.card_dialog.close()


def test_a_list_for_a_recording_no_longer_on_screen_is_dropped(qtbot, measure_window):
    w = measure_window
    first = with_pause(PAUSE_AT_S)
    w.set_recording(first)
    second = load(SAMPLE)
    beats = _listed(qtbot, w, second)
    assert beats.duration_s == second.duration and w.beats.beats is beats
    qtbot.wait(200)
    assert w.beats.beats is beats  # the first recording's list, if it ever ended, was not shown


def test_turning_the_measurements_off_clears_the_list(qtbot, measure_window):
    w = measure_window
    _listed(qtbot, w, load(SAMPLE))
    w.measure_action.trigger()
    assert not w.beats_dock.isVisible() and w.beats.beats is None
    assert "measurements are on" in w.beats.panel.summary.text()


def _on_a_laptop(qtbot, w) -> None:
    """The window at 1366x768 with a 2 min recording's beat list, the Beats dock in front."""
    w.resize(1366, 768)
    qtbot.waitUntil(lambda: w.height() == 768, timeout=5000)
    _listed(qtbot, w, with_pause(PAUSE_AT_S))
    w.beats_dock.raise_()
    QtWidgets.QApplication.processEvents()


def test_on_a_laptop_screen_the_notes_take_one_line(qtbot, measure_window):
    w = measure_window
    _on_a_laptop(qtbot, w)
    details = w.beats.panel.details
    assert details.height() <= 1.5 * details.fontMetrics().height()  # one line, however long the notes
    assert details.toolTip().startswith("Beats found in") and details.full_text() == details.toolTip()
    assert details.text().endswith("\u2026") and len(details.text()) < len(details.full_text())
    # the model cards' button keeps room for its menu's arrow beside the text
    assert button_cut_off(w.beats.panel.cards) is None


def test_on_a_laptop_screen_the_events_show_rows_and_the_analysis_keeps_its_room(qtbot, measure_window):
    """At 1366x768 the interpretation in front takes the height it needs, so that the beat list's
    event table under it shows several rows; the model's detail, a tab behind it, has two thirds
    of the column when brought in front."""
    w = measure_window
    _on_a_laptop(qtbot, w)
    assert not w.interpretation_dock.visibleRegion().isEmpty()  # in front, as a window opens
    table = w.beats.panel.table
    rows = lambda: table.viewport().height() / table.verticalHeader().defaultSectionSize()  # noqa: E731
    qtbot.waitUntil(lambda: rows() >= 4, timeout=5000)
    column = w.interpretation_dock.height() + w.beats_dock.height()
    w.ai_dock.raise_()
    qtbot.waitUntil(lambda: w.ai_dock.height() >= 0.6 * column, timeout=5000)
    w.interpretation_dock.raise_()
    qtbot.waitUntil(lambda: rows() >= 4, timeout=5000)


def test_a_pressed_beats_dock_keeps_every_line_of_the_summary(qtbot):
    """A day's summary runs to more lines than a 2 min one (MIT-BIH 208's five: the counts, a lead
    not read, the ectopy). A dock pressed to its least height (a long interpretation above it at
    1366x768) gives the panel its minimum size: that minimum holds every line of the summary, not
    the first ones with the last cut off under the notes."""
    from ecgviewer.gui.beats_panel import BeatsPanel

    panel = BeatsPanel()
    qtbot.addWidget(panel)
    panel.resize(390, 400)  # the right column's width at 1366x768
    panel.show()
    panel.summary.setText(
        "2957 beats in 30:05.6\n1749 normal, 2 supraventricular premature, 1183 ventricular ectopic, "
        "23 unreadable\nV1 not read for 3 min of 30 min (drowned in noise)\nVentricular ectopic: 527 "
        "single, 325 couplets, 2 runs (longest 3 beats), ventricular trigeminy 41 times\nHeart rate "
        "82-121 bpm, mean 102 bpm"
    )
    QtWidgets.QApplication.processEvents()
    panel.resize(390, panel.minimumSizeHint().height())
    QtWidgets.QApplication.processEvents()
    summary = panel.summary
    assert summary.height() >= summary.heightForWidth(summary.width()) > 4 * summary.fontMetrics().height()
    assert summary.geometry().bottom() < panel.details.geometry().top()  # the notes under it, not over it
