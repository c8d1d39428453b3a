"""Our measurements against the acquiring device's (issue 71): a difference beyond what IEC
60601-2-25 allows an electrocardiograph's intervals is flagged, in the measurements' JSON as in the
panel; one within it is not. QTc is compared in the device's own formula."""

from __future__ import annotations

from pathlib import Path

import pytest

from ecgviewer.measure.agreement import LIMITS_MS, device_formula, differences, flags, limit_ms
from ecgviewer.recording import DeviceReport
from tests.measure.synthetic import measured


def test_the_limits_are_the_standards_mean_difference_plus_one_standard_deviation() -> None:
    assert LIMITS_MS == {"p": (10.0, 15.0), "pr": (10.0, 10.0), "qrs": (10.0, 10.0), "qt": (25.0, 30.0)}
    assert [limit_ms(k) for k in ("p", "pr", "qrs", "qt", "qtc")] == [25.0, 20.0, 20.0, 55.0, 55.0]
    assert limit_ms("hr") is None and limit_ms("qrs_axis") is None  # the standard sets none


def test_a_difference_beyond_the_limit_is_flagged_and_one_within_is_not() -> None:
    m = measured(qrs=(-60, 64), pr=197, qt=400)  # QRS 124 ms, PR 197 ms
    device = DeviceReport(
        measurements={"qrs": 102.0, "pr": 144.0, "qt": 390.0, "hr": 75.0, "qrs_axis": -60.0}
    )
    found = flags(m, device, "Bazett")
    assert set(found) == {"qrs", "pr"}  # QT 10 ms apart; rate and axis have no limit
    assert found["pr"].text() == "53 ms from the device's 144 ms: beyond IEC 60601-2-25's 20 ms"
    assert found["qrs"].ms == pytest.approx(22.0)
    within = DeviceReport(measurements={"qrs": 110.0, "pr": 180.0})  # 14 and 17 ms: inside 20 ms
    assert flags(m, within, "Bazett") == {} and set(differences(m, within, "Bazett")) == {"qrs", "pr"}
    assert flags(m, None, "Bazett") == {}


def test_qtc_is_compared_in_the_devices_formula() -> None:
    m = measured(qt=420, hr=72)  # RR 833 ms: Bazett 460 ms, Framingham 446 ms
    bazett, framingham = m.qtc("Bazett").value, m.qtc("Framingham").value
    named = DeviceReport(measurements={"qtc": 443.0}, qtc_formula="Framingham")
    assert device_formula(named) == "Framingham"
    (d,) = differences(m, named, "Bazett").values()
    assert d.formula == "Framingham" and d.ours == pytest.approx(framingham) and not d.beyond
    # not named: its own QT and RR give it away (Bazett: 400 / sqrt(0.8) = 447 ms)
    told = DeviceReport(measurements={"qt": 400.0, "rr": 800.0, "qtc": 447.0})
    assert device_formula(told) == "Bazett"
    assert differences(m, told, "Hodges")["qtc"].ours == pytest.approx(bazett)
    # neither: ours in the formula shown beside it
    unknown = DeviceReport(measurements={"qtc": 400.0})
    assert device_formula(unknown) is None
    (d,) = flags(m, unknown, "Bazett").values()
    assert d.formula == "Bazett" and d.ms == pytest.approx(bazett - 400.0) and "(both Bazett)" in d.text()


def test_a_muse_file_whose_pr_differs_from_the_devices_is_flagged_in_the_json(shared: Path) -> None:
    """GE MUSE sample: the device measured PR 144 ms; the delineator's PR is some 50 ms longer."""
    from ecgviewer.io import load
    from ecgviewer.measure.delineate import Delineator
    from ecgviewer.measure.pipeline import measure_recording, to_json

    rec = load(shared / "formats" / "ge_muse_xml" / "muse-sinus.xml")
    m = measure_recording(rec, Delineator.bundled())
    assert m.device is rec.metadata.device and m.device.measurements["pr"] == 144.0
    doc = to_json(m)["device_differences"]
    assert doc["pr"]["beyond_limit"] and doc["pr"]["limit_ms"] == 20.0 and doc["pr"]["device"] == 144.0
    assert doc["pr"]["standard"] == "IEC 60601-2-25"
    within = [k for k, d in doc.items() if not d["beyond_limit"]]
    assert within and all(doc[k]["difference_ms"] <= doc[k]["limit_ms"] for k in within)
