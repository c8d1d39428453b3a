"""``python -m training lead-quality``: counting the corrupted lead left out, other leads left
out beyond the clean recording's, and the change of the values; a tiny run on LUDB."""

from __future__ import annotations

from pathlib import Path

from training.validate import lead_quality as L

NOISE = "white noise, 0.2 mV RMS"


def _rows() -> list[dict]:
    v = {"qrs": 90.0, "qt": 400.0, "hr": 60.0}
    return [
        {"record": 1, "condition": "clean", "lead": None, "left_out": {}, "values": v},
        {"record": 2, "condition": "clean", "lead": None, "left_out": {"I": "clipped: ..."}, "values": v},
        {
            "record": 1,
            "condition": NOISE,
            "lead": "V2",
            "left_out": {"V2": "pure noise: ..."},
            "values": {"qrs": 94.0, "qt": 400.0, "hr": 60.0},
        },
        {
            "record": 2,
            "condition": NOISE,
            "lead": "V3",
            "left_out": {"I": "clipped", "V4": "pure noise"},
            "values": {"qrs": None, "qt": 410.0, "hr": 61.0},
        },
    ]


def test_the_table_counts_the_corrupted_lead_and_any_other() -> None:
    lines = L.table(_rows())
    clean = next(x for x in lines if x.startswith("| clean |"))
    assert "| 2 | - | 1/2 = 0.50" in clean
    noise = next(x for x in lines if x.startswith(f"| {NOISE} |"))
    # V2 found in record 1; record 2 missed V3 and left out V4 (I was left out when clean too)
    assert noise == f"| {NOISE} | 2 | 1/2 = 0.50 [0.09-0.91] | 1/2 = 0.50 [0.09-0.91] | 4.0 / 5.0, 0.5 |"


def test_a_tiny_run_on_ludb(shared: Path, tmp_path: Path) -> None:
    rows = L.run(shared / "ludb", tmp_path / "rows.jsonl", limit=2)
    assert len(rows) == 2 * (1 + len(L.CORRUPTIONS))
    corrupted = [r for r in rows if r["condition"] != "clean"]
    assert all(r["lead"] in r["left_out"] for r in corrupted), [r["left_out"] for r in corrupted]
    out = L.write(rows, tmp_path / "LEAD_QUALITY.md", "python -m training lead-quality --limit 2")
    assert "| flat (0 mV) | 2 | 2/2 = 1.00" in out.read_text()
