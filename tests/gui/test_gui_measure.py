"""Measurements in the window (pytest-qt, offscreen): the panel's values, units, reasons and QTc
formula, the median beats at true scale with draggable fiducials, edits and their reset, long
recordings by span, stale results, and the model's attributions averaged onto the median beats."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from PySide6 import QtCore, QtWidgets

from ecgviewer.gui.main_window import MainWindow
from ecgviewer.gui.measure_panel import ROWS, MeasurePanel
from ecgviewer.gui.median_view import BEAT_S, MEDIAN_SPEED, MedianView, Rhythm, is_strip
from ecgviewer.leads import STANDARD_LEADS
from ecgviewer.measure.intervals import QTC_FORMULAS
from ecgviewer.measure.median_attribution import median_attribution
from ecgviewer.measurements import FIDUCIALS
from ecgviewer.recording import make_recording
from ecgviewer.render.options import ViewOptions
from ecgviewer.sources import ArraySource
from tests.helpers import MEASURE_TIMEOUT_MS as TIMEOUT_MS
from tests.helpers import measured, open_wait


# -- the averaging ---------------------------------------------------------------------------------
def test_median_attribution_averages_the_tokens_of_the_median_beats():
    rng = np.random.default_rng(0)
    beats = rng.normal(size=(2, 3, 4))
    samples = rng.normal(size=(2, 3, 4, 5))
    pad = np.zeros((2, 3, 4), dtype=bool)
    pad[:, 2] = True  # lead 2 not recorded
    pad[1, 0, 2] = True  # one beat missing in lead 0
    token_r = np.array([[1.0, 2.0, 3.0, np.nan], [11.0, 12.0, 13.0, 14.0]])
    median_r = np.array([2.02, 12.96, 30.0])  # tokens (0, 1) and (1, 2) match; 3.0 does not
    out = median_attribution(beats, samples, pad, token_r, median_r)
    assert out.matched
    assert out.n_beats.tolist() == [1, 2, 0]
    np.testing.assert_allclose(out.beats[0], beats[0, 0, 1])
    np.testing.assert_allclose(out.beats[1], (beats[0, 1, 1] + beats[1, 1, 2]) / 2)
    np.testing.assert_allclose(out.samples[1], (samples[0, 1, 1] + samples[1, 1, 2]) / 2)
    assert np.isnan(out.beats[2]) and np.isnan(out.samples[2]).all()
    # beyond the tolerance nothing matches: every real token is averaged, and it says so
    far = median_attribution(beats, None, pad, token_r, np.array([2.06, 20.0]))  # 60 ms from token R
    assert not far.matched and far.samples is None
    np.testing.assert_allclose(far.beats[0], beats[:, 0][~pad[:, 0]].mean())
    assert far.n_beats.tolist() == [7, 8, 0]
    assert median_attribution(beats, None, pad, token_r, np.zeros(0)).n_beats.tolist() == [7, 8, 0]


# -- the panel -------------------------------------------------------------------------------------
def test_panel_shows_every_value_with_its_unit(qtbot, sample_measured):
    _rec, m = sample_measured
    panel = MeasurePanel("Bazett")
    qtbot.addWidget(panel)
    panel.set_measurements(m)
    units = {"hr": "bpm", "rr": "ms", "p": "ms", "pr": "ms", "qrs": "ms", "qt": "ms", "qtc": "ms"}
    units |= {"p_axis": "\u00b0", "qrs_axis": "\u00b0", "t_axis": "\u00b0"}
    for key, unit in units.items():
        _name, value, shown_unit, _device, note = panel.cells(key)
        v = m.qtc("Bazett") if key == "qtc" else m.values[key]
        assert shown_unit == unit and note == "", (key, value, note)
        assert float(value) == pytest.approx(v.value, abs=0.5)
    # PTB-XL record 3: sinus rhythm, normal ECG (its SCP label): plausible adult values
    assert 50 < float(panel.cells("hr")[1]) < 90
    assert 70 < float(panel.cells("qrs")[1]) < 120
    assert 110 < float(panel.cells("pr")[1]) < 220
    assert 350 < float(panel.cells("qt")[1]) < 460
    assert panel.cells("qtc")[0] == "QTc (Bazett)"
    n = len(m.r_times)
    assert f"{n} beats" in panel.notes.text()
    assert not panel.reset_button.isEnabled()
    # the measurements' own statements, criterion and source one hover away
    assert any(line.startswith(("Sinus rhythm", "Sinus bradycardia")) for line in panel.statement_lines)
    assert "<b>Sinus" in panel.statements.text() and "bpm" in panel.statements.text()
    assert "P waves" in panel.statements.toolTip() and "conventional" in panel.statements.toolTip()
    panel.set_measurements(None)
    assert panel.statement_lines == [] and panel.statements.text() == ""


def test_qtc_formula_is_named_and_applied(qtbot, sample_measured):
    _rec, m = sample_measured
    panel = MeasurePanel("Bazett")
    qtbot.addWidget(panel)
    panel.set_measurements(m)
    qt, rr = m.values["qt"].value, m.values["rr"].value / 1000
    shown = {}
    with qtbot.waitSignals([panel.formulaChanged] * len(QTC_FORMULAS)):
        for name, formula in QTC_FORMULAS.items():
            panel.formula.setCurrentIndex(panel.formula.findData(name))
            panel.formula.activated.emit(panel.formula.currentIndex())
            label, value, unit, *_ = panel.cells("qtc")
            assert label == f"QTc ({name})" and unit == "ms"
            assert float(value) == pytest.approx(formula(qt, rr), abs=0.5)
            shown[name] = float(value)
    assert len(set(shown.values())) > 1  # the formulas differ at this heart rate


# -- the median beats ------------------------------------------------------------------------------
def _device_rect(view: MedianView, item) -> QtCore.QRectF:
    """Where ``item`` (a pyqtgraph text, drawn at a fixed pixel size) is drawn, in the view's pixels."""
    text = item.textItem
    return text.deviceTransform(view.viewportTransform()).mapRect(text.boundingRect())


