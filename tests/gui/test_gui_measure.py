"""Measurements in the window (pytest-qt, offscreen): the panel's values, units, reasons and QTc
formula, the median beats at true scale with draggable fiducials, edits and their reset, long
recordings by span, stale results, and the model's attributions averaged onto the median beats."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from PySide6 import QtWidgets

from ecgviewer.gui.main_window import MainWindow
from ecgviewer.gui.measure_panel import ROWS, MeasurePanel
from ecgviewer.gui.median_view import BEAT_S, MedianView
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
def test_median_view_draws_twelve_beats_at_true_scale(qtbot, sample_measured):
    _rec, m = sample_measured
    view = MedianView()
    qtbot.addWidget(view)
    view.resize(900, 700)  # the paper's 3x4 grid fits at 5 px/mm
    view.show()
    qtbot.waitExposed(view)
    px = 5.0
    view.set_view(ViewOptions(speed=25.0, gain=10.0), px)
    view.set_measurements(m)
    assert sorted(label.toPlainText() for label in view.labels) == sorted(m.leads)
    x, y = view.curve.getData()
    runs = np.split(np.arange(x.size), np.flatnonzero(~np.isfinite(x)))
    beats = [r[np.isfinite(x[r])] for r in runs if np.isfinite(x[r]).any()]
    assert len(beats) == 12
    width = (BEAT_S[1] - BEAT_S[0]) * 25.0
    assert all(abs((x[b[-1]] - x[b[0]]) - width) < 0.2 for b in beats)  # 1.2 s at 25 mm/s
    # the gain: lead II's R (index PRE of its median) stands gain x mV above its baseline
    ii = next(p for p in view.page.panels if p.lead == "II")
    b = next(b for b in beats if abs(x[b[0]] - ii.x) < 1e-6 and abs(np.median(y[b]) - ii.y) < 10)
    i = m.leads.index("II")
    r_index = round(-BEAT_S[0] * 250)
    assert y[b[r_index]] - ii.y == pytest.approx(10.0 * m.median[i, r_index], abs=1e-4)
    # true scale: px screen pixels per paper millimetre, whatever the widget's size
    (x0, x1), _ = view.vb.viewRange()
    assert view.vb.width() / (x1 - x0) == pytest.approx(px, rel=1e-3)
    # a global line per column through every beat, at its fiducial
    for key in FIDUCIALS:
        if m.fiducials[key] is None:
            assert key not in view.lines
            continue
        assert len(view.lines[key]) == 4
        for c, line in enumerate(view.lines[key]):
            assert view.ms_of(c, line.value()) == pytest.approx(m.fiducials[key], abs=1e-6)
    # each fiducial named once, beside its column-0 line, one level per wave above the sheet
    names = {k: view.names[k] for k in view.lines}
    assert all(n.isVisible() and n.pos().y() > view.page.height for n in names.values())
    assert names["qrs_on"].pos().x() == pytest.approx(view.lines["qrs_on"][0].value())
    assert names["p_on"].pos().y() > names["qrs_on"].pos().y() > names["t_off"].pos().y()
    # a wide, short view (a bottom dock) takes the grid that fits: 2 rows of 6
    view.resize(1100, 500)
    qtbot.waitUntil(lambda: view.grid == "2x6")
    assert len(view.lines["qrs_on"]) == 6 and view.vb.width() / np.diff(view.vb.viewRange()[0])[0] == (
        pytest.approx(px, rel=1e-3)
    )
    view.resize(900, 700)
    qtbot.waitUntil(lambda: view.grid == "3x4")
    # the paper's speed and layout follow: 50 mm/s doubles the beat, 6x2 has two columns
    view.resize(900, 1900)
    view.set_view(ViewOptions(layout="6x2", speed=50.0, gain=20.0), px)
    assert len(view.lines["qrs_on"]) == 2
    assert view.x_of(0, 500.0) - view.x_of(0, -500.0) == pytest.approx(50.0)
    assert "50 mm/s, 20 mm/mV" in view.footer_text()


# -- the window ------------------------------------------------------------------------------------
def test_dragging_a_caliper_edits_the_values_and_reset_restores_them(
    qtbot, measure_window, sample, monkeypatch
):
    w = measure_window
    m = measured(qtbot, w, lambda: open_wait(qtbot, w, sample))
    panel, view = w.measure.panel, w.measure.median.view
    w.median_action.trigger()  # View > Median beats (M)
    assert w.median_dock.isVisible() and len(view.labels) == 12
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
    assert "no usable lead" in panel.notes.text()
    assert all("no usable signal" in label.toPlainText() for label in w.measure.median.view.labels)
    assert not w.measure.median.view.lines


def test_a_long_recording_is_measured_a_span_at_a_time(qtbot, measure_window, long_record):
    w = measure_window
    m = measured(qtbot, w, lambda: w.open_file(long_record))
    assert m.span_s == pytest.approx((0.0, 30.0)) and m.r_times.max() < 30.0
    assert "0.0\u201330.0 s" in w.measure.panel.status.text()
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
    explanation = SimpleNamespace(
        method=method, target=SimpleNamespace(code="NORM"), beats=beats, samples=samples
    )
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
