"""``python -m training operating-points`` (``training/validate/operating_points.py``): the rates and
their record bootstrap on synthetic findings whose answers are known, the draws a class sits out,
the card written with the rest of it byte for byte, and the fold-10 read logged in the ledger."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import REPO
from training.validate import likelihood as V
from training.validate import operating_points as O

SHA = "ab" * 32


def _findings(
    p: list[float], y: list[int], threshold: float, name: str = "all/A", start: int = 1
) -> V.Findings:
    n = len(p)
    record = np.arange(start, start + n)
    return V.Findings(
        np.asarray(p, dtype=np.float64),
        np.asarray(y, dtype=np.int8),
        np.full(n, threshold),
        np.full(n, name),
        np.array([f"record {r}" for r in record]),
        record,
    )


def _join(*fs: V.Findings) -> V.Findings:
    return V.Findings(*(np.concatenate(parts) for parts in zip(*(_fields(f) for f in fs), strict=True)))


def _fields(f: V.Findings) -> tuple[np.ndarray, ...]:
    return (f.p, f.y, f.threshold, f.name, f.group, f.record)


def test_rates_at_the_threshold_with_known_answers() -> None:
    # 10 records, threshold 0.5 (p at the threshold is a positive call, as the app decides):
    # tp 3 (0.9, 0.7, 0.5), fn 1 (0.2), fp 2 (0.6, 0.8), tn 4
    f = _findings([0.9, 0.7, 0.5, 0.2, 0.6, 0.8, 0.1, 0.3, 0.49, 0.0], [1, 1, 1, 1, 0, 0, 0, 0, 0, 0], 0.5)
    (row,) = O.operating_points(f, n_boot=300)
    assert (row["tp"], row["fn"], row["fp"], row["tn"]) == (3, 1, 2, 4)
    assert (row["positives"], row["called"], row["records"]) == (4, 5, 10)
    assert row["sensitivity"] == 0.75 and row["specificity"] == 4 / 6
    assert row["ppv"] == 0.6 and row["npv"] == 0.8
    assert row["threshold"] == 0.5 and (row["task"], row["code"]) == ("all", "A")
    for m in O.METRICS:
        lo, hi = row[f"{m}_ci"]
        assert 0 <= lo <= row[m] <= hi <= 1 and lo < hi, m
    # the draws are the seed's: the same figures again, other figures with another seed
    assert O.operating_points(f, n_boot=300) == [row]
    assert O.operating_points(f, n_boot=300, seed=1)[0]["sensitivity_ci"] != row["sensitivity_ci"]


def test_a_perfect_class_has_degenerate_intervals_and_the_draws_are_records() -> None:
    f = _findings([0.9, 0.8, 0.1, 0.2, 0.3, 0.05], [1, 1, 0, 0, 0, 0], 0.5, "super/P")
    (row,) = O.operating_points(f, n_boot=200)
    for m in O.METRICS:
        assert row[m] == 1.0 and row[f"{m}_ci"] == [1.0, 1.0]
    w = O.draws(6, 200, 0)
    assert w.shape == (200, 6) and (w.sum(axis=1) == 6).all()  # each draw: as many records as there are
    assert len({tuple(r) for r in w}) > 100  # and they differ (462 multisets of 6 are possible)


def test_draws_without_a_positive_leave_the_class_out_and_are_counted() -> None:
    """Class R has one positive among 10 records: a draw misses it with probability (9/10)^10 = 0.35;
    class C, on the same records, has five: a draw misses them with probability 0.5^10. The counts
    are exactly the draws'."""
    rare = _findings([0.9] + [0.1] * 9, [1] + [0] * 9, 0.5, "all/R")
    common = _findings([0.9] * 5 + [0.1] * 5, [1] * 5 + [0] * 5, 0.5, "all/C")
    n_boot = 1000
    r, c = O.operating_points(_join(rare, common), n_boot=n_boot)
    assert (r["finding"], c["finding"]) == ("all/R", "all/C")
    w = O.draws(10, n_boot, O.SEED)
    missed = int((w[:, 0] == 0).sum())  # record 1 (index 0) is R's only positive
    assert r["no_positives"] == missed and abs(missed / n_boot - 0.9**10) < 0.05
    assert c["no_positives"] == int((w[:, :5].sum(axis=1) == 0).sum()) < 10 and c["no_calls"] == 0
    # R is perfect whenever it is in a draw: its sensitivity interval holds no draw without a positive
    assert r["sensitivity_ci"] == [1.0, 1.0] and r["ppv_ci"] == [1.0, 1.0]
    # a class whose positives are never called: PPV undefined in every draw that has positives
    missed_all = _findings([0.1] * 4, [1, 1, 0, 0], 0.5, "all/M")
    (m,) = O.operating_points(missed_all, n_boot=100)
    assert m["sensitivity"] == 0.0 and np.isnan(m["ppv"]) and np.isnan(m["ppv_ci"]).all()
    assert m["no_positives"] + m["no_calls"] == 100
    assert "no positive" in O.points_table([r, c])[0] and "all/R" in O._left_out([r, c], n_boot)