def test_median_view_draws_a_3x4_grid_at_50_mm_s_with_a_rhythm_strip(qtbot, sample_measured, sample):
    from ecgviewer.io import load

    rec, m = sample_measured
    view = MedianView()
    qtbot.addWidget(view)
    view.resize(1100, 800)  # the 3x4 page, strip and names fit at 3 px/mm
    view.show()
    qtbot.waitExposed(view)
    px = 3.0
    view.set_view(ViewOptions(speed=25.0, gain=10.0), px)
    ii = rec.index("II")
    strip = Rhythm("II", 0.0, rec.fs, np.asarray(load(sample).signals[ii], dtype=np.float32))
    view.set_measurements(m, strip)
    page = view.page
    beats = [p for p in page.panels if not is_strip(p, page)]
    assert [p.lead for p in beats if p.row == 0] == ["I", "aVR", "V1", "V4"] and len(beats) == 12
    # each beat is drawn in its own box, clipped to it, 1.2 s at 50 mm/s, at the paper's gain
    for p, box in zip(page.panels, view.boxes, strict=False):
        assert box.flags() & QtWidgets.QGraphicsItem.GraphicsItemFlag.ItemClipsChildrenToShape
        assert box.rect() == view.box_of(p) and box.ours.parentItem() is box
    for p, box in zip(beats, view.boxes, strict=False):
        x, y = box.ours.getData()
        assert x[-1] - x[0] == pytest.approx((BEAT_S[1] - BEAT_S[0]) * MEDIAN_SPEED, abs=0.25)
        r_index = round(-BEAT_S[0] * 250)
        i = m.leads.index(p.lead)
        assert y[r_index] - p.y == pytest.approx(p.sign * 10.0 * m.median[i, r_index], abs=1e-4)
    # the strip: lead II at the paper's 25 mm/s across the page, a mark under each beat it shows
    sp = next(p for p in page.panels if is_strip(p, page))
    sbox = view.boxes[page.panels.index(sp)]
    x, _ = sbox.ours.getData()
    assert sp.lead == "II" and x[-1] - x[0] == pytest.approx(sp.width, abs=25.0 / rec.fs + 1e-6)
    in_strip = (np.asarray(m.r_times) - strip.t0) * 25.0 <= sp.width
    used = np.array([not r for r in m.beat_reasons]) & in_strip
    assert len(sbox.ticks.getData()[0]) == 2 * used.sum()
    assert len(view.excluded.getData()[0]) == (in_strip & ~used).sum()
    # true scale: px screen pixels per paper millimetre, and the footer says so
    (x0, x1), (y0, y1) = view.vb.viewRange()
    assert view.vb.width() / (x1 - x0) == pytest.approx(px, rel=1e-3) and view.zoom == 1.0
    assert "50 mm/s, 10 mm/mV (true scale)" in view.footer_text()
    assert x0 <= 0 and x1 >= page.width and y0 <= 0 and y1 >= page.height + view.header_mm()
    # a global line per column through the three rows of beats, at its fiducial
    for key in FIDUCIALS:
        if m.fiducials[key] is None:
            assert key not in view.lines
            continue
        assert len(view.lines[key]) == 4
        for c, line in enumerate(view.lines[key]):
            assert view.ms_of(c, line.value()) == pytest.approx(m.fiducials[key], abs=1e-6)
    # each fiducial named once above the sheet, beside its column-0 line; no two texts overlap
    names = [view.names[k] for k in view.lines]
    assert all(n.isVisible() and n.pos().y() > page.height for n in names)
    assert view.names["qrs_on"].pos().x() == pytest.approx(view.lines["qrs_on"][0].value())
    texts = names + [label for label in view.labels if label.isVisible()]
    qtbot.wait(50)  # pyqtgraph places its texts when the view next paints
    rects = [_device_rect(view, t) for t in texts]
    for a in range(len(rects)):
        for b in range(a + 1, len(rects)):
            assert not rects[a].intersects(rects[b]), (texts[a].toPlainText(), texts[b].toPlainText())
    # a view too small for the page fits it, saying so; the names still do not overlap
    view.resize(700, 500)
    qtbot.waitUntil(lambda: view.zoom < 1.0)
    (x0, x1), (y0, y1) = view.vb.viewRange()
    assert x0 <= 0 and x1 >= page.width and y0 <= 0 and y1 >= page.height
    assert f"shown at \u00d7{view.zoom:.2f} to fit the view" in view.footer_text()
    qtbot.wait(50)
    rects = [_device_rect(view, n) for n in names]
    assert not any(rects[a].intersects(rects[b]) for a in range(len(rects)) for b in range(a + 1, len(rects)))
    # smaller still, the footer's text keeps to the sheet: elided, whole in its tooltip
    view.resize(420, 320)
    qtbot.waitUntil(lambda: view.footer.toPlainText().endswith("\u2026"))
    qtbot.wait(50)
    sheet_right = view.vb.mapViewToDevice(QtCore.QPointF(page.width, 0.0)).x()
    assert _device_rect(view, view.footer).right() <= sheet_right + 1
    assert view.footer.toolTip() == view.footer_text()
    # the paper's gain and lead order follow; the beats stay at 50 mm/s
    view.set_view(ViewOptions(order="cabrera", speed=50.0, gain=20.0), px)
    assert [p.label for p in view.page.panels if p.col == 0 and p.row < 3] == ["aVL", "I", "\u2212aVR"]
    assert view.x_of(0, 500.0) - view.x_of(0, -500.0) == pytest.approx(50.0)
    assert "50 mm/s, 20 mm/mV" in view.footer_text()


