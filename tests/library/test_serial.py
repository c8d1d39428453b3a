"""Serial comparison's core: a patient's other ECGs (by the dataset's patient number, or by the
stored patient ID), newest first; the deltas of measurements and findings."""

from __future__ import annotations

from pathlib import Path

import pytest

from ecgviewer.library import serial
from ecgviewer.library.index import index
from tests.helpers import ptbxl_patient
from tests.library.conftest import write_ecg


def test_a_patients_other_ecgs_by_stored_patient_id_only_when_indexed_with_identifiers(tmp_path, library):
    folder = tmp_path / "clinic"
    first = write_ecg(folder, "visit-1", qtc=440.0)
    second = write_ecg(folder, "visit-2", qtc=470.0)
    index(folder, library)  # without --identifiers the patient cannot be told
    assert serial.same_patient(library, second) == []
    index(folder, library, identifiers=True)
    (other,) = serial.same_patient(library, second)
    assert Path(other.path) == first.resolve()
    assert serial.same_patient(library, tmp_path / "not-indexed.hea") == []


def test_a_ptbxl_patients_records_newest_first(shared, tmp_path, library):
    """PTB-XL's patient_id ties a patient's records together (25 patients have two or more among
    the first 500 in ../shared)."""
    tree, heads = ptbxl_patient(shared, tmp_path)
    index(tree, library)
    others = serial.same_patient(library, heads[-1])  # the newest
    assert [Path(f.path) for f in others] == [h.resolve() for h in heads[-2::-1]]  # newest first
    assert len({f.patient for f in others}) == 1 and others[0].patient
    assert serial.earlier_of(library, heads[-1]) == others[0]


def test_deltas() -> None:
    m = serial.measurement_deltas({"qtc": 440.0, "hr": 60.0}, {"qtc": 470.0, "qrs": 90.0})
    assert [(d.key, d.before, d.after, d.change) for d in m] == [
        ("hr", 60.0, None, None), ("qrs", None, 90.0, None), ("qtc", 440.0, 470.0, 30.0)
    ]  # fmt: skip
    assert m[2].label == "QTc" and m[2].unit == "ms"
    f = serial.finding_deltas({"MI": 0.1, "NORM": 0.8}, {"MI": 0.7, "NORM": 0.75}, ["NORM", "MI", "HYP"])
    assert [d.key for d in f] == ["MI", "NORM"]
    assert f[0].change == pytest.approx(60.0) and f[1].change == pytest.approx(-5.0)
