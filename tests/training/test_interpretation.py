"""``python -m training interpretation``: our statements against PTB-XL's, counted per statement
with Wilson intervals; premature complexes not ventricular count for 'premature beats' (the
ventricular ones have a statement of their own); resumable."""

from __future__ import annotations

import json
from pathlib import Path

from training.validate import interpretation as I


def _rows() -> list[dict]:
    return [
        {"ecg_id": 1, "fold": 10, "labels": ["SR", "CLBBB"], "ours": ["SR", "CLBBB"]},
        {"ecg_id": 2, "fold": 10, "labels": ["SR"], "ours": ["SR", "CLBBB", "LAD"]},
        {"ecg_id": 3, "fold": 10, "labels": ["AFIB", "PAC"], "ours": ["PRC(S)"]},
        {"ecg_id": 6, "fold": 10, "labels": ["PVC"], "ours": ["PVC", "PRC(S)"]},
        {"ecg_id": 4, "fold": 10, "labels": ["CLBBB"], "error": "EcgError: truncated"},
        {"ecg_id": 5, "fold": 9, "labels": ["CLBBB"], "ours": []},
    ]


def test_agreement_counts_measured_records_of_one_fold() -> None:
    fold10 = [r for r in _rows() if r["fold"] == 10]
    assert I.agreement(fold10, "CLBBB") == {"records": 4, "labelled": 1, "called": 2, "both": 1}
    assert I.agreement(fold10, "PRC(S)") == {"records": 4, "labelled": 1, "called": 2, "both": 1}
    assert I.agreement(fold10, "PVC") == {"records": 4, "labelled": 1, "called": 1, "both": 1}
    assert I.agreement(fold10, "AFIB")["both"] == 0


def test_the_table_gives_sensitivity_and_ppv_per_fold(tmp_path: Path) -> None:
    out = I.write(_rows(), tmp_path / "S.md", "python -m training interpretation").read_text()
    fold10 = out.split("## Fold 10")[1].split("## Criteria")[0]
    line = next(x for x in fold10.splitlines() if x.startswith("| Complete left bundle branch block |"))
    assert "| 1 | 2 | 1/1 = 1.00" in line and "1/2 = 0.50" in line
    assert "4 records measured, 1 not (EcgError)" in fold10
    assert "| Left axis deviation | none | - | 1 | - | - |" in fold10
    assert "## Fold 9" in out and "AHA/ACCF/HRS 2009" in out


def test_scoring_fold_10_is_logged_in_the_ledger() -> None:
    import os

    ledger = Path(os.environ["TRAINING_LEDGER"])
    before = ledger.read_text() if ledger.is_file() else ""
    I.log_test_read(_rows())
    line = ledger.read_text()[len(before) :]
    assert "| statements | " in line and "CLBBB 1/1, 1/2" in line and "4 records" in line
    assert "AFIB 0/1, 0/0" in line and "SR" in line


def test_run_measures_shared_records_and_resumes(shared: Path, tmp_path: Path) -> None:
    path = tmp_path / "statements.jsonl"
    rows = I.run(shared / "ptbxl", (10,), path, limit=2)
    assert len(rows) == 2 and all(r["fold"] == 10 and "ours" in r and r["labels"] for r in rows)
    again = I.run(shared / "ptbxl", (10,), path, limit=1)  # resumes after the two done
    assert len(again) == 3 and len({r["ecg_id"] for r in again}) == 3
    assert all(json.loads(line) for line in path.read_text().splitlines())


def test_the_rate_check_pairs_each_record_at_100_and_500_hz(shared: Path, tmp_path: Path) -> None:
    rows = I.rate_check(shared / "ptbxl", tmp_path / "rates.jsonl", limit=2)
    assert [r["ecg_id"] for r in rows] == [1, 2] and all(set(r) == {"ecg_id", "100", "500"} for r in rows)
    assert all(r[rate]["values"]["hr"] is not None for r in rows for rate in ("100", "500"))
    assert len(I.rate_check(shared / "ptbxl", tmp_path / "rates.jsonl", limit=1)) == 3  # resumes

    def side(ours: list[str], **values: float | None) -> dict:
        paced = values.get("hr") is None  # as a stand-in
        return {"values": dict.fromkeys(I.RATE_VALUES) | values, "ours": ours, "paced": paced}

    text = "\n".join(I.rate_table([
        {"ecg_id": 7, "100": side(["1AVB"], pr=210.0, hr=60.0), "500": side([], pr=200.0, hr=60.0)},
        {"ecg_id": 9, "100": side(["1AVB", "SR"], pr=150.0), "500": side(["1AVB", "SR"], pr=150.0, hr=61.0)},
    ]))  # fmt: skip
    assert "(2: ecg_id 7-9)" in text and "| pr | +5.0 ± 7.1 | +5.0 | 2 |" in text
    assert "| hr |" not in text  # one pair is no SD
    assert "| Paced rhythm: paced complex measured (spikes need 250 Hz) | 1 | 0 | 0 |" in text
    assert "| First-degree AV block | 2 | 1 | 1 |" in text and "| Sinus rhythm | 1 | 1 | 1 |" in text
