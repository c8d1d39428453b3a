"""The main window, driven as a user would (pytest-qt, offscreen)."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6 import QtCore, QtGui, QtWidgets

from ecgviewer.gui.main_window import MainWindow
from ecgviewer.gui.settings import Settings
from ecgviewer.render.options import THEMES
from ecgviewer.render.painting import image_array
from tests.helpers import choose, mask, open_wait


def test_opens_the_sample_with_every_panel_and_honest_labels(qtbot, window, sample):
    open_wait(qtbot, window, sample)
    page = window.paper.page
    assert page.layout == "3x4+1" and len(window.paper.traces) == 13
    assert [t.panel.lead for t in window.paper.traces[:4]] == ["I", "aVR", "V1", "V4"]
    status = " ".join(w.text() for w in (window.scale_label, window.filter_label, window.record_label))
    for text in ("25 mm/s", "10 mm/mV", "true scale", "HP 0.5 Hz", "LP 150 Hz", "10.0 s", "12 leads"):
        assert text in status
    assert "25 mm/s, 10 mm/mV" in window.paper.footer_text()
    assert "PTB-XL record 3" in window.info.toPlainText()
    assert window.windowTitle().startswith("00003_hr.hea")


def test_heart_rate_appears_in_the_status_bar(window, sample, qtbot):
    open_wait(qtbot, window, sample)
    qtbot.waitUntil(lambda: "bpm" in window.rate_label.text(), timeout=20000)
    bpm = float(window.rate_label.text().split()[1])
    assert 55 < bpm < 75  # PTB-XL ecg_id 3: sinus rhythm, 10 beats in 10 s


def test_toolbar_changes_layout_speed_gain_and_filters(qtbot, window, sample):
    open_wait(qtbot, window, sample)
    choose(window, "layout", "12x1")
    assert window.paper.page.layout == "12x1" and len(window.paper.traces) == 12
    choose(window, "order", "cabrera")
    assert [t.panel.label for t in window.paper.traces[:3]] == ["aVL", "I", "\u2212aVR"]
    choose(window, "speed", 50.0)
    assert window.paper.page.duration == pytest.approx(5.0)
    choose(window, "gain", 20.0)
    assert "50 mm/s, 20 mm/mV" in window.scale_label.text()
    choose(window, "lowpass", 40.0)
    choose(window, "notch", 50.0)
    assert "LP 40 Hz, notch 50 Hz" in window.filter_label.text()
    # the choices are remembered
    again = Settings(window.settings.qs).view_options()
    assert (again.layout, again.order, again.speed, again.gain) == ("12x1", "cabrera", 50.0, 20.0)
    assert (again.filter.lowpass, again.filter.notch) == (40.0, 50.0)


def test_keyboard_navigation_and_overview_on_a_long_record(window, long_record, qtbot):
    open_wait(qtbot, window, long_record)
    assert window.overview.isVisible()
    qtbot.keyClick(window, QtCore.Qt.Key.Key_Right)
    assert window.paper.t0 == pytest.approx(1.0)
    qtbot.keyClick(window, QtCore.Qt.Key.Key_PageDown)
    assert window.paper.t0 == pytest.approx(11.0)
    assert window.paper.traces[0].panel.t0 == pytest.approx(11.0)
    qtbot.keyClick(window, QtCore.Qt.Key.Key_End)
    assert window.paper.t0 == pytest.approx(110.0)
    assert window.overview.page_region()[0] == pytest.approx(110.0)
    qtbot.keyClick(window, QtCore.Qt.Key.Key_Home)
    assert window.paper.t0 == 0.0
    window.overview.pageRequested.emit(42.0)
    assert window.paper.t0 == pytest.approx(42.0)
    window.overview._marker.setValue(65.0)  # dragging the page marker centres the page there
    window.overview._marker.sigDragged.emit(window.overview._marker)
    assert window.paper.t0 == pytest.approx(60.0)
    ov = window.overview
    at_100s = ov.mapFromScene(ov.plotItem.vb.mapViewToScene(QtCore.QPointF(100.0, 0.0)))
    qtbot.mouseClick(ov.viewport(), QtCore.Qt.MouseButton.LeftButton, pos=at_100s)
    one_px = 120.0 / ov.plotItem.vb.width()
    assert window.paper.t0 == pytest.approx(95.0, abs=2 * one_px)  # page centred on the click
    qtbot.waitUntil(
        lambda: window.overview._env.getData()[0] is not None and len(window.overview._env.getData()[0]) > 0,
        timeout=10000,
    )


def test_a_two_lead_recording_goes_on_into_the_layout_s_rows(window, long_record, qtbot, tmp_path):
    """A Holter's two leads fill 3x4+1's four rows with 20 s (each lead again for the next 10 s):
    a page down moves 20 s, the overview marks 20 s, and every trace draws its own seconds."""
    import wfdb

    from ecgviewer.io import load

    src = load(long_record)
    two = np.stack([src.signals[src.index("II")], src.signals[src.index("V1")]]).T.astype(np.float64)
    wfdb.wrsamp("holter", fs=src.fs, units=["mV"] * 2, sig_name=["II", "V1"], p_signal=two,
                fmt=["16"] * 2, adc_gain=[1000.0] * 2, baseline=[0] * 2, write_dir=str(tmp_path))  # fmt: skip
    open_wait(qtbot, window, tmp_path / "holter.hea")
    page = window.paper.page
    assert page.sweeps == 2 and page.span == pytest.approx(20.0)
    assert [t.panel.label for t in window.paper.traces] == ["II", "V1", "II +10 s", "V1 +10 s"]
    qtbot.keyClick(window, QtCore.Qt.Key.Key_PageDown)
    assert window.paper.t0 == pytest.approx(20.0)
    assert window.overview.page_region()[1] - window.overview.page_region()[0] == pytest.approx(20.0)
    for t in window.paper.traces:
        assert t.x[0] >= t.panel.x - 1e-6 and t.x[-1] <= t.panel.x + t.panel.width + 1e-6
        assert t.start / src.fs == pytest.approx(t.panel.t0, abs=1 / src.fs)
    assert window.paper.traces[2].panel.t0 == pytest.approx(30.0)
    qtbot.keyClick(window, QtCore.Qt.Key.Key_End)
    assert window.paper.t0 == pytest.approx(src.duration - 20.0)


def test_calipers_read_interval_rate_and_amplitude(qtbot, window, sample):
    open_wait(qtbot, window, sample)
    window.caliper_action.trigger()
    c = window.calipers
    assert c.enabled
    c.t1.setValue(30.0)
    c.t2.setValue(50.0)  # 20 mm at 25 mm/s
    c.v1.setValue(40.0)
    c.v2.setValue(55.0)  # 15 mm at 10 mm/mV
    r = c.reading()
    assert (r.interval_ms, r.rate_bpm, r.amplitude_mv) == (
        pytest.approx(800.0),
        pytest.approx(75.0),
        pytest.approx(1.5),
    )
    assert window.caliper_label.text() == "\u0394t 800 ms  75 bpm  \u0394V 1.50 mV"
    march = [line.value() for line in c._march]
    assert pytest.approx(70.0) in march and pytest.approx(10.0) in march  # march-out both ways
    window.caliper_action.trigger()
    assert not c.enabled and not c._march


def test_hover_reads_time_and_value(window, qtbot):
    from tests.helpers import synthetic

    rec = synthetic()
    window.set_options(window.paper.options.with_(filter=type(window.paper.options.filter)()))
    window.set_recording(rec)
    p = window.paper.page.panels[0]  # lead I, spikes of 1 mV at 0.5 s, 1.5 s...
    info = window.paper.hover_at(p.x + 0.5 * 25.0, p.y)
    assert info.lead == "I" and info.time == pytest.approx(0.5) and info.mv == pytest.approx(1.0)
    info = window.paper.hover_at(p.x + 0.25 * 25.0, p.y)
    assert info.mv == pytest.approx(0.0, abs=1e-6)
    assert window.paper.hover_at(-50.0, -50.0) is None
    one_pixel = 1.0 / window.paper.px_per_mm / 25.0

    def label_reads_the_spike() -> bool:
        """The mouse moved onto lead I at 0.5 s, mapped afresh each time: the window may still be
        laying out after the recording was set (in CI the label once read 0.603 s, the point
        having been mapped before the view moved)."""
        view_pt = window.paper.vb.mapViewToScene(QtCore.QPointF(p.x + 12.5, p.y))
        with qtbot.waitSignal(window.paper.hovered, timeout=2000):
            qtbot.mouseMove(window.paper.viewport(), window.paper.mapFromScene(view_pt))
        lead, _, t, *_ = window.hover_label.text().split()
        return lead == "I" and abs(float(t) - 0.5) <= one_pixel

    qtbot.waitUntil(label_reads_the_spike, timeout=5000)


def test_bad_file_shows_a_message_and_keeps_the_current_recording(
    qtbot, window, sample, tmp_path, monkeypatch
):
    shown = []
    monkeypatch.setattr(QtWidgets.QMessageBox, "warning", lambda *a: shown.append(a[2]))
    open_wait(qtbot, window, sample)
    bad = tmp_path / "broken.hea"
    bad.write_text("this is not a header\n")
    window.open_file(bad)
    qtbot.waitUntil(lambda: len(shown) == 1, timeout=20000)
    assert "broken.hea" in shown[0]
    assert window.recording.name == "00003_hr.hea"


def test_warnings_are_shown_in_a_banner(qtbot, window, tmp_path):
    import wfdb

    t = np.arange(5000) / 500.0
    sig = np.column_stack([np.sin(2 * np.pi * t), 1.2 * np.sin(2 * np.pi * t)] + [np.sin(t)] * 6)
    wfdb.wrsamp(
        "eight",
        fs=500,
        units=["mV"] * 8,
        sig_name=["I", "II", "V1", "V2", "V3", "V4", "V5", "V6"],
        p_signal=sig,
        fmt=["16"] * 8,
        adc_gain=[1000.0] * 8,
        baseline=[0] * 8,
        write_dir=str(tmp_path),
    )
    open_wait(qtbot, window, tmp_path / "eight.hea")
    assert window.banner.isVisible() and "derived from I and II" in window.banner.text()
    assert "III (derived)" in [t.panel.label for t in window.paper.traces]


def test_record_browser_on_a_ptbxl_tree(window, shared, qtbot):
    folder = shared / "ptbxl" / "records500"
    window.open_folder(folder)
    qtbot.waitUntil(lambda: window.browser.model.rowCount() > 0, timeout=20000)
    b = window.browser
    assert b.model.rowCount() == 120
    assert not b.table.isColumnHidden(4)  # labels column for PTB-XL
    b.filter.setText("IMI")
    assert 0 < b.proxy.rowCount() < 120
    idx = b.proxy.index(0, 0)
    entry = b.model.entries[b.proxy.mapToSource(idx).row()]
    assert "IMI" in entry.labels
    with qtbot.waitSignal(window.recordingLoaded, timeout=20000):
        b.table.setCurrentIndex(idx)
    assert window.recording.path == entry.path
    assert "IMI" in window.recording.metadata.labels


def test_drop_and_recent_files(qtbot, window, sample, long_record):
    mime = QtCore.QMimeData()
    mime.setUrls([QtCore.QUrl.fromLocalFile(str(sample)), QtCore.QUrl.fromLocalFile(str(long_record))])
    event = QtGui.QDropEvent(
        QtCore.QPointF(10, 10),
        QtCore.Qt.DropAction.CopyAction,
        mime,
        QtCore.Qt.MouseButton.LeftButton,
        QtCore.Qt.KeyboardModifier.NoModifier,
    )
    with qtbot.waitSignal(window.recordingLoaded, timeout=20000):
        window.dropEvent(event)
    assert window.recording.name == sample.name
    assert window.browser.model.rowCount() == 2  # both dropped files listed
    assert window.settings.recent_files()[0] == str(sample.resolve())


def test_dark_theme_and_screenshot(qtbot, window, sample):
    open_wait(qtbot, window, sample)
    window.dark_action.trigger()
    assert window.paper.options.theme == "dark"
    arr = image_array(window.grab().toImage())
    assert mask(arr, THEMES["dark"].paper, tol=10).mean() > 0.05
    assert mask(arr, THEMES["dark"].ink, tol=40).sum() > 2000  # traces drawn


def test_zoom_and_true_scale(qtbot, window, sample):
    open_wait(qtbot, window, sample)
    window.paper.set_zoom(2.0)
    assert window.paper.zoom == pytest.approx(2.0)
    assert "zoom \u00d72.00" in window.scale_label.text()
    window.resize(1000, 700)
    QtWidgets.QApplication.processEvents()
    assert window.paper.zoom == pytest.approx(2.0)  # resizing keeps the magnification
    window.paper.true_scale()
    (x0, x1), _ = window.paper.vb.viewRange()
    assert window.paper.vb.width() / (x1 - x0) == pytest.approx(window.paper.px_per_mm, rel=1e-6)
    # zoomed far out, the caption's text keeps to the sheet: elided, whole in its tooltip
    paper, footer = window.paper, window.paper._footer
    paper.set_zoom(0.2)
    qtbot.wait(50)  # pyqtgraph places its texts when the view next paints
    drawn = footer.mapRectToView(footer.textItem.mapRectToParent(footer.textItem.boundingRect()))
    assert drawn.right() <= paper.page.width
    assert footer.toPlainText().endswith("\u2026") and footer.toolTip() == paper.footer_text()
    paper.set_zoom(1.0)
    qtbot.wait(50)
    assert footer.toPlainText() == paper.footer_text()


def test_screen_calibration_is_applied_and_kept(window, settings):
    settings.set_px_per_mm(5.0)
    w2 = MainWindow(settings)
    assert w2.paper.px_per_mm == 5.0
    w2.close()
    settings.qs.setValue("screen/px_per_mm", "garbage")
    assert settings.px_per_mm() is None


def test_damaged_settings_fall_back_to_defaults(settings):
    settings.qs.setValue("view/layout", "7x7")
    settings.qs.setValue("view/speed", "fast")
    settings.qs.setValue("filter/lowpass", "12")
    o = settings.view_options()
    assert (o.layout, o.speed, o.filter.lowpass) == ("3x4+1", 25.0, 150.0)


def test_cancel_long_work(window, long_record, qtbot):
    open_wait(qtbot, window, long_record)
    window.cancel_tasks()
    assert not window.busy() and not window.progress.isVisible()
    qtbot.wait(200)  # a cancelled task finishing late must not touch the window


def test_save_dialogs_open_in_the_folder_last_saved_to(window, tmp_path) -> None:
    """Not the program's working folder: the documents folder at first, then wherever the user
    last saved or exported (a folder since deleted falls back to the documents folder)."""
    from pathlib import Path

    from PySide6 import QtCore

    documents = QtCore.QStandardPaths.writableLocation(
        QtCore.QStandardPaths.StandardLocation.DocumentsLocation
    )
    window.settings.set_value("files/save_dir", "")
    assert window.save_start("a.pdf") == str(Path(documents or Path.home()) / "a.pdf")
    window.saved_to(tmp_path / "reports" / "b.pdf")
    assert window.save_start("a.pdf") == str(Path(documents or Path.home()) / "a.pdf")  # not made yet
    (tmp_path / "reports").mkdir()
    assert window.save_start("a.pdf") == str(tmp_path / "reports" / "a.pdf")


def test_another_layout_after_a_zoom_starts_at_its_top_left(qtbot, window, sample):
    """Zoomed in on 3x4+1, the reader picks 12x1: the new page is shown from its top-left corner
    at the reader's zoom, lead I first, not the strip of its middle (V3-V6) the old view covered."""
    open_wait(qtbot, window, sample)
    paper = window.paper
    paper.set_zoom(2.0)
    choose(window, "layout", "12x1")
    assert paper.page.layout == "12x1" and paper.zoom == pytest.approx(2.0)
    (x0, x1), (y0, y1) = paper.vb.viewRange()
    first = paper.page.panels[0]
    assert first.label == "I" and x0 <= first.x <= x1 and y0 <= first.y <= y1
    assert y1 >= paper.page.height  # the page's top edge is in view


def test_the_caliper_readout_covers_no_lead_label(qtbot, window, sample):
    """Calipers ending just left of V1's label, their upper line just below it: the readout, whose
    first place (above right) would cover the label, goes where it covers none."""
    open_wait(qtbot, window, sample)
    paper, cal = window.paper, window.calipers
    cal.set_enabled(True)
    boxes = paper.label_boxes()
    v1 = boxes[[p.label for p in paper.page.panels].index("V1")]
    cal.t1.setValue(v1.x() - 20.0)
    cal.t2.setValue(v1.x() - 1.5)
    cal.v1.setValue(v1.y() - 5.0)
    cal.v2.setValue(v1.y() - 0.5)
    first = QtCore.QRectF(v1.x() - 0.5, v1.y() + 0.5, cal.readout_box().width(), cal.readout_box().height())
    assert first.intersects(v1)  # where the readout stood before
    assert not any(cal.readout_box().intersects(box) for box in boxes), cal.readout_box()
    assert cal.label.toPlainText().startswith(cal.reading().text()[:6])
