"""``python -m training every-beat``: the shipped model reading every beat against its first 15,
and the plain record bootstrap its comparison uses."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from training.supervised import every_beat as E


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


def test_a_model_against_the_shipped_one_as_its_card_reports_it():
    """The shipped model's card figures are its first window under the contract it was trained with:
    the comparison reads the old windows that way and the new ones every beat, and says so."""

    y = np.eye(2, dtype=np.float32)[np.arange(8) % 2]  # classes A and B, one per record

    class Labels:  # the two calls ``compare_kept`` makes of ``training.data.datasets.Labels``
        ecg_id = np.arange(8)

        def task(self, task):
            return ["A", "B"], y

        def aggregate(self, task, p):
            return ["A", "B"], p

    rec = np.repeat(np.arange(8), 2)
    new = {
        "ecg_id": np.arange(8),
        "record": rec,
        "beats": np.full(16, 8),
        "all": np.repeat(y, 2, 0).astype(np.float16),
    }
    # the old model's first windows are uninformative, its second windows perfect
    old = new | {"all": np.where((np.arange(16) % 2 == 0)[:, None], np.float16(0.5), new["all"])}
    first = E.compare_kept(new, old, Labels(), 20, old_way="first")
    beats = E.compare_kept(new, old, Labels(), 20)
    assert first["super"]["old"] == 0.5 and first["super"]["new"] == 1.0
    assert beats["super"]["old"] == 1.0
    against = {"model": "old.safetensors", "sha256": "ab" * 32, "tasks": beats,
               "as_shipped": {"contract": "1", "tasks": first}}  # fmt: skip
    text = E.against_table(against)
    assert "as its card reports it (contract 1, which it was trained with, first window)" in text
    assert text.count("| super | 8 |") == 2