def test_a_lead_the_recording_lacks_is_not_recorded_in_the_median_beats_not_without_signal(qtbot, sample):
    """A two-lead recording (II and V1 of the sample): its median beats keep their 3x4 cells, and
    the ten others say "not recorded", as on the paper, not "no usable signal"."""
    from ecgviewer.io import load
    from ecgviewer.measure.delineate import Delineator
    from ecgviewer.measure.pipeline import measure_recording
    from ecgviewer.recording import make_recording
    from ecgviewer.sources import ArraySource

    full = load(sample)
    two = make_recording(None, ArraySource(full.signals[[full.index("II"), full.index("V1")]]), full.fs,
                         ["II", "V1"], "synthetic")  # fmt: skip
    view = MedianView()
    qtbot.addWidget(view)
    view.set_view(ViewOptions(), 3.0)
    view.set_measurements(measure_recording(two, Delineator.bundled()), None)
    texts = {
        p.lead: label.textItem.toPlainText() for p, label in zip(view.page.panels, view.labels, strict=False)
    }
    assert not view.page.stacked and len(texts) == 12
    assert texts["II"] == "II" and texts["V1"] == "V1"
    assert all(texts[lead] == f"{lead}: not recorded" for lead in texts if lead not in ("II", "V1")), texts


def test_median_traces_never_leave_their_panel(qtbot, sample_measured) -> None:
    """Beats taller than their box (here five times the sample's) are clipped at its edges: no
    ink on the desk around the sheet, none in the names' band."""
    from dataclasses import replace

    from ecgviewer.render.options import THEMES
    from ecgviewer.render.painting import image_array
    from tests.helpers import mask

    _rec, m = sample_measured
    view = MedianView()
    qtbot.addWidget(view)
    view.resize(1100, 800)
    view.show()
    qtbot.waitExposed(view)
    view.set_view(ViewOptions(), 3.0)
    view.set_measurements(replace(m, median=m.median * 5))
    for name in view.names.values():
        name.hide()
    QtWidgets.QApplication.processEvents()
    ink = mask(image_array(view.grab().toImage()), THEMES["light"].ink, tol=60)
    page = view.vb.mapViewToDevice(QtCore.QRectF(0, 0, view.page.width, view.page.height)).boundingRect()
    ratio = view.devicePixelRatioF()
    top, bottom = int(page.top() * ratio), int(page.bottom() * ratio)
    left, right = int(page.left() * ratio), int(page.right() * ratio)
    assert ink[top + 2 : bottom - 2, left + 2 : right - 2].sum() > 1000  # the beats are drawn
    outside = ink.copy()
    outside[max(0, top - 1) : bottom + 2, max(0, left - 1) : right + 2] = False
    assert outside.sum() == 0


