"""``python -m training interpretation-pairs``: the interpretation's statements that exclude each
other on fold 9, by who said each side and what PTB-XL labelled; resumable."""

from __future__ import annotations

from pathlib import Path

from ecgviewer.interpretation import EXCLUSIVE
from training.validate import interpretation_pairs as P


def _rows() -> list[dict]:
    return [
        {
            "ecg_id": 1,
            "labels": ["CRBBB", "SR"],
            "said": [["SR", "measured and model"], ["CRBBB", "measured"], ["IRBBB", "model"]],
        },
        {"ecg_id": 2, "labels": ["IRBBB"], "said": [["CRBBB", "measured"], ["IRBBB", "model"]]},
        {"ecg_id": 3, "labels": ["AFIB"], "said": [["SR", "measured"], ["AFIB", "model"]]},
        {"ecg_id": 4, "labels": ["NORM"], "said": [["SR", "measured and model"], ["NORM", "model"]]},
        {"ecg_id": 5, "labels": ["AFIB"], "error": "EcgError: truncated"},
    ]


def test_pairs_count_records_stating_both_sides_by_source_and_label() -> None:
    found = {p["why"]: p for p in P.pairs(_rows())}
    rbbb = found["a complete and an incomplete right bundle branch block"]
    assert rbbb["records"] == 2 and rbbb["by"] == {"measured CRBBB + model IRBBB": 2}
    assert rbbb["labelled"] == {"left": 1, "right": 1, "neither": 0}
    rhythm = found["a sinus rhythm and atrial fibrillation or flutter"]
    assert rhythm["by"] == {"measured SR + model AFIB": 1} and rhythm["labelled"]["right"] == 1
    assert found["left and right axis deviation"]["records"] == 0  # a sinus rhythm alone is not one


def test_the_report_counts_records_and_lists_every_pair(tmp_path: Path) -> None:
    out = P.write(_rows(), tmp_path / "I.md", P.COMMAND).read_text()
    assert P.COMMAND in out.splitlines()[2]
    assert "4 records analysed, 1 not (1 EcgError)" in out
    assert P.contradicted(_rows()) == {1, 2, 3} and "3 interpretations state at least one" in out
    line = next(x for x in out.splitlines() if "incomplete right" in x)
    assert "| 2 | measured CRBBB + model IRBBB: 2 | 1 / 1 / 0 |" in line
    table = [x for x in out.splitlines() if x.startswith("| ")][1:]  # under the header
    assert len(table) == len(EXCLUSIVE)


def test_run_analyses_shared_records_and_resumes(shared: Path, tmp_path: Path) -> None:
    path = tmp_path / "said.jsonl"
    rows = P.run(shared / "ptbxl", path, limit=2)
    assert len(rows) == 2 and all("said" in r for r in rows)
    assert all(who in ("measured", "model", "measured and model") for r in rows for _, who in r["said"])
    assert len(P.run(shared / "ptbxl", path, limit=1)) == 3  # the two kept, one more
