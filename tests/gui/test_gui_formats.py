"""What the window shows of a vendor file's extras: the device's interpretation beside the model's,
its measurements beside ours, the file's annotations on the paper, identifiers hidden until asked
for, and Save as (written off the UI thread, identifiers left out by default)."""

from __future__ import annotations

import numpy as np
import pytest

from ecgviewer.recording import Annotation, DeviceReport
from tests.helpers import synthetic

NAME = "DOE^JANE"


@pytest.fixture
def vendor_like():
    """A synthetic recording dressed as a vendor file: device report, annotations, identifiers."""
    rec = synthetic(seconds=10.0)
    rec.metadata.identifiers = {"name": NAME, "patient id": "P-0042"}
    rec.metadata.age, rec.metadata.sex = 61.0, "female"
    rec.metadata.device = DeviceReport(
        device="Acme ECG 9000 v1.2",
        statements=["Sinus rhythm", "Left axis deviation (QRS axis < -30)"],
        measurements={"hr": 60.0, "pr": 160.0, "qrs": 92.0, "qtc": 420.0},
        qtc_formula="Bazett",
    )
    rec.metadata.annotations = [Annotation(1.0, None, "cough"), Annotation(7.5, 2.0, "electrode off")]
    return rec


def test_identifiers_stay_hidden_until_the_user_turns_them_on(window, vendor_like):
    window.set_recording(vendor_like)
    assert NAME not in window.info.toPlainText()
    assert "hidden" in window.info.toPlainText()
    window.identifiers_action.trigger()
    assert NAME in window.info.toPlainText()
    window.identifiers_action.trigger()
    assert NAME not in window.info.toPlainText()


def test_device_interpretation_and_measurements_sit_beside_ours(window, vendor_like):
    window.set_recording(vendor_like)
    diagnosis = window.ai.panel.diagnosis.device
    assert not diagnosis.isHidden()
    assert "Acme ECG 9000" in diagnosis.text() and "Left axis deviation" in diagnosis.text()
    panel = window.measure.panel
    assert not panel.table.isColumnHidden(3)
    assert panel.cells("pr")[3] == "160 ms"
    assert panel.cells("qtc")[3] == "420 ms (Bazett)"
    assert panel.cells("qt")[3] == ""  # the device gave no QT
    plain = synthetic()
    window.set_recording(plain)  # the next recording has no device report: nothing stale remains
    assert panel.table.isColumnHidden(3) and diagnosis.isHidden()


def test_annotations_are_drawn_where_they_happen(window, vendor_like):
    window.set_recording(vendor_like)
    layer = window.annotation_layer
    assert "cough" in layer.labels() and "electrode off (2 s)" in layer.labels()
    xs, _ys = layer._lines.getData()
    page = window.paper.page
    strip = next(p for p in page.panels if p.t0 == 0.0 and p.t1 >= 10.0)  # the rhythm strip
    assert np.any(np.isclose(xs, strip.x + 1.0 * page.speed))
    assert np.any(np.isclose(xs, strip.x + 7.5 * page.speed))


def test_annotation_texts_cover_no_lead_label_nor_each_other_at_any_zoom(window):
    """Dense marks (LUDB's wave boundaries in an EDF+ file: every 40-80 ms) keep every tick; a text
    goes only where it covers neither another text nor a lead's label, where the label now sits."""
    from PySide6 import QtCore

    rec = synthetic(seconds=10.0)
    onsets = np.arange(0.02, 10, 0.06)
    rec.metadata.annotations = [Annotation(t, None, f"wave {k % 3}") for k, t in enumerate(onsets)]
    window.set_recording(rec)
    layer, paper = window.annotation_layer, window.paper
    for zoom in (1.0, 0.5, 0.3):
        paper.set_zoom(zoom)
        xs, _ys = layer._lines.getData()
        assert len(xs) == 2 * sum(((p.t0 <= onsets) & (onsets < p.t1)).sum() for p in paper.page.panels)
        k = paper.mm_per_px()
        texts = []
        for item in layer._labels:
            r, pos = item.boundingRect(), item.pos()
            texts.append(QtCore.QRectF(pos.x(), pos.y() - r.height() * k, r.width() * k, r.height() * k))
        assert texts, zoom
        for i, a in enumerate(texts):
            assert not any(a.intersects(label) for label in paper.label_boxes()), zoom
            assert not any(a.intersects(b) for b in texts[i + 1 :]), zoom


def test_save_as_writes_off_the_ui_thread_without_identifiers(qtbot, window, vendor_like, tmp_path):
    from ecgviewer.io import load

    window.set_recording(vendor_like)
    out = tmp_path / "saved.edf"
    window.save_recording(out, "edf")
    qtbot.waitUntil(lambda: "Saved" in window.statusBar().currentMessage(), timeout=20000)
    back = load(out)
    assert back.leads == vendor_like.leads and back.fs == vendor_like.fs
    np.testing.assert_allclose(back.signals, vendor_like.signals, atol=1e-3)
    assert NAME not in out.read_bytes().decode("latin-1")
    assert [a.text for a in back.metadata.annotations] == ["cough", "electrode off"]
    assert "interpretation and measurements are not kept in EDF+" in window.save_notes.text()