# -- the window ------------------------------------------------------------------------------------
def test_dragging_a_caliper_edits_the_values_and_reset_restores_them(
    qtbot, measure_window, sample, monkeypatch
):
    w = measure_window
    m = measured(qtbot, w, lambda: open_wait(qtbot, w, sample))
    panel, view = w.measure.panel, w.measure.median.view
    w.median_action.trigger()  # View > Median beats (M): in the paper's place
    assert w.views.currentWidget() is w.measure.median and w.median_action.isChecked()
    qrs = float(panel.cells("qrs")[1])
    qt = float(panel.cells("qt")[1])
    line = view.lines["qrs_on"][1]
    line.setValue(view.x_of(1, m.fiducials["qrs_on"] - 20.0))  # as a drag does
    _, value, unit, _device, note = panel.cells("qrs")
    assert float(value) == pytest.approx(qrs + 20, abs=1) and unit == "ms" and note == "edited"
    assert panel.cells("qt")[4] == "edited" and float(panel.cells("qt")[1]) == pytest.approx(qt + 20, abs=1)
    assert panel.cells("pr")[4] == "edited" and panel.cells("p")[4] == ""
    tip = panel.table.item([k for k, _ in ROWS].index("qrs"), 1).toolTip()
    assert f"automatic value {qrs:.0f} ms" in tip
    assert "qrs_on" in w.measure.measurements.edited and panel.reset_button.isEnabled()
    for c, other in enumerate(view.lines["qrs_on"]):  # every column's line follows
        assert view.ms_of(c, other.value()) == pytest.approx(m.fiducials["qrs_on"] - 20.0, abs=1e-6)
    # a caliper cannot cross its neighbour: QRS onset stops at the P wave's end, exactly, even when
    # pixels -> ms rounds a hair past it (the layout's float error once made this test flaky)
    ms_of = view.ms_of
    monkeypatch.setattr(view, "ms_of", lambda c, x: ms_of(c, x) - 1e-9)
    line.setValue(view.x_of(1, -450.0))
    monkeypatch.setattr(view, "ms_of", ms_of)
    assert w.measure.measurements.fiducials["qrs_on"] == pytest.approx(m.fiducials["p_off"], abs=1e-6)
    panel.reset_button.click()
    assert float(panel.cells("qrs")[1]) == pytest.approx(qrs) and panel.cells("qrs")[4] == ""
    assert not w.measure.measurements.edited and not panel.reset_button.isEnabled()
    assert view.ms_of(1, line.value()) == pytest.approx(m.fiducials["qrs_on"], abs=1e-6)
    # the QTc formula is kept in the settings
    panel.formula.setCurrentIndex(panel.formula.findData("Fridericia"))
    panel.formula.activated.emit(panel.formula.currentIndex())
    assert w.settings.qtc_formula() == "Fridericia"
    again = MainWindow(w.settings)
    qtbot.addWidget(again)
    assert again.measure.panel.cells("qtc")[0] == "QTc (Fridericia)"
    # the delineator's card is one click away
    from ecgviewer.gui import diagnosis

    shown = {}
    monkeypatch.setattr(
        diagnosis.ModelCardDialog, "exec", lambda d: shown.setdefault("text", d.browser.toPlainText())
    )
    next(b for b in panel.findChildren(QtWidgets.QPushButton) if b.text() == "Delineator card").click()
    assert "research use" in shown["text"].lower() and "LUDB" in shown["text"]


