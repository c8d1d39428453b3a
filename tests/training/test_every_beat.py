"""``python -m training every-beat``: the shipped model reading every beat against its first 15,
and the plain record bootstrap its comparison uses."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from training import every_beat as E
from training import metrics as M


def test_the_ways_of_reading_windows():
    """A record's windows combined three ways; ``first`` is the first window whatever follows."""
    kept = {
        "record": np.array([0, 0, 1]),
        "beats": np.array([15, 5, 8]),
        "ecg_id": np.array([7, 9]),
        "super": np.array([[0.8], [0.4], [0.3]], dtype=np.float16),
    }
    first, beats, mean = (E.combine(kept, "super", way)[:, 0] for way in E.WAYS)
    assert first == pytest.approx([0.8, 0.3], abs=1e-3)
    assert beats == pytest.approx([(15 * 0.8 + 5 * 0.4) / 20, 0.3], abs=1e-3)
    assert mean == pytest.approx([0.6, 0.3], abs=1e-3)


def test_a_plain_record_bootstrap_is_wider_where_patterns_are_unique():
    """Records alone in their label pattern are in every stratified draw: with every pattern unique,
    the stratified interval of a difference collapses to its point, the plain one does not."""
    rng = np.random.default_rng(0)
    y = np.eye(40)[:, :8][np.arange(40) % 8].astype(np.float32)
    y[:, 7] = rng.random(40) < 0.5  # a column that makes most label patterns unique
    a, b = rng.random(y.shape), rng.random(y.shape)
    strat = M.paired_bootstrap(y, [a], [b], 200)
    plain = M.paired_bootstrap(y, [a], [b], 200, stratified=False)
    width = [d["auroc_ci"][1] - d["auroc_ci"][0] for d in (strat, plain)]
    assert plain["auroc"] == strat["auroc"] and width[1] > width[0]


def _row(diff: float, lo: float, hi: float) -> dict:
    return {"diff": {"auroc": diff, "auroc_ci": [lo, hi]}}


def test_the_rule_for_a_retrained_candidate():
    """It ships unless a task is worse with its interval below zero, or ``super`` is worse at all,
    or a task has no interval (too few records)."""
    fine = {"super": _row(0.001, -0.001, 0.003), "rhythm": _row(-0.002, -0.006, 0.001)}
    assert E.ships(fine)
    assert not E.ships(fine | {"form": _row(float("nan"), float("nan"), float("nan"))})
    assert not E.ships(fine | {"rhythm": _row(-0.004, -0.008, -0.001)})
    assert not E.ships(fine | {"super": _row(-0.0001, -0.001, 0.001)})


def test_every_beat_command_end_to_end(shared: Path, tmp_path: Path, capsys: pytest.CaptureFixture):
    """A handful of fold-9 records read by the app's contract, kept, compared and written up; a
    model compared with another (here itself: the same kept probabilities, no difference)."""
    from training.__main__ import REPO, main

    out = tmp_path / "EVERY_BEAT.md"
    bundled = REPO / "resources" / "models" / "clear-hug-bundled.safetensors"
    main(["every-beat", "--data-root", str(shared), "--split", "val", "--limit", "6", "--n-boot", "20",
          "--workers", "1", "--logs", str(tmp_path), "--out", str(out),
          "--against", str(bundled)])  # fmt: skip
    kept = E.load(next(tmp_path.glob("fold9-*-first6.npz")))
    assert len(kept["ecg_id"]) == 6 and kept["super"].dtype == np.float16
    assert (kept["beats"] <= 15).all() and set(kept["record"]) == set(range(6))
    results = json.loads((tmp_path / "fold9.json").read_text())["results"]
    assert results["super"]["n"] >= 1 and "beats-first" in results["super"]
    text = out.read_text()
    assert "## Fold 9 (choice)" in text and "## Fold 10" not in text and "| super |" in text
    assert results["against"]["tasks"]["super"]["diff"]["auroc"] == 0
    assert "Against `clear-hug-bundled.safetensors`" in text
    out = capsys.readouterr().out
    # too few records for an interval on most tasks: no verdict can be "ships" (``ships`` is tested above)
    assert (
        "by the rule fixed before fold 9 was read" in out
        and "clear-hug-bundled.safetensors does not ship" in out
    )