def _card_copy(tmp_path: Path) -> Path:
    for suffix in (".json", ".md"):
        shutil.copy(REPO / "resources/models" / f"clear-hug-bundled{suffix}", tmp_path / f"model{suffix}")
    return tmp_path / "model.json"


def test_the_writer_keeps_the_rest_of_the_card_and_renders_the_section(tmp_path: Path) -> None:
    from training.supervised.card import markdown

    path = _card_copy(tmp_path)
    before_text = path.read_text()
    before = json.loads(before_text)
    before.pop(O.SECTION, None)
    f = _join(
        _findings([0.9, 0.7, 0.2, 0.6, 0.1, 0.3], [1, 1, 1, 0, 0, 0], 0.5, "super/MI"),
        _findings([0.8, 0.2, 0.6, 0.1, 0.4, 0.05], [1, 0, 1, 0, 0, 0], 0.3, "all/AFIB"),
    )
    fig = O.figures(f, None, n_boot=50)
    result = {"fold10": fig, "ludb": None, "n_boot": 50, "sha256": SHA}
    new = O.section(result)
    assert new["classes"]["super"]["MI"]["positives"] == 3 and new["records"] == 6
    O.write_card(path, new)
    after = json.loads(path.read_text())
    assert {k: v for k, v in after.items() if k != O.SECTION} == before  # the rest unchanged
    if O.SECTION not in json.loads(before_text):  # appended: the old text is the new one's start
        assert path.read_text().startswith(before_text[: before_text.rindex("}")].rstrip())
    md = path.with_suffix(".md").read_text()
    assert md == markdown(after) and "## Operating points (fold 10)" in md
    assert "| super/MI | 0.500 | 0.667 [" in md and "| all/AFIB | 0.300 |" in md
    path.write_text(json.dumps(after, indent=2))  # another format: refused, not rewritten
    with pytest.raises(ValueError, match="format"):
        O.write_card(path, new)


