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
