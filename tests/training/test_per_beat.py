"""Beat-by-beat validation of the beat list: matching a listed beat to each marked beat, errors
and missing fiducials, sensitivity and PPV inside the marked stretch, the 128 Hz Holter condition."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np

from training.validate import per_beat as P


def _rec() -> SimpleNamespace:
    """A stand-in LUDB record at 500 Hz with two marked beats in lead II."""
    waves: list[list] = [[] for _ in range(12)]
    waves[1] = [("P", 100, 150), ("QRS", 200, 240), ("T", 300, 400), ("QRS", 700, 740), ("T", 800, 900)]
    return SimpleNamespace(fs=500.0, number=1, waves=waves)


def test_each_marked_beat_is_matched_once_with_its_errors_and_what_is_missing() -> None:
    t_s = np.array([0.44, 1.44, 2.5])  # R inside the first QRS, the second, and one unmarked beat
    fid = np.array([
        [-240.0, np.nan, np.nan],  # P onset: 0.44 s - 240 ms = sample 100: no error
        [-136.0, np.nan, np.nan],  # P offset: sample 152 against the mark's 150: +4 ms
        [-40.0, -44.0, -40.0],  # QRS onset 200 (0 ms) and 698 (-4 ms)
        [40.0, 44.0, 40.0],  # QRS offset 240 (0) and 742 (+4 ms)
        [360.0, np.nan, 300.0],  # T offset 400 (+0); the second beat's is missing
    ])  # fmt: skip
    out = P.compare(_rec(), [1], t_s, fid, ["normal", "ventricular", "normal"])
    assert out["marked"] == 2 and out["matched"] == 2 and out["listed"] == 2  # 2.5 s is outside
    assert out["errors"]["p_on"] == [0.0] and out["errors"]["p_off"] == [4.0]
    assert out["errors"]["qrs_on"] == [0.0, -4.0]
    assert out["errors"]["qrs_off"] == [0.0, 4.0] and out["errors"]["t_off"] == [0.0]
    assert out["missing"]["t_off"] == 1 and out["missing"]["p_on"] == 0  # the 2nd beat has no P mark
    table = "\n".join(P.table([{"condition": "leads=1", **out}]))
    assert "| leads=1 | T offset" not in table  # one pair is no SD
    assert "| leads=1 | QRS onset | -2.0 ± 2.8 | 2 | 1.000 | 6.5 | yes |" in table
    assert out["marks_from_r"]["qrs_on"] == [-40.0, -40.0]  # the marks from our R: 200 - 220, 698 - 718
    assert table.rstrip().endswith("| - |")  # two beats make no beat-to-beat SD
    assert out["kinds"]["qrs_on"] == ["normal", "ventricular"] and out["kinds"]["t_off"] == ["normal"]
    kinds = P.kind_table([{"condition": "leads=1", **out}, {"condition": "leads=1", **out}])
    assert "| leads=1 | ventricular | QRS onset | -4.0 ± 0.0 | 2 |" in kinds
    assert "| leads=1 | normal | QRS onset | +0.0 ± 0.0 | 2 |" in kinds


def test_beat_to_beat_scatter_of_the_marks_and_ours() -> None:
    """Within a record: the marks wobble by +-4 ms about a fixed offset from R, ours sit still."""
    marks = [-40.0, -44.0, -40.0, -44.0, -40.0]
    row = {"condition": "leads=2", "marked": 5, "matched": 5, "listed": 5,
           "errors": {k: [] for k in P.FIDUCIALS} | {"qrs_on": [-42.0 - m for m in marks]},
           "marks_from_r": {k: [] for k in P.FIDUCIALS} | {"qrs_on": marks},
           "kinds": {k: [] for k in P.FIDUCIALS} | {"qrs_on": ["normal"] * 5},
           "missing": dict.fromkeys(P.FIDUCIALS, 0)}  # fmt: skip
    line = next(x for x in P.table([row]) if "QRS onset" in x)
    assert line.endswith(f"| {np.std(marks, ddof=1):.1f} / 0.0 |")


def test_the_holter_conditions_are_two_leads_at_250_and_128_hz(shared: Path) -> None:
    from training.data import ludb
    from training.validate.waves import condition

    rec = ludb.load(shared / "ludb", 1)
    for rate in (250, 128):
        x, fs, idx = condition(rec, f"leads=2,fs={rate}")
        assert fs == rate and idx == [1, 6] and x.shape == (2, round(rec.signals.shape[1] * rate / rec.fs))
    x, fs, idx = condition(rec, "leads=3")
    assert fs == rec.fs and idx == [1, 6, 10]
    x, fs, idx = condition(rec, "fs=125")
    assert fs == 125.0 and idx == list(range(12))
    assert {"leads=2,fs=250", "leads=2,fs=128", "leads=2,fs=250,noise=all"} <= set(P.CONDITIONS)
    clean, _, _ = condition(rec, "leads=2,fs=250")
    noisy, fs, idx = condition(rec, "leads=2,fs=250,noise=all")
    again, _, _ = condition(rec, "leads=2,fs=250,noise=all")
    assert fs == 250.0 and idx == [1, 6] and noisy.shape == clean.shape and np.array_equal(noisy, again)
    assert 0.05 < float(np.std(noisy - clean)) < 0.5  # wander, mains and muscle at the stated levels
    x, fs, idx = condition(rec, "lowpass=100")
    assert fs == rec.fs and idx == list(range(12)) and x.shape == rec.signals.shape
    step = np.zeros((12, 200), np.float32)
    step[:, 100:] = 1.0  # a one-pole 100 Hz front end: a step rises by 1 - exp(-2 pi 100 t)
    rise = condition(SimpleNamespace(signals=step, fs=500.0, number=1), "lowpass=100")[0][0]
    assert rise[99] == 0.0 and 0.6 < rise[101] < 0.95 and rise[-1] > 0.99


def test_paced_records_count_their_paced_beats_and_stay_out_of_the_errors() -> None:
    def row(paced: bool, called: int, other: int, error: float) -> dict:
        return {"condition": "leads=2", "paced": paced, "marked": 3, "matched": 3, "listed": 3,
                "listed_kinds": dict.fromkeys(P.KINDS, 0) | {"paced": called, "normal": other},
                "errors": {k: [] for k in P.FIDUCIALS} | {"qrs_on": [error, error + 2.0]},
                "marks_from_r": {k: [] for k in P.FIDUCIALS},
                "kinds": {k: [] for k in P.FIDUCIALS} | {"qrs_on": ["normal"] * 2},
                "missing": dict.fromkeys(P.FIDUCIALS, 0)}  # fmt: skip

    rows = [row(True, 9, 1, 80.0), row(False, 0, 10, 0.0), row(False, 1, 9, 0.0)]
    line = next(x for x in P.paced_table(rows) if x.startswith("| leads=2"))
    assert line.startswith("| leads=2 | 0.900 [") and "(n=10) | 0.050 [" in line and line.endswith("(n=20) |")
    assert "| leads=2 | QRS onset | +1.0 ± 1.2 | 4 |" in "\n".join(P.table(rows))  # the paced 80 ms left out
    assert all("+80" not in x for x in P.kind_table(rows))
