"""Wave-by-wave validation: one-to-one matching by overlap, sensitivity and PPV inside the marked
span, fiducial errors; the lead-count and rate conditions; a tiny run with tiny fold models."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ecgviewer.measure.delineate import Wave
from training.validate import waves as W


def test_matching_counts_and_errors() -> None:
    marks = [("P", 100, 150), ("QRS", 200, 240), ("T", 300, 400), ("QRS", 600, 640)]
    ours = [
        Wave("P", 52.0, 77.0),
        Wave("QRS", 101.0, 119.0),
        Wave("T", 151.0, 202.0),  # x2: 104-154 ...
        Wave("QRS", 400.0, 420.0),  # a QRS where none is marked
        Wave("QRS", 900.0, 920.0),
    ]  # fmt: skip  (outside the marked span: not counted)
    m = W.match(marks, ours, 2.0, (90, 1000))
    assert m["marked"] == {"P": 1, "QRS": 2, "T": 1}
    assert m["found"] == {"P": 1, "QRS": 2, "T": 1} and m["matched"] == {"P": 1, "QRS": 1, "T": 1}
    assert m["errors"]["p_on"] == [4.0] and m["errors"]["p_off"] == [4.0]
    assert m["errors"]["qrs_on"] == [2.0] and m["errors"]["qrs_off"] == [-2.0]
    assert m["errors"]["t_off"] == [4.0]
    assert m["at"]["p_on"] == m["at"]["p_off"] == [125.0] and m["at"]["qrs_on"] == [220.0]  # mark centres


def test_the_better_lead_of_each_beat_as_martinez_scored_qtdb() -> None:
    """Two leads' marks of the same beat (centres under 100 ms apart) keep the smaller error; a
    beat marked in one lead only keeps its own; another condition's rows do not count."""

    def row(lead: int, at: list[float], err: list[float], condition: str = "leads=2") -> dict:
        return {"condition": condition, "record": 3, "lead": lead,
                "errors": {k: err if k == "qrs_on" else [] for k in W.FIDUCIALS},
                "at": {k: at if k == "qrs_on" else [] for k in W.FIDUCIALS}}  # fmt: skip

    rows = [row(1, [200.0, 1000.0, 1800.0], [8.0, -2.0, 6.0]), row(6, [210.0, 1030.0], [-3.0, 12.0]),
            row(1, [200.0], [0.0], "leads=1")]  # fmt: skip
    assert W.best_lead(rows)["qrs_on"].tolist() == [-3.0, -2.0, 6.0]
    line = next(x for x in W.best_lead_table(rows) if x.startswith("| QRS onset"))
    assert line == "| QRS onset | +4.2 ± 6.5 | +0.3 ± 4.9 | 3 | +4.6 ± 7.7 |"


def test_table_gives_sensitivity_ppv_and_fiducials_beside_martinez() -> None:
    row = {"condition": "leads=1", "marked": {"P": 10, "QRS": 10, "T": 10},
           "found": {"P": 9, "QRS": 11, "T": 10}, "matched": {"P": 9, "QRS": 10, "T": 10},
           "errors": {"p_on": [2.0, 4.0], "p_off": [], "qrs_on": [1.0, -1.0], "qrs_off": [0.0, 2.0],
                      "t_off": [10.0, -10.0]}}  # fmt: skip
    out = "\n".join(W.table([row]))
    assert "| leads=1 | P | 0.900 [" in out and "(n=10) | 1.000 [" in out
    assert "| leads=1 | QRS onset | +0.0 ± 1.4 | 2 | +4.6 ± 7.7 |" in out
    assert "P offset" not in out  # fewer than two pairs: no row


def test_conditions_keep_the_leads_and_the_rate(shared: Path) -> None:
    from training.data import ludb

    rec = ludb.load(shared / "ludb", 1)
    x, fs, idx = W.condition(rec, "leads=2")
    assert idx == [1, 6] and fs == rec.fs and np.array_equal(x, rec.signals[[1, 6]])
    x, fs, idx = W.condition(rec, "fs=125")
    assert fs == 125.0 and idx == list(range(12)) and x.shape == (12, rec.signals.shape[1] // 4)
    with pytest.raises(KeyError):
        W.condition(rec, "leads=5")
