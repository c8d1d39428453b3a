"""The Measurements panel says no more than the evidence (issue 71): a value far from the device's
is flagged beside it, a paced value is labelled paced, a statement met where it does not apply is
shown not stated with its reason, the QTc statement follows the formula chosen, and the median
beats' attribution names the explanation's own reference."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from ecgviewer.gui.measure_panel import DIFFERS, PACED_NOTE, ROWS, MeasurePanel, attribution_caption
from ecgviewer.measure.median_attribution import MedianAttribution
from ecgviewer.recording import DeviceReport
from tests.measure.synthetic import LBBB, measured

NOTE = 4  # the Note column


def test_a_value_beyond_the_standards_limit_from_the_devices_is_flagged(qtbot) -> None:
    panel = MeasurePanel("Bazett")
    qtbot.addWidget(panel)
    panel.set_device(DeviceReport(measurements={"pr": 144.0, "qrs": 95.0, "hr": 60.0}))
    panel.set_measurements(measured(pr=197))  # PR 197 ms, QRS 100 ms, HR 75 bpm
    pr, qrs, hr = panel.cells("pr"), panel.cells("qrs"), panel.cells("hr")
    assert pr[NOTE] == DIFFERS and pr[3] == "144 ms"
    row = [k for k, _ in ROWS].index("pr")
    tip = panel.table.item(row, NOTE).toolTip()
    assert "53 ms from the device's 144 ms: beyond IEC 60601-2-25's 20 ms" in tip
    assert qrs[NOTE] == "" and hr[NOTE] == ""  # 5 ms: within; the rate has no limit


def test_paced_values_are_labelled_and_unmet_criteria_say_why(qtbot) -> None:
    panel = MeasurePanel("Bazett")
    qtbot.addWidget(panel)
    panel.sex = "male"
    panel.set_measurements(measured(LBBB, qrs=(-60, 90), qt=520, paced=True))
    assert panel.cells("qrs")[NOTE] == PACED_NOTE and panel.cells("qt")[NOTE] == PACED_NOTE
    assert panel.cells("p")[NOTE] == ""
    assert panel.statement_lines[0].startswith("Ventricular paced rhythm")
    assert [line.split(":")[0] for line in panel.withheld_lines] == ["Prolonged QTc"]
    assert "<i>Prolonged QTc: not stated (paced rhythm; QRS 150 ms" in panel.statements.text()


def test_the_qtc_statement_follows_the_formula_chosen(qtbot) -> None:
    panel = MeasurePanel("Bazett")
    qtbot.addWidget(panel)
    panel.sex = "male"
    panel.set_measurements(measured(qt=370, hr=100))  # Bazett 478 ms, Framingham 432 ms
    assert any("QTc (Bazett) 478 ms" in line for line in panel.statement_lines)
    panel.formula.setCurrentIndex(panel.formula.findData("Framingham"))
    panel.formula.activated.emit(panel.formula.currentIndex())
    assert panel.cells("qtc")[0] == "QTc (Framingham)"
    assert not any("QTc" in line for line in panel.statement_lines)


def test_the_median_attribution_names_the_explanations_reference() -> None:
    e = SimpleNamespace(method="ig", target=SimpleNamespace(code="MI"), samples=None,
                        baseline="mean normal beat (PTB-XL NORM)")  # fmt: skip
    att = MedianAttribution(np.zeros(12), None, np.full(12, 9), matched=True)
    caption = attribution_caption(e, att)  # type: ignore[arg-type]
    assert "against the reference: mean normal beat (PTB-XL NORM)" in caption and "0 mV" not in caption
    assert caption.startswith("Integrated Gradients attribution of MI") and "the 9 analysed beats" in caption
