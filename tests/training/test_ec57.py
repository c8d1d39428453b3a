"""Issue 74 part 4: EC57 on the MIT-BIH Arrhythmia Database (``python -m training ec57``): the
counts on a case built by hand, and the command on two real records."""

from __future__ import annotations

import numpy as np
import pytest

from training.validate import ec57

FS = 360.0


def test_counts_follow_ec57_on_a_built_case():
    """Five reference beats (N, V, S, F, N); the list finds four of them, one 100 ms late, calls
    the V ventricular and the S normal, and invents a ventricular beat in noise."""
    ref = np.array([360, 720, 1080, 1440, 1800])
    symbols = ["N", "V", "A", "F", "N", "+"]  # a rhythm label among them is not a beat
    ref = np.append(ref, 1900)
    det_s = np.array([1.0, 2.0, 3.1, 4.0, 6.0])  # 1800 (5.0 s) missed; 6.0 s invented
    kinds = ["normal", "ventricular", "normal", "ventricular", "ventricular"]
    c = ec57.score("100", ref, symbols, det_s, kinds, FS, [(0.0, 10.0)], [(5.0, 15.0)])
    s = ec57.stats(c)
    assert (c.ref_beats, c.det_beats, c.matched) == (5, 5, 4)
    assert s["qrs_se"] == pytest.approx(4 / 5) and s["qrs_pp"] == pytest.approx(4 / 5)
    assert (c.tp_v, c.ref_v, c.det_v) == (1, 1, 3)  # the fusion and the invented beat count against +P
    assert s["sveb_se"] == 0.0 and s["sveb_pp"] is None
    assert c.f_called == {"V": 1}
    assert s["af_se"] == pytest.approx(0.5) and s["af_pp"] == pytest.approx(0.5)
    assert ec57.rhythm_stretches([0, 360, 720], ["(N", "(AFIB", "(N"], FS, 10.0) == [(1.0, 2.0)]
    assert ec57.rhythm_stretches([360], ["(AFIB"], FS, 10.0) == [(1.0, 10.0)]  # to the end


def test_the_paced_records_stay_out_of_the_class_scores():
    paced = ec57.Counts("104", paced=True, ref_beats=10, matched=10, det_beats=10, ref_v=5, det_v=0)
    plain = ec57.Counts("119", ref_beats=10, matched=9, det_beats=10, ref_v=2, det_v=2, tp_v=2)
    g = ec57.gross([paced, plain], paced=False)
    assert (g.ref_beats, g.ref_v) == (10, 2)
    assert ec57.gross([paced, plain], paced=True).ref_beats == 20


def test_the_command_on_three_records(shared, tmp_path):
    """Records 119 (ventricular bigeminy), 201 (atrial fibrillation, SVEB) and 209 (SVEB runs),
    each classed by a classifier fitted on the other two: the report's rows and gross lines are
    there, and the figures are what EC57 counting gives (not all 100 %)."""
    from training.__main__ import main

    out = tmp_path / "EC57.md"
    main(["ec57", "--mitdb", str(shared / "mitdb"), "--records", "119", "201", "209", "--out", str(out)])
    text = out.read_text()
    assert "| 119 | 1987 |" in text and "| 201 | 1963 |" in text and "| 209 | 3005 |" in text
    cv, shipped = (line for line in text.splitlines() if line.startswith("| **gross**"))
    cells, fitted = ([float(c) for c in line.strip("|").split("|")[2:8]] for line in (cv, shipped))
    assert 99.0 <= cells[0] < 100.0 and 50.0 < cells[2] < 100.0  # QRS Se; VEB Se (not all found)
    assert cells[4] < fitted[4]  # SVEB Se: the records themselves are easier than the others' beats
    assert "95 % intervals (bootstrap over records)" in text