def _ptbxl(root: Path, n: int, fold: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A PTB-XL folder of ``n`` records, statements A and B, every record in ``fold``."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    folder = root / "ptbxl"
    folder.mkdir(parents=True)
    pd.DataFrame({"description": ["a", "b"]}, index=pd.Index(["A", "B"], name="")).to_csv(
        folder / "scp_statements.csv"
    )
    p = rng.uniform(0, 1, (n, 2))
    y = (rng.uniform(0, 1, (n, 2)) < p).astype(np.uint8)
    y[:, 1] |= (y.sum(axis=1) == 0).astype(np.uint8)  # every record labelled in the task
    ids = np.arange(1, n + 1)
    pd.DataFrame({"ecg_id": ids, "strat_fold": fold, "A": y[:, 0], "B": y[:, 1]}).to_csv(
        folder / "ptbxl_statements_v103.csv", index=False
    )
    return p, y


def test_the_run_reads_fold_10_logs_it_once_and_refuses_other_folds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ecgviewer.ml import contract
    from training.supervised import every_beat as EB

    ledger = tmp_path / "FOLD10.md"
    monkeypatch.setenv("TRAINING_LEDGER", str(ledger))
    n = 200
    p, y = _ptbxl(tmp_path / "data", n, fold=10)
    kept = {"ecg_id": np.arange(1, n + 1), "record": np.arange(n), "beats": np.full(n, 12),
            "all": p.astype(np.float16)}  # fmt: skip
    logs = tmp_path / "logs"
    EB.save(kept, EB.kept_path(logs, 10, SHA, contract.CONTRACT_VERSION))
    task = {"classes": ["A", "B"], "thresholds": {"A": 0.5, "B": 0.4}, "surfaced": ["A", "B"]}
    card = {"weights_sha256": SHA, "labels": {"all": task}}
    model = tmp_path / "m.safetensors"
    result = O.run(model, tmp_path / "data", logs, tmp_path / "no-ood.json", card=card, n_boot=100)
    a = result["fold10"]["points"][0]
    called = p[:, 0].astype(np.float16).astype(np.float64) >= 0.5
    assert a["finding"] == "all/A" and a["tp"] == int((called & (y[:, 0] == 1)).sum())
    assert a["positives"] == int(y[:, 0].sum()) and result["fold10"]["records"] == n
    assert result["ludb"] is None and "no-ood.json" in result["ludb_why_not"]
    lines = [ln for ln in ledger.read_text().splitlines() if "(operating-points)" in ln]
    assert len(lines) == 1 and f"| {SHA[:12]} | all | Se/Sp/PPV/NPV of 2 shown findings" in lines[0]
    text = O.report(result)
    assert "python -m training operating-points" in "\n".join(text.splitlines()[:4])
    assert "Do not edit by hand" in text and "TODO: LUDB" in text and "python -m training ood" in text

    shutil.rmtree(tmp_path / "data")
    _ptbxl(tmp_path / "data", n, fold=9)  # the same records in fold 9: refused
    with pytest.raises(ValueError, match="outside fold 10"):
        O.run(model, tmp_path / "data", logs, tmp_path / "no-ood.json", card=card, n_boot=10)


def test_ludb_from_the_ood_result_of_this_model_only(tmp_path: Path) -> None:
    per_record = [
        {"record": 1, "labels": {"MI": 1, "NORM": 0}, "excluded": None,
         "probabilities": {"MI": 0.7, "NORM": 0.1}},
        {"record": 2, "labels": {"MI": 0, "NORM": 1}, "excluded": None,
         "probabilities": {"MI": 0.3, "NORM": 0.8}},
        {"record": 3, "labels": None, "excluded": "paced", "probabilities": None},
    ]  # fmt: skip
    ood = {"model": {"sha256": SHA, "contract": "2"}, "task": "super", "classes": ["MI", "NORM"],
           "ludb": {"per_record": per_record, "excluded": {"paced": 1}}}  # fmt: skip
    path = tmp_path / "ood.json"
    path.write_text(json.dumps(ood))
    from ecgviewer.ml import contract

    result, why = O.read_ood(path, SHA)
    if contract.CONTRACT_VERSION != "2":
        assert result is None and "contract" in why
        return
    assert result is not None and why == ""
    assert O.read_ood(path, "cd" * 32)[0] is None
    card = {"labels": {"super": {"thresholds": {"MI": 0.25, "NORM": 0.5}, "surfaced": ["MI", "NORM"]}}}
    f = O.ludb_findings(result, card)
    assert list(f.name) == ["super/MI", "super/MI", "super/NORM", "super/NORM"]
    assert list(f.record) == [1, 2, 1, 2] and list(f.y) == [1, 0, 0, 1]
    mi, norm = O.operating_points(f, n_boot=20)
    assert (mi["tp"], mi["fp"], norm["tp"], norm["fp"]) == (1, 1, 1, 0)
