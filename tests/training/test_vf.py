"""``python -m training vf``: the reference's flutter from either annotation style, and what the
beat list makes of it (record 207, the one of DS1 with flutter)."""

from __future__ import annotations

import pytest

from training.validate import vf as V


def test_flutter_from_brackets_and_rhythm_labels_merged_and_run_to_the_end():
    # cudb's brackets, one left open; vfdb's rhythm labels, the last running to the record's end
    samples = [100, 300, 400, 500, 600, 700, 900]
    symbols = ["[", "]", "+", "+", "+", "[", "+"]
    notes = ["", "", "(VFL", "(N", "(VF", "", ""]
    got = V.stretches(samples, symbols, notes, fs=100.0, end_s=10.0)
    assert got == [(1.0, 3.0), (4.0, 5.0), (6.0, 10.0)]  # the open bracket at 7 s joins (VF from 6 s
    assert V.stretches([0, 50], ["+", "+"], ["(N", "(VT"], 100.0, 2.0) == []


def test_the_beat_list_in_record_207s_flutter(tmp_path, shared):
    from ecgviewer.measure.delineate import Delineator

    row = V.measure(shared / "mitdb" / "207.hea", Delineator.bundled())
    assert 140 < row.vf_s < 150  # the reference's 143-145 s of flutter
    assert row.listed >= row.ventricular >= 0 and row.in_run_s + row.unreadable_s <= row.vf_s + 1e-6
    text = V.report({"mitdb": [row]}, "python -m training vf --db mitdb")
    assert "| mitdb | 1 (1) | 0.5 |" in text and "- mitdb: 207 " in text
    assert 0 <= row.found_in_s <= min(row.found_s, row.vf_s) and "## The flutter detector's events" in text


@pytest.mark.parametrize("vf_s", [0.0, 60.0])
def test_a_database_row_with_and_without_flutter(vf_s):
    row = V.Row("x", 3600.0, vf_s, 30 if vf_s else 0, 3 if vf_s else 0, 6.0 if vf_s else 0.0, 0.0)
    cells = V._db_row("db", [row]).split(" | ")
    assert cells[1:3] == (["1 (1)", "1.0"] if vf_s else ["1 (0)", "1.0"])
    assert cells[4] == ("30 (30)" if vf_s else "0") and cells[5] == ("10.0 %" if vf_s else "-")


def test_the_detectors_row_sums_seconds_over_records_with_intervals():
    rows = [V.Row("a", 1800.0, 100.0, 0, 0, 0.0, 0.0, 90.0, 80.0),
            V.Row("b", 1800.0, 0.0, 0, 0, 0.0, 0.0, 10.0, 0.0)]  # fmt: skip
    cells = V._found_row("db", rows).strip("| ").split(" | ")
    assert cells[:5] == ["db", "2 (1)", "1.0", "100", "100"]
    assert cells[5] == "80.0 (one record)" and cells[6].startswith("80.0 [")  # Se 80/100, +P 80/100
    assert cells[7] == "20.0"  # 20 s outside flutter in one hour
    assert V._ratio(rows[1:], "found_in_s", "vf_s") == "-"
    assert V._ratio(rows, "found_in_s", "vf_s") == "80.0 (one record)"  # no interval from one record


def test_ordinary_ecgs_are_read_from_ptbxls_fold_and_said_in_the_report(shared, monkeypatch):
    from ecgviewer.measure.delineate import Delineator
    from training.data import datasets

    labels = datasets.load_labels(shared / "ptbxl")
    few = type(labels)(labels.ecg_id[:40], labels.fold[:40], labels.statements, labels.y[:40], labels.scp)
    monkeypatch.setattr(datasets, "load_labels", lambda root: few)
    fold = int(few.fold[0])
    plain = V.ordinary(shared / "ptbxl", [fold], Delineator.bundled())
    assert (
        0 < plain.records <= int((few.fold == fold).sum()) and plain.with_event == [] and plain.seconds == 0
    )
    text = V.report({}, "python -m training vf", plain)
    assert (
        f"PTB-XL fold(s) {fold} " in text and f"{plain.records} records read by the beat list, 0 with" in text
    )


def test_the_test_fold_is_refused(tmp_path):
    import argparse

    p = argparse.ArgumentParser()
    V.arguments(p)
    args = p.parse_args(["--db", str(tmp_path), "--ptbxl", str(tmp_path), "--folds", "9", "10"])
    with pytest.raises(SystemExit, match=r"fold 10"):
        V.command(args)
