"""``python -m training atrial-waves``: PTB-XL's flutter records against the others through the
app's route, resumable, the test fold refused."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from training.validate import atrial_waves as AW


def _row(e: int, group: str, organisation: float, flutter: bool, rhythm: list[str]) -> dict:
    return {"ecg_id": e, "fold": 9, "group": group, "rhythm": rhythm, "organisation": organisation,
            "rate_per_min": 290.0, "flutter": flutter, "fibrillation": False}  # fmt: skip


def test_every_flutter_record_and_a_seeded_draw_of_the_others() -> None:
    flutter, fibrillation = [1, 0, 0, 0, 0, 0, 0, 0, 0, 0] * 2, [0, 1, 1, 1, 0, 0, 0, 0, 0, 0] * 2
    fast = [1, 0, 1, 0, 1, 1, 0, 0, 0, 0] * 2  # flutter and fibrillation first
    table = pd.DataFrame({"ecg_id": range(1, 21), "strat_fold": [9] * 10 + [10] * 10,
                          "AFLT": flutter, "AFIB": fibrillation, "STACH": fast})  # fmt: skip
    picked = AW.chosen(table, (9,), (2, 3))
    assert list(picked.group) == ["flutter"] + ["tachycardia"] * 2 + ["fibrillation"] * 2 + ["other"] * 3
    assert set(picked[picked.group == "tachycardia"].ecg_id) == {5, 6}  # every one
    assert set(picked.ecg_id) <= set(range(1, 11)) and 1 in set(picked.ecg_id)
    assert list(AW.chosen(table, (9,), (2, 3)).ecg_id) == list(picked.ecg_id)  # seeded
    assert len(AW.chosen(table, (9,), (0, 0))) == 10  # 0: every one
    assert len(AW.chosen(table.drop(columns="STACH"), (9,), (0, 0))) == 10  # no such column: none


def test_the_table_counts_each_group_and_names_the_false_calls() -> None:
    rows = [_row(1, "flutter", 0.55, True, ["AFLT"]), _row(2, "other", 0.45, True, ["STACH"]),
            _row(3, "other", 0.15, False, ["SR"]), _row(4, "fibrillation", 0.2, False, ["AFIB"])]  # fmt: skip
    lines = AW.table(rows)
    held = AW.table([*rows, _row(5, "tachycardia", 0.45, False, ["STACH"]) | {"flutter_withheld": True}])
    assert held[-1].endswith("less organised than that: tachycardia 1.")
    assert lines[2] == "| flutter | 1 | 0.55 [0.55, 0.55] | 1 | 0 |"
    assert lines[4] == "| tachycardia | 0 | - | 0 | 0 |"
    assert lines[5] == "| other | 2 | 0.30 [0.23, 0.38] | 1 | 0 |"
    assert (
        lines[-1]
        == "Called flutter: 2, of them 1 flutter records. The others by PTB-XL's rhythm statements: STACH 1. "
        "Not stated, the waves at twice a regular rate less organised than that: none."
    )


def test_the_command_reads_fold_9_resumably_and_refuses_fold_10(shared: Path, tmp_path: Path) -> None:
    from training.__main__ import main

    args = ["atrial-waves", "--data-root", str(shared), "--folds", "9", "--draw", "1,1",
            "--run-dir", str(tmp_path), "--out", str(tmp_path / "A.md")]  # fmt: skip
    main([*args, "--limit", "2"])
    (log,) = tmp_path.glob("*.jsonl")
    assert len(log.read_text().splitlines()) == 2
    main([*args, "--limit", "1"])  # carries on
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(rows) == 3 and len({r["ecg_id"] for r in rows}) == 3 and all(r["fold"] == 9 for r in rows)
    assert "| flutter |" in (tmp_path / "A.md").read_text()
    with pytest.raises(SystemExit, match="test fold"):
        main(["atrial-waves", "--data-root", str(shared), "--folds", "10", "--run-dir", str(tmp_path)])