def test_unmeasurable_recording_shows_dashes_with_reasons_and_stale_results_are_dropped(
    qtbot, measure_window, sample_measured
):
    w = measure_window
    rec, _m = sample_measured
    qtbot.waitUntil(lambda: w.measure.delineator is not None, timeout=TIMEOUT_MS)
    flat = make_recording(
        None, ArraySource(np.zeros((12, 5000), np.float32)), 500.0, list(STANDARD_LEADS), "flat"
    )
    w.set_recording(rec)  # starts measuring the sample ...

    def both() -> None:
        w.set_recording(flat)  # ... which is no longer on screen when it is done

    m = measured(qtbot, w, both)
    assert not m.present.any()
    with qtbot.assertNotEmitted(w.measure.measured, wait=4000):
        pass
    panel = w.measure.panel
    for key, _name in ROWS:
        _, value, unit, _device, note = panel.cells(key)
        v = m.qtc("Bazett") if key == "qtc" else m.values[key]
        assert value == "\u2014" and unit and note == v.reason and note
    assert "no usable lead (I: flat line" in panel.notes.text()
    labels = [label.toPlainText() for label in w.measure.median.view.labels[:12]]
    assert all(text.endswith(": flat line") for text in labels), labels
    assert not w.measure.median.view.lines


def test_a_long_recording_is_measured_a_span_at_a_time(qtbot, measure_window, long_record):
    w = measure_window
    m = measured(qtbot, w, lambda: w.open_file(long_record))
    assert m.span_s == pytest.approx((0.0, 30.0)) and m.r_times.max() < 30.0
    # the page shows 10 s of it: the span is said as starting there, not as the page's
    assert w.paper.page.span == pytest.approx(10.0)
    assert w.measure.panel.status.text() == "Measured 0.0\u201330.0 s, from the page's start."
    m = measured(qtbot, w, lambda: w.paper.set_t0(60.0))
    assert m.span_s == pytest.approx((60.0, 90.0))
    assert m.r_times.min() >= 60.0 and m.r_times.max() < 90.0
    assert "60.0\u201390.0 s" in w.measure.panel.notes.text()


def fake_result(m, method: str, span=(0.0, 10.0), fs: float = 500.0):
    """A stand-in for ``session.Result`` with a token at every beat found, lead k scored k - 5."""
    w, slots = 1, 15
    rpeaks = np.full((w, slots), -1, dtype=np.int64)
    n = min(slots, len(m.r_times))
    rpeaks[0, :n] = np.round((m.r_times[:n] - span[0]) * fs)
    pad = np.broadcast_to((rpeaks < 0)[:, None, :], (w, 12, slots)).copy()
    beats = np.broadcast_to((np.arange(12.0) - 5)[None, :, None], (w, 12, slots)) * ~pad
    samples = np.repeat(beats[..., None], 96, axis=-1) / 96 if method != "occlusion" else None
    spans = np.stack([rpeaks - 40, rpeaks + 60], axis=-1)
    tokens = SimpleNamespace(
        rpeaks=rpeaks, pad=pad, source_fs=fs, spans=spans, window_start=np.zeros(w, np.int64)
    )
    target = SimpleNamespace(code="NORM")
    explanation = SimpleNamespace(method=method, target=target, beats=beats, samples=samples, baseline="flat")
    return SimpleNamespace(
        span=span, offset_s=span[0], explanation=explanation, analysis=SimpleNamespace(tokens=tokens)
    )


def test_attributions_are_averaged_onto_the_median_beats(qtbot, measure_window, sample):
    w = measure_window
    m = measured(qtbot, w, lambda: open_wait(qtbot, w, sample))
    median, shading = w.measure.median, w.measure.median.view.shading
    w.measure.set_ai_result(fake_result(m, "ig"))
    scores = shading.scores
    assert sorted(scores.lead.tolist()) == sorted(m.leads)
    np.testing.assert_allclose(scores.score, [m.leads.index(lead) - 5 for lead in scores.lead])
    assert len(shading._fills) == 12 and len(shading._strips) == 12
    assert "Integrated Gradients attribution of NORM" in median.legend.text()
    used = sum(1 for why in m.beat_reasons if not why)
    assert f"mean over the {used} analysed beats" in median.caption.text()
    median.show_attribution.setChecked(False)
    assert shading.scores is None and not shading._fills
    median.show_attribution.setChecked(True)
    w.measure.set_ai_result(fake_result(m, "occlusion"))
    assert shading.scores.samples is None and not shading._strips and "Occlusion" in median.legend.text()
    w.measure.set_ai_result(fake_result(m, "ig", span=(20.0, 30.0)))
    assert shading.scores is None and "No attribution" in median.caption.text()
