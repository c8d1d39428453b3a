"""Choosing the delineator recipe: paired absolute errors over records, bootstrap intervals, and
the fixed rule (better somewhere, worse nowhere)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from training.supervised import delineator_choice as C


def _rows(errors: np.ndarray, cond: str = "leads=1") -> list[dict]:
    return [{"record": i, "condition": cond, "paced": False, "global": {"qrs_on": float(e), "t_off": 5.0}}
            for i, e in enumerate(errors)]  # fmt: skip


def test_a_better_somewhere_and_worse_nowhere_replaces_b() -> None:
    rng = np.random.default_rng(0)
    b = rng.normal(0, 8, 60)
    a = b * 0.5  # half the error on every record
    results = C.paired(_rows(a), _rows(b))
    qrs = next(r for r in results if r["fiducial"] == "qrs_on")
    assert qrs["n"] == 60 and qrs["hi"] < 0 and qrs["mean"] == np.mean(np.abs(a) - np.abs(b))
    t_off = next(r for r in results if r["fiducial"] == "t_off")
    assert t_off["lo"] == t_off["hi"] == 0.0  # the same error: an interval of nothing
    assert C.choose(results)[0]


def test_a_worse_anywhere_keeps_b() -> None:
    rng = np.random.default_rng(1)
    b = rng.normal(0, 8, 60)
    results = C.paired(_rows(b * 2), _rows(b)) + C.paired(_rows(b * 0.5, "fs=125"), _rows(b, "fs=125"))
    keep_a, why = C.choose(results)
    assert not keep_a and why.startswith("A is worse on leads=1 qrs_on")
    assert not C.choose(C.paired(_rows(b), _rows(b)))[0]  # better nowhere


def test_a_faster_recipe_ships_only_when_worse_by_less_than_the_margin_everywhere() -> None:
    rng = np.random.default_rng(2)
    b = rng.normal(0, 8, 80)
    slightly = C.paired(_rows(b + np.sign(b) * 1.0), _rows(b))  # 1 ms more error on every record
    keep_a, why = C.choose(slightly, margin_ms=4.0)
    assert keep_a and "less than 4 ms" in why
    assert not C.choose(slightly)[0]  # the default rule wants A better somewhere
    much = slightly + C.paired(_rows(b + np.sign(b) * 6.0, "fs=125"), _rows(b, "fs=125"))
    keep_a, why = C.choose(much, margin_ms=4.0)
    assert not keep_a and why.endswith("fs=125 qrs_on")
    assert not C.choose([], margin_ms=4.0)[0]


def _waves(found_p: int, matched_p: int, records: int = 30, cond: str = "leads=12") -> list[dict]:
    return [{"record": i, "condition": cond, "lead": 0, "marked": {"P": 10, "QRS": 10, "T": 10},
             "found": {"P": found_p, "QRS": 10, "T": 10}, "matched": {"P": matched_p, "QRS": 10, "T": 10}}
            for i in range(records)]  # fmt: skip


def test_detection_worse_is_seen_and_equal_detection_is_not() -> None:
    """A that finds two false P waves per record (PPV 10/12) against B's none is worse on P PPV
    only; the same counts are worse nowhere."""
    checks = C.detection(_waves(12, 10), _waves(10, 10))
    worse = C.detection_worse(checks)
    assert [(c["wave"], c["measure"]) for c in worse] == [("P", "PPV")]
    p = next(c for c in checks if c["wave"] == "P" and c["measure"] == "PPV")
    assert p["a"] == 10 / 12 and p["b"] == 1.0 and p["n"] == 30
    assert not C.detection_worse(C.detection(_waves(10, 10), _waves(10, 10)))


def test_a_recipe_measured_a_fold_at_a_time_is_read_whole_or_not_at_all(tmp_path) -> None:
    """Sessions keep each fold's rows (``keep_fold``: what the choice reads, gzipped); the choice
    reads all five, the same rows as one run's files, and refuses a recipe with a fold missing."""
    recipe = {"steps": 3}
    rows = {"measurements": [{"record": n, "condition": "clean", "paced": False, "global": {"qrs_on": 1.0},
                              "per_lead": [{"qrs_on": 2.0}] * 12} for n in range(1, 21)],
            "waves": [{"record": n, "condition": "clean", "lead": 1, "marked": {"P": 3}, "found": {"P": 3},
                       "matched": {"P": 2}, "errors": {"p_on": [1.0]}} for n in range(1, 21)]}  # fmt: skip
    for k in (0, 1, 2, 4):
        held = {name: [r for r in rs if (r["record"] - 1) % 5 == k] for name, rs in rows.items()}
        C.keep_fold(held, {"recipe": recipe, "folds": {str(k): {"records": 16}}}, k, tmp_path)
    with pytest.raises(SystemExit, match="fold3 not measured"):
        C.measured(tmp_path, "measurements")
    with pytest.raises(SystemExit, match="4 of 20 rows are fold 3's"):  # not measured with --folds 3
        C.keep_fold(rows, {"recipe": recipe, "folds": {"3": {}}}, 3, tmp_path)
    with pytest.raises(SystemExit, match="another recipe"):
        C.keep_fold(rows, {"recipe": {"steps": 4}, "folds": {"3": {}}}, 3, tmp_path)
    held = {name: [r for r in rs if (r["record"] - 1) % 5 == 3] for name, rs in rows.items()}
    C.keep_fold(held, {"recipe": recipe, "folds": {"3": {"records": 16}}}, 3, tmp_path)
    kept = C.measured(tmp_path, "measurements")
    assert sorted(r["record"] for r in kept) == list(range(1, 21)) and "per_lead" not in kept[0]
    assert {tuple(r) for r in C.measured(tmp_path, "waves")} == {C.KEPT["waves"]}
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["recipe"] == recipe and list(summary["folds"]) == ["0", "1", "2", "3", "4"]
    (tmp_path / "measurements.jsonl").write_text('{"record": 1}\n')  # one run's file comes first
    assert C.measured(tmp_path, "measurements") == [{"record": 1}]
